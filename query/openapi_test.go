package query

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"
)

// TestOpenAPIMatchesRoutes keeps the description and the router in step:
// every route is described, every description names a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s, err := New(DefaultConfig(), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for name := range s.routes {
		if _, ok := apiDocs[name]; !ok {
			t.Errorf("route %s has no entry in apiDocs", name)
		}
	}
	for name := range apiDocs {
		if _, ok := s.routes[name]; !ok {
			t.Errorf("apiDocs describes %s, which is not a route", name)
		}
	}
	b, err := s.openAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Paths) != len(s.routes)+len(clusterDocs) {
		t.Fatalf("openapi %q with %d paths for %d routes and %d cluster operations", doc.OpenAPI, len(doc.Paths), len(s.routes), len(clusterDocs))
	}
	comp := doc.Paths["/v2/recommendations/complementary"]["get"].(map[string]any)
	var names []string
	for _, p := range comp["parameters"].([]any) {
		names = append(names, p.(map[string]any)["name"].(string))
	}
	for _, want := range []string{"products", "limit", "filter", "exclude", "attributes"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("complementary lacks parameter %s: %v", want, names)
		}
	}
}
