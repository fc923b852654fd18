package audit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
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

// TestVerify_Tampered edits the SQLite file behind the store's back and
// checks that Verify names the first broken record and what is wrong.
func TestVerify_Tampered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tamper  []string // SQL run on the raw file holding records 1..10
		events  int64
		broken  int64
		problem string
	}{
		{
			name:    "EditedData",
			tamper:  []string{`UPDATE audit_events SET data = '{"i":500}' WHERE seq = 5`},
			events:  5,
			broken:  5,
			problem: "hash mismatch: record was edited",
		},
		{
			name:    "EditedAction",
			tamper:  []string{`UPDATE audit_events SET action = 'deny' WHERE seq = 5`},
			events:  5,
			broken:  5,
			problem: "hash mismatch: record was edited",
		},
		{
			name:    "EditedTime",
			tamper:  []string{`UPDATE audit_events SET time = time + 1 WHERE seq = 7`},
			events:  7,
			broken:  7,
			problem: "hash mismatch: record was edited",
		},
		{
			name:    "EditedHash",
			tamper:  []string{`UPDATE audit_events SET hash = '0000000000000000000000000000000000000000000000000000000000000000' WHERE seq = 5`},
			events:  5,
			broken:  5,
			problem: "hash mismatch: record was edited",
		},
		{
			name:    "DeletedMiddle",
			tamper:  []string{`DELETE FROM audit_events WHERE seq = 5`},
			events:  5,
			broken:  5,
			problem: "seq gap: record(s) 5..5 missing",
		},
		{
			name:    "DeletedRange",
			tamper:  []string{`DELETE FROM audit_events WHERE seq BETWEEN 3 AND 6`},
			events:  3,
			broken:  3,
			problem: "seq gap: record(s) 3..6 missing",
		},
		{
			name:    "DeletedFirst",
			tamper:  []string{`DELETE FROM audit_events WHERE seq = 1`},
			events:  1,
			broken:  1,
			problem: "seq gap: record(s) 1..1 missing",
		},
		{
			name: "DeletedAndRenumbered",
			tamper: []string{
				`DELETE FROM audit_events WHERE seq = 5`,
				`UPDATE audit_events SET seq = seq - 1 WHERE seq > 5`,
			},
			events:  5,
			broken:  5,
			problem: "prev_hash does not match record 4: records reordered or deleted",
		},
		{
			name: "Reordered",
			// Swap every column but seq between records 4 and 5.
			tamper: []string{
				`UPDATE audit_events SET seq = -4 WHERE seq = 4`,
				`UPDATE audit_events SET seq = 4 WHERE seq = 5`,
				`UPDATE audit_events SET seq = 5 WHERE seq = -4`,
			},
			events:  4,
			broken:  4,
			problem: "prev_hash does not match record 3: records reordered or deleted",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := MustOpen(t)
			MustAppend(t, db, 10)
			raw := MustRaw(t, path)
			for _, q := range tc.tamper {
				mustExec(t, raw, q)
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

	t.Run("EditedAndRehashed", func(t *testing.T) {
		// An attacker who edits a record and recomputes its hash is caught
		// by the next record's link.
		db, path := MustOpen(t)
		MustAppend(t, db, 10)
		es, err := db.ListAudit(context.Background(), qgate.AuditFilter{AfterSeq: 4, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		e := es[0]
		e.Action = "deny"
		e.Hash = e.ChainHash()
		mustExec(t, MustRaw(t, path), `UPDATE audit_events SET action = ?, hash = ? WHERE seq = 5`, e.Action, e.Hash)

		rep, err := audit.Verify(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		want := "prev_hash does not match record 5: records reordered or deleted"
		if rep.OK || rep.BrokenSeq != 6 || rep.Problem != want {
			t.Fatalf("report = %+v, want broken at 6: %q", rep, want)
		}
	})
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
