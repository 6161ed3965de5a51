package storegen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/sibylhq/sibyl/bench"
)

// WriteFeed writes the catalog and the orders Generate makes for orders
// (its Products must equal the catalog's) as a Clerk.io JSON feed, the
// format `sibyl import --format clerk` reads:
// {"categories":[...],"products":[...],"orders":[...]}. Orders stream, so
// the feed's size does not bound memory.
func WriteFeed(w io.Writer, c *Catalog, orders Config) error {
	if orders.Products != len(c.Products) {
		return fmt.Errorf("%w: orders name %d products, the catalog has %d", ErrInvalidConfig, orders.Products, len(c.Products))
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	list := func(name string, n int, item func(i int) any) error {
		fmt.Fprintf(bw, "%q:[", name)
		for i := range n {
			if i > 0 {
				bw.WriteByte(',')
			}
			if err := enc.Encode(item(i)); err != nil {
				return fmt.Errorf("cannot encode %s %d: %w", name, i, err)
			}
		}
		_, err := bw.WriteString("]")
		return err
	}
	bw.WriteByte('{')
	if err := list("categories", len(c.Categories), func(i int) any { return &c.Categories[i] }); err != nil {
		return err
	}
	bw.WriteByte(',')
	if err := list("products", len(c.Products), func(i int) any { return &c.Products[i] }); err != nil {
		return err
	}
	bw.WriteString(`,"orders":[`)
	first := true
	err := Generate(orders, func(o *bench.Order) error {
		if !first {
			bw.WriteByte(',')
		}
		first = false
		return enc.Encode(o)
	})
	if err != nil {
		return err
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}
