package query

import (
	"encoding/json"
	"sort"
	"strings"
)

// The OpenAPI description is generated from the router (buildRoutes) and
// this table of summaries and parameters; TestOpenAPIMatchesRoutes fails
// when a route has no entry here or an entry names no route, so the two
// cannot drift.

type paramDoc struct {
	name, typ, desc string
}

var (
	pLimit      = paramDoc{"limit", "integer", "number of results (default 10)"}
	pOffset     = paramDoc{"offset", "integer", "results to skip"}
	pExclude    = paramDoc{"exclude", "list", "product ids never to return"}
	pAttributes = paramDoc{"attributes", "list", "product fields to return in product_data; * for all"}
	pFilter     = paramDoc{"filter", "string", "Clerk filter expression, e.g. price > 10 and categories in [1,2]"}
	pFacets     = paramDoc{"facets", "list", "attributes to count values of over the eligible results"}
	pLabels     = paramDoc{"labels", "list", "labels of the slot, for attribution (stats/labels)"}
	pOrderBy    = paramDoc{"orderby", "string", "attribute to sort results by"}
	pOrder      = paramDoc{"order", "string", "asc or desc"}
	pDebug      = paramDoc{"debug", "boolean", "explain which model and fallback produced the results"}
	pCallback   = paramDoc{"callback", "string", "JSONP callback name"}
	pProducts   = paramDoc{"products", "list", "product ids"}
	pVisitor    = paramDoc{"visitor", "string", "visitor id, or auto to mint one (returned as visitor)"}
	pCustomer   = paramDoc{"customer", "string", "customer id"}
	pEmail      = paramDoc{"email", "string", "customer email (instead of customer)"}
	pCategory   = paramDoc{"category", "string", "category id"}
	pPage       = paramDoc{"page", "string", "page id"}
)

var commonRecParams = []paramDoc{pLimit, pOffset, pExclude, pAttributes, pFilter, pFacets, pLabels, pOrderBy, pOrder, pDebug, pCallback, pVisitor}

type opDoc struct {
	summary string
	params  []paramDoc
	// recs marks recommendation logics, which take commonRecParams.
	recs bool
}

func recDoc(summary string, params ...paramDoc) opDoc {
	return opDoc{summary: summary, params: params, recs: true}
}

var dataParams = []paramDoc{{"<kind>", "list", "ids to fetch (GET) or delete (DELETE), named after the collection, e.g. products=[\"a\"]"}, pLimit, pOffset}

