package graphql

import (
	"fmt"
	"strings"

	"github.com/qgate/qgate"
)

// Finding codes.
const (
	CodeParseError        = "graphql.parse_error"
	CodeMutation          = "graphql.mutation"
	CodeSubscription      = "graphql.subscription"
	CodeMutationOverGET   = "graphql.mutation_over_get"
	maxFieldsInAMessage   = 10
	maxMessageFieldLength = 200
)

// Findings returns the risk findings of the result: a parse error
// (critical), each mutation and subscription (medium) and, when the
// request came as GET (or HEAD), each mutation again as
// graphql.mutation_over_get (high). Start/End are the operation's byte
// offsets in its query string (see Span).
func (r Result) Findings(overGET bool) []qgate.Finding {
	out := []qgate.Finding{}
	if r.Analysis.ParseError != "" {
		out = append(out, qgate.Finding{
			Code:     CodeParseError,
			Severity: qgate.SeverityCritical,
			Message:  "GraphQL request refused: " + r.Analysis.ParseError,
			Start:    r.ErrorAt.Start,
			End:      r.ErrorAt.End,
		})
	}
	for i, op := range r.Analysis.Operations {
		var sp Span
		if i < len(r.Spans) {
			sp = r.Spans[i]
		}
		desc := r.describe(op, sp)
		switch op.Type {
		case TypeMutation:
			out = append(out, qgate.Finding{
				Code: CodeMutation, Severity: qgate.SeverityMedium,
				Message: desc, Start: sp.Start, End: sp.End,
			})
			if overGET {
				out = append(out, qgate.Finding{
					Code: CodeMutationOverGET, Severity: qgate.SeverityHigh,
					Message: desc + " sent with GET", Start: sp.Start, End: sp.End,
				})
			}
		case TypeSubscription:
			out = append(out, qgate.Finding{
				Code: CodeSubscription, Severity: qgate.SeverityMedium,
				Message: desc, Start: sp.Start, End: sp.End,
			})
		}
	}
	return out
}

// describe renders e.g. `mutation DeleteUser (deleteUser)`.
func (r Result) describe(op qgate.GraphQLOperation, sp Span) string {
	var b strings.Builder
	b.WriteString(op.Type)
	if op.Name != "" {
		b.WriteString(" ")
		b.WriteString(op.Name)
	}
	fields := op.Fields
	more := 0
	if len(fields) > maxFieldsInAMessage {
		more = len(fields) - maxFieldsInAMessage
		fields = fields[:maxFieldsInAMessage]
	}
	list := strings.Join(fields, ", ")
	if len(list) > maxMessageFieldLength {
		list = list[:maxMessageFieldLength] + "…"
	}
	fmt.Fprintf(&b, " (%s", list)
	if more > 0 {
		fmt.Fprintf(&b, " and %d more", more)
	}
	b.WriteString(")")
	if r.Requests > 1 {
		fmt.Fprintf(&b, " in batch element %d", sp.Request)
	}
	return b.String()
}
