package postgres

import (
	"slices"
	"strings"
	"testing"

	"github.com/qgate/qgate"
)

// tri is an optional boolean expectation.
type tri int8

const (
	skip tri = iota
	yes
	no
)

func (t tri) check(tb testing.TB, what string, got bool) {
	tb.Helper()
	if t != skip && got != (t == yes) {
		tb.Errorf("%s = %v, want %v", what, got, t == yes)
	}
}

type analyzeCase struct {
	name string
	sql  string

	readOnly bool
	writes   tri
	kinds    []string // per statement, in order; nil: not checked
	command  string   // of the first statement; "": not checked
	tables   []string // SQLAnalysis.Tables; nil: not checked
	funcs    []string // SQLAnalysis.Functions; nil: not checked
	where    tri      // first statement
	limit    tri      // first statement
	codes    []string // finding codes that must be present
	absent   []string // finding codes that must not be present
}

var none = []string{}

// analyzeCases is shared by TestAnalyze, the cache-consistency test, the
// fuzz seeds and the benchmarks.
var analyzeCases = []analyzeCase{
	// ---- readers that must stay read-only ----
	{name: "pgbench select", sql: "SELECT abalance FROM pgbench_accounts WHERE aid = 42",
		readOnly: true, writes: no, kinds: []string{"select"}, command: "SELECT", tables: []string{"pgbench_accounts"}, funcs: none, where: yes, limit: no, absent: []string{codeWrite}},
	{name: "schema-qualified table with limit", sql: "SELECT * FROM public.users LIMIT 10",
		readOnly: true, tables: []string{"public.users"}, where: no, limit: yes},
	{name: "fetch first", sql: "SELECT * FROM t ORDER BY id FETCH FIRST 5 ROWS ONLY",
		readOnly: true, limit: yes},
	{name: "limit all is no limit", sql: "SELECT * FROM t LIMIT ALL", readOnly: true, limit: no},
	{name: "dollar quote with DROP", sql: "SELECT $$DROP TABLE x$$",
		readOnly: true, kinds: []string{"select"}, tables: none, funcs: none, absent: []string{codeDrop, codeDDL}},
	{name: "tagged dollar quote with semicolon", sql: "SELECT $tag$ ; DELETE FROM t $tag$",
		readOnly: true, kinds: []string{"select"}, tables: none, absent: []string{codeMultiStatement}},
	{name: "nested comments", sql: "/* outer /* DELETE FROM t */ still comment */ SELECT 1",
		readOnly: true, kinds: []string{"select"}, tables: none},
	{name: "line comment", sql: "-- DELETE FROM t\nSELECT 1", readOnly: true, kinds: []string{"select"}, tables: none},
	{name: "quoted identifiers named like keywords", sql: `SELECT "delete" FROM "drop"`,
		readOnly: true, kinds: []string{"select"}, tables: []string{"drop"}},
	{name: "escape string with quotes", sql: `SELECT E'it\'s; DROP TABLE x; --'`,
		readOnly: true, kinds: []string{"select"}, tables: none},
	{name: "standard string with semicolon", sql: "SELECT 'a;b', 'DELETE FROM t'", readOnly: true, kinds: []string{"select"}},
	{name: "explain without analyze of delete", sql: "EXPLAIN DELETE FROM t",
		readOnly: true, writes: no, kinds: []string{"utility"}, command: "EXPLAIN", tables: []string{"t"}, absent: []string{codeWriteWithoutWhere, codeExplainAnalyze}},
	{name: "explain analyze of select", sql: "EXPLAIN ANALYZE SELECT * FROM t WHERE id = 1",
		readOnly: true, command: "EXPLAIN", tables: []string{"t"}, where: yes, absent: []string{codeExplainAnalyze}},
	{name: "explain analyze false", sql: "EXPLAIN (ANALYZE false, VERBOSE) DELETE FROM t", readOnly: true},
	{name: "explain analyze off as string", sql: "EXPLAIN (ANALYZE 'off') UPDATE t SET x = 1", readOnly: true},
	{name: "read-only CTE", sql: "WITH x AS (SELECT id FROM users) SELECT * FROM x",
		readOnly: true, tables: []string{"users"}},
	{name: "recursive CTE", sql: "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r",
		readOnly: true, tables: none},
	{name: "CTE scope: earlier CTE sees the table", sql: "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a, b",
		readOnly: true, tables: []string{"b"}},
	{name: "CTE name qualified is a table", sql: "WITH users AS (SELECT 1) SELECT * FROM public.users, users",
		readOnly: true, tables: []string{"public.users"}},
	{name: "show", sql: "SHOW search_path", readOnly: true, kinds: []string{"utility"}, command: "SHOW"},
	{name: "begin", sql: "BEGIN", readOnly: true, kinds: []string{"transaction"}, command: "BEGIN"},
	{name: "begin read write", sql: "BEGIN READ WRITE", readOnly: true, command: "BEGIN", codes: []string{codeTransactionMode}},
	{name: "commit", sql: "COMMIT", readOnly: true, kinds: []string{"transaction"}, command: "COMMIT"},
	{name: "savepoint and rollback to", sql: "SAVEPOINT s1; ROLLBACK TO SAVEPOINT s1",
		readOnly: true, kinds: []string{"transaction", "transaction"}, codes: []string{codeMultiStatement}},
	{name: "ordinary set", sql: "SET search_path = public, pg_catalog", readOnly: true, kinds: []string{"set"}, command: "SET"},
	{name: "set with string", sql: "SET statement_timeout = '5s'", readOnly: true, kinds: []string{"set"}},
	{name: "set time zone", sql: "SET TIME ZONE 'UTC'", readOnly: true, kinds: []string{"set"}},
	{name: "reset all", sql: "RESET ALL", readOnly: true, kinds: []string{"set"}, command: "RESET"},
	{name: "set client_encoding", sql: "SET client_encoding = 'SJIS'", readOnly: false, kinds: []string{"set"}, codes: []string{codeClientEncoding}},
	{name: "set names", sql: "SET NAMES 'BIG5'", readOnly: false, kinds: []string{"set"}, codes: []string{codeClientEncoding}},
	{name: "safe functions", sql: "SELECT count(*), sum(x), avg(y), lower(name), coalesce(a, b), now(), date_trunc('day', ts) FROM t GROUP BY 1",
		readOnly: true, funcs: []string{"count", "sum", "avg", "lower", "now", "date_trunc"}},
	{name: "pg_catalog-qualified safe function", sql: "SELECT pg_catalog.now()", readOnly: true, funcs: []string{"pg_catalog.now"}},
	{name: "window function", sql: "SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM t",
		readOnly: true, funcs: []string{"row_number"}},
	{name: "union where in one arm only", sql: "SELECT a FROM t UNION SELECT b FROM u WHERE x", readOnly: true, tables: []string{"t", "u"}, where: no},
	{name: "union where in both arms", sql: "SELECT a FROM t WHERE y UNION SELECT b FROM u WHERE x", readOnly: true, where: yes},
	{name: "subquery in where", sql: "SELECT * FROM t WHERE id IN (SELECT id FROM u)", readOnly: true, tables: []string{"t", "u"}, where: yes},
	{name: "set-returning function", sql: "SELECT * FROM generate_series(1, 10) g", readOnly: true, tables: none, funcs: []string{"generate_series"}},
	{name: "values", sql: "VALUES (1, 'a'), (2, 'b')", readOnly: true, kinds: []string{"select"}},
	{name: "table command", sql: "TABLE users", readOnly: true, kinds: []string{"select"}, tables: []string{"users"}},
	{name: "declare fetch close", sql: "DECLARE c CURSOR FOR SELECT * FROM t; FETCH 10 FROM c; CLOSE c",
		readOnly: true, kinds: []string{"utility", "utility", "utility"}, command: "DECLARE CURSOR", tables: []string{"t"}},
	{name: "listen unlisten", sql: "LISTEN ch; UNLISTEN *", readOnly: true, kinds: []string{"utility", "utility"}, command: "LISTEN"},
	{name: "deallocate", sql: "DEALLOCATE p", readOnly: true, command: "DEALLOCATE"},
	{name: "sql syntax functions", sql: "SELECT x AT TIME ZONE 'UTC', extract(year FROM ts), trim(both ' ' FROM s), substring(s FROM 2), 'a' LIKE 'b' ESCAPE 'c' FROM t",
		readOnly: true, funcs: []string{"timezone", "extract", "btrim", "substring", "like_escape"}},
	{name: "prepare a read", sql: "PREPARE q AS SELECT * FROM t WHERE id = $1",
		readOnly: true, writes: no, kinds: []string{"utility"}, command: "PREPARE", tables: []string{"t"}, where: yes},
	{name: "currval is a read", sql: "SELECT currval('s')", readOnly: true, funcs: []string{"currval"}},
	{name: "txid_current succeeds read-only", sql: "SELECT txid_current()", readOnly: true},
	{name: "built-in operators", sql: "SELECT a @> b, c ->> 'k', d || e, f ~* 'x', g <-> h FROM t ORDER BY x USING <", readOnly: true},
	{name: "json functions", sql: "SELECT jsonb_path_query(doc, '$.a'), jsonb_build_object('a', 1) FROM docs", readOnly: true},
	{name: "tablesample", sql: "SELECT * FROM t TABLESAMPLE BERNOULLI (10) REPEATABLE (1)", readOnly: true, tables: []string{"t"}},
	{name: "discard plans", sql: "DISCARD PLANS", readOnly: true, command: "DISCARD PLANS"},
	{name: "trailing semicolon", sql: "SELECT 1;", readOnly: true, kinds: []string{"select"}, absent: []string{codeMultiStatement}},
	{name: "set constraints", sql: "SET CONSTRAINTS ALL DEFERRED", readOnly: true, kinds: []string{"set"}, command: "SET CONSTRAINTS"},

	// ---- writers and everything else that is not read-only ----
	{name: "modifying CTE in subquery", sql: "SELECT * FROM (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) s",
		writes: yes, kinds: []string{"select"}, tables: []string{"t"}, codes: []string{codeModifyingCTE}},
	{name: "modifying CTE nested in CTE", sql: "WITH a AS (WITH b AS (UPDATE t SET x = 1 RETURNING *) SELECT * FROM b) SELECT * FROM a",
		writes: yes, kinds: []string{"select"}, tables: []string{"t"}, codes: []string{codeModifyingCTE}},
	{name: "modifying CTE at top", sql: "WITH d AS (INSERT INTO log VALUES (1) RETURNING id) SELECT * FROM d",
		writes: yes, tables: []string{"log"}, codes: []string{codeModifyingCTE}},
	{name: "DML target named like a CTE is the table", sql: "WITH t AS (SELECT 1) DELETE FROM t WHERE true",
		writes: yes, kinds: []string{"delete"}, tables: []string{"t"}},
	{name: "select into", sql: "SELECT * INTO newt FROM t",
		writes: yes, kinds: []string{"ddl"}, command: "SELECT INTO", tables: []string{"newt", "t"}, codes: []string{codeSelectInto, codeDDL}},
	{name: "create table as", sql: "CREATE TABLE t2 AS SELECT * FROM t WHERE x",
		writes: yes, kinds: []string{"ddl"}, command: "CREATE TABLE AS", tables: []string{"t2", "t"}, where: yes, codes: []string{codeDDL}},
	{name: "explain analyze of delete", sql: "EXPLAIN ANALYZE DELETE FROM t",
		writes: yes, kinds: []string{"utility"}, command: "EXPLAIN", tables: []string{"t"}, codes: []string{codeExplainAnalyze, codeWriteWithoutWhere}},
	{name: "explain (analyze true) delete", sql: "EXPLAIN (ANALYZE true) DELETE FROM t WHERE id = 1",
		writes: yes, command: "EXPLAIN", codes: []string{codeExplainAnalyze}},
	{name: "explain (analyze 1) update", sql: "EXPLAIN (ANALYZE 1, BUFFERS) UPDATE t SET x = 2 WHERE id = 1", codes: []string{codeExplainAnalyze}},
	{name: "explain (analyze) for update", sql: "EXPLAIN (ANALYZE) SELECT * FROM t FOR UPDATE", writes: no, codes: []string{codeExplainAnalyze, codeLockingRead}},
	{name: "explain of user function may run it while planning", sql: "EXPLAIN SELECT myfunc(1)", codes: []string{codeUnknownFunction}},
	{name: "explain execute", sql: "EXPLAIN EXECUTE p(1)", command: "EXPLAIN"},
	{name: "nextval", sql: "SELECT nextval('s')", writes: yes, funcs: []string{"nextval"}, codes: []string{codeSideEffectFunction}},
	{name: "setval", sql: "SELECT setval('s', 1)", funcs: []string{"setval"}, codes: []string{codeSideEffectFunction}},
	{name: "pg_terminate_backend", sql: "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
		tables: []string{"pg_stat_activity"}, codes: []string{codeSideEffectFunction}},
	{name: "dblink", sql: "SELECT * FROM dblink('host=x', 'SELECT 1') AS t(a int)", funcs: []string{"dblink"}, codes: []string{codeDynamicSQL}},
	{name: "dblink_exec", sql: "SELECT dblink_exec('DELETE FROM t')", codes: []string{codeDynamicSQL}},
	{name: "dblink_connect by prefix", sql: "SELECT dblink_connect('x')", codes: []string{codeSideEffectFunction}},
	{name: "dblink in extension schema", sql: "SELECT ext.dblink_exec('DELETE FROM t')", funcs: []string{"ext.dblink_exec"}, codes: []string{codeDynamicSQL}},
	{name: "lo_import", sql: "SELECT lo_import('/etc/passwd')", codes: []string{codeSideEffectFunction}},
	{name: "pg_read_file", sql: "SELECT pg_read_file('/etc/passwd')", codes: []string{codeSideEffectFunction}},
	{name: "set_config", sql: "SELECT set_config('role', 'admin', false)", codes: []string{codeSideEffectFunction}},
	{name: "pg_catalog.set_config", sql: "SELECT pg_catalog.set_config('role', 'admin', false)", funcs: []string{"pg_catalog.set_config"}, codes: []string{codeSideEffectFunction}},
	{name: "pg_sleep", sql: "SELECT pg_sleep(10)", codes: []string{codeSideEffectFunction}},
	{name: "advisory lock", sql: "SELECT pg_advisory_lock(1)", codes: []string{codeSideEffectFunction}},
	{name: "query_to_xml", sql: "SELECT query_to_xml('SELECT * FROM secrets', true, true, '')", codes: []string{codeDynamicSQL}},
	{name: "user function", sql: "SELECT myfunc()", writes: yes, funcs: []string{"myfunc"}, codes: []string{codeUnknownFunction}},
	{name: "schema-qualified unknown function", sql: "SELECT myschema.lower('x')", funcs: []string{"myschema.lower"}, codes: []string{codeUnknownFunction}},
	{name: "quoted function name is not the built-in", sql: `SELECT "NOW"()`, codes: []string{codeUnknownFunction}},
	{name: "dangerous name in another schema", sql: "SELECT public.nextval('s')", codes: []string{codeSideEffectFunction}},
	{name: "function in subquery in where", sql: "SELECT * FROM t WHERE id = (SELECT nextval('s'))",
		tables: []string{"t"}, funcs: []string{"nextval"}, codes: []string{codeSideEffectFunction}},
	{name: "function in order by", sql: "SELECT * FROM t ORDER BY myfunc(x)", codes: []string{codeUnknownFunction}},
	{name: "function in lateral join", sql: "SELECT * FROM t, LATERAL myfunc(t.id) f", tables: []string{"t"}, codes: []string{codeUnknownFunction}},
	{name: "function in lateral subquery", sql: "SELECT * FROM t CROSS JOIN LATERAL (SELECT nextval('s')) x", codes: []string{codeSideEffectFunction}},
	{name: "function in values", sql: "VALUES (1, myfunc())", kinds: []string{"select"}, codes: []string{codeUnknownFunction}},
	{name: "function in default", sql: "CREATE TABLE t (id bigint DEFAULT nextval('s'), x text)",
		kinds: []string{"ddl"}, command: "CREATE TABLE", funcs: []string{"nextval"}, codes: []string{codeDDL, codeSideEffectFunction}},
	{name: "function in insert values", sql: "INSERT INTO t VALUES (nextval('s'))", funcs: []string{"nextval"}, codes: []string{codeWrite, codeSideEffectFunction}},
	{name: "custom tablesample method", sql: "SELECT * FROM t TABLESAMPLE mysampler (10)", tables: []string{"t"}, codes: []string{codeUnknownFunction}},
	{name: "user-defined operator", sql: "SELECT 1 <=> 2", codes: []string{codeUnknownOperator}},
	{name: "schema-qualified operator", sql: "SELECT 3 OPERATOR(myschema.+) 4", codes: []string{codeUnknownOperator}},
	{name: "prepare a delete", sql: "PREPARE p AS DELETE FROM t",
		writes: no, kinds: []string{"utility"}, command: "PREPARE", tables: []string{"t"}, codes: []string{codeWriteWithoutWhere}},
	{name: "execute", sql: "EXECUTE p", writes: yes, kinds: []string{"utility"}, command: "EXECUTE", codes: []string{codeDynamicSQL}},
	{name: "execute with function arg", sql: "EXECUTE p(nextval('s'))", funcs: []string{"nextval"}, codes: []string{codeDynamicSQL, codeSideEffectFunction}},
	{name: "copy to stdout", sql: "COPY t TO STDOUT", writes: no, kinds: []string{"copy"}, command: "COPY", tables: []string{"t"}, codes: []string{codeCopy}},
	{name: "copy from stdin", sql: "COPY t (a, b) FROM STDIN WITH (FORMAT csv)", writes: yes, kinds: []string{"copy"}, tables: []string{"t"}, codes: []string{codeCopy}},
	{name: "copy from program", sql: "COPY t FROM PROGRAM 'curl http://x'", writes: yes, codes: []string{codeCopy}},
	{name: "copy to file", sql: "COPY (SELECT * FROM secrets) TO '/tmp/x'", tables: []string{"secrets"}, codes: []string{codeCopy}},
	{name: "copy of a delete", sql: "COPY (DELETE FROM t RETURNING *) TO STDOUT", writes: yes, tables: []string{"t"}, codes: []string{codeNestedWrite}},
	{name: "do", sql: "DO $$BEGIN DELETE FROM t; END$$", writes: yes, kinds: []string{"do"}, command: "DO", tables: none, codes: []string{codeDynamicSQL}},
	{name: "call", sql: "CALL p(1)", writes: yes, kinds: []string{"call"}, command: "CALL", funcs: []string{"p"}, codes: []string{codeUnknownFunction}},
	{name: "call of a procedure named like a built-in", sql: "CALL now()", kinds: []string{"call"}, codes: []string{codeUnknownFunction}},
	{name: "set role", sql: "SET ROLE admin", writes: no, kinds: []string{"set"}, command: "SET", codes: []string{codePrivilege}},
	{name: "set local role", sql: "SET LOCAL ROLE admin", kinds: []string{"set"}, codes: []string{codePrivilege}},
	{name: "set session authorization", sql: "SET SESSION AUTHORIZATION admin", kinds: []string{"set"}, codes: []string{codePrivilege}},
	{name: "reset role", sql: "RESET ROLE", kinds: []string{"set"}, command: "RESET", codes: []string{codePrivilege}},
	{name: "vacuum", sql: "VACUUM t", writes: no, kinds: []string{"utility"}, command: "VACUUM", tables: []string{"t"}, codes: []string{codeMaintenance}},
	{name: "vacuum full analyze", sql: "VACUUM (FULL, ANALYZE) t", command: "VACUUM", codes: []string{codeMaintenance}},
	{name: "analyze", sql: "ANALYZE t", kinds: []string{"utility"}, command: "ANALYZE", codes: []string{codeMaintenance}},
	{name: "cluster", sql: "CLUSTER t USING t_pkey", command: "CLUSTER", codes: []string{codeMaintenance}},
	{name: "reindex", sql: "REINDEX TABLE t", command: "REINDEX", codes: []string{codeMaintenance}},
	{name: "checkpoint", sql: "CHECKPOINT", command: "CHECKPOINT", codes: []string{codeMaintenance}},
	{name: "lock table", sql: "LOCK TABLE t IN ACCESS EXCLUSIVE MODE", writes: no, command: "LOCK TABLE", tables: []string{"t"}, codes: []string{codeLock}},
	{name: "for update", sql: "SELECT * FROM t WHERE id = 1 FOR UPDATE", writes: no, kinds: []string{"select"}, where: yes, codes: []string{codeLockingRead}},
	{name: "for share", sql: "SELECT * FROM t FOR SHARE", codes: []string{codeLockingRead}},
	{name: "for key share of alias", sql: "SELECT * FROM t a FOR KEY SHARE OF a SKIP LOCKED", tables: []string{"t"}, codes: []string{codeLockingRead}},
	{name: "locking in a subquery", sql: "SELECT * FROM (SELECT * FROM t FOR NO KEY UPDATE) s", codes: []string{codeLockingRead}},
	{name: "multi statement", sql: "SELECT 1; DELETE FROM t",
		writes: yes, kinds: []string{"select", "delete"}, tables: []string{"t"}, codes: []string{codeMultiStatement, codeWriteWithoutWhere}},
	{name: "merge", sql: "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET x = s.x WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.x)",
		writes: yes, kinds: []string{"merge"}, command: "MERGE", tables: []string{"t", "s"}, codes: []string{codeWrite}},
	{name: "insert on conflict", sql: "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = excluded.a",
		writes: yes, kinds: []string{"insert"}, command: "INSERT", tables: []string{"t"}, codes: []string{codeWrite}},
	{name: "insert select", sql: "INSERT INTO t SELECT * FROM u", tables: []string{"t", "u"}},
	{name: "update without where", sql: "UPDATE t SET x = 1", writes: yes, kinds: []string{"update"}, where: no, codes: []string{codeWriteWithoutWhere}},
	{name: "update with where", sql: "UPDATE t SET x = 1 WHERE id = 2", kinds: []string{"update"}, where: yes, codes: []string{codeWrite}, absent: []string{codeWriteWithoutWhere}},
	{name: "delete with where", sql: "DELETE FROM t WHERE id = 1", kinds: []string{"delete"}, where: yes, codes: []string{codeWrite}},
	{name: "delete without where", sql: "DELETE FROM t", kinds: []string{"delete"}, where: no, codes: []string{codeWriteWithoutWhere}},
	{name: "truncate", sql: "TRUNCATE t, u", writes: yes, kinds: []string{"delete"}, command: "TRUNCATE", tables: []string{"t", "u"}, where: no,
		codes: []string{codeDrop, codeWriteWithoutWhere}, absent: []string{codeDDL}},
	{name: "drop table", sql: "DROP TABLE users", writes: yes, kinds: []string{"ddl"}, command: "DROP TABLE", tables: []string{"users"}, codes: []string{codeDDL, codeDrop}},
	{name: "drop schema", sql: "DROP SCHEMA s CASCADE", command: "DROP SCHEMA", tables: none, codes: []string{codeDrop}},
	{name: "create index", sql: "CREATE INDEX CONCURRENTLY i ON t (lower(x))", kinds: []string{"ddl"}, command: "CREATE INDEX", tables: []string{"t"}, codes: []string{codeDDL}},
	{name: "alter table add column", sql: "ALTER TABLE t ADD COLUMN c int", kinds: []string{"ddl"}, command: "ALTER TABLE", codes: []string{codeDDL}, absent: []string{codeDrop}},
	{name: "alter table drop column", sql: "ALTER TABLE t DROP COLUMN c", command: "ALTER TABLE", codes: []string{codeDrop}},
	{name: "rename", sql: "ALTER TABLE t RENAME TO u", command: "ALTER TABLE", codes: []string{codeDDL}},
	{name: "create function", sql: "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$", command: "CREATE FUNCTION", codes: []string{codeDDL}},
	{name: "create rule with a delete action", sql: "CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM u",
		writes: yes, kinds: []string{"ddl"}, command: "CREATE RULE", tables: []string{"t", "u"}, codes: []string{codeDDL}, absent: []string{codeNestedWrite, codeWriteWithoutWhere}},
	{name: "create function with sql body", sql: "CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t WHERE id = nextval('s'); END",
		kinds: []string{"ddl"}, command: "CREATE FUNCTION", funcs: []string{"nextval"}, codes: []string{codeDDL}, absent: []string{codeNestedWrite}},
	{name: "create view calling a user function", sql: "CREATE VIEW v AS SELECT myfunc(x) FROM t",
		kinds: []string{"ddl"}, command: "CREATE VIEW", tables: []string{"v", "t"}, codes: []string{codeDDL, codeUnknownFunction}},
	{name: "create materialized view", sql: "CREATE MATERIALIZED VIEW mv AS SELECT * FROM t", command: "CREATE MATERIALIZED VIEW", tables: []string{"mv", "t"}},
	{name: "refresh materialized view", sql: "REFRESH MATERIALIZED VIEW mv", kinds: []string{"ddl"}, command: "REFRESH MATERIALIZED VIEW"},
	{name: "grant", sql: "GRANT SELECT ON t TO bob", writes: yes, kinds: []string{"grant"}, command: "GRANT", tables: []string{"t"}, codes: []string{codePrivilege}},
	{name: "revoke", sql: "REVOKE ALL ON t FROM bob", kinds: []string{"grant"}, command: "REVOKE", codes: []string{codePrivilege}},
	{name: "grant role", sql: "GRANT admin TO bob", kinds: []string{"grant"}, command: "GRANT ROLE", codes: []string{codePrivilege}},
	{name: "create role", sql: "CREATE ROLE admin SUPERUSER", kinds: []string{"grant"}, command: "CREATE ROLE", codes: []string{codePrivilege}},
	{name: "alter role", sql: "ALTER ROLE bob SUPERUSER", kinds: []string{"grant"}, command: "ALTER ROLE", codes: []string{codePrivilege}},
	{name: "alter system", sql: "ALTER SYSTEM SET work_mem = '1GB'", kinds: []string{"ddl"}, command: "ALTER SYSTEM", codes: []string{codeAlterSystem}},
	{name: "notify", sql: "NOTIFY ch, 'hi'", writes: no, kinds: []string{"utility"}, command: "NOTIFY", codes: []string{codeNotify}},
	{name: "pg_notify", sql: "SELECT pg_notify('ch', 'x')", codes: []string{codeSideEffectFunction}},
	{name: "load", sql: "LOAD 'plpython3'", command: "LOAD", codes: []string{codeLoad}},
	{name: "discard all", sql: "DISCARD ALL", command: "DISCARD ALL", codes: []string{codeDiscard}},
	{name: "commit prepared", sql: "COMMIT PREPARED 'tx1'", kinds: []string{"transaction"}, command: "COMMIT PREPARED", codes: []string{codeTwoPhase}},
	{name: "declare cursor for update", sql: "DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE", command: "DECLARE CURSOR", codes: []string{codeLockingRead}},
	{name: "read then write then read", sql: "SELECT 1; UPDATE t SET x = 1 WHERE id = 1; SELECT 2",
		kinds: []string{"select", "update", "select"}, codes: []string{codeMultiStatement, codeWrite}},
}

