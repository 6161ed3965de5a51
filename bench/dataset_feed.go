package bench

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
)

// LoadClerkFeed reads a Clerk.io JSON feed (.json or .json.gz; what
// bench/storegen's WriteFeed writes and `sibyl import --format clerk`
// imports) through ingest.ReadFeed, the reader the import uses, so the
// ids, names and categories the load generator asks for are those the
// store holds.
func LoadClerkFeed(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot open %s: %w", path, ErrNoData)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	d := &Dataset{Name: strings.TrimSuffix(strings.TrimSuffix(pathBase(path), ".gz"), ".json")}
	sink := &feedSink{d: d, productIdx: map[string]int{}, categoryIdx: map[string]int{}}
	if _, err := ingest.ReadFeed(r, sink, ingest.DefaultFeedConfig()); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(d.Products) == 0 {
		return nil, fmt.Errorf("cannot use %s: no products", path)
	}
	seen := map[string]bool{}
	for _, c := range d.Customers {
		seen[c] = true
	}
	for _, o := range d.Orders {
		if o.Customer != "" && !seen[o.Customer] {
			seen[o.Customer] = true
			d.Customers = append(d.Customers, o.Customer)
		}
	}
	if len(d.Customers) == 0 {
		d.Customers = []string{"bench-c0"}
	}
	return d, nil
}

func pathBase(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

type feedSink struct {
	d           *Dataset
	productIdx  map[string]int
	categoryIdx map[string]int
}

func (s *feedSink) category(id ingest.ID) *DatasetCategory {
	i, ok := s.categoryIdx[string(id)]
	if !ok {
		i = len(s.d.Categories)
		s.categoryIdx[string(id)] = i
		s.d.Categories = append(s.d.Categories, DatasetCategory{ID: string(id)})
	}
	return &s.d.Categories[i]
}

func (s *feedSink) Categories(cs []ingest.Category) error {
	for _, c := range cs {
		s.category(c.ID).Name = c.Name
	}
	return nil
}

func (s *feedSink) Products(ps []ingest.Product) error {
	for _, p := range ps {
		if _, ok := s.productIdx[string(p.ID)]; ok {
			continue
		}
		s.productIdx[string(p.ID)] = len(s.d.Products)
		s.d.Products = append(s.d.Products, string(p.ID))
		s.d.Sales = append(s.d.Sales, 0)
		s.d.Names = append(s.d.Names, p.Name)
		if p.ListPrice > p.Price {
			s.d.OnSale = true
		}
		for _, c := range p.Categories {
			s.category(c).Products++
		}
	}
	return nil
}

func (s *feedSink) Customers(cs []ingest.Customer) error {
	for _, c := range cs {
		s.d.Customers = append(s.d.Customers, string(c.ID))
	}
	return nil
}

func (s *feedSink) Orders(os []ingest.Order) error {
	for _, o := range os {
		out := Order{ID: string(o.ID), Time: o.Time, Customer: string(o.Customer)}
		for _, l := range o.Products {
			if i, ok := s.productIdx[string(l.ID)]; ok {
				s.d.Sales[i]++
			}
			out.Products = append(out.Products, OrderLine{ID: string(l.ID), Quantity: l.Quantity, Price: l.Price})
		}
		s.d.Orders = append(s.d.Orders, out)
	}
	return nil
}

func (s *feedSink) Pages([]ingest.Page) error { return nil }
