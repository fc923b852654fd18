package graphql

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestRequestsFromJSON(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []Request
		err  string
	}{
		{name: "object", body: `{"query":"{ a }","variables":{"x":1}}`, want: []Request{{Query: "{ a }"}}},
		{name: "operationName", body: `{"query":"query A { a }","operationName":"A"}`,
			want: []Request{{Query: "query A { a }", OperationName: "A", HasOperationName: true}}},
		{name: "null operationName and variables", body: `{"query":"{ a }","operationName":null,"variables":null,"extensions":null}`,
			want: []Request{{Query: "{ a }"}}},
		{name: "variables as string", body: `{"query":"{ a }","variables":"{}"}`, want: []Request{{Query: "{ a }"}}},
		{name: "extensions without persisted query", body: `{"query":"{ a }","extensions":{"tracing":true}}`, want: []Request{{Query: "{ a }"}}},
		{name: "batch", body: `[{"query":"{ a }"},{"query":"mutation { b }","operationName":"x"}]`,
			want: []Request{{Query: "{ a }"}, {Query: "mutation { b }", OperationName: "x", HasOperationName: true}}},
		{name: "empty batch", body: `[]`, err: "empty batch"},
		{name: "batch with a non-object", body: `[{"query":"{ a }"}, "mutation { b }"]`, err: "batch element 1 is not an object"},
		{name: "batch with a bad object", body: `[{"query":"{ a }"}, {"query": 1}]`, err: "batch element 1: query is not a string"},
		{name: "query not a string", body: `{"query":["{ a }"]}`, err: "query is not a string"},
		{name: "query null", body: `{"query":null}`, err: "query is not a string"},
		{name: "query missing", body: `{"operationName":"A"}`, err: "query is missing"},
		{name: "operationName not a string", body: `{"query":"{ a }","operationName":1}`, err: "operationName is not a string"},
		{name: "variables not an object", body: `{"query":"{ a }","variables":[1]}`, err: "variables is not an object"},
		{name: "persisted query", body: `{"query":"{ a }","extensions":{"persistedQuery":{"sha256Hash":"x"}}}`, err: "persisted queries"},
		{name: "extensions not an object", body: `{"query":"{ a }","extensions":"x"}`, err: "extensions is not an object"},
		{name: "unknown key", body: `{"query":"{ a }","id":"abc","doc_id":"1"}`, err: `unsupported key "doc_id"`},
		{name: "string", body: `"{ a }"`, err: "JSON object or an array"},
		{name: "null", body: `null`, err: "JSON object or an array"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.body), &v); err != nil {
				t.Fatal(err)
			}
			got, err := RequestsFromJSON(v)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRequestFromValues(t *testing.T) {
	cases := []struct {
		raw  string
		want Request
		err  string
	}{
		{raw: "query=%7B+a+%7D", want: Request{Query: "{ a }"}},
		{raw: "query=query+A%7Ba%7D&operationName=A&variables=%7B%7D&other=1",
			want: Request{Query: "query A{a}", OperationName: "A", HasOperationName: true}},
		{raw: "query=%7Ba%7D&query=mutation%7Bb%7D", err: `"query" is repeated`},
		{raw: "query=%7Ba%7D&operationName=A&operationName=B", err: `"operationName" is repeated`},
		{raw: "operationName=A", err: "query is missing"},
		{raw: "query=%7Ba%7D&extensions=%7B%22persistedQuery%22%3A%7B%7D%7D", err: "persisted queries"},
		{raw: "query=%7Ba%7D&extensions=nope", err: "extensions is not valid JSON"},
		{raw: "documentId=sha256%3Aabc", err: "persisted documents"},
		{raw: "query=%7Ba%7D&id=1", err: "persisted documents"},
	}
	for _, tc := range cases {
		v, err := url.ParseQuery(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := RequestFromValues(v)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
	if !HasParams(url.Values{"operationName": {""}}) || !HasParams(url.Values{"documentId": {"x"}}) || HasParams(url.Values{"q": {"x"}}) {
		t.Error("HasParams")
	}
}
