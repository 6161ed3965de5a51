// Package apitest is the JSON client the API tests of query and node share:
// call an endpoint, decode the answer, check its status and error type,
// create a store. It imports only the standard library, so any package's
// tests can use it.
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Client calls one server.
type Client struct {
	t testing.TB
	// Base is "http://addr"; HTTP the client Do uses (tests may send
	// their own requests with both).
	Base string
	HTTP *http.Client
}

// NewClient calls http://addr.
func NewClient(t testing.TB, addr string) *Client {
	return &Client{t: t, Base: "http://" + addr, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Answer is a decoded response.
type Answer struct {
	Status int
	Body   map[string]any
	Raw    string
}

// IDs are the answer's result list as strings.
func (a Answer) IDs() []string {
	var out []string
	list, _ := a.Body["result"].([]any)
	for _, v := range list {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// Do sends body (nil, a string, bytes, or anything to encode as JSON) with
// the header name/value pairs, and fails the test unless the answer is
// JSON.
func (c *Client) Do(method, path string, body any, header ...string) Answer {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.Base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := Answer{Status: resp.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		c.t.Fatalf("%s %s: non-JSON answer %d: %s", method, path, resp.StatusCode, raw)
	}
	return a
}

// Expect fails unless the answer has the status (and, for errors, the
// error type; for 200, "status": "ok").
func Expect(t testing.TB, a Answer, status int, errType string) {
	t.Helper()
	if a.Status != status {
		t.Fatalf("status %d, want %d: %s", a.Status, status, a.Raw)
	}
	if errType != "" && a.Body["type"] != errType {
		t.Fatalf("error type %v, want %s: %s", a.Body["type"], errType, a.Raw)
	}
	if status == 200 && a.Body["status"] != "ok" {
		t.Fatalf("status field %v: %s", a.Body["status"], a.Raw)
	}
}

// Store is a created store's id and keys.
type Store struct {
	ID, Public, Private string
}

// CreateStore creates a store with the admin token.
func (c *Client) CreateStore(name, adminToken string) Store {
	c.t.Helper()
	a := c.Do("POST", "/v2/stores", map[string]string{"name": name}, "Authorization", "Bearer "+adminToken)
	Expect(c.t, a, 200, "")
	return Store{ID: fmt.Sprint(a.Body["id"]), Public: fmt.Sprint(a.Body["public_key"]), Private: fmt.Sprint(a.Body["private_key"])}
}

// Q builds a query string with the store's public key (and private key)
// and the name/value pairs.
func Q(st Store, private bool, kv ...string) string {
	v := url.Values{}
	v.Set("key", st.Public)
	if private {
		v.Set("private_key", st.Private)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}
