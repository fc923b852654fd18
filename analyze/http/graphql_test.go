package httpanalyze

import (
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/qgate/qgate"
)

type gqlCase struct {
	name        string
	method      string
	target      string
	contentType string
	body        string
	truncated   bool
	present     bool
	readOnly    bool
	ops         []string // "type name: field,field"
	err         string   // substring of ParseError
	codes       []string // GraphQL finding codes, in order
}

func getQuery(q string, extra ...string) string {
	v := url.Values{"query": {q}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Add(extra[i], extra[i+1])
	}
	return "/graphql?" + v.Encode()
}

var gqlCases = []gqlCase{
	{name: "POST JSON query", method: "POST", target: "/graphql", contentType: "application/json",
		body: `{"query":"query Q { users { id } }","variables":{}}`, present: true, readOnly: true,
		ops: []string{"query Q: users"}},
	{name: "POST JSON mutation", method: "POST", target: "/graphql", contentType: "application/json",
		body: `{"query":"mutation { safe: deleteUser(id: 1) { ok } }"}`, present: true,
		ops: []string{"mutation : deleteUser"}, codes: []string{"graphql.mutation/medium"}},
	{name: "POST JSON operationName", method: "POST", target: "/graphql", contentType: "application/json",
		body: `{"query":"query A { a } mutation B { b }","operationName":"A"}`, present: true, readOnly: true,
		ops: []string{"query A: a"}},
	{name: "POST JSON two operations without operationName", method: "POST", target: "/graphql", contentType: "application/json",
		body: `{"query":"query A { a } mutation B { b }"}`, present: true,
		err: "operationName is required", codes: []string{"graphql.parse_error/critical"}},
	{name: "batch with a query and a mutation", method: "POST", target: "/graphql", contentType: "application/json",
		body: `[{"query":"{ users { id } }"},{"query":"mutation M { dropAll }"}]`, present: true,
		ops: []string{"query : users", "mutation M: dropAll"}, codes: []string{"graphql.mutation/medium"}},
	{name: "batch with a non-object", method: "POST", target: "/graphql", contentType: "application/json",
		body: `[{"query":"{ a }"}, 1]`, present: true, err: "batch element 1 is not an object",
		codes: []string{"graphql.parse_error/critical"}},
	{name: "application/graphql body", method: "POST", target: "/graphql", contentType: "application/graphql",
		body: "subscription { ticks }", present: true, ops: []string{"subscription : ticks"},
		codes: []string{"graphql.subscription/medium"}},
	{name: "GET query", method: "GET", target: getQuery("{ me { name } }"), present: true, readOnly: true,
		ops: []string{"query : me"}},
	{name: "GET named query", method: "GET", target: getQuery("query A { a } query B { b }", "operationName", "B", "variables", "{}"),
		present: true, readOnly: true, ops: []string{"query B: b"}},
	{name: "GET mutation", method: "GET", target: getQuery("mutation { deleteUser(id: 1) }"), present: true,
		ops: []string{"mutation : deleteUser"}, codes: []string{"graphql.mutation/medium", "graphql.mutation_over_get/high"}},
	{name: "GET repeated query", method: "GET", target: getQuery("{ a }", "query", "mutation { b }"), present: true,
		err: `"query" is repeated`, codes: []string{"graphql.parse_error/critical"}},
	{name: "GET without parameters", method: "GET", target: "/graphql", present: true, readOnly: true},
	{name: "GET other parameters only", method: "GET", target: "/graphql?x=1", present: true, readOnly: true},
	{name: "GET persisted document", method: "GET", target: "/graphql?documentId=sha256:abc", present: true,
		err: "persisted documents", codes: []string{"graphql.parse_error/critical"}},
	{name: "GET persisted query extension", method: "GET", target: "/graphql?extensions=" + url.QueryEscape(`{"persistedQuery":{"version":1,"sha256Hash":"x"}}`),
		present: true, err: "persisted queries", codes: []string{"graphql.parse_error/critical"}},
	{name: "POST persisted document", method: "POST", target: "/graphql", contentType: "application/json",
		body: `{"documentId":"sha256:abc"}`, present: true, err: `unsupported key "documentId"`,
		codes: []string{"graphql.parse_error/critical"}},
	{name: "POST without body", method: "POST", target: "/graphql", contentType: "application/json", present: true,
		err: "missing query", codes: []string{"graphql.parse_error/critical"}},
	{name: "POST with URL and body", method: "POST", target: getQuery("mutation { b }"), contentType: "application/json",
		body: `{"query":"{ a }"}`, present: true, err: "both the URL and the body", codes: []string{"graphql.parse_error/critical"}},
	{name: "POST URL parameters only", method: "POST", target: getQuery("mutation { b }"), present: true,
		ops: []string{"mutation : b"}, codes: []string{"graphql.mutation/medium"}},
	{name: "POST form", method: "POST", target: "/graphql", contentType: "application/x-www-form-urlencoded",
		body: url.Values{"query": {"{ a }"}}.Encode(), present: true, readOnly: true, ops: []string{"query : a"}},
	{name: "POST text/plain", method: "POST", target: "/graphql", contentType: "text/plain",
		body: `{"query":"{ a }"}`, present: true, err: "unsupported Content-Type",
		codes: []string{"graphql.parse_error/critical"}},
	{name: "POST without Content-Type", method: "POST", target: "/graphql", body: `{ a }`, present: true,
		err: "without a Content-Type", codes: []string{"graphql.parse_error/critical"}},
	{name: "POST bad JSON", method: "POST", target: "/graphql", contentType: "application/json",
		body: `{"query": "{ a }"`, present: true, err: "invalid JSON body", codes: []string{"graphql.parse_error/critical"}},
	{name: "POST duplicate query key", method: "POST", target: "/graphql", contentType: "application/json",
		body: `{"query": "{ a }", "query": "mutation { b }"}`, present: true, err: "appears twice",
		codes: []string{"graphql.parse_error/critical"}},
	{name: "POST too large", method: "POST", target: "/graphql", contentType: "application/json",
		body: `{"query": "{ a }"}`, truncated: true, present: true, err: "body too large",
		codes: []string{"graphql.parse_error/critical"}},
	{name: "POST query not a string", method: "POST", target: "/graphql", contentType: "application/json",
		body: `{"query": {"a": 1}}`, present: true, err: "query is not a string", codes: []string{"graphql.parse_error/critical"}},
	{name: "POST empty query", method: "POST", target: "/graphql", contentType: "application/json",
		body: `{"query": ""}`, present: true, err: "empty query", codes: []string{"graphql.parse_error/critical"}},
	{name: "syntax error", method: "POST", target: "/graphql", contentType: "application/graphql",
		body: "query {\n  a(", present: true, err: "2:5:", codes: []string{"graphql.parse_error/critical"}},
	{name: "introspection", method: "GET", target: getQuery("{ __schema { types { name } } }"), present: true, readOnly: true,
		ops: []string{"query : __schema"}},
	{name: "trailing slash variant", method: "POST", target: "/graphql/", contentType: "application/graphql",
		body: "mutation { x }", present: true, ops: []string{"mutation : x"}, codes: []string{"graphql.mutation/medium"}},
	{name: "case variant", method: "POST", target: "/GraphQL", contentType: "application/graphql",
		body: "mutation { x }", present: true, ops: []string{"mutation : x"}, codes: []string{"graphql.mutation/medium"}},
	{name: "path parameter variant", method: "POST", target: "//api/../graphql;jsessionid=1", contentType: "application/graphql",
		body: "mutation { x }", present: true, ops: []string{"mutation : x"}, codes: []string{"graphql.mutation/medium"}},
	{name: "other path", method: "POST", target: "/rest", contentType: "application/graphql",
		body: "mutation { x }"},
}

