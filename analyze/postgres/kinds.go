package postgres

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/qgate/qgate"
)

// stmtAnalysis is what one top-level statement does, before it becomes
// part of a template.
type stmtAnalysis struct {
	kind      qgate.StatementKind
	command   string
	tables    []string
	functions []string
	hasWhere  bool
	hasLimit  bool
	readOnly  bool
	// writes: the statement may change data, schema or server state.
	writes bool
	// unsafe: it calls code not known to be free of side effects.
	unsafe bool
	// stmtFindings are about what the statement does; exprFindings about
	// the functions and operators it calls (EXPLAIN without ANALYZE keeps
	// only the latter: planning can evaluate functions, not statements).
	stmtFindings []findingTemplate
	exprFindings []findingTemplate
	// literalSensitive: the analysis read a literal's contents, so it must
	// not be shared with texts that differ only in literals.
	literalSensitive bool
}

func (r *stmtAnalysis) add(f findingTemplate) { r.stmtFindings = append(r.stmtFindings, f) }

// analyzeStatement analyses one statement of a parse tree.
func analyzeStatement(n *pg_query.Node, sp *spanner) *stmtAnalysis {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_ExplainStmt:
		return analyzeExplain(x.ExplainStmt, sp)
	case *pg_query.Node_PrepareStmt:
		inner := analyzeStatement(x.PrepareStmt.Query, sp)
		// Preparing plans nothing and runs nothing; EXECUTE is judged on
		// its own (never read-only).
		r := wrap(inner, qgate.KindUtility, "PREPARE")
		r.writes = false
		return r
	case *pg_query.Node_DeclareCursorStmt:
		// The cursor's query runs as it is fetched.
		return wrap(analyzeStatement(x.DeclareCursorStmt.Query, sp), qgate.KindUtility, "DECLARE CURSOR")
	}

	m := nodeMessage(n)
	if m == nil {
		r := &stmtAnalysis{kind: qgate.KindOther, command: "UNKNOWN", writes: true, unsafe: true,
			tables: []string{}, functions: []string{}}
		r.add(finding(codeUnknownStatement, sp.stmtSpan(), "statement not recognised"))
		return r
	}
	w := newWalker(sp, m.Interface())
	if c := n.GetCallStmt(); c != nil {
		w.procedure = c.Funccall
	}
	w.walk(m)

	r := &stmtAnalysis{readOnly: true}
	r.classify(m.Interface(), sp, w)
	if r.kind.IsWrite() {
		r.writes = true
		r.readOnly = false
	}
	if r.kind == qgate.KindDDL {
		r.stmtFindings = append([]findingTemplate{finding(codeDDL, sp.stmtSpan(), "%s changes the schema", r.command)}, r.stmtFindings...)
	}

	r.tables = w.tables.slice()
	r.functions = w.functions.slice()
	r.unsafe = r.unsafe || w.unsafe
	if r.unsafe || w.nestedWrite || w.selectInto {
		r.writes = true
	}
	if r.unsafe || r.writes || w.locking {
		r.readOnly = false
	}
	for _, f := range w.stmtFindings {
		if f.code == codeNestedWrite && r.kind == qgate.KindDDL {
			// A rule action or a BEGIN ATOMIC function body: stored, not run.
			continue
		}
		r.stmtFindings = append(r.stmtFindings, f)
	}
	r.exprFindings = w.exprFindings
	return r
}

// wrap presents an inner statement as a utility command (PREPARE,
// DECLARE) with the inner statement's tables, functions and effects.
func wrap(inner *stmtAnalysis, kind qgate.StatementKind, command string) *stmtAnalysis {
	r := *inner
	r.kind, r.command = kind, command
	return &r
}

// analyzeExplain: EXPLAIN runs the statement only with ANALYZE. Without
// it, the statement is only planned, which is read-only unless the planner
// may evaluate a function that is not known to be safe (constant folding
// of user functions declared IMMUTABLE, or EXPLAIN EXECUTE).
func analyzeExplain(e *pg_query.ExplainStmt, sp *spanner) *stmtAnalysis {
	inner := analyzeStatement(e.Query, sp)
	analyze, sensitive := explainAnalyzes(e.Options)
	r := &stmtAnalysis{
		kind:             qgate.KindUtility,
		command:          "EXPLAIN",
		tables:           inner.tables,
		functions:        inner.functions,
		hasWhere:         inner.hasWhere,
		hasLimit:         inner.hasLimit,
		unsafe:           inner.unsafe,
		exprFindings:     inner.exprFindings,
		literalSensitive: inner.literalSensitive || sensitive,
	}
	if analyze {
		r.readOnly, r.writes = inner.readOnly, inner.writes
		if !inner.readOnly {
			r.add(finding(codeExplainAnalyze, sp.stmtSpan(), "EXPLAIN ANALYZE executes the %s", inner.command))
		}
		r.stmtFindings = append(r.stmtFindings, inner.stmtFindings...)
		return r
	}
	r.readOnly = !inner.unsafe
	r.writes = inner.unsafe
	return r
}

