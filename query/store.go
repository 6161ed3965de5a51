package query

import (
	"time"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
)

// StoreReader is what the handlers read of one store's data: records,
// the logics' rankings, sessions and label counts. *engine.Store
// satisfies it (the node's Backend returns one); tests may use a fake.
// Every method is safe for concurrent use.
type StoreReader interface {
	// Records (the data endpoints, filters and product_data).
	Version() uint64
	Get(kind ingest.Kind, ids []ingest.ID) []any
	List(kind ingest.Kind, offset, limit int) ([]any, int)
	Product(id ingest.ID) *ingest.Product
	Products() []*ingest.Product
	CategoryScope(cat ingest.ID, subcategories bool) (map[ingest.ID]bool, bool)
	// Derived memoises a value built from the products, categories and
	// pages at their current change sequence (the catalog view of
	// filters and facets).
	Derived(name string, build func() any) any
	// ProductChanges and Attached let the search index follow the
	// catalog incrementally (engine/changes.go).
	CatalogSeq() uint64
	ProductChanges(since uint64) (ids []ingest.ID, now uint64, ok bool)
	Attached(name string, create func() any) any

	// Store-wide lists.
	Popular() []ingest.ID
	Trending() []ingest.ID
	New() []ingest.ID
	RecentlyBought() []ingest.ID
	CurrentlyWatched() []ingest.ID

	// Logics of seed products.
	MostSoldWith(products []ingest.ID) []ingest.ID
	Complementary(products []ingest.ID) []ingest.ID
	Substituting(products []ingest.ID) []ingest.ID

	// Logics of a customer (by id or email); engine.ErrUnknownCustomer
	// when neither names one.
	CustomerHistory(customer ingest.ID, email string) ([]ingest.ID, error)
	CustomerComplementary(customer ingest.ID, email string) ([]ingest.ID, error)
	CustomerSubstituting(customer ingest.ID, email string) ([]ingest.ID, error)
	Audience(products []ingest.ID, limit int) []string

	// Logics of a visitor's session.
	VisitorItems(visitor string) (items []ingest.ID, kinds []compute.EventKind, cart []ingest.ID)
	VisitorComplementary(items []ingest.ID, kinds []compute.EventKind) []ingest.ID

	// Text: keywords and the page logics.
	Keywords(text string) []ingest.ID
	PageText(page ingest.ID) (string, bool)
	CategoriesFor(text string) []ingest.ID
	PagesFor(text string) []ingest.ID

	// Labels and the model, for stats and debug.
	CountImpressions(labels []string)
	LabelsPage(offset, limit int) (rows []engine.LabelRow, total int, other engine.LabelStats)
	ModelInfo() engine.ModelInfo

	// Search statistics (engine/searches*.go).
	PopularSearches(now time.Time, limit int) []string
	SearchStats(offset, limit int) engine.SearchStatsPage
	SearchClicks(query string) map[ingest.ID]int
	ClickedSearches(prefix string, limit int) []string
}

var _ StoreReader = (*engine.Store)(nil)
