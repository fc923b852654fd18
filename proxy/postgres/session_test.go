package pgproxy_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
)

// psql runs psql through qgate and returns its stdout and stderr.
func (e *env) psql(t *testing.T, password string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(e.addr)
	cmd := exec.Command("psql", append([]string{"-X", "-h", host, "-p", port, "-U", e.tokenID, "-d", "anything", "-v", "ON_ERROR_STOP=1"}, args...)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGSSLMODE=prefer", "PGCONNECT_TIMEOUT=10")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func TestPsql(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatal("psql is not installed (apt-get install postgresql-client)")
	}
	t.Parallel()
	e := newEnv(t)

	t.Run("Allow", func(t *testing.T) {
		out, stderr, err := e.psql(t, e.token, "-Atc", "SELECT sum(balance) FROM accounts")
		if err != nil || strings.TrimSpace(out) != "1000" {
			t.Fatalf("psql = %q %q %v", out, stderr, err)
		}
	})
	t.Run("Deny", func(t *testing.T) {
		_, stderr, err := e.psql(t, e.token, "-Atc", "SELECT * FROM secrets")
		if err == nil || !strings.Contains(stderr, "the secrets table is off limits") {
			t.Fatalf("psql = %q %v", stderr, err)
		}
	})
	t.Run("HoldNotice", func(t *testing.T) {
		done := make(chan string, 1)
		go func() {
			out, stderr, _ := e.psql(t, e.token, "-Atc", "DELETE FROM accounts WHERE id = 10")
			done <- out + stderr
		}()
		rv := e.pendingReview()
		e.approve(rv.ID)
		got := <-done
		want := "NOTICE:  waiting for approval: review "
		if !strings.Contains(got, want) || !strings.Contains(got, "http://qgate.test/reviews/") || !strings.Contains(got, "DELETE 1") {
			t.Fatalf("psql output = %q", got)
		}
		if n := e.count("SELECT count(*) FROM accounts WHERE id = 10"); n != 0 {
			t.Errorf("approved DELETE did not run")
		}
	})
	t.Run("BadPassword", func(t *testing.T) {
		_, stderr, err := e.psql(t, "qgt_wrong", "-Atc", "SELECT 1")
		if err == nil || !strings.Contains(stderr, `password authentication failed for user "`+e.tokenID+`"`) {
			t.Fatalf("psql = %q %v", stderr, err)
		}
	})
}

// Every refused login reads the same: a wrong secret, an unknown id, a
// revoked token, an expired one.
func TestProxy_Login(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	revoked, revokedID := e.issue(auth.IssueRequest{Identity: "dave"})
	if err := e.auth.Revoke(ctx, revokedID); err != nil {
		t.Fatal(err)
	}
	expired, expiredID := e.issue(auth.IssueRequest{Identity: "erin", TTL: time.Millisecond})
	scoped, scopedID := e.issue(auth.IssueRequest{Identity: "fay", Targets: []string{"other"}})
	time.Sleep(5 * time.Millisecond)
	cases := []struct{ name, user, password string }{
		{"BadSecret", e.tokenID, e.token[:len(e.token)-3] + "xyz"},
		{"Unknown", "aaaaaaaaaaaa", "qgt_aaaaaaaaaaaa_whatever"},
		{"Revoked", revokedID, revoked},
		{"Expired", expiredID, expired},
		{"OutOfScope", scopedID, scoped},
	}
	for _, c := range cases {
		_, err := pgx.Connect(ctx, e.connString(c.user, c.password))
		var pe *pgconn.PgError
		if !errorsAs(err, &pe) || pe.Code != "28P01" || pe.Severity != "FATAL" || pe.Message != `password authentication failed for user "`+c.user+`"` {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
	fails := e.audit(qgate.AuditFilter{Type: qgate.AuditAuth, Action: "failed"})
	if len(fails) != len(cases) {
		t.Errorf("%d auth failures audited, want %d", len(fails), len(cases))
	}
	reasons := ""
	for _, f := range fails {
		reasons += string(f.Data)
	}
	for _, r := range []string{"bad_secret", "unknown", "revoked", "expired", "out_of_scope"} {
		if !strings.Contains(reasons, `"reason":"`+r+`"`) {
			t.Errorf("no audited failure with reason %s in %s", r, reasons)
		}
	}
}

// A revoked token's open session is closed at its next statement.
func TestProxy_RevokedSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *pgproxyProxy) { p.TokenRecheck = time.Millisecond })
	ctx := context.Background()
	conn := e.connect(ctx)
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if err := e.auth.Revoke(ctx, e.tokenID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	_, err := conn.Exec(ctx, "SELECT 1")
	var pe *pgconn.PgError
	if !errorsAs(err, &pe) || pe.Severity != "FATAL" {
		t.Fatalf("err = %v, want FATAL", err)
	}
}

