package pgproxy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
	pgproxy "github.com/qgate/qgate/proxy/postgres"
)

// dial opens a pgx connection through qgate with a token and returns the
// error as is.
func (e *env) dial(ctx context.Context, id, token string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, e.connString(id, token))
	if err == nil {
		e.tb.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
}

// wantTooMany checks that err is FATAL 53300 with msg in its message.
func wantTooMany(t *testing.T, err error, msg string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53300" || pe.Severity != "FATAL" || !strings.Contains(pe.Message, msg) {
		t.Fatalf("connect = %v, want FATAL 53300 %q", err, msg)
	}
}

// upstreamSessions counts the upstream's sessions on the test database,
// besides the test's direct connection.
func (e *env) upstreamSessions() int {
	return e.count(upstreamSessionsSQL)
}

const upstreamSessionsSQL = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"

func TestProxy_LimitPerToken(t *testing.T) {
	t.Parallel()
	// New takes the limits from the target.
	e := newEnvTarget(t, func(tg *qgate.Target) { tg.MaxConnectionsPerToken = 2; tg.MaxConnections = 0 })
	if e.proxy.MaxConnectionsPerToken != 2 || e.proxy.MaxConnections != 0 {
		t.Fatalf("proxy limits = %d, %d", e.proxy.MaxConnectionsPerToken, e.proxy.MaxConnections)
	}
	ctx := context.Background()
	c1 := e.connect(ctx)
	e.connect(ctx)
	before := e.upstreamSessions()
	_, err := e.dial(ctx, e.tokenID, e.token)
	wantTooMany(t, err, "too many connections for token "+e.tokenID)
	if n := e.upstreamSessions(); n != before {
		t.Errorf("upstream sessions %d -> %d: the refused login reached the upstream", before, n)
	}

	// Another token is not affected.
	tok, id := e.issue(auth.IssueRequest{Identity: "dave", Roles: []string{"dev"}})
	c3, err := e.dial(ctx, id, tok)
	if err != nil {
		t.Fatalf("another token: %v", err)
	}
	if _, err := c3.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}

	// Exactly the one refusal is audited. (Checked before the retry loop
	// below, whose early attempts may be refused while the slot is freed.)
	evs := e.audit(qgate.AuditFilter{Type: qgate.AuditAuth, Action: "deny"})
	if len(evs) != 1 || evs[0].TokenID != e.tokenID || evs[0].Identity != "carol" {
		t.Fatalf("deny audit events = %+v", evs)
	}
	var d map[string]any
	json.Unmarshal(evs[0].Data, &d)
	if d["reason"] != "too many connections for token" || d["limit"] != float64(2) {
		t.Errorf("audit data = %s", evs[0].Data)
	}

	// Closing one session frees its slot.
	c1.Close(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := e.dial(ctx, e.tokenID, e.token)
		if err == nil {
			if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing a session: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

}

func TestProxy_LimitTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *pgproxy.Proxy) { p.MaxConnections = 2; p.MaxConnectionsPerToken = 0 })
	ctx := context.Background()
	e.connect(ctx)
	tok, id := e.issue(auth.IssueRequest{Identity: "dave", Roles: []string{"dev"}})
	c2, err := e.dial(ctx, id, tok)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range [][2]string{{e.tokenID, e.token}, {id, tok}} {
		_, err := e.dial(ctx, who[0], who[1])
		wantTooMany(t, err, `too many connections to target "db"`)
	}
	// A refused login with a bad password is still a bad password.
	_, err = e.dial(ctx, id, "qgt_wrong")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("bad password at the limit = %v", err)
	}
	// The two refusals are audited (before the retry loop below, whose
	// early attempts may be refused while the slot is freed).
	evs := e.audit(qgate.AuditFilter{Type: qgate.AuditAuth, Action: "deny"})
	if len(evs) != 2 || !strings.Contains(string(evs[0].Data), "too many connections to target") {
		t.Fatalf("deny audit events = %+v", evs)
	}
	c2.Close(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := e.dial(ctx, id, tok)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing a session: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProxy_IdleTimeout(t *testing.T) {
	t.Parallel()
	e := newEnvTarget(t, func(tg *qgate.Target) { tg.IdleTimeout = 1500 * time.Millisecond })
	ctx := context.Background()
	conn := e.connect(ctx)
	// A held statement and one that runs longer than the timeout are not
	// idleness (pg_sleep is reviewed under the test policy).
	go func() {
		rv := e.pendingReview()
		time.Sleep(2 * time.Second)
		e.approve(rv.ID)
	}()
	if _, err := conn.Exec(ctx, "SELECT pg_sleep(2)"); err != nil {
		t.Fatalf("long statement: %v", err)
	}
	// Activity keeps the session open (a generous margin: the machine
	// running the tests may be busy).
	for range 4 {
		time.Sleep(400 * time.Millisecond)
		if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatalf("active session: %v", err)
		}
	}
	time.Sleep(3 * time.Second)
	_, err := conn.Exec(ctx, "SELECT 1")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57P05" || pe.Severity != "FATAL" {
		t.Fatalf("after idling: %v, want FATAL 57P05", err)
	}
	if !conn.IsClosed() {
		t.Error("connection still open")
	}
}

