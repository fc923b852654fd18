package sqlite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/internal/jsonenc"
)

// A block is one row of audit_blocks: the events of one AppendAudit call,
// encoded as JSON objects separated by newlines (see 0005_audit_blocks.sql).
type block struct {
	first, last      int64 // seqs
	minTime, maxTime int64 // unix nanoseconds
	lastHash         string
	text             []byte
	// ranged: the block records a range of request ids (req_lo, req_hi;
	// both "" when it covers none), and requests holds only the ids
	// outside it. Blocks written before migration 0007 are not ranged:
	// requests holds every id.
	ranged       bool
	reqLo, reqHi string
	requests     []string // distinct request ids that need a lookup row, sorted
	reviews      []int64  // distinct review ids, sorted
}

// newBlock encodes chained events (Seq, Time, PrevHash and Hash set). The
// text is appended to buf[:0] (nil for a new buffer). ranged is false only
// for the blocks of migration 0005, which predates the range columns.
func newBlock(events []qgate.AuditEvent, buf []byte, ranged bool) block {
	b := blockMeta(events, ranged)
	size := 0
	for i := range events {
		size += 300 + len(events[i].Data)
	}
	b.text = slices.Grow(buf[:0], size)
	for i := range events {
		if i > 0 {
			b.text = append(b.text, '\n')
		}
		b.text = appendEvent(b.text, &events[i])
	}
	return b
}

// requestRangeSpan is how far back from a block's newest UUIDv7 request
// id its range of ids reaches: the ids made within it are covered by the
// range, older ones (a held call's decision, a slow call's outcome) get a
// lookup row each. A lookup of one id reads the blocks whose range holds
// it, so the span bounds how many there are: about span / commit
// interval (10 ms under load).
const requestRangeSpan = 100 * time.Millisecond

// blockMeta is newBlock without the text: what a block's columns and
// lookup rows say of its events.
func blockMeta(events []qgate.AuditEvent, ranged bool) block {
	b := block{first: events[0].Seq, last: events[len(events)-1].Seq, lastHash: events[len(events)-1].Hash, ranged: ranged}
	// Each event's request id time (-1: not a UUIDv7), and the newest.
	var millis []int64
	newest := int64(-1)
	if ranged {
		millis = make([]int64, len(events))
		for i := range events {
			ms, ok := uuidV7Millis(events[i].RequestID)
			if !ok {
				ms = -1
			}
			millis[i] = ms
			newest = max(newest, ms)
		}
	}
	for i := range events {
		e := &events[i]
		t := e.Time.UnixNano()
		if i == 0 || t < b.minTime {
			b.minTime = t
		}
		if i == 0 || t > b.maxTime {
			b.maxTime = t
		}
		switch {
		case e.RequestID == "":
		case ranged && millis[i] >= 0 && millis[i] >= newest-requestRangeSpan.Milliseconds():
			if b.reqLo == "" || e.RequestID < b.reqLo {
				b.reqLo = e.RequestID
			}
			b.reqHi = max(b.reqHi, e.RequestID)
		default:
			b.requests = append(b.requests, e.RequestID)
		}
		if e.ReviewID != 0 {
			b.reviews = append(b.reviews, e.ReviewID)
		}
	}
	slices.Sort(b.requests)
	slices.Sort(b.reviews)
	b.requests, b.reviews = slices.Compact(b.requests), slices.Compact(b.reviews)
	return b
}

// uuidV7Millis returns the Unix milliseconds of a request id in the
// canonical form of a UUIDv7 (lowercase, what gate.NewRequestID makes),
// whose strings sort as their times do; ok is false for any other string.
func uuidV7Millis(id string) (ms int64, ok bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' || id[14] != '7' {
		return 0, false
	}
	switch id[19] {
	case '8', '9', 'a', 'b':
	default:
		return 0, false
	}
	var bad byte // any byte that is not a lowercase hex digit sets its top bit
	for i := range 36 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		v := hexVal[id[i]]
		bad |= v
		if i < 13 {
			ms = ms<<4 | int64(v)
		}
	}
	return ms, bad&0x80 == 0
}

// hexVal maps a lowercase hex digit to its value, any other byte to 0xff.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	return t
}()