func TestGraphQLOverHTTP(t *testing.T) {
	for _, tc := range gqlCases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			a := Analyze(r, []byte(tc.body), tc.truncated, Options{GraphQLPath: "/graphql"})
			g := a.GraphQL
			if g.Present != tc.present || g.ReadOnly != tc.readOnly {
				t.Errorf("present %v read_only %v, want %v %v (parse error %q)", g.Present, g.ReadOnly, tc.present, tc.readOnly, g.ParseError)
			}
			if g.Operations == nil {
				t.Error("Operations is nil")
			}
			if tc.err == "" && g.ParseError != "" || !strings.Contains(g.ParseError, tc.err) {
				t.Errorf("ParseError = %q, want %q", g.ParseError, tc.err)
			}
			var ops []string
			for _, o := range g.Operations {
				ops = append(ops, o.Type+" "+o.Name+": "+strings.Join(o.Fields, ","))
			}
			if !reflect.DeepEqual(ops, tc.ops) {
				t.Errorf("operations = %q, want %q", ops, tc.ops)
			}
			var codes []string
			for _, f := range a.Findings {
				if strings.HasPrefix(f.Code, "graphql.") {
					codes = append(codes, f.Code+"/"+f.Severity.String())
				}
			}
			if !reflect.DeepEqual(codes, tc.codes) {
				t.Errorf("findings = %v, want %v", codes, tc.codes)
			}
		})
	}
}

func TestGraphQLFindingOffsets(t *testing.T) {
	body := "query A { a }\nmutation B { deleteAll }"
	r := httptest.NewRequest("POST", "/graphql?operationName=B", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/graphql")
	a := Analyze(r, []byte(body), false, Options{GraphQLPath: "/graphql"})
	// operationName in the URL next to a body is refused.
	if a.GraphQL.ParseError == "" {
		t.Fatalf("want a parse error, got %+v", a.GraphQL)
	}

	body = `{"query":"query A { a }\nmutation B { deleteAll }","operationName":"B"}`
	r = httptest.NewRequest("POST", "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	a = Analyze(r, []byte(body), false, Options{GraphQLPath: "/graphql"})
	var f *qgate.Finding
	for i := range a.Findings {
		if a.Findings[i].Code == "graphql.mutation" {
			f = &a.Findings[i]
		}
	}
	query := "query A { a }\nmutation B { deleteAll }"
	if f == nil || query[f.Start:f.End] != "mutation B { deleteAll }" {
		t.Errorf("finding %+v", f)
	}
}

func TestIsGraphQLPath(t *testing.T) {
	yes := [][2]string{{"/graphql", "/graphql"}, {"/graphql/", "/graphql"}, {"/GRAPHQL", "/graphql"},
		{"/graphql;x=1", "/graphql"}, {"/api/graphql", "//api/./graphql/"}, {"/v1;a/graphql", "/v1/graphql"}}
	no := [][2]string{{"/graphql", ""}, {"/graphql2", "/graphql"}, {"/", "/graphql"}, {"/api/graphql", "/graphql"}}
	for _, c := range yes {
		if !IsGraphQLPath(c[0], c[1]) {
			t.Errorf("IsGraphQLPath(%q, %q) = false", c[0], c[1])
		}
	}
	for _, c := range no {
		if IsGraphQLPath(c[0], c[1]) {
			t.Errorf("IsGraphQLPath(%q, %q) = true", c[0], c[1])
		}
	}
}
