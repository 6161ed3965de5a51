// Command searchlag measures on a running node the time from a single
// product write's acknowledgement to search/search finding it
// (bench.WriteToSearchable); make bench-search runs it:
//
//	go run ./bench/cmd/searchlag -url http://127.0.0.1:8080 -key PUB -private-key PRIV -n 20
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sibylhq/sibyl/bench"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "base URL of a Sibyl node")
	pub := flag.String("key", "", "the store's public key")
	priv := flag.String("private-key", "", "the store's private key")
	n := flag.Int("n", 20, "writes to measure")
	limit := flag.Duration("limit", 30*time.Second, "give up when a product is not found this long after its write")
	flag.Parse()
	took, err := bench.WriteToSearchable(context.Background(), *base, bench.Keys{Public: *pub, Private: *priv}, *n, *limit)
	if err != nil {
		fmt.Fprintln(os.Stderr, "searchlag:", err)
		os.Exit(1)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Printf("write acknowledged to found by search/search (%d single-product writes through the node, polled back to back): p50 %s, max %s\n",
		len(took), ms(took[len(took)/2]), ms(took[len(took)-1]))
}