// requestRangeFloor is the least request id a block whose range holds id
// can start its range with: one made requestRangeSpan before id, at the
// earliest (the prefix of its time, which sorts before every id of that
// millisecond).
func requestRangeFloor(ms int64) string {
	ms = max(ms-requestRangeSpan.Milliseconds(), 0)
	h := fmt.Sprintf("%012x", ms)
	return h[:8] + "-" + h[8:12] + "-"
}

// appendEvent appends e as encoding/json encodes a qgate.AuditEvent,
// byte for byte: Data verbatim, strings with encoding/json's escaping.
// Strings must be valid UTF-8 (validUTF8), or they would not come back as
// they were hashed.
func appendEvent(b []byte, e *qgate.AuditEvent) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","type":`...)
	b = jsonenc.AppendString(b, e.Type)
	b = append(b, `,"action":`...)
	b = jsonenc.AppendString(b, e.Action)
	b = jsonenc.OptString(b, `,"request_id":`, e.RequestID)
	b = jsonenc.OptString(b, `,"token_id":`, e.TokenID)
	b = jsonenc.OptString(b, `,"identity":`, e.Identity)
	b = jsonenc.OptString(b, `,"target":`, e.Target)
	b = jsonenc.OptString(b, `,"environment":`, e.Environment)
	b = jsonenc.OptInt(b, `,"review_id":`, e.ReviewID)
	if len(e.Data) > 0 {
		b = append(b, `,"data":`...)
		b = append(b, e.Data...)
	}
	b = append(b, `,"prev_hash":`...)
	b = jsonenc.AppendString(b, e.PrevHash)
	b = append(b, `,"hash":`...)
	b = jsonenc.AppendString(b, e.Hash)
	return append(b, '}')
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 with
// U+FFFD, as encoding/json does when it encodes s: the store hashes and
// returns a string as it will read it back.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			sb.WriteString("\uFFFD")
		} else {
			sb.WriteString(s[i : i+n])
		}
		i += n
	}
	return sb.String()
}

// errNotCanonical means a block's text decodes but is not what qgate wrote
// for those values: someone edited it outside qgate. The chain's hashes
// cover the values, not the text, so this is checked separately.
var errNotCanonical = fmt.Errorf("not stored as qgate writes it: %w", errEdited)

// decodeBlock returns the events of a block's text, in order. It fails
// on text that is not a sequence of events or not in the exact form
// appendEvent writes.
func decodeBlock(first int64, text []byte) ([]qgate.AuditEvent, error) {
	if events, ok := decodeCanonicalBlock(text); ok {
		return events, nil
	}
	return decodeBlockJSON(first, text)
}

// decodeCanonicalBlock is decodeBlock's fast path: it reads text only if
// it is exactly what appendEvent writes, without reflection, and says
// whether it could. Anything else, including every string with an
// escape, is left to decodeBlockJSON, which also names the problem.
func decodeCanonicalBlock(text []byte) ([]qgate.AuditEvent, bool) {
	var events []qgate.AuditEvent
	var buf []byte
	for rest := text; ; {
		e, n, ok := decodeCanonical(rest)
		if !ok {
			return nil, false
		}
		// Whatever the parse made of the text, it counts only if it
		// encodes back to exactly that text.
		if buf = appendEvent(buf[:0], &e); !bytes.Equal(buf, rest[:n]) {
			return nil, false
		}
		events = append(events, e)
		if rest = rest[n:]; len(rest) == 0 {
			return events, true
		}
		if rest[0] != '\n' {
			return nil, false
		}
		rest = rest[1:]
	}
}

// decodeCanonical reads one event in appendEvent's form from the start of
// b and returns it with the number of bytes it took.
func decodeCanonical(b []byte) (e qgate.AuditEvent, n int, ok bool) {
	r := canonReader{b: b, ok: true}
	e.Seq = r.int(`{"seq":`)
	if ts := r.string(`,"time":`); r.ok {
		t, err := time.Parse(time.RFC3339Nano, ts)
		r.ok = err == nil
		e.Time = t.UTC()
	}
	e.Type = r.string(`,"type":`)
	e.Action = r.string(`,"action":`)
	e.RequestID = r.optString(`,"request_id":`)
	e.TokenID = r.optString(`,"token_id":`)
	e.Identity = r.optString(`,"identity":`)
	e.Target = r.optString(`,"target":`)
	e.Environment = r.optString(`,"environment":`)
	if r.has(`,"review_id":`) {
		e.ReviewID = r.int(`,"review_id":`)
	}
	if r.has(`,"data":`) {
		r.skip(`,"data":`)
		start := r.i
		r.value()
		if r.ok {
			e.Data = json.RawMessage(bytes.Clone(b[start:r.i]))
			r.ok = jsonenc.Valid(e.Data)
		}
	}
	e.PrevHash = r.string(`,"prev_hash":`)
	e.Hash = r.string(`,"hash":`)
	r.skip(`}`)
	return e, r.i, r.ok
}

