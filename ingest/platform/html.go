package platform

import (
	"strings"

	"golang.org/x/net/html"
)

// stripHTML turns a platform's HTML description (Shopify body_html,
// WooCommerce description, Magento's description attribute) into plain
// text: tags dropped, entities decoded, script and style content dropped,
// block elements and line breaks turned into spaces, runs of white space
// collapsed, and the result cut at max bytes. golang.org/x/net/html is
// already in Sibyl's module graph; its tokenizer is linear in the input
// and copes with any malformed markup, which a hand-written stripper
// would have to re-learn.
func stripHTML(s string, max int) string {
	if !strings.ContainsAny(s, "<&") {
		return clipText(collapseSpace(s), max)
	}
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0 // depth inside <script> or <style>
	for b.Len() <= max {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return clipText(collapseSpace(b.String()), max)
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style":
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case "br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "table",
				"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section", "article", "hr":
				b.WriteByte(' ')
			}
		}
	}
	return clipText(collapseSpace(b.String()), max)
}

// collapseSpace trims s and turns every run of white space into one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
