package bench

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"strings"
)

// Request is one HTTP request to send.
type Request struct {
	// Label names the endpoint for the per-endpoint breakdown of a mix.
	Label string
	// Method is GET, POST, ...
	Method string
	// Path is the path and query string, e.g. "/v2/recommendations/popular?key=k&limit=10".
	Path string
	// Body and ContentType are sent when Body is not nil.
	Body        []byte
	ContentType string
}

// Target generates the requests of a run.
type Target interface {
	// Name labels the target in reports.
	Name() string
	// Next fills req with the next request. Each worker calls it with its
	// own rng, so implementations must be safe for concurrent use as long as
	// they draw randomness only from rng.
	Next(rng *rand.Rand, req *Request)
}

// Fixed sends the same request every time.
type Fixed Request

// Name implements Target.
func (f Fixed) Name() string { return f.Label }

// Next implements Target.
func (f Fixed) Next(_ *rand.Rand, req *Request) { *req = Request(f) }

// FuncTarget adapts a function to Target.
type FuncTarget struct {
	Label string
	Fn    func(rng *rand.Rand, req *Request)
}

// Name implements Target.
func (f FuncTarget) Name() string { return f.Label }

// Next implements Target.
func (f FuncTarget) Next(rng *rand.Rand, req *Request) {
	f.Fn(rng, req)
	if req.Label == "" {
		req.Label = f.Label
	}
}

// Choice draws strings with given weights (uniformly when none are given).
type Choice struct {
	values []string
	cum    []float64 // cumulative weights; nil means uniform
}

// NewChoice returns a Choice over values. weights may be nil (uniform) or
// one non-negative weight per value with a positive sum.
func NewChoice(values []string, weights []float64) (*Choice, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("cannot make a choice over no values")
	}
	c := &Choice{values: values}
	if weights == nil {
		return c, nil
	}
	if len(weights) != len(values) {
		return nil, fmt.Errorf("cannot make a choice: %d weights for %d values", len(weights), len(values))
	}
	c.cum = make([]float64, len(weights))
	sum := 0.0
	for i, w := range weights {
		if w < 0 {
			return nil, fmt.Errorf("cannot make a choice: negative weight %v for %q", w, values[i])
		}
		sum += w
		c.cum[i] = sum
	}
	if !(sum > 0) {
		return nil, fmt.Errorf("cannot make a choice: weights sum to %v", sum)
	}
	return c, nil
}

// Len is the number of values.
func (c *Choice) Len() int { return len(c.values) }

// Pick draws one value.
func (c *Choice) Pick(rng *rand.Rand) string {
	if c.cum == nil {
		return c.values[rng.IntN(len(c.values))]
	}
	x := rng.Float64() * c.cum[len(c.cum)-1]
	i := sort.SearchFloat64s(c.cum, x)
	if i >= len(c.values) {
		i = len(c.values) - 1
	}
	return c.values[i]
}

// Template sends requests whose path has {name} placeholders, each replaced
// (query-escaped) by a fresh draw from the Choice of that name, e.g.
// "/v2/recommendations/complementary?key=k&products=%5B{product}%5D".
type Template struct {
	label  string
	method string
	parts  []string // literal text, then alternately placeholder names
	vars   []*Choice
}

// NewTemplate parses path. Every placeholder must have a Choice in vars.
func NewTemplate(label, method, path string, vars map[string]*Choice) (*Template, error) {
	t := &Template{label: label, method: method}
	rest := path
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			t.parts = append(t.parts, rest)
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("cannot parse template %q: unclosed {", path)
		}
		name := rest[open+1 : open+end]
		c, ok := vars[name]
		if !ok || c == nil {
			return nil, fmt.Errorf("cannot parse template %q: no values for {%s}", path, name)
		}
		t.parts = append(t.parts, rest[:open])
		t.vars = append(t.vars, c)
		rest = rest[open+end+1:]
	}
	return t, nil
}

// Name implements Target.
func (t *Template) Name() string { return t.label }

// Next implements Target.
func (t *Template) Next(rng *rand.Rand, req *Request) {
	var b strings.Builder
	for i, lit := range t.parts {
		b.WriteString(lit)
		if i < len(t.vars) {
			b.WriteString(url.QueryEscape(t.vars[i].Pick(rng)))
		}
	}
	*req = Request{Label: t.label, Method: t.method, Path: b.String()}
}

// Mix draws each request from one of its parts, with the given weights; a
// realistic traffic mix is a Mix of endpoint targets.
type Mix struct {
	label string
	parts []Target
	pick  *Choice // over part indices
}

// WeightedTarget is one part of a Mix.
type WeightedTarget struct {
	Weight float64
	Target Target
}

// NewMix builds a Mix. Part names should differ so the per-endpoint
// breakdown stays readable.
func NewMix(label string, parts ...WeightedTarget) (*Mix, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("cannot make mix %q: no parts", label)
	}
	m := &Mix{label: label}
	names := make([]string, len(parts))
	weights := make([]float64, len(parts))
	for i, p := range parts {
		if p.Target == nil {
			return nil, fmt.Errorf("cannot make mix %q: part %d has no target", label, i)
		}
		m.parts = append(m.parts, p.Target)
		names[i] = fmt.Sprint(i)
		weights[i] = p.Weight
	}
	c, err := NewChoice(names, weights)
	if err != nil {
		return nil, fmt.Errorf("cannot make mix %q: %w", label, err)
	}
	m.pick = c
	return m, nil
}

// Name implements Target.
func (m *Mix) Name() string { return m.label }

// Next implements Target.
func (m *Mix) Next(rng *rand.Rand, req *Request) {
	i := 0
	if m.pick.cum != nil {
		x := rng.Float64() * m.pick.cum[len(m.pick.cum)-1]
		i = min(sort.SearchFloat64s(m.pick.cum, x), len(m.parts)-1)
	}
	m.parts[i].Next(rng, req)
	if req.Label == "" {
		req.Label = m.parts[i].Name()
	}
}