func TestProxy_DefaultLimitsFromConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if e.proxy.MaxConnections != 100 || e.proxy.MaxConnectionsPerToken != 10 || e.proxy.IdleTimeout != 0 {
		t.Fatalf("proxy limits = %d, %d, %v", e.proxy.MaxConnections, e.proxy.MaxConnectionsPerToken, e.proxy.IdleTimeout)
	}
}

// A pgx context cancel while a statement runs sends a CancelRequest
// through qgate: the statement fails with 57014 at once, the upstream
// stops running it and the session goes on.
func TestProxy_CancelRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg, err := pgx.ParseConfig(e.connString(e.tokenID, e.token))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, CancelRequestDelay: 0, DeadlineDelay: 10 * time.Second}
	}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	pid := conn.PgConn().PID()
	running := func() int {
		return e.count("SELECT count(*) FROM pg_stat_activity WHERE pid = " + itoa(int(pid)) + " AND state = 'active' AND query LIKE '%pg_sleep(5)%'")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelled := make(chan time.Time, 1)
	go func() {
		e.approve(e.pendingReview().ID) // pg_sleep is reviewed under the test policy
		deadline := time.Now().Add(10 * time.Second)
		for running() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if running() == 0 {
			t.Error("pg_sleep(5) never ran upstream")
		}
		cancelled <- time.Now()
		cancel()
	}()
	_, err = conn.Exec(ctx, "SELECT pg_sleep(5)")
	took := time.Since(<-cancelled)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" {
		t.Fatalf("cancelled statement = %v, want 57014", err)
	}
	if took > 2*time.Second {
		t.Errorf("the statement ended %v after the cancel", took)
	}
	if n := running(); n != 0 {
		t.Errorf("the upstream still runs pg_sleep(5)")
	}
	var one int
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after the cancel: %d, %v", one, err)
	}
}

// With a certificate on the target, a client that requires TLS logs in
// with the token in clear inside TLS; a plain client still uses SCRAM.
func TestProxy_TLSListener(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile)
	e := newEnvTarget(t, func(tg *qgate.Target) { tg.TLS = &qgate.TLSFiles{Cert: certFile, Key: keyFile} })
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, strings.Replace(e.connString(e.tokenID, e.token), "sslmode=disable", "sslmode=require", 1))
	if err != nil {
		t.Fatalf("connect with sslmode=require: %v", err)
	}
	defer conn.Close(ctx)
	var sum int
	if err := conn.QueryRow(ctx, "SELECT sum(balance) FROM accounts").Scan(&sum); err != nil || sum != 1000 {
		t.Fatalf("query over TLS = %d, %v", sum, err)
	}
	if tc, ok := conn.PgConn().Conn().(*tls.Conn); !ok || !tc.ConnectionState().HandshakeComplete {
		t.Error("client connection is not TLS")
	}
	if !strings.Contains(e.logs.String(), "tls=true") {
		t.Errorf("no TLS session in the logs:\n%s", e.logs.String())
	}
	plain := e.connect(ctx)
	if _, err := plain.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("plain connection: %v", err)
	}
	_, err = pgx.Connect(ctx, strings.Replace(e.connString(e.tokenID, "qgt_wrong"), "sslmode=disable", "sslmode=require", 1))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("bad token over TLS = %v, want 28P01", err)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "qgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}
