package platform

// Magento 2 (Adobe Commerce) REST documents, mapped to canonical records.
//
// Product:  https://developer.adobe.com/commerce/webapi/rest/tutorials/configurable-product/
//           (catalogProductRepositoryV1 GetList: id, sku, name, price,
//           status, visibility, type_id, created_at, extension_attributes
//           {category_links, stock_item}, custom_attributes
//           [{attribute_code, value}])
// Category: catalogCategoryManagementV1 getTree: {id, parent_id, name,
//           is_active, level, children_data: [...]}
// Order:    https://developer.adobe.com/commerce/webapi/rest/tutorials/orders/order-admin-token/
//           (salesOrderRepositoryV1 GetList: entity_id, increment_id,
//           created_at, state, customer_id, customer_email,
//           order_currency_code, base_currency_code, items [{product_id,
//           qty_ordered, price, base_price, parent_item_id}])
// Customer: customerCustomerRepositoryV1 getList: id, email, firstname,
//           lastname.
// Dates are "2006-01-02 15:04:05" in UTC.

import (
	"encoding/json"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
)

type magentoAttribute struct {
	Code  string          `json:"attribute_code"`
	Value json.RawMessage `json:"value"`
}

type magentoProduct struct {
	ID                  ingest.ID          `json:"id"`
	SKU                 string             `json:"sku"`
	Name                string             `json:"name"`
	Price               amount             `json:"price"`
	Status              int                `json:"status"`
	Visibility          int                `json:"visibility"`
	TypeID              string             `json:"type_id"`
	CreatedAt           string             `json:"created_at"`
	CustomAttributes    []magentoAttribute `json:"custom_attributes"`
	ExtensionAttributes struct {
		CategoryLinks []struct {
			CategoryID ingest.ID `json:"category_id"`
		} `json:"category_links"`
		StockItem *struct {
			Qty *float64 `json:"qty"`
		} `json:"stock_item"`
	} `json:"extension_attributes"`
}

type magentoCategory struct {
	ID       ingest.ID         `json:"id"`
	Name     string            `json:"name"`
	Level    int               `json:"level"`
	Children []json.RawMessage `json:"children_data"`
}

type magentoOrder struct {
	EntityID      ingest.ID `json:"entity_id"`
	IncrementID   ingest.ID `json:"increment_id"`
	CreatedAt     string    `json:"created_at"`
	State         string    `json:"state"`
	CustomerID    ingest.ID `json:"customer_id"`
	CustomerEmail string    `json:"customer_email"`
	OrderCurrency string    `json:"order_currency_code"`
	BaseCurrency  string    `json:"base_currency_code"`
	Items         []struct {
		ProductID    ingest.ID `json:"product_id"`
		QtyOrdered   float64   `json:"qty_ordered"`
		Price        amount    `json:"price"`
		BasePrice    amount    `json:"base_price"`
		ParentItemID ingest.ID `json:"parent_item_id"`
	} `json:"items"`
}

type magentoCustomer struct {
	ID        ingest.ID `json:"id"`
	Email     string    `json:"email"`
	FirstName string    `json:"firstname"`
	LastName  string    `json:"lastname"`
}

// Magento's status and visibility codes.
const (
	magentoStatusDisabled   = 2
	magentoNotVisibleAlone  = 1
	magentoMaxCategoryDepth = 64
)

// magentoNotSales are order states that are not sales: cancelled, fully
// refunded (closed) or not paid yet.
var magentoNotSales = map[string]bool{"canceled": true, "closed": true, "pending_payment": true}

type magentoMapper struct {
	cfg       commonConfig
	storeURL  string
	mediaURL  string
	urlSuffix string
	textMax   int
}

func newMagentoMapper(c MagentoConfig) magentoMapper {
	media := c.MediaURL
	if media == "" && c.StoreURL != "" {
		media = joinURL(c.StoreURL, "media/catalog/product")
	}
	return magentoMapper{cfg: c.common(), storeURL: c.StoreURL, mediaURL: media, urlSuffix: c.URLSuffix,
		textMax: ingest.DefaultLimits().MaxTextBytes}
}

// attribute returns a custom attribute's value when it is a string.
func magentoAttr(attrs []magentoAttribute, code string) string {
	for _, a := range attrs {
		if a.Code == code {
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				return s
			}
			return ""
		}
	}
	return ""
}

