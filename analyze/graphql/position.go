package graphql

import (
	"sort"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// Span locates one operation: Start and End are byte offsets into the
// Query of the request with index Request (0 unless batched).
type Span struct {
	Request int `json:"request"`
	Start   int `json:"start"`
	End     int `json:"end"`
}

// text maps gqlparser's rune offsets to byte offsets of one query string.
type text struct {
	query string
	// bytes[i] is the byte offset of rune i; nil when the query is ASCII.
	bytes []int
}

func newText(query string) *text {
	t := &text{query: query}
	for i := 0; i < len(query); i++ {
		if query[i] >= utf8.RuneSelf {
			t.bytes = make([]int, 0, len(query)+1)
			for b := range query {
				t.bytes = append(t.bytes, b)
			}
			t.bytes = append(t.bytes, len(query))
			break
		}
	}
	return t
}

// byteOffset converts a rune offset to a byte offset, clamped to the text.
func (t *text) byteOffset(runes int) int {
	if runes < 0 {
		return 0
	}
	if t.bytes == nil {
		return min(runes, len(t.query))
	}
	if runes >= len(t.bytes) {
		return len(t.query)
	}
	return t.bytes[runes]
}

func (t *text) posStart(p *ast.Position) int {
	if p == nil {
		return 0
	}
	return t.byteOffset(p.Start)
}

// lineCol converts a 1-based line and rune column, counted as gqlparser's
// lexer counts them (\r\n, \r and \n end a line), to a byte offset.
func (t *text) lineCol(line, col int) int {
	q := t.query
	i := 0
	for l := 1; l < line && i < len(q); i++ {
		switch q[i] {
		case '\n':
			l++
		case '\r':
			l++
			if i+1 < len(q) && q[i+1] == '\n' {
				i++
			}
		}
	}
	for c := 1; c < col && i < len(q); c++ {
		_, w := utf8.DecodeRuneInString(q[i:])
		i += w
	}
	return min(i, len(q))
}

// operationSpans returns, for each operation of doc, the byte range from
// its first token to the closing brace of its selection set. The end is
// the last closing brace before the next definition, found by lexing the
// document once (strings and comments may hold braces).
func (t *text) operationSpans(doc *ast.QueryDocument, ops []*ast.OperationDefinition) [][2]int {
	starts := make([]int, 0, len(doc.Operations)+len(doc.Fragments))
	for _, op := range doc.Operations {
		if op.Position != nil {
			starts = append(starts, op.Position.Start)
		}
	}
	for _, f := range doc.Fragments {
		if f.Position != nil {
			starts = append(starts, f.Position.Start)
		}
	}
	sort.Ints(starts)

	var closers []int // rune end offsets of '}' tokens, ascending
	lx := lexer.New(&ast.Source{Input: t.query})
	for {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			break
		}
		if tok.Kind == lexer.BraceR {
			closers = append(closers, tok.Pos.End)
		}
	}

	spans := make([][2]int, len(ops))
	for i, op := range ops {
		if op.Position == nil {
			continue
		}
		start := op.Position.Start
		end := op.Position.End
		next := -1
		if j := sort.SearchInts(starts, start+1); j < len(starts) {
			next = starts[j]
		}
		k := len(closers)
		if next >= 0 {
			k = sort.Search(len(closers), func(x int) bool { return closers[x] > next })
		}
		if k > 0 && closers[k-1] > start {
			end = closers[k-1]
		}
		spans[i] = [2]int{t.byteOffset(start), t.byteOffset(end)}
	}
	return spans
}
