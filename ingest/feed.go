package ingest

// Clerk JSON feed (v1, one file):
//
//	{"categories":[...],"products":[...],"customers":[...],"orders":[...],"pages":[...],
//	 "created": 1500000000, "strict": false}
//
// Clerk's specification (docs.clerk.io/docs/data-feed) names the orders
// list "sales" and puts "created" (unix time the feed was generated) and
// "strict" at the top level; later feeds say "orders" and some generators
// group the two settings in a "config" object. ReadFeed reads all of these:
// "sales" is the orders list, and "created"/"strict" count wherever they
// appear (FeedStats.Created, FeedStats.Strict).
//
// A feed that says "strict": true asks for all or nothing: the first
// invalid record after the flag stops the import, and one skipped before
// the flag was read (the flag may come last) fails the import at the end.
//
// ReadFeed streams it with json.Decoder tokens: one record is in memory at a
// time besides the current batch, so feeds far larger than memory work.
// Keys may come in any order and any may be missing; unknown keys are
// skipped. A kind's pending batch is delivered when its list ends, so the
// sink sees the kinds in file order. Feeds should list categories and
// products before orders so that the catalog is in place when orders
// arrive, but orders naming products not (yet) known are accepted.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// FeedSink receives validated records in batches of at most
// FeedConfig.BatchSize. The sink owns each slice it is given.
type FeedSink interface {
	Categories([]Category) error
	Products([]Product) error
	Customers([]Customer) error
	Orders([]Order) error
	Pages([]Page) error
}

// FeedConfig tunes ReadFeed.
type FeedConfig struct {
	// BatchSize is the most records of one kind per sink call.
	BatchSize int
	// Limits are applied to every record (Validate); MaxRecords must be
	// at least BatchSize, MaxBodyBytes is not used.
	Limits Limits
	// Strict stops the import at the first invalid record instead of
	// skipping it.
	Strict bool
	// MaxReportedErrors caps FeedStats.Errors; later ones are still
	// counted in Rejected.
	MaxReportedErrors int
}

// DefaultFeedConfig returns batches of 1,000 with DefaultLimits, skipping
// invalid records.
func DefaultFeedConfig() FeedConfig {
	return FeedConfig{BatchSize: 1000, Limits: DefaultLimits(), MaxReportedErrors: 100}
}

// Validate reports a configuration that cannot work.
func (c FeedConfig) Validate() error {
	if c.BatchSize < 1 {
		return fmt.Errorf("batch size must be at least 1, got %d", c.BatchSize)
	}
	if err := c.Limits.Validate(); err != nil {
		return err
	}
	if c.Limits.MaxRecords < c.BatchSize {
		return fmt.Errorf("batch size %d exceeds the record limit %d", c.BatchSize, c.Limits.MaxRecords)
	}
	if c.MaxReportedErrors < 0 {
		return fmt.Errorf("max reported errors must not be negative, got %d", c.MaxReportedErrors)
	}
	return nil
}

// FeedError is an invalid record of a feed. RecordError.Index is the
// record's position in its kind's list.
type FeedError struct {
	Kind Kind
	RecordError
}

func (e FeedError) Error() string { return fmt.Sprintf("%s %v", e.Kind, e.RecordError) }

// FeedStats summarises one feed import.
type FeedStats struct {
	// Records counts records delivered to the sink, per kind.
	Records map[Kind]int
	// Rejected counts records skipped as invalid, per kind.
	Rejected map[Kind]int
	// Batches counts sink calls, per kind.
	Batches map[Kind]int
	// Unknown lists top-level keys that were skipped.
	Unknown []string
	// Errors holds the first MaxReportedErrors problems.
	Errors []FeedError
	// Kinds lists, in file order, the kinds whose list the feed holds
	// (an empty list counts, null does not): a mirror may delete only
	// records of these kinds.
	Kinds []Kind
	// Created is the feed's "created" (unix seconds when the shop made
	// the feed), 0 when absent.
	Created int64
	// Strict is true when the feed asked for strict mode.
	Strict bool
}

// ErrInvalidFeed is wrapped by every error that stops ReadFeed because the
// input is not a feed (malformed JSON, wrong shape) or, in Strict mode,
// holds an invalid record.
var ErrInvalidFeed = errors.New("invalid feed")

