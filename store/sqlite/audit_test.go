package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/internal/audittest"
	"github.com/qgate/qgate/store/sqlite"
)

// TestAppendAudit_TwoHandles appends from two independently opened
// handles on one file, as two processes would: neither shares the other's
// mutex or connection, so only SQLite's write lock (BEGIN IMMEDIATE) keeps
// the chain whole.
func TestAppendAudit_TwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qgate.db")
	var dbs [2]*sqlite.DB
	for i := range dbs {
		dbs[i] = MustOpenAt(t, path)
	}

	const writers, events = 4, 100
	var wg sync.WaitGroup
	errs := make(chan error, len(dbs)*writers)
	for h, db := range dbs {
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range events {
					e := &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x", RequestID: fmt.Sprintf("h%d-w%d-%d", h, w, i)}
					if err := db.AppendAudit(context.Background(), []*qgate.AuditEvent{e}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, db := range dbs {
		rep, err := audit.Verify(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(dbs) * writers * events); !rep.OK || rep.Events != want {
			t.Fatalf("verify: %v; want OK with %d events", rep, want)
		}
	}
}

// TestAuditJournalMark: the mark is written with the events, never moves
// back, and AppendAuditMarked with no events records it alone. A journal
// file left beside a database that Open creates is removed (it belongs to
// a database that was deleted); one beside an existing database is kept.
func TestAuditJournalMark(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "qgate.db")
	stale := path + "-audit-journal"
	if err := os.WriteFile(stale, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if db.AuditJournalPath() != stale {
		t.Fatalf("journal path %q, want %q", db.AuditJournalPath(), stale)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("journal beside a new database not removed: %v", err)
	}
	if m, err := db.AuditJournalMark(ctx); err != nil || m != 0 {
		t.Fatalf("mark of a new database: %d, %v", m, err)
	}
	e := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: "r1"}
	if err := db.AppendAuditMarked(ctx, []*qgate.AuditEvent{e}, 5); err != nil || e.Seq != 1 {
		t.Fatalf("AppendAuditMarked: %v, seq %d", err, e.Seq)
	}
	if err := db.AppendAuditMarked(ctx, nil, 3); err != nil {
		t.Fatal(err)
	}
	if m, _ := db.AuditJournalMark(ctx); m != 5 {
		t.Fatalf("mark %d after 5 then 3, want 5", m)
	}
	if err := db.AppendAuditMarked(ctx, nil, 0); err == nil {
		t.Fatal("a mark of 0 accepted")
	}
	// A failing batch leaves the mark where it was.
	bad := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", Data: []byte("{not json")}
	if err := db.AppendAuditMarked(ctx, []*qgate.AuditEvent{bad}, 9); err == nil {
		t.Fatal("invalid data accepted")
	}
	if m, _ := db.AuditJournalMark(ctx); m != 5 {
		t.Fatalf("mark %d after a failed batch, want 5", m)
	}
	db.Close()

	if err := os.WriteFile(stale, []byte("live"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if b, err := os.ReadFile(stale); err != nil || string(b) != "live" {
		t.Fatalf("journal beside an existing database: %q, %v", b, err)
	}
	if m, _ := db.AuditJournalMark(ctx); m != 5 {
		t.Fatalf("mark %d after reopening, want 5", m)
	}
}

// v7 is a request id of the form gate.NewRequestID makes (UUIDv7), made
// at Unix millisecond ms; n tells ids of the same millisecond apart.
func v7(ms int64, n int) string {
	return fmt.Sprintf("%08x-%04x-7%03x-8000-%012x", ms>>16, ms&0xffff, n, n)
}

// TestAuditRequestRanges: a block covers the UUIDv7 request ids made
// within requestRangeSpan (100 ms) of its newest one with a range instead
// of lookup rows; any other id (older, or of another form) gets a row.
// Listing by request id finds every event either way, across blocks, and
// the chain verifies.
func TestAuditRequestRanges(t *testing.T) {
	ctx := context.Background()
	r := newRangedLog(t)
	db, raw, ids := r.db, r.raw, r.ids

	rows := map[string]int{}
	q, err := raw.Query(`SELECT request_id, first_seq FROM audit_requests`)
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var id string
		var first int
		if err := q.Scan(&id, &first); err != nil {
			t.Fatal(err)
		}
		rows[id] = first
	}
	q.Close()
	want := map[string]int{ids["old"]: 1, ids["other"]: 1, ids["c"]: 7}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("lookup rows %v, want %v", rows, want)
	}
	var lo1, hi1, lo2, hi2 string
	if err := raw.QueryRow(`SELECT b1.req_lo, b1.req_hi, b2.req_lo, b2.req_hi FROM audit_blocks b1, audit_blocks b2
		WHERE b1.first_seq = 1 AND b2.first_seq = 7`).Scan(&lo1, &hi1, &lo2, &hi2); err != nil {
		t.Fatal(err)
	}
	if lo1 != ids["c"] || hi1 != ids["b"] || lo2 != ids["b"] || hi2 != ids["d"] {
		t.Errorf("ranges [%s, %s] and [%s, %s], want [c, b] and [b, d] of %v", lo1, hi1, lo2, hi2, ids)
	}

	for _, tc := range []struct {
		id    string
		types []string
	}{
		{ids["a"], []string{qgate.AuditRequest}},
		{ids["b"], []string{qgate.AuditRequest, qgate.AuditExecution}},
		{ids["c"], []string{qgate.AuditRequest, qgate.AuditExecution}},
		{ids["d"], []string{qgate.AuditRequest}},
		{ids["old"], []string{qgate.AuditExecution}},
		{ids["other"], []string{qgate.AuditRequest}},
		{v7(r.now, 9), nil},    // inside the first range, in no block
		{v7(r.now+30, 1), nil}, // inside the second range only
		{strings.ToUpper(ids["a"]), nil},
	} {
		for _, desc := range []bool{false, true} {
			es, err := db.ListAudit(ctx, qgate.AuditFilter{RequestID: tc.id, Desc: desc})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				if e.RequestID != tc.id {
					t.Fatalf("listing %s returned an event of %s", tc.id, e.RequestID)
				}
				got = append(got, e.Type)
			}
			if desc {
				slices.Reverse(got)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.types) {
				t.Errorf("events of %s (desc %v): %v, want %v", tc.id, desc, got, tc.types)
			}
		}
	}
	if rep, err := audit.Verify(ctx, db); err != nil || !rep.OK || rep.Events != 9 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}

	// A block written before the ranges (migration 0007) has none and a
	// row for every request, and reads and verifies as before.
	audittest.Exec(t, raw, `UPDATE audit_blocks SET req_lo = NULL, req_hi = NULL WHERE first_seq = 1`)
	audittest.Exec(t, raw, `INSERT INTO audit_requests (request_id, first_seq) VALUES (?, 1), (?, 1), (?, 1)`, ids["a"], ids["b"], ids["c"])
	if es, err := db.ListAudit(ctx, qgate.AuditFilter{RequestID: ids["a"]}); err != nil || len(es) != 1 {
		t.Fatalf("events of a in a block without a range: %d, %v", len(es), err)
	}
	if rep, err := audit.Verify(ctx, db); err != nil || !rep.OK {
		t.Fatalf("verify with a block without a range: %+v, %v", rep, err)
	}
}

