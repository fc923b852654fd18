package pgproxy_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/qgate/qgate"
	pganalyze "github.com/qgate/qgate/analyze/postgres"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/gate"
	"github.com/qgate/qgate/internal/pgtest"
	"github.com/qgate/qgate/internal/reviewtest"
	"github.com/qgate/qgate/internal/syncbuf"
	"github.com/qgate/qgate/metrics"
	"github.com/qgate/qgate/policy"
	pgproxy "github.com/qgate/qgate/proxy/postgres"
	"github.com/qgate/qgate/review"
	"github.com/qgate/qgate/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testConfig is the configuration every test runs with: reads are
// allowed, inserts into notes too, the secrets table is denied, anything
// else waits for a dba. UPSTREAM, DBNAME and USER are replaced.
const testConfig = `
targets:
  - name: db
    protocol: postgres
    environment: prod
    listen: 127.0.0.1:16432
    upstream: {address: UPSTREAM, database: DBNAME, user: USER, password_env: PG_PASSWORD, sslmode: disable}
groups:
  dba: [alice, bob]
policies:
  - name: secrets
    when: "sql.tables.exists(t, t == 'secrets' || t == 'public.secrets')"
    action: deny
    message: the secrets table is off limits
  - name: reads
    when: sql.read_only
    action: allow
  - name: notes
    when: "sql.statements.all(s, s.kind == 'insert' || s.kind == 'transaction' || s.read_only) && sql.tables.size() > 0 && sql.tables.all(t, t == 'notes')"
    action: allow
  - name: short
    when: "sql.text.contains('expire_me')"
    action: review
    review: {approvers: [dba], timeout: 400ms}
  - name: writes
    when: "!sql.read_only && !(sql.statements.all(s, s.kind == 'insert' || s.kind == 'transaction' || s.read_only) && sql.tables.size() > 0 && sql.tables.all(t, t == 'notes'))"
    action: review
    review: {approvers: [dba], timeout: 20s}
defaults:
  prod: review
`

// env is a whole qgate in front of a fresh database on the test server.
type env struct {
	tb      testing.TB
	dsn     string // direct, superuser, on the test database
	db      *sqlite.DB
	auth    *auth.Authenticator
	log     *audit.Log
	reviews *review.Engine
	cfg     *config.Config
	proxy   *pgproxy.Proxy
	addr    string
	logs    *syncbuf.Buffer
	token   string // carol's token (not an approver)
	tokenID string
	direct  *pgx.Conn
}

func newEnv(tb testing.TB, opts ...func(*pgproxy.Proxy)) *env {
	tb.Helper()
	return newEnvTarget(tb, nil, opts...)
}

// newEnvTarget is newEnv with the target changed by target before the
// proxy is created (for settings that New reads, such as TLS files).
func newEnvTarget(tb testing.TB, target func(*qgate.Target), opts ...func(*pgproxy.Proxy)) *env {
	tb.Helper()
	return newEnvWith(tb, envOptions{target: target}, opts...)
}

// envOptions change how newEnvWith builds the environment.
type envOptions struct {
	target     func(*qgate.Target) // changes the target before New
	durability audit.Durability    // of the audit log; default sync
	// auditStore wraps the store the audit log writes to.
	auditStore func(qgate.AuditStore) qgate.AuditStore
}

