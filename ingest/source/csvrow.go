package source

// Turning CSV rows into records: the column map, the field parsers.

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sibylhq/sibyl/ingest"
)

// columns maps fields to column indexes.
type columns struct {
	field map[string]int
	// extra lists the other columns kept as attributes.
	extra []extraColumn
}

type extraColumn struct {
	index int
	name  string
}

func newColumns(header []string, cfg CSVConfig) (*columns, error) {
	byName := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := byName[h]; !dup {
			byName[h] = i
		}
	}
	c := &columns{field: map[string]int{}}
	used := map[int]bool{}
	for _, f := range csvFields[cfg.Kind] {
		name := f
		if m, ok := cfg.Mapping[f]; ok {
			name = m
		}
		if i, ok := byName[strings.ToLower(strings.TrimSpace(name))]; ok {
			c.field[f] = i
			used[i] = true
		} else if _, mapped := cfg.Mapping[f]; mapped {
			return nil, fmt.Errorf("%w: no column %s (mapped to %s) in the header", ingest.ErrInvalidFeed, ingest.Quote(name), f)
		}
	}
	if _, ok := c.field["id"]; !ok {
		return nil, fmt.Errorf("%w: no id column in the header (map \"id\" to the column holding it)", ingest.ErrInvalidFeed)
	}
	if cfg.Kind == ingest.KindOrders {
		if _, ok := c.field["product"]; !ok {
			return nil, fmt.Errorf("%w: no product column in the header", ingest.ErrInvalidFeed)
		}
	}
	if !cfg.NoExtra && (cfg.Kind == ingest.KindProducts || cfg.Kind == ingest.KindCustomers) {
		builtin := map[string]bool{"index": true}
		for _, f := range csvFields[cfg.Kind] {
			builtin[f] = true
		}
		seen := map[string]bool{}
		for i, h := range header {
			name := attributeName(h)
			if used[i] || name == "" || builtin[name] || seen[name] || len(c.extra) >= cfg.Feed.Limits.MaxExtraAttributes {
				continue
			}
			seen[name] = true
			c.extra = append(c.extra, extraColumn{index: i, name: name})
		}
	}
	return c, nil
}

// attributeName makes a header a Clerk attribute name: lower case,
// letters, digits and "_" (help.clerk.io "Data Feeds", attribute names).
func attributeName(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if len(h) > 64 {
		return ""
	}
	var b strings.Builder
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), "_")
	if name == "" {
		return ""
	}
	return name
}

func (c *columns) get(row []string, field string) string {
	i, ok := c.field[field]
	if !ok || i >= len(row) {
		return ""
	}
	return strings.TrimSpace(row[i])
}

// csvRows builds records from rows.
type csvRows struct {
	cfg  CSVConfig
	cols *columns
}

func (r *csvRows) get(row []string, field string) string { return r.cols.get(row, field) }

func (r *csvRows) money(row []string, field string) (float64, error) {
	s := r.get(row, field)
	if s == "" {
		return 0, nil
	}
	v, err := parseDecimal(s, r.cfg.DecimalComma)
	if err != nil {
		return 0, &ingest.FieldError{Field: field, Reason: err.Error()}
	}
	return v, nil
}

func (r *csvRows) time(row []string, field string) (int64, error) {
	s := r.get(row, field)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	layouts := []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"}
	if r.cfg.TimeLayout != "" {
		layouts = append([]string{r.cfg.TimeLayout}, layouts...)
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, &ingest.FieldError{Field: field, Reason: fmt.Sprintf("want a unix timestamp or a date, got %s", ingest.Quote(s))}
}

func (r *csvRows) ids(row []string, field string) []ingest.ID {
	s := r.get(row, field)
	if s == "" {
		return nil
	}
	parts := strings.Split(s, r.cfg.CategorySeparator)
	ids := make([]ingest.ID, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			ids = append(ids, ingest.ID(p))
		}
	}
	return ids
}

