package platform

// Shopify Admin REST documents (API version 2024-01), mapped to canonical
// records. The pull connector (shopify.go) and the webhook decoder
// (webhook.go) both use these functions: a webhook's payload is the same
// resource document as the REST API's.
//
// Product:    https://shopify.dev/docs/api/admin-rest/2024-01/resources/product
// Variant:    https://shopify.dev/docs/api/admin-rest/2024-01/resources/product-variant
// Order:      https://shopify.dev/docs/api/admin-rest/2024-01/resources/order
// Customer:   https://shopify.dev/docs/api/admin-rest/2024-01/resources/customer
// Collection: https://shopify.dev/docs/api/admin-rest/2024-01/resources/customcollection
//             https://shopify.dev/docs/api/admin-rest/latest/resources/smartcollection

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
)

type shopifyProduct struct {
	ID          ingest.ID        `json:"id"`
	Title       string           `json:"title"`
	BodyHTML    string           `json:"body_html"`
	Vendor      string           `json:"vendor"`
	ProductType string           `json:"product_type"`
	Handle      string           `json:"handle"`
	CreatedAt   string           `json:"created_at"`
	Status      string           `json:"status"`
	Tags        string           `json:"tags"`
	Variants    []shopifyVariant `json:"variants"`
	Images      []shopifyImage   `json:"images"`
	Image       *shopifyImage    `json:"image"`
}

type shopifyVariant struct {
	Price             amount   `json:"price"`
	CompareAtPrice    amount   `json:"compare_at_price"`
	SKU               string   `json:"sku"`
	InventoryQuantity *float64 `json:"inventory_quantity"`
}

type shopifyImage struct {
	Src string `json:"src"`
}

type shopifyCollection struct {
	ID     ingest.ID `json:"id"`
	Title  string    `json:"title"`
	Handle string    `json:"handle"`
}

