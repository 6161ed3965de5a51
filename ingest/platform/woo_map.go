package platform

// WooCommerce REST API v3 documents, mapped to canonical records. The pull
// connector (woo.go) and the webhook decoder (webhook.go) both use these
// functions: a webhook's payload is the resource's REST document.
//
// Product:  https://woocommerce.github.io/woocommerce-rest-api-docs/#product-properties
// Category: https://woocommerce.github.io/woocommerce-rest-api-docs/#product-category-properties
// Order:    https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties
// Customer: https://woocommerce.github.io/woocommerce-rest-api-docs/#customer-properties
//
// Variations are not read: a variable product's own "price" is the
// lowest current price of its variations (WooCommerce keeps it so), which
// is the price a listing shows; orders name the parent in product_id next
// to variation_id, so sales land on the parent the catalog has. A
// variation's own document (type "variation", parent_id set) arriving by
// webhook is skipped.

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
)

type wooTerm struct {
	ID   ingest.ID `json:"id"`
	Name string    `json:"name"`
}

type wooProduct struct {
	ID                ingest.ID `json:"id"`
	Name              string    `json:"name"`
	Permalink         string    `json:"permalink"`
	DateCreatedGMT    string    `json:"date_created_gmt"`
	Type              string    `json:"type"`
	Status            string    `json:"status"`
	CatalogVisibility string    `json:"catalog_visibility"`
	Description       string    `json:"description"`
	ShortDescription  string    `json:"short_description"`
	SKU               string    `json:"sku"`
	Price             amount    `json:"price"`
	RegularPrice      amount    `json:"regular_price"`
	SalePrice         amount    `json:"sale_price"`
	StockQuantity     *float64  `json:"stock_quantity"`
	StockStatus       string    `json:"stock_status"`
	ParentID          ingest.ID `json:"parent_id"`
	Categories        []wooTerm `json:"categories"`
	Tags              []wooTerm `json:"tags"`
	// Brands exist since WooCommerce 9.6.
	Brands []wooTerm `json:"brands"`
	Images []struct {
		Src string `json:"src"`
	} `json:"images"`
}

type wooCategory struct {
	ID     ingest.ID `json:"id"`
	Name   string    `json:"name"`
	Slug   string    `json:"slug"`
	Parent ingest.ID `json:"parent"`
}

type wooOrder struct {
	ID             ingest.ID `json:"id"`
	Status         string    `json:"status"`
	Currency       string    `json:"currency"`
	DateCreatedGMT string    `json:"date_created_gmt"`
	CustomerID     ingest.ID `json:"customer_id"`
	Billing        struct {
		Email string `json:"email"`
	} `json:"billing"`
	LineItems []struct {
		ProductID ingest.ID `json:"product_id"`
		Quantity  float64   `json:"quantity"`
		Price     amount    `json:"price"`
	} `json:"line_items"`
}

