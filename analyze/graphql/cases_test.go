package graphql

import (
	"fmt"
	"strings"
)

type op struct {
	typ, name string
	fields    []string
}

type analyzeCase struct {
	name     string
	req      Request
	want     []op
	readOnly bool
	err      string // substring of ParseError; "" means no error
}

func q(query string) Request { return Request{Query: query} }

func named(query, operation string) Request {
	return Request{Query: query, OperationName: operation, HasOperationName: true}
}

// nestedInline returns a query whose top-level selection is n inline
// fragments deep.
func nestedInline(n int) string {
	return "{" + strings.Repeat("... on Query {", n) + "a" + strings.Repeat("}", n) + "}"
}

// doubling returns a document in which fragment Fi spreads F(i+1) twice:
// expanding it naively visits 2^n selections.
func doubling(n int) string {
	var b strings.Builder
	b.WriteString("{ ...F0 }\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { a }\n", n)
	return b.String()
}

var analyzeCases = []analyzeCase{
	{name: "query", req: q(`query Q { users { id } posts(first: 2) { title } }`),
		want: []op{{"query", "Q", []string{"users", "posts"}}}, readOnly: true},
	{name: "mutation", req: q(`mutation { createUser(name: "x") { id } }`),
		want: []op{{"mutation", "", []string{"createUser"}}}},
	{name: "anonymous shorthand", req: q(`{ a b { c } }`),
		want: []op{{"query", "", []string{"a", "b"}}}, readOnly: true},
	{name: "shorthand with comment and commas", req: q("# hi\n{ a, b, }"),
		want: []op{{"query", "", []string{"a", "b"}}}, readOnly: true},
	{name: "operationName selects query", req: named(`query A { a } mutation B { b }`, "A"),
		want: []op{{"query", "A", []string{"a"}}}, readOnly: true},
	{name: "operationName selects mutation", req: named(`query A { a } mutation B { b }`, "B"),
		want: []op{{"mutation", "B", []string{"b"}}}},
	{name: "operationName missing with two operations", req: q(`query A { a } mutation B { b }`),
		err: "operationName is required"},
	{name: "empty operationName with two operations", req: named(`query A { a } mutation B { b }`, ""),
		err: "operationName is required"},
	{name: "empty operationName with one operation", req: named(`mutation B { b }`, ""),
		want: []op{{"mutation", "B", []string{"b"}}}},
	{name: "operationName not found", req: named(`query A { a } mutation B { b }`, "C"),
		err: `operation "C" not found`},
	{name: "operationName not matching the only operation", req: named(`query A { a }`, "B"),
		err: `operation "B" not found`},
	{name: "named fragment", req: q(`query { ...F c } fragment F on Query { a b }`),
		want: []op{{"query", "", []string{"a", "b", "c"}}}, readOnly: true},
	{name: "inline fragments", req: q(`{ ... on Query { a } ... @include(if: true) { b } c }`),
		want: []op{{"query", "", []string{"a", "b", "c"}}}, readOnly: true},
	{name: "nested fragments", req: q(`mutation M { ...F } fragment F on Mutation { ...G ... { x } } fragment G on Mutation { ... on Mutation { deleteAll } }`),
		want: []op{{"mutation", "M", []string{"deleteAll", "x"}}}},
	{name: "fragment cycle", req: q(`{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }`),
		err: "cycle"},
	{name: "self cycle below a field", req: q(`{ a } fragment A on Query { x { ...A } }`),
		err: "cycle"},
	{name: "unknown fragment", req: q(`{ ...Nope }`), err: `unknown fragment "Nope"`},
	{name: "unknown fragment inside a fragment", req: q(`{ ...A } fragment A on Query { x { ...Nope } }`),
		err: `unknown fragment "Nope"`},
	{name: "duplicate fragment", req: q(`{ ...A } fragment A on Query { a } fragment A on Query { b }`),
		err: "defined more than once"},
	{name: "alias hides query field", req: q(`query { deleteUser: users { id } }`),
		want: []op{{"query", "", []string{"users"}}}, readOnly: true},
	{name: "alias hides mutation field", req: q(`mutation { safe: deleteUser(id: 1) { ok } }`),
		want: []op{{"mutation", "", []string{"deleteUser"}}}},
	{name: "mutation fields from fragment", req: q(`mutation { ...W } fragment W on Mutation { a: dropTable b: dropTable }`),
		want: []op{{"mutation", "", []string{"dropTable"}}}},
	{name: "duplicate fields listed once", req: q(`{ a a b a }`),
		want: []op{{"query", "", []string{"a", "b"}}}, readOnly: true},
	{name: "subscription", req: q(`subscription S { events { id } }`),
		want: []op{{"subscription", "S", []string{"events"}}}},
	{name: "introspection", req: q(`query IntrospectionQuery { __schema { types { name } } __typename }`),
		want: []op{{"query", "IntrospectionQuery", []string{"__schema", "__typename"}}}, readOnly: true},
	{name: "variables and directives", req: q(`query Q($id: ID! = "1", $o: In = {a: "}"}) @live { user(id: $id) @skip(if: false) { name } }`),
		want: []op{{"query", "Q", []string{"user"}}}, readOnly: true},
	{name: "description on operation", req: q(`"""doc""" query Q { a }`),
		want: []op{{"query", "Q", []string{"a"}}}, readOnly: true},
	{name: "syntax error", req: q("query {\n  a("), err: "2:5: "},
	{name: "unterminated string", req: q(`{ a(x: "oops) }`), err: "1:"},
	{name: "empty query", req: q(""), err: "empty query"},
	{name: "blank query", req: q(" \n\t"), err: "empty query"},
	{name: "only commas", req: q(",,,"), err: "no operation"},
	{name: "only a fragment", req: q(`fragment F on Query { a }`), err: "no operation"},
	{name: "schema definition", req: q(`type Query { a: Int }`), err: "Unexpected"},
	{name: "duplicate operation names", req: named(`query A { a } mutation A { b }`, "A"), err: "more than once"},
	{name: "anonymous next to named", req: named(`{ a } mutation B { b }`, "B"), err: "anonymous operation"},
	{name: "fragment nesting at the limit", req: q(nestedInline(MaxFragmentDepth)),
		want: []op{{"query", "", []string{"a"}}}, readOnly: true},
	{name: "fragment nesting beyond the limit", req: q(nestedInline(MaxFragmentDepth + 1)), err: "deeper than"},
	{name: "exponential fragments", req: q(doubling(40)), err: "too complex"},
	{name: "invalid UTF-8", req: q("{ a }\xff"), err: "UTF-8"},
	{name: "non-ASCII string argument", req: q(`mutation { rename(to: "café") }`),
		want: []op{{"mutation", "", []string{"rename"}}}},
}
