// Package quality is Sibyl's offline evaluation harness: it loads the
// shared real data sets, applies the evaluation protocols documented in
// docs/quality.md (retail-temporal, ml100k-5fold, basket) and measures the
// compute models against a popularity baseline; and the search protocols
// (search-known-item against Bleve, search-sales).
package quality

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
)

// ErrNoData is returned when the shared data folder or a file in it is
// missing; tests skip on it.
var ErrNoData = errors.New("shared data not found")

// FindDataDir returns the shared data folder: ../shared/data relative to
// the directory holding go.mod, found by walking up from the working
// directory. SIBYL_DATA overrides it.
func FindDataDir() (string, error) {
	if d := os.Getenv("SIBYL_DATA"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot find data dir: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "data")
			if _, err := os.Stat(d); err != nil {
				return "", fmt.Errorf("cannot find data dir %s: %w", d, ErrNoData)
			}
			return d, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("cannot find go.mod above the working directory: %w", ErrNoData)
		}
		dir = parent
	}
}

func openGzip(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cannot open %s: %w", path, ErrNoData)
		}
		return nil, fmt.Errorf("cannot open %s: %w", path, err)
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot read gzip %s: %w", path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{z, f}, nil
}

// Order is one order with dense indices: distinct items in line order.
type Order struct {
	User  int32
	Time  int64
	Items []int32
	Qty   []float32
}

// Retail is the filtered UCI Online Retail data with dense indices.
type Retail struct {
	ItemIDs  []ingest.ID
	Names    []string
	Prices   []float64
	UserIDs  []ingest.ID
	Orders   []Order
	itemIdx  map[ingest.ID]int32
	userIdx  map[ingest.ID]int32
	RowStats ingest.RetailStats
}

// LoadRetail reads online-retail/online_retail.csv.gz under dataDir with
// ingest.ReadOnlineRetail (which applies the protocol's filter rules).
func LoadRetail(dataDir string) (*Retail, error) {
	return LoadRetailFile(filepath.Join(dataDir, "online-retail", "online_retail.csv.gz"))
}

// LoadRetailFile reads a gzipped Online Retail CSV (the shared copy, or
// the repository's demo/online-retail.csv.gz, the same bytes) as
// LoadRetail does.
func LoadRetailFile(path string) (*Retail, error) {
	rc, err := openGzip(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	d := &Retail{itemIdx: map[ingest.ID]int32{}, userIdx: map[ingest.ID]int32{}}
	st, err := ingest.ReadOnlineRetail(bufio.NewReaderSize(rc, 1<<20), d)
	if err != nil {
		return nil, fmt.Errorf("cannot read online retail: %w", err)
	}
	d.RowStats = st
	return d, nil
}

// Product implements ingest.RetailSink.
func (d *Retail) Product(p *ingest.Product) error {
	if i, ok := d.itemIdx[p.ID]; ok {
		d.Names[i] = p.Name
		return nil
	}
	d.itemIdx[p.ID] = int32(len(d.ItemIDs))
	d.ItemIDs = append(d.ItemIDs, p.ID)
	d.Names = append(d.Names, p.Name)
	d.Prices = append(d.Prices, p.Price)
	return nil
}

// Customer implements ingest.RetailSink.
func (d *Retail) Customer(c *ingest.Customer) error {
	if _, ok := d.userIdx[c.ID]; !ok {
		d.userIdx[c.ID] = int32(len(d.UserIDs))
		d.UserIDs = append(d.UserIDs, c.ID)
	}
	return nil
}

// Order implements ingest.RetailSink.
func (d *Retail) Order(o *ingest.Order) error {
	u, ok := d.userIdx[o.Customer]
	if !ok {
		return fmt.Errorf("order %s names unknown customer %q", o.ID, o.Customer)
	}
	out := Order{User: u, Time: o.Time}
	seen := map[int32]int{}
	for _, l := range o.Products {
		it, ok := d.itemIdx[l.ID]
		if !ok {
			return fmt.Errorf("order %s names unknown product %q", o.ID, l.ID)
		}
		if j, dup := seen[it]; dup {
			out.Qty[j] += float32(l.Quantity)
			continue
		}
		seen[it] = len(out.Items)
		out.Items = append(out.Items, it)
		out.Qty = append(out.Qty, float32(l.Quantity))
	}
	d.Orders = append(d.Orders, out)
	return nil
}

// Rating is one MovieLens rating with dense 0-based indices.
type Rating struct{ User, Item int32 }

// ML100K holds the five canonical folds of MovieLens 100K.
type ML100K struct {
	NumUsers, NumItems int
	Base, Test         [5][]Rating
}

// LoadML100K reads movielens-100k/u{1..5}.{base,test}.gz under dataDir.
// The data is read in place and never copied (its licence forbids
// redistribution).
func LoadML100K(dataDir string) (*ML100K, error) {
	d := &ML100K{NumUsers: 943, NumItems: 1682}
	for f := 0; f < 5; f++ {
		for _, part := range []string{"base", "test"} {
			path := filepath.Join(dataDir, "movielens-100k", fmt.Sprintf("u%d.%s.gz", f+1, part))
			rs, err := readRatings(path, d.NumUsers, d.NumItems)
			if err != nil {
				return nil, err
			}
			if part == "base" {
				d.Base[f] = rs
			} else {
				d.Test[f] = rs
			}
		}
	}
	return d, nil
}

func readRatings(path string, numUsers, numItems int) ([]Rating, error) {
	rc, err := openGzip(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []Rating
	sc := bufio.NewScanner(rc)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			return nil, fmt.Errorf("cannot parse %s line %d: %d fields", path, line, len(f))
		}
		u, err1 := strconv.Atoi(f[0])
		i, err2 := strconv.Atoi(f[1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("cannot parse %s line %d: %w", path, line, err)
		}
		if u < 1 || u > numUsers || i < 1 || i > numItems {
			return nil, fmt.Errorf("cannot parse %s line %d: id out of range", path, line)
		}
		out = append(out, Rating{int32(u - 1), int32(i - 1)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	return out, nil
}