func TestAnalyze(t *testing.T) {
	if len(analyzeCases) < 70 {
		t.Fatalf("only %d cases", len(analyzeCases))
	}
	a := New(Options{})
	for _, tc := range analyzeCases {
		t.Run(tc.name, func(t *testing.T) {
			got := a.AnalyzeSQL(tc.sql)
			checkInvariants(t, got)
			if got.ParseError != "" {
				t.Fatalf("AnalyzeSQL(%q): parse error %q", tc.sql, got.ParseError)
			}
			if got.ReadOnly != tc.readOnly {
				t.Errorf("AnalyzeSQL(%q).ReadOnly = %v, want %v (findings %v)", tc.sql, got.ReadOnly, tc.readOnly, codes(got))
			}
			tc.writes.check(t, "Writes", got.Writes)
			if tc.kinds != nil {
				var kinds []string
				for _, s := range got.Statements {
					kinds = append(kinds, string(s.Kind))
				}
				if !slices.Equal(kinds, tc.kinds) {
					t.Errorf("statement kinds = %v, want %v", kinds, tc.kinds)
				}
			}
			if len(got.Statements) == 0 {
				t.Fatalf("no statements")
			}
			first := got.Statements[0]
			if tc.command != "" && first.Command != tc.command {
				t.Errorf("Command = %q, want %q", first.Command, tc.command)
			}
			if tc.tables != nil && !slices.Equal(got.Tables, tc.tables) {
				t.Errorf("Tables = %q, want %q", got.Tables, tc.tables)
			}
			if tc.funcs != nil && !slices.Equal(got.Functions, tc.funcs) {
				t.Errorf("Functions = %q, want %q", got.Functions, tc.funcs)
			}
			tc.where.check(t, "HasWhere", first.HasWhere)
			tc.limit.check(t, "HasLimit", first.HasLimit)
			for _, c := range tc.codes {
				if !slices.Contains(codes(got), c) {
					t.Errorf("finding %s missing; got %v", c, codes(got))
				}
			}
			for _, c := range tc.absent {
				if slices.Contains(codes(got), c) {
					t.Errorf("unexpected finding %s; got %v", c, codes(got))
				}
			}
			if tc.readOnly {
				for _, f := range got.Findings {
					if f.Severity >= qgate.SeverityHigh {
						t.Errorf("read-only statement has %s finding %s: %s", f.Severity, f.Code, f.Message)
					}
				}
			}
		})
	}
}

