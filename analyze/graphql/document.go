package graphql

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Limits. Documents beyond them are refused (fail closed).
const (
	// MaxTokens caps the tokens of one query document.
	MaxTokens = 100_000
	// MaxFragmentDepth caps how deeply fragment spreads and inline
	// fragments may nest below an operation's selection set.
	MaxFragmentDepth = 64
	// maxExpansion caps the selections visited while expanding one
	// operation's top-level fragments, so that fragments spread many
	// times over cannot make the expansion exponential.
	maxExpansion = 10_000
)

// failure is an analysis error with its byte range in the query (0/0 when
// it is about the request as a whole).
type failure struct {
	msg        string
	start, end int
}

func failf(format string, args ...any) *failure {
	return &failure{msg: fmt.Sprintf(format, args...)}
}

// at sets the failure's range to the token at p.
func (f *failure) at(t *text, p *ast.Position) *failure {
	if p != nil {
		f.start, f.end = t.byteOffset(p.Start), t.byteOffset(p.End)
	}
	return f
}

// parseDocument parses and checks one query document.
func parseDocument(t *text) (*ast.QueryDocument, *failure) {
	q := t.query
	if strings.TrimSpace(q) == "" {
		return nil, failf("empty query")
	}
	if !utf8.ValidString(q) {
		return nil, failf("query is not valid UTF-8")
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Name: "query", Input: q}, MaxTokens)
	if err != nil {
		return nil, parserFailure(t, err)
	}
	if len(doc.Operations) == 0 {
		return nil, failf("document has no operation")
	}
	if f := checkOperations(t, doc); f != nil {
		return nil, f
	}
	if f := checkFragments(t, doc); f != nil {
		return nil, f
	}
	return doc, nil
}

// parserFailure renders a parser error as "line:column: message" with the
// byte offset of that location.
func parserFailure(t *text, err error) *failure {
	var ge *gqlerror.Error
	if errors.As(err, &ge) && len(ge.Locations) > 0 {
		loc := ge.Locations[0]
		off := t.lineCol(loc.Line, loc.Column)
		return &failure{
			msg:   fmt.Sprintf("%d:%d: %s", loc.Line, loc.Column, ge.Message),
			start: off,
			end:   off,
		}
	}
	if ge != nil {
		return failf("%s", ge.Message)
	}
	return failf("%s", err.Error())
}

// checkOperations refuses documents a GraphQL server must refuse and where
// servers could pick different operations: duplicate operation names and
// an anonymous operation that is not alone.
func checkOperations(t *text, doc *ast.QueryDocument) *failure {
	seen := make(map[string]bool, len(doc.Operations))
	for _, op := range doc.Operations {
		if op.Name == "" {
			if len(doc.Operations) > 1 {
				return failf("an anonymous operation must be the only operation in the document").at(t, op.Position)
			}
			continue
		}
		if seen[op.Name] {
			return failf("operation %q is defined more than once", op.Name).at(t, op.Position)
		}
		seen[op.Name] = true
	}
	return nil
}

// checkFragments refuses duplicate fragment names, spreads of unknown
// fragments and fragment cycles anywhere in the document.
func checkFragments(t *text, doc *ast.QueryDocument) *failure {
	defs := make(map[string]*ast.FragmentDefinition, len(doc.Fragments))
	for _, f := range doc.Fragments {
		if defs[f.Name] != nil {
			return failf("fragment %q is defined more than once", f.Name).at(t, f.Position)
		}
		defs[f.Name] = f
	}
	// Spreads of each fragment, anywhere in its selection set.
	deps := make(map[string][]*ast.FragmentSpread, len(defs))
	for _, f := range doc.Fragments {
		deps[f.Name] = collectSpreads(f.SelectionSet, nil)
	}
	for _, op := range doc.Operations {
		for _, s := range collectSpreads(op.SelectionSet, nil) {
			if defs[s.Name] == nil {
				return failf("unknown fragment %q", s.Name).at(t, s.Position)
			}
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int, len(defs))
	var visit func(name string) *failure
	visit = func(name string) *failure {
		state[name] = visiting
		for _, s := range deps[name] {
			if defs[s.Name] == nil {
				return failf("unknown fragment %q", s.Name).at(t, s.Position)
			}
			switch state[s.Name] {
			case visiting:
				return failf("fragment %q spreads itself (cycle)", s.Name).at(t, s.Position)
			case unvisited:
				if f := visit(s.Name); f != nil {
					return f
				}
			}
		}
		state[name] = done
		return nil
	}
	for _, f := range doc.Fragments {
		if state[f.Name] == unvisited {
			if fl := visit(f.Name); fl != nil {
				return fl
			}
		}
	}
	return nil
}

// collectSpreads appends every fragment spread in set, at any depth.
func collectSpreads(set ast.SelectionSet, acc []*ast.FragmentSpread) []*ast.FragmentSpread {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			acc = collectSpreads(s.SelectionSet, acc)
		case *ast.InlineFragment:
			acc = collectSpreads(s.SelectionSet, acc)
		case *ast.FragmentSpread:
			acc = append(acc, s)
		}
	}
	return acc
}

// selectOperations returns the operations that req can execute.
func selectOperations(t *text, doc *ast.QueryDocument, req Request) ([]*ast.OperationDefinition, *failure) {
	if req.HasOperationName && req.OperationName != "" {
		for _, op := range doc.Operations {
			if op.Name == req.OperationName {
				return []*ast.OperationDefinition{op}, nil
			}
		}
		return nil, failf("operation %q not found", req.OperationName)
	}
	if len(doc.Operations) != 1 {
		return nil, failf("operationName is required: the document has %d operations", len(doc.Operations))
	}
	return doc.Operations, nil
}
