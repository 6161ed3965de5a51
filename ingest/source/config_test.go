package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
