package query

import "github.com/sibylhq/sibyl/search"

// The merchandising routes of the table in routes.go: Clerk's
// operation ids and parameter names, and their record shapes.

var (
	phrases    = func(desc string) *Schema { return jsArray(jsString(""), desc) }
	pinHide    = jsObject("", field{"pin", jsArray(jsString(""), "first, in this order")}, field{"hide", jsArray(jsString(""), "never shown")})
	synonymRec = jsObject("a synonym rule, named by its query (folded: \"T-Shirt\" is \"t shirt\")",
		field{"query", jsString("")}, field{"synonyms", phrases("mean the same as the query, both ways")},
		field{"directed_synonyms", phrases("the query also finds these; not the other way")})
	redirectRec = jsObject("a redirect, named by its url",
		field{"url", jsString("")}, field{"queries", phrases("")},
		field{"exact_match", jsBool("true: the whole query is one of queries; false: the query holds one of them as words")})
	customRec = jsObject("a customized search, named by its query",
		field{"query", jsString("")}, field{"products", pinHide}, field{"categories", pinHide},
		field{"pages", pinHide}, field{"suggestions", pinHide})
	campaignRec = jsObject("a merchandising campaign",
		field{"id", jsString("minted by POST when absent")}, field{"name", jsString("")}, field{"description", jsString("")},
		field{"active", jsBool("default true")},
		field{"start_at", jsInt("unix seconds; absent or null: no start")}, field{"end_at", jsInt("unix seconds; absent or null: no end")},
		field{"rules", jsArray(jsObject("", field{"action", &Schema{Type: "string", Enum: []string{search.ActionPin, search.ActionHide}}},
			field{"products", jsArray(jsString(""), "")}), "")},
		field{"triggers", jsArray(jsObject("", field{"type", &Schema{Type: "string", Enum: []string{search.TriggerAllSearches, search.TriggerQueries}}},
			field{"queries", phrases("for searches_query")}), "")},
		field{"triggers_match", &Schema{Type: "string", Enum: []string{search.MatchAny, search.MatchAll}}})
	settingsRec = jsObject("the store's search settings",
		field{"language", jsString("a language name or ISO 639-1 code (english, da, ...); \"\" = no stemming")},
		field{"weights", jsObject("field weights, 0 to 100; 0 leaves the field out",
			field{"name", jsNum("")}, field{"keywords", jsNum("")}, field{"categories", jsNum("")},
			field{"brand", jsNum("")}, field{"description", jsNum("")})})
)

// merchEndpoint is one keyed merchandising kind at /v2/<path>: GET by
// names (all without), POST upsert, PATCH change fields, DELETE by names.
func merchEndpoint(path, name, idPrefix, what string, rec *Schema, postExtra []field, bind func(*Server) func(*request) error) Endpoint {
	names := param(name, "list", "the "+what+" to fetch by name; none: all")
	list := jsOneOf("records, in Clerk's object form or as a bare list",
		jsObject("", field{name, jsArray(rec, "")}, field{"key", jsString("")}, field{"private_key", jsString("")}), jsArray(rec, ""))
	written := jsObject("replicated and applied", append([]field{fStatus, {"applied", jsInt("records applied")}}, postExtra...)...)
	return Endpoint{Path: "/v2/" + path, Access: AccessPrivate, Tag: tagSearch, Summary: what + ": get, upsert, update, delete",
		Ops: []Op{
			{Method: "GET", ID: idPrefix + "-get", Params: []Param{names}, Result: jsObject("", fStatus, field{name, jsArray(rec, "")})},
			{Method: "POST", ID: idPrefix + "-post", Summary: "upsert " + what, Writes: ShardWrite, Body: list, Result: written},
			{Method: "PATCH", ID: idPrefix + "-patch", Summary: "change fields of existing " + what, Writes: ShardWrite, Body: list, Result: written},
			{Method: "DELETE", ID: idPrefix + "-delete", Summary: "delete " + what + " by name", Writes: ShardWrite,
				Params: []Param{param(name, "list", "the "+what+" to delete")}, Result: written},
		},
		bind: bind}
}

var (
	synonymsEndpoint = merchEndpoint("synonyms", "synonyms", "synonyms", "synonym rules", synonymRec, nil,
		func(s *Server) func(*request) error { return merchHandler(s, synonymsKind) })
	redirectsEndpoint = merchEndpoint("redirects", "redirects", "redirects", "redirects", redirectRec, nil,
		func(s *Server) func(*request) error { return merchHandler(s, redirectsKind) })
	customizedSearchEndpoint = merchEndpoint("customized_search", "rules", "customized-searches", "customized searches", customRec, nil,
		func(s *Server) func(*request) error { return merchHandler(s, customKind) })
	merchandisingEndpoint = merchEndpoint("merchandising", "campaigns", "merchandising", "merchandising campaigns", campaignRec,
		[]field{{"campaign_ids", jsArray(jsString(""), "the ids of the campaigns written (minted when absent)")}},
		func(s *Server) func(*request) error { return merchHandler(s, campaignsKind) })
	searchSettingsEndpoint = Endpoint{Path: "/v2/search/settings", Access: AccessPrivate, Tag: tagSearch,
		Summary: "the store's search language and field weights (Sibyl's own)",
		Ops: []Op{
			{Method: "GET", ID: "search-settings-get", Result: jsObject("", fStatus, field{"settings", settingsRec})},
			{Method: "POST", ID: "search-settings-post", Summary: "change the fields given", Writes: ShardWrite, Body: settingsRec,
				Result: jsObject("", fStatus, field{"applied", jsInt("")}, field{"settings", settingsRec})},
		},
		bind: handler((*Server).handleSearchSettings)}
)
