// Package ingest is Data Sync: the canonical record types every source is
// translated into, their validation, and the platform importers (Clerk JSON
// feed, UCI Online Retail CSV) that produce them.
//
// Records follow the Clerk.io data model. Identifiers are strings inside
// Sibyl; on the wire Clerk allows numbers or strings, and ID accepts both.
package ingest

// Product is one item of a store's catalog.
type Product struct {
	ID          ID       `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Price       float64  `json:"price"`
	ListPrice   float64  `json:"list_price,omitempty"`
	Image       string   `json:"image,omitempty"`
	URL         string   `json:"url,omitempty"`
	Categories  []ID     `json:"categories,omitempty"`
	Brand       string   `json:"brand,omitempty"`
	SKU         string   `json:"sku,omitempty"`
	Stock       *float64 `json:"stock,omitempty"`
	// CreatedAt is unix seconds; 0 means unknown.
	CreatedAt int64 `json:"created_at,omitempty"`
	// Index false hides the product from every recommendation (Clerk's
	// "index" flag); nil means true.
	Index *bool `json:"index,omitempty"`
	// Extra holds any further attributes, typed: string, float64, bool,
	// []string or []float64. Keys never collide with the fields above.
	Extra map[string]any `json:"-"`
}

// Category is a node of the store's category tree.
type Category struct {
	ID            ID     `json:"id"`
	Name          string `json:"name"`
	URL           string `json:"url,omitempty"`
	Subcategories []ID   `json:"subcategories,omitempty"`
}

// Customer is a known buyer of the store.
type Customer struct {
	ID    ID     `json:"id"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	// Extra holds further typed attributes, as for Product.
	Extra map[string]any `json:"-"`
}

// Order is one completed sale.
type Order struct {
	ID ID `json:"id"`
	// Time is unix seconds.
	Time     int64       `json:"time"`
	Customer ID          `json:"customer,omitempty"`
	Email    string      `json:"email,omitempty"`
	Products []OrderLine `json:"products"`
}

// OrderLine is one product of an order.
type OrderLine struct {
	ID       ID      `json:"id"`
	Quantity float64 `json:"quantity"`
	Price    float64 `json:"price"`
}

// Page is a content page (blog post, landing page, ...).
type Page struct {
	ID    ID     `json:"id"`
	Type  string `json:"type,omitempty"`
	URL   string `json:"url,omitempty"`
	Title string `json:"title,omitempty"`
	Text  string `json:"text,omitempty"`
}

// Kind names a record collection, as it appears in the API path
// (/v2/products) and in the Clerk feed's top-level keys.
type Kind string

const (
	KindProducts   Kind = "products"
	KindCategories Kind = "categories"
	KindCustomers  Kind = "customers"
	KindOrders     Kind = "orders"
	KindPages      Kind = "pages"
)

// Kinds lists every collection in feed order: catalog before the orders
// that refer to it.
var Kinds = []Kind{KindCategories, KindProducts, KindCustomers, KindOrders, KindPages}