func (r *csvRows) product(row []string) (ingest.Product, error) {
	p := ingest.Product{
		ID:          ingest.ID(r.get(row, "id")),
		Name:        r.get(row, "name"),
		Description: r.get(row, "description"),
		Image:       r.get(row, "image"),
		URL:         r.get(row, "url"),
		Categories:  r.ids(row, "categories"),
		Brand:       r.get(row, "brand"),
		SKU:         r.get(row, "sku"),
	}
	var err error
	if p.Price, err = r.money(row, "price"); err != nil {
		return p, err
	}
	if p.ListPrice, err = r.money(row, "list_price"); err != nil {
		return p, err
	}
	if r.get(row, "stock") != "" {
		stock, err := r.money(row, "stock")
		if err != nil {
			return p, err
		}
		p.Stock = &stock
	}
	if p.CreatedAt, err = r.time(row, "created_at"); err != nil {
		return p, err
	}
	p.Extra = r.extra(row)
	return p, nil
}

func (r *csvRows) extra(row []string) map[string]any {
	var extra map[string]any
	for _, x := range r.cols.extra {
		if x.index >= len(row) {
			continue
		}
		v := strings.TrimSpace(row[x.index])
		if v == "" {
			continue
		}
		if extra == nil {
			extra = map[string]any{}
		}
		extra[x.name] = v
	}
	return extra
}

func (r *csvRows) category(row []string) (ingest.Category, error) {
	return ingest.Category{
		ID:            ingest.ID(r.get(row, "id")),
		Name:          r.get(row, "name"),
		URL:           r.get(row, "url"),
		Subcategories: r.ids(row, "subcategories"),
	}, nil
}

func (r *csvRows) customer(row []string) (ingest.Customer, error) {
	return ingest.Customer{
		ID:    ingest.ID(r.get(row, "id")),
		Name:  r.get(row, "name"),
		Email: r.get(row, "email"),
		Extra: r.extra(row),
	}, nil
}

func (r *csvRows) page(row []string) (ingest.Page, error) {
	return ingest.Page{
		ID:    ingest.ID(r.get(row, "id")),
		Type:  r.get(row, "type"),
		URL:   r.get(row, "url"),
		Title: r.get(row, "title"),
		Text:  r.get(row, "text"),
	}, nil
}

// orderLine reads one order line; quantity defaults to 1.
func (r *csvRows) orderLine(row []string) (ingest.OrderLine, error) {
	l := ingest.OrderLine{ID: ingest.ID(r.get(row, "product")), Quantity: 1}
	if l.ID == "" {
		return l, &ingest.FieldError{Field: "product", Reason: "empty product id"}
	}
	if r.get(row, "quantity") != "" {
		q, err := r.money(row, "quantity")
		if err != nil {
			return l, err
		}
		l.Quantity = q
	}
	var err error
	l.Price, err = r.money(row, "price")
	return l, err
}

// parseDecimal reads a number with optional thousands grouping: "1,234.50"
// or, with decimalComma, "1.234,50" and "12,50". A separator that is not
// a decimal point must be followed by groups of exactly three digits, so
// that "12,50" never silently becomes 1250.
func parseDecimal(s string, decimalComma bool) (float64, error) {
	dec, group := ".", ","
	if decimalComma {
		dec, group = ",", "."
	}
	s = strings.ReplaceAll(s, "\u00a0", "")
	s = strings.ReplaceAll(s, " ", "")
	intPart, frac, hasFrac := strings.Cut(s, dec)
	if hasFrac && strings.Contains(frac, group) {
		return 0, fmt.Errorf("not a number: %s", ingest.Quote(s))
	}
	if strings.Contains(intPart, group) {
		groups := strings.Split(intPart, group)
		for i, g := range groups {
			digits := strings.TrimLeft(g, "+-")
			if (i == 0 && (digits == "" || len(digits) > 3)) || (i > 0 && len(g) != 3) {
				hint := ""
				if !decimalComma && i == len(groups)-1 && !hasFrac {
					hint = " (a decimal comma? set decimal_comma)"
				}
				return 0, fmt.Errorf("not a number: %s%s", ingest.Quote(s), hint)
			}
		}
		intPart = strings.Join(groups, "")
	}
	num := intPart
	if hasFrac {
		num += "." + frac
	}
	// Digits, one point and a leading sign only: ParseFloat would also
	// take "NaN", "Inf", "1e5" and "0x1p4".
	body := strings.TrimLeft(num, "+-")
	if len(num)-len(body) > 1 || strings.Trim(body, "0123456789.") != "" || strings.Trim(body, ".") == "" {
		return 0, fmt.Errorf("not a number: %s", ingest.Quote(s))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number: %s", ingest.Quote(s))
	}
	return v, nil
}

// skipBOM drops a UTF-8 byte order mark, which spreadsheet exports put
// before the first header.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3)
	}
	return br
}