func codes(a *qgate.SQLAnalysis) []string {
	var cs []string
	for _, f := range a.Findings {
		cs = append(cs, f.Code)
	}
	return cs
}

// checkInvariants asserts what must hold for every analysis.
func checkInvariants(t testing.TB, a *qgate.SQLAnalysis) {
	t.Helper()
	if a == nil {
		t.Fatal("nil analysis")
	}
	if a.Statements == nil || a.Kinds == nil || a.Tables == nil || a.Functions == nil || a.Findings == nil {
		t.Fatalf("nil slice in %+v", a)
	}
	if a.ReadOnly {
		if a.ParseError != "" || len(a.Statements) == 0 || a.Writes {
			t.Fatalf("read-only analysis with parse error %q, %d statements, writes %v", a.ParseError, len(a.Statements), a.Writes)
		}
		for _, s := range a.Statements {
			if !s.ReadOnly || s.Kind.IsWrite() {
				t.Fatalf("read-only analysis with statement %+v", s)
			}
		}
	}
	if a.ParseError != "" && (len(a.Statements) != 0 || a.ReadOnly) {
		t.Fatalf("parse error with statements or read-only: %+v", a)
	}
	if a.Multi != (len(a.Statements) > 1) {
		t.Fatalf("Multi = %v with %d statements", a.Multi, len(a.Statements))
	}
	n := len(a.Text)
	for _, s := range a.Statements {
		if s.Tables == nil || s.Functions == nil {
			t.Fatalf("nil slice in statement %+v", s)
		}
		if s.Start < 0 || s.Start > s.End || s.End > n {
			t.Fatalf("statement offsets [%d,%d) outside text of %d bytes", s.Start, s.End, n)
		}
		if s.Kind.IsWrite() && s.ReadOnly {
			t.Fatalf("write kind %s is read-only", s.Kind)
		}
	}
	for _, f := range a.Findings {
		if f.Start < 0 || f.Start > f.End || f.End > n {
			t.Fatalf("finding %s offsets [%d,%d) outside text of %d bytes", f.Code, f.Start, f.End, n)
		}
		if f.Severity <= qgate.SeverityNone || f.Severity > qgate.SeverityCritical {
			t.Fatalf("finding %s has severity %v", f.Code, f.Severity)
		}
	}
}

