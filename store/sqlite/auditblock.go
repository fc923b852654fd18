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
	requests         []string // distinct request ids, sorted
	reviews          []int64  // distinct review ids, sorted
}

// newBlock encodes chained events (Seq, Time, PrevHash and Hash set).
func newBlock(events []qgate.AuditEvent) block {
	b := block{first: events[0].Seq, last: events[len(events)-1].Seq, lastHash: events[len(events)-1].Hash}
	size := 0
	for i := range events {
		size += 300 + len(events[i].Data)
	}
	b.text = make([]byte, 0, size)
	for i := range events {
		e := &events[i]
		if i > 0 {
			b.text = append(b.text, '\n')
		}
		b.text = appendEvent(b.text, e)
		t := e.Time.UnixNano()
		if i == 0 || t < b.minTime {
			b.minTime = t
		}
		if i == 0 || t > b.maxTime {
			b.maxTime = t
		}
		if e.RequestID != "" {
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

// decodeBlock calls fn for each event of a block's text, in order. It
// fails on text that is not a sequence of events or not in the exact form
// appendEvent writes.
func decodeBlock(first int64, text []byte, fn func(*qgate.AuditEvent) error) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	var buf []byte
	for i := 0; ; i++ {
		start := dec.InputOffset()
		var e qgate.AuditEvent
		err := dec.Decode(&e)
		if err == io.EOF {
			if i == 0 {
				return fmt.Errorf("audit block %d: no events", first)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("audit block %d, event %d: %w", first, i+1, err)
		}
		raw := text[start:dec.InputOffset()]
		if i > 0 {
			if len(raw) == 0 || raw[0] != '\n' {
				return fmt.Errorf("audit block %d, event %d: %w", first, i+1, errNotCanonical)
			}
			raw = raw[1:]
		}
		e.Time = e.Time.UTC()
		if buf = appendEvent(buf[:0], &e); !bytes.Equal(buf, raw) {
			return fmt.Errorf("audit block %d, event %d (seq %d): %w", first, i+1, e.Seq, errNotCanonical)
		}
		if err := fn(&e); err != nil {
			return err
		}
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
