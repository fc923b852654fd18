package graphql

import "testing"

func BenchmarkGraphQL(b *testing.B) {
	req := Request{Query: `query GetUser($id: ID!) { user(id: $id) { id name email ...Posts } }
fragment Posts on User { posts(first: 10) { id title } }`, OperationName: "GetUser", HasOperationName: true}
	b.ReportAllocs()
	for b.Loop() {
		if a := Analyze(req); !a.ReadOnly {
			b.Fatal(a.ParseError)
		}
	}
}

func BenchmarkGraphQLMutation(b *testing.B) {
	req := Request{Query: `mutation { deleteUser(id: 1) { ok } }`}
	b.ReportAllocs()
	for b.Loop() {
		_ = AnalyzeRequests([]Request{req}).Findings(false)
	}
}