// explainAnalyzes reports whether EXPLAIN options ask for ANALYZE. Any
// ANALYZE option not clearly false counts (PostgreSQL would run it or
// reject it). sensitive is set when the answer read an option value, which
// may be a literal ('off', 0).
func explainAnalyzes(opts []*pg_query.Node) (analyze, sensitive bool) {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || !(strings.EqualFold(d.Defname, "analyze") || strings.EqualFold(d.Defname, "analyse")) {
			continue
		}
		if d.Arg == nil {
			analyze = true
			continue
		}
		sensitive = true
		if !isFalse(d.Arg) {
			analyze = true
		}
	}
	return analyze, sensitive
}

// isFalse mirrors PostgreSQL's defGetBoolean for the false values.
func isFalse(n *pg_query.Node) bool {
	switch v := n.GetNode().(type) {
	case *pg_query.Node_Integer:
		return v.Integer.Ival == 0
	case *pg_query.Node_Boolean:
		return !v.Boolean.Boolval
	case *pg_query.Node_String_:
		return strings.EqualFold(v.String_.Sval, "false") || strings.EqualFold(v.String_.Sval, "off")
	}
	return false
}

// classify sets kind, command, flags and statement findings from the
// statement node itself. Tables, functions and nested constructs come from
// the walker.
func (r *stmtAnalysis) classify(stmt any, sp *spanner, w *walker) {
	whole := sp.stmtSpan()
	switch s := stmt.(type) {
	case *pg_query.SelectStmt:
		r.kind, r.command = qgate.KindSelect, "SELECT"
		r.hasWhere, r.hasLimit = selectHasWhere(s), selectHasLimit(s)
		if s.IntoClause != nil {
			// SELECT INTO is CREATE TABLE AS by another name.
			r.kind, r.command = qgate.KindDDL, "SELECT INTO"
		}

	case *pg_query.InsertStmt:
		r.kind, r.command = qgate.KindInsert, "INSERT"
		r.add(finding(codeWrite, whole, "INSERT into %s", relName(s.Relation)))
	case *pg_query.UpdateStmt:
		r.kind, r.command = qgate.KindUpdate, "UPDATE"
		r.hasWhere = s.WhereClause != nil
		r.writeFinding(whole, s.Relation)
	case *pg_query.DeleteStmt:
		r.kind, r.command = qgate.KindDelete, "DELETE"
		r.hasWhere = s.WhereClause != nil
		r.writeFinding(whole, s.Relation)
	case *pg_query.MergeStmt:
		r.kind, r.command = qgate.KindMerge, "MERGE"
		r.add(finding(codeWrite, whole, "MERGE into %s", relName(s.Relation)))
	case *pg_query.TruncateStmt:
		// TRUNCATE is DELETE without WHERE that cannot be filtered: a
		// write of kind delete, not DDL.
		r.kind, r.command = qgate.KindDelete, "TRUNCATE"
		r.add(finding(codeDrop, whole, "TRUNCATE deletes every row"))
		r.add(finding(codeWriteWithoutWhere, whole, "TRUNCATE has no WHERE clause"))

	case *pg_query.CopyStmt:
		r.kind, r.command = qgate.KindCopy, "COPY"
		r.readOnly = false
		r.writes = s.IsFrom
		r.add(copyFinding(s, whole))
	case *pg_query.CallStmt:
		r.kind, r.command = qgate.KindCall, "CALL"
		r.writes, r.unsafe = true, true
	case *pg_query.DoStmt:
		r.kind, r.command = qgate.KindDo, "DO"
		r.writes, r.unsafe = true, true
		r.add(finding(codeDynamicSQL, whole, "DO runs an anonymous code block"))
	case *pg_query.ExecuteStmt:
		r.kind, r.command = qgate.KindUtility, "EXECUTE"
		r.writes, r.unsafe = true, true
		r.add(finding(codeDynamicSQL, whole, "EXECUTE runs prepared statement %s, which qgate cannot see here", quoteName(s.Name)))

	case *pg_query.VariableSetStmt:
		r.classifySet(s, whole)
	case *pg_query.ConstraintsSetStmt:
		r.kind, r.command = qgate.KindSet, "SET CONSTRAINTS"
	case *pg_query.TransactionStmt:
		r.classifyTransaction(s, whole)

	case *pg_query.VariableShowStmt:
		r.kind, r.command = qgate.KindUtility, "SHOW"
	case *pg_query.DeallocateStmt:
		r.kind, r.command = qgate.KindUtility, "DEALLOCATE"
		if s.Isall {
			r.command = "DEALLOCATE ALL"
		}
	case *pg_query.FetchStmt:
		r.kind, r.command = qgate.KindUtility, "FETCH"
		if s.Ismove {
			r.command = "MOVE"
		}
	case *pg_query.ClosePortalStmt:
		r.kind, r.command = qgate.KindUtility, "CLOSE CURSOR"
		if s.Portalname == "" {
			r.command = "CLOSE CURSOR ALL"
		}
	case *pg_query.ListenStmt:
		r.kind, r.command = qgate.KindUtility, "LISTEN"
	case *pg_query.UnlistenStmt:
		r.kind, r.command = qgate.KindUtility, "UNLISTEN"
	case *pg_query.NotifyStmt:
		// Allowed in a read-only transaction, but it sends a message to
		// other sessions: an effect outside the statement.
		r.kind, r.command = qgate.KindUtility, "NOTIFY"
		r.readOnly = false
		r.add(finding(codeNotify, whole, "NOTIFY sends a message to other sessions"))
	case *pg_query.LoadStmt:
		r.kind, r.command = qgate.KindUtility, "LOAD"
		r.writes = true
		r.add(finding(codeLoad, whole, "LOAD loads a shared library into the server"))
	case *pg_query.DiscardStmt:
		r.classifyDiscard(s, whole)
	case *pg_query.LockStmt:
		r.kind, r.command = qgate.KindUtility, "LOCK TABLE"
		r.readOnly = false
		r.add(finding(codeLock, whole, "LOCK TABLE blocks other sessions"))

	case *pg_query.CheckPointStmt:
		r.maintenance("CHECKPOINT", whole)
	case *pg_query.VacuumStmt:
		if s.IsVacuumcmd {
			r.maintenance("VACUUM", whole)
		} else {
			r.maintenance("ANALYZE", whole)
		}
	case *pg_query.ClusterStmt:
		r.maintenance("CLUSTER", whole)
	case *pg_query.ReindexStmt:
		r.maintenance("REINDEX", whole)

	case *pg_query.GrantStmt:
		r.privilege(choose(s.IsGrant, "GRANT", "REVOKE"), whole)
	case *pg_query.GrantRoleStmt:
		r.privilege(choose(s.IsGrant, "GRANT ROLE", "REVOKE ROLE"), whole)
	case *pg_query.AlterDefaultPrivilegesStmt:
		r.privilege("ALTER DEFAULT PRIVILEGES", whole)
	case *pg_query.CreateRoleStmt:
		r.privilege("CREATE ROLE", whole)
	case *pg_query.AlterRoleStmt, *pg_query.AlterRoleSetStmt:
		r.privilege("ALTER ROLE", whole)
	case *pg_query.DropRoleStmt:
		r.privilege("DROP ROLE", whole)
	case *pg_query.ReassignOwnedStmt:
		r.privilege("REASSIGN OWNED", whole)

	case *pg_query.AlterSystemStmt:
		r.kind, r.command = qgate.KindDDL, "ALTER SYSTEM"
		r.add(finding(codeAlterSystem, whole, "ALTER SYSTEM changes the server configuration"))
	case *pg_query.CreateTableAsStmt:
		r.kind, r.command = qgate.KindDDL, "CREATE TABLE AS"
		switch {
		case s.IsSelectInto:
			r.command = "SELECT INTO"
		case s.Objtype == pg_query.ObjectType_OBJECT_MATVIEW:
			r.command = "CREATE MATERIALIZED VIEW"
		}
		if q := s.Query.GetSelectStmt(); q != nil {
			r.hasWhere, r.hasLimit = selectHasWhere(q), selectHasLimit(q)
		}
	case *pg_query.DropStmt:
		r.kind, r.command = qgate.KindDDL, "DROP "+objectTypeName(s.RemoveType)
		if isRelationType(s.RemoveType) {
			for _, o := range s.Objects {
				if parts := stringParts(o.GetList().GetItems()); len(parts) > 0 {
					w.tables.add(strings.Join(parts, "."))
				}
			}
		}
		r.add(finding(codeDrop, whole, "%s destroys objects and their data", r.command))
	case *pg_query.AlterTableStmt:
		r.kind, r.command = qgate.KindDDL, "ALTER "+objectTypeName(s.Objtype)
		if w.dropColumn {
			r.add(finding(codeDrop, whole, "%s ... DROP COLUMN destroys data", r.command))
		}
	case *pg_query.AlterTableMoveAllStmt:
		r.kind, r.command = qgate.KindDDL, "ALTER "+objectTypeName(s.Objtype)
	case *pg_query.RenameStmt:
		t := s.RenameType
		if t == pg_query.ObjectType_OBJECT_COLUMN || t == pg_query.ObjectType_OBJECT_TABCONSTRAINT {
			t = s.RelationType
		}
		if t == pg_query.ObjectType_OBJECT_ROLE {
			r.privilege("ALTER ROLE", whole)
			break
		}
		r.kind, r.command = qgate.KindDDL, "ALTER "+objectTypeName(t)
	case *pg_query.AlterObjectSchemaStmt:
		r.kind, r.command = qgate.KindDDL, "ALTER "+objectTypeName(s.ObjectType)
	case *pg_query.AlterOwnerStmt:
		r.kind, r.command = qgate.KindDDL, "ALTER "+objectTypeName(s.ObjectType)
	case *pg_query.AlterObjectDependsStmt:
		r.kind, r.command = qgate.KindDDL, "ALTER "+objectTypeName(s.ObjectType)
	case *pg_query.AlterFunctionStmt:
		r.kind, r.command = qgate.KindDDL, "ALTER "+objectTypeName(s.Objtype)
	case *pg_query.DefineStmt:
		r.kind, r.command = qgate.KindDDL, "CREATE "+objectTypeName(s.Kind)
	case *pg_query.CreateFunctionStmt:
		r.kind, r.command = qgate.KindDDL, choose(s.IsProcedure, "CREATE PROCEDURE", "CREATE FUNCTION")

	default:
		name := pgMessageName(stmt)
		if tag, ok := dropTags[name]; ok {
			r.kind, r.command = qgate.KindDDL, tag
			r.add(finding(codeDrop, whole, "%s destroys objects and their data", tag))
			return
		}
		if tag, ok := ddlTags[name]; ok {
			r.kind, r.command = qgate.KindDDL, tag
			return
		}
		// A statement type this analyzer has no rule for: fail closed.
		r.kind, r.command = qgate.KindOther, strings.ToUpper(strings.TrimSuffix(name, "Stmt"))
		r.readOnly, r.writes, r.unsafe = false, true, true
		r.add(finding(codeUnknownStatement, whole, "statement type %s is not recognised", name))
	}
}

