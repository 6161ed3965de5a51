// Command storefeed writes a generated store (bench/storegen: a catalog
// with realistic names and categories, and orders of the Online Retail
// shape) as a Clerk.io JSON feed for `sibyl import`. make bench-search
// uses it:
//
//	go run ./bench/storegen/cmd/storefeed -products 50000 -out /tmp/store.json.gz
package main

import (
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sibylhq/sibyl/bench/storegen"
)

func main() {
	products := flag.Int("products", 50_000, "products in the catalog")
	customers := flag.Int("customers", 20_000, "customers who place the orders")
	lines := flag.Int64("lines", 200_000, "order lines")
	seed := flag.Uint64("seed", 1, "generator seed")
	out := flag.String("out", "", "feed file to write (.json or .json.gz)")
	flag.Parse()
	if err := run(*out, *products, *customers, *lines, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "storefeed:", err)
		os.Exit(1)
	}
}

func run(out string, products, customers int, lines int64, seed uint64) error {
	if out == "" {
		return fmt.Errorf("-out is required")
	}
	cat, err := storegen.GenerateCatalog(storegen.CatalogConfig{Products: products, Seed: seed})
	if err != nil {
		return err
	}
	cfg := storegen.DefaultConfig()
	cfg.Products, cfg.Customers, cfg.OrderLines, cfg.Seed = products, customers, lines, seed
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	var w io.Writer = f
	var gz *gzip.Writer
	if strings.HasSuffix(out, ".gz") {
		gz = gzip.NewWriter(f)
		w = gz
	}
	err = storegen.WriteFeed(w, cat, cfg)
	if gz != nil {
		if cerr := gz.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "storefeed: %d products, %d categories (largest %q, %d products), %d order lines -> %s\n",
		len(cat.Products), len(cat.Categories), cat.LargestName, cat.Sizes[cat.Largest], lines, out)
	return nil
}
