package query

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The OpenAPI description (GET /v2/openapi.json) is made from the route
// table (routes.go): every endpoint but the cluster-internal ones, which
// are not served on the HTTP port. TestOpenAPIValid loads it with
// kin-openapi and fails on any error.

// openAPI builds the OpenAPI 3.1 document.
func openAPI() ([]byte, error) {
	paths := map[string]any{}
	tags := []any{}
	seenTag := map[string]bool{}
	for _, e := range endpoints {
		if e.Access == AccessCluster {
			continue
		}
		if err := e.check(); err != nil {
			return nil, err
		}
		if !seenTag[e.Tag] {
			seenTag[e.Tag] = true
			tags = append(tags, map[string]any{"name": e.Tag})
		}
		item := map[string]any{}
		for _, op := range e.Ops {
			item[strings.ToLower(op.Method)] = openAPIOp(e, op)
		}
		paths[e.Path] = item
	}
	schemas := map[string]any{}
	for name, s := range recordSchemas {
		schemas[name] = s
	}
	for s, name := range sharedResults {
		schemas[name] = s
	}
	params := map[string]any{}
	for _, p := range sharedParams {
		params[p.Name] = openAPIParam(p)
	}
	return json.MarshalIndent(map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Sibyl API (Clerk.io v2 compatible)", "version": "2",
			"description": "Every Clerk endpoint answers GET with query parameters and POST with a JSON body of the same names. " +
				"Keys: key (public), private_key (private) as parameters, body fields or Authorization: Bearer; the admin token only as Bearer."},
		"tags":  tags,
		"paths": paths,
		"components": map[string]any{
			"schemas":    schemas,
			"parameters": params,
			"securitySchemes": map[string]any{
				"publicKey":  map[string]any{"type": "apiKey", "in": "query", "name": "key"},
				"privateKey": map[string]any{"type": "apiKey", "in": "query", "name": "private_key"},
				"adminToken": map[string]any{"type": "http", "scheme": "bearer"},
			},
		},
	}, "", "  ")
}

func openAPIOp(e Endpoint, op Op) map[string]any {
	summary := op.Summary
	if summary == "" {
		summary = e.Summary
	}
	params := []any{}
	for _, p := range op.Params {
		if sharedParam(p) {
			params = append(params, map[string]any{"$ref": "#/components/parameters/" + p.Name})
			continue
		}
		params = append(params, openAPIParam(p))
	}
	result := op.Result
	if name, ok := sharedResults[result]; ok {
		result = jsRef(name)
	}
	resultType := op.ResultType
	if resultType == "" {
		resultType = "application/json"
	}
	out := map[string]any{
		"operationId": op.ID,
		"summary":     summary,
		"description": fmt.Sprintf("Key: %s. %s.", e.Access, writesDoc(op.Writes)),
		"tags":        []string{e.Tag},
		"parameters":  params,
		"security":    security(e.Access),
		"responses": map[string]any{
			"200": map[string]any{"description": "ok", "content": map[string]any{resultType: map[string]any{"schema": result}}},
			"default": map[string]any{"description": "an error (docs/api.md lists the types)",
				"content": map[string]any{"application/json": map[string]any{"schema": jsRef("Error")}}},
		},
	}
	if op.Body != nil {
		typ := "application/json"
		if op.Body.Type == "string" {
			typ = "text/plain"
		}
		out["requestBody"] = map[string]any{"required": op.Method != "DELETE",
			"content": map[string]any{typ: map[string]any{"schema": op.Body}}}
	}
	return out
}

func openAPIParam(p Param) map[string]any {
	return map[string]any{"name": p.Name, "in": p.In, "required": p.Required, "description": p.Desc, "schema": p.Schema}
}

// The answers and parameters many operations share are components of
// the document, referred to by name.
var sharedResults = map[*Schema]string{
	recsResult: "Recommendations", idsResult: "IDs", trackResult: "Tracked", writeResult: "Written", okResult: "OK",
}

var sharedParams = []Param{pLimit, pOffset, pExclude, pAttributes, pFilter, pFacets, pLabels, pOrderBy, pOrder, pDebug, pCallback, pVisitor}

// sharedParam reports whether p is one of sharedParams as declared (not a
// variant with another description or required).
func sharedParam(p Param) bool {
	for _, q := range sharedParams {
		if p.Name == q.Name && p.Desc == q.Desc && p.Schema == q.Schema && p.Required == q.Required && p.In == q.In {
			return true
		}
	}
	return false
}

// writesDoc says in words what Op.Writes means for a client.
func writesDoc(w Writes) string {
	switch w {
	case ShardWrite:
		return "Writes: replicated through the store's shard (Raft) before the answer"
	case MetaWrite:
		return "Writes: replicated through the meta group (Raft) before the answer"
	}
	return "Reads only"
}

func security(a Access) []any {
	switch a {
	case AccessPublic:
		return []any{map[string]any{"publicKey": []string{}}, map[string]any{"privateKey": []string{}}}
	case AccessPrivate:
		return []any{map[string]any{"privateKey": []string{}}}
	case AccessAdmin:
		return []any{map[string]any{"adminToken": []string{}}}
	}
	return []any{}
}

func (s *Server) handleOpenAPI(r *request) error {
	r.ctx.SetContentType("application/json")
	r.ctx.SetBody(s.openapi)
	return nil
}
