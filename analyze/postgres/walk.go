package postgres

import (
	"reflect"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The walker visits every message of a statement's parse tree through
// protobuf reflection, so no node type can hide a table, a function call or
// a data-modifying statement from it: a node kind the code below has never
// heard of is still descended into. Only the node types that carry
// something of interest get a case of their own.

// messageFields lists, per message type of the pg_query protobuf schema,
// the fields that hold messages (singular or repeated). Scalars are never
// visited. Node, the big oneof wrapper, is handled with WhichOneof instead.
var messageFields = func() map[protoreflect.FullName][]protoreflect.FieldDescriptor {
	m := map[protoreflect.FullName][]protoreflect.FieldDescriptor{}
	msgs := pg_query.File_pg_query_proto.Messages()
	for i := 0; i < msgs.Len(); i++ {
		md := msgs.Get(i)
		var fds []protoreflect.FieldDescriptor
		fields := md.Fields()
		for j := 0; j < fields.Len(); j++ {
			fd := fields.Get(j)
			if fd.Message() != nil && !fd.IsMap() {
				fds = append(fds, fd)
			}
		}
		m[md.FullName()] = fds
	}
	return m
}()

// nodeMessage returns the message a Node wraps, or nil for an empty Node.
// Every oneof wrapper (Node_SelectStmt, ...) is a struct with a single
// pointer field; plain reflection reaches it much faster than
// protoreflect's WhichOneof over Node's 268 alternatives.
func nodeMessage(n *pg_query.Node) protoreflect.Message {
	if n == nil || n.Node == nil {
		return nil
	}
	v := reflect.ValueOf(n.Node).Elem().Field(0)
	if v.IsNil() {
		return nil
	}
	m, ok := v.Interface().(protoreflect.ProtoMessage)
	if !ok {
		return nil
	}
	return m.ProtoReflect()
}

// walker collects what one statement's parse tree contains.
type walker struct {
	sp *spanner
	// root is the statement being analysed: its own INSERT/UPDATE/...
	// node is not "nested".
	root any
	// procedure is CALL's procedure: user code whatever its name.
	procedure *pg_query.FuncCall

	tables    nameSet
	functions nameSet

	// unsafe: a call of a function or operator not known to be free of
	// side effects.
	unsafe bool
	// nestedWrite: a data-modifying statement below the root (a
	// data-modifying CTE, COPY (DELETE ... RETURNING) TO, a rule action).
	nestedWrite bool
	selectInto  bool
	locking     bool
	dropColumn  bool

	// exprFindings are about calls (functions, operators); stmtFindings
	// about what the statement does (modifying CTE, SELECT INTO, locks).
	exprFindings []findingTemplate
	stmtFindings []findingTemplate

	cteScopes [][]string                // CTE names visible, innermost last
	cte       *pg_query.CommonTableExpr // innermost CTE being walked
}

func newWalker(sp *spanner, root any) *walker {
	return &walker{sp: sp, root: root}
}

func (w *walker) walkNode(n *pg_query.Node) {
	if m := nodeMessage(n); m != nil {
		w.walk(m)
	}
}

func (w *walker) walk(m protoreflect.Message) {
	switch x := m.Interface().(type) {
	case *pg_query.Node:
		if inner := nodeMessage(x); inner != nil {
			w.walk(inner)
		}
		return
	case *pg_query.A_Const, *pg_query.String, *pg_query.Integer, *pg_query.Float,
		*pg_query.Boolean, *pg_query.BitString, *pg_query.ColumnRef, *pg_query.ParamRef:
		return // leaves
	case *pg_query.RangeVar:
		w.rangeVar(x, false)
		return
	case *pg_query.LockingClause:
		// FOR UPDATE OF a names FROM items (often aliases), not tables.
		w.locking = true
		return
	case *pg_query.FuncCall:
		w.funcCall(x)
	case *pg_query.A_Expr:
		w.aExpr(x)
	case *pg_query.SubLink:
		w.operator(x.OperName, x.Location)
	case *pg_query.SortBy:
		w.operator(x.UseOp, x.Location)
	case *pg_query.RangeTableSample:
		w.tablesample(x)
	case *pg_query.CommonTableExpr:
		outer := w.cte
		w.cte = x
		w.walkFields(m, "")
		w.cte = outer
		return
	case *pg_query.SelectStmt:
		if x.IntoClause != nil {
			w.selectIntoClause(x.IntoClause)
		}
		if len(x.LockingClause) > 0 {
			w.locking = true
			w.stmtFindings = append(w.stmtFindings, finding(codeLockingRead, w.sp.lockingSpan(),
				"FOR UPDATE/SHARE locks the rows it reads"))
		}
		w.query(m, x.WithClause)
		return
	case *pg_query.InsertStmt:
		w.dml(x, "INSERT", x.Relation)
		w.query(m, x.WithClause)
		return
	case *pg_query.UpdateStmt:
		w.dml(x, "UPDATE", x.Relation)
		w.query(m, x.WithClause)
		return
	case *pg_query.DeleteStmt:
		w.dml(x, "DELETE", x.Relation)
		w.query(m, x.WithClause)
		return
	case *pg_query.MergeStmt:
		w.dml(x, "MERGE", x.Relation)
		w.query(m, x.WithClause)
		return
	case *pg_query.CreateTableAsStmt:
		if x.Into != nil && x.Into.Rel != nil {
			w.rangeVar(x.Into.Rel, true) // the new table first
		}
	case *pg_query.AlterTableCmd:
		if x.Subtype == pg_query.AlterTableType_AT_DropColumn {
			w.dropColumn = true
		}
	}
	w.walkFields(m, "")
}

// walkFields visits every set message field of m except the one named skip.
func (w *walker) walkFields(m protoreflect.Message, skip protoreflect.Name) {
	for _, fd := range messageFields[m.Descriptor().FullName()] {
		if fd.Name() == skip || !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				w.walk(l.Get(i).Message())
			}
			continue
		}
		w.walk(v.Message())
	}
}