// product maps a product. price is the special_price custom attribute
// when set and lower (list_price then the regular price; its date range
// is not checked), else price. description falls back to
// short_description; url is StoreURL/{url_key}{URLSuffix}; image is
// MediaURL{image}. A disabled product, or one not visible on its own (a
// configurable product's child), is kept with index false.
func (m magentoMapper) product(raw []byte) (ingest.Product, error) {
	var doc magentoProduct
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ingest.Product{}, err
	}
	if !doc.Price.Set {
		return ingest.Product{}, &mapError{field: "price", kind: ingest.ErrInvalidValue, reason: "the product has no price"}
	}
	desc := magentoAttr(doc.CustomAttributes, "description")
	if strings.TrimSpace(desc) == "" {
		desc = magentoAttr(doc.CustomAttributes, "short_description")
	}
	p := ingest.Product{
		ID:          doc.ID,
		Name:        doc.Name,
		SKU:         doc.SKU,
		Description: stripHTML(desc, m.textMax),
		Price:       doc.Price.Value,
	}
	if sp := magentoAttr(doc.CustomAttributes, "special_price"); sp != "" {
		if v, err := parseDecimal(strings.TrimSpace(sp)); err == nil && v < p.Price {
			p.ListPrice, p.Price = p.Price, v
		}
	}
	if key := magentoAttr(doc.CustomAttributes, "url_key"); key != "" {
		p.URL = joinURL(m.storeURL, key+m.urlSuffix)
	}
	if img := magentoAttr(doc.CustomAttributes, "image"); img != "" && img != "no_selection" && m.mediaURL != "" {
		p.Image = strings.TrimRight(m.mediaURL, "/") + "/" + strings.TrimLeft(img, "/")
	}
	for _, l := range doc.ExtensionAttributes.CategoryLinks {
		p.Categories = append(p.Categories, l.CategoryID)
	}
	if si := doc.ExtensionAttributes.StockItem; si != nil && si.Qty != nil {
		p.Stock = si.Qty
	}
	var err error
	if p.CreatedAt, err = unixTime("created_at", doc.CreatedAt); err != nil {
		return ingest.Product{}, err
	}
	if doc.Status == magentoStatusDisabled || doc.Visibility == magentoNotVisibleAlone {
		hidden := false
		p.Index = &hidden
	}
	if doc.TypeID != "" {
		p.Extra = map[string]any{"product_type": doc.TypeID}
	}
	return p, nil
}

// categoryTree flattens the category tree (depth-first, bounded in depth
// and count) into categories with their children as subcategories. The
// level-0 root ("Root Catalog") is left out; its children are the store
// roots. Malformed nodes are reported through bad and skipped with their
// subtrees.
func (m magentoMapper) categoryTree(raw []byte, maxCount int, bad func(raw []byte, err error)) []ingest.Category {
	var out []ingest.Category
	type frame struct {
		raw   []byte
		depth int
	}
	stack := []frame{{raw: raw}}
	for len(stack) > 0 && len(out) < maxCount {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		var doc magentoCategory
		if err := json.Unmarshal(f.raw, &doc); err != nil {
			bad(f.raw, err)
			continue
		}
		var subs []ingest.ID
		if f.depth < magentoMaxCategoryDepth {
			// Push in reverse so that children come out in order.
			for i := len(doc.Children) - 1; i >= 0; i-- {
				stack = append(stack, frame{raw: doc.Children[i], depth: f.depth + 1})
			}
			for _, c := range doc.Children {
				if id := peekID(c); id != "" {
					subs = append(subs, id)
				}
			}
		}
		if doc.Level == 0 && f.depth == 0 {
			continue
		}
		out = append(out, ingest.Category{ID: doc.ID, Name: doc.Name, Subcategories: subs})
	}
	return out
}

// order maps an order. Its id is the increment_id shoppers and merchants
// see (entity_id when missing). Lines that are children of a configurable
// or bundle line (parent_item_id set) are left out: the parent line holds
// the product and price. Amounts are in order_currency_code; when that is
// not the store's but base_currency_code is, the base amounts are used.
func (m magentoMapper) order(raw []byte) (ingest.Order, error) {
	var doc magentoOrder
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ingest.Order{}, err
	}
	if magentoNotSales[doc.State] {
		return ingest.Order{}, errSkip
	}
	o := ingest.Order{ID: doc.IncrementID, Customer: doc.CustomerID, Email: strings.TrimSpace(doc.CustomerEmail)}
	if o.ID == "" {
		o.ID = doc.EntityID
	}
	var err error
	if o.Time, err = unixTime("created_at", doc.CreatedAt); err != nil {
		return ingest.Order{}, err
	}
	useBase := !strings.EqualFold(doc.OrderCurrency, m.cfg.currency) && strings.EqualFold(doc.BaseCurrency, m.cfg.currency)
	for _, it := range doc.Items {
		if it.ParentItemID != "" || it.ProductID == "" {
			continue
		}
		price := it.Price.Value
		if useBase {
			price = it.BasePrice.Value
		} else {
			var ok bool
			if price, ok = m.cfg.convert(price, doc.OrderCurrency); !ok {
				return ingest.Order{}, m.cfg.currencyError(doc.OrderCurrency)
			}
		}
		o.Products = append(o.Products, ingest.OrderLine{ID: it.ProductID, Quantity: it.QtyOrdered, Price: price})
	}
	return o, nil
}

// customer maps a customer.
func (m magentoMapper) customer(raw []byte) (ingest.Customer, error) {
	var doc magentoCustomer
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ingest.Customer{}, err
	}
	return ingest.Customer{
		ID:    doc.ID,
		Email: strings.TrimSpace(doc.Email),
		Name:  collapseSpace(doc.FirstName + " " + doc.LastName),
	}, nil
}
