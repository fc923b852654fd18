package pgproxy_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/internal/audittest"
)

// TestProxy_AuditDurability checks both audit.durability settings on the
// wire: sync never forwards before the request event is committed; async
// forwards an allowed statement while the commit is pending, and after a
// failed commit refuses statements again until the store recovers.
func TestProxy_AuditDurability(t *testing.T) {
	t.Parallel()
	for _, d := range []audit.Durability{audit.DurabilitySync, audit.DurabilityAsync} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ss := &audittest.StallStore{}
			e := newEnvWith(t, envOptions{durability: d, auditStore: func(s qgate.AuditStore) qgate.AuditStore {
				ss.AuditStore = s
				return ss
			}})
			ctx := context.Background()
			conn := e.connect(ctx, "default_query_exec_mode=simple_protocol")
			insert := func(ctx context.Context, body string) error {
				_, err := conn.Exec(ctx, "INSERT INTO notes (body) VALUES ('"+body+"')", pgx.QueryExecModeSimpleProtocol)
				return err
			}

			// With commits held back, does the statement run?
			ss.Stall()
			done := make(chan error, 1)
			go func() { done <- insert(ctx, "while-stalled") }()
			var ranWhileStalled bool
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("insert while the audit store stalls: %v", err)
				}
				ranWhileStalled = true
			case <-time.After(500 * time.Millisecond):
			}
			upstream := e.count("SELECT count(*) FROM notes WHERE body = 'while-stalled'")
			ss.Resume()
			if !ranWhileStalled {
				if err := <-done; err != nil {
					t.Fatalf("insert after the store resumed: %v", err)
				}
			}
			switch d {
			case audit.DurabilitySync:
				if ranWhileStalled || upstream != 0 {
					t.Fatalf("sync: the statement reached the upstream (%d rows, returned %v) before its audit event was committed", upstream, ranWhileStalled)
				}
			case audit.DurabilityAsync:
				if !ranWhileStalled || upstream != 1 {
					t.Fatalf("async: the statement waited for the audit commit (returned %v, %d rows upstream)", ranWhileStalled, upstream)
				}
			}

			// A failing store: under async at most the statements whose
			// events share the first failing commit get through (whether
			// this one does depends on which commit fails first), then
			// nothing does.
			ss.Fail.Store(true)
			first := insert(ctx, "failing-1")
			deadline := time.Now().Add(5 * time.Second)
			for !e.log.Failing() {
				if time.Now().After(deadline) {
					t.Fatal("the failed commit did not mark the audit log failing")
				}
				time.Sleep(time.Millisecond)
			}
			if d == audit.DurabilitySync && first == nil {
				t.Fatal("sync: a statement was forwarded although its audit event failed")
			}
			err := insert(ctx, "failing-2")
			if pe := pgErr(t, err, "XX000"); pe == nil {
				t.Fatalf("statement while the audit log fails: %v", err)
			}
			if n := e.count("SELECT count(*) FROM notes WHERE body = 'failing-2'"); n != 0 {
				t.Fatalf("a statement reached the upstream while the audit log was failing")
			}
			// Recovery: the next statement waits for a good commit, and
			// then the log is healthy again.
			ss.Fail.Store(false)
			if err := insert(ctx, "recovered"); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
			if e.log.Failing() {
				t.Fatal("the audit log still fails after a good commit")
			}
		})
	}
}
