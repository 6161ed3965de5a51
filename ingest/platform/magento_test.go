package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// magentoFixture mimics Magento 2's REST API under /rest/V1: bearer token
// auth (401 with {"message", "parameters"} otherwise), searchCriteria
// paging answering {"items", "search_criteria", "total_count"}, and, as
// Magento does, the last page again for a currentPage past the end; the
// category tree as one document.
//
//	https://developer.adobe.com/commerce/webapi/rest/use-rest/performing-searches/
//	https://developer.adobe.com/commerce/webapi/get-started/authentication/gs-authentication-token/
//	https://github.com/magento/magento2/issues/25619
type magentoFixture struct {
	token string
	tree  string
	docs  map[string][]string

	mu           sync.Mutex
	firstQueries map[string]url.Values
	requests     map[string]int
}

func (f *magentoFixture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"message":"The consumer isn't authorized to access %resources.","parameters":{"resources":"Magento_Catalog::products"}}`))
		return
	}
	res := strings.TrimPrefix(r.URL.Path, "/rest/V1/")
	f.requests[res]++
	if res == "categories" {
		fmt.Fprint(w, f.tree)
		return
	}
	all, ok := f.docs[res]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"Request does not match any route."}`)
		return
	}
	q := r.URL.Query()
	size, err1 := strconv.Atoi(q.Get("searchCriteria[pageSize]"))
	page, err2 := strconv.Atoi(q.Get("searchCriteria[currentPage]"))
	if err1 != nil || err2 != nil || size < 1 || page < 1 {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"message":"\"%fieldName\" is required. Enter and try again.","parameters":{"fieldName":"searchCriteria"}}`))
		return
	}
	if page == 1 {
		f.firstQueries[res] = q
	}
	last := max(1, (len(all)+size-1)/size)
	page = min(page, last) // Magento's quirk: past the end, the last page again
	start := min((page-1)*size, len(all))
	end := min(start+size, len(all))
	fmt.Fprintf(w, `{"items":[%s],"search_criteria":{"filter_groups":[],"page_size":%d,"current_page":%d},"total_count":%d}`,
		strings.Join(all[start:end], ","), size, page, len(all))
}

// magentoFixtureData returns the fixture's documents without a server.
func magentoFixtureData() *magentoFixture {
	f := &magentoFixture{
		token:        "magento_fixture_token_value",
		firstQueries: map[string]url.Values{}, requests: map[string]int{},
		tree: `{"id":1,"parent_id":0,"name":"Root Catalog","is_active":null,"position":0,"level":0,"product_count":0,"children_data":[
			{"id":2,"parent_id":1,"name":"Default Category","is_active":true,"position":1,"level":1,"product_count":1181,"children_data":[
				{"id":3,"parent_id":2,"name":"Gear","is_active":true,"position":4,"level":2,"product_count":46,"children_data":[
					{"id":4,"parent_id":3,"name":"Bags","is_active":true,"position":1,"level":3,"product_count":14,"children_data":[]}]},
				{"id":5,"parent_id":2,"name":"Men","is_active":true,"position":3,"level":2,"product_count":0,"children_data":[]}]}]}`,
		docs: map[string][]string{
			"products": {
				`{"id":1,"sku":"24-MB01","name":"Joust Duffle Bag","attribute_set_id":15,"price":34,"status":1,"visibility":4,"type_id":"simple","created_at":"2024-01-02 10:00:00","updated_at":"2024-01-02 10:00:00","extension_attributes":{"website_ids":[1],"category_links":[{"position":0,"category_id":"3"},{"position":0,"category_id":"4"}],"stock_item":{"item_id":1,"product_id":1,"qty":100,"is_in_stock":true}},"custom_attributes":[{"attribute_code":"image","value":"/m/b/mb01-blue-0.jpg"},{"attribute_code":"url_key","value":"joust-duffle-bag"},{"attribute_code":"description","value":"<p>The sporty Joust Duffle Bag can't be beat.</p><ul><li>Dual top handles.</li></ul>"},{"attribute_code":"category_ids","value":["3","4"]},{"attribute_code":"special_price","value":"29.0000"}]}`,
				`{"id":2,"sku":"MH01-XS-Black","name":"Chaz Kangeroo Hoodie-XS-Black","price":52,"status":1,"visibility":1,"type_id":"simple","created_at":"2024-01-03 11:00:00","extension_attributes":{"category_links":[{"category_id":"5"}]},"custom_attributes":[{"attribute_code":"short_description","value":"Ideal for <b>cold</b> weather"},{"attribute_code":"url_key","value":"chaz-kangeroo-hoodie-xs-black"}]}`,
				`{"id":3,"sku":"OLD-1","name":"Retired","price":10,"status":2,"visibility":4,"type_id":"simple","created_at":"2023-01-01 00:00:00","custom_attributes":[{"attribute_code":"image","value":"no_selection"}]}`,
				`{"id":4,"sku":"NOPRICE","name":"Bundle without price","status":1,"visibility":4,"type_id":"bundle","created_at":"2024-01-01 00:00:00"}`,
				`{"id":5,"sku":"BROKEN","name":"Broken","price":"abc","status":1,"visibility":4,"type_id":"simple","created_at":"2024-01-01 00:00:00"}`,
			},
			"customers/search": {
				`{"id":1,"group_id":1,"default_billing":"1","created_at":"2024-01-01 09:00:00","updated_at":"2024-01-01 09:00:00","email":"roni_cost@example.com","firstname":"Veronica","lastname":"Costello","store_id":1,"website_id":1}`,
			},
			"orders": {
				`{"entity_id":1,"increment_id":"000000001","created_at":"2024-01-05 09:30:00","state":"complete","status":"complete","customer_id":1,"customer_email":"roni_cost@example.com","customer_is_guest":0,"order_currency_code":"USD","base_currency_code":"USD","items":[{"item_id":1,"product_id":10,"sku":"MH01-XS-Black","qty_ordered":1,"price":52,"base_price":52,"product_type":"configurable"},{"item_id":2,"product_id":2,"sku":"MH01-XS-Black","qty_ordered":1,"price":0,"base_price":0,"parent_item_id":1,"product_type":"simple"},{"item_id":3,"product_id":1,"sku":"24-MB01","qty_ordered":2,"price":29,"base_price":29,"product_type":"simple"}]}`,
				`{"entity_id":2,"increment_id":"000000002","created_at":"2024-01-06 09:30:00","state":"canceled","customer_id":1,"order_currency_code":"USD","base_currency_code":"USD","items":[{"item_id":4,"product_id":1,"qty_ordered":1,"price":34}]}`,
				`{"entity_id":3,"increment_id":"000000003","created_at":"2024-01-07 09:30:00","state":"processing","customer_email":"guest@example.com","customer_is_guest":1,"order_currency_code":"EUR","base_currency_code":"USD","items":[{"item_id":5,"product_id":1,"qty_ordered":1,"price":27,"base_price":30}]}`,
				`{"entity_id":4,"increment_id":"000000004","created_at":"2024-01-08 09:30:00","state":"processing","customer_email":"gb@example.com","order_currency_code":"GBP","base_currency_code":"GBP","items":[{"item_id":6,"product_id":1,"qty_ordered":1,"price":25,"base_price":25}]}`,
				`{"entity_id":5,"increment_id":"000000005","created_at":"2024-01-09 09:30:00","state":"new","customer_id":1,"customer_email":"roni_cost@example.com","order_currency_code":"USD","base_currency_code":"USD","items":[{"item_id":7,"product_id":3,"qty_ordered":1,"price":10,"base_price":10}]}`,
			},
		},
	}
	return f
}

func newMagentoFixture(t *testing.T) (*magentoFixture, *httptest.Server) {
	f := magentoFixtureData()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func magentoTestConfig(srv *httptest.Server, token string) MagentoConfig {
	cfg := DefaultMagentoConfig()
	cfg.BaseURL = srv.URL
	cfg.Token = token
	cfg.StoreURL = "https://magento.example.com"
	cfg.Currency = "USD"
	cfg.PageSize = 2
	return cfg
}

func TestMagentoFetch(t *testing.T) {
	f, srv := newMagentoFixture(t)
	src, err := NewMagento(magentoTestConfig(srv, f.token), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	res, err := src.Fetch(context.Background(), time.Time{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || len(res.Kinds) != 4 {
		t.Fatalf("complete %v kinds %v", res.Complete, res.Kinds)
	}
	// Five products and five orders at two per page: three pages each,
	// stopped by total_count (a fourth request would get page 3 again).
	if f.requests["products"] != 3 || f.requests["orders"] != 3 || f.requests["customers/search"] != 1 {
		t.Fatalf("requests %v", f.requests)
	}
	if q := f.firstQueries["products"]; q.Get("searchCriteria[filter_groups][0][filters][0][field]") != "" {
		t.Fatalf("complete read filtered: %v", q)
	}

	wantCats := []ingest.Category{
		{ID: "2", Name: "Default Category", Subcategories: []ingest.ID{"3", "5"}},
		{ID: "3", Name: "Gear", Subcategories: []ingest.ID{"4"}},
		{ID: "4", Name: "Bags"},
		{ID: "5", Name: "Men"},
	}
	if fmt.Sprint(sink.categories) != fmt.Sprint(wantCats) {
		t.Fatalf("categories\n got %+v\nwant %+v", sink.categories, wantCats)
	}

	bag := sink.product(t, "1")
	checkProduct(t, bag, ingest.Product{
		ID: "1", Name: "Joust Duffle Bag", SKU: "24-MB01",
		Description: "The sporty Joust Duffle Bag can't be beat. Dual top handles.",
		Price:       29, ListPrice: 34,
		URL:        "https://magento.example.com/joust-duffle-bag.html",
		Image:      "https://magento.example.com/media/catalog/product/m/b/mb01-blue-0.jpg",
		Categories: []ingest.ID{"3", "4"},
		CreatedAt:  time.Date(2024, 1, 2, 10, 0, 0, 0, time.UTC).Unix(),
	}, 100)
	if bag.Index != nil || bag.Extra["product_type"] != "simple" {
		t.Fatalf("index %v extra %v", bag.Index, bag.Extra)
	}
	child := sink.product(t, "2")
	checkProduct(t, child, ingest.Product{
		ID: "2", Name: "Chaz Kangeroo Hoodie-XS-Black", SKU: "MH01-XS-Black", Description: "Ideal for cold weather", Price: 52,
		URL: "https://magento.example.com/chaz-kangeroo-hoodie-xs-black.html", Categories: []ingest.ID{"5"},
		CreatedAt: time.Date(2024, 1, 3, 11, 0, 0, 0, time.UTC).Unix(),
	}, -1)
	if child.Index == nil || *child.Index {
		t.Fatal("a product not visible individually must have index false")
	}
	retired := sink.product(t, "3")
	if retired.Index == nil || *retired.Index || retired.Image != "" {
		t.Fatalf("disabled product %+v", retired)
	}
	if len(sink.products) != 3 || res.Rejected[ingest.KindProducts] != 2 {
		t.Fatalf("products %v rejected %v", productIDs(sink.products), res.Rejected)
	}
	wantError(t, res, ingest.KindProducts, "the product has no price")
	wantError(t, res, ingest.KindProducts, `(id "5")`)

	if len(sink.customers) != 1 || sink.customers[0].Name != "Veronica Costello" || sink.customers[0].Email != "roni_cost@example.com" {
		t.Fatalf("customers %+v", sink.customers)
	}

	if got := ids(sink.orders, func(o ingest.Order) ingest.ID { return o.ID }); !slices.Equal(got, []string{"000000001", "000000003", "000000005"}) {
		t.Fatalf("orders %v", got)
	}
	o := sink.order(t, "000000001")
	if o.Customer != "1" || o.Time != time.Date(2024, 1, 5, 9, 30, 0, 0, time.UTC).Unix() ||
		!slices.Equal(o.Products, []ingest.OrderLine{{ID: "10", Quantity: 1, Price: 52}, {ID: "1", Quantity: 2, Price: 29}}) {
		t.Fatalf("order %+v", o)
	}
	// Placed in EUR on a USD base: the base amounts are used.
	eur := sink.order(t, "000000003")
	if eur.Customer != "" || eur.Email != "guest@example.com" || !slices.Equal(eur.Products, []ingest.OrderLine{{ID: "1", Quantity: 1, Price: 30}}) {
		t.Fatalf("EUR order %+v", eur)
	}
	wantError(t, res, ingest.KindOrders, `order in "GBP", the store's currency is USD`)
}

