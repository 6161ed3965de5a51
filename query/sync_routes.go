package query

import (
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest/source"
)

// The Data Sync routes of the table in routes.go (query/sync.go serves
// them) and their shapes.

var (
	syncSourceRec = jsObject("where the store's data is read; secrets (token, password, consumer_secret, webhook_secret) are never shown back",
		field{"type", &Schema{Type: "string", Enum: source.Types}},
		field{"url", jsString("the feed or file (feed, csv), or the shop's base URL (platforms)")},
		field{"urls", jsMap(jsString(""), "feed_v2: one URL per resource (products, categories, customers, orders, pages)")},
		field{"token", jsString("bearer or access token")}, field{"token_header", jsString("header for the token; default Authorization")},
		field{"user", jsString("basic auth")}, field{"password", jsString("basic auth")},
		field{"consumer_key", jsString("WooCommerce")}, field{"consumer_secret", jsString("WooCommerce")},
		field{"strict", jsBool("stop at the first invalid record")}, field{"page_size", jsInt("")},
		field{"kind", jsString("csv: what each row is")}, field{"delimiter", jsString("csv: , ; | or tab")},
		field{"mapping", jsMap(jsString(""), "csv: canonical field to column header")},
		field{"category_separator", jsString("csv")}, field{"decimal_comma", jsBool("csv")}, field{"time_layout", jsString("csv")},
		field{"currency", jsString("platforms: the store's ISO 4217 code")},
		field{"rates", jsMap(jsNum(""), "platforms: currency -> rate into the store's currency, for orders in other currencies")},
		field{"store_url", jsString("platforms: the storefront's origin for record URLs")},
		field{"api_version", jsString("shopify: Admin API version such as 2024-01")},
		field{"allow_http", jsBool("woocommerce: allow an http:// shop (the key pair travels in clear text)")},
		field{"webhook_secret", jsString("shopify, woocommerce: verifies POST /v2/webhooks/<type>/<store>")})
	syncScheduleRec = jsOneOf("when the store syncs on its own",
		&Schema{Type: "string", Enum: []string{"when_needed", "manual"}},
		jsObject("a fixed interval, 5m to 168h", field{"every", jsString("a Go duration such as 2h")}),
		jsObject("allowed UTC start hours", field{"windows", jsArray(jsInt(""), "hours 0-23")}))
	syncRec = jsObject("a store's Data Sync configuration (secrets redacted)",
		field{"source", syncSourceRec}, field{"schedule", syncScheduleRec},
		field{"allow_mass_delete", jsBool("let one sync delete more than 30% of a kind")},
		field{"updated", &Schema{Type: "string", Format: "date-time"}})
	syncBody = jsObject("the configuration; PATCH names only what changes (source members merged, a secret sent back as REDACTED kept)",
		field{"key", jsString("")}, field{"private_key", jsString("")},
		field{"source", syncSourceRec}, field{"schedule", syncScheduleRec},
		field{"allow_mass_delete", jsBool("default false")})
	syncRunRec = jsObject("one sync run",
		field{"id", jsString("")},
		field{"state", &Schema{Type: "string", Enum: []string{engine.RunRunning, engine.RunSucceeded, engine.RunFailed, engine.RunRefused}}},
		field{"started", &Schema{Type: "string", Format: "date-time"}},
		field{"finished", &Schema{Type: "string", Format: "date-time", Description: "absent while running"}},
		field{"counts", jsMap(jsObject("", field{"created", jsInt("")}, field{"updated", jsInt("")},
			field{"deleted", jsInt("")}, field{"rejected", jsInt("")}), "per kind")},
		field{"bytes", jsInt("body bytes read")},
		field{"errors", jsArray(jsObject("", field{"kind", jsString("")}, field{"id", jsString("")},
			field{"field", jsString("")}, field{"message", jsString("")}), "the first 100 record errors")},
		field{"message", jsString("why it failed or was refused, or a summary")},
		field{"node", jsString("the node that ran it")})
	syncWritten = jsObject("replicated and applied", fStatus, field{"applied", jsInt("")}, field{"sync", syncRec})

	syncEndpoint = Endpoint{Path: "/v2/sync", Access: AccessPrivate, Tag: tagData, Summary: "the store's Data Sync: source and schedule",
		Ops: []Op{
			{Method: "GET", ID: "sync-get", Result: jsObject("", fStatus, field{"configured", jsBool("")}, field{"sync", syncRec})},
			{Method: "POST", ID: "sync-post", Summary: "create or replace the sync configuration", Writes: ShardWrite, Body: syncBody, Result: syncWritten},
			{Method: "PATCH", ID: "sync-patch", Summary: "change some fields of the sync configuration", Writes: ShardWrite, Body: syncBody, Result: syncWritten},
			{Method: "DELETE", ID: "sync-delete", Summary: "remove the sync configuration (runs are kept)", Writes: ShardWrite,
				Result: jsObject("", fStatus, field{"applied", jsInt("")})},
		},
		bind: handler((*Server).handleSync)}
	syncStartEndpoint = Endpoint{Path: "/v2/sync/start", Access: AccessPrivate, Tag: tagData, Summary: "start the store's sync now; answers at once with the run's id",
		Ops: []Op{{Method: "POST", ID: "sync-start", Writes: ShardWrite,
			Body:   jsObject("", field{"key", jsString("")}, field{"private_key", jsString("")}),
			Result: jsObject("", fStatus, field{"run", jsString("the run's id in /v2/sync/runs")})}},
		bind: handler((*Server).handleSyncStart)}
	syncStatusEndpoint = Endpoint{Path: "/v2/sync/status", Access: AccessPrivate, Tag: tagData, Summary: "whether the store syncs, the run in progress, the last run and the next",
		Ops: getPost("sync-status", "", NoWrite, jsObject("", fStatus, field{"configured", jsBool("")},
			field{"running", jsString("the id of the run in progress, null when none")}, field{"last_run", syncRunRec},
			field{"next_run", &Schema{Type: "string", Format: "date-time", Description: "null for a manual schedule"}},
			field{"schedule", syncScheduleRec})),
		bind: handler((*Server).handleSyncStatus)}
	syncRunsEndpoint = Endpoint{Path: "/v2/sync/runs", Access: AccessPrivate, Tag: tagData, Summary: "the store's last 50 sync runs, newest first",
		Ops:  getPost("sync-runs", "", NoWrite, jsObject("", fStatus, field{"runs", jsArray(syncRunRec, "")})),
		bind: handler((*Server).handleSyncRuns)}
)