var apiDocs = map[string]opDoc{
	"/health":          {summary: "liveness"},
	"/ready":           {summary: "readiness: every shard of this node has a leader"},
	"/metrics":         {summary: "Prometheus metrics"},
	"/v2/openapi.json": {summary: "this description"},
	"/debug/pprof":     {summary: "Go profiles (admin token): /debug/pprof/heap, /profile, ..."},
	"/v2/stores":       {summary: "create a store (admin token): {\"name\": N} -> id, public_key, private_key", params: []paramDoc{{"name", "string", "the store's name"}}},
	"/v2/stores/{id}/limits": {summary: "set (POST {\"rate\": R, \"burst\": B}) or clear (POST {\"clear\": true}) a store's public-key rate limit per node (admin token)",
		params: []paramDoc{{"rate", "number", "requests per second, 0 = unlimited"}, {"burst", "integer", "bucket size"}, {"clear", "boolean", "back to the node default"}}},
	"/v2/stores/{id}/rotate-keys": {summary: "new public and private keys (admin token); the old ones keep working for overlap (default 24h)",
		params: []paramDoc{{"overlap", "string", "how long the old keys keep working, e.g. 1h; 0 ends them now"}}},
	"/v2/products":           {summary: "products: GET by ids or paged, POST/PUT upsert, PATCH partial update, DELETE", params: dataParams},
	"/v2/categories":         {summary: "categories (as /v2/products)", params: dataParams},
	"/v2/customers":          {summary: "customers (as /v2/products)", params: dataParams},
	"/v2/orders":             {summary: "orders (as /v2/products)", params: dataParams},
	"/v2/pages":              {summary: "content pages (as /v2/products)", params: dataParams},
	"/v2/product/add":        {summary: "legacy: upsert products", params: []paramDoc{pProducts}},
	"/v2/product/remove":     {summary: "legacy: delete products", params: []paramDoc{pProducts}},
	"/v2/product/attributes": {summary: "attributes of products", params: []paramDoc{pProducts, pAttributes}},
	"/v2/product/facets":     {summary: "facet counts over the catalog", params: []paramDoc{pFacets, pFilter, pProducts}},

	"/v2/recommendations/popular":                        recDoc("best sellers, time-decayed"),
	"/v2/recommendations/trending":                       recDoc("fastest-growing sales"),
	"/v2/recommendations/new":                            recDoc("newest products"),
	"/v2/recommendations/recently_bought":                recDoc("products of the latest sales"),
	"/v2/recommendations/currently_watched":              recDoc("products visitors are viewing now"),
	"/v2/recommendations/keywords":                       recDoc("products for a piece of text", paramDoc{"keywords", "string", "the text"}),
	"/v2/recommendations/most_sold_with":                 recDoc("raw co-purchase counts", pProducts),
	"/v2/recommendations/complementary":                  recDoc("what goes with these products", pProducts),
	"/v2/recommendations/bundle":                         recDoc("as complementary", pProducts),
	"/v2/recommendations/substituting":                   recDoc("alternatives to these products", pProducts),
	"/v2/recommendations/category/popular":               recDoc("popular in a category", pCategory),
	"/v2/recommendations/category/trending":              recDoc("trending in a category", pCategory),
	"/v2/recommendations/category/new":                   recDoc("newest in a category", pCategory),
	"/v2/recommendations/category/popular_subcategories": recDoc("popular in a category and its subcategories", pCategory),
	"/v2/recommendations/page/product":                   recDoc("products for a content page", pPage),
	"/v2/recommendations/page/related_products":          recDoc("as page/product", pPage),
	"/v2/recommendations/page/category":                  {summary: "categories for a content page", params: []paramDoc{pPage, pLimit, pOffset}},
	"/v2/recommendations/page/related_categories":        {summary: "as page/category", params: []paramDoc{pPage, pLimit, pOffset}},
	"/v2/recommendations/page/substituting":              {summary: "pages like a page", params: []paramDoc{pPage, pLimit, pOffset}},
	"/v2/recommendations/visitor/history":                recDoc("the visitor's recent products"),
	"/v2/recommendations/visitor/complementary":          recDoc("for the visitor's session, in real time"),
	"/v2/recommendations/visitor/substituting":           recDoc("alternatives to what the visitor looked at"),
	"/v2/recommendations/customer/history":               recDoc("what a customer bought (private key)", pCustomer, pEmail),
	"/v2/recommendations/customer/complementary":         recDoc("what a customer will buy next (private key)", pCustomer, pEmail),
	"/v2/recommendations/customer/substituting":          recDoc("alternatives to a customer's purchases (private key)", pCustomer, pEmail),
	"/v2/campaigns/customers":                            {summary: "audience: customers most likely to buy the products (private key)", params: []paramDoc{{"interest", "list", "product ids on offer"}, pLimit}},
	"/v2/stats/labels":                                   {summary: "impressions, clicks and attributed sales per label, busiest first, paged (private key)", params: []paramDoc{{"limit", "integer", "labels per page (default 100, at most 1000)"}, pOffset}},

	"/v2/log/product":     {summary: "a product view", params: []paramDoc{pVisitor, {"product", "string", "product id"}}},
	"/v2/log/click":       {summary: "a click on a recommendation", params: []paramDoc{pVisitor, {"product", "string", "product id"}, {"api", "string", "the logic clicked from"}, {"n", "integer", "position"}, pLabels}},
	"/v2/log/category":    {summary: "a category view", params: []paramDoc{pVisitor, pCategory}},
	"/v2/log/email":       {summary: "links a visitor to an email", params: []paramDoc{pVisitor, pEmail}},
	"/v2/log/sale":        {summary: "a sale", params: []paramDoc{pVisitor, {"sale", "string", "order id"}, {"products", "list", "ids or {id, quantity, price}"}, pCustomer, pEmail}},
	"/v2/log/cart/add":    {summary: "products put in the cart", params: []paramDoc{pVisitor, {"product", "string", "product id"}}},
	"/v2/log/cart/remove": {summary: "products taken out of the cart", params: []paramDoc{pVisitor, {"product", "string", "product id"}}},
	"/v2/log/cart/update": {summary: "the whole cart", params: []paramDoc{pVisitor, pProducts}},
	"/v2/log/basket/set":  {summary: "the whole cart", params: []paramDoc{pVisitor, pProducts}},
	"/v2/log/returned":    {summary: "returned products of a sale (private key)", params: []paramDoc{{"sale", "string", "order id"}, pProducts}},
}