func (r *stmtAnalysis) writeFinding(sp span, rel *pg_query.RangeVar) {
	if r.hasWhere {
		r.add(finding(codeWrite, sp, "%s of %s", r.command, relName(rel)))
		return
	}
	r.add(finding(codeWriteWithoutWhere, sp, "%s without WHERE changes every row of %s", r.command, relName(rel)))
}

func copyFinding(s *pg_query.CopyStmt, sp span) findingTemplate {
	dir := choose(s.IsFrom, "FROM", "TO")
	switch {
	case s.IsProgram:
		f := finding(codeCopy, sp, "COPY %s PROGRAM runs a shell command on the database server", dir)
		f.severity = qgate.SeverityCritical
		return f
	case s.Filename != "":
		f := finding(codeCopy, sp, "COPY %s a file on the database server", dir)
		f.severity = qgate.SeverityCritical
		return f
	case s.IsFrom:
		return finding(codeCopy, sp, "COPY FROM STDIN writes rows into %s", relName(s.Relation))
	}
	return finding(codeCopy, sp, "COPY TO STDOUT exports data in bulk")
}

// classifySet: ordinary settings are session-local and read-only; changing
// the role or session authorization changes privileges.
func (r *stmtAnalysis) classifySet(s *pg_query.VariableSetStmt, sp span) {
	r.kind, r.command = qgate.KindSet, "SET"
	if s.Kind == pg_query.VariableSetKind_VAR_RESET || s.Kind == pg_query.VariableSetKind_VAR_RESET_ALL {
		r.command = "RESET"
	}
	switch name := strings.ToLower(s.Name); name {
	case "role", "session_authorization":
		r.readOnly = false
		what := "ROLE"
		if name == "session_authorization" {
			what = "SESSION AUTHORIZATION"
		}
		r.add(finding(codePrivilege, sp, "%s %s changes the privileges of the session", r.command, what))
	case "client_encoding":
		// The server would read every later statement in another
		// encoding than the one qgate analysed it in.
		r.readOnly = false
		r.add(finding(codeClientEncoding, sp, "%s client_encoding changes how the server reads later statements", r.command))
	case "transaction_read_only", "default_transaction_read_only":
		r.add(finding(codeTransactionMode, sp, "%s %s can make later statements read-write", r.command, name))
	case "transaction", "session characteristics":
		if setsReadWrite(s.Args) {
			r.add(finding(codeTransactionMode, sp, "SET %s ... READ WRITE makes later statements read-write", strings.ToUpper(name)))
		}
	}
}