func TestFindingOffsets(t *testing.T) {
	tests := []struct {
		sql, code, want string
	}{
		{"SELECT id, nextval('s') FROM t", codeSideEffectFunction, "nextval"},
		{"SELECT pg_catalog.set_config('a', 'b', false)", codeSideEffectFunction, "pg_catalog.set_config"},
		{`SELECT "myschema" . "f"(1)`, codeUnknownFunction, `"myschema" . "f"`},
		{"SELECT 1; DELETE FROM t", codeWriteWithoutWhere, "DELETE FROM t"},
		{"SELECT 1 ;\n/* x */ DELETE FROM t -- trailing\n", codeWriteWithoutWhere, "DELETE FROM t"},
		{"SELECT * FROM (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) s", codeModifyingCTE, "d AS (DELETE FROM t RETURNING *)"},
		{"WITH d(x) AS MATERIALIZED (UPDATE t SET x = (1) RETURNING x) SELECT 1", codeModifyingCTE, "d(x) AS MATERIALIZED (UPDATE t SET x = (1) RETURNING x)"},
		{"SELECT * FROM t WHERE x = 'FOR' FOR  UPDATE", codeLockingRead, "FOR  UPDATE"},
		{"SELECT * INTO public.newt FROM t", codeSelectInto, "public.newt"},
		{"SELECT 3 OPERATOR(myschema.+) 4", codeUnknownOperator, "OPERATOR(myschema.+)"},
		{"SELECT 1 ; DELET FROM t", codeParseError, "DELET"},
		{"SELECT 'é', * FORM t", codeParseError, "FORM"},
		{"SELECT 'abc", codeParseError, "'abc"},
		{"SELECT 1; SELECT 2", codeMultiStatement, "SELECT 1; SELECT 2"},
	}
	a := New(Options{})
	for _, tc := range tests {
		got := a.AnalyzeSQL(tc.sql)
		checkInvariants(t, got)
		found := false
		for _, f := range got.Findings {
			if f.Code == tc.code {
				found = true
				if s := tc.sql[f.Start:f.End]; s != tc.want {
					t.Errorf("AnalyzeSQL(%q): %s highlights %q, want %q", tc.sql, tc.code, s, tc.want)
				}
			}
		}
		if !found {
			t.Errorf("AnalyzeSQL(%q): no %s finding in %v", tc.sql, tc.code, codes(got))
		}
	}
}

