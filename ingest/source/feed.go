package source

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// FeedSource reads a Clerk JSON feed v1: one document holding every kind
// (docs.clerk.io/docs/data-feed; help.clerk.io "Data Feeds", "a single
// file containing all objects"), streamed into ingest.ReadFeed, which
// also reads the legacy "sales" list as orders and the feed's "created"
// and "strict" (top level or in "config").
type FeedSource struct {
	// URL is the feed's address.
	URL string
	// Auth is sent with the request.
	Auth Auth
	// Feed tunes the reader: batch size, limits, strict mode (also
	// switched on by the feed itself), reported errors.
	Feed ingest.FeedConfig
	// Doer sends the request.
	Doer Doer
}

// Fetch reads the whole feed; since is ignored (a v1 feed is always
// complete). Result.Created is the feed's "created".
func (s *FeedSource) Fetch(ctx context.Context, since time.Time, sink ingest.FeedSink) (res Result, err error) {
	f := &fetcher{doer: s.Doer, auth: s.Auth}
	res = newResult()
	defer f.fill(&res) // res is named: the deferred fill reaches the caller
	resp, err := f.get(ctx, s.URL, "application/json")
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	st, err := ingest.ReadFeed(resp.Body, sink, orDefault(s.Feed))
	res.Records, res.Rejected, res.Errors = st.Records, st.Rejected, st.Errors
	if st.Created > 0 {
		res.Created = time.Unix(st.Created, 0).UTC()
	}
	if err != nil {
		return res, fmt.Errorf("feed %s: %w", RedactString(s.URL), err)
	}
	res.Complete = true
	res.Kinds = slices.Clone(st.Kinds)
	return res, nil
}

// orDefault returns cfg, or ingest.DefaultFeedConfig when cfg is unset.
func orDefault(cfg ingest.FeedConfig) ingest.FeedConfig {
	if cfg.BatchSize == 0 && cfg.Limits.MaxRecords == 0 {
		return ingest.DefaultFeedConfig()
	}
	return cfg
}