// query walks a statement that may carry a WITH clause, with the CTE names
// in scope as PostgreSQL resolves them: in a plain WITH, a CTE sees the
// ones before it; in WITH RECURSIVE, all of them; the statement body sees
// all of them.
func (w *walker) query(m protoreflect.Message, with *pg_query.WithClause) {
	if with == nil {
		w.walkFields(m, "")
		return
	}
	names := make([]string, 0, len(with.Ctes))
	for _, c := range with.Ctes {
		if cte := c.GetCommonTableExpr(); cte != nil {
			names = append(names, cte.Ctename)
		}
	}
	depth := len(w.cteScopes)
	if with.Recursive {
		w.cteScopes = append(w.cteScopes, names)
		for _, c := range with.Ctes {
			w.walkNode(c)
		}
	} else {
		for i, c := range with.Ctes {
			w.cteScopes = append(w.cteScopes[:depth], names[:min(i, len(names))])
			w.walkNode(c)
		}
		w.cteScopes = append(w.cteScopes[:depth], names)
	}
	w.walkFields(m, "with_clause")
	w.cteScopes = w.cteScopes[:depth]
}

// dml notes a data-modifying statement. Its target is always a real table
// (PostgreSQL never resolves a DML target to a CTE).
func (w *walker) dml(stmt any, command string, rel *pg_query.RangeVar) {
	if rel != nil {
		w.rangeVar(rel, true)
	}
	if stmt == w.root {
		return
	}
	w.nestedWrite = true
	if w.cte != nil {
		w.stmtFindings = append(w.stmtFindings, finding(codeModifyingCTE, w.sp.cteSpan(w.cte.Location),
			"WITH %s AS (%s ...) changes data", quoteName(w.cte.Ctename), command))
		return
	}
	w.stmtFindings = append(w.stmtFindings, finding(codeNestedWrite, w.sp.stmtSpan(),
		"a nested %s changes data", command))
}

func (w *walker) selectIntoClause(into *pg_query.IntoClause) {
	w.selectInto = true
	sp := w.sp.stmtSpan()
	name := ""
	if into.Rel != nil {
		w.rangeVar(into.Rel, true)
		name = rangeVarName(into.Rel)
		sp = w.sp.nameSpan(into.Rel.Location, rangeVarParts(into.Rel))
	}
	w.stmtFindings = append(w.stmtFindings, finding(codeSelectInto, sp,
		"SELECT ... INTO creates table %s", quoteName(name)))
}

// rangeVar records a table reference. An unqualified name that matches a
// CTE in scope is the CTE, not a table, unless force is set (DML targets,
// INTO targets).
func (w *walker) rangeVar(rv *pg_query.RangeVar, force bool) {
	if rv.Relname == "" {
		return
	}
	if !force && rv.Schemaname == "" && rv.Catalogname == "" && w.inCTEScope(rv.Relname) {
		return
	}
	w.tables.add(rangeVarName(rv))
}

func (w *walker) inCTEScope(name string) bool {
	for i := len(w.cteScopes) - 1; i >= 0; i-- {
		for _, n := range w.cteScopes[i] {
			if n == name {
				return true
			}
		}
	}
	return false
}

func rangeVarName(rv *pg_query.RangeVar) string {
	switch {
	case rv.Catalogname != "":
		return rv.Catalogname + "." + rv.Schemaname + "." + rv.Relname
	case rv.Schemaname != "":
		return rv.Schemaname + "." + rv.Relname
	}
	return rv.Relname
}

