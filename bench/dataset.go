package bench

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
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
// ../shared/data/online-retail/online_retail.csv.gz. Cancellations
// (InvoiceNo "C...") and non-positive quantities are skipped. Data: Chen,
// Sain and Guo (2012), "Data mining for the online retail industry",
// J. Database Marketing & Customer Strategy Management 19(3):197-208,
// CC BY 4.0.
func LoadOnlineRetail(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot open %s: %w", path, ErrNoData)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %w", path, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	r := csv.NewReader(gz)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("cannot read the header of %s: %w", path, err)
	}
	want := []string{"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"}
	if strings.Join(header, ",") != strings.Join(want, ",") {
		return nil, fmt.Errorf("cannot read %s: header %v, want %v", path, header, want)
	}
	d := &Dataset{Name: "online-retail"}
	productIdx := map[string]int{}
	customerSeen := map[string]bool{}
	var cur *Order
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read %s line %d: %w", path, line, err)
		}
		invoice, code := rec[0], strings.TrimSpace(rec[1])
		if strings.HasPrefix(invoice, "C") || code == "" {
			continue
		}
		qty, err := strconv.ParseFloat(rec[3], 64)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: quantity %q: %w", path, line, rec[3], err)
		}
		if qty <= 0 {
			continue
		}
		price, err := strconv.ParseFloat(rec[5], 64)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: price %q: %w", path, line, rec[5], err)
		}
		if cur == nil || cur.ID != invoice {
			t, err := time.Parse(time.DateTime, rec[4])
			if err != nil {
				return nil, fmt.Errorf("%s line %d: date %q: %w", path, line, rec[4], err)
			}
			customer := ""
			if rec[6] != "" {
				customer = strings.TrimSuffix(rec[6], ".0")
				if !customerSeen[customer] {
					customerSeen[customer] = true
					d.Customers = append(d.Customers, customer)
				}
			}
			d.Orders = append(d.Orders, Order{ID: invoice, Time: t.Unix(), Customer: customer})
			cur = &d.Orders[len(d.Orders)-1]
		}
		i, ok := productIdx[code]
		if !ok {
			i = len(d.Products)
			productIdx[code] = i
			d.Products = append(d.Products, code)
			d.Sales = append(d.Sales, 0)
		}
		d.Sales[i]++
		cur.Products = append(cur.Products, OrderLine{ID: code, Quantity: qty, Price: price})
	}
	if len(d.Orders) == 0 {
		return nil, fmt.Errorf("cannot use %s: no orders", path)
	}
	return d, nil
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
