package postgres

import (
	"encoding/binary"
	"errors"
	"sort"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/qgate/qgate"
)

// This file holds the text-independent form of an analysis (a template)
// and the way it is tied back to a concrete text.
//
// A template never stores byte offsets. Every position is a span over the
// text's significant tokens (comments excluded) as PostgreSQL's own lexer
// (pg_query.Scan) splits them. Two texts whose token sequences agree on
// everything but the contents of literals have the same template: the
// parser sees the same grammar derivation, so the same statement kinds,
// tables, functions and flags; only the offsets move, and those are
// recomputed from the new text's tokens. The shape cache is keyed by the
// pg_query fingerprint together with that token signature (see signature),
// so a cache hit is exact by construction. The fingerprint alone would not
// do: it ignores nodes nested deeper than 100 levels and collapses
// duplicates in some lists.

// token is one significant lexer token of the analysed text.
type token struct {
	start, end int32
	tok        pg_query.Token
}

// scanTokens lexes text with PostgreSQL's scanner and returns its
// significant tokens (comments dropped) and the shape signature: every
// token's type, plus its exact text unless it is a keyword (the type
// identifies it) or a literal (its contents are what may vary).
func scanTokens(text string) ([]token, string, error) {
	buf, err := parser.ScanToProtobuf(text)
	if err != nil {
		return nil, "", err
	}
	toks := make([]token, 0, len(buf)/8)
	sig := make([]byte, 0, len(text)+len(buf)/4)
	inText := true
	err = decodeScan(buf, func(start, end int32, tok pg_query.Token, kw pg_query.KeywordKind) {
		if int(end) > len(text) {
			inText = false
			return
		}
		switch tok {
		case pg_query.Token_SQL_COMMENT, pg_query.Token_C_COMMENT:
			return
		}
		toks = append(toks, token{start, end, tok})
		sig = binary.AppendUvarint(sig, uint64(tok))
		if isLiteral(tok) || kw != pg_query.KeywordKind_NO_KEYWORD {
			return
		}
		s := text[start:end]
		sig = binary.AppendUvarint(sig, uint64(len(s)))
		sig = append(sig, s...)
	})
	if err != nil {
		return nil, "", err
	}
	if !inText {
		return nil, "", errors.New("analyze/postgres: scanner token beyond the text")
	}
	return toks, string(sig), nil
}

// decodeScan walks the tokens of a pg_query ScanResult protobuf directly:
// the generic unmarshal allocates a message per token and costs more than
// the lexing itself. Field numbers are those of pg_query.proto (ScanResult:
// 2 tokens; ScanToken: 1 start, 2 end, 4 token, 5 keyword_kind). Offsets
// are checked, so a malformed buffer is an error, never a bad slice.
func decodeScan(buf []byte, fn func(start, end int32, tok pg_query.Token, kw pg_query.KeywordKind)) error {
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return protowire.ParseError(n)
		}
		buf = buf[n:]
		if num != 2 || typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, buf)
			if n < 0 {
				return protowire.ParseError(n)
			}
			buf = buf[n:]
			continue
		}
		msg, n := protowire.ConsumeBytes(buf)
		if n < 0 {
			return protowire.ParseError(n)
		}
		buf = buf[n:]
		var start, end int32
		var tok pg_query.Token
		var kw pg_query.KeywordKind
		for len(msg) > 0 {
			num, typ, n := protowire.ConsumeTag(msg)
			if n < 0 {
				return protowire.ParseError(n)
			}
			msg = msg[n:]
			if typ != protowire.VarintType {
				n = protowire.ConsumeFieldValue(num, typ, msg)
				if n < 0 {
					return protowire.ParseError(n)
				}
				msg = msg[n:]
				continue
			}
			v, n := protowire.ConsumeVarint(msg)
			if n < 0 {
				return protowire.ParseError(n)
			}
			msg = msg[n:]
			switch num {
			case 1:
				start = int32(v)
			case 2:
				end = int32(v)
			case 4:
				tok = pg_query.Token(v)
			case 5:
				kw = pg_query.KeywordKind(v)
			}
		}
		if start < 0 || end < start {
			return errors.New("analyze/postgres: bad token offsets from the scanner")
		}
		fn(start, end, tok, kw)
	}
	return nil
}

