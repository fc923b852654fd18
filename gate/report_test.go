package gate_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/qgate/qgate/gate"
)

// The report has every key of the check contract, with lists (never
// null) for matched and requirements, and the analysis of the protocol.
func TestReport(t *testing.T) {
	g, cfg := MustGate(t, nil)
	for _, tc := range []struct {
		in       gate.Input
		decision string
		has      string
	}{
		{gate.Input{Target: cfg.Target("db"), SQL: "UPDATE t SET a = 1"}, "review", "sql"},
		{gate.Input{Target: cfg.Target("api"), Method: "POST", Path: "/x", Body: "{}"}, "review", "http"},
		{gate.Input{Target: cfg.Target("db"), SQL: ""}, "review", "sql"}, // nothing matches: the default
	} {
		req, d, err := g.Evaluate(context.Background(), tc.in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(gate.Report(req, d))
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]json.RawMessage
		json.Unmarshal(b, &out)
		var keys []string
		for k := range out {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := []string{"decision", "default", "matched", "message", "request", "requirements", "risk", tc.has, "token"}
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			t.Fatalf("keys %v, want %v", keys, want)
		}
		if string(out["decision"]) != `"`+tc.decision+`"` || string(out["matched"]) == "null" || string(out["requirements"]) == "null" {
			t.Fatalf("report %s", b)
		}
		if d.Default && string(out["matched"]) != "[]" {
			t.Fatalf("default decision's matched = %s", out["matched"])
		}
	}
}
