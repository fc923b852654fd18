package graphql

import (
	"fmt"

	"github.com/qgate/qgate"
)

// Operation types as reported in qgate.GraphQLOperation.Type.
const (
	TypeQuery        = "query"
	TypeMutation     = "mutation"
	TypeSubscription = "subscription"
)

// Result is an analysis together with where things are.
type Result struct {
	Analysis qgate.GraphQLAnalysis
	// Spans is parallel to Analysis.Operations.
	Spans []Span
	// Requests is how many requests were analysed (more than one for a
	// batch).
	Requests int
	// When Analysis.ParseError is set, ErrorAt locates the error: byte
	// offsets into the Query of request ErrorAt.Request, or 0/0 when the
	// error is about the request as a whole.
	ErrorAt Span
}

// Analyze analyses one GraphQL request payload. Present is set: calling it
// means the request is a GraphQL request.
func Analyze(req Request) qgate.GraphQLAnalysis {
	return AnalyzeRequests([]Request{req}).Analysis
}

// AnalyzeBatch analyses a batch: every element executes, so the operations
// of all elements are merged. Any element's error fails the whole batch.
func AnalyzeBatch(reqs []Request) qgate.GraphQLAnalysis {
	return AnalyzeRequests(reqs).Analysis
}

// AnalyzeRequests is Analyze/AnalyzeBatch with operation positions.
func AnalyzeRequests(reqs []Request) Result {
	res := Result{
		Analysis: qgate.GraphQLAnalysis{Present: true, Operations: []qgate.GraphQLOperation{}},
		Spans:    []Span{},
		Requests: len(reqs),
	}
	if len(reqs) == 0 {
		res.Analysis.ParseError = "no GraphQL request"
		return res
	}
	for i, req := range reqs {
		ops, spans, f := analyzeOne(req)
		for j := range ops {
			res.Analysis.Operations = append(res.Analysis.Operations, ops[j])
			res.Spans = append(res.Spans, Span{Request: i, Start: spans[j][0], End: spans[j][1]})
		}
		if f != nil {
			msg := f.msg
			if len(reqs) > 1 {
				msg = fmt.Sprintf("batch element %d: %s", i, msg)
			}
			res.Analysis.ParseError = msg
			res.ErrorAt = Span{Request: i, Start: f.start, End: f.end}
			return res
		}
	}
	res.Analysis.ReadOnly = readOnly(res.Analysis)
	return res
}

// ErrorResult is the result for a request whose GraphQL payload could not
// even be extracted (bad envelope, unsupported content type...).
func ErrorResult(err error) Result {
	return Result{
		Analysis: qgate.GraphQLAnalysis{
			Present:    true,
			Operations: []qgate.GraphQLOperation{},
			ParseError: err.Error(),
		},
		Spans: []Span{},
	}
}

func readOnly(a qgate.GraphQLAnalysis) bool {
	if !a.Present || a.ParseError != "" || len(a.Operations) == 0 {
		return false
	}
	for _, op := range a.Operations {
		if op.Type != TypeQuery {
			return false
		}
	}
	return true
}

func analyzeOne(req Request) ([]qgate.GraphQLOperation, [][2]int, *failure) {
	t := newText(req.Query)
	doc, f := parseDocument(t)
	if f != nil {
		return nil, nil, f
	}
	sel, f := selectOperations(t, doc, req)
	if f != nil {
		return nil, nil, f
	}
	ops := make([]qgate.GraphQLOperation, 0, len(sel))
	for _, op := range sel {
		fields, f := topLevelFields(t, doc, op)
		if f != nil {
			return nil, nil, f
		}
		ops = append(ops, qgate.GraphQLOperation{Type: string(op.Operation), Name: op.Name, Fields: fields})
	}
	return ops, t.operationSpans(doc, sel), nil
}
