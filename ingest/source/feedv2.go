package source

// Clerk JSON feed v2 (help.clerk.io/integrations/any-webshop/data-feeds,
// "JSON Feed V2"): one URL per resource (products, categories, customers,
// orders, pages), each answering application/json or application/x-ndjson,
// with pagination and incremental updates through a "modified_after"
// query parameter; products, categories, customers and pages missing
// from a complete read are deleted, orders are kept.
//
// Clerk's page does not spell out the pagination or the JSON page shape,
// so these are Sibyl's choice, covering the common conventions:
//   - a JSON page is a list of records, or an object with the list under
//     the resource's name (orders also under "sales") and maybe a "next"
//     or "next_page" member (a URL, or a page number);
//   - an NDJSON page has one record per line;
//   - the next page is the Link header's rel="next", else the page's
//     next member; with PageSize set, Sibyl asks for page=1,2,...
//     (&limit=PageSize) until a page comes back empty;
//   - modified_after is unix seconds.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// FeedV2Config describes a Clerk feed v2.
type FeedV2Config struct {
	// URLs holds one URL per resource; a kind without a URL is not read
	// (and not mirrored).
	URLs map[ingest.Kind]string
	// Auth is sent with every request (pages of the same host only).
	Auth Auth
	// Feed tunes record handling: batch size, limits, strict mode,
	// reported errors.
	Feed ingest.FeedConfig
	// PageSize, when positive, asks for numbered pages of this size
	// (PageParam, LimitParam) until one is empty; 0 relies on next links.
	PageSize   int
	PageParam  string
	LimitParam string
	// SinceParam names the incremental query parameter.
	SinceParam string
	// MaxPages bounds the pages read per resource.
	MaxPages int
	// MaxRecords bounds the records read per resource.
	MaxRecords int
	// MaxLineBytes bounds one record: an NDJSON line (a longer one is a
	// record error) or a record of a JSON page (a longer one stops the
	// read: the stream cannot be resynchronised).
	MaxLineBytes int
}

// DefaultFeedV2Config returns next-link pagination, "page"/"limit" when
// PageSize is set, "modified_after", at most 10,000 pages and 10 million
// records per resource, lines up to 1 MiB.
func DefaultFeedV2Config() FeedV2Config {
	return FeedV2Config{
		URLs:         map[ingest.Kind]string{},
		Feed:         ingest.DefaultFeedConfig(),
		PageParam:    "page",
		LimitParam:   "limit",
		SinceParam:   "modified_after",
		MaxPages:     10_000,
		MaxRecords:   10_000_000,
		MaxLineBytes: 1 << 20,
	}
}

// Validate reports a configuration that cannot work.
func (c FeedV2Config) Validate() error {
	if len(c.URLs) == 0 {
		return fmt.Errorf("feed v2 needs at least one resource URL")
	}
	for kind, u := range c.URLs {
		if !knownKind(kind) {
			return fmt.Errorf("feed v2: unknown resource %s", ingest.Quote(string(kind)))
		}
		if err := checkURL(u); err != nil {
			return fmt.Errorf("feed v2 %s url: %w", kind, err)
		}
	}
	if err := c.Feed.Validate(); err != nil {
		return err
	}
	switch {
	case c.PageSize < 0 || c.PageSize > 100_000:
		return fmt.Errorf("page size must be between 0 and 100000, got %d", c.PageSize)
	case c.PageSize > 0 && (c.PageParam == "" || c.LimitParam == ""):
		return fmt.Errorf("page size %d needs page and limit parameter names", c.PageSize)
	case c.SinceParam == "":
		return fmt.Errorf("since parameter name must not be empty")
	case c.MaxPages < 1:
		return fmt.Errorf("max pages must be at least 1, got %d", c.MaxPages)
	case c.MaxRecords < 1:
		return fmt.Errorf("max records must be at least 1, got %d", c.MaxRecords)
	case c.MaxLineBytes < 64:
		return fmt.Errorf("max line bytes must be at least 64, got %d", c.MaxLineBytes)
	}
	return nil
}

