// Package source pulls a store's records from where the shop keeps them
// (a Clerk JSON feed, a CSV file, a platform's REST API) and hands them to
// an ingest.FeedSink in the canonical, validated format: every source ends
// in the same writes as an HTTP push.
//
// A Source knows how to read one shop; it does not know about Raft,
// schedules or mirror rules. The sync runner (node/) gives it a sink that
// proposes the records, remembers which ids a complete read saw, and
// decides what to delete afterwards (ingest/mirror).
package source

import (
	"context"
	"net/http"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// Source reads one shop into sink.
type Source interface {
	// Fetch reads the shop. since is zero for a complete read; otherwise
	// a source that supports it reads only records changed after since
	// (Result.Complete is then false, and nothing may be deleted on the
	// strength of what was not seen). A failed Fetch returns the error
	// and what it had delivered so far in Result.
	Fetch(ctx context.Context, since time.Time, sink ingest.FeedSink) (Result, error)
}

// Result summarises one Fetch.
type Result struct {
	// Complete is true when every record of every kind the source
	// offers was read (a full, not incremental, read that ended well).
	Complete bool
	// Kinds lists the kinds this source read completely: a mirror may
	// delete only kinds listed here (a feed without "pages" deletes no
	// page).
	Kinds []ingest.Kind
	// Records counts records delivered, per kind.
	Records map[ingest.Kind]int
	// Rejected counts records skipped as invalid, per kind.
	Rejected map[ingest.Kind]int
	// Errors holds the first MaxReportedErrors record problems.
	Errors []ingest.FeedError
	// Bytes is the number of body bytes read from the network, after
	// decompression.
	Bytes int64
	// Requests is the number of HTTP requests made, retries included.
	Requests int
	// Created is when the source says its data was made (a Clerk feed's
	// "created"); zero when it does not say.
	Created time.Time
}

// Doer sends one HTTP request. The sync runner passes a client that
// retries with backoff, obeys Retry-After and limits body sizes
// (ingest/source.NewClient); tests may pass http.DefaultClient.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}
