package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
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
