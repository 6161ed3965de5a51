package quality

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sibylhq/sibyl/demo"
)

// isSearchProtocol reports whether p is a search protocol: those read the
// repository's bundled Online Retail file, not the shared folder.
func isSearchProtocol(p string) bool {
	return p == ProtocolSearchKnownItem || p == ProtocolSearchSales
}

// LoadBundledRetail reads the repository's Online Retail copy
// (demo/online-retail.csv.gz, the same bytes as the shared one) or, run
// outside a checkout with a data folder given, the shared copy in it.
func LoadBundledRetail(dataDir string) (*Retail, error) {
	root, err := demo.ModuleRoot()
	if err != nil {
		if dataDir != "" {
			return LoadRetail(dataDir)
		}
		return nil, fmt.Errorf("cannot find the bundled Online Retail file (run inside the repository, or give --data): %w", err)
	}
	return LoadRetailFile(filepath.Join(root, demo.OnlineRetailFile))
}

func (o Options) searchQueries() int {
	if o.SearchQueries == 0 {
		return DefaultSearchQueries
	}
	return o.SearchQueries
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Known-item table columns: MRR@10 and Recall@10 per kind, then latency.
func knownItemColumns() []string {
	var cols []string
	for _, k := range QueryKinds {
		cols = append(cols, "MRR@10 "+string(k), "Recall@10 "+string(k))
	}
	return append(cols, "p50 ms", "p99 ms")
}

// Engine names of the known-item table.
const (
	EngineSibyl         = "Sibyl (search.Index, popularity Score, as served)"
	EngineSibylTextOnly = "Sibyl, text relevance alone (no Score)"
	EngineBleve         = "Bleve v2.6.3 (BM25, in memory), query by kind"
	EngineBleveFuzzy    = "Bleve, typo-tolerant query for every kind"
)

// KnownItemTable turns a report into search-known-item's table.
func KnownItemTable(rep *KnownItemReport) Table {
	t := Table{Protocol: ProtocolSearchKnownItem, Columns: knownItemColumns()}
	sib := Row{Model: EngineSibyl, Values: map[string]float64{"p50 ms": ms(rep.SibylLatency.P50), "p99 ms": ms(rep.SibylLatency.P99)}}
	text := Row{Model: EngineSibylTextOnly, Values: map[string]float64{}, Note: "not timed"}
	bl := Row{Model: EngineBleve, Values: map[string]float64{"p50 ms": ms(rep.BleveLatency.P50), "p99 ms": ms(rep.BleveLatency.P99)}}
	fuzzy := Row{Model: EngineBleveFuzzy, Values: map[string]float64{}, Note: "not timed"}
	var counts []string
	for _, k := range rep.Kinds {
		for _, r := range []struct {
			row *Row
			m   SearchMetrics
		}{{&sib, k.Sibyl}, {&text, k.SibylTextOnly}, {&bl, k.Bleve}, {&fuzzy, k.BleveFuzzy}} {
			r.row.Values["MRR@10 "+string(k.Kind)] = r.m.MRR10
			r.row.Values["Recall@10 "+string(k.Kind)] = r.m.Recall10
		}
		t.Cases += k.Sibyl.Queries
		counts = append(counts, fmt.Sprintf("%s %d", k.Kind, k.Sibyl.Queries))
	}
	sib.Note = fmt.Sprintf("queries: %s; %d products; %s", strings.Join(counts, ", "), rep.Products, byKindNote(rep.SibylByKind))
	bl.Note = byKindNote(rep.BleveByKind)
	t.Rows = []Row{sib, text, bl, fuzzy}
	return t
}

// byKindNote lists p50/p99 per query kind in milliseconds.
func byKindNote(l map[QueryKind]Latency) string {
	var parts []string
	for _, k := range QueryKinds {
		if v, ok := l[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.3f/%.3f", k, ms(v.P50), ms(v.P99)))
		}
	}
	return "p50/p99 ms by kind: " + strings.Join(parts, ", ")
}

// RunSearchKnownItem runs search-known-item on d.
func RunSearchKnownItem(d *Retail, o Options) (Table, error) {
	rep, err := RunKnownItem(d, KnownItemConfig{PerKind: o.searchQueries(), Seed: o.Seed, LatencyPasses: LatencyPasses})
	if err != nil {
		return Table{}, err
	}
	return KnownItemTable(rep), nil
}

// RunSearchSales runs search-sales on d.
func RunSearchSales(d *Retail, o Options) (Table, error) {
	rep, err := RunSales(d, o.searchQueries(), o.Seed)
	if err != nil {
		return Table{}, err
	}
	t := Table{Protocol: ProtocolSearchSales, Columns: []string{"MRR@10", "Recall@10"}, Cases: rep.WithSales.Queries}
	note := fmt.Sprintf("words queries from %d sampled of %d test-period purchases", rep.WithSales.Queries, rep.Purchases)
	t.Rows = []Row{
		{Model: "Sibyl with the store's signals (train-period popularity as Score, as served)", Note: note,
			Values: map[string]float64{"MRR@10": rep.WithSales.MRR10, "Recall@10": rep.WithSales.Recall10}},
		{Model: "Sibyl, text relevance alone (no Score)",
			Values: map[string]float64{"MRR@10": rep.TextOnly.MRR10, "Recall@10": rep.TextOnly.Recall10}},
	}
	return t, nil
}