func knownKind(kind ingest.Kind) bool {
	for _, k := range ingest.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// FeedV2Source reads a Clerk feed v2.
type FeedV2Source struct {
	Config FeedV2Config
	Doer   Doer
}

// Fetch reads every configured resource in ingest.Kinds order (catalog
// before orders). With since non-zero it asks only for records modified
// after since and the Result is not Complete.
func (s *FeedV2Source) Fetch(ctx context.Context, since time.Time, sink ingest.FeedSink) (res Result, err error) {
	f := &fetcher{doer: s.Doer, auth: s.Config.Auth}
	res = newResult()
	defer f.fill(&res) // res is named: the deferred fill reaches the caller
	if err = s.Config.Validate(); err != nil {
		return res, err
	}
	t := &tally{res: &res, cfg: s.Config.Feed}
	var kinds []ingest.Kind
	for _, kind := range ingest.Kinds {
		u, ok := s.Config.URLs[kind]
		if !ok {
			continue
		}
		switch kind {
		case ingest.KindProducts:
			err = readResource(ctx, s, f, u, since, newBatcher(t, sink.Products, s.Config.MaxRecords))
		case ingest.KindCategories:
			err = readResource(ctx, s, f, u, since, newBatcher(t, sink.Categories, s.Config.MaxRecords))
		case ingest.KindCustomers:
			err = readResource(ctx, s, f, u, since, newBatcher(t, sink.Customers, s.Config.MaxRecords))
		case ingest.KindOrders:
			err = readResource(ctx, s, f, u, since, newBatcher(t, sink.Orders, s.Config.MaxRecords))
		case ingest.KindPages:
			err = readResource(ctx, s, f, u, since, newBatcher(t, sink.Pages, s.Config.MaxRecords))
		}
		if err != nil {
			return res, fmt.Errorf("feed v2 %s: %w", kind, err)
		}
		kinds = append(kinds, kind)
	}
	if since.IsZero() {
		res.Complete = true
		res.Kinds = kinds
	}
	return res, nil
}

// readResource reads every page of one resource into b.
func readResource[T ingest.Record](ctx context.Context, s *FeedV2Source, f *fetcher, rawURL string, since time.Time, b *batcher[T]) error {
	cfg := s.Config
	first, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("bad url %s", RedactString(rawURL))
	}
	q := first.Query()
	if !since.IsZero() {
		q.Set(cfg.SinceParam, strconv.FormatInt(since.Unix(), 10))
	}
	pageNo := 1
	if cfg.PageSize > 0 {
		q.Set(cfg.PageParam, "1")
		q.Set(cfg.LimitParam, strconv.Itoa(cfg.PageSize))
	}
	first.RawQuery = q.Encode()
	cur := first
	visited := map[string]bool{}
	// linked is set once the server paginates with next links: then the
	// lack of one ends the resource (numbered pages would repeat the
	// last page).
	linked := false
	for pages := 0; ; pages++ {
		if pages >= cfg.MaxPages {
			return fmt.Errorf("more than %d pages", cfg.MaxPages)
		}
		if visited[cur.String()] {
			return fmt.Errorf("pagination loops back to %s", Redact(cur))
		}
		visited[cur.String()] = true
		page, link, err := readPage(ctx, f, cur.String(), b, cfg.MaxLineBytes)
		if err != nil {
			return err
		}
		next := link
		if next == "" {
			next = page.next
		}
		switch {
		case next != "":
			nu, err := cur.Parse(next)
			if err != nil || (nu.Scheme != "http" && nu.Scheme != "https") {
				return fmt.Errorf("bad next link %s", ingest.Quote(clip(next, 200)))
			}
			// The credentials go with every page: never to another host.
			if nu.Host != first.Host {
				return fmt.Errorf("next link leaves %s for %s", first.Host, ingest.Quote(clip(nu.Host, 100)))
			}
			cur, linked = nu, true
		case page.nextPage > 0 && cfg.PageParam != "":
			cur, linked = withParam(cur, cfg.PageParam, page.nextPage), true
		case cfg.PageSize > 0 && page.records > 0 && !linked:
			pageNo++
			cur = withParam(cur, cfg.PageParam, pageNo)
		default:
			return b.flush()
		}
	}
}