// A revoked token's idle session is closed within the recheck interval,
// without waiting for its next statement, and its upstream backend ends.
func TestProxy_RevokedIdleSessionClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *pgproxyProxy) { p.TokenRecheck = 50 * time.Millisecond })
	ctx := context.Background()
	conn := e.connect(ctx)
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	pid := conn.PgConn().PID()
	// Another token's session stays open.
	otherTok, otherID := e.issue(auth.IssueRequest{Identity: "dave"})
	other, err := pgx.Connect(ctx, e.connString(otherID, otherTok))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)

	if err := e.auth.Revoke(ctx, e.tokenID); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = conn.PgConn().WaitForNotification(wctx) // idle: only the server can end this
	var pe *pgconn.PgError
	if !errorsAs(err, &pe) || pe.Severity != "FATAL" || pe.Code != "28000" {
		t.Fatalf("idle session of a revoked token: %v, want FATAL 28000", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.count(fmt.Sprintf("SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the upstream backend of the closed session is still there")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := other.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("another token's session: %v", err)
	}
	evs := e.audit(qgate.AuditFilter{Type: qgate.AuditAuth, TokenID: e.tokenID})
	n := 0
	for _, ev := range evs {
		if strings.Contains(string(ev.Data), `"reason":"revoked"`) && strings.Contains(string(ev.Data), `"session":true`) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d audited revocations of the session, want 1: %v", n, evs)
	}
}

// A token revoked while one of its statements is held: approving the
// review afterwards runs nothing, and the session is closed.
func TestProxy_RevokedDuringHold(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	conn := e.connect(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "DELETE FROM accounts WHERE id = 6")
		done <- err
	}()
	rv := e.pendingReview()
	if err := e.auth.Revoke(ctx, e.tokenID); err != nil {
		t.Fatal(err)
	}
	e.approve(rv.ID)
	pe := pgErr(t, <-done, "28000")
	if pe.Severity != "FATAL" {
		t.Errorf("severity %s, want FATAL", pe.Severity)
	}
	if n := e.count("SELECT count(*) FROM accounts WHERE id = 6"); n != 1 {
		t.Fatal("the statement of a revoked token ran")
	}
	if got, _ := e.reviews.Get(ctx, rv.ID); !got.ExecutedAt.IsZero() {
		t.Errorf("review marked executed")
	}
}

func TestProxy_StartupParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	conn := e.connect(ctx, "application_name=qgate-test-app", "search_path=pg_catalog,public")
	var app, path string
	if err := conn.QueryRow(ctx, "SELECT current_setting('application_name'), current_setting('search_path')").Scan(&app, &path); err != nil {
		t.Fatal(err)
	}
	if app != "qgate-test-app" || path != "pg_catalog,public" {
		t.Errorf("application_name = %q, search_path = %q", app, path)
	}
	if n := e.count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'qgate-test-app' AND pid = " + itoa(int(conn.PgConn().PID()))); n != 1 {
		t.Errorf("pg_stat_activity does not show the session's application_name")
	}
	if v := conn.PgConn().ParameterStatus("server_version"); v == "" {
		t.Errorf("no server_version parameter")
	}
}

// Every way around "reads allowed, everything else reviewed" is held.
func TestProxy_Bypass(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.exec("PREPARE del AS DELETE FROM accounts")
	cases := []string{
		"SELECT 1; DELETE FROM accounts",
		"WITH d AS (DELETE FROM accounts RETURNING *) SELECT count(*) FROM d",
		"EXPLAIN ANALYZE DELETE FROM accounts",
		"SELECT nextval('seq')",
		"PREPARE p2 AS DELETE FROM accounts",
		"EXECUTE del",
		"COPY accounts FROM STDIN",
		"COPY (DELETE FROM accounts RETURNING *) TO STDOUT",
		"SELECT set_config('default_transaction_read_only', 'off', false)",
		"DO $$BEGIN DELETE FROM accounts; END$$",
		"/* SELECT */ DELETE FROM accounts",
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		for _, q := range cases {
			conn := e.connect(ctx)
			cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err := conn.Exec(cctx, q, mode)
			cancel()
			if err == nil {
				t.Errorf("mode %v: %q ran without approval", mode, q)
			}
			conn.Close(ctx)
		}
	}
	if n := e.count("SELECT count(*) FROM accounts"); n != 10 {
		t.Errorf("accounts has %d rows, want 10", n)
	}
	if n := e.count("SELECT last_value FROM seq"); n != 1 || e.count("SELECT is_called::int FROM seq") != 0 {
		t.Errorf("nextval ran")
	}
}

func TestProxy_Copy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	conn := e.connect(ctx)
	// COPY is never read-only: held, then a large result streams back.
	var buf bytes.Buffer
	copied := make(chan error, 1)
	go func() {
		tag, err := conn.PgConn().CopyTo(ctx, &buf, "COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 50000) g) TO STDOUT")
		if err == nil && tag.RowsAffected() != 50000 {
			err = fmt.Errorf("COPY TO tag %v", tag)
		}
		copied <- err
	}()
	e.approve(e.pendingReview().ID)
	if err := <-copied; err != nil || buf.Len() < 50000*100 {
		t.Fatalf("COPY TO = %d bytes, %v", buf.Len(), err)
	}
	// COPY FROM is held until approved, then the data flows.
	done := make(chan error, 1)
	go func() {
		rows := make([][]any, 20000)
		for i := range rows {
			rows[i] = []any{i + 1000, "bulk"}
		}
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"notes"}, []string{"id", "body"}, pgx.CopyFromRows(rows))
		done <- err
	}()
	rv := e.pendingReview()
	if n := e.count("SELECT count(*) FROM notes"); n != 0 {
		t.Fatalf("data flowed before approval")
	}
	e.approve(rv.ID)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := e.count("SELECT count(*) FROM notes WHERE body = 'bulk'"); n != 20000 {
		t.Errorf("copied %d rows, want 20000", n)
	}
}

