package graphql

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/qgate/qgate"
)

func toOps(a qgate.GraphQLAnalysis) []op {
	var out []op
	for _, o := range a.Operations {
		out = append(out, op{o.Type, o.Name, o.Fields})
	}
	return out
}

func TestAnalyze(t *testing.T) {
	for _, tc := range analyzeCases {
		t.Run(tc.name, func(t *testing.T) {
			a := Analyze(tc.req)
			if !a.Present {
				t.Error("Present = false")
			}
			if a.Operations == nil {
				t.Error("Operations is nil")
			}
			if tc.err != "" {
				if !strings.Contains(a.ParseError, tc.err) {
					t.Fatalf("ParseError = %q, want it to contain %q", a.ParseError, tc.err)
				}
				if a.ReadOnly {
					t.Error("ReadOnly with a parse error")
				}
				return
			}
			if a.ParseError != "" {
				t.Fatalf("unexpected ParseError %q", a.ParseError)
			}
			if got := toOps(a); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("operations = %+v, want %+v", got, tc.want)
			}
			if a.ReadOnly != tc.readOnly {
				t.Errorf("ReadOnly = %v, want %v", a.ReadOnly, tc.readOnly)
			}
		})
	}
}

func TestAnalyzeBatch(t *testing.T) {
	a := AnalyzeBatch([]Request{q(`{ users { id } }`), q(`mutation { deleteUser(id: 1) }`)})
	if a.ParseError != "" || a.ReadOnly {
		t.Fatalf("ParseError %q ReadOnly %v", a.ParseError, a.ReadOnly)
	}
	want := []op{{"query", "", []string{"users"}}, {"mutation", "", []string{"deleteUser"}}}
	if got := toOps(a); !reflect.DeepEqual(got, want) {
		t.Errorf("operations = %+v, want %+v", got, want)
	}

	a = AnalyzeBatch([]Request{q(`{ a }`), q(`{ b }`)})
	if !a.ReadOnly || len(a.Operations) != 2 {
		t.Errorf("batch of queries: %+v", a)
	}

	a = AnalyzeBatch([]Request{q(`{ a }`), q(`{ b `)})
	if a.ReadOnly || !strings.HasPrefix(a.ParseError, "batch element 1: ") {
		t.Errorf("batch with a bad element: %+v", a)
	}

	a = AnalyzeBatch(nil)
	if a.ReadOnly || a.ParseError == "" || a.Operations == nil {
		t.Errorf("empty batch: %+v", a)
	}
}

func TestAnalysisJSONShape(t *testing.T) {
	b, err := json.Marshal(Analyze(q(`{ ...F } fragment F on Query { a }`)))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"present":true,"read_only":true,"operations":[{"type":"query","name":"","fields":["a"]}]}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(Analyze(q(``)))
	if !strings.Contains(string(b), `"operations":[]`) {
		t.Errorf("operations not an empty list: %s", b)
	}
}

func TestSpans(t *testing.T) {
	query := "query A { a }\n\"\"\"desc\"\"\"\nmutation B { b(x: \"}\") } # }\nfragment F on Query { c }"
	res := AnalyzeRequests([]Request{named(query, "B")})
	if res.Analysis.ParseError != "" {
		t.Fatal(res.Analysis.ParseError)
	}
	sp := res.Spans[0]
	if got := query[sp.Start:sp.End]; got != `mutation B { b(x: "}") }` {
		t.Errorf("span text = %q", got)
	}

	query = "# é ü\nmutation M { x: deleteAll(s: \"ß\") }  "
	res = AnalyzeRequests([]Request{q(query)})
	sp = res.Spans[0]
	if got := query[sp.Start:sp.End]; got != `mutation M { x: deleteAll(s: "ß") }` {
		t.Errorf("span text with non-ASCII = %q", got)
	}

	query = "query{a}query B{b}"
	res = AnalyzeRequests([]Request{named(query, "")})
	if res.Analysis.ParseError == "" {
		t.Fatal("want an error")
	}
	res = AnalyzeRequests([]Request{q(`{a}`), named("query A{a}mutation B{b}", "B")})
	sp = res.Spans[1]
	if sp.Request != 1 || sp.Start != 10 || sp.End != 23 {
		t.Errorf("batch span = %+v", sp)
	}
}