func newEnvWith(tb testing.TB, o envOptions, opts ...func(*pgproxy.Proxy)) *env {
	tb.Helper()
	target := o.target
	ctx := context.Background()
	e := &env{tb: tb, logs: &syncbuf.Buffer{}}
	e.dsn = pgtest.CreateDB(tb, pgtest.DSN(tb))
	u, err := url.Parse(e.dsn)
	if err != nil {
		tb.Fatal(err)
	}
	pw, _ := u.User.Password()
	doc := strings.NewReplacer("UPSTREAM", u.Host, "DBNAME", strings.TrimPrefix(u.Path, "/"), "USER", u.User.Username()).Replace(testConfig)
	cfg, err := config.Parse("test.yaml", []byte(doc), func(k string) (string, bool) { return pw, k == "PG_PASSWORD" })
	if err != nil {
		tb.Fatal(err)
	}
	e.cfg = cfg
	e.db, err = sqlite.Open(filepath.Join(tb.TempDir(), "qgate.db"))
	if err != nil {
		tb.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	e.auth = auth.New(e.db, key)
	var auditStore qgate.AuditStore = e.db
	if o.auditStore != nil {
		auditStore = o.auditStore(e.db)
	}
	e.log = audit.NewLog(auditStore, audit.LogOptions{Durability: o.durability, Logger: slog.New(slog.DiscardHandler)})
	e.reviews = review.New(e.db, e.db, e.log)
	e.reviews.PublicURL = "http://qgate.test"
	engine, err := policy.New(cfg.Policies, cfg.Defaults, cfg.ReviewDefaults)
	if err != nil {
		tb.Fatal(err)
	}
	an := pganalyze.New(pganalyze.Options{})
	g := gate.New(an, engine, e.db)
	if target != nil {
		target(cfg.Target("db"))
	}
	e.proxy, err = pgproxy.New(cfg.Target("db"), e.auth, e.db, g, e.reviews, e.log, cfg.GroupsOf)
	if err != nil {
		tb.Fatal(err)
	}
	e.proxy.Analyzer = an
	e.proxy.Metrics = metrics.New(nil)
	e.proxy.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, o := range opts {
		o(e.proxy)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	e.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- e.proxy.Serve(ln) }()
	e.token, e.tokenID = e.issue(auth.IssueRequest{Identity: "carol", Roles: []string{"dev"}})

	e.direct, err = pgx.Connect(ctx, e.dsn)
	if err != nil {
		tb.Fatal(err)
	}
	e.exec(`CREATE TABLE notes (id serial PRIMARY KEY, body text);
		CREATE TABLE accounts (id int PRIMARY KEY, balance int);
		INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 10) g;
		CREATE TABLE secrets (v text); INSERT INTO secrets VALUES ('s3cret');
		CREATE SEQUENCE seq;`)
	tb.Cleanup(func() {
		e.direct.Close(context.Background())
		e.proxy.Close()
		if err := <-served; err != nil {
			tb.Errorf("Serve = %v", err)
		}
		e.log.Close()
		rep, err := audit.Verify(context.Background(), e.db)
		if err != nil || !rep.OK {
			tb.Errorf("audit.Verify = %v, %v", rep, err)
		}
		if strings.Contains(e.logs.String(), e.token) || strings.Contains(e.logs.String(), pw) {
			tb.Errorf("logs contain a secret:\n%s", e.logs.String())
		}
		e.db.Close()
	})
	return e
}

func (e *env) issue(req auth.IssueRequest) (token, id string) {
	e.tb.Helper()
	tok, t, err := e.auth.Issue(context.Background(), req)
	if err != nil {
		e.tb.Fatal(err)
	}
	return tok, t.ID
}

// exec runs SQL directly on the upstream.
func (e *env) exec(sql string) {
	e.tb.Helper()
	if _, err := e.direct.Exec(context.Background(), sql); err != nil {
		e.tb.Fatalf("direct %q: %v", sql, err)
	}
}

// count runs a counting query directly on the upstream.
func (e *env) count(sql string) int {
	e.tb.Helper()
	var n int
	if err := e.direct.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		e.tb.Fatalf("direct %q: %v", sql, err)
	}
	return n
}

// connString is a libpq connection string through qgate.
func (e *env) connString(user, password string) string {
	host, port, _ := net.SplitHostPort(e.addr)
	return fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=whatever sslmode=disable", host, port, user, password)
}

// connect opens a pgx connection through qgate as carol.
func (e *env) connect(ctx context.Context, extra ...string) *pgx.Conn {
	e.tb.Helper()
	conn, err := pgx.Connect(ctx, e.connString(e.tokenID, e.token)+" "+strings.Join(extra, " "))
	if err != nil {
		e.tb.Fatalf("connect through qgate: %v", err)
	}
	e.tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// pendingReview waits until a review is pending and returns it.
func (e *env) pendingReview() *qgate.Review {
	e.tb.Helper()
	return reviewtest.WaitPending(e.tb, e.reviews, 10*time.Second)
}

func (e *env) voter(name string) review.Voter {
	return review.Voter{Identity: name, Groups: e.cfg.GroupsOf(name)}
}

func (e *env) approve(id int64) {
	e.tb.Helper()
	if _, err := e.reviews.Approve(context.Background(), id, e.voter("alice"), "ok", 0); err != nil {
		e.tb.Fatal(err)
	}
}

// audit returns the stored audit events matching f.
func (e *env) audit(f qgate.AuditFilter) []*qgate.AuditEvent {
	e.tb.Helper()
	evs, err := e.db.ListAudit(context.Background(), f)
	if err != nil {
		e.tb.Fatal(err)
	}
	return evs
}
