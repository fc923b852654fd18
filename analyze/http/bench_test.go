package httpanalyze

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func BenchmarkAnalyze(b *testing.B) {
	b.Run("GET", func(b *testing.B) {
		r := httptest.NewRequest("GET", "/api/v1/users/42/orders?limit=10&sort=desc", nil)
		r.Header.Set("Authorization", "Bearer x")
		r.Header.Set("Accept", "application/json")
		r.Header.Set("User-Agent", "bench")
		b.ReportAllocs()
		for b.Loop() {
			if a := Analyze(r, nil, false, Options{}); a.Ambiguous {
				b.Fatal(a.Findings)
			}
		}
	})
	b.Run("JSONPost", func(b *testing.B) {
		body := []byte(`{"customer":"cus_123","amount":1250,"currency":"eur","items":[{"sku":"a","qty":1},{"sku":"b","qty":2}],"metadata":{"order":"o-9"}}`)
		r := httptest.NewRequest("POST", "/api/v1/payments", strings.NewReader(string(body)))
		r.Header.Set("Authorization", "Bearer x")
		r.Header.Set("Content-Type", "application/json")
		b.ReportAllocs()
		for b.Loop() {
			if a := Analyze(r, body, false, Options{}); a.Body == nil {
				b.Fatal(a.Findings)
			}
		}
	})
	b.Run("GraphQLPost", func(b *testing.B) {
		body := []byte(`{"query":"query GetUser($id: ID!) { user(id: $id) { id name email } }","operationName":"GetUser","variables":{"id":"1"}}`)
		r := httptest.NewRequest("POST", "/graphql", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		b.ReportAllocs()
		for b.Loop() {
			if a := Analyze(r, body, false, Options{GraphQLPath: "/graphql"}); !a.GraphQL.ReadOnly {
				b.Fatal(a.GraphQL.ParseError)
			}
		}
	})
}

func BenchmarkNormalizePath(b *testing.B) {
	for b.Loop() {
		_, _ = NormalizePath("/api/v1/users/42/orders")
	}
}
