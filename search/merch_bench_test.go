package search

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkMerchSearch is merchandising's cost per search (redirect,
// synonyms' alternatives, the plan, applied to 1,000 ranked products):
// "limits" is a store at the limits' scale (10,000 synonym rules, 1,000
// redirects, 10,000 customized searches, 1,000 campaigns of which 100
// fire on every search); "typical" has 50 rules, 20 redirects and 3
// campaigns.
func BenchmarkMerchSearch(b *testing.B) {
	for _, c := range []struct {
		name                             string
		synonyms, redirects, campaigns   int
		allSearchesEvery, customizations int
	}{{"typical", 50, 20, 3, 3, 10}, {"limits", 10000, 1000, 1000, 10, 10000}} {
		b.Run(c.name, func(b *testing.B) {
			var syn []Synonym
			var cus []Customization
			for i := range c.synonyms {
				syn = append(syn, Synonym{Query: fmt.Sprintf("word%d", i), Synonyms: []string{fmt.Sprintf("alt%d", i), fmt.Sprintf("other %d", i)}})
			}
			for i := range c.customizations {
				cus = append(cus, Customization{Query: fmt.Sprintf("query %d", i), Products: PinHide{Pin: []string{"p1", "p2"}, Hide: []string{"p3"}}})
			}
			var red []Redirect
			for i := range c.redirects {
				red = append(red, Redirect{URL: fmt.Sprintf("/r%d", i), Queries: []string{fmt.Sprintf("page %d", i)}, ExactMatch: i%2 == 0})
			}
			var camp []Campaign
			for i := range c.campaigns {
				t := Trigger{Type: TriggerQueries, Queries: []string{fmt.Sprintf("query %d", i)}}
				if i%c.allSearchesEvery == 0 {
					t = Trigger{Type: TriggerAllSearches}
				}
				camp = append(camp, Campaign{ID: fmt.Sprintf("c%04d", i), Rules: []CampaignRule{{Action: ActionPin, Products: []string{fmt.Sprintf("p%d", i)}}}, Triggers: []Trigger{t}})
			}
			m := NewMerch(syn, red, cus, camp, DefaultSettings())
			ranked := make([]string, 1000)
			for i := range ranked {
				ranked[i] = fmt.Sprintf("p%d", i)
			}
			now := time.Unix(1e9, 0)
			b.ReportAllocs()
			for b.Loop() {
				q := "red word42 query 7"
				m.Redirect(q)
				m.Synonyms.Alternatives(q)
				ApplyPlan(m.Plan(q, now, false), ranked)
			}
		})
	}
}