func TestErrorOffsets(t *testing.T) {
	query := "# ü\nquery {\n  a("
	res := AnalyzeRequests([]Request{q(query)})
	if !strings.HasPrefix(res.Analysis.ParseError, "3:5: ") {
		t.Fatalf("ParseError = %q", res.Analysis.ParseError)
	}
	if res.ErrorAt.Start != len(query) {
		t.Errorf("error offset = %d, want %d", res.ErrorAt.Start, len(query))
	}

	query = "{ a } mutation B { b }"
	res = AnalyzeRequests([]Request{named(query, "B")})
	if got := query[res.ErrorAt.Start:res.ErrorAt.End]; got != "{" {
		t.Errorf("anonymous operation error at %q", got)
	}
	query = "{ ...A } fragment A on Q { ...B } fragment B on Q { x { ...A } }"
	res = AnalyzeRequests([]Request{q(query)})
	if got := query[res.ErrorAt.Start:res.ErrorAt.End]; got != "A" || !strings.Contains(res.Analysis.ParseError, "cycle") {
		t.Errorf("cycle error %q at %q", res.Analysis.ParseError, got)
	}
}

func TestFindings(t *testing.T) {
	query := `mutation M { deleteUser(id: 1) }`
	res := AnalyzeRequests([]Request{q(query)})
	codes := func(fs []qgate.Finding) []string {
		var c []string
		for _, f := range fs {
			c = append(c, f.Code+"/"+f.Severity.String())
		}
		return c
	}
	fs := res.Findings(false)
	if got := codes(fs); !reflect.DeepEqual(got, []string{"graphql.mutation/medium"}) {
		t.Errorf("findings = %v", got)
	}
	if fs[0].Start != 0 || fs[0].End != len(query) || !strings.Contains(fs[0].Message, "deleteUser") {
		t.Errorf("finding = %+v", fs[0])
	}
	if got := codes(res.Findings(true)); !reflect.DeepEqual(got, []string{"graphql.mutation/medium", "graphql.mutation_over_get/high"}) {
		t.Errorf("findings over GET = %v", got)
	}
	res = AnalyzeRequests([]Request{q(`subscription { s }`), q(`{ a }`)})
	fs = res.Findings(true)
	if got := codes(fs); !reflect.DeepEqual(got, []string{"graphql.subscription/medium"}) || !strings.Contains(fs[0].Message, "batch element 0") {
		t.Errorf("subscription findings = %v %+v", got, fs)
	}
	res = AnalyzeRequests([]Request{q(`{ a(`)})
	fs = res.Findings(false)
	if got := codes(fs); !reflect.DeepEqual(got, []string{"graphql.parse_error/critical"}) {
		t.Errorf("parse error findings = %v", got)
	}
	if fs := AnalyzeRequests([]Request{q(`{ a }`)}).Findings(true); fs == nil || len(fs) != 0 {
		t.Errorf("query findings = %#v", fs)
	}
	many := "mutation {" + "a b c d e f g h i j k l m}"
	fs = AnalyzeRequests([]Request{q(many)}).Findings(false)
	if !strings.Contains(fs[0].Message, "and 3 more") {
		t.Errorf("long field list message = %q", fs[0].Message)
	}
}

func TestErrorResult(t *testing.T) {
	res := ErrorResult(errString("bad envelope"))
	if !res.Analysis.Present || res.Analysis.ReadOnly || res.Analysis.ParseError != "bad envelope" || res.Analysis.Operations == nil {
		t.Errorf("%+v", res)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