type shopifyCustomer struct {
	ID        ingest.ID `json:"id"`
	Email     string    `json:"email"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
}

type shopifyOrder struct {
	ID          ingest.ID `json:"id"`
	Email       string    `json:"email"`
	CreatedAt   string    `json:"created_at"`
	Currency    string    `json:"currency"`
	CancelledAt *string   `json:"cancelled_at"`
	Test        bool      `json:"test"`
	Customer    *struct {
		ID ingest.ID `json:"id"`
	} `json:"customer"`
	LineItems []struct {
		ProductID *ingest.ID `json:"product_id"`
		Quantity  float64    `json:"quantity"`
		Price     amount     `json:"price"`
	} `json:"line_items"`
}

// shopifyMapper holds what mapping needs besides the document.
type shopifyMapper struct {
	cfg commonConfig
	// storeURL is the storefront's origin, for product and collection
	// URLs.
	storeURL string
	// textMax bounds descriptions (ingest.Limits.MaxTextBytes).
	textMax int
	// listMax bounds tags (ingest.Limits.MaxListItems).
	listMax int
}

func newShopifyMapper(c ShopifyConfig) shopifyMapper {
	lim := ingest.DefaultLimits()
	return shopifyMapper{cfg: c.common(), storeURL: c.StoreURL, textMax: lim.MaxTextBytes, listMax: lim.MaxListItems}
}

// product maps a Shopify product. Its price is the cheapest variant's,
// list_price that variant's compare_at_price when above the price, sku
// that variant's, stock the sum of every variant's inventory_quantity.
// A product that is not "active" (draft, archived) is kept with index
// false, so it shows in no recommendation. categories come from the
// collection membership the caller read (collects and smart collections);
// a webhook payload has none, so webhook products carry no categories.
func (m shopifyMapper) product(raw []byte, categories []ingest.ID) (ingest.Product, error) {
	var doc shopifyProduct
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ingest.Product{}, err
	}
	p := ingest.Product{
		ID:          doc.ID,
		Name:        doc.Title,
		Description: stripHTML(doc.BodyHTML, m.textMax),
		Brand:       doc.Vendor,
		Categories:  categories,
	}
	cheapest := -1
	var stock float64
	stocked := false
	for i, v := range doc.Variants {
		if v.Price.Set && (cheapest < 0 || v.Price.Value < doc.Variants[cheapest].Price.Value) {
			cheapest = i
		}
		if v.InventoryQuantity != nil {
			stock += *v.InventoryQuantity
			stocked = true
		}
	}
	if cheapest < 0 {
		return ingest.Product{}, &mapError{field: "price", kind: ingest.ErrInvalidValue, reason: "no variant has a price"}
	}
	v := doc.Variants[cheapest]
	p.Price = v.Price.Value
	if v.CompareAtPrice.Set && v.CompareAtPrice.Value > v.Price.Value {
		p.ListPrice = v.CompareAtPrice.Value
	}
	p.SKU = v.SKU
	if stocked {
		p.Stock = &stock
	}
	switch {
	case len(doc.Images) > 0:
		p.Image = doc.Images[0].Src
	case doc.Image != nil:
		p.Image = doc.Image.Src
	}
	if doc.Handle != "" {
		p.URL = joinURL(m.storeURL, "products/"+url.PathEscape(doc.Handle))
	}
	var err error
	if p.CreatedAt, err = unixTime("created_at", doc.CreatedAt); err != nil {
		return ingest.Product{}, err
	}
	if doc.Status != "" && doc.Status != "active" {
		hidden := false
		p.Index = &hidden
	}
	extra := map[string]any{}
	if doc.ProductType != "" {
		extra["product_type"] = doc.ProductType
	}
	if tags := splitTags(doc.Tags, m.listMax); len(tags) > 0 {
		extra["tags"] = tags
	}
	if len(extra) > 0 {
		p.Extra = extra
	}
	return p, nil
}

// splitTags splits Shopify's comma-separated tags, at most max of them.
func splitTags(s string, max int) []string {
	var tags []string
	for part := range strings.SplitSeq(s, ",") {
		if t := strings.TrimSpace(part); t != "" {
			if len(tags) == max {
				break
			}
			tags = append(tags, t)
		}
	}
	return tags
}

// collection maps a custom or smart collection to a category.
func (m shopifyMapper) collection(raw []byte) (ingest.Category, error) {
	var doc shopifyCollection
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ingest.Category{}, err
	}
	c := ingest.Category{ID: doc.ID, Name: doc.Title}
	if doc.Handle != "" {
		c.URL = joinURL(m.storeURL, "collections/"+url.PathEscape(doc.Handle))
	}
	return c, nil
}

// customer maps a customer; the name joins first and last names.
func (m shopifyMapper) customer(raw []byte) (ingest.Customer, error) {
	var doc shopifyCustomer
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ingest.Customer{}, err
	}
	return ingest.Customer{
		ID:    doc.ID,
		Email: strings.TrimSpace(doc.Email),
		Name:  collapseSpace(doc.FirstName + " " + doc.LastName),
	}, nil
}

// order maps an order. Cancelled and test orders are skipped (errSkip):
// they are not sales. Line items without a product (custom items, gift
// cards: product_id null) are left out; an order with none left is
// skipped. Line prices are unit prices in the order's currency (the
// shop's, per the Order resource), converted or rejected as
// commonConfig.convert decides.
func (m shopifyMapper) order(raw []byte) (ingest.Order, error) {
	var doc shopifyOrder
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ingest.Order{}, err
	}
	if doc.CancelledAt != nil && *doc.CancelledAt != "" || doc.Test {
		return ingest.Order{}, errSkip
	}
	o := ingest.Order{ID: doc.ID, Email: strings.TrimSpace(doc.Email)}
	var err error
	if o.Time, err = unixTime("created_at", doc.CreatedAt); err != nil {
		return ingest.Order{}, err
	}
	if doc.Customer != nil {
		o.Customer = doc.Customer.ID
	}
	for _, li := range doc.LineItems {
		if li.ProductID == nil || *li.ProductID == "" {
			continue
		}
		price, ok := m.cfg.convert(li.Price.Value, doc.Currency)
		if !ok {
			return ingest.Order{}, m.cfg.currencyError(doc.Currency)
		}
		o.Products = append(o.Products, ingest.OrderLine{ID: *li.ProductID, Quantity: li.Quantity, Price: price})
	}
	if len(o.Products) == 0 && len(doc.LineItems) > 0 {
		return ingest.Order{}, errSkip
	}
	return o, nil
}
