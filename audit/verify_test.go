package audit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/internal/audittest"
)

func TestVerify(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db, _ := MustOpen(t)
		MustAppend(t, db, 10)
		rep, err := audit.Verify(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		last, err := db.ListAudit(context.Background(), qgate.AuditFilter{Desc: true, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK || rep.Events != 10 || rep.LastSeq != 10 || rep.LastHash != last[0].Hash || rep.BrokenSeq != 0 || rep.Problem != "" {
			t.Fatalf("report = %+v", rep)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		db, _ := MustOpen(t)
		rep, err := audit.Verify(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK || rep.Events != 0 || rep.LastSeq != 0 || rep.LastHash != "" {
			t.Fatalf("report = %+v", rep)
		}
	})
	t.Run("ErrStore", func(t *testing.T) {
		boom := errors.New("disk on fire")
		_, err := audit.Verify(context.Background(), failingStore{err: boom})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want %v", err, boom)
		}
	})
}

// TestVerify_Tampered edits the SQLite file behind the store's back, as an
// attacker who can write it would, and checks that Verify names the first
// broken record and what is wrong.
func TestVerify_Tampered(t *testing.T) {
	swap := func(a, b *qgate.AuditEvent) { // every field but Seq
		sa, sb := a.Seq, b.Seq
		*a, *b = *b, *a
		a.Seq, b.Seq = sa, sb
	}
	for _, tc := range []struct {
		name    string
		sql     string                                         // run on the raw file holding records 1..10
		rewrite func(es []qgate.AuditEvent) []qgate.AuditEvent // or: the events rewritten, blocks made consistent
		events  int64
		broken  int64
		problem string
	}{
		{
			name:    "EditedDataWithSQL",
			sql:     `UPDATE audit_blocks SET events = replace(events, '"data":{"i":5}', '"data":{"i":500}')`,
			events:  5,
			broken:  5,
			problem: "hash mismatch: record was edited",
		},
		{
			name:    "EditedData",
			rewrite: func(es []qgate.AuditEvent) []qgate.AuditEvent { es[4].Data = []byte(`{"i":500}`); return es },
			events:  5,
			broken:  5,
			problem: "hash mismatch: record was edited",
		},
		{
			name:    "EditedAction",
			rewrite: func(es []qgate.AuditEvent) []qgate.AuditEvent { es[4].Action = "deny"; return es },
			events:  5,
			broken:  5,
			problem: "hash mismatch: record was edited",
		},
		{
			name:    "EditedTime",
			rewrite: func(es []qgate.AuditEvent) []qgate.AuditEvent { es[6].Time = es[6].Time.Add(1); return es },
			events:  7,
			broken:  7,
			problem: "hash mismatch: record was edited",
		},
		{
			name: "EditedHash",
			rewrite: func(es []qgate.AuditEvent) []qgate.AuditEvent {
				es[4].Hash = "0000000000000000000000000000000000000000000000000000000000000000"
				return es
			},
			events:  5,
			broken:  5,
			problem: "hash mismatch: record was edited",
		},
		{
			name:    "DeletedMiddle",
			rewrite: func(es []qgate.AuditEvent) []qgate.AuditEvent { return slices.Delete(es, 4, 5) },
			events:  5,
			broken:  5,
			problem: "seq gap: record(s) 5..5 missing",
		},
		{
			name:    "DeletedRange",
			rewrite: func(es []qgate.AuditEvent) []qgate.AuditEvent { return slices.Delete(es, 2, 6) },
			events:  3,
			broken:  3,
			problem: "seq gap: record(s) 3..6 missing",
		},
		{
			name:    "DeletedFirst",
			rewrite: func(es []qgate.AuditEvent) []qgate.AuditEvent { return es[1:] },
			events:  1,
			broken:  1,
			problem: "seq gap: record(s) 1..1 missing",
		},
		{
			name: "DeletedAndRenumbered",
			rewrite: func(es []qgate.AuditEvent) []qgate.AuditEvent {
				es = slices.Delete(es, 4, 5)
				for i := 4; i < len(es); i++ {
					es[i].Seq--
				}
				return es
			},
			events:  5,
			broken:  5,
			problem: "prev_hash does not match record 4: records reordered or deleted",
		},
		{
			name:    "Reordered",
			rewrite: func(es []qgate.AuditEvent) []qgate.AuditEvent { swap(&es[3], &es[4]); return es },
			events:  4,
			broken:  4,
			problem: "prev_hash does not match record 3: records reordered or deleted",
		},
		{
			name: "EditedAndRehashed",
			// An attacker who edits a record and recomputes its hash is
			// caught by the next record's link.
			rewrite: func(es []qgate.AuditEvent) []qgate.AuditEvent {
				es[4].Action = "deny"
				es[4].Hash = es[4].ChainHash()
				return es
			},
			events:  6,
			broken:  6,
			problem: "prev_hash does not match record 5: records reordered or deleted",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := MustOpen(t)
			MustAppendBlocks(t, db, 10, 4) // blocks 1..4, 5..8, 9..10
			raw := audittest.Raw(t, path)
			if tc.sql != "" {
				audittest.Exec(t, raw, tc.sql)
			} else {
				RewriteChain(t, raw, tc.rewrite)
			}
			rep, err := audit.Verify(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || rep.BrokenSeq != tc.broken || rep.Problem != tc.problem || rep.Events != tc.events {
				t.Fatalf("report = %+v\nwant broken at %d after %d events: %q", rep, tc.broken, tc.events, tc.problem)
			}
			if rep.LastSeq != tc.broken-1 {
				t.Fatalf("LastSeq = %d, want the last valid record %d", rep.LastSeq, tc.broken-1)
			}
			t.Log(rep)
		})
	}
}

// TestVerify_Hidden: edits that keep every event's values, so the hashes
// still match, but would hide events from filtered listings, are errors.
func TestVerify_Hidden(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		// The same request id, escaped differently: a listing by
		// request id would skip the block.
		{"EscapedDifferently", `UPDATE audit_blocks SET events = replace(events, '"request_id":"r5"', '"request_id":"\u00725"')`},
		{"BlockTimeMoved", `UPDATE audit_blocks SET max_time = 0`},
		{"BlockSeqsMoved", `UPDATE audit_blocks SET last_seq = 5`},
		{"LookupRowDeleted", `DELETE FROM audit_requests WHERE request_id = 'r5'`},
		{"LookupRowRenamed", `UPDATE audit_requests SET request_id = 'r55' WHERE request_id = 'r5'`},
		{"Whitespace", `UPDATE audit_blocks SET events = events || ' '`},
		// The chain is in three blocks (1..4, 5..8, 9..10): the checks
		// hold for blocks after the first, and for lookup rows that name
		// the wrong block.
		{"LaterBlockTimeMoved", `UPDATE audit_blocks SET max_time = 0 WHERE first_seq = 5`},
		{"LaterBlockSeqsMoved", `UPDATE audit_blocks SET last_seq = 7 WHERE first_seq = 5`},
		{"LaterBlockWhitespace", `UPDATE audit_blocks SET events = events || ' ' WHERE first_seq = 9`},
		{"LookupRowOtherBlock", `UPDATE audit_requests SET first_seq = 1 WHERE request_id = 'r9'`},
		{"LookupRowAdded", `INSERT INTO audit_requests (request_id, first_seq) VALUES ('r9', 1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := MustOpen(t)
			MustAppendBlocks(t, db, 10, 4)
			audittest.Exec(t, audittest.Raw(t, path), tc.sql)
			rep, err := audit.Verify(context.Background(), db)
			if err == nil || !strings.Contains(err.Error(), "edited outside qgate") {
				t.Fatalf("verify = %+v, %v; want an error saying the file was edited", rep, err)
			}
			t.Log(err)
		})
	}
}

// failingStore is an AuditStore whose every call fails with err.
type failingStore struct{ err error }

func (s failingStore) AppendAudit(context.Context, []*qgate.AuditEvent) error { return s.err }
func (s failingStore) ListAudit(context.Context, qgate.AuditFilter) ([]*qgate.AuditEvent, error) {
	return nil, s.err
}
func (s failingStore) ScanAudit(context.Context, int64, func(*qgate.AuditEvent) error) error {
	return s.err
}
