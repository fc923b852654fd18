package pgproxy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/qgate/qgate"
)

func pgErr(t *testing.T, err error, code string) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a PostgreSQL error %s", err, code)
	}
	if pe.Code != code {
		t.Fatalf("SQLSTATE = %s (%s), want %s", pe.Code, pe.Message, code)
	}
	return pe
}

func TestProxy_Allow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	conn := e.connect(ctx)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec, pgx.QueryExecModeCacheStatement} {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM accounts WHERE balance = $1", mode, 100).Scan(&n); err != nil || n != 10 {
			t.Fatalf("mode %v: count = %d, %v", mode, n, err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO notes (body) VALUES ($1)", mode, "hello"); err != nil {
			t.Fatalf("mode %v: insert: %v", mode, err)
		}
	}
	if n := e.count("SELECT count(*) FROM notes WHERE body = 'hello'"); n != 3 {
		t.Errorf("upstream has %d notes, want 3", n)
	}
	var pid uint32
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil || pid != conn.PgConn().PID() {
		t.Errorf("pg_backend_pid() = %d, %v; driver says %d", pid, err, conn.PgConn().PID())
	}
	e.proxy.Close()
	reqs := e.audit(qgate.AuditFilter{Type: qgate.AuditRequest, Action: "allow"})
	execs := e.audit(qgate.AuditFilter{Type: qgate.AuditExecution})
	if len(reqs) < 7 || len(execs) < 7 {
		t.Fatalf("audit: %d request and %d execution events", len(reqs), len(execs))
	}
	found := false
	for _, ev := range execs {
		if strings.Contains(string(ev.Data), `"INSERT 0 1"`) && strings.Contains(string(ev.Data), `"rows":1`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no execution event with the INSERT tag")
	}
}

func TestProxy_Deny(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	conn := e.connect(ctx)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		_, err := conn.Exec(ctx, "UPDATE secrets SET v = 'leaked'", mode)
		pe := pgErr(t, err, "42501")
		if pe.Message != "the secrets table is off limits" || !strings.Contains(pe.Detail, "request id") {
			t.Errorf("error = %q / %q", pe.Message, pe.Detail)
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT 1", mode).Scan(&n); err != nil || n != 1 {
			t.Fatalf("connection unusable after a refusal: %v", err)
		}
	}
	if n := e.count("SELECT count(*) FROM secrets WHERE v = 'leaked'"); n != 0 {
		t.Errorf("upstream ran the denied statement")
	}
}

// A refused statement inside a transaction aborts it, as an error would.
func TestProxy_DenyInTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		conn := e.connect(ctx)
		if _, err := conn.Exec(ctx, "BEGIN", mode); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO notes (body) VALUES ('in tx')", mode); err != nil {
			t.Fatal(err)
		}
		_, err := conn.Exec(ctx, "DELETE FROM secrets", mode)
		pgErr(t, err, "42501")
		if got := conn.PgConn().TxStatus(); got != 'E' {
			t.Errorf("mode %v: transaction status after refusal = %c, want E", mode, got)
		}
		_, err = conn.Exec(ctx, "SELECT 1", mode)
		pgErr(t, err, "25P02")
		tag, err := conn.Exec(ctx, "COMMIT", mode)
		if err != nil || tag.String() != "ROLLBACK" {
			t.Errorf("COMMIT = %q, %v; want ROLLBACK", tag.String(), err)
		}
	}
	if n := e.count("SELECT count(*) FROM notes WHERE body = 'in tx'"); n != 0 {
		t.Errorf("COMMIT after a refusal committed %d rows", n)
	}
}

func TestProxy_Hold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	modes := map[string]pgx.QueryExecMode{"Simple": pgx.QueryExecModeSimpleProtocol, "Extended": pgx.QueryExecModeExec}
	for name, mode := range modes {
		t.Run("Approved"+name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			conn := e.connect(ctx)
			var notices []string
			done := make(chan error, 1)
			go func() {
				_, err := conn.Exec(ctx, "UPDATE accounts SET balance = balance + $1 WHERE id = 1", mode, 5)
				done <- err
			}()
			rv := e.pendingReview()
			_ = notices
			if !strings.Contains(rv.Payload, "UPDATE accounts") || (mode == pgx.QueryExecModeExec && !strings.Contains(rv.Payload, "$1 = '5'")) {
				t.Errorf("payload = %q", rv.Payload)
			}
			if n := e.count("SELECT balance FROM accounts WHERE id = 1"); n != 100 {
				t.Fatalf("upstream ran the statement before approval")
			}
			e.approve(rv.ID)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if n := e.count("SELECT balance FROM accounts WHERE id = 1"); n != 105 {
				t.Fatalf("balance = %d, want 105 (ran exactly once)", n)
			}
			got, _ := e.reviews.Get(ctx, rv.ID)
			if got.ExecutedAt.IsZero() {
				t.Errorf("review not marked executed")
			}
		})
		t.Run("Rejected"+name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			conn := e.connect(ctx)
			done := make(chan error, 1)
			go func() {
				_, err := conn.Exec(ctx, "DELETE FROM accounts WHERE id = $1", mode, 2)
				done <- err
			}()
			rv := e.pendingReview()
			if _, err := e.reviews.Reject(ctx, rv.ID, e.voter("bob"), "not on a Friday"); err != nil {
				t.Fatal(err)
			}
			pe := pgErr(t, <-done, "42501")
			if !strings.Contains(pe.Message, "not on a Friday") {
				t.Errorf("message = %q", pe.Message)
			}
			if n := e.count("SELECT count(*) FROM accounts"); n != 10 {
				t.Errorf("upstream ran a rejected statement")
			}
			if _, err := conn.Exec(ctx, "SELECT 1", mode); err != nil {
				t.Errorf("connection unusable: %v", err)
			}
		})
		t.Run("Expired"+name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			conn := e.connect(ctx)
			_, err := conn.Exec(ctx, "DELETE FROM accounts WHERE id = 3 -- expire_me", mode)
			pe := pgErr(t, err, "42501")
			if !strings.Contains(pe.Message, "expired") {
				t.Errorf("message = %q", pe.Message)
			}
			if n := e.count("SELECT count(*) FROM accounts"); n != 10 {
				t.Errorf("upstream ran an expired statement")
			}
		})
		t.Run("Cancel"+name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			conn := e.connect(ctx)
			cctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				_, err := conn.Exec(cctx, "DELETE FROM accounts WHERE id = 4", mode)
				done <- err
			}()
			rv := e.pendingReview()
			cancel()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("cancelled statement succeeded")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("cancel did not end the hold")
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				got, _ := e.reviews.Get(ctx, rv.ID)
				if got.Status == qgate.ReviewCancelled {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("review status = %s, want cancelled", got.Status)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if n := e.count("SELECT count(*) FROM accounts"); n != 10 {
				t.Errorf("upstream ran a cancelled statement")
			}
		})
	}
}
