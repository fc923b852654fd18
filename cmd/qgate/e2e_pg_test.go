package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate/internal/reviewtest"

	"github.com/jackc/pgx/v5"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopBrowser()
	pgtest.Stop()
	os.Exit(code)
}

// pgE2E is qgate serve in front of a real PostgreSQL with a small table.
type pgE2E struct {
	srv    *Server
	direct *pgx.Conn
	alice  string
	// psql runs psql through qgate as dana.
	psql func(ctx context.Context, sql string) *exec.Cmd
}

func startPGE2E(t *testing.T) *pgE2E {
	t.Helper()
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatal("psql is required (apt-get install postgresql-client)")
	}
	dsn := pgtest.CreateDB(t, pgtest.DSN(t))
	ctx := context.Background()
	direct, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close(ctx) })
	if _, err := direct.Exec(ctx, `CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')`); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(dsn)
	pw, _ := u.User.Password()
	t.Setenv("QGATE_E2E_PG_PW", pw)
	dir := t.TempDir()
	doc := fmt.Sprintf(`
server: {listen: '127.0.0.1:0'}
store: {driver: sqlite, dsn: %s/qgate.db}
targets:
  - name: db
    protocol: postgres
    environment: prod
    listen: 127.0.0.1:0
    upstream: {address: '%s', database: %s, user: %s, password_env: QGATE_E2E_PG_PW}
groups:
  dba: [alice]
policies:
  - {name: reads, when: sql.read_only, action: allow}
  - {name: writes, when: '!sql.read_only', action: review, review: {approvers: [dba], timeout: 1m}}
`, dir, u.Host, strings.TrimPrefix(u.Path, "/"), u.User.Username())
	cfgPath := filepath.Join(dir, "qgate.yaml")
	os.WriteFile(cfgPath, []byte(doc), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	dana, danaTok, err := s.Auth.Issue(ctx, auth.IssueRequest{Identity: "dana"})
	if err != nil {
		t.Fatal(err)
	}
	alice, _, _ := s.Auth.Issue(ctx, auth.IssueRequest{Identity: "alice"})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	host, port, _ := net.SplitHostPort(s.Addr("db"))
	return &pgE2E{srv: s, direct: direct, alice: alice, psql: func(ctx context.Context, sql string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-At",
			fmt.Sprintf("host=%s port=%s user=%s dbname=billing sslmode=disable", host, port, danaTok.ID), "-c", sql)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+dana)
		return cmd
	}}
}

// pendingReview waits for a pending review and returns its id.
func (e *pgE2E) pendingReview(t *testing.T) int64 {
	t.Helper()
	return reviewtest.WaitPending(t, e.srv.Reviews, 10*time.Second).ID
}

// TestE2E_Postgres runs psql through qgate serve against a real PostgreSQL:
// a read passes, a DELETE waits with a NOTICE, the CLI approves it, and it
// runs exactly once.
func TestE2E_Postgres(t *testing.T) {
	e := startPGE2E(t)
	ctx := context.Background()
	psql, direct, s, alice := e.psql, e.direct, e.srv, e.alice
	out, err := psql(ctx, "SELECT count(*) FROM items").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "3" {
		t.Fatalf("read through qgate: %v: %s", err, out)
	}

	var stdout, stderr bytes.Buffer
	held := psql(ctx, "DELETE FROM items WHERE id = 1")
	held.Stdout, held.Stderr = &stdout, &stderr
	if err := held.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- held.Wait() }()
	id := e.pendingReview(t)
	if n := countItems(t, direct); n != 3 {
		t.Fatalf("the held DELETE ran before approval: %d rows", n)
	}
	t.Setenv("QGATE_SERVER", s.URL())
	t.Setenv("QGATE_TOKEN", alice)
	if _, errOut, code := run(t, "", "reviews", "approve", fmt.Sprint(id)); code != 0 {
		t.Fatalf("approve: exit %d: %s", code, errOut)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("psql after approval: %v: %s %s", err, stdout.String(), stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("psql did not complete after approval")
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf("waiting for approval: review %d", id)) {
		t.Fatalf("psql did not show the NOTICE: %q", stderr.String())
	}
	if n := countItems(t, direct); n != 2 {
		t.Fatalf("rows after the approved DELETE: %d, want 2", n)
	}
}

func countItems(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestE2E_PostgresCtrlC presses Ctrl-C in psql on a real terminal (a
// pseudo-terminal from script(1)) while a statement is held: the review is
// withdrawn, psql reports the cancellation, and nothing ran.
func TestE2E_PostgresCtrlC(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatal("script(1) from util-linux is required")
	}
	e := startPGE2E(t)
	inner := e.psql(context.Background(), "DELETE FROM items WHERE id = 2")
	line := make([]string, len(inner.Args))
	for i, a := range inner.Args {
		line[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	cmd := exec.Command("script", "-qefc", strings.Join(line, " "), "/dev/null")
	cmd.Env = inner.Env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	id := e.pendingReview(t)
	stdin.Write([]byte{3}) // Ctrl-C on the terminal
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("psql did not stop after Ctrl-C: %s", out.String())
	}
	if !strings.Contains(out.String(), "canceling statement due to user request") {
		t.Fatalf("psql output: %q", out.String())
	}
	r, err := e.srv.Reviews.Get(context.Background(), id)
	if err != nil || r.Status != qgate.ReviewCancelled {
		t.Fatalf("review after Ctrl-C: %v %+v", err, r)
	}
	if n := countItems(t, e.direct); n != 3 {
		t.Fatalf("rows after the cancelled DELETE: %d, want 3", n)
	}
}