// ReadFeed streams a Clerk JSON feed from r into sink.
func ReadFeed(r io.Reader, sink FeedSink, cfg FeedConfig) (FeedStats, error) {
	if err := cfg.Validate(); err != nil {
		return FeedStats{}, fmt.Errorf("invalid feed config: %w", err)
	}
	fr := &feedReader{
		cfg:  cfg,
		sink: sink,
		dec:  json.NewDecoder(r),
		stats: FeedStats{
			Records:  map[Kind]int{},
			Rejected: map[Kind]int{},
			Batches:  map[Kind]int{},
		},
	}
	// Validation must find every bad record so that each can be dropped.
	fr.cfg.Limits.MaxErrors = math.MaxInt
	err := fr.run()
	return fr.stats, err
}

type feedReader struct {
	cfg   FeedConfig
	sink  FeedSink
	dec   *json.Decoder
	stats FeedStats
	// seen counts records read so far per kind, to number them across
	// repeated keys.
	seen map[Kind]int
}

func (fr *feedReader) syntax(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: near byte %d: %v", ErrInvalidFeed, se.Offset, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: unexpected end of input at byte %d", ErrInvalidFeed, fr.dec.InputOffset())
	}
	return fmt.Errorf("cannot read feed: %w", err)
}

func (fr *feedReader) run() error {
	fr.seen = map[Kind]int{}
	tok, err := fr.dec.Token()
	if err != nil {
		return fr.syntax(err)
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%w: want an object of record lists, got %s", ErrInvalidFeed, describeToken(tok))
	}
	for fr.dec.More() {
		keyTok, err := fr.dec.Token()
		if err != nil {
			return fr.syntax(err)
		}
		key := keyTok.(string)
		switch Kind(key) {
		case "sales": // Clerk's original name for the orders list
			err = readFeedList(fr, KindOrders, fr.sink.Orders)
		case "config":
			err = fr.readConfig()
		case "created", "strict":
			err = fr.readSetting(key)
		case KindCategories:
			err = readFeedList(fr, KindCategories, fr.sink.Categories)
		case KindProducts:
			err = readFeedList(fr, KindProducts, fr.sink.Products)
		case KindCustomers:
			err = readFeedList(fr, KindCustomers, fr.sink.Customers)
		case KindOrders:
			err = readFeedList(fr, KindOrders, fr.sink.Orders)
		case KindPages:
			err = readFeedList(fr, KindPages, fr.sink.Pages)
		default:
			fr.stats.Unknown = append(fr.stats.Unknown, truncate(key, 64))
			err = fr.skipValue()
		}
		if err != nil {
			return err
		}
	}
	if _, err := fr.dec.Token(); err != nil {
		return fr.syntax(err)
	}
	if _, err := fr.dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: unexpected data after the feed object at byte %d", ErrInvalidFeed, fr.dec.InputOffset())
	}
	if fr.stats.Strict {
		rejected := 0
		for _, n := range fr.stats.Rejected {
			rejected += n
		}
		if rejected > 0 {
			first := ""
			if len(fr.stats.Errors) > 0 {
				first = fmt.Sprintf(" (first: %v)", fr.stats.Errors[0])
			}
			return fmt.Errorf("%w: the feed is strict and %d records were invalid%s", ErrInvalidFeed, rejected, first)
		}
	}
	return nil
}

// readConfig reads the "config" object (or null): "created" and "strict"
// as at the top level, anything else skipped.
func (fr *feedReader) readConfig() error {
	tok, err := fr.dec.Token()
	if err != nil {
		return fr.syntax(err)
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%w: \"config\" must be an object, got %s", ErrInvalidFeed, describeToken(tok))
	}
	for fr.dec.More() {
		keyTok, err := fr.dec.Token()
		if err != nil {
			return fr.syntax(err)
		}
		switch key := keyTok.(string); key {
		case "created", "strict":
			err = fr.readSetting(key)
		default:
			err = fr.skipValue()
		}
		if err != nil {
			return err
		}
	}
	if _, err := fr.dec.Token(); err != nil {
		return fr.syntax(err)
	}
	return nil
}

