package postgres

import (
	"errors"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/qgate/qgate"
)

// Options configures an Analyzer. Zero values select the defaults; a
// negative size disables that cache.
type Options struct {
	// CacheSize bounds the exact-text cache: text → analysis. Default 4096.
	CacheSize int
	// ShapeCacheSize bounds the shape cache: fingerprint and token
	// signature → text-independent analysis, and the statement shape
	// cache: token signature alone → analysis and fingerprint, for plain
	// DML (see literalFree). Default 4096 each.
	ShapeCacheSize int
}

const (
	defaultCacheSize = 4096
	// maxCachedText is the longest text either cache keeps, so that the
	// caches' memory stays bounded (4096 entries × 16 KiB per cache at worst).
	maxCachedText = 16 << 10
)

// Analyzer analyses SQL text with PostgreSQL's own parser. It is safe for
// concurrent use. The analyses it returns may be shared between callers
// through its caches: treat them, and every slice in them, as read-only.
type Analyzer struct {
	exact  *lru[string, *qgate.SQLAnalysis]
	shapes *lru[string, *template]
	// dml is keyed by the token signature alone, which a text has before
	// it is parsed; it holds only templates for which that is exact (see
	// literalFree), with their fingerprint.
	dml   *lru[string, *dmlShape]
	stats stats
}

// dmlShape is a template whose fingerprint every text with its token
// signature shares.
type dmlShape struct {
	t           *template
	fingerprint string
}

// stats counts which path analyses took (for tests and benchmarks).
type stats struct {
	exactHits, dmlHits, shapeHits, parses atomic.Int64
}

var _ qgate.SQLAnalyzer = (*Analyzer)(nil)

// New returns an Analyzer with the given cache sizes.
func New(opts Options) *Analyzer {
	size := func(n int) int {
		if n == 0 {
			return defaultCacheSize
		}
		return n
	}
	return &Analyzer{
		exact:  newLRU[string, *qgate.SQLAnalysis](size(opts.CacheSize)),
		shapes: newLRU[string, *template](size(opts.ShapeCacheSize)),
		dml:    newLRU[string, *dmlShape](size(opts.ShapeCacheSize)),
	}
}

// AnalyzeSQL analyses one query string, which may hold several statements.
// It never fails: text that does not parse yields an analysis with
// ParseError set, no statements, ReadOnly false and a critical finding.
// The result may be shared (see Analyzer): do not modify it.
func (a *Analyzer) AnalyzeSQL(text string) *qgate.SQLAnalysis {
	if r, ok := a.exact.get(text); ok {
		a.stats.exactHits.Add(1)
		return r
	}
	r := a.analyze(text)
	if len(text) <= maxCachedText {
		a.exact.put(text, r)
	}
	return r
}

func (a *Analyzer) analyze(text string) *qgate.SQLAnalysis {
	if start, msg := checkText(text); msg != "" {
		return parseFailure(text, msg, start, min(start+1, len(text)))
	}
	var toks []token
	var sig string
	scanned := false
	if len(text) <= maxCachedText && a.dml.enabled() {
		// Plain DML seen before with other literals: no parse at all.
		if tk, sg, err := scanTokens(text); err == nil {
			toks, sig, scanned = tk, sg, true
			if d, ok := a.dml.get(sig); ok {
				a.stats.dmlHits.Add(1)
				return d.t.materialize(text, d.fingerprint, toks)
			}
		}
	}
	fingerprint, err := pg_query.Fingerprint(text)
	if err != nil {
		return parseError(text, err)
	}
	if !scanned {
		if toks, sig, err = scanTokens(text); err != nil {
			// Cannot happen for text the parser accepts (same lexer);
			// without tokens the analysis uses byte offsets and is not
			// shape-cached.
			toks = nil
		}
	}
	key := ""
	if toks != nil && len(text) <= maxCachedText {
		key = fingerprint + sig
		if t, ok := a.shapes.get(key); ok {
			a.stats.shapeHits.Add(1)
			a.rememberDML(t, sig, fingerprint, toks)
			return t.materialize(text, fingerprint, toks)
		}
	}
	a.stats.parses.Add(1)
	t, err := buildTemplate(text, toks)
	if err != nil {
		return parseError(text, err)
	}
	if key != "" && t.shareable {
		a.shapes.put(key, t)
		a.rememberDML(t, sig, fingerprint, toks)
	}
	return t.materialize(text, fingerprint, toks)
}

// rememberDML puts a shareable template in the DML cache when its token
// signature alone determines it.
func (a *Analyzer) rememberDML(t *template, sig, fingerprint string, toks []token) {
	if t.dml && literalFree(toks) && a.dml.enabled() {
		a.dml.put(sig, &dmlShape{t: t, fingerprint: fingerprint})
	}
}