// clusterDocs describe the /v2/cluster/<op> operations a clustered node
// serves (query/forward.go's handleCluster, outside the route table).
var clusterDocs = map[string]opDoc{
	"/v2/cluster/status": {summary: "nodes, health, shards, leaders, placement version and moves (admin token)"},
	"/v2/cluster/leave":  {summary: "drain this node: its replicas move away, then it leaves (admin token)"},
}

// openAPI builds the OpenAPI 3.1 document for the server's routes.
func (s *Server) openAPI() ([]byte, error) {
	paths := map[string]any{}
	names := make([]string, 0, len(s.routes))
	for name := range s.routes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rt := s.routes[name]
		doc := apiDocs[name]
		params := doc.params
		if doc.recs {
			params = append(append([]paramDoc{}, params...), commonRecParams...)
		}
		var ps []any
		for _, p := range params {
			schema := map[string]any{"type": p.typ}
			if p.typ == "list" {
				schema = map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
			}
			ps = append(ps, map[string]any{"name": p.name, "in": "query", "description": p.desc, "schema": schema})
		}
		op := map[string]any{"summary": doc.summary, "parameters": ps, "security": security(rt.access),
			"responses": map[string]any{"200": map[string]any{"description": "ok"}, "default": map[string]any{"description": "error: {\"status\":\"error\",\"type\":...,\"message\":...}"}}}
		item := map[string]any{"get": op}
		if rt.access != accessNone || strings.HasPrefix(name, "/v2/") {
			item["post"] = op // every endpoint takes a JSON body of the same names
		}
		paths[name] = item
	}
	for name, doc := range clusterDocs {
		op := map[string]any{"summary": doc.summary, "security": security(accessAdmin),
			"responses": map[string]any{"200": map[string]any{"description": "ok"}}}
		paths[name] = map[string]any{"get": op, "post": op}
	}
	return json.MarshalIndent(map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "Sibyl API (Clerk.io v2 compatible)", "version": "2"},
		"paths":   paths,
		"components": map[string]any{"securitySchemes": map[string]any{
			"publicKey":  map[string]any{"type": "apiKey", "in": "query", "name": "key"},
			"privateKey": map[string]any{"type": "apiKey", "in": "query", "name": "private_key"},
			"adminToken": map[string]any{"type": "http", "scheme": "bearer"},
		}},
	}, "", "  ")
}

func security(a access) []any {
	switch a {
	case accessPublic:
		return []any{map[string]any{"publicKey": []string{}}}
	case accessPrivate:
		return []any{map[string]any{"publicKey": []string{}, "privateKey": []string{}}}
	case accessAdmin:
		return []any{map[string]any{"adminToken": []string{}}}
	}
	return []any{}
}

func (s *Server) handleOpenAPI(r *request) error {
	b, err := s.openAPI()
	if err != nil {
		return errInternal("%v", err)
	}
	r.ctx.SetContentType("application/json")
	r.ctx.SetBody(b)
	return nil
}
