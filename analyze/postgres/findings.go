package postgres

import (
	"fmt"
	"sort"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/qgate/qgate"
)

// Finding codes. Severities are fixed per code (see severityOf) except
// sql.copy, which is critical when the server reads or writes a file or
// runs a program.
const (
	codeParseError         = "sql.parse_error"
	codeEmpty              = "sql.empty"
	codeMultiStatement     = "sql.multi_statement"
	codeWrite              = "sql.write"
	codeWriteWithoutWhere  = "sql.write_without_where"
	codeDDL                = "sql.ddl"
	codeDrop               = "sql.drop"
	codePrivilege          = "sql.privilege"
	codeAlterSystem        = "sql.alter_system"
	codeSideEffectFunction = "sql.side_effect_function"
	codeUnknownFunction    = "sql.unknown_function"
	codeUnknownOperator    = "sql.unknown_operator"
	codeDynamicSQL         = "sql.dynamic_sql"
	codeModifyingCTE       = "sql.modifying_cte"
	codeNestedWrite        = "sql.nested_write"
	codeSelectInto         = "sql.select_into"
	codeLockingRead        = "sql.locking_read"
	codeLock               = "sql.lock"
	codeCopy               = "sql.copy"
	codeMaintenance        = "sql.maintenance"
	codeExplainAnalyze     = "sql.explain_analyze"
	codeNotify             = "sql.notify"
	codeLoad               = "sql.load"
	codeDiscard            = "sql.discard"
	codeTwoPhase           = "sql.two_phase_commit"
	codeTransactionMode    = "sql.transaction_mode"
	codeClientEncoding     = "sql.client_encoding"
	codeUnknownStatement   = "sql.unknown_statement"
)

var severities = map[string]qgate.Severity{
	codeParseError:         qgate.SeverityCritical,
	codeEmpty:              qgate.SeverityLow,
	codeMultiStatement:     qgate.SeverityMedium,
	codeWrite:              qgate.SeverityLow,
	codeWriteWithoutWhere:  qgate.SeverityHigh,
	codeDDL:                qgate.SeverityHigh,
	codeDrop:               qgate.SeverityCritical,
	codePrivilege:          qgate.SeverityCritical,
	codeAlterSystem:        qgate.SeverityCritical,
	codeSideEffectFunction: qgate.SeverityHigh,
	codeUnknownFunction:    qgate.SeverityMedium,
	codeUnknownOperator:    qgate.SeverityMedium,
	codeDynamicSQL:         qgate.SeverityHigh,
	codeModifyingCTE:       qgate.SeverityHigh,
	codeNestedWrite:        qgate.SeverityHigh,
	codeSelectInto:         qgate.SeverityMedium,
	codeLockingRead:        qgate.SeverityMedium,
	codeLock:               qgate.SeverityMedium,
	codeCopy:               qgate.SeverityHigh,
	codeMaintenance:        qgate.SeverityMedium,
	codeExplainAnalyze:     qgate.SeverityMedium,
	codeNotify:             qgate.SeverityLow,
	codeLoad:               qgate.SeverityCritical,
	codeDiscard:            qgate.SeverityMedium,
	codeTwoPhase:           qgate.SeverityMedium,
	codeTransactionMode:    qgate.SeverityLow,
	codeClientEncoding:     qgate.SeverityHigh,
	codeUnknownStatement:   qgate.SeverityHigh,
}

// finding builds a finding with its code's severity. Messages name things
// (tables, functions, commands) but never quote literals: a template is
// shared by texts that differ in their literals.
func finding(code string, sp span, format string, args ...any) findingTemplate {
	sev, ok := severities[code]
	if !ok {
		panic("analyze/postgres: no severity for " + code)
	}
	return findingTemplate{code: code, severity: sev, message: fmt.Sprintf(format, args...), span: sp}
}

// quoteName renders a name for a message.
func quoteName(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// spanner turns parse-tree locations of one statement into spans.
type spanner struct {
	text string
	toks []token // nil when the text could not be scanned
	// first and last significant token of the statement (first > last if
	// the statement has none), and its raw byte range.
	first, last      int
	rawStart, rawEnd int
}

func newSpanner(text string, toks []token, loc, length int32) *spanner {
	s := &spanner{text: text, toks: toks}
	s.rawStart = int(loc)
	s.rawEnd = len(text)
	if length > 0 {
		s.rawEnd = int(loc + length)
	}
	s.rawStart = min(max(s.rawStart, 0), len(text))
	s.rawEnd = min(max(s.rawEnd, s.rawStart), len(text))
	s.first, s.last = 0, -1
	if toks != nil {
		s.first = sort.Search(len(toks), func(i int) bool { return toks[i].start >= int32(s.rawStart) })
		s.last = s.first - 1
		for i := s.first; i < len(toks) && int(toks[i].end) <= s.rawEnd; i++ {
			s.last = i
		}
	}
	return s
}

// stmtSpan covers the statement from its first to its last token.
func (s *spanner) stmtSpan() span {
	if s.toks == nil {
		start, end := s.rawStart, s.rawEnd
		for start < end && isSpace(s.text[start]) {
			start++
		}
		for end > start && isSpace(s.text[end-1]) {
			end--
		}
		return span{spanBytes, int32(start), int32(end)}
	}
	if s.first > s.last {
		return span{}
	}
	return tokenSpan(s.first, s.last)
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v':
		return true
	}
	return false
}