// setsReadWrite reports whether transaction options include READ WRITE.
// The value comes from keywords (READ WRITE / READ ONLY), not literals.
func setsReadWrite(opts []*pg_query.Node) bool {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || d.Defname != "transaction_read_only" {
			continue
		}
		if c := d.Arg.GetAConst(); c != nil && c.GetIval() != nil && c.GetIval().Ival == 0 {
			return true
		}
	}
	return false
}

func (r *stmtAnalysis) classifyTransaction(s *pg_query.TransactionStmt, sp span) {
	r.kind = qgate.KindTransaction
	switch s.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN:
		r.command = "BEGIN"
	case pg_query.TransactionStmtKind_TRANS_STMT_START:
		r.command = "START TRANSACTION"
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		r.command = "COMMIT"
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK, pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		r.command = "ROLLBACK"
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		r.command = "SAVEPOINT"
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		r.command = "RELEASE"
	case pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:
		r.command = "PREPARE TRANSACTION"
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
		r.command = "COMMIT PREPARED"
		r.writes = true // commits whatever that transaction changed
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		r.command = "ROLLBACK PREPARED"
	default:
		r.command = "UNKNOWN"
		r.readOnly, r.writes = false, true
	}
	switch s.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_PREPARE,
		pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED,
		pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		// Two-phase commit acts on transactions beyond this statement
		// (possibly another session's) and cannot run in a READ ONLY
		// transaction block.
		r.readOnly = false
		r.add(finding(codeTwoPhase, sp, "%s acts on a two-phase transaction", r.command))
	}
	if setsReadWrite(s.Options) {
		r.add(finding(codeTransactionMode, sp, "%s READ WRITE", r.command))
	}
}

