package query

import "github.com/sibylhq/sibyl/engine"

// buildRoutes is the one list of endpoints: a newcomer finds where a
// request goes by reading it top to bottom.
func (s *Server) buildRoutes() map[string]route {
	rs := []route{
		// Operations.
		{"/health", accessNone, s.handleHealth},
		{"/ready", accessNone, s.handleReady},
		{"/metrics", accessNone, s.handleMetrics},
		{"/v2/openapi.json", accessNone, s.handleOpenAPI},
		{"/v2/stores", accessAdmin, s.handleStores},
		// Per-store administration: /v2/stores/<store id>/<action>.
		{"/v2/stores/{id}/limits", accessAdmin, s.handleStoreLimits},
		{"/v2/stores/{id}/rotate-keys", accessAdmin, s.handleRotateKeys},
		// Go profiles for operators: /debug/pprof/{heap,profile,goroutine,...}.
		{"/debug/pprof", accessAdmin, s.handlePprof},

		// Data (private key): GET by ids or paged, POST upsert, PATCH
		// partial update, DELETE by ids.
		{"/v2/products", accessPrivate, s.dataHandler("products")},
		{"/v2/categories", accessPrivate, s.dataHandler("categories")},
		{"/v2/customers", accessPrivate, s.dataHandler("customers")},
		{"/v2/orders", accessPrivate, s.dataHandler("orders")},
		{"/v2/pages", accessPrivate, s.dataHandler("pages")},
		// Clerk's legacy product endpoints.
		{"/v2/product/add", accessPrivate, s.handleLegacyProductAdd},
		{"/v2/product/remove", accessPrivate, s.handleLegacyProductRemove},
		{"/v2/product/attributes", accessPublic, s.handleProductAttributes},
		{"/v2/product/facets", accessPublic, s.handleProductFacets},

		// Recommendations (public key).
		{"/v2/recommendations/popular", accessPublic, s.recs(logicPopular)},
		{"/v2/recommendations/trending", accessPublic, s.recs(logicTrending)},
		{"/v2/recommendations/new", accessPublic, s.recs(logicNew)},
		{"/v2/recommendations/recently_bought", accessPublic, s.recs(logicRecentlyBought)},
		{"/v2/recommendations/most_sold_with", accessPublic, s.recs(logicMostSoldWith)},
		{"/v2/recommendations/complementary", accessPublic, s.recs(logicComplementary)},
		{"/v2/recommendations/bundle", accessPublic, s.recs(logicComplementary)},
		{"/v2/recommendations/substituting", accessPublic, s.recs(logicSubstituting)},
		{"/v2/recommendations/currently_watched", accessPublic, s.recs(logicCurrentlyWatched)},
		{"/v2/recommendations/keywords", accessPublic, s.recs(logicKeywords)},
		{"/v2/recommendations/page/product", accessPublic, s.recs(logicPageProduct)},
		{"/v2/recommendations/page/related_products", accessPublic, s.recs(logicPageProduct)},
		{"/v2/recommendations/page/category", accessPublic, s.idList("page/category", pageCategories)},
		{"/v2/recommendations/page/related_categories", accessPublic, s.idList("page/related_categories", pageCategories)},
		{"/v2/recommendations/page/substituting", accessPublic, s.idList("page/substituting", pageSubstituting)},
		{"/v2/recommendations/category/popular", accessPublic, s.recs(logicCategoryPopular)},
		{"/v2/recommendations/category/trending", accessPublic, s.recs(logicCategoryTrending)},
		{"/v2/recommendations/category/new", accessPublic, s.recs(logicCategoryNew)},
		{"/v2/recommendations/category/popular_subcategories", accessPublic, s.recs(logicCategoryPopularSubcat)},
		{"/v2/recommendations/visitor/history", accessPublic, s.recs(logicVisitorHistory)},
		{"/v2/recommendations/visitor/complementary", accessPublic, s.recs(logicVisitorComplementary)},
		{"/v2/recommendations/visitor/substituting", accessPublic, s.recs(logicVisitorSubstituting)},
		// Customer data needs the private key.
		{"/v2/recommendations/customer/history", accessPrivate, s.recs(logicCustomerHistory)},
		{"/v2/recommendations/customer/complementary", accessPrivate, s.recs(logicCustomerComplementary)},
		{"/v2/recommendations/customer/substituting", accessPrivate, s.recs(logicCustomerSubstituting)},
		// Audiences: which customers should get an offer on these products.
		{"/v2/campaigns/customers", accessPrivate, s.handleAudience},
		// Attribution of recommendation labels.
		{"/v2/stats/labels", accessPrivate, s.handleLabelStats},

		// Tracking (public key; returns need the private key): events go
		// through Raft and change visitor/* answers on the next request.
		{"/v2/log/product", accessPublic, s.track(engine.EventProduct)},
		{"/v2/log/click", accessPublic, s.track(engine.EventClick)},
		{"/v2/log/category", accessPublic, s.track(engine.EventCategory)},
		{"/v2/log/email", accessPublic, s.track(engine.EventEmail)},
		{"/v2/log/sale", accessPublic, s.track(engine.EventSale)},
		{"/v2/log/cart/add", accessPublic, s.track(engine.EventCartAdd)},
		{"/v2/log/cart/remove", accessPublic, s.track(engine.EventCartRemove)},
		{"/v2/log/cart/update", accessPublic, s.track(engine.EventBasketSet)},
		{"/v2/log/basket/set", accessPublic, s.track(engine.EventBasketSet)},
		{"/v2/log/returned", accessPrivate, s.track(engine.EventReturned)},
	}
	m := make(map[string]route, len(rs))
	for _, r := range rs {
		// route.name is the path: it labels metrics.
		m[r.name] = r
	}
	return m
}