// canonReader reads appendEvent's output; ok turns false at the first
// thing it does not expect, after which every read is a no-op.
type canonReader struct {
	b  []byte
	i  int
	ok bool
}

func (r *canonReader) has(lit string) bool {
	return r.ok && bytes.HasPrefix(r.b[r.i:], []byte(lit))
}

func (r *canonReader) skip(lit string) {
	if !r.has(lit) {
		r.ok = false
		return
	}
	r.i += len(lit)
}

func (r *canonReader) int(lit string) int64 {
	r.skip(lit)
	if !r.ok {
		return 0
	}
	j := r.i
	if j < len(r.b) && r.b[j] == '-' {
		j++
	}
	for j < len(r.b) && r.b[j] >= '0' && r.b[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(string(r.b[r.i:j]), 10, 64)
	r.ok, r.i = err == nil, j
	return n
}

// string reads a string without escapes (encoding/json's decoder unquotes
// the others).
func (r *canonReader) string(lit string) string {
	r.skip(lit)
	if !r.ok || r.i >= len(r.b) || r.b[r.i] != '"' {
		r.ok = false
		return ""
	}
	for j := r.i + 1; j < len(r.b); j++ {
		switch c := r.b[j]; {
		case c == '"':
			s := string(r.b[r.i+1 : j])
			r.i = j + 1
			return s
		case c == '\\' || c < 0x20:
			r.ok = false
			return ""
		}
	}
	r.ok = false
	return ""
}

func (r *canonReader) optString(lit string) string {
	if !r.has(lit) {
		return ""
	}
	return r.string(lit)
}

// value skips one JSON value (an event's data, always followed by a
// comma), tracking strings and nesting; the caller validates what it
// spans.
func (r *canonReader) value() {
	if !r.ok {
		return
	}
	start, j, depth := r.i, r.i, 0
	for j < len(r.b) {
		c := r.b[j]
		if c == ',' && depth == 0 && j > start {
			break
		}
		switch c {
		case '"':
			for j++; j < len(r.b) && r.b[j] != '"'; j++ {
				if r.b[j] == '\\' {
					j++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth < 0 {
				r.ok = false
				return
			}
		}
		j++
	}
	if j >= len(r.b) || depth != 0 || j == start {
		r.ok = false
		return
	}
	r.i = j
}

// decodeBlockJSON decodes a block's text with encoding/json, checking
// that each event is in the exact form appendEvent writes.
func decodeBlockJSON(first int64, text []byte) ([]qgate.AuditEvent, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	var events []qgate.AuditEvent
	var buf []byte
	for i := 0; ; i++ {
		start := dec.InputOffset()
		var e qgate.AuditEvent
		err := dec.Decode(&e)
		if err == io.EOF {
			if i == 0 {
				return nil, fmt.Errorf("audit block %d: no events", first)
			}
			if start != int64(len(text)) {
				// White space after the last event: nothing qgate writes.
				return nil, fmt.Errorf("audit block %d: %w", first, errNotCanonical)
			}
			return events, nil
		}
		if err != nil {
			return nil, fmt.Errorf("audit block %d, event %d: %w", first, i+1, err)
		}
		raw := text[start:dec.InputOffset()]
		if i > 0 {
			if len(raw) == 0 || raw[0] != '\n' {
				return nil, fmt.Errorf("audit block %d, event %d: %w", first, i+1, errNotCanonical)
			}
			raw = raw[1:]
		}
		e.Time = e.Time.UTC()
		if buf = appendEvent(buf[:0], &e); !bytes.Equal(buf, raw) {
			return nil, fmt.Errorf("audit block %d, event %d (seq %d): %w", first, i+1, e.Seq, errNotCanonical)
		}
		events = append(events, e)
	}
}

// fieldNeedle is the text a block holds for an event whose field key has
// value v, or nil when v is empty: a block without it has no such event.
func fieldNeedle(key, v string) []byte {
	if v == "" {
		return nil
	}
	return jsonenc.AppendString([]byte(`"`+key+`":`), v)
}
