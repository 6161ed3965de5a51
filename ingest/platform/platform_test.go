package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

func TestAmount(t *testing.T) {
	f := func(in string, want float64, set bool, fails bool) {
		t.Helper()
		var a amount
		err := json.Unmarshal([]byte(in), &a)
		if fails {
			if err == nil {
				t.Fatalf("%s: want an error, got %+v", in, a)
			}
			return
		}
		if err != nil || a.Set != set || a.Value != want {
			t.Fatalf("%s: got %+v, %v; want %v set %v", in, a, err, want, set)
		}
	}
	f(`"19.99"`, 19.99, true, false)
	f(`" 5 "`, 5, true, false)
	f(`34`, 34, true, false)
	f(`"29.0000"`, 29, true, false)
	f(`""`, 0, false, false)
	f(`null`, 0, false, false)
	f(`"-5.00"`, -5, true, false) // negative: Validate's call, not the parser's
	f(`"NaN"`, 0, false, true)
	f(`"Inf"`, 0, false, true)
	f(`"1e400"`, 0, false, true)
	f(`"0x10"`, 0, false, true)
	f(`"1_000"`, 0, false, true)
	f(`"1,50"`, 0, false, true)
	f(`{"amount":"1"}`, 0, false, true)
	f(`true`, 0, false, true)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 2, 10, 0, 0, 0, time.UTC)
	f := func(in string, want time.Duration) {
		t.Helper()
		if got := parseRetryAfter(in, now); got != want {
			t.Fatalf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
	f("2", 2*time.Second)
	f("2.0", 2*time.Second) // Shopify sends "2.0"
	f("0.5", 500*time.Millisecond)
	f("", 0)
	f("-1", 0)
	f("NaN", 0)
	f("99999", 0) // over an hour: not believed
	f("Tue, 02 Jan 2024 10:00:30 GMT", 30*time.Second)
	f("Tue, 02 Jan 2024 09:00:00 GMT", 0) // in the past
	f("soon", 0)
}

func TestStripHTML(t *testing.T) {
	f := func(in, want string, max int) {
		t.Helper()
		if got := stripHTML(in, max); got != want {
			t.Fatalf("stripHTML(%q) = %q, want %q", in, got, want)
		}
	}
	f("plain  text\n", "plain text", 100)
	f("<p>One</p><p>Two</p>", "One Two", 100)
	f("A<br>B<br/>C", "A B C", 100)
	f("<b>bold</b>face", "boldface", 100)
	f("Fish &amp; chips &lt;3 &eacute;", "Fish & chips <3 é", 100)
	f("<style>p{color:red}</style>Shown<script>alert(1)</script>", "Shown", 100)
	f("<!-- comment -->x", "x", 100)
	f("unclosed <b", "unclosed", 100)
	f("<p>ééééé</p>", "éé", 5) // cut on a rune boundary
	f(strings.Repeat("<p>word</p>", 10000), strings.TrimSpace(strings.Repeat("word ", 3)), 14)
}

func TestDeliverDocsCountsAndCaps(t *testing.T) {
	r := newRun(commonConfig{platform: "test", currency: "USD", maxPages: 1, maxPageBytes: 1 << 20}, nil, &recordingSink{}, func(*http.Request) {})
	docs := make([]json.RawMessage, 0, 160)
	for i := range 150 {
		docs = append(docs, json.RawMessage(fmt.Sprintf(`{"id":%d,"price":"-1"}`, i)))
	}
	for i := range 10 {
		docs = append(docs, json.RawMessage(fmt.Sprintf(`{"id":%d,"price":"1"}`, 1000+i)))
	}
	mapDoc := func(raw []byte) (ingest.Product, error) {
		var d struct {
			ID    ingest.ID `json:"id"`
			Price amount    `json:"price"`
		}
		err := json.Unmarshal(raw, &d)
		return ingest.Product{ID: d.ID, Name: "x", Price: d.Price.Value}, err
	}
	sink := r.sink.(*recordingSink)
	if err := deliverDocs(r, ingest.KindProducts, docs, mapDoc, sink.Products); err != nil {
		t.Fatal(err)
	}
	if r.res.Rejected[ingest.KindProducts] != 150 || len(r.res.Errors) != maxReportedErrors || r.res.Records[ingest.KindProducts] != 10 || len(sink.products) != 10 {
		t.Fatalf("rejected %v errors %d records %v delivered %d", r.res.Rejected, len(r.res.Errors), r.res.Records, len(sink.products))
	}
	// Errors name the record's position in the kind's whole stream.
	if e := r.res.Errors[7]; e.Index != 7 || e.ID != "7" || !errors.Is(e, ingest.ErrInvalidValue) {
		t.Fatalf("error %+v", e)
	}
}

// failingSink refuses products.
type failingSink struct{ recordingSink }

func (*failingSink) Products([]ingest.Product) error { return errors.New("proposal refused") }

func TestSinkErrorEndsFetch(t *testing.T) {
	f, srv := newShopifyFixture(t)
	src, err := NewShopify(shopifyTestConfig(srv, f.token), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Fetch(context.Background(), time.Time{}, &failingSink{})
	if err == nil || !strings.Contains(err.Error(), "proposal refused") || res.Complete {
		t.Fatalf("err = %v complete %v", err, res.Complete)
	}
	if f.requests["orders"] != 0 {
		t.Fatal("the run went on after the sink failed")
	}
}

func TestFetchCancelled(t *testing.T) {
	f, srv := newMagentoFixture(t)
	src, err := NewMagento(magentoTestConfig(srv, f.token), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := src.Fetch(ctx, time.Time{}, &recordingSink{})
	if !errors.Is(err, context.Canceled) || res.Complete {
		t.Fatalf("err = %v complete %v", err, res.Complete)
	}
}

func TestMagentoConfigValidate(t *testing.T) {
	f := func(mutate func(*MagentoConfig), want string) {
		t.Helper()
		cfg := DefaultMagentoConfig()
		cfg.BaseURL, cfg.Token, cfg.Currency = "https://m.example.com", "magento_secret_token", "EUR"
		mutate(&cfg)
		err := cfg.Validate()
		if want == "" {
			if err != nil {
				t.Fatalf("unexpected %v", err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		notLeaking(t, err, "magento_secret_token")
	}
	f(func(*MagentoConfig) {}, "")
	f(func(c *MagentoConfig) { c.Token = "" }, "token is required")
	f(func(c *MagentoConfig) { c.StoreCode = "a/b" }, "not a store code")
	f(func(c *MagentoConfig) { c.PageSize = 0 }, "1..1000")
	f(func(c *MagentoConfig) { c.Rates = map[string]float64{"usd": 1} }, "rate table key")
	f(func(c *MagentoConfig) { c.Rates = map[string]float64{"USD": math.Inf(1)} }, "rate for USD")
}

// A store without a currency takes amounts as the platform sends them; a
// store with one converts by its rates or refuses the order.
func TestCurrencyConversion(t *testing.T) {
	none := commonConfig{platform: "test"}
	if v, ok := none.convert(18, "EUR"); !ok || v != 18 {
		t.Errorf("no store currency: EUR 18 gave %v %v, want 18 as sent", v, ok)
	}
	usd := commonConfig{platform: "test", currency: "USD", rates: map[string]float64{"EUR": 1.1}}
	for _, tc := range []struct {
		cur  string
		want float64
		ok   bool
	}{{"USD", 18, true}, {"", 18, true}, {"eur", 19.8, true}, {"GBP", 0, false}} {
		if v, ok := usd.convert(18, tc.cur); ok != tc.ok || math.Abs(v-tc.want) > 1e-9 {
			t.Errorf("USD store, %q 18: %v %v, want %v %v", tc.cur, v, ok, tc.want, tc.ok)
		}
	}
	if err := validateCommon("test", "https://x.example", "", map[string]float64{"EUR": 1.1}, 10, 100, 1, 1<<20); err == nil {
		t.Error("a rate table without a store currency was accepted")
	}
	if err := validateCommon("test", "https://x.example", "", nil, 10, 100, 1, 1<<20); err != nil {
		t.Errorf("no currency refused: %v", err)
	}
}
