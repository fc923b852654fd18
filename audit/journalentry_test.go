package audit

import (
	"bytes"
	"testing"
	"time"

	"github.com/qgate/qgate"
)

// FuzzJournalEntry: an entry decodes to the event it encodes, and no input
// makes decodeEntry panic or accept trailing bytes.
func FuzzJournalEntry(f *testing.F) {
	f.Add(int64(1795771731977201796), "request", "allow", "01a2-id", "tok", "alice", "api", "prod", int64(7), []byte(`{"a":1}`))
	f.Add(int64(-1), "", "", "", "", "", "", "", int64(0), []byte(nil))
	f.Fuzz(func(t *testing.T, ns int64, typ, action, req, tok, ident, target, env string, review int64, data []byte) {
		e := &qgate.AuditEvent{Time: time.Unix(0, ns).UTC(), Type: typ, Action: action, RequestID: req, TokenID: tok,
			Identity: ident, Target: target, Environment: env, ReviewID: review, Data: data}
		b := appendEntry(nil, e)
		got, err := decodeEntry(b)
		if err != nil {
			t.Fatalf("decode of an encoded entry: %v", err)
		}
		if !got.Time.Equal(e.Time) || got.Type != typ || got.Action != action || got.RequestID != req || got.TokenID != tok ||
			got.Identity != ident || got.Target != target || got.Environment != env || got.ReviewID != review || !bytes.Equal(got.Data, data) {
			t.Fatalf("round trip: got %+v, want %+v", got, e)
		}
		if _, err := decodeEntry(append(b, 0)); err == nil {
			t.Fatal("an entry with a trailing byte decoded")
		}
		for i := range b { // every truncation fails
			if _, err := decodeEntry(b[:i]); err == nil {
				t.Fatalf("entry cut to %d of %d bytes decoded", i, len(b))
			}
		}
		decodeEntry(data) // arbitrary bytes: must not panic
	})
}