func TestMagentoIncremental(t *testing.T) {
	f, srv := newMagentoFixture(t)
	cfg := magentoTestConfig(srv, f.token)
	src, err := NewMagento(cfg, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2024, 3, 1, 12, 30, 0, 0, time.FixedZone("CET", 3600))
	res, err := src.Fetch(context.Background(), since, &recordingSink{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Complete {
		t.Fatal("incremental read claims completeness")
	}
	for _, r := range []string{"products", "customers/search", "orders"} {
		q := f.firstQueries[r]
		if q.Get("searchCriteria[filter_groups][0][filters][0][field]") != "updated_at" ||
			q.Get("searchCriteria[filter_groups][0][filters][0][value]") != "2024-03-01 11:30:00" ||
			q.Get("searchCriteria[filter_groups][0][filters][0][condition_type]") != "gteq" {
			t.Fatalf("%s query %v", r, q)
		}
	}
}

func TestMagentoUnauthorized(t *testing.T) {
	_, srv := newMagentoFixture(t)
	src, err := NewMagento(magentoTestConfig(srv, "wrong_magento_token"), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Fetch(context.Background(), time.Time{}, &recordingSink{})
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 401 || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "magento2") || !strings.Contains(err.Error(), "401") || res.Complete {
		t.Fatalf("err = %v", err)
	}
	notLeaking(t, err, "wrong_magento_token")
}

func TestMagentoPageTooLarge(t *testing.T) {
	f, srv := newMagentoFixture(t)
	f.tree = `{"id":1,"level":0,"name":"` + strings.Repeat("x", 4<<10) + `","children_data":[]}`
	cfg := magentoTestConfig(srv, f.token)
	cfg.MaxPageBytes = 2 << 10
	src, err := NewMagento(cfg, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), time.Time{}, &recordingSink{})
	if !errors.Is(err, ErrPageTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func TestMagentoCategoryTreeBounded(t *testing.T) {
	// A tree deeper than the bound: nodes past it are not read, and no
	// recursion can overflow.
	deep := `{"id":0,"level":0,"children_data":[]}`
	for i := 1; i <= 200; i++ {
		deep = fmt.Sprintf(`{"id":%d,"level":%d,"name":"c%d","children_data":[%s]}`, i, 1, i, deep)
	}
	m := newMagentoMapper(DefaultMagentoConfig())
	cats := m.categoryTree([]byte(deep), 1000, func([]byte, error) {})
	if len(cats) != magentoMaxCategoryDepth+1 {
		t.Fatalf("read %d categories, want %d", len(cats), magentoMaxCategoryDepth+1)
	}
	if cats := m.categoryTree([]byte(deep), 10, func([]byte, error) {}); len(cats) != 10 {
		t.Fatalf("count bound: %d", len(cats))
	}
}