func TestStatementOffsets(t *testing.T) {
	sql := "  SELECT 1 ; /* two */ SELECT $$;$$ ;\n-- three\nUPDATE t SET x = 1 WHERE y  \n"
	want := []string{"SELECT 1", "SELECT $$;$$", "UPDATE t SET x = 1 WHERE y"}
	got := New(Options{}).AnalyzeSQL(sql)
	checkInvariants(t, got)
	if len(got.Statements) != len(want) {
		t.Fatalf("%d statements, want %d", len(got.Statements), len(want))
	}
	for i, s := range got.Statements {
		if g := sql[s.Start:s.End]; g != want[i] {
			t.Errorf("statement %d = %q, want %q", i, g, want[i])
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ sql, msg string }{
		{"SELEC 1", `syntax error at or near "SELEC"`},
		{"SELECT 'abc", "unterminated quoted string"},
		{"SELECT 1; DELET FROM t", `syntax error at or near "DELET"`},
		{"SELECT * FORM t", `syntax error at or near "FORM"`},
		{"SELECT 1 +", "syntax error at end of input"},
		{"/* unterminated", "unterminated /* comment"},
		{"SELECT 1;\x00 DROP TABLE t", "NUL byte"},
		{"SELECT '\xff'", "not valid UTF-8"},
	}
	a := New(Options{})
	for _, tc := range tests {
		got := a.AnalyzeSQL(tc.sql)
		checkInvariants(t, got)
		if !strings.Contains(got.ParseError, tc.msg) {
			t.Errorf("AnalyzeSQL(%q).ParseError = %q, want it to contain %q", tc.sql, got.ParseError, tc.msg)
		}
		if got.ReadOnly || len(got.Statements) != 0 || got.Fingerprint != "" {
			t.Errorf("AnalyzeSQL(%q) = read-only %v, %d statements, fingerprint %q", tc.sql, got.ReadOnly, len(got.Statements), got.Fingerprint)
		}
		if len(got.Findings) != 1 || got.Findings[0].Code != codeParseError || got.Findings[0].Severity != qgate.SeverityCritical ||
			got.Findings[0].Message != "could not parse SQL: "+got.ParseError {
			t.Errorf("AnalyzeSQL(%q).Findings = %+v", tc.sql, got.Findings)
		}
	}
}

func TestEmpty(t *testing.T) {
	a := New(Options{})
	for _, sql := range []string{"", "   \n", "-- nothing", "/* nothing */", ";", " ; ; "} {
		got := a.AnalyzeSQL(sql)
		checkInvariants(t, got)
		if got.ReadOnly || len(got.Statements) != 0 || got.ParseError != "" {
			t.Errorf("AnalyzeSQL(%q) = read-only %v, %d statements, parse error %q", sql, got.ReadOnly, len(got.Statements), got.ParseError)
		}
		if c := codes(got); !slices.Equal(c, []string{codeEmpty}) {
			t.Errorf("AnalyzeSQL(%q) findings = %v, want [%s]", sql, c, codeEmpty)
		}
	}
}
