package query

// Building blocks of the route table (routes.go): schemas, parameters and
// the shapes of operations the API repeats.

func jsString(desc string) *Schema { return &Schema{Type: "string", Description: desc} }
func jsInt(desc string) *Schema    { return &Schema{Type: "integer", Description: desc} }
func jsNum(desc string) *Schema    { return &Schema{Type: "number", Description: desc} }
func jsBool(desc string) *Schema   { return &Schema{Type: "boolean", Description: desc} }
func jsRef(name string) *Schema    { return &Schema{Ref: "#/components/schemas/" + name} }

func jsArray(items *Schema, desc string) *Schema {
	return &Schema{Type: "array", Items: items, Description: desc}
}

// jsMap is an object whose values are all alike (keys are data).
func jsMap(values *Schema, desc string) *Schema {
	return &Schema{Type: "object", AdditionalProperties: values, Description: desc}
}

func jsOneOf(desc string, s ...*Schema) *Schema { return &Schema{OneOf: s, Description: desc} }

// field is one property of jsObject.
type field struct {
	name string
	s    *Schema
}

func jsObject(desc string, fields ...field) *Schema {
	o := &Schema{Type: "object", Description: desc, Properties: make(map[string]*Schema, len(fields))}
	for _, f := range fields {
		o.Properties[f.name] = f.s
	}
	return o
}

// jsID is a record id: Clerk ids may be numbers or strings (42 and "42"
// are the same record).
func jsID(desc string) *Schema {
	return jsOneOf(desc, &Schema{Type: "string"}, &Schema{Type: "number"})
}

// param is an optional query parameter; typ is a JSON Schema type or
// "list": an array of strings, given in a query string as JSON
// (["a","b"]) or comma-separated (a,b).
func param(name, typ, desc string) Param {
	s := &Schema{Type: typ}
	if typ == "list" {
		s = jsArray(&Schema{Type: "string"}, "")
	}
	return Param{Name: name, In: "query", Schema: s, Desc: desc}
}

// req returns p as a required parameter.
func (p Param) req() Param {
	p.Required = true
	return p
}

// pathParam is a required {name} segment of the path.
func pathParam(name, desc string) Param {
	return Param{Name: name, In: "path", Required: true, Schema: &Schema{Type: "string"}, Desc: desc}
}

var (
	pLimit      = param("limit", "integer", "number of results (default 10)")
	pOffset     = param("offset", "integer", "results to skip")
	pExclude    = param("exclude", "list", "product ids never to return")
	pAttributes = param("attributes", "list", "product fields to return in product_data; * for all")
	pFilter     = param("filter", "string", "Clerk filter expression, e.g. price > 10 and categories in [1,2]")
	pFacets     = param("facets", "list", "attributes to count values of over the eligible results")
	pLabels     = param("labels", "list", "labels of the slot, for attribution (stats/labels)")
	pOrderBy    = param("orderby", "string", "attribute to sort results by")
	pOrder      = param("order", "string", "asc or desc")
	pDebug      = param("debug", "boolean", "explain which model and fallback produced the results")
	pCallback   = param("callback", "string", "JSONP callback name (public-key endpoints only)")
	pProducts   = param("products", "list", "product ids")
	pProduct    = param("product", "string", "product id")
	pVisitor    = param("visitor", "string", "visitor id, or auto to mint one (returned as visitor)")
	pCustomer   = param("customer", "string", "customer id")
	pEmail      = param("email", "string", "customer email (instead of customer)")
	pCategory   = param("category", "string", "category id")
	pPage       = param("page", "string", "page id")
	pSale       = param("sale", "string", "order id")
	pQuery      = param("query", "string", "the text the shopper typed (at most 512 bytes)")
	pStoreID    = pathParam("id", "the store's id (st_...)")
)

// logicParams are the parameters every recommendation logic takes, after
// its own.
func logicParams(own ...Param) []Param {
	return append(own, pLimit, pOffset, pExclude, pAttributes, pFilter, pFacets, pLabels, pOrderBy, pOrder, pDebug, pCallback, pVisitor)
}