// TestAuditRequestRanges_Edited: taking a block's range away without
// adding its rows, or narrowing it, would hide events from a listing by
// request id; verify reports every such edit.
func TestAuditRequestRanges_Edited(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{"Narrowed", `UPDATE audit_blocks SET req_lo = req_hi WHERE first_seq = 7`},
		{"Widened", `UPDATE audit_blocks SET req_lo = '0' WHERE first_seq = 7`},
		{"LowDropped", `UPDATE audit_blocks SET req_lo = NULL WHERE first_seq = 7`},
		{"HighDropped", `UPDATE audit_blocks SET req_hi = NULL WHERE first_seq = 7`},
		{"RangeDropped", `UPDATE audit_blocks SET req_lo = NULL, req_hi = NULL WHERE first_seq = 1`},
		{"RangeEmptied", `UPDATE audit_blocks SET req_lo = '', req_hi = '' WHERE first_seq = 1`},
		{"RowDropped", `DELETE FROM audit_requests WHERE first_seq = 7`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRangedLog(t)
			audittest.Exec(t, r.raw, tc.sql)
			rep, err := audit.Verify(context.Background(), r.db)
			if err == nil || !strings.Contains(err.Error(), "edited outside qgate") {
				t.Fatalf("verify = %+v, %v; want an error saying the file was edited", rep, err)
			}
		})
	}
}

// rangedLog is a store holding two blocks of events with UUIDv7 request
// ids and others, for the range tests.
type rangedLog struct {
	db  *sqlite.DB
	raw *sql.DB
	now int64
	ids map[string]string
}

func newRangedLog(t *testing.T) rangedLog {
	t.Helper()
	r := rangedLog{db: MustOpen(t), now: 1_795_000_000_000}
	r.raw = audittest.Raw(t, r.db.Path())
	now := r.now
	r.ids = map[string]string{
		"a": v7(now, 1), "b": v7(now+1, 2), "c": v7(now-50, 3), // the first block's range
		"old": v7(now-5000, 4), "other": "req-42", // rows in the first block
		"d": v7(now+60, 5), // the second block's newest: its range starts at now-40
	}
	ev := func(id, typ string) *qgate.AuditEvent {
		return &qgate.AuditEvent{Type: typ, Action: "x", RequestID: r.ids[id], Data: []byte(`{}`)}
	}
	for _, es := range [][]*qgate.AuditEvent{
		{ev("a", qgate.AuditRequest), ev("b", qgate.AuditRequest), ev("c", qgate.AuditRequest),
			ev("old", qgate.AuditExecution), ev("other", qgate.AuditRequest), ev("", qgate.AuditAdmin)},
		// b's outcome is within the second block's range, c's is not.
		{ev("d", qgate.AuditRequest), ev("b", qgate.AuditExecution), ev("c", qgate.AuditExecution)},
	} {
		if err := r.db.AppendAudit(context.Background(), es); err != nil {
			t.Fatal(err)
		}
	}
	return r
}
