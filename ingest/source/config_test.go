package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

func TestParseConfig(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		_, err := ParseConfig([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", in, err, want)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "tok_live")) {
			t.Errorf("%s: error %q shows a secret", in, err)
		}
	}
	f(`{"type":"ftp","url":"https://a.test"}`, `unknown source type "ftp"`)
	f(`{"type":"feed"}`, "missing url")
	f(`{"type":"feed","url":"file:///etc/passwd"}`, "http or https")
	f(`{"type":"feed","url":"https://"}`, "no host")
	f(`{"type":"feed","url":"https://a.test/`+strings.Repeat("x", 3000)+`"}`, "at most 2048")
	f(`{"type":"feed","url":"https://a.test","tokn":"x"}`, `unknown field "tokn"`)
	f(`{"type":"feed","url":"https://a.test","token":"tok_live\nx"}`, "line breaks")
	f(`{"type":"feed","url":"https://a.test","token":"tok_live","user":"u","password":"hunter2"}`, "set token_header")
	f(`{"type":"feed","url":"https://a.test","token":"`+strings.Repeat("t", 5000)+`"}`, "at most 4096")
	f(`{"type":"feed","url":"https://a.test","mapping":{"id":"SKU"}}`, "are for csv")
	f(`{"type":"feed_v2","url":"https://a.test"}`, "takes urls")
	f(`{"type":"feed_v2","urls":{"products":"https://a.test/p","sales":"https://a.test/s"}}`, "unknown resource")
	f(`{"type":"csv","url":"https://a.test/p.csv","delimiter":"x"}`, "csv delimiter")
	f(`{"type":"csv","url":"https://a.test/p.csv","kind":"orders","mapping":{"name":"Title"}}`, `orders has no field "name"`)
	f(`{"type":"woocommerce","url":"https://a.test","consumer_key":"ck_1"}`, "together")
	f(`{"type":"feed","url":"https://a.test"} {}`, "after the object")
	f(`{"type":"feed","url":"https://a.test","token_header":"X Bad"}`, "token_header")

	cfg, err := ParseConfig([]byte(`{"type":"csv","url":"https://a.test/p.tsv","delimiter":"tab","kind":"products","mapping":{"id":"SKU"},"decimal_comma":true,"user":"u","password":"hunter2"}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kind != "products" || cfg.Password != "hunter2" || !cfg.DecimalComma {
		t.Errorf("parsed %#v", cfg)
	}
}

// Secrets never show in String, %v, %+v, %#v or Redacted; the real
// configuration keeps them (Raft stores it).
func TestConfigHidesSecrets(t *testing.T) {
	cfg := Config{Type: TypeWooCommerce, URL: "https://bob:urlpass@shop.test/?consumer_secret=cs_query&lang=da",
		Token: "tok_live", Password: "hunter2", User: "bob", ConsumerKey: "ck_1", ConsumerSecret: "cs_secret"}
	for _, s := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg.Redacted())} {
		for _, secret := range []string{"tok_live", "hunter2", "cs_secret", "cs_query", "urlpass"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows %q", s, secret)
			}
		}
	}
	if r := cfg.Redacted(); r.Token != "REDACTED" || !strings.Contains(r.URL, "lang=da") {
		t.Errorf("redacted = %+v", r)
	}
	if cfg.Token != "tok_live" {
		t.Error("Redacted changed the original")
	}
}

func TestBuild(t *testing.T) {
	doer := http.DefaultClient
	for _, typ := range []string{TypeShopify, TypeWooCommerce, TypeMagento2} {
		_, err := Build(Config{Type: typ, URL: "https://shop.test"}, doer)
		if !errors.Is(err, ErrNotBuiltHere) || !strings.Contains(err.Error(), typ) {
			t.Errorf("%s: err = %v, want ErrNotBuiltHere", typ, err)
		}
	}
	if _, err := Build(Config{Type: "feed"}, doer); err == nil || !strings.Contains(err.Error(), "missing url") {
		t.Errorf("invalid config built: %v", err)
	}

	// Built sources read their fixture shops.
	feedSrv := authFeedServer(t, "tok", v1Feed)
	defer feedSrv.Close()
	v2Srv := newV2Server()
	defer v2Srv.Close()
	csvSrv := csvServer(t, map[string]string{"/p.csv": "id;name;price\n1;a;2,5\n"})
	defer csvSrv.Close()
	f := func(cfg Config, wantProducts int) {
		t.Helper()
		src, err := Build(cfg, fastClient(t, nil))
		if err != nil {
			t.Fatalf("%s: %v", cfg, err)
		}
		sink := newSink(t)
		res, err := src.Fetch(context.Background(), time.Time{}, sink)
		if err != nil || len(sink.products) != wantProducts || !res.Complete {
			t.Errorf("%s: %d products (want %d), complete %v, err %v", cfg.Type, len(sink.products), wantProducts, res.Complete, err)
		}
	}
	f(Config{Type: TypeFeed, URL: feedSrv.URL, Token: "tok"}, 2)
	f(Config{Type: TypeFeedV2, URLs: map[string]string{"products": v2Srv.URL + "/products"}, Token: "feedtoken", TokenHeader: "X-Clerk-Authorization"}, 4)
	f(Config{Type: TypeCSV, URL: csvSrv.URL + "/p.csv", Delimiter: ";", DecimalComma: true, User: "shop", Password: "pw"}, 1)

	// strict reaches the reader: the v1 fixture's invalid product fails it.
	src, _ := Build(Config{Type: TypeFeed, URL: feedSrv.URL, Token: "tok", Strict: true}, fastClient(t, nil))
	if _, err := src.Fetch(context.Background(), time.Time{}, newSink(t)); !errors.Is(err, ingest.ErrInvalidFeed) {
		t.Errorf("strict feed: err = %v", err)
	}
}

// The platform members: each is checked, and only the types that take it
// accept it.
func TestParseConfigPlatform(t *testing.T) {
	bad := func(in, want string) {
		t.Helper()
		_, err := ParseConfig([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "whsec_live") {
			t.Errorf("%s: error %q shows the webhook secret", in, err)
		}
	}
	const shop = `"type":"shopify","url":"https://s.myshopify.com","token":"shpat_1"`
	bad(`{`+shop+`,"currency":"eur"}`, "ISO 4217")
	bad(`{`+shop+`,"currency":"EURO"}`, "ISO 4217")
	bad(`{`+shop+`,"rates":{"USD":1.1}}`, "set currency too")
	bad(`{`+shop+`,"currency":"EUR","rates":{"EUR":1}}`, "other than the store's")
	bad(`{`+shop+`,"currency":"EUR","rates":{"usd":1}}`, "other than the store's")
	bad(`{`+shop+`,"currency":"EUR","rates":{"USD":0}}`, "above 0")
	bad(`{`+shop+`,"currency":"EUR","rates":{"USD":-2}}`, "above 0")
	bad(`{`+shop+`,"currency":"EUR","rates":{"USD":1e12}}`, "at most 1e9")
	bad(`{`+shop+`,"store_url":"ftp://shop.test"}`, "store_url: url must be http or https")
	bad(`{`+shop+`,"store_url":"https://shop.test/`+strings.Repeat("x", 3000)+`"}`, "store_url: url is")
	bad(`{`+shop+`,"api_version":"2024-13"}`, "api_version must look like")
	bad(`{`+shop+`,"api_version":"latest"}`, "api_version must look like")
	bad(`{`+shop+`,"allow_http":true}`, "allow_http is for woocommerce")
	bad(`{`+shop+`,"webhook_secret":"whsec_live\nx"}`, "line breaks")
	bad(`{`+shop+`,"webhook_secret":"`+strings.Repeat("w", 5000)+`"}`, "webhook_secret is 5000 bytes")
	bad(`{"type":"feed","url":"https://a.test","currency":"EUR"}`, "are for shopify")
	bad(`{"type":"feed","url":"https://a.test","webhook_secret":"whsec_live"}`, "webhook_secret is for")
	bad(`{"type":"magento2","url":"https://a.test","token":"t","webhook_secret":"whsec_live"}`, "webhook_secret is for")
	bad(`{"type":"magento2","url":"https://a.test","api_version":"2024-01"}`, "api_version is for shopify")
	bad(`{"type":"woocommerce","url":"http://a.test","consumer_key":"ck","consumer_secret":"cs"}`, "set allow_http")
	many := make([]string, 0, 300)
	for i := 0; i < 300; i++ {
		many = append(many, fmt.Sprintf(`"%c%c%c":1`, 'A'+i/26/26%26, 'A'+i/26%26, 'A'+i%26))
	}
	bad(`{`+shop+`,"currency":"ZZZ","rates":{`+strings.Join(many, ",")+`}}`, "at most 200")

	cfg, err := ParseConfig([]byte(`{` + shop + `,"currency":"EUR","rates":{"USD":0.92,"SEK":0.087},"store_url":"https://shop.example",` +
		`"api_version":"2025-04","webhook_secret":"whsec_live"}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Currency != "EUR" || cfg.Rates["USD"] != 0.92 || cfg.StoreURL != "https://shop.example" || cfg.APIVersion != "2025-04" || cfg.WebhookSecret != "whsec_live" {
		t.Errorf("parsed %#v", cfg)
	}
	woo, err := ParseConfig([]byte(`{"type":"woocommerce","url":"http://shop.test","consumer_key":"ck","consumer_secret":"cs","allow_http":true,"webhook_secret":"whsec_live"}`))
	if err != nil || !woo.AllowHTTP || woo.WebhookSecret != "whsec_live" {
		t.Errorf("woocommerce over http with allow_http: %+v, %v", woo, err)
	}
}

// The webhook secret is hidden like the other secrets; the rates shown
// are a copy.
func TestConfigHidesWebhookSecret(t *testing.T) {
	cfg := Config{Type: TypeShopify, URL: "https://s.myshopify.com", Token: "shpat_live", WebhookSecret: "whsec_live",
		Currency: "EUR", Rates: map[string]float64{"USD": 0.9}, StoreURL: "https://u:storepass@shop.example/?token=tq"}
	for _, s := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		for _, secret := range []string{"whsec_live", "shpat_live", "storepass", "tq"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows %q", s, secret)
			}
		}
	}
	r := cfg.Redacted()
	if r.WebhookSecret != "REDACTED" || r.Currency != "EUR" || r.Rates["USD"] != 0.9 {
		t.Errorf("redacted = %+v", r)
	}
	r.Rates["USD"] = 2
	if cfg.Rates["USD"] != 0.9 || cfg.WebhookSecret != "whsec_live" {
		t.Error("Redacted changed the original")
	}
	if !slices.Contains(SecretFields, "webhook_secret") || RedactedPlaceholder != "REDACTED" {
		t.Errorf("SecretFields = %v", SecretFields)
	}
}
