package query

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/sibylhq/sibyl/demo"
)

// TestOpenAPIValid loads the served description with kin-openapi and
// validates it: any error fails.
func TestOpenAPIValid(t *testing.T) {
	s, _ := startEdgeServer(t, func(*Config) {})
	a := call(t, "GET", "http://"+s.Addr()+"/v2/openapi.json", "")
	if a.status != 200 {
		t.Fatalf("GET /v2/openapi.json: %d %.200s", a.status, a.body)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(a.body)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	// Every endpoint served on the HTTP port is there with every method,
	// and nothing else is.
	want := 0
	for _, e := range endpoints {
		if e.Access == AccessCluster {
			if doc.Paths.Find(e.Path) != nil {
				t.Errorf("cluster-internal %s is in the document", e.Path)
			}
			continue
		}
		want++
		item := doc.Paths.Find(e.Path)
		if item == nil {
			t.Errorf("%s is missing", e.Path)
			continue
		}
		if len(item.Operations()) != len(e.Ops) {
			t.Errorf("%s: %d operations, the table has %d", e.Path, len(item.Operations()), len(e.Ops))
		}
		for _, op := range e.Ops {
			o := item.GetOperation(op.Method)
			if o == nil || o.OperationID != op.ID {
				t.Errorf("%s %s: missing or not %s", op.Method, e.Path, op.ID)
			}
		}
	}
	if doc.Paths.Len() != want {
		t.Errorf("%d paths, the table serves %d", doc.Paths.Len(), want)
	}
	// The document says what a client needs: parameters (never null),
	// bodies on writes, an operation id each.
	var raw struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(a.body, &raw); err != nil {
		t.Fatal(err)
	}
	for path, item := range raw.Paths {
		for method, op := range item {
			if strings.Contains(string(op), `"parameters": null`) || strings.Contains(string(op), `"parameters":null`) {
				t.Errorf("%s %s: parameters null", method, path)
			}
		}
	}
	comp := doc.Paths.Find("/v2/recommendations/complementary").Get
	for _, want := range []string{"products", "limit", "filter", "exclude", "attributes"} {
		if comp.Parameters.GetByInAndName("query", want) == nil {
			t.Errorf("complementary lacks parameter %s", want)
		}
	}
	if p := doc.Paths.Find("/v2/products").Patch; p == nil || p.RequestBody == nil {
		t.Errorf("PATCH /v2/products has no request body")
	}
	if p := doc.Paths.Find("/v2/stores/{id}/limits").Post; p == nil || p.Parameters.GetByInAndName("path", "id") == nil {
		t.Errorf("/v2/stores/{id}/limits lacks its path parameter")
	}
}

// TestOperationIDsAreClerks checks the operation ids of the operations
// Sibyl shares with Clerk against Clerk's own description
// (../shared/clerk/openapi-original.yml beside the repository).
func TestOperationIDsAreClerks(t *testing.T) {
	const clerkFile = "../../shared/clerk/openapi-original.yml"
	if _, err := os.Stat(clerkFile); err != nil {
		demo.SharedMissing(t, "Clerk's description (../shared/clerk)", err)
	}
	loader := openapi3.NewLoader()
	clerk, err := loader.LoadFromFile(clerkFile)
	if err != nil {
		t.Fatalf("load Clerk's description: %v", err)
	}
	shared := 0
	for _, e := range endpoints {
		rest, ok := strings.CutPrefix(e.Path, "/v2")
		if !ok {
			continue
		}
		item := clerk.Paths.Find(rest)
		if item == nil {
			item = clerk.Paths.Find(rest + "/")
		}
		if item == nil {
			continue
		}
		for _, op := range e.Ops {
			if c := item.GetOperation(op.Method); c != nil {
				shared++
				if c.OperationID != op.ID {
					t.Errorf("%s %s: operation id %q, Clerk's is %q", op.Method, e.Path, op.ID, c.OperationID)
				}
			}
		}
	}
	if shared < 50 {
		t.Fatalf("only %d operations shared with Clerk: is the path mapping wrong?", shared)
	}
}