// isLiteral reports whether a token is a constant whose contents the
// analysis never depends on. (The one exception, EXPLAIN option values,
// marks its template as not shareable.)
func isLiteral(t pg_query.Token) bool {
	switch t {
	case pg_query.Token_SCONST, pg_query.Token_USCONST, pg_query.Token_BCONST,
		pg_query.Token_XCONST, pg_query.Token_ICONST, pg_query.Token_FCONST:
		return true
	}
	return false
}

// tokenAt returns the index of the token starting at byte offset off.
func tokenAt(toks []token, off int32) (int, bool) {
	i := sort.Search(len(toks), func(i int) bool { return toks[i].start >= off })
	if i < len(toks) && toks[i].start == off {
		return i, true
	}
	return 0, false
}

// spanKind says how a span maps to byte offsets.
type spanKind uint8

const (
	spanNone   spanKind = iota // 0,0: about the payload as a whole
	spanAll                    // 0,len(text)
	spanTokens                 // tokens[a].start .. tokens[b].end
	spanBytes                  // a..b as byte offsets; never shape-cached
)

type span struct {
	kind spanKind
	a, b int32
}

func tokenSpan(a, b int) span { return span{spanTokens, int32(a), int32(b)} }

// resolve turns a span into byte offsets into text, clamped to the text.
func (s span) resolve(text string, toks []token) (start, end int) {
	switch s.kind {
	case spanAll:
		return 0, len(text)
	case spanTokens:
		if int(s.a) < len(toks) && int(s.b) < len(toks) && s.a <= s.b {
			start, end = int(toks[s.a].start), int(toks[s.b].end)
		}
	case spanBytes:
		start, end = int(s.a), int(s.b)
	}
	start = min(max(start, 0), len(text))
	end = min(max(end, start), len(text))
	return start, end
}

// template is the text-independent part of an SQLAnalysis. It is
// immutable once built and may be shared by any number of analyses.
type template struct {
	statements []stmtTemplate
	kinds      []string
	tables     []string
	functions  []string
	readOnly   bool
	writes     bool
	ddl        bool
	multi      bool
	findings   []findingTemplate
	// shareable is false when the analysis depended on something the
	// shape key does not capture (a literal's contents, or byte offsets
	// because the text could not be scanned).
	shareable bool
	// dml: every statement is a SELECT, INSERT, UPDATE, DELETE or MERGE.
	dml bool
}

type stmtTemplate struct {
	stmt qgate.Statement // Start and End unset
	span span
}

type findingTemplate struct {
	code     string
	severity qgate.Severity
	message  string
	span     span
}

// materialize builds the analysis of text from a template and text's
// tokens. Slices of names are shared with the template (and so with
// other analyses): callers treat analyses as read-only.
func (t *template) materialize(text, fingerprint string, toks []token) *qgate.SQLAnalysis {
	a := &qgate.SQLAnalysis{
		Text:        text,
		Fingerprint: fingerprint,
		Statements:  make([]qgate.Statement, len(t.statements)),
		Kinds:       t.kinds,
		Tables:      t.tables,
		Functions:   t.functions,
		ReadOnly:    t.readOnly,
		Writes:      t.writes,
		DDL:         t.ddl,
		Multi:       t.multi,
		Findings:    make([]qgate.Finding, len(t.findings)),
	}
	for i, st := range t.statements {
		s := st.stmt
		s.Start, s.End = st.span.resolve(text, toks)
		a.Statements[i] = s
	}
	for i, f := range t.findings {
		start, end := f.span.resolve(text, toks)
		a.Findings[i] = qgate.Finding{Code: f.code, Severity: f.severity, Message: f.message, Start: start, End: end}
	}
	return a
}
