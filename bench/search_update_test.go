package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// A store that finds a written product only 30 ms after acknowledging
// the write: every measured time is at least that, and well below the
// limit.
func TestWriteToSearchableWaitsForTheProduct(t *testing.T) {
	const lag = 30 * time.Millisecond
	var mu sync.Mutex
	written := map[string]time.Time{} // name word -> write time
	ids := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/v2/products":
			if r.URL.Query().Get("private_key") != "priv" {
				http.Error(w, "no", 403)
				return
			}
			var ps []struct{ ID, Name string }
			json.NewDecoder(r.Body).Decode(&ps)
			for _, p := range ps {
				word := strings.Fields(p.Name)[1]
				written[word], ids[word] = time.Now(), p.ID
			}
			w.Write([]byte(`{"status":"ok"}`))
		case "/v2/search/search":
			word := r.URL.Query().Get("query")
			res := []string{}
			if at, ok := written[word]; ok && time.Since(at) >= lag {
				res = append(res, ids[word])
			}
			json.NewEncoder(w).Encode(map[string]any{"status": "ok", "result": res})
		}
	}))
	defer srv.Close()
	took, err := WriteToSearchable(context.Background(), srv.URL, Keys{Public: "pub", Private: "priv"}, 3, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(took) != 3 || len(written) != 3 {
		t.Fatalf("%d measures, %d distinct products written", len(took), len(written))
	}
	for _, d := range took {
		if d < lag-5*time.Millisecond || d > 2*time.Second {
			t.Errorf("measured %v for a product searchable %v after its write", d, lag)
		}
	}
	if _, err := WriteToSearchable(context.Background(), srv.URL, Keys{Public: "pub", Private: "wrong"}, 1, time.Second); err == nil {
		t.Error("a refused write was measured")
	}
}
