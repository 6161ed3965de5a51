package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// WriteToSearchable measures, n times, the time from a single product
// write's acknowledgement (POST /v2/products answering 200, after Raft
// committed and applied it) to search/search first answering with that
// product, polled back to back on base. Each product is new and named
// with a word no other product has. The durations come back sorted.
func WriteToSearchable(ctx context.Context, base string, k Keys, n int, limit time.Duration) ([]time.Duration, error) {
	if k.Private == "" {
		return nil, fmt.Errorf("measuring writes needs the store's private key")
	}
	c := &http.Client{Timeout: 30 * time.Second}
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	var out []time.Duration
	for i := range n {
		// Letters only, so that the analyzer keeps it one word.
		word := "zorbique" + letters(stamp) + string(rune('a'+i%26)) + string(rune('a'+i/26%26))
		id := "bench-new-" + stamp + "-" + strconv.Itoa(i)
		body, _ := json.Marshal([]map[string]any{{"id": id, "name": "Black " + word + " lamp", "price": 10}})
		resp, err := c.Post(base+"/v2/products?key="+url.QueryEscape(k.Public)+"&private_key="+url.QueryEscape(k.Private),
			"application/json", bytes.NewReader(body))
		if err != nil {
			return out, fmt.Errorf("cannot write product %s: %w", id, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return out, fmt.Errorf("writing product %s answered HTTP %d", id, resp.StatusCode)
		}
		acked := time.Now()
		q := base + "/v2/search/search?limit=5&key=" + url.QueryEscape(k.Public) + "&query=" + url.QueryEscape(word)
		for {
			found, err := searchFinds(c, q, id)
			if err != nil {
				return out, err
			}
			if found {
				break
			}
			if time.Since(acked) > limit {
				return out, fmt.Errorf("product %s not found by search %v after its write", id, limit)
			}
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
		out = append(out, time.Since(acked))
	}
	slices.Sort(out)
	return out, nil
}

// letters maps a base-36 stamp to letters only.
func letters(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= '0' && c <= '9' {
			b[i] = 'a' + (c - '0')
		}
	}
	return string(b)
}

func searchFinds(c *http.Client, q, id string) (bool, error) {
	resp, err := c.Get(q)
	if err != nil {
		return false, fmt.Errorf("search: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("search answered HTTP %d", resp.StatusCode)
	}
	var a struct {
		Result []string `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return false, fmt.Errorf("search answer: %w", err)
	}
	return slices.Contains(a.Result, id), nil
}
