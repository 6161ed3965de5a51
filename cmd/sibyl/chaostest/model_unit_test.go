package chaostest

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

// The register model must accept what Sibyl promises and reject what it
// does not (fast; part of `make test`).
func TestRegisterModel(t *testing.T) {
	k := regKey{Store: 0, Product: "p0"}
	op := func(client int, kind opKind, v int64, call, ret int64, out regOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: regInput{Key: k, Kind: kind, Value: v}, Call: call, Return: ret, Output: out}
	}
	present := regOutput{Present: true}
	absent := regOutput{}
	unknown := regOutput{Unknown: true}
	final := func(v int64) regOutput { return regOutput{Present: true, Value: v} }
	const end = 1000
	f := func(name string, want porcupine.CheckResult, h ...porcupine.Operation) {
		t.Helper()
		if got := porcupine.CheckOperationsTimeout(registerModel, h, 0); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	f("probe sees an acknowledged put", porcupine.Ok,
		op(0, opPut, 1, 0, 10, regOutput{}), op(1, opProbe, 0, 20, 30, present))
	f("probe misses an acknowledged put (lost write)", porcupine.Illegal,
		op(0, opPut, 1, 0, 10, regOutput{}), op(1, opProbe, 0, 20, 30, absent))
	f("concurrent probe may miss it", porcupine.Ok,
		op(0, opPut, 1, 0, 10, regOutput{}), op(1, opProbe, 0, 5, 30, absent))
	f("final read must show the last acknowledged value", porcupine.Illegal,
		op(0, opPut, 1, 0, 10, regOutput{}), op(0, opPut, 2, 20, 30, regOutput{}), op(1, opFinal, 0, 40, 50, final(1)))
	f("a delete reports presence at apply time", porcupine.Illegal,
		op(0, opDelete, 0, 0, 10, present))
	f("patch of an absent record is rejected and changes nothing", porcupine.Ok,
		op(0, opPatch, 5, 0, 10, absent), op(1, opProbe, 0, 20, 30, absent))
	f("patch after put", porcupine.Ok,
		op(0, opPut, 1, 0, 10, regOutput{}), op(0, opPatch, 7, 20, 30, present), op(1, opFinal, 0, 40, 50, final(7)))
	f("unknown put may apply late", porcupine.Ok,
		op(0, opPut, 1, 0, end, unknown), op(1, opProbe, 0, 20, 30, absent), op(1, opProbe, 0, 40, 50, present))
	f("unknown put may never apply", porcupine.Ok,
		op(0, opPut, 1, 0, end, unknown), op(1, opFinal, 0, 40, 50, regOutput{}))
	f("unknown put cannot apply before its call", porcupine.Illegal,
		op(1, opProbe, 0, 0, 10, present), op(0, opPut, 1, 20, end, unknown))
	f("once seen, an unknown put stays until overwritten", porcupine.Illegal,
		op(0, opPut, 1, 0, end, unknown), op(1, opProbe, 0, 20, 30, present), op(1, opProbe, 0, 40, 50, absent))
}

// The report of a violation stops where it shows: a probe that misses an
// acknowledged put, followed by more operations that do not matter.
func TestIllegalExcerpt(t *testing.T) {
	k := regKey{Store: 2, Product: "p5"}
	op := func(kind opKind, v int64, call, ret int64, out regOutput) porcupine.Operation {
		return porcupine.Operation{Input: regInput{Key: k, Kind: kind, Value: v}, Call: call, Return: ret, Output: out}
	}
	h := []porcupine.Operation{
		op(opPut, 1, 1e9, 2e9, regOutput{}),
		op(opProbe, 0, 3e9, 4e9, regOutput{}), // absent: the put is lost
		op(opPut, 2, 5e9, 6e9, regOutput{}),
		op(opProbe, 0, 7e9, 8e9, regOutput{Present: true}),
	}
	got := illegalExcerpts(h, 3, 40)
	want := "register store 2 product p5 (4 operations): not linearizable by 4.000s; the last 2 operations called by then (call, return):\n" +
		"      1.000s     2.000s  n0 put(1) -> ok\n" +
		"      3.000s     4.000s  n0 probe() -> absent\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