// readSetting reads the value of "created" or "strict".
func (fr *feedReader) readSetting(key string) error {
	var raw json.RawMessage
	if err := fr.dec.Decode(&raw); err != nil {
		return fr.syntax(err)
	}
	if key == "created" {
		created, err := decodeTime(key, raw)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidFeed, err)
		}
		fr.stats.Created = created
		return nil
	}
	strict, err := decodeBoolPtr(key, raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidFeed, err)
	}
	if strict != nil && *strict {
		fr.stats.Strict = true
		fr.cfg.Strict = true
	}
	return nil
}

// sawKind records that the feed holds a list of kind.
func (fr *feedReader) sawKind(kind Kind) {
	if !slices.Contains(fr.stats.Kinds, kind) {
		fr.stats.Kinds = append(fr.stats.Kinds, kind)
	}
}

// skipValue consumes one JSON value token by token, so that a large
// unknown member is never held in memory.
func (fr *feedReader) skipValue() error {
	depth := 0
	for {
		tok, err := fr.dec.Token()
		if err != nil {
			return fr.syntax(err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

func (fr *feedReader) reject(kind Kind, e RecordError) error {
	fr.stats.Rejected[kind]++
	fe := FeedError{Kind: kind, RecordError: e}
	if fr.cfg.Strict {
		return fmt.Errorf("%w: %v", ErrInvalidFeed, fe)
	}
	if len(fr.stats.Errors) < fr.cfg.MaxReportedErrors {
		fr.stats.Errors = append(fr.stats.Errors, fe)
	}
	return nil
}

// readFeedList reads one record list (or null) and delivers it in batches.
func readFeedList[T Record](fr *feedReader, kind Kind, deliver func([]T) error) error {
	tok, err := fr.dec.Token()
	if err != nil {
		return fr.syntax(err)
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('[') {
		return fmt.Errorf("%w: %q must be a list, got %s", ErrInvalidFeed, kind, describeToken(tok))
	}
	fr.sawKind(kind)
	batch := make([]T, 0, fr.cfg.BatchSize)
	positions := make([]int, 0, fr.cfg.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		good, err := validFeedBatch(fr, kind, batch, positions)
		if err != nil {
			return err
		}
		if len(good) > 0 {
			fr.stats.Batches[kind]++
			fr.stats.Records[kind] += len(good)
			if err := deliver(good); err != nil {
				return fmt.Errorf("cannot deliver %d %s: %w", len(good), kind, err)
			}
		}
		batch = make([]T, 0, fr.cfg.BatchSize)
		positions = positions[:0]
		return nil
	}
	for fr.dec.More() {
		pos := fr.seen[kind]
		fr.seen[kind]++
		var raw json.RawMessage
		if err := fr.dec.Decode(&raw); err != nil {
			return fmt.Errorf("%s record %d: %w", kind, pos, fr.syntax(err))
		}
		var rec T
		if err := decodeRecord(raw, &rec); err != nil {
			e := RecordError{Index: pos, ID: peekID(raw), Kind: ErrWrongType, Reason: err.Error()}
			var fe *FieldError
			if errors.As(err, &fe) {
				e.Field, e.Reason = fe.Field, fe.Reason
			}
			if err := fr.reject(kind, e); err != nil {
				return err
			}
			continue
		}
		batch = append(batch, rec)
		positions = append(positions, pos)
		if len(batch) == fr.cfg.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if _, err := fr.dec.Token(); err != nil {
		return fr.syntax(err)
	}
	return flush()
}

// validFeedBatch drops the records Validate rejects, reporting each
// problem; positions maps batch indexes to list positions.
func validFeedBatch[T Record](fr *feedReader, kind Kind, batch []T, positions []int) ([]T, error) {
	errs := Validate(batch, fr.cfg.Limits)
	if len(errs) == 0 {
		return batch, nil
	}
	bad := make(map[int]bool, len(errs))
	for _, e := range errs {
		if e.Index < 0 { // batch-level; cannot happen as BatchSize <= MaxRecords
			return nil, fmt.Errorf("%w: %v", ErrInvalidFeed, e)
		}
		if !bad[e.Index] {
			bad[e.Index] = true
		} else {
			// One record, several problems: count it once.
			fr.stats.Rejected[kind]--
		}
		e.Index = positions[e.Index]
		if err := fr.reject(kind, e); err != nil {
			return nil, err
		}
	}
	good := batch[:0]
	for i, rec := range batch {
		if !bad[i] {
			good = append(good, rec)
		}
	}
	return good, nil
}
