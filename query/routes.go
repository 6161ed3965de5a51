package query

import (
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// endpoints is the route table: every path a node serves, declared once,
// read top to bottom to find where a request goes. The router, request
// forwarding (Op.Writes), node's control calls (AccessCluster), the
// OpenAPI document (GET /v2/openapi.json) and the endpoint list in
// docs/api.md are made from it.
var endpoints = []Endpoint{
	// Operations.
	{Path: "/health", Access: AccessNone, Tag: tagOps, Summary: "liveness",
		Ops: get("health", healthResult), bind: handler((*Server).handleHealth)},
	{Path: "/ready", Access: AccessNone, Tag: tagOps, Summary: "readiness: every shard of this node has a leader",
		Ops: get("ready", okResult), bind: handler((*Server).handleReady)},
	{Path: "/metrics", Access: AccessNone, Tag: tagOps, Summary: "Prometheus metrics: request latency per endpoint, process and Go runtime",
		Ops: []Op{{Method: "GET", ID: "metrics", Result: textResult, ResultType: "text/plain"}}, bind: handler((*Server).handleMetrics)},
	{Path: "/v2/openapi.json", Access: AccessNone, Tag: tagOps, Summary: "this description (OpenAPI 3.1), made from the route table",
		Ops: get("openapi", &Schema{Type: "object"}), bind: handler((*Server).handleOpenAPI)},

	// Stores (admin token); writes go to the meta group's leader.
	{Path: "/v2/stores", Access: AccessAdmin, Tag: tagStores, Summary: "create a store; the answer holds its private key, once",
		Ops: []Op{{Method: "POST", ID: "stores-post", Writes: MetaWrite,
			Body: jsObject("", field{"name", jsString("the store's name")}),
			Result: jsObject("the new store", fStatus, field{"id", jsString("st_...")}, field{"name", jsString("")},
				field{"public_key", jsString("pk_...")}, field{"private_key", jsString("sk_...; shown only here")},
				field{"created_at", jsInt("unix seconds")})}},
		bind: handler((*Server).handleStores)},
	{Path: "/v2/stores/{id}/limits", Access: AccessAdmin, Tag: tagStores,
		Summary: "set ({\"rate\": R, \"burst\": B}) or clear ({\"clear\": true}) a store's public-key rate limit per node",
		Ops: []Op{{Method: "POST", ID: "store-limits-post", Writes: MetaWrite, Params: []Param{pStoreID},
			Body: jsObject("", field{"rate", jsNum("requests per second, 0 = unlimited")},
				field{"burst", jsInt("bucket size (default twice the rate)")}, field{"clear", jsBool("back to the node default")}),
			Result: jsObject("", fStatus, field{"id", jsString("")}, field{"limits", jsObject("the override; absent when cleared",
				field{"rate", jsNum("")}, field{"burst", jsInt("")})})}},
		bind: handler((*Server).handleStoreLimits)},
	{Path: "/v2/stores/{id}/rotate-keys", Access: AccessAdmin, Tag: tagStores,
		Summary: "new public and private keys; the old ones keep working for overlap (default 24h)",
		Ops: []Op{{Method: "POST", ID: "store-rotate-keys-post", Writes: MetaWrite, Params: []Param{pStoreID},
			Body: jsObject("", field{"overlap", jsString("how long the old keys keep working, e.g. 1h (at most 2160h); 0s ends them now")}),
			Result: jsObject("the new keys", fStatus, field{"id", jsString("")}, field{"name", jsString("")},
				field{"public_key", jsString("")}, field{"private_key", jsString("shown only here")},
				field{"old_keys_valid_until", jsString("RFC 3339 time")})}},
		bind: handler((*Server).handleRotateKeys)},

	// Go profiles for operators (admin token).
	pprofEndpoint("", "index of the profiles", pprof.Index),
	pprofEndpoint("cmdline", "the command line", pprof.Cmdline),
	pprofEndpoint("profile", "CPU profile (seconds, default 30)", pprof.Profile, param("seconds", "integer", "how long to profile")),
	pprofEndpoint("symbol", "symbols of program counters", pprof.Symbol),
	pprofEndpoint("trace", "execution trace (seconds, default 1)", pprof.Trace, param("seconds", "integer", "how long to trace")),
	pprofEndpoint("allocs", "sampled past allocations", pprof.Handler("allocs").ServeHTTP, pGC),
	pprofEndpoint("block", "stack traces that blocked", pprof.Handler("block").ServeHTTP),
	pprofEndpoint("goroutine", "stack traces of every goroutine", pprof.Handler("goroutine").ServeHTTP, pProfDebug),
	pprofEndpoint("heap", "sampled live allocations", pprof.Handler("heap").ServeHTTP, pGC),
	pprofEndpoint("mutex", "holders of contended mutexes", pprof.Handler("mutex").ServeHTTP),
	pprofEndpoint("threadcreate", "stack traces that made OS threads", pprof.Handler("threadcreate").ServeHTTP),

	// Cluster (admin token); a single node answers 404.
	{Path: "/v2/cluster/status", Access: AccessAdmin, Tag: tagCluster,
		Summary: "nodes, health, shards, leaders, placement version and moves",
		Ops: get("cluster-status", jsObject("the cluster as this node sees it", field{"node", jsString("the answering node")},
			field{"meta_leader", jsString("")}, field{"placement_version", jsInt("")},
			field{"nodes", jsArray(&Schema{Type: "object"}, "id, state, http, raft, draining, replicas, leads")},
			field{"shards", jsArray(&Schema{Type: "object"}, "shard, replicas, leader")},
			field{"moves", jsObject("the controller's plan in progress")})),
		bind: clusterOp("status")},
	{Path: "/v2/cluster/leave", Access: AccessAdmin, Tag: tagCluster,
		Summary: "drain this node: its replicas move away (poll status until it holds none), then it can leave",
		Ops:     []Op{{Method: "POST", ID: "cluster-leave", Result: jsObject("", fStatus, field{"node", jsString("")}, field{"draining", jsBool("")})}},
		bind:    clusterOp("leave")},

	// Data (private key): GET by ids or paged, POST/PUT upsert, PATCH
	// partial update, DELETE by ids.
	dataEndpoint(ingest.KindProducts, "products", "categories-get-1", "categories-get-1-1"),
	dataEndpoint(ingest.KindCategories, "categories", "", ""),
	dataEndpoint(ingest.KindCustomers, "customers", "", ""),
	dataEndpoint(ingest.KindOrders, "orders", "", ""),
	dataEndpoint(ingest.KindPages, "content pages", "", ""),
	// Clerk's legacy product endpoints.
	{Path: "/v2/product/add", Access: AccessPrivate, Tag: tagData, Summary: "legacy: upsert products (a JSON body: a list or {\"products\": [...]})",
		Ops:  getPost("product-add", "", ShardWrite, writeResult, pProducts),
		bind: handler((*Server).handleLegacyProductAdd)},
	{Path: "/v2/product/remove", Access: AccessPrivate, Tag: tagData, Summary: "legacy: delete products",
		Ops:  getPost("product-remove", "", ShardWrite, writeResult, pProducts.req()),
		bind: handler((*Server).handleLegacyProductRemove)},
	{Path: "/v2/product/attributes", Access: AccessPublic, Tag: tagData, Summary: "attributes of products",
		Ops: getPost("product-attributes", "", NoWrite, jsObject("", fStatus, fCount,
			field{"result", jsArray(&Schema{Type: "object"}, "one object per recommendable product")}),
			pProducts.req(), param("attributes", "list", "fields to return (default all)"), pCallback),
		bind: handler((*Server).handleProductAttributes)},
	{Path: "/v2/product/facets", Access: AccessPublic, Tag: tagData, Summary: "facet counts over the catalog, or over the products given",
		Ops: getPost("product-facets", "", NoWrite, jsObject("", fStatus, fCount,
			field{"facets", jsMap(&Schema{Type: "object"}, "value counts per facet")}),
			pFacets.req(), pFilter, pProducts, pCallback),
		bind: handler((*Server).handleProductFacets)},

	// Recommendations (public key).
	recsEndpoint("popular", "recommendations-popular", "best sellers, time-decayed", logicPopular),
	recsEndpoint("trending", "recommendations-trending", "fastest-growing sales", logicTrending),
	recsEndpoint("new", "recommendationsnew", "newest products", logicNew),
	recsEndpoint("recently_bought", "recommendationsrecently_bought", "products of the latest sales", logicRecentlyBought),
	recsEndpoint("most_sold_with", "recommendationsmost_sold_with", "raw co-purchase counts", logicMostSoldWith, pProducts.req()),
	searchEndpoint("search", "search-search", "products matching a query: typo-tolerant, every word or else any, ranked by text then by what the store's customers want", false),
	searchEndpoint("predictive", "search-predictive", "as-you-type: the last word is a prefix; limit at most 10", true),
	// Search merchandising (private key), replicated like data writes
	// (query/merch_routes.go).
	synonymsEndpoint, redirectsEndpoint, customizedSearchEndpoint, merchandisingEndpoint, searchSettingsEndpoint,
	// Data Sync (private key), replicated like merchandising (query/sync_routes.go).
	syncEndpoint, syncStartEndpoint, syncStatusEndpoint, syncRunsEndpoint,
	shopifyWebhookEndpoint, wooWebhookEndpoint, // platform webhooks, signed (query/webhook_routes.go)
	{Path: "/v2/search/popular", Access: AccessPublic, Tag: tagSearch, Summary: "the most made searches of the last two days (that found products)",
		Ops: getPost("search-popular", "", NoWrite, stringsResult, pSearchListLimit, pCallback), bind: handler((*Server).handlePopularSearches)},
	{Path: "/v2/search/suggestions", Access: AccessPublic, Tag: tagSearch, Summary: "completions of the typed text: searches shoppers clicked from, then the catalog's phrases",
		Ops: getPost("search-suggestions", "", NoWrite, stringsResult, pQuery.req(), pSearchListLimit, pCallback), bind: handler((*Server).handleSuggestions)},
	{Path: "/v2/search/categories", Access: AccessPublic, Tag: tagSearch, Summary: "categories whose name matches the query (typo-tolerant, as you type); empty: the fullest",
		Ops: getPost("search-categories", "", NoWrite, categoriesResult, pQuery, pSearchListLimit, pCallback), bind: handler((*Server).handleCategorySearch)},
	{Path: "/v2/search/pages", Access: AccessPublic, Tag: tagSearch, Summary: "content pages whose title or text matches the query, optionally of one type",
		Ops:  getPost("search-pages", "", NoWrite, pagesResult, pQuery.req(), pSearchListLimit, param("type", "string", "only pages of this type"), pCallback),
		bind: handler((*Server).handlePageSearch)},
	recsEndpoint("complementary", "recommendations-complementary", "what goes with these products", logicComplementary, pProducts.req()),
	recsEndpoint("bundle", "recommendations-bundle", "as complementary", logicComplementary, pProducts.req()),
	recsEndpoint("substituting", "recommendations-substituting", "alternatives to these products", logicSubstituting, pProducts.req()),
	recsEndpoint("currently_watched", "recommendationscurrently_watched", "products visitors are viewing now", logicCurrentlyWatched),
	recsEndpoint("keywords", "recommendations-keywords", "products for a piece of text", logicKeywords, param("keywords", "string", "the text").req()),
	recsEndpoint("page/product", "recommendationspageproduct", "products for a content page", logicPageProduct, pPage.req()),
	recsEndpoint("page/related_products", "recommendationspagerelated_products", "as page/product", logicPageProduct, pPage.req()),
	idsEndpoint("page/category", "recommendationspagecategory", "categories for a content page", pageCategories),
	idsEndpoint("page/related_categories", "recommendationspagerelated_categories", "as page/category", pageCategories),
	idsEndpoint("page/substituting", "recommendationspagesubstituting", "pages like a page", pageSubstituting),
	recsEndpoint("category/popular", "recommendations-category-popular", "popular in a category", logicCategoryPopular, pCategory.req()),
	recsEndpoint("category/trending", "recommendationscategorytrending", "trending in a category", logicCategoryTrending, pCategory.req()),
	recsEndpoint("category/new", "recommendationscategorynew", "newest in a category", logicCategoryNew, pCategory.req()),
	recsEndpoint("category/popular_subcategories", "recommendationscategorypopular_subcategories", "popular in a category and its subcategories", logicCategoryPopularSubcat, pCategory.req()),
	recsEndpoint("visitor/history", "recommendations-visitor-history", "the visitor's recent products", logicVisitorHistory),
	recsEndpoint("visitor/complementary", "recommendations-visitor-complementary", "for the visitor's session, in real time", logicVisitorComplementary),
	recsEndpoint("visitor/substituting", "recommendations-visitor-substituting", "alternatives to what the visitor looked at", logicVisitorSubstituting),
	// Customer data needs the private key.
	privateRecs(recsEndpoint("customer/history", "recommendations-customer-history", "what a customer bought", logicCustomerHistory, pCustomer, pEmail)),
	privateRecs(recsEndpoint("customer/complementary", "recommendations-customer-complementary", "what a customer will buy next", logicCustomerComplementary, pCustomer, pEmail)),
	privateRecs(recsEndpoint("customer/substituting", "recommendations-customer-substituting", "alternatives to a customer's purchases", logicCustomerSubstituting, pCustomer, pEmail)),
	// Audiences: which customers should get an offer on these products.
	{Path: "/v2/campaigns/customers", Access: AccessPrivate, Tag: tagRecs, Summary: "audience: the customers most likely to buy the products, best first",
		Ops: getPost("campaigns-customers", "", NoWrite, jsObject("", fStatus, fCount, field{"result", jsArray(&Schema{Type: "string"}, "customer ids")}),
			param("interest", "list", "product ids on offer").req(), param("limit", "integer", "customers to return (default 100)")),
		bind: handler((*Server).handleAudience)},
	// Attribution of recommendation labels.
	{Path: "/v2/stats/labels", Access: AccessPrivate, Tag: tagStats, Summary: "impressions, clicks and attributed sales per label, busiest first, paged",
		Ops: getPost("stats-labels", "", NoWrite, jsObject("", fStatus,
			field{"labels", jsMap(&Schema{Type: "object"}, "label -> impressions, clicks, sales (this page)")},
			field{"order", jsArray(&Schema{Type: "string"}, "the page's labels in rank order")},
			field{"total", jsInt("labels counted")}, field{"offset", jsInt("")}, field{"limit", jsInt("")},
			field{"other", jsObject("counts of labels displaced from the bounded tables")}),
			param("limit", "integer", "labels per page (default 100, at most 1000)"), pOffset),
		bind: handler((*Server).handleLabelStats)},
	{Path: "/v2/stats/searches", Access: AccessPrivate, Tag: tagStats, Summary: "the most made searches with hits, clicks and click-through, and queries with no results, paged",
		Ops: getPost("stats-searches", "", NoWrite, searchStatsResult,
			param("limit", "integer", "queries per page (default 100, at most 1000)"), pOffset),
		bind: handler((*Server).handleSearchStats)},
	healthDataEndpoint, dashboardEndpoint, // data health (private key; query/health_routes.go)

	// Tracking (public key; returns need the private key): events go
	// through Raft and change visitor/* answers on the next request.
	trackEndpoint("product", "logproduct", "", "a product view", engine.EventProduct, pVisitor.req(), pProduct.req()),
	trackEndpoint("click", "log-click", "", "a click on a recommendation", engine.EventClick, pVisitor.req(), pProduct.req(),
		param("api", "string", "the logic clicked from"), param("n", "integer", "position"), pLabels),
	trackEndpoint("category", "logcategory", "", "a category view", engine.EventCategory, pVisitor.req(), pCategory.req()),
	trackEndpoint("email", "log-email", "", "links a visitor to an email", engine.EventEmail, pVisitor.req(), pEmail.req()),
	trackEndpoint("sale", "log-sale", "logsale-copy", "a sale", engine.EventSale, pSale.req(), pVisitor,
		param("products", "list", "ids, or (in a JSON body) lines {id, quantity, price}"), pCustomer, pEmail),
	trackEndpoint("cart/add", "logcartadd", "", "products put in the cart", engine.EventCartAdd, pVisitor.req(), pProduct.req()),
	trackEndpoint("cart/remove", "logcartremove", "", "products taken out of the cart", engine.EventCartRemove, pVisitor.req(), pProduct.req()),
	trackEndpoint("cart/update", "logcartupdate", "", "the whole cart", engine.EventBasketSet, pVisitor.req(), pProducts),
	trackEndpoint("basket/set", "logbasketset", "", "the whole cart (as cart/update)", engine.EventBasketSet, pVisitor.req(), pProducts),
	privateTrack(trackEndpoint("returned", "logreturned", "", "returned products of a sale", engine.EventReturned, pSale.req(), pProducts)),
	{Path: searchLogPath, Access: AccessPublic, Tag: tagTrack, Summary: "cluster nodes only (with a proof keyed by the cluster key): a search answered with labels by a node that is not the shard's leader",
		Ops: []Op{{Method: "POST", ID: "log-search", Writes: ShardWrite, Result: trackResult, Params: []Param{pQuery.req(),
			param("api", "string", "search/search or search/predictive").req(), param("hits", "integer", "products the search found"), pVisitor,
			param("ts", "integer", "unix milliseconds of the proof").req(), param("sig", "string", "the node's proof").req()}}},
		bind: handler((*Server).handleSearchLog)},

	// Cluster-internal control calls: POST /ctl/<op> over the Raft port's
	// "ctl" stream layer, between nodes holding certificates of the
	// cluster CA (node/ops.go serves and makes them).
	ctlEndpoint("status", "a shard group's configuration as its leader sees it", NoWrite),
	ctlEndpoint("add", "add a node to a shard group as a non-voter (on the leader)", ShardWrite, pCtlNode.req()),
	ctlEndpoint("promote", "make a caught-up non-voter a voter (on the leader)", ShardWrite, pCtlNode.req()),
	ctlEndpoint("transfer", "hand the group's leadership to a node", ShardWrite, pCtlNode.req(), param("from", "string", "the current leader")),
	ctlEndpoint("remove", "remove a node from a shard group (on the leader)", ShardWrite, pCtlNode.req()),
	ctlEndpoint("applied", "this replica's last applied Raft index", NoWrite),
	ctlEndpoint("local", "this node's shards, leaderships and plan", NoWrite),
}

const (
	tagOps     = "operations"
	tagStores  = "stores"
	tagDebug   = "debug"
	tagCluster = "cluster"
	tagData    = "data"
	tagRecs    = "recommendations"
	tagSearch  = "search"
	tagStats   = "statistics"
	tagTrack   = "tracking"
	tagCtl     = "cluster-internal"
)

// handler binds a handler method.
func handler(f func(*Server, *request) error) func(*Server) func(*request) error {
	return func(s *Server) func(*request) error { return func(r *request) error { return f(s, r) } }
}

// get is an endpoint with one method, GET, and no parameters.
func get(id string, result *Schema) []Op {
	return []Op{{Method: "GET", ID: id, Result: result}}
}

// getPost is Sibyl's convention for Clerk's endpoints: GET with query
// parameters, or POST with a JSON body of the same names (query arguments
// fill in names the body lacks, so keys may stay in the URL). postID ""
// is id + "-post" (Clerk declares most of them GET only).
func getPost(id, postID string, w Writes, result *Schema, params ...Param) []Op {
	if postID == "" {
		postID = id + "-post"
	}
	body := jsObject("the parameters, as JSON")
	for _, p := range params {
		s := *p.Schema
		s.Description = p.Desc
		body.Properties[p.Name] = &s
		if p.Required {
			body.Required = append(body.Required, p.Name)
		}
	}
	return []Op{
		{Method: "GET", ID: id, Writes: w, Params: params, Result: result},
		{Method: "POST", ID: postID, Writes: w, Body: body, Result: result},
	}
}

func recsEndpoint(name, id, summary string, l logic, own ...Param) Endpoint {
	return Endpoint{Path: "/v2/recommendations/" + name, Access: AccessPublic, Tag: tagRecs, Summary: summary,
		Ops:  getPost(id, "", NoWrite, recsResult, logicParams(own...)...),
		bind: func(s *Server) func(*request) error { return s.recs(l) }}
}

// searchEndpoint is a search call at /v2/search/<name>: a product list
// with a recommendation logic's parameters (query/search.go), whose
// answer also has the query, hits and no_exact_match.
func searchEndpoint(name, id, summary string, predictive bool) Endpoint {
	e := recsEndpoint(name, id, summary, logic{}, pQuery.req(),
		param("longtail", "boolean", "match any word of the query, ranked by how many match (default: every word, else any)"),
		param("language", "string", "cut the query in this language (a name or ISO 639-1 code); default: the store's search language"))
	e.Path, e.Tag = "/v2/search/"+name, tagSearch
	for i := range e.Ops {
		e.Ops[i].Result = searchResult
	}
	path := "search/" + name
	e.bind = func(s *Server) func(*request) error { return s.search(path, predictive) }
	return e
}

// privateRecs marks a logic over customer data: it needs the private key.
func privateRecs(e Endpoint) Endpoint {
	e.Access = AccessPrivate
	for i := range e.Ops {
		if e.Ops[i].Params != nil {
			e.Ops[i].Params = slicesWithout(e.Ops[i].Params, "callback")
		}
		if b := e.Ops[i].Body; b != nil {
			e.Ops[i].Body = jsObject(b.Description)
			for k, v := range b.Properties {
				if k != "callback" {
					e.Ops[i].Body.Properties[k] = v
				}
			}
		}
	}
	return e
}

func slicesWithout(ps []Param, name string) []Param {
	out := make([]Param, 0, len(ps))
	for _, p := range ps {
		if p.Name != name {
			out = append(out, p)
		}
	}
	return out
}

// idsEndpoint is a page logic whose results are ids of categories or
// pages: limit and offset apply, product filters do not.
func idsEndpoint(name, id, summary string, run func(*request, StoreReader) ([]ingest.ID, error)) Endpoint {
	return Endpoint{Path: "/v2/recommendations/" + name, Access: AccessPublic, Tag: tagRecs, Summary: summary,
		Ops:  getPost(id, "", NoWrite, idsResult, pPage.req(), pLimit, pOffset, pCallback),
		bind: func(s *Server) func(*request) error { return s.idList(name, run) }}
}

func trackEndpoint(name, id, postID, summary, kind string, params ...Param) Endpoint {
	return Endpoint{Path: "/v2/log/" + name, Access: AccessPublic, Tag: tagTrack, Summary: summary,
		Ops:  getPost(id, postID, ShardWrite, trackResult, append(params, pCallback)...),
		bind: func(s *Server) func(*request) error { return s.track(kind) }}
}

func privateTrack(e Endpoint) Endpoint {
	e = privateRecs(e)
	e.Tag = tagTrack
	return e
}

// dataEndpoint is /v2/<kind>. Clerk's operation ids are <kind>-<method>
// but for two of products' (getID, deleteID); PUT is Sibyl's.
func dataEndpoint(kind ingest.Kind, what, getID, deleteID string) Endpoint {
	k := string(kind)
	if getID == "" {
		getID = k + "-get"
	}
	if deleteID == "" {
		deleteID = k + "-delete"
	}
	rec := jsRef(kindRecord[k])
	ids := param(k, "list", "ids of the "+k+" to fetch; none: a page of them all")
	records := jsOneOf("a list of records, or Clerk's object form", jsArray(rec, ""),
		jsObject("", field{k, jsArray(rec, "")}, field{"key", jsString("")}, field{"private_key", jsString("")}))
	patches := jsOneOf("partial records: id and the fields to change", jsArray(&Schema{Type: "object"}, ""),
		jsObject("", field{k, jsArray(&Schema{Type: "object"}, "")}))
	idList := jsOneOf("the ids to delete (or give them as the "+k+" parameter)", jsArray(jsID(""), ""),
		jsObject("", field{k, jsArray(jsID(""), "")}))
	return Endpoint{Path: "/v2/" + k, Access: AccessPrivate, Tag: tagData, Summary: what + ": get, upsert, update, delete",
		Ops: []Op{
			{Method: "GET", ID: getID, Summary: what + " by id, or paged", Params: []Param{ids,
				param("limit", "integer", "records per page (default 100, at most 10000)"), pOffset},
				Result: jsObject("", fStatus, fCount, field{"result", jsArray(rec, "")}, field{"total", jsInt("records in the store (paged reads)")})},
			{Method: "POST", ID: k + "-post", Summary: "upsert " + what, Writes: ShardWrite, Body: records, Result: writeResult},
			{Method: "PUT", ID: k + "-put", Summary: "upsert " + what + " (as POST)", Writes: ShardWrite, Body: records, Result: writeResult},
			{Method: "PATCH", ID: k + "-patch", Summary: "change fields of existing " + what, Writes: ShardWrite, Body: patches, Result: writeResult},
			{Method: "DELETE", ID: deleteID, Summary: "delete " + what + " by id", Writes: ShardWrite,
				Params: []Param{param(k, "list", "ids of the "+k+" to delete")}, Body: idList, Result: writeResult},
		},
		bind: func(s *Server) func(*request) error { return s.dataHandler(kind) }}
}

var (
	pGC        = param("gc", "integer", "1: run a garbage collection first")
	pProfDebug = param("debug", "integer", "1 or 2: text instead of the binary profile")
)

// pprofEndpoint is /debug/pprof/<name> ("": the index), served by
// net/http/pprof.
func pprofEndpoint(name, summary string, h http.HandlerFunc, params ...Param) Endpoint {
	path := strings.TrimSuffix("/debug/pprof/"+name, "/")
	id := "pprof-" + name
	if name == "" {
		id = "pprof-index"
	}
	result, typ := binaryResult, "application/octet-stream"
	if name == "" || name == "cmdline" || name == "symbol" {
		result, typ = textResult, "text/plain"
	}
	ops := []Op{{Method: "GET", ID: id, Params: params, Result: result, ResultType: typ}}
	if name == "symbol" {
		ops = append(ops, Op{Method: "POST", ID: id + "-post", Body: jsString("program counters, +-separated"), Result: result, ResultType: typ})
	}
	fh := fasthttpadaptor.NewFastHTTPHandlerFunc(h)
	return Endpoint{Path: path, Access: AccessAdmin, Tag: tagDebug, Summary: summary, Ops: ops,
		bind: func(*Server) func(*request) error { return func(r *request) error { fh(r.ctx); return nil } }}
}

// clusterOp binds /v2/cluster/<op> to the Backend's ClusterAPI.
func clusterOp(op string) func(*Server) func(*request) error {
	return func(s *Server) func(*request) error { return func(r *request) error { return s.handleCluster(r, op) } }
}

var pCtlNode = param("node", "string", "the node the operation is about")

func ctlEndpoint(op, summary string, w Writes, params ...Param) Endpoint {
	params = append([]Param{param("shard", "integer", "the shard").req(),
		param("hops", "integer", "how often the call may still be passed on toward the leader").req()}, params...)
	return Endpoint{Path: "/ctl/" + op, Access: AccessCluster, Tag: tagCtl, Summary: summary,
		Ops: []Op{{Method: "POST", ID: "ctl-" + op, Writes: w, Params: params,
			Result: jsObject("", field{"status", jsObject("the shard's configuration")}, field{"applied", jsInt("")},
				field{"info", jsObject("the node's local information")}, field{"error", jsString("")},
				field{"not_leader", jsBool("")}, field{"no_quorum", jsBool("")})}}}
}
