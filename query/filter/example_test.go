package filter_test

import (
	"fmt"
	"slices"

	"github.com/sibylhq/sibyl/query/filter"
)

func Example() {
	index := filter.NewIndex(slices.Values([]filter.Item{
		{Index: 0, Attrs: map[string]any{"price": 12.5, "categories": []string{"1", "7"}, "brand": "Acme"}},
		{Index: 1, Attrs: map[string]any{"price": 8.0, "categories": []string{"2"}, "on_sale": true}},
		{Index: 2, Attrs: map[string]any{"price": 30.0, "categories": []string{"3"}}},
	}))
	expr, err := filter.Parse(`price > 10 and categories in [1,2] or on_sale = true`)
	if err != nil {
		panic(err)
	}
	fmt.Println(expr)
	fmt.Println(index.Eval(expr).ToArray())
	fmt.Println(filter.Match(expr, map[string]any{"price": 11.0, "categories": []any{2.0}}))

	_, err = filter.Parse(`price > 10 and categories in )`)
	fmt.Println(err)
	// Output:
	// price > 10 and categories in [1, 2] or on_sale = true
	// [0 1]
	// true
	// at 29: expected a list [...] after "in", got ")"
}