// at finds the statement's token starting at a parse-tree location.
func (s *spanner) at(loc int32) (int, bool) {
	if s.toks == nil || loc < 0 {
		return 0, false
	}
	i, ok := tokenAt(s.toks, loc)
	if !ok || i < s.first || i > s.last {
		return 0, false
	}
	return i, true
}

// tokenIs reports whether the token at loc spells word (case-insensitive,
// or double-quoted exactly).
func (s *spanner) tokenIs(loc int32, word string) bool {
	i, ok := s.at(loc)
	if !ok {
		return false
	}
	t := s.text[s.toks[i].start:s.toks[i].end]
	return strings.EqualFold(t, word) || t == `"`+word+`"`
}

// nameSpan covers a dotted name of n parts starting at loc.
func (s *spanner) nameSpan(loc int32, n int) span {
	i, ok := s.at(loc)
	if !ok {
		return s.stmtSpan()
	}
	j := i
	for k := 1; k < n && j+2 <= s.last && s.toks[j+1].tok == pg_query.Token_ASCII_46; k++ {
		j += 2
	}
	return tokenSpan(i, j)
}

// operatorSpan covers an operator, or OPERATOR(schema.op) up to its ")".
func (s *spanner) operatorSpan(loc int32) span {
	i, ok := s.at(loc)
	if !ok {
		return s.stmtSpan()
	}
	if s.toks[i].tok == pg_query.Token_OPERATOR {
		for j := i + 1; j <= s.last; j++ {
			if s.toks[j].tok == pg_query.Token_ASCII_41 {
				return tokenSpan(i, j)
			}
		}
	}
	return tokenSpan(i, i)
}

// cteSpan covers "name AS (...)" of the CTE whose name is at loc.
func (s *spanner) cteSpan(loc int32) span {
	i, ok := s.at(loc)
	if !ok {
		return s.stmtSpan()
	}
	depth, sawAS := 0, false
	for j := i + 1; j <= s.last; j++ {
		switch s.toks[j].tok {
		case pg_query.Token_ASCII_40:
			depth++
			if depth == 1 && sawAS {
				if end, ok := s.matchParen(j); ok {
					return tokenSpan(i, end)
				}
				return tokenSpan(i, i)
			}
		case pg_query.Token_ASCII_41:
			depth--
		case pg_query.Token_AS:
			if depth == 0 {
				sawAS = true
			}
		}
	}
	return tokenSpan(i, i)
}

// matchParen returns the index of the ")" closing the "(" at open.
func (s *spanner) matchParen(open int) (int, bool) {
	depth := 0
	for j := open; j <= s.last; j++ {
		switch s.toks[j].tok {
		case pg_query.Token_ASCII_40:
			depth++
		case pg_query.Token_ASCII_41:
			depth--
			if depth == 0 {
				return j, true
			}
		}
	}
	return 0, false
}

// lockingSpan covers the first FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE
// / FOR KEY SHARE of the statement.
func (s *spanner) lockingSpan() span {
	if s.toks != nil {
		for i := s.first; i+1 <= s.last; i++ {
			if s.toks[i].tok != pg_query.Token_FOR {
				continue
			}
			if end := s.lockStrengthEnd(i + 1); end > 0 {
				return tokenSpan(i, end)
			}
		}
	}
	return s.stmtSpan()
}

func (s *spanner) lockStrengthEnd(i int) int {
	tok := func(j int) pg_query.Token {
		if j > s.last {
			return 0
		}
		return s.toks[j].tok
	}
	switch tok(i) {
	case pg_query.Token_UPDATE, pg_query.Token_SHARE:
		return i
	case pg_query.Token_NO:
		if tok(i+1) == pg_query.Token_KEY && tok(i+2) == pg_query.Token_UPDATE {
			return i + 2
		}
	case pg_query.Token_KEY:
		if tok(i+1) == pg_query.Token_SHARE {
			return i + 1
		}
	}
	return 0
}
