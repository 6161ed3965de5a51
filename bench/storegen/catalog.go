package storegen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sibylhq/sibyl/ingest"
)

// CatalogConfig sizes a generated catalog.
type CatalogConfig struct {
	Products int
	Seed     uint64
}

// Catalog is a generated store's products and category tree, realistic
// enough for search: names of 2 to 6 words from a Zipf-distributed
// vocabulary (adjectives, colours, materials, product nouns, sizes and
// units such as "12v", "3 tier", "500 ml"), brands, descriptions, prices
// with some products on sale (list_price above price), and the facetable
// attributes colour and material.
//
// Product ids are "p<i>" as Generate's, so Generate's orders (with the
// same Products count) name these products, p0 the most sold.
type Catalog struct {
	Categories []ingest.Category
	Products   []ingest.Product
	// Largest is the top category holding the most products, and
	// LargestName its name: the query with the most matches.
	Largest     ingest.ID
	LargestName string
	// Sizes counts the products of each category id (top categories count
	// those of their subcategories).
	Sizes map[ingest.ID]int
}

// Shares of products whose names carry each kind of modifier, and of
// products on sale.
const (
	shareAdjective = 0.55
	shareColour    = 0.45
	shareMaterial  = 0.40
	shareUnit      = 0.35
	shareOnSale    = 0.25
	maxNameWords   = 6
	brandCount     = 240
)

// zipfWeights is 1/(r+1)^s for r in [0, n): the r-th word's share.
func zipfWeights(n int, s float64) []float64 {
	w := make([]float64, n)
	for r := range w {
		w[r] = math.Pow(float64(r+1), -s)
	}
	return w
}

// categoryWeights are the departments' shares of products: the first
// twice the second, then a slow decline (exponent 0.6), so one category
// is clearly the largest and none is tiny.
func categoryWeights(n int) []float64 {
	w := zipfWeights(n, 0.6)
	w[0] *= 2 * w[1] / w[0]
	return w
}

// categoryIDs: department k (0-based) is "k+1", its subcategory j is
// "(k+1)*100+j+1", so ids are short, numeric as Clerk's, and stable.
func topID(k int) ingest.ID    { return ingest.ID(strconv.Itoa(k + 1)) }
func subID(k, j int) ingest.ID { return ingest.ID(strconv.Itoa((k+1)*100 + j + 1)) }

// brandName is the i-th generated brand (deterministic, unique for i <
// len(brandStarts)*len(brandEnds)).
func brandName(i int) string {
	return brandStarts[i%len(brandStarts)] + brandEnds[(i/len(brandStarts))%len(brandEnds)]
}

// GenerateCatalog makes the catalog, deterministic by seed; product i
// depends only on the seed and i, so a larger catalog extends a smaller
// one.
func GenerateCatalog(cfg CatalogConfig) (*Catalog, error) {
	if cfg.Products < 1 || cfg.Products > 1<<26 {
		return nil, fmt.Errorf("%w: catalog of %d products (want 1 to 2^26)", ErrInvalidConfig, cfg.Products)
	}
	c := &Catalog{Sizes: map[ingest.ID]int{}}
	for k, d := range departments {
		top := ingest.Category{ID: topID(k), Name: d.name, URL: "/c/" + slug(d.name)}
		for j, s := range d.subs {
			top.Subcategories = append(top.Subcategories, subID(k, j))
			c.Categories = append(c.Categories, ingest.Category{ID: subID(k, j), Name: s.name, URL: "/c/" + slug(d.name) + "/" + slug(s.name)})
		}
		c.Categories = append(c.Categories, top)
	}
	depts := newSampler(categoryWeights(len(departments)))
	colour := newSampler(zipfWeights(len(colours), 1))
	adjective := newSampler(zipfWeights(len(adjectives), 1))
	brand := newSampler(zipfWeights(brandCount, 1.1))
	benefit := newSampler(zipfWeights(len(benefits), 0.5))
	c.Products = make([]ingest.Product, cfg.Products)
	for i := range c.Products {
		rng := rand.New(rand.NewPCG(cfg.Seed, 0xca7a_1000_0000+uint64(i)))
		k := depts.draw(rng)
		d := &departments[k]
		j := rng.IntN(len(d.subs))
		sub := &d.subs[j]
		noun := sub.nouns[newSampler(zipfWeights(len(sub.nouns), 1)).draw(rng)]
		var adj, col, mat, unit string
		if rng.Float64() < shareAdjective {
			adj = adjectives[adjective.draw(rng)]
		}
		if rng.Float64() < shareColour {
			col = colours[colour.draw(rng)]
		}
		if rng.Float64() < shareMaterial {
			mat = d.materials[newSampler(zipfWeights(len(d.materials), 1)).draw(rng)]
		}
		if rng.Float64() < shareUnit {
			unit = d.units[rng.IntN(len(d.units))]
		}
		if adj == "" && col == "" && mat == "" && unit == "" && !strings.Contains(noun, " ") {
			adj = adjectives[adjective.draw(rng)] // at least two words
		}
		words := func() int { return len(strings.Fields(strings.Join([]string{adj, col, mat, noun, unit}, " "))) }
		// Drop modifiers, least telling first, until the name fits.
		for _, drop := range []*string{&adj, &col, &unit, &mat} {
			if words() <= maxNameWords {
				break
			}
			*drop = ""
		}
		name := capitalise(strings.Join(strings.Fields(strings.Join([]string{adj, col, mat, noun, unit}, " ")), " "))
		b := brandName(brand.draw(rng))
		desc := capitalise(noun) + " by " + b
		if mat != "" {
			desc += " in " + mat
		}
		desc += ", from our " + strings.ToLower(sub.name) + " range. " + benefits[benefit.draw(rng)]
		// Log-normal around the department's median; shop prices end in .99.
		price := math.Floor(d.price*math.Exp(0.7*rng.NormFloat64())) + 0.99
		p := ingest.Product{
			ID:          ingest.ID("p" + strconv.Itoa(i)),
			Name:        name,
			Description: desc,
			Price:       price,
			Brand:       b,
			URL:         "/p/" + strconv.Itoa(i),
			Categories:  []ingest.ID{topID(k), subID(k, j)},
			SKU:         fmt.Sprintf("SKU-%06d", i),
			Extra:       map[string]any{},
		}
		if rng.Float64() < shareOnSale {
			// 10% to 50% off.
			p.ListPrice = math.Floor(price/(0.9-0.4*rng.Float64())) + 0.99
		}
		if col != "" {
			p.Extra["colour"] = col
		} else {
			p.Extra["colour"] = colours[colour.draw(rng)]
		}
		if mat != "" {
			p.Extra["material"] = mat
		} else {
			p.Extra["material"] = d.materials[rng.IntN(len(d.materials))]
		}
		c.Products[i] = p
		c.Sizes[topID(k)]++
		c.Sizes[subID(k, j)]++
	}
	for k := range departments {
		if id := topID(k); c.Largest == "" || c.Sizes[id] > c.Sizes[c.Largest] {
			c.Largest, c.LargestName = id, departments[k].name
		}
	}
	return c, nil
}

func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func slug(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), " ", "-")
}
