package pgproxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/qgate/qgate"
)

// A session that ran LISTEN gets a NOTIFY from another session while it
// sits idle, as it would directly: pgx's WaitForNotification returns at
// once instead of at the next statement.
func TestProxy_NotifyWhileIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	conn := e.connect(ctx)
	if _, err := conn.Exec(ctx, "LISTEN qgate_ch"); err != nil {
		t.Fatal(err)
	}
	for i, payload := range []string{"first", "second"} {
		sent := time.Now()
		e.exec("NOTIFY qgate_ch, '" + payload + "'")
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			t.Fatalf("notification %d: %v (after %v)", i, err, time.Since(sent))
		}
		if n.Channel != "qgate_ch" || n.Payload != payload || n.PID != e.direct.PgConn().PID() {
			t.Errorf("notification %d = %+v, want channel qgate_ch, payload %q from pid %d", i, n, payload, e.direct.PgConn().PID())
		}
	}
	// The session goes on as before.
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 after notifications = %d, %v", one, err)
	}
}

// While a statement is held, notifications still reach the client, and
// the held statement is still not forwarded.
func TestProxy_NotifyDuringHold(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	notes := make(chan *pgconn.Notification, 4)
	notices := make(chan *pgconn.Notice, 4)
	cfg, err := pgconn.ParseConfig(e.connString(e.tokenID, e.token))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) { notes <- n }
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices <- n }
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	if _, err := pc.Exec(ctx, "LISTEN qgate_ch").ReadAll(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := pc.Exec(ctx, "DELETE FROM accounts WHERE id = 7").ReadAll()
		done <- err
	}()
	rv := e.pendingReview()
	select {
	case n := <-notices:
		if !strings.Contains(n.Message, fmt.Sprintf("waiting for approval: review %d", rv.ID)) {
			t.Errorf("notice = %q", n.Message)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no NOTICE for the held statement")
	}
	e.exec("NOTIFY qgate_ch, 'during the hold'")
	select {
	case n := <-notes:
		if n.Payload != "during the hold" {
			t.Errorf("notification = %+v", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the notification did not arrive during the hold")
	}
	if got, _ := e.reviews.Get(ctx, rv.ID); got.Status != qgate.ReviewPending {
		t.Fatalf("review %s, want still pending", got.Status)
	}
	if n := e.count("SELECT count(*) FROM accounts WHERE id = 7"); n != 1 {
		t.Fatal("the held statement ran before it was approved")
	}
	if _, err := e.reviews.Reject(ctx, rv.ID, e.voter("bob"), "no"); err != nil {
		t.Fatal(err)
	}
	pgErr(t, <-done, "42501")
	if n := e.count("SELECT count(*) FROM accounts WHERE id = 7"); n != 1 {
		t.Fatal("a rejected statement ran")
	}
	if _, err := pc.Exec(ctx, "SELECT 1").ReadAll(); err != nil {
		t.Fatalf("session unusable after the refusal: %v", err)
	}
}

// pg_terminate_backend of the upstream session while the client is idle:
// the client gets the upstream's FATAL error at once and the connection
// ends, as it would directly.
func TestProxy_UpstreamTerminatedWhileIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	conn := e.connect(ctx)
	pid := conn.PgConn().PID()
	var ok bool
	if err := e.direct.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend = %v, %v", ok, err)
	}
	// WaitForNotification only reads: it returns when qgate forwards the
	// error, not when the client next writes.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := conn.WaitForNotification(wctx)
	pe := pgErr(t, err, "57P01")
	if pe.Severity != "FATAL" || !strings.Contains(pe.Message, "terminating connection due to administrator command") {
		t.Errorf("error = %s %q", pe.Severity, pe.Message)
	}
	if !conn.IsClosed() {
		t.Errorf("the connection is still open")
	}

	// A raw client sees the error and then the end of the connection.
	raw, err := pgconn.Connect(ctx, e.connString(e.tokenID, e.token))
	if err != nil {
		t.Fatal(err)
	}
	hc, err := raw.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Conn.Close()
	e.direct.QueryRow(ctx, "SELECT pg_terminate_backend($1)", hc.PID).Scan(&ok)
	hc.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(hc.Conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("qgate kept the client connection open: read %q", got)
	}
	if len(got) == 0 || got[0] != 'E' || !strings.Contains(string(got), "57P01") {
		t.Errorf("client read %q, want the FATAL ErrorResponse", got)
	}
}

// psql prints a notification that arrived while it was idle with its next
// command, as it does directly.
func TestPsql_Notify(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatal("psql is not installed (apt-get install postgresql-client)")
	}
	t.Parallel()
	e := newEnv(t)
	host, port, _ := net.SplitHostPort(e.addr)
	cmd := exec.Command("psql", "-X", "-h", host, "-p", port, "-U", e.tokenID, "-d", "anything", "-v", "ON_ERROR_STOP=1", "-qAt")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+e.token, "PGCONNECT_TIMEOUT=10")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	out := bufio.NewReader(stdout)
	readLine := func() string {
		t.Helper()
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("psql output: %q, %v", line, err)
		}
		return strings.TrimSpace(line)
	}
	fmt.Fprintln(stdin, "LISTEN qgate_ch; SELECT 'listening';")
	if got := readLine(); got != "listening" {
		t.Fatalf("psql printed %q", got)
	}
	e.exec("NOTIFY qgate_ch, 'hello psql'")
	fmt.Fprintln(stdin, "SELECT 'next';")
	stdin.Close()
	var lines []string
	for {
		line, err := out.ReadString('\n')
		if line != "" {
			lines = append(lines, strings.TrimSpace(line))
		}
		if err != nil {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("psql: %v: %q", err, lines)
	}
	want := fmt.Sprintf(`Asynchronous notification "qgate_ch" with payload "hello psql" received from server process with PID %d.`, e.direct.PgConn().PID())
	if strings.Join(lines, "\n") != "next\n"+want && strings.Join(lines, "\n") != want+"\nnext" {
		t.Errorf("psql printed %q, want %q and next", lines, want)
	}
}
