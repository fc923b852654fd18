package policy

import (
	"strings"
	"testing"

	"cel.dev/cel-go/cel"

	"github.com/qgate/qgate"
)

// TestBoundedCost: a condition run without a cost tracker (boundedCost)
// really costs no more than its estimate, on requests built to make it
// expensive (megabyte strings, thousands of list items); conditions over
// unbounded sizes keep the tracker.
func TestBoundedCost(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	many := make([]string, 5000)
	for i := range many {
		many[i] = huge[:i]
	}
	reqs := []*qgate.Request{
		{Protocol: qgate.ProtocolHTTP, Environment: "prod", Principal: qgate.Principal{Roles: many, Groups: many, Identity: huge},
			HTTP: &qgate.HTTPAnalysis{Method: huge, Path: huge, RawQuery: huge, Headers: map[string]string{"x": huge},
				GraphQL: qgate.GraphQLAnalysis{Present: true, Operations: []qgate.GraphQLOperation{{Type: "query", Name: huge, Fields: many}}}}},
		{Protocol: qgate.ProtocolPostgres, Environment: "prod", Principal: qgate.Principal{Roles: many},
			SQL: &qgate.SQLAnalysis{Text: huge, Fingerprint: huge, Tables: many, Kinds: many, Functions: many}},
	}
	for _, c := range []struct {
		expr    string
		bounded bool
	}{
		{"http.method in ['GET', 'HEAD']", true},
		{"http.method == 'DELETE' && http.path.startsWith('/admin')", true},
		{"request.environment == 'prod' || token.identity == 'ops'", true},
		{"'admin' in token.roles", false},
		{"token.roles.exists(r, r == 'admin')", false},
		{"sql.tables.all(a, a != 'x')", false},
		{"http.path.contains('/internal/')", false},
	} {
		t.Run(c.expr, func(t *testing.T) {
			ast, iss := celEnv.Compile(c.expr)
			if iss.Err() != nil {
				t.Fatal(iss.Err())
			}
			if got := boundedCost(ast); got != c.bounded {
				t.Fatalf("boundedCost = %v, want %v", got, c.bounded)
			}
			est, err := celEnv.EstimateCost(ast, nil)
			if err != nil {
				t.Fatal(err)
			}
			prg, err := celEnv.Program(ast, cel.CostTracking(nil))
			if err != nil {
				t.Fatal(err)
			}
			for _, req := range reqs {
				_, det, err := prg.Eval(&activation{req: req, risk: qgate.NewRisk(nil)})
				if err != nil && !strings.Contains(err.Error(), "no such") {
					t.Fatal(err)
				}
				if det == nil || det.ActualCost() == nil {
					t.Fatal("no actual cost")
				}
				if got := *det.ActualCost(); got > est.Max {
					t.Fatalf("actual cost %d > estimated max %d", got, est.Max)
				}
			}
		})
	}
}