type wooCustomer struct {
	ID        ingest.ID `json:"id"`
	Email     string    `json:"email"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
}

// wooSaleStatuses are the order statuses that are sales: paid or being
// fulfilled. pending (awaiting payment), failed, cancelled, refunded,
// trash and checkout-draft are not.
var wooSaleStatuses = map[string]bool{"completed": true, "processing": true, "on-hold": true}

type wooMapper struct {
	cfg      commonConfig
	storeURL string
	textMax  int
}

func newWooMapper(c WooConfig) wooMapper {
	return wooMapper{cfg: c.common(), storeURL: c.StoreURL, textMax: ingest.DefaultLimits().MaxTextBytes}
}

// product maps a product: price is "price" (the current one, a sale
// price when on sale), list_price regular_price when above it. A product
// that is not published, or whose catalog visibility is "hidden", is kept
// with index false.
func (m wooMapper) product(raw []byte) (ingest.Product, error) {
	var doc wooProduct
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ingest.Product{}, err
	}
	if doc.Type == "variation" || doc.ParentID != "" && doc.ParentID != "0" {
		return ingest.Product{}, errSkip
	}
	desc := doc.Description
	if strings.TrimSpace(desc) == "" {
		desc = doc.ShortDescription
	}
	p := ingest.Product{
		ID:          doc.ID,
		Name:        doc.Name,
		Description: stripHTML(desc, m.textMax),
		URL:         doc.Permalink,
		SKU:         doc.SKU,
		Stock:       doc.StockQuantity,
	}
	switch {
	case doc.Price.Set:
		p.Price = doc.Price.Value
	case doc.SalePrice.Set:
		p.Price = doc.SalePrice.Value
	case doc.RegularPrice.Set:
		p.Price = doc.RegularPrice.Value
	default:
		return ingest.Product{}, &mapError{field: "price", kind: ingest.ErrInvalidValue, reason: "the product has no price"}
	}
	if doc.RegularPrice.Set && doc.RegularPrice.Value > p.Price {
		p.ListPrice = doc.RegularPrice.Value
	}
	if len(doc.Images) > 0 {
		p.Image = doc.Images[0].Src
	}
	if len(doc.Brands) > 0 {
		p.Brand = doc.Brands[0].Name
	}
	for _, c := range doc.Categories {
		p.Categories = append(p.Categories, c.ID)
	}
	var err error
	if p.CreatedAt, err = unixTime("date_created_gmt", doc.DateCreatedGMT); err != nil {
		return ingest.Product{}, err
	}
	if doc.Status != "" && doc.Status != "publish" || doc.CatalogVisibility == "hidden" {
		hidden := false
		p.Index = &hidden
	}
	extra := map[string]any{}
	if doc.Type != "" {
		extra["product_type"] = doc.Type
	}
	if doc.StockStatus != "" {
		extra["stock_status"] = doc.StockStatus
	}
	if len(doc.Tags) > 0 {
		tags := make([]string, 0, len(doc.Tags))
		for _, t := range doc.Tags {
			tags = append(tags, t.Name)
		}
		extra["tags"] = tags
	}
	if len(extra) > 0 {
		p.Extra = extra
	}
	return p, nil
}

// category maps a product category; its parent is returned so that the
// caller can build subcategory lists once every category is read. The
// URL follows WooCommerce's default category base, product-category.
func (m wooMapper) category(raw []byte) (ingest.Category, ingest.ID, error) {
	var doc wooCategory
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ingest.Category{}, "", err
	}
	c := ingest.Category{ID: doc.ID, Name: doc.Name}
	if doc.Slug != "" {
		c.URL = joinURL(m.storeURL, "product-category/"+url.PathEscape(doc.Slug))
	}
	parent := doc.Parent
	if parent == "0" {
		parent = ""
	}
	return c, parent, nil
}

// order maps an order; orders that are not sales (see wooSaleStatuses)
// are skipped. customer_id 0 is a guest. Line prices are the unit price
// before tax in the order's currency.
func (m wooMapper) order(raw []byte) (ingest.Order, error) {
	var doc wooOrder
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ingest.Order{}, err
	}
	if !wooSaleStatuses[doc.Status] {
		return ingest.Order{}, errSkip
	}
	o := ingest.Order{ID: doc.ID, Email: strings.TrimSpace(doc.Billing.Email)}
	if doc.CustomerID != "0" {
		o.Customer = doc.CustomerID
	}
	var err error
	if o.Time, err = unixTime("date_created_gmt", doc.DateCreatedGMT); err != nil {
		return ingest.Order{}, err
	}
	for _, li := range doc.LineItems {
		if li.ProductID == "" || li.ProductID == "0" {
			continue // a deleted product or a fee line
		}
		price, ok := m.cfg.convert(li.Price.Value, doc.Currency)
		if !ok {
			return ingest.Order{}, m.cfg.currencyError(doc.Currency)
		}
		o.Products = append(o.Products, ingest.OrderLine{ID: li.ProductID, Quantity: li.Quantity, Price: price})
	}
	if len(o.Products) == 0 && len(doc.LineItems) > 0 {
		return ingest.Order{}, errSkip
	}
	return o, nil
}

// customer maps a customer.
func (m wooMapper) customer(raw []byte) (ingest.Customer, error) {
	var doc wooCustomer
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ingest.Customer{}, err
	}
	return ingest.Customer{
		ID:    doc.ID,
		Email: strings.TrimSpace(doc.Email),
		Name:  collapseSpace(doc.FirstName + " " + doc.LastName),
	}, nil
}
