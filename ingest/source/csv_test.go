package source

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// productsCSV is a spreadsheet export: a BOM, a header with the shop's
// own names, quoted fields with commas and quotes, categories split by
// "|", prices with thousands separators, an unmapped "Colour" column and
// one row with a bad price (line 4).
const productsCSV = "\ufeffSKU,Title,Price,Old Price,Link,Picture,Category Path,Brand,Stock,Added,Colour\n" +
	"A-1,\"Chair, oak\",\"1,234.50\",1500,https://shop.test/a1,https://shop.test/a1.jpg,furniture|chairs,Hay,3,2024-01-02,brown\n" +
	"A-2,\"The \"\"Best\"\" Table\",99,,https://shop.test/a2,,furniture,,,1704153600,\n" +
	"A-3,Broken,12;5,,,,,,,,\n" +
	"A-4,Lamp,15.5,,,,lights,,0,,white\n"

func csvServer(t *testing.T, files map[string]string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "shop" || p != "pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="export"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Write([]byte(body))
	}))
}

func TestCSVProducts(t *testing.T) {
	srv := csvServer(t, map[string]string{"/products.csv": productsCSV})
	defer srv.Close()
	cfg := DefaultCSVConfig()
	cfg.URL = srv.URL + "/products.csv"
	cfg.Auth = Auth{User: "shop", Password: "pw"}
	cfg.Mapping = map[string]string{
		"id": "SKU", "sku": "SKU", "name": "Title", "price": "Price", "list_price": "Old Price", "url": "Link",
		"image": "Picture", "categories": "Category Path", "created_at": "Added",
	}
	sink := newSink(t)
	res, err := (&CSVSource{Config: cfg, Doer: fastClient(t, nil)}).Fetch(context.Background(), time.Time{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "products", productIDs(sink.products), "A-1", "A-2", "A-4")
	a1, a2, a4 := sink.products[0], sink.products[1], sink.products[2]
	if a1.Name != "Chair, oak" || a1.Price != 1234.5 || a1.ListPrice != 1500 || a1.URL != "https://shop.test/a1" ||
		a1.Image != "https://shop.test/a1.jpg" || !slices.Equal(a1.Categories, []ingest.ID{"furniture", "chairs"}) ||
		a1.Brand != "Hay" || a1.SKU != "A-1" || a1.Stock == nil || *a1.Stock != 3 || a1.CreatedAt != 1704153600 {
		t.Errorf("A-1 = %+v", a1)
	}
	if a1.Extra["colour"] != "brown" || len(a1.Extra) != 1 {
		t.Errorf("A-1 extra = %v, want colour=brown only", a1.Extra)
	}
	if a2.Name != `The "Best" Table` || a2.Price != 99 || a2.CreatedAt != 1704153600 || a2.Stock != nil || a2.Extra != nil {
		t.Errorf("A-2 = %+v", a2)
	}
	if a4.Stock == nil || *a4.Stock != 0 || a4.Price != 15.5 {
		t.Errorf("A-4 = %+v", a4)
	}
	if res.Rejected[ingest.KindProducts] != 1 || len(res.Errors) != 1 {
		t.Fatalf("rejected %v errors %v", res.Rejected, res.Errors)
	}
	e := res.Errors[0]
	if e.ID != "A-3" || e.Field != "price" || e.Index != 2 || !strings.Contains(e.Reason, "line 4") {
		t.Errorf("error = %+v, want A-3's price on line 4", e)
	}
	if !res.Complete || !slices.Equal(res.Kinds, []ingest.Kind{ingest.KindProducts}) || res.Records[ingest.KindProducts] != 3 || res.Requests != 1 {
		t.Errorf("result %+v", res)
	}

	cfg.Auth = Auth{}
	if _, err := (&CSVSource{Config: cfg, Doer: fastClient(t, nil)}).Fetch(context.Background(), time.Time{}, newSink(t)); !strings.Contains(fmtErr(err), "HTTP 401") {
		t.Errorf("no credentials: err = %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Orders: one row per line; consecutive rows with the same id are one
// order; a TSV with decimal commas; a bad quantity rejects its order.
func TestCSVOrders(t *testing.T) {
	tsv := "order\tcustomer\tdate\tproduct\tqty\tunit price\n" +
		"1001\tc1\t2024-03-01 10:00:00\tA-1\t2\t12,50\n" +
		"1001\tc1\t2024-03-01 10:00:00\tA-2\t1\t1.234,00\n" +
		"1002\t\t2024-03-02\tA-1\tlots\t12,50\n" +
		"1003\tc2\t1709500000\tA-4\t\t3\n" +
		"1003\tc2\t1709500000\tA-1\t1\t12,50\n"
	cfg := DefaultCSVConfig()
	cfg.Kind = ingest.KindOrders
	cfg.Delimiter = '\t'
	cfg.DecimalComma = true
	cfg.Mapping = map[string]string{"id": "order", "time": "date", "quantity": "qty", "price": "unit price"}
	sink := newSink(t)
	res := newResult()
	if err := ReadCSV(strings.NewReader(tsv), cfg, sink, &res); err != nil {
		t.Fatal(err)
	}
	if len(sink.orders) != 2 {
		t.Fatalf("orders = %+v", sink.orders)
	}
	o1, o3 := sink.orders[0], sink.orders[1]
	want1 := []ingest.OrderLine{{ID: "A-1", Quantity: 2, Price: 12.5}, {ID: "A-2", Quantity: 1, Price: 1234}}
	if o1.ID != "1001" || o1.Customer != "c1" || o1.Time != 1709287200 || !slices.Equal(o1.Products, want1) {
		t.Errorf("order 1001 = %+v", o1)
	}
	want3 := []ingest.OrderLine{{ID: "A-4", Quantity: 1, Price: 3}, {ID: "A-1", Quantity: 1, Price: 12.5}}
	if o3.ID != "1003" || o3.Time != 1709500000 || !slices.Equal(o3.Products, want3) {
		t.Errorf("order 1003 = %+v", o3)
	}
	if res.Rejected[ingest.KindOrders] != 1 || len(res.Errors) != 1 || res.Errors[0].ID != "1002" || res.Errors[0].Field != "quantity" {
		t.Errorf("rejected %v errors %+v", res.Rejected, res.Errors)
	}
}

func TestParseDecimal(t *testing.T) {
	f := func(s string, comma bool, want float64, ok bool) {
		t.Helper()
		got, err := parseDecimal(s, comma)
		if (err == nil) != ok || (ok && got != want) {
			t.Errorf("parseDecimal(%q, %v) = %v, %v; want %v ok=%v", s, comma, got, err, want, ok)
		}
	}
	f("1,234.50", false, 1234.5, true)
	f("1 234.50", false, 1234.5, true)
	f("12,50", false, 0, false) // a decimal comma without the option
	f("12,50", true, 12.5, true)
	f("1.234,50", true, 1234.5, true)
	f("1.234.567", true, 1234567, true)
	f("1,2345.0", false, 0, false)
	f("-3.5", false, -3.5, true)
	f("1e5", false, 0, false)
	f("0x10", false, 0, false)
	f("12.5.1", false, 0, false)
	f("", false, 0, false)
	f("NaN", false, 0, false)
}

func TestCSVErrors(t *testing.T) {
	f := func(name, body string, edit func(*CSVConfig), want string) {
		t.Helper()
		cfg := DefaultCSVConfig()
		if edit != nil {
			edit(&cfg)
		}
		res := newResult()
		err := ReadCSV(strings.NewReader(body), cfg, newSink(t), &res)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
	f("empty", "", nil, "no header")
	f("no id", "name,price\nx,1\n", nil, "no id column")
	f("mapped column missing", "id,name\n1,x\n", func(c *CSVConfig) { c.Mapping = map[string]string{"price": "Cost"} }, `no column "Cost"`)
	f("open quote", "id,name\n1,\""+strings.Repeat("x", 200_000), func(c *CSVConfig) { c.MaxRowBytes = 1000 }, "more than 1000 bytes in one row")
	f("rows", "id\n1\n2\n3\n", func(c *CSVConfig) { c.MaxRows = 2 }, "more than 2 rows")

	// A malformed row is a record error, not a failed read.
	res := newResult()
	sink := newSink(t)
	if err := ReadCSV(strings.NewReader("id,name\n1,a\n2,b\"c\n3,d\n"), DefaultCSVConfig(), sink, &res); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "products", productIDs(sink.products), "1", "3")
	if res.Rejected[ingest.KindProducts] != 1 || !errors.Is(res.Errors[0], ingest.ErrMalformedJSON) || !strings.Contains(res.Errors[0].Reason, "line 3") {
		t.Errorf("errors %+v", res.Errors)
	}
}

func TestCSVConfigValidate(t *testing.T) {
	f := func(edit func(*CSVConfig), want string) {
		t.Helper()
		cfg := DefaultCSVConfig()
		cfg.URL = "https://shop.test/p.csv"
		edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	f(func(c *CSVConfig) { c.URL = "" }, "missing url")
	f(func(c *CSVConfig) { c.Kind = "sales" }, "csv kind")
	f(func(c *CSVConfig) { c.Delimiter = 'x' }, "delimiter")
	f(func(c *CSVConfig) { c.Mapping = map[string]string{"colour": "c"} }, `no field "colour"`)
	f(func(c *CSVConfig) { c.CategorySeparator = "," }, "contains the delimiter")
}
