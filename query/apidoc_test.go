package query

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update", false, "rewrite the endpoint list of docs/api.md from the route table")

const (
	apiDoc      = "../docs/api.md"
	apiDocBegin = "<!-- endpoints: made from query/routes.go; go test ./query -run TestAPIDocEndpoints -update -->\n"
	apiDocEnd   = "<!-- end of endpoints -->\n"
)

// TestAPIDocEndpoints fails when docs/api.md's endpoint list is not the
// route table's (-update rewrites it).
func TestAPIDocEndpoints(t *testing.T) {
	b, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	before, rest, ok := strings.Cut(doc, apiDocBegin)
	if !ok {
		t.Fatalf("%s lacks the line %q", apiDoc, apiDocBegin)
	}
	old, after, ok := strings.Cut(rest, apiDocEnd)
	if !ok {
		t.Fatalf("%s lacks the line %q", apiDoc, apiDocEnd)
	}
	want := endpointsMarkdown()
	if old == want {
		return
	}
	if !*updateDocs {
		t.Fatalf("%s lists other endpoints than the route table: run go test ./query -run TestAPIDocEndpoints -update", apiDoc)
	}
	if err := os.WriteFile(apiDoc, []byte(before+apiDocBegin+want+apiDocEnd+after), 0o644); err != nil {
		t.Fatal(err)
	}
}