func (r *stmtAnalysis) classifyDiscard(s *pg_query.DiscardStmt, sp span) {
	r.kind = qgate.KindUtility
	switch s.Target {
	case pg_query.DiscardMode_DISCARD_PLANS:
		r.command = "DISCARD PLANS"
	case pg_query.DiscardMode_DISCARD_SEQUENCES:
		r.command = "DISCARD SEQUENCES"
	case pg_query.DiscardMode_DISCARD_TEMP:
		r.command = "DISCARD TEMP"
	default:
		r.command = "DISCARD ALL"
	}
	if s.Target == pg_query.DiscardMode_DISCARD_PLANS || s.Target == pg_query.DiscardMode_DISCARD_SEQUENCES {
		return
	}
	// DISCARD TEMP drops temporary tables; DISCARD ALL also resets the
	// session authorization (like RESET ROLE) and cannot run in a
	// transaction block.
	r.readOnly, r.writes = false, true
	r.add(finding(codeDiscard, sp, "%s drops temporary tables and session state", r.command))
}

func (r *stmtAnalysis) maintenance(command string, sp span) {
	r.kind, r.command = qgate.KindUtility, command
	r.readOnly = false
	r.add(finding(codeMaintenance, sp, "%s is maintenance that locks or rewrites tables", command))
}

func (r *stmtAnalysis) privilege(command string, sp span) {
	r.kind, r.command = qgate.KindGrant, command
	r.add(finding(codePrivilege, sp, "%s changes privileges", command))
}

