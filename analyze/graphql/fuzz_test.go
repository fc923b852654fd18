package graphql

import (
	"testing"
)

func FuzzGraphQL(f *testing.F) {
	for _, tc := range analyzeCases {
		if len(tc.req.Query) > 4096 {
			continue
		}
		f.Add(tc.req.Query, tc.req.OperationName, tc.req.HasOperationName)
	}
	f.Fuzz(func(t *testing.T, query, operationName string, has bool) {
		res := AnalyzeRequests([]Request{{Query: query, OperationName: operationName, HasOperationName: has}})
		a := res.Analysis
		if !a.Present || a.Operations == nil {
			t.Fatalf("Present %v, Operations %v", a.Present, a.Operations)
		}
		if a.ParseError == "" && len(a.Operations) != 1 {
			t.Fatalf("no error but %d operations", len(a.Operations))
		}
		if a.ReadOnly {
			if a.ParseError != "" {
				t.Fatalf("ReadOnly with ParseError %q", a.ParseError)
			}
			for _, op := range a.Operations {
				if op.Type != TypeQuery {
					t.Fatalf("ReadOnly with a %s", op.Type)
				}
			}
		}
		for _, op := range a.Operations {
			switch op.Type {
			case TypeQuery, TypeMutation, TypeSubscription:
			default:
				t.Fatalf("operation type %q", op.Type)
			}
			if op.Fields == nil {
				t.Fatal("nil Fields")
			}
		}
		if len(res.Spans) != len(a.Operations) {
			t.Fatalf("%d spans for %d operations", len(res.Spans), len(a.Operations))
		}
		for _, sp := range res.Spans {
			if sp.Start < 0 || sp.Start > sp.End || sp.End > len(query) {
				t.Fatalf("span %+v outside the query (%d bytes)", sp, len(query))
			}
		}
		if e := res.ErrorAt; e.Start < 0 || e.Start > e.End || e.End > len(query) {
			t.Fatalf("error span %+v outside the query (%d bytes)", e, len(query))
		}
		res.Findings(true)
	})
}
