package sqlite_test

import (
	"context"
	"fmt"
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
