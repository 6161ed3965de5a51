package bench

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// Dataset is the store data requests are drawn from: product and customer
// ids weighted by how often they sell, and whole orders for ingest runs.
//
// It keeps its own small order type rather than importing ingest's, so
// the load generator depends only on the wire format (Clerk's JSON).
type Dataset struct {
	Name      string
	Products  []string
	Sales     []float64 // order lines per product, the popularity weight
	Customers []string
	Orders    []Order

	// What the search scenarios draw queries from (scenarios_search.go):
	// Names[i] is the name of Products[i] ("" when unknown), Categories
	// the catalog's categories with their sizes, and OnSale whether some
	// products have a list price above their price (on_sale filters
	// something).
	Names      []string
	Categories []DatasetCategory
	OnSale     bool
}

// DatasetCategory is a category and how many products it holds.
type DatasetCategory struct {
	ID, Name string
	Products int
}

// Order is one sale in Clerk's JSON shape.
type Order struct {
	ID       string      `json:"id"`
	Time     int64       `json:"time"`
	Customer string      `json:"customer,omitempty"`
	Products []OrderLine `json:"products"`
}

// OrderLine is one product of an Order.
type OrderLine struct {
	ID       string  `json:"id"`
	Quantity float64 `json:"quantity"`
	Price    float64 `json:"price"`
}

// ErrNoData is returned when a dataset file is absent.
var ErrNoData = errors.New("dataset not found")

// LoadOnlineRetail reads the UCI Online Retail CSV (gzip), the one in
// ../shared/data/online-retail/online_retail.csv.gz, through the same
// reader `sibyl import` uses (ingest.ReadOnlineRetail), so the ids the
// load generator asks for are the ids the store holds. Data: Chen, Sain
// and Guo (2012), "Data mining for the online retail industry",
// J. Database Marketing & Customer Strategy Management 19(3):197-208,
// CC BY 4.0.
func LoadOnlineRetail(path string) (*Dataset, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot open %s: %w", path, ErrNoData)
	}
	d := &Dataset{Name: "online-retail"}
	sink := &datasetSink{d: d, productIdx: map[string]int{}}
	if _, err := ingest.ReadOnlineRetailFile(path, sink); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(d.Orders) == 0 {
		return nil, fmt.Errorf("cannot use %s: no orders", path)
	}
	return d, nil
}

type datasetSink struct {
	d          *Dataset
	productIdx map[string]int
}

func (s *datasetSink) Product(p *ingest.Product) error {
	if _, ok := s.productIdx[string(p.ID)]; !ok {
		s.productIdx[string(p.ID)] = len(s.d.Products)
		s.d.Products = append(s.d.Products, string(p.ID))
		s.d.Sales = append(s.d.Sales, 0)
		s.d.Names = append(s.d.Names, p.Name)
	}
	return nil
}

func (s *datasetSink) Customer(c *ingest.Customer) error {
	s.d.Customers = append(s.d.Customers, string(c.ID))
	return nil
}

func (s *datasetSink) Order(o *ingest.Order) error {
	out := Order{ID: string(o.ID), Time: o.Time, Customer: string(o.Customer)}
	for _, l := range o.Products {
		if i, ok := s.productIdx[string(l.ID)]; ok {
			s.d.Sales[i]++
		}
		out.Products = append(out.Products, OrderLine{ID: string(l.ID), Quantity: l.Quantity, Price: l.Price})
	}
	s.d.Orders = append(s.d.Orders, out)
	return nil
}

// SyntheticDataset makes a small store with power-law product popularity
// (Zipf, exponent s=1.1) and 1 to 8 lines per order, deterministic by
// seed. It stands in when the real data is absent; the full generator
// fitted to Online Retail is future work.
func SyntheticDataset(products, customers, orders int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	d := &Dataset{Name: "synthetic"}
	for i := range products {
		d.Products = append(d.Products, "p"+strconv.Itoa(i))
		d.Sales = append(d.Sales, 1/math.Pow(float64(i+1), 1.1))
	}
	for i := range customers {
		d.Customers = append(d.Customers, "c"+strconv.Itoa(i))
	}
	pick, _ := NewChoice(d.Products, d.Sales) // weights are positive
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for i := range orders {
		o := Order{ID: "o" + strconv.Itoa(i), Time: t0 + int64(i)*60}
		if customers > 0 {
			o.Customer = d.Customers[rng.IntN(customers)]
		}
		for range 1 + rng.IntN(8) {
			o.Products = append(o.Products, OrderLine{ID: pick.Pick(rng), Quantity: float64(1 + rng.IntN(4)), Price: 1 + float64(rng.IntN(2000))/100})
		}
		d.Orders = append(d.Orders, o)
	}
	return d
}