func rangeVarParts(rv *pg_query.RangeVar) int {
	switch {
	case rv.Catalogname != "":
		return 3
	case rv.Schemaname != "":
		return 2
	}
	return 1
}

// stringParts returns the sval of a list of String nodes (a qualified
// name as the parser gives it), or nil if any item is not a String.
func stringParts(nodes []*pg_query.Node) []string {
	parts := make([]string, 0, len(nodes))
	for _, n := range nodes {
		s := n.GetString_()
		if s == nil {
			return nil
		}
		parts = append(parts, s.Sval)
	}
	return parts
}

func (w *walker) funcCall(fc *pg_query.FuncCall) {
	parts := stringParts(fc.Funcname)
	if len(parts) == 0 {
		w.unsafe = true
		return
	}
	// The parser spells some SQL syntax as pg_catalog functions (EXTRACT,
	// AT TIME ZONE, TRIM, LIKE ... ESCAPE); list them as written.
	written := len(parts)
	if len(parts) > 1 && parts[0] == "pg_catalog" && !w.sp.tokenIs(fc.Location, "pg_catalog") {
		written = 1
	}
	display := strings.Join(parts[len(parts)-written:], ".")
	w.functions.add(display)
	sp := w.sp.nameSpan(fc.Location, written)

	class := functions.classify(parts)
	if fc == w.procedure && class == classSafe {
		// CALL resolves procedures only: a procedure named like a
		// built-in function is somebody's code.
		class = classUnknown
	}
	switch class {
	case classSafe:
		return
	case classSideEffect:
		w.exprFindings = append(w.exprFindings, finding(codeSideEffectFunction, sp,
			"function %s has side effects", display))
	case classDynamic:
		w.exprFindings = append(w.exprFindings, finding(codeDynamicSQL, sp,
			"function %s runs SQL that qgate cannot see", display))
	default:
		what := "function"
		if fc == w.procedure {
			what = "procedure"
		}
		w.exprFindings = append(w.exprFindings, finding(codeUnknownFunction, sp,
			"%s %s is not known to be free of side effects", what, display))
	}
	w.unsafe = true
}

// tablesample checks a TABLESAMPLE method: its handler is a function.
// The built-in methods and those of the contrib modules tsm_system_rows and
// tsm_system_time only read.
func (w *walker) tablesample(ts *pg_query.RangeTableSample) {
	parts := stringParts(ts.Method)
	if len(parts) == 2 && parts[0] == "pg_catalog" {
		parts = parts[1:]
	}
	if len(parts) == 1 {
		switch parts[0] {
		case "system", "bernoulli", "system_rows", "system_time":
			return
		}
	}
	w.unsafe = true
	w.exprFindings = append(w.exprFindings, finding(codeUnknownFunction, w.sp.stmtSpan(),
		"TABLESAMPLE method %s is not known to be free of side effects", strings.Join(parts, ".")))
}

func (w *walker) aExpr(e *pg_query.A_Expr) {
	switch e.Kind {
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN,
		pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		return // the name is the keyword; the comparisons are built-in
	}
	w.operator(e.Name, e.Location)
}

// operator checks an operator name: anything but a built-in symbol is a
// user-defined operator, that is a call of a user function.
func (w *walker) operator(name []*pg_query.Node, loc int32) {
	if len(name) == 0 {
		return
	}
	parts := stringParts(name)
	if parts != nil && functions.builtinOperator(parts) {
		return
	}
	w.unsafe = true
	w.exprFindings = append(w.exprFindings, finding(codeUnknownOperator, w.sp.operatorSpan(loc),
		"operator %s is not a built-in operator", strings.Join(parts, ".")))
}

// nameSet is an ordered set of names.
type nameSet struct {
	list []string
	seen map[string]struct{}
}

func (s *nameSet) add(name string) {
	if s.seen == nil {
		for _, n := range s.list {
			if n == name {
				return
			}
		}
		s.list = append(s.list, name)
		if len(s.list) > 16 {
			s.seen = make(map[string]struct{}, 2*len(s.list))
			for _, n := range s.list {
				s.seen[n] = struct{}{}
			}
		}
		return
	}
	if _, ok := s.seen[name]; ok {
		return
	}
	s.seen[name] = struct{}{}
	s.list = append(s.list, name)
}

func (s *nameSet) addAll(names []string) {
	for _, n := range names {
		s.add(n)
	}
}

// slice returns the names, never nil.
func (s *nameSet) slice() []string {
	if s.list == nil {
		return []string{}
	}
	return s.list
}