// Answers.
var (
	fStatus = field{"status", &Schema{Type: "string", Enum: []string{"ok"}}}
	fCount  = field{"count", jsInt("number of results in this answer")}

	okResult = jsObject("", fStatus)

	healthResult = jsObject("the process is up, and which build it is", fStatus,
		field{"version", jsObject("the build (sibyl version)",
			field{"version", jsString("module version, or devel")},
			field{"revision", jsString("VCS commit")},
			field{"time", jsString("commit time")},
			field{"modified", jsBool("built from a tree with uncommitted changes")},
			field{"go", jsString("Go toolchain")})})

	recsResult = jsObject("recommended products, best first",
		fStatus, fCount,
		field{"result", jsArray(&Schema{Type: "string"}, "product ids")},
		field{"product_data", jsArray(&Schema{Type: "object"}, "the attributes asked for, one object per result")},
		field{"facets", jsMap(&Schema{Type: "object"}, "value counts per facet asked for")},
		field{"visitor", jsString("the visitor id minted for visitor=auto")},
		field{"debug", jsObject("with debug=true: the logic, data and model versions, and how many results each source gave")})

	searchResult = jsObject("matching products, best first",
		fStatus, fCount,
		field{"query", jsString("the query, as sent")},
		field{"hits", jsInt("products matching the query in all (count is this page's)")},
		field{"no_exact_match", jsBool("true when the best match is not exact: a typo, or not every word matched")},
		field{"redirect", jsString("the url a redirect (/v2/redirects) sends this query to; absent when none")},
		field{"result", jsArray(&Schema{Type: "string"}, "product ids")},
		field{"product_data", jsArray(&Schema{Type: "object"}, "the attributes asked for, one object per result")},
		field{"facets", jsMap(&Schema{Type: "object"}, "value counts per facet asked for")},
		field{"visitor", jsString("the visitor id minted for visitor=auto")},
		field{"debug", jsObject("with debug=true: the logic, data and model versions, and how many results each source gave")})

	idsResult = jsObject("ids, best first", fStatus, fCount, field{"result", jsArray(&Schema{Type: "string"}, "")})

	trackResult = jsObject("the event is replicated", fStatus, field{"visitor", jsString("the visitor id minted for visitor=auto")})

	writeResult = jsObject("the batch is replicated and applied", fStatus,
		field{"applied", jsInt("records (or ids) applied")},
		field{"unknown_products", jsInt("order lines naming a product the catalog does not have (accepted)")})

	textResult   = &Schema{Type: "string"}
	binaryResult = &Schema{Type: "string", Format: "binary"}
)

// Records: Clerk's data model. Extra typed attributes are allowed.
var recordSchemas = map[string]*Schema{
	"Product": jsObject("a product; any extra attribute is kept, typed",
		field{"id", jsID("")}, field{"name", jsString("")}, field{"description", jsString("")},
		field{"price", jsNum("")}, field{"list_price", jsNum("")}, field{"image", jsString("")},
		field{"url", jsString("")}, field{"categories", jsArray(jsID(""), "category ids")},
		field{"brand", jsString("")}, field{"sku", jsString("")}, field{"stock", jsNum("")},
		field{"created_at", jsInt("unix seconds")}, field{"index", jsBool("false: never recommended")}),
	"Category": jsObject("a category",
		field{"id", jsID("")}, field{"name", jsString("")}, field{"url", jsString("")},
		field{"subcategories", jsArray(jsID(""), "child category ids")}),
	"Customer": jsObject("a customer; extra attributes are kept",
		field{"id", jsID("")}, field{"email", jsString("")}, field{"name", jsString("")}),
	"Order": jsObject("an order",
		field{"id", jsID("")}, field{"time", jsInt("unix seconds")}, field{"customer", jsID("")},
		field{"email", jsString("")},
		field{"products", jsArray(jsObject("", field{"id", jsID("")}, field{"quantity", jsNum("")}, field{"price", jsNum("")}), "order lines")}),
	"Page": jsObject("a content page",
		field{"id", jsID("")}, field{"type", jsString("")}, field{"url", jsString("")},
		field{"title", jsString("")}, field{"text", jsString("")}),
	"Error": jsObject("every error answer",
		field{"status", &Schema{Type: "string", Enum: []string{"error"}}},
		field{"type", jsString("stable error code (docs/api.md)")},
		field{"message", jsString("")},
		field{"details", jsArray(&Schema{Type: "object"}, "invalid_records: one entry per problem (index, id, field, problem, reason)")}),
}

// kindRecord is the record schema of each data kind.
var kindRecord = map[string]string{
	"products": "Product", "categories": "Category", "customers": "Customer", "orders": "Order", "pages": "Page",
}