// literalFree reports whether, for the statements of a DML template
// (SELECT, INSERT, UPDATE, DELETE, MERGE and nothing else), no literal's
// contents can change how the text parses, so that every text with the
// same token signature has the same parse tree up to the values of its
// constants, hence the same analysis and (pg_query ignores constants in
// such statements) the same fingerprint. Two constructs break that and
// keep such texts on the parsing path:
//   - U&'…' strings and U&"…" identifiers, with or without UESCAPE: the
//     grammar, not the lexer, decodes their escapes, so their contents can
//     make the text fail to parse (FuzzAnalyzeSQL found an empty U& string
//     with an empty UESCAPE);
//   - FLOAT(p): the grammar reads the precision to choose float4 or float8
//     and refuses p outside 1..53.
//
// Every other literal is either rejected by the lexer when malformed (so
// the text has no token signature) or becomes a constant node whose value
// no part of the analysis reads (a template that did read one is not
// shareable).
func literalFree(toks []token) bool {
	for _, t := range toks {
		switch t.tok {
		case pg_query.Token_USCONST, pg_query.Token_UIDENT, pg_query.Token_UESCAPE, pg_query.Token_FLOAT_P:
			return false
		}
	}
	return true
}

// checkText rejects text the C parser would see differently from
// PostgreSQL: the parser reads a C string, so everything after a NUL byte
// would go unseen, and it assumes UTF-8.
func checkText(text string) (int, string) {
	if i := strings.IndexByte(text, 0); i >= 0 {
		return i, "SQL text contains a NUL byte"
	}
	if !utf8.ValidString(text) {
		for i, r := range text {
			if r == utf8.RuneError {
				if _, size := utf8.DecodeRuneInString(text[i:]); size == 1 {
					return i, "SQL text is not valid UTF-8"
				}
			}
		}
		return 0, "SQL text is not valid UTF-8"
	}
	return 0, ""
}

// buildTemplate parses text and analyses every statement.
func buildTemplate(text string, toks []token) (*template, error) {
	tree, err := pg_query.Parse(text)
	if err != nil {
		return nil, err
	}
	t := &template{
		statements: make([]stmtTemplate, 0, len(tree.Stmts)),
		readOnly:   len(tree.Stmts) > 0,
		multi:      len(tree.Stmts) > 1,
		shareable:  toks != nil,
		dml:        len(tree.Stmts) > 0,
	}
	var kinds, tables, funcs nameSet
	var findings []findingTemplate
	if t.multi {
		findings = append(findings, finding(codeMultiStatement, span{kind: spanAll},
			"%d statements in one query string", len(tree.Stmts)))
	}
	for _, raw := range tree.Stmts {
		switch raw.Stmt.GetNode().(type) {
		case *pg_query.Node_SelectStmt, *pg_query.Node_InsertStmt, *pg_query.Node_UpdateStmt,
			*pg_query.Node_DeleteStmt, *pg_query.Node_MergeStmt:
		default:
			t.dml = false
		}
		sp := newSpanner(text, toks, raw.StmtLocation, raw.StmtLen)
		r := analyzeStatement(raw.Stmt, sp)
		t.statements = append(t.statements, stmtTemplate{
			stmt: qgate.Statement{
				Kind:      r.kind,
				Command:   r.command,
				Tables:    nonNil(r.tables),
				Functions: nonNil(r.functions),
				HasWhere:  r.hasWhere,
				HasLimit:  r.hasLimit,
				ReadOnly:  r.readOnly,
			},
			span: sp.stmtSpan(),
		})
		kinds.add(string(r.kind))
		tables.addAll(r.tables)
		funcs.addAll(r.functions)
		t.readOnly = t.readOnly && r.readOnly
		t.writes = t.writes || r.writes
		t.ddl = t.ddl || r.kind == qgate.KindDDL
		t.shareable = t.shareable && !r.literalSensitive
		findings = append(findings, r.stmtFindings...)
		findings = append(findings, r.exprFindings...)
	}
	if len(tree.Stmts) == 0 {
		// PostgreSQL accepts an empty query, but there is nothing to
		// approve: fail safe.
		findings = append(findings, finding(codeEmpty, span{}, "no SQL statement"))
	}
	t.kinds, t.tables, t.functions = kinds.slice(), tables.slice(), funcs.slice()
	t.findings = findings
	return t, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// parseError reports a parser error, placing it at the parser's cursor.
func parseError(text string, err error) *qgate.SQLAnalysis {
	start, end := 0, 0
	var pe *parser.Error
	if errors.As(err, &pe) && pe.Cursorpos > 0 {
		start = byteOffset(text, pe.Cursorpos-1)
		end = errorEnd(text, start)
	}
	return parseFailure(text, err.Error(), start, end)
}

func parseFailure(text, msg string, start, end int) *qgate.SQLAnalysis {
	return &qgate.SQLAnalysis{
		Text:       text,
		Statements: []qgate.Statement{},
		Kinds:      []string{},
		Tables:     []string{},
		Functions:  []string{},
		ParseError: msg,
		Findings: []qgate.Finding{{
			Code:     codeParseError,
			Severity: qgate.SeverityCritical,
			Message:  "could not parse SQL: " + msg,
			Start:    start,
			End:      end,
		}},
	}
}

// byteOffset converts PostgreSQL's cursor position (in characters) to a
// byte offset into text.
func byteOffset(text string, chars int) int {
	n := 0
	for i := range text {
		if n == chars {
			return i
		}
		n++
	}
	return len(text)
}

// errorEnd returns the end of the token at start, or the end of the text
// when the lexer itself failed (an unterminated string or comment runs to
// the end).
func errorEnd(text string, start int) int {
	if start >= len(text) {
		return len(text)
	}
	toks, _, err := scanTokens(text)
	if err != nil {
		return len(text)
	}
	if i, ok := tokenAt(toks, int32(start)); ok {
		return int(toks[i].end)
	}
	return min(start+1, len(text))
}