func selectHasWhere(s *pg_query.SelectStmt) bool {
	if s.Larg != nil || s.Rarg != nil { // UNION / INTERSECT / EXCEPT: every arm
		return s.Larg != nil && s.Rarg != nil && selectHasWhere(s.Larg) && selectHasWhere(s.Rarg)
	}
	return s.WhereClause != nil
}

// selectHasLimit: LIMIT n or FETCH FIRST n ROWS; LIMIT ALL and LIMIT NULL
// are no limit.
func selectHasLimit(s *pg_query.SelectStmt) bool {
	if s.LimitCount == nil {
		return false
	}
	if c := s.LimitCount.GetAConst(); c != nil && c.Isnull {
		return false
	}
	return true
}

func relName(rv *pg_query.RangeVar) string {
	if rv == nil {
		return "?"
	}
	return rangeVarName(rv)
}

func choose(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

func pgMessageName(stmt any) string {
	if m, ok := stmt.(protoreflect.ProtoMessage); ok {
		return string(m.ProtoReflect().Descriptor().Name())
	}
	return "Unknown"
}

func isRelationType(t pg_query.ObjectType) bool {
	switch t {
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_VIEW, pg_query.ObjectType_OBJECT_MATVIEW,
		pg_query.ObjectType_OBJECT_INDEX, pg_query.ObjectType_OBJECT_SEQUENCE, pg_query.ObjectType_OBJECT_FOREIGN_TABLE:
		return true
	}
	return false
}

var objectTypeNames = map[pg_query.ObjectType]string{
	pg_query.ObjectType_OBJECT_MATVIEW:               "MATERIALIZED VIEW",
	pg_query.ObjectType_OBJECT_FDW:                   "FOREIGN DATA WRAPPER",
	pg_query.ObjectType_OBJECT_FOREIGN_SERVER:        "SERVER",
	pg_query.ObjectType_OBJECT_LARGEOBJECT:           "LARGE OBJECT",
	pg_query.ObjectType_OBJECT_OPCLASS:               "OPERATOR CLASS",
	pg_query.ObjectType_OBJECT_OPFAMILY:              "OPERATOR FAMILY",
	pg_query.ObjectType_OBJECT_AMOP:                  "OPERATOR FAMILY",
	pg_query.ObjectType_OBJECT_AMPROC:                "OPERATOR FAMILY",
	pg_query.ObjectType_OBJECT_STATISTIC_EXT:         "STATISTICS",
	pg_query.ObjectType_OBJECT_TSCONFIGURATION:       "TEXT SEARCH CONFIGURATION",
	pg_query.ObjectType_OBJECT_TSDICTIONARY:          "TEXT SEARCH DICTIONARY",
	pg_query.ObjectType_OBJECT_TSPARSER:              "TEXT SEARCH PARSER",
	pg_query.ObjectType_OBJECT_TSTEMPLATE:            "TEXT SEARCH TEMPLATE",
	pg_query.ObjectType_OBJECT_TABCONSTRAINT:         "TABLE",
	pg_query.ObjectType_OBJECT_COLUMN:                "TABLE",
	pg_query.ObjectType_OBJECT_ATTRIBUTE:             "TYPE",
	pg_query.ObjectType_OBJECT_DOMCONSTRAINT:         "DOMAIN",
	pg_query.ObjectType_OBJECT_DEFACL:                "DEFAULT PRIVILEGES",
	pg_query.ObjectType_OBJECT_PUBLICATION_NAMESPACE: "PUBLICATION",
	pg_query.ObjectType_OBJECT_PUBLICATION_REL:       "PUBLICATION",
	pg_query.ObjectType_OBJECT_PARAMETER_ACL:         "PARAMETER",
	pg_query.ObjectType_OBJECT_TYPE_UNDEFINED:        "OBJECT",
}

// objectTypeName renders an ObjectType as in command tags ("TABLE",
// "MATERIALIZED VIEW", "TEXT SEARCH CONFIGURATION").
func objectTypeName(t pg_query.ObjectType) string {
	if n, ok := objectTypeNames[t]; ok {
		return n
	}
	n := strings.TrimPrefix(t.String(), "OBJECT_")
	return strings.ReplaceAll(n, "_", " ")
}

// ddlTags are the command tags of DDL statements that need no inspection.
var ddlTags = map[string]string{
	"CreateStmt":                   "CREATE TABLE",
	"CreateForeignTableStmt":       "CREATE FOREIGN TABLE",
	"IndexStmt":                    "CREATE INDEX",
	"ViewStmt":                     "CREATE VIEW",
	"CreateSchemaStmt":             "CREATE SCHEMA",
	"CreateSeqStmt":                "CREATE SEQUENCE",
	"AlterSeqStmt":                 "ALTER SEQUENCE",
	"CreateDomainStmt":             "CREATE DOMAIN",
	"AlterDomainStmt":              "ALTER DOMAIN",
	"CompositeTypeStmt":            "CREATE TYPE",
	"CreateEnumStmt":               "CREATE TYPE",
	"CreateRangeStmt":              "CREATE TYPE",
	"AlterEnumStmt":                "ALTER TYPE",
	"AlterTypeStmt":                "ALTER TYPE",
	"CreateTableSpaceStmt":         "CREATE TABLESPACE",
	"AlterTableSpaceOptionsStmt":   "ALTER TABLESPACE",
	"CreateExtensionStmt":          "CREATE EXTENSION",
	"AlterExtensionStmt":           "ALTER EXTENSION",
	"AlterExtensionContentsStmt":   "ALTER EXTENSION",
	"CreateFdwStmt":                "CREATE FOREIGN DATA WRAPPER",
	"AlterFdwStmt":                 "ALTER FOREIGN DATA WRAPPER",
	"CreateForeignServerStmt":      "CREATE SERVER",
	"AlterForeignServerStmt":       "ALTER SERVER",
	"CreateUserMappingStmt":        "CREATE USER MAPPING",
	"AlterUserMappingStmt":         "ALTER USER MAPPING",
	"ImportForeignSchemaStmt":      "IMPORT FOREIGN SCHEMA",
	"CreatePolicyStmt":             "CREATE POLICY",
	"AlterPolicyStmt":              "ALTER POLICY",
	"CreateAmStmt":                 "CREATE ACCESS METHOD",
	"CreateTrigStmt":               "CREATE TRIGGER",
	"CreateEventTrigStmt":          "CREATE EVENT TRIGGER",
	"AlterEventTrigStmt":           "ALTER EVENT TRIGGER",
	"CreatePLangStmt":              "CREATE LANGUAGE",
	"CreateOpClassStmt":            "CREATE OPERATOR CLASS",
	"CreateOpFamilyStmt":           "CREATE OPERATOR FAMILY",
	"AlterOpFamilyStmt":            "ALTER OPERATOR FAMILY",
	"CreateStatsStmt":              "CREATE STATISTICS",
	"AlterStatsStmt":               "ALTER STATISTICS",
	"AlterOperatorStmt":            "ALTER OPERATOR",
	"AlterCollationStmt":           "ALTER COLLATION",
	"RuleStmt":                     "CREATE RULE",
	"CreatedbStmt":                 "CREATE DATABASE",
	"AlterDatabaseStmt":            "ALTER DATABASE",
	"AlterDatabaseRefreshCollStmt": "ALTER DATABASE",
	"AlterDatabaseSetStmt":         "ALTER DATABASE",
	"CreateConversionStmt":         "CREATE CONVERSION",
	"CreateCastStmt":               "CREATE CAST",
	"CreateTransformStmt":          "CREATE TRANSFORM",
	"AlterTSDictionaryStmt":        "ALTER TEXT SEARCH DICTIONARY",
	"AlterTSConfigurationStmt":     "ALTER TEXT SEARCH CONFIGURATION",
	"CreatePublicationStmt":        "CREATE PUBLICATION",
	"AlterPublicationStmt":         "ALTER PUBLICATION",
	"CreateSubscriptionStmt":       "CREATE SUBSCRIPTION",
	"AlterSubscriptionStmt":        "ALTER SUBSCRIPTION",
	"SecLabelStmt":                 "SECURITY LABEL",
	"CommentStmt":                  "COMMENT",
	"RefreshMatViewStmt":           "REFRESH MATERIALIZED VIEW",
}

// dropTags are DDL statements that destroy objects, beyond DropStmt.
var dropTags = map[string]string{
	"DropdbStmt":           "DROP DATABASE",
	"DropTableSpaceStmt":   "DROP TABLESPACE",
	"DropSubscriptionStmt": "DROP SUBSCRIPTION",
	"DropUserMappingStmt":  "DROP USER MAPPING",
	"DropOwnedStmt":        "DROP OWNED",
}