// A pipelined batch with a held Execute in the middle runs in order once
// approved.
func TestProxy_Pipeline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	conn := e.connect(ctx)
	done := make(chan error, 1)
	go func() {
		b := &pgx.Batch{}
		b.Queue("INSERT INTO notes (body) VALUES ('first')")
		b.Queue("UPDATE accounts SET balance = 0 WHERE id = 5")
		b.Queue("INSERT INTO notes (body) VALUES ('third')")
		done <- conn.SendBatch(ctx, b).Close()
	}()
	rv := e.pendingReview()
	if n := e.count("SELECT count(*) FROM notes"); n != 0 {
		t.Fatalf("the rest of the pipeline ran before the held statement was approved")
	}
	e.approve(rv.ID)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := e.count("SELECT count(*) FROM notes"); n != 2 || e.count("SELECT balance FROM accounts WHERE id = 5") != 0 {
		t.Errorf("pipeline did not run in full")
	}

	// A held Execute in the middle that is rejected: as a refusal, the
	// earlier statements of the implicit transaction are rolled back and
	// the later ones skipped.
	go func() {
		b := &pgx.Batch{}
		b.Queue("INSERT INTO notes (body) VALUES ('before the rejected one')")
		b.Queue("UPDATE accounts SET balance = 1 WHERE id = 6")
		b.Queue("INSERT INTO notes (body) VALUES ('after the rejected one')")
		done <- conn.SendBatch(ctx, b).Close()
	}()
	rv = e.pendingReview()
	if _, err := e.reviews.Reject(ctx, rv.ID, e.voter("bob"), "not now"); err != nil {
		t.Fatal(err)
	}
	pgErr(t, <-done, "42501")
	if n := e.count("SELECT count(*) FROM notes"); n != 2 || e.count("SELECT balance FROM accounts WHERE id = 6") != 100 {
		t.Errorf("a batch with a rejected statement changed the upstream")
	}

	// A refused statement in a batch: the earlier ones of the implicit
	// transaction are rolled back, the later ones skipped.
	b := &pgx.Batch{}
	b.Queue("INSERT INTO notes (body) VALUES ('rolled back')")
	b.Queue("SELECT * FROM secrets")
	b.Queue("INSERT INTO notes (body) VALUES ('skipped')")
	err := conn.SendBatch(ctx, b).Close()
	var pe *pgconn.PgError
	if !errorsAs(err, &pe) || pe.Code != "42501" {
		t.Fatalf("batch err = %v", err)
	}
	if n := e.count("SELECT count(*) FROM notes"); n != 2 {
		t.Errorf("notes = %d after a refused batch, want 2", n)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Errorf("connection unusable: %v", err)
	}
}

// Malformed and oversized messages end that session only.
func TestProxy_Malformed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *pgproxyProxy) { p.MaxMessageSize = 1 << 20 })
	ctx := context.Background()
	other := e.connect(ctx)
	raw := func(b []byte) {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(b)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		var sink [512]byte
		for {
			if _, err := c.Read(sink[:]); err != nil {
				return
			}
		}
	}
	raw([]byte{0, 0, 0, 3})
	raw([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	raw(append(binary.BigEndian.AppendUint32(nil, 8), 0, 3, 0, 0)) // startup without user
	raw([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))

	// An authenticated session sending garbage and an oversized query.
	for _, mutate := range []func(c net.Conn){
		func(c net.Conn) { c.Write([]byte{'Q', 0xff, 0xff, 0xff, 0xff}) },
		func(c net.Conn) { c.Write([]byte{'Z', 0, 0, 0, 4}) },
		func(c net.Conn) { c.Write(append([]byte{'Q', 0, 0x20, 0, 0}, make([]byte, 1000)...)) },
	} {
		conn := e.connect(ctx)
		nc := conn.PgConn().Conn()
		mutate(nc)
		nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		var sink [512]byte
		got := []byte{}
		for {
			n, err := nc.Read(sink[:])
			got = append(got, sink[:n]...)
			if err != nil {
				break
			}
		}
		if !bytes.Contains(got, []byte("FATAL")) {
			t.Errorf("no FATAL error, got %q", got)
		}
	}
	if n := e.count("SELECT count(*) FROM notes"); n != 0 {
		t.Errorf("something was forwarded")
	}
	var one int
	if err := other.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("another session was affected: %v", err)
	}
	if _, err := pgx.Connect(ctx, e.connString(e.tokenID, e.token)); err != nil {
		t.Fatalf("the gateway stopped accepting: %v", err)
	}
}