func withParam(u *url.URL, name string, v int) *url.URL {
	c := *u
	q := c.Query()
	q.Set(name, strconv.Itoa(v))
	c.RawQuery = q.Encode()
	return &c
}

// readPage fetches one page and reads it as JSON or NDJSON; link is the
// Link header's rel="next".
func readPage[T ingest.Record](ctx context.Context, f *fetcher, pageURL string, b *batcher[T], maxLine int) (jsonPage, string, error) {
	resp, err := f.get(ctx, pageURL, "application/x-ndjson, application/json;q=0.9")
	if err != nil {
		return jsonPage{}, "", err
	}
	defer resp.Body.Close()
	link := NextLink(resp.Header)
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	if isNDJSON(resp.Header.Get("Content-Type"), br, b.kind) {
		n, err := readNDJSON(br, b, maxLine)
		if err != nil {
			return jsonPage{}, "", pageErr(pageURL, err)
		}
		return jsonPage{records: n}, link, nil
	}
	page, err := readJSONPage(br, b, maxLine)
	if err != nil {
		return page, "", pageErr(pageURL, err)
	}
	return page, link, nil
}

func pageErr(pageURL string, err error) error {
	var fe *FetchError
	var tl *BodyTooLargeError
	if errors.As(err, &fe) || errors.As(err, &tl) { // already names the URL
		return err
	}
	return fmt.Errorf("%s: %w", RedactString(pageURL), err)
}

// isNDJSON chooses the format: by Content-Type when it names JSON or
// NDJSON, else by the first non-space byte ('[' is JSON) and, for '{',
// by whether the first line is a whole record rather than a page object.
func isNDJSON(contentType string, br *bufio.Reader, kind ingest.Kind) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		return true
	case "application/json":
		return false
	}
	peek, _ := br.Peek(br.Size())
	peek = bytes.TrimLeft(peek, " \t\r\n\ufeff")
	if len(peek) == 0 || peek[0] != '{' {
		return false
	}
	line := peek
	if i := bytes.IndexByte(peek, '\n'); i >= 0 {
		line = peek[:i]
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(line, &members) != nil {
		return false // a pretty-printed page object, or a line too long to tell
	}
	for _, key := range []string{string(kind), "sales", "next", "next_page"} {
		if _, ok := members[key]; ok {
			return false
		}
	}
	return true
}

// NextLink returns the target of a Link header's rel="next" (RFC 8288),
// "" when there is none: feed v2 pages and platform APIs (Shopify's
// page_info cursors) paginate with it.
func NextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			end := strings.IndexByte(part, '>')
			if !strings.HasPrefix(part, "<") || end < 0 {
				continue
			}
			for _, param := range strings.Split(part[end+1:], ";") {
				name, val, ok := strings.Cut(strings.TrimSpace(param), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return part[1:end]
					}
				}
			}
		}
	}
	return ""
}

// checkURL accepts an absolute http or https URL of bounded length.
func checkURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("missing url")
	}
	if len(raw) > maxURLBytes {
		return fmt.Errorf("url is %d bytes, at most %d", len(raw), maxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url %s does not parse", RedactString(raw))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url must be http or https, got %s", ingest.Quote(clip(u.Scheme, 20)))
	}
	if u.Host == "" {
		return fmt.Errorf("url %s has no host", Redact(u))
	}
	return nil
}

const maxURLBytes = 2048
