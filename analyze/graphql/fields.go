package graphql

import "github.com/vektah/gqlparser/v2/ast"

// expander collects an operation's top-level field names, looking through
// fragment spreads and inline fragments. Names are schema field names (an
// alias never hides the field it stands for), in first-seen order, without
// duplicates. Directives (@skip, @include) are ignored: a field that may
// run is listed.
type expander struct {
	t      *text
	defs   map[string]*ast.FragmentDefinition
	budget int
	names  []string
	seen   map[string]bool
}

func topLevelFields(t *text, doc *ast.QueryDocument, op *ast.OperationDefinition) ([]string, *failure) {
	e := &expander{
		t:      t,
		defs:   make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		budget: maxExpansion,
		names:  []string{},
		seen:   map[string]bool{},
	}
	for _, f := range doc.Fragments {
		e.defs[f.Name] = f
	}
	if f := e.expand(op.SelectionSet, 0); f != nil {
		return nil, f
	}
	return e.names, nil
}

func (e *expander) expand(set ast.SelectionSet, depth int) *failure {
	for _, sel := range set {
		e.budget--
		if e.budget < 0 {
			return failf("document is too complex: more than %d top-level selections after fragment expansion", maxExpansion)
		}
		switch s := sel.(type) {
		case *ast.Field:
			if !e.seen[s.Name] {
				e.seen[s.Name] = true
				e.names = append(e.names, s.Name)
			}
		case *ast.InlineFragment:
			if depth >= MaxFragmentDepth {
				return failf("fragments nest deeper than %d levels", MaxFragmentDepth).at(e.t, s.Position)
			}
			if f := e.expand(s.SelectionSet, depth+1); f != nil {
				return f
			}
		case *ast.FragmentSpread:
			if depth >= MaxFragmentDepth {
				return failf("fragments nest deeper than %d levels", MaxFragmentDepth).at(e.t, s.Position)
			}
			def := e.defs[s.Name]
			if def == nil { // checkFragments refuses this first
				return failf("unknown fragment %q", s.Name).at(e.t, s.Position)
			}
			if f := e.expand(def.SelectionSet, depth+1); f != nil {
				return f
			}
		default:
			return failf("unexpected selection %T", sel)
		}
	}
	return nil
}
