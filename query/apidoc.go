package query

import (
	"fmt"
	"strings"
)

// endpointsMarkdown is the endpoint list of docs/api.md, made from the
// route table; TestAPIDocEndpoints fails when the file's copy is stale
// (go test ./query -run TestAPIDocEndpoints -update rewrites it).
func endpointsMarkdown() string {
	// The logics' common parameters are named once, in the text; JSONP's
	// callback stays, as it is not on every logic.
	common := map[string]bool{}
	for _, p := range logicParams() {
		common[p.Name] = p.Name != "callback"
	}
	delete(common, "callback")
	var b strings.Builder
	b.WriteString("| path | methods | key | writes | parameters (* required) | operationId | what |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, e := range endpoints {
		// One row per run of operations alike but for their method (GET
		// and POST of the same parameters).
		for i := 0; i < len(e.Ops); {
			j := i + 1
			for j < len(e.Ops) && e.Ops[j].Writes == e.Ops[i].Writes && e.Ops[j].Summary == e.Ops[i].Summary {
				j++
			}
			var methods, ids, ps []string
			for _, op := range e.Ops[i:j] {
				methods = append(methods, op.Method)
				if op.Method == "GET" {
					methods = append(methods, "HEAD")
				}
				ids = append(ids, "`"+op.ID+"`")
				if ps == nil && op.Params != nil {
					ps = paramsDoc(op.Params, common)
					if op.Body != nil {
						ps = append(ps, "JSON body")
					}
				}
			}
			if ps == nil && e.Ops[i].Body != nil {
				ps = []string{"JSON body"}
			}
			summary := e.Ops[i].Summary
			if summary == "" {
				summary = e.Summary
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", e.Path, strings.Join(methods, ", "), e.Access,
				writesWord(e.Ops[i].Writes), strings.Join(ps, " "), strings.Join(ids, " "), strings.ReplaceAll(summary, "|", `\|`))
			i = j
		}
	}
	return b.String()
}

// paramsDoc names the parameters, the logics' common ones as one.
func paramsDoc(params []Param, common map[string]bool) []string {
	n := 0
	for _, p := range params {
		if common[p.Name] {
			n++
		}
	}
	all := n == len(common)
	var out []string
	for _, p := range params {
		if all && common[p.Name] {
			continue
		}
		s := "`" + p.Name + "`"
		if p.Required {
			s += "*"
		}
		out = append(out, s)
	}
	if all {
		out = append(out, "+ the logics' common ones")
	}
	return out
}

func writesWord(w Writes) string {
	switch w {
	case ShardWrite:
		return "shard"
	case MetaWrite:
		return "meta"
	}
	return ""
}
