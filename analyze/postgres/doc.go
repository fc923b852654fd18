// Package postgres is qgate's SQL analyzer. It parses SQL with
// PostgreSQL's own parser (libpg_query through pg_query_go) and reports,
// for every statement of a query string, its kind and command tag, the
// tables and functions it names, whether it is read-only, and risk
// findings with byte offsets for highlighting. cgo stays behind this
// package: no pg_query type appears in its API.
//
//	a := postgres.New(postgres.Options{})
//	analysis := a.AnalyzeSQL("SELECT * FROM t WHERE id = 1")
//
// Analyses may be shared between callers through the caches: treat them,
// and every slice in them, as read-only.
//
// # Read-only
//
// Statement.ReadOnly and SQLAnalysis.ReadOnly implement sql.read_only of
// the product contract: true only when every statement would succeed in a
// READ ONLY transaction, is not maintenance, and has no effect outside the
// database. Because a real parser is used, text in string literals, dollar
// quotes, quoted identifiers and (nested) comments never counts. Not
// read-only:
//
//   - INSERT, UPDATE, DELETE, MERGE, TRUNCATE, DDL, GRANT and friends;
//   - a data-modifying statement anywhere below the top (WITH d AS (DELETE
//     ...) at any depth; COPY (DELETE ... RETURNING) TO);
//   - SELECT ... INTO; FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE at any
//     depth; LOCK TABLE (it blocks other sessions);
//   - COPY in both directions, DO, CALL, EXECUTE, LOAD, NOTIFY;
//   - SET ROLE, SET SESSION AUTHORIZATION, RESET ROLE, RESET SESSION
//     AUTHORIZATION, DISCARD ALL/TEMP, PREPARE TRANSACTION, COMMIT/ROLLBACK
//     PREPARED;
//   - VACUUM, ANALYZE, CLUSTER, REINDEX, CHECKPOINT;
//   - EXPLAIN ANALYZE of anything that is not read-only;
//   - a call of any function not known to be free of side effects, and any
//     operator that is not a built-in symbol (a user-defined operator is a
//     user function);
//   - empty text (no statement: nothing to approve), and text that does
//     not parse.
//
// Read-only: SELECT/VALUES/TABLE calling only safe functions, SHOW,
// ordinary SET/RESET (RESET ALL leaves role and session authorization
// alone), BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE (BEGIN READ WRITE too,
// with a low sql.transaction_mode finding, as for SET TRANSACTION READ
// WRITE and SET [default_]transaction_read_only), LISTEN and UNLISTEN
// (they only subscribe this session), DECLARE/FETCH/MOVE/CLOSE of a
// read-only query, DEALLOCATE, DISCARD PLANS/SEQUENCES, SET CONSTRAINTS.
//
// EXPLAIN has kind utility and command EXPLAIN; its tables, functions,
// has_where and has_limit come from the explained statement. Without
// ANALYZE nothing runs, so EXPLAIN DELETE is read-only, unless the inner
// statement calls a function or operator that is not known to be safe:
// the planner may evaluate it while folding constants (a user function
// declared IMMUTABLE), so that stays not read-only. With ANALYZE it is as
// read-only as the statement it runs. An ANALYZE option counts unless its
// value is false, off or 0. PREPARE has kind utility and is read-only iff
// the prepared statement is (preparing runs nothing); EXECUTE is never
// read-only, because what it runs is not in the text.
//
// # Kinds and commands
//
// Kinds are the qgate.Kind* constants; commands follow PostgreSQL's
// command tags ("SELECT", "DROP TABLE", "CREATE INDEX", "ALTER TABLE",
// "SET", "RESET", "BEGIN", "EXPLAIN", "PREPARE", "VACUUM", "GRANT" ...).
// Choices:
//
//   - TRUNCATE is kind delete, command TRUNCATE, has_where false: it is a
//     delete of every row, not a schema change (findings sql.drop and
//     sql.write_without_where).
//   - SELECT ... INTO is kind ddl, command SELECT INTO: it creates a table
//     exactly like CREATE TABLE AS, so sql.ddl policies catch both.
//   - GRANT, REVOKE, GRANT/REVOKE ROLE, ALTER DEFAULT PRIVILEGES, CREATE/
//     ALTER/DROP ROLE, ALTER ROLE RENAME and REASSIGN OWNED are kind grant.
//     SET ROLE and SET SESSION AUTHORIZATION are kind set.
//   - ALTER SYSTEM and REFRESH MATERIALIZED VIEW are kind ddl.
//   - VACUUM, ANALYZE, CLUSTER, REINDEX, CHECKPOINT, LOCK, SHOW, LISTEN,
//     UNLISTEN, NOTIFY, LOAD, DISCARD, DECLARE, FETCH, MOVE, CLOSE,
//     PREPARE, EXECUTE, DEALLOCATE and EXPLAIN are kind utility.
//   - A statement type the analyzer has no rule for is kind other, not
//     read-only, with a high sql.unknown_statement finding.
//
// HasWhere is set for UPDATE and DELETE with WHERE (including WHERE
// CURRENT OF) and for a SELECT with WHERE (for UNION/INTERSECT/EXCEPT,
// when every arm has one). HasLimit is set for LIMIT n and FETCH FIRST n;
// LIMIT ALL and LIMIT NULL are no limit.
//
// Writes is true when a statement may change data, schema or server
// state: write kinds, data-modifying CTEs and nested writes, SELECT INTO,
// COPY FROM, COMMIT PREPARED, LOAD, DISCARD ALL/TEMP, EXPLAIN ANALYZE of
// a writing statement, and, because qgate cannot show otherwise, DO,
// CALL, EXECUTE and every call of a function or operator that is not
// known to be safe (pg_sleep included). Not-read-only statements that do
// not write: SET ROLE and friends, LOCK, locking reads, NOTIFY,
// maintenance, COPY TO, PREPARE (it runs nothing), two-phase PREPARE and
// ROLLBACK PREPARED. DDL is true when any statement is of kind ddl; Multi
// when there is more than one statement.
//
// # Tables and functions
//
// Tables are collected from every RangeVar in the tree (reached by a
// generic walk over the protobuf parse tree, so no node type can hide
// one), schema-qualified as written, deduplicated in first-seen order,
// plus the objects of DROP TABLE/VIEW/INDEX/SEQUENCE/... . A name that
// refers to a CTE in scope is not a table; scoping follows PostgreSQL
// (a plain WITH sees earlier CTEs only, WITH RECURSIVE all, the body all;
// a qualified name is always a table, and so are DML and INTO targets).
// The relations after FOR UPDATE OF are not listed (they are FROM items,
// often aliases).
//
// Functions are the FuncCall names, lower-cased by the parser unless
// quoted, schema-qualified as written. SQL syntax that the parser turns
// into pg_catalog calls (EXTRACT, AT TIME ZONE, TRIM, SUBSTRING ... FROM,
// LIKE ... ESCAPE) is listed unqualified ("extract", "timezone", "btrim").
// Functions are classified by functions.txt (embedded): safe built-ins
// (only unqualified or pg_catalog-qualified: myschema.now is a user
// function); side_effect functions (nextval, setval, set_config, pg_sleep,
// pg_terminate_backend, lo_*, dblink*, pg_read_file, pg_ls_*, advisory
// locks, replication slots, ...; recognised in any schema since
// extensions live anywhere) raise sql.side_effect_function; dynamic_sql
// functions (dblink, dblink_exec, query_to_xml, table_to_xml, ts_stat, ...)
// raise sql.dynamic_sql; anything else raises sql.unknown_function. The
// procedure of a CALL is always treated as user code. txid_current is
// safe: it assigns a transaction id but succeeds in a READ ONLY
// transaction and changes no data. pg_sleep is a side effect: it holds a
// backend (denial of service).
//
// # Errors and odd input
//
// Text that does not parse yields ParseError (the parser's message),
// no statements, ReadOnly false, and a critical sql.parse_error finding at
// the parser's cursor. Text containing a NUL byte (the C parser would stop
// there while PostgreSQL rejects it) or invalid UTF-8 is reported the
// same way. Text with no statement (empty, blanks, comments, ";") has no
// statements, ReadOnly false and a low sql.empty finding.
//
// # Findings
//
// Findings carry byte offsets into the text: the function name (with its
// schema if written), the CTE ("d AS (DELETE ...)"), the INTO target, the
// FOR UPDATE clause, the operator, or else the whole statement; the
// multi-statement finding covers the whole text. Codes and severities are
// listed in findings.go; the lead computes the risk level from them.
//
// # Caching
//
// AnalyzeSQL first looks the exact text up in a bounded LRU (a hit costs
// tens of nanoseconds). On a miss it lexes the text with the PostgreSQL
// scanner and looks its token signature up in the DML cache: plain DML
// (only SELECT, INSERT, UPDATE, DELETE, MERGE, without U& literals or
// FLOAT(p), see literalFree) seen before with other literals is served
// from there with its fingerprint, without parsing. Otherwise it
// fingerprints the text (pg_query.Fingerprint, a full parse) and looks the
// shape up in a third LRU. The shape key is the fingerprint plus a token signature:
// every significant token's type and, except for keywords and literals, its
// exact text. Texts with the same key differ only in the contents of
// literals, so the parser derives the same tree up to constant values, and
// the cached template (kinds, commands, tables, functions, flags, finding
// codes, severities and messages) applies unchanged. Positions are stored
// as token indexes and mapped to the new text's byte offsets through its
// own tokens. The fingerprint alone would not be a safe key: pg_query
// ignores nodes nested more than 100 levels deep, so
// abs(abs(...nextval('s')...)) and abs(abs(...length('x')...)) share a
// fingerprint. An analysis that depended on a literal's value (EXPLAIN
// (ANALYZE 'off')) is never shared. Texts over 16 KiB are not cached.
// Correctness never depends on the caches: the tests compare cached and
// fresh analyses field by field, and so does the fuzz target.
//
// # Limits
//
// The analysis sees the text, not the database: a view, rule, trigger,
// column default or attribute-notation call (t.f meaning f(t)) can run a
// function the text does not name; a user-defined operator or cast that
// reuses a built-in symbol or type looks built-in; an unqualified safe name
// is assumed to resolve to pg_catalog (a search_path that puts another
// schema first could shadow it). Texts must be UTF-8: a proxy serving
// clients with another client_encoding converts before analysing. Letting
// PostgreSQL enforce read-only (a READ ONLY transaction) remains the
// second line of defence.
package postgres
