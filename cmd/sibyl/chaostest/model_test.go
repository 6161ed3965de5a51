package chaostest

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
)

// What the linearizability check covers, precisely.
//
// Sibyl serves data reads (GET /v2/products, /v2/orders) from the node's
// own replica, possibly stale (docs/operations.md): a GET is NOT
// linearizable, and the checker does not treat it as such. Writes go
// through the shard's Raft log, and several write answers report what the
// state machine saw when it applied the command, at its place in the log.
// Those observations are linearizable, and they are what porcupine checks,
// with one register per (store, product id):
//
//	put v     POST /v2/products [{id, price: v}]  -> present, value v
//	patch v   PATCH /v2/products [{id, price: v}] -> 200 if present (value v),
//	          400 "does not exist" if absent (no change)
//	delete    DELETE /v2/products                 -> "applied": 1 if present, 0 if absent;
//	          absent afterwards
//	probe     POST /v2/orders, one order naming the product -> "unknown_products": 1
//	          if absent at apply time, 0 if present (no change to the register)
//	final     GET /v2/products on every node after healing, once every node shows a
//	          barrier order written after all other operations returned and the
//	          nodes agree -> (present, value)
//
// An operation whose outcome is unknown (timeout, connection lost after
// the request was sent, 503, which a forwarding node also answers when the
// node it forwarded to may have applied the write) is kept with a return
// time after the end of the history and accepts any answer: it may take
// effect at any point after its call, or never (linearized last, with no
// later read to observe it). An operation refused before it could be sent
// (connection refused) or refused before Raft (401) is dropped. A probe
// with an unknown outcome observes nothing and changes nothing in the
// register, so it is dropped from this check (its order is still tracked
// by the order check).
//
// Stale GETs during the run are checked only for what the API promises of
// them: a value read was written by some operation called before the read
// returned (no invented data). Acknowledged orders are checked apart (see
// checkOrders): every one is on every node at the end, none twice, none
// that was never sent.

type opKind uint8

const (
	opPut opKind = iota
	opPatch
	opDelete
	opProbe
	opFinal
)

func (k opKind) String() string {
	return [...]string{"put", "patch", "delete", "probe", "final"}[k]
}

// MarshalText names the kind in history.jsonl.
func (k opKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// regKey names one register.
type regKey struct {
	Store   int
	Product string
}

type regInput struct {
	Key   regKey
	Kind  opKind
	Value int64 // put and patch
	Node  int   // the node the request was sent to (-1: several)
}

type regOutput struct {
	Unknown bool
	Present bool
	Value   int64 // final reads
}

type regState struct {
	Present bool
	Value   int64
}

var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[regKey][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(regInput).Key
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]regKey, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].Store != keys[j].Store {
				return keys[i].Store < keys[j].Store
			}
			return keys[i].Product < keys[j].Product
		})
		out := make([][]porcupine.Operation, len(keys))
		for i, k := range keys {
			out[i] = byKey[k]
		}
		return out
	},
	Init: func() interface{} { return regState{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		return stepRegister(state.(regState), input.(regInput), output.(regOutput))
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(regInput), output.(regOutput)
		arg := ""
		if in.Kind == opPut || in.Kind == opPatch {
			arg = fmt.Sprint(in.Value)
		}
		res := "?"
		switch {
		case out.Unknown:
		case in.Kind == opFinal:
			res = regState{out.Present, out.Value}.String()
		case in.Kind == opPut:
			res = "ok"
		default:
			res = map[bool]string{true: "present", false: "absent"}[out.Present]
		}
		return fmt.Sprintf("n%d %s(%s) -> %s", in.Node, in.Kind, arg, res)
	},
	DescribeState: func(state interface{}) string { return state.(regState).String() },
}

func (s regState) String() string {
	if !s.Present {
		return "absent"
	}
	return fmt.Sprint(s.Value)
}

// stepRegister is the sequential specification of one product record.
func stepRegister(s regState, in regInput, out regOutput) (bool, regState) {
	switch in.Kind {
	case opPut:
		return true, regState{true, in.Value}
	case opPatch:
		if !out.Unknown && out.Present != s.Present {
			return false, s
		}
		if s.Present {
			return true, regState{true, in.Value}
		}
		return true, s
	case opDelete:
		if !out.Unknown && out.Present != s.Present {
			return false, s
		}
		return true, regState{}
	case opProbe:
		return out.Unknown || out.Present == s.Present, s
	case opFinal:
		return out.Unknown || (regState{out.Present, out.Value}) == s, s
	}
	return false, s
}

// illegalExcerpts checks each register alone and, for the first few that
// are not linearizable, prints the operations up to the moment the
// violation shows: the earliest time T at which the history cut at T
// (operations called by T; answers that came after T treated as unknown)
// is already not linearizable. Linearizability is prefix-closed, so that
// cut is a genuine counterexample, and its last operations are the ones
// to look at.
func illegalExcerpts(ops []porcupine.Operation, keys, lines int) string {
	var b strings.Builder
	for _, part := range registerModel.Partition(ops) {
		if keys == 0 {
			break
		}
		if porcupine.CheckOperations(registerModel, part) {
			continue
		}
		keys--
		var end int64
		var times []int64
		for _, op := range part {
			end = max(end, op.Return)
			if !op.Output.(regOutput).Unknown {
				times = append(times, op.Return)
			}
		}
		slices.Sort(times)
		cutAt := func(t int64) []porcupine.Operation {
			var cut []porcupine.Operation
			for _, op := range part {
				if op.Call > t {
					continue
				}
				if op.Return > t && !op.Output.(regOutput).Unknown {
					op.Output, op.Return = regOutput{Unknown: true}, end
				}
				cut = append(cut, op)
			}
			return cut
		}
		i := sort.Search(len(times), func(i int) bool { return !porcupine.CheckOperations(registerModel, cutAt(times[i])) })
		t := end
		if i < len(times) {
			t = times[i]
		}
		var shown []porcupine.Operation
		for _, op := range part {
			if op.Call <= t {
				shown = append(shown, op)
			}
		}
		sort.Slice(shown, func(i, j int) bool { return shown[i].Call < shown[j].Call })
		shown = shown[max(0, len(shown)-lines):]
		k := part[0].Input.(regInput).Key
		fmt.Fprintf(&b, "register store %d product %s (%d operations): not linearizable by %.3fs; the last %d operations called by then (call, return):\n",
			k.Store, k.Product, len(part), float64(t)/1e9, len(shown))
		for _, op := range shown {
			ret := fmt.Sprintf("%9.3fs", float64(op.Return)/1e9)
			if op.Output.(regOutput).Unknown {
				ret = "  unknown "
			}
			fmt.Fprintf(&b, "  %9.3fs %s  %s\n", float64(op.Call)/1e9, ret, registerModel.DescribeOperation(op.Input, op.Output))
		}
	}
	return b.String()
}
