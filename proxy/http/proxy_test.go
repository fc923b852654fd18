package httpproxy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qgate/qgate"
	pganalyze "github.com/qgate/qgate/analyze/postgres"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/gate"
	"github.com/qgate/qgate/internal/reviewtest"
	"github.com/qgate/qgate/internal/syncbuf"
	"github.com/qgate/qgate/metrics"
	"github.com/qgate/qgate/policy"
	httpproxy "github.com/qgate/qgate/proxy/http"
	"github.com/qgate/qgate/review"
	"github.com/qgate/qgate/store/sqlite"
)

// testConfig is the configuration every test runs with; UPSTREAM is
// replaced by the recording upstream's URL.
const testConfig = `
targets:
  - name: api
    protocol: http
    environment: staging
    listen: 127.0.0.1:19001
    upstream:
      url: UPSTREAM
      headers: {X-Api-Key: "upstream-secret", Authorization: "Bearer upstream-credential"}
    graphql: {path: /graphql}
    hold: 5s
    max_body: 1024
  - name: other
    protocol: http
    environment: prod
    listen: 127.0.0.1:19002
    upstream: {url: 'http://127.0.0.1:7000'}
groups:
  dba: [alice, bob]
policies:
  - {name: reads, when: "http.method == 'GET' || http.method == 'HEAD'", action: allow}
  - {name: echo, when: "http.path.startsWith('/v1/echo')", action: allow}
  - name: admin
    when: "http.path.startsWith('/admin')"
    action: deny
    message: the admin API is off limits
  - name: writes
    when: "!http.graphql.present && !http.path.startsWith('/v1/echo') && http.method in ['POST', 'PUT', 'PATCH', 'DELETE']"
    action: review
    review: {approvers: [dba], timeout: 1m}
  - name: short
    when: "http.path == '/v1/short'"
    action: review
    review: {approvers: [dba], timeout: 300ms}
  - {name: gql-read, when: "http.graphql.present && http.graphql.read_only", action: allow}
  - name: gql-write
    when: "http.graphql.present && !http.graphql.read_only"
    action: review
    review: {approvers: [dba]}
defaults:
  staging: deny
`

// recorded is one request the upstream received.
type recorded struct {
	Method           string
	RequestURI       string
	Host             string
	Header           http.Header
	Body             []byte
	ContentLength    int64
	TransferEncoding []string
}

// upstream is a real HTTP server that records what reaches it and
// answers with handler (by default 200 "hello from upstream").
type upstream struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	handler http.HandlerFunc
}

func newUpstream(tb testing.TB, handler http.HandlerFunc) *upstream {
	tb.Helper()
	u := &upstream{handler: handler}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, recorded{r.Method, r.RequestURI, r.Host, r.Header.Clone(), body, r.ContentLength, r.TransferEncoding})
		u.mu.Unlock()
		if u.handler != nil {
			u.handler(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Upstream", "yes")
		io.WriteString(w, "hello from upstream")
	}))
	tb.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recorded(nil), u.reqs...)
}

// env is a whole qgate in front of one recording upstream: real SQLite
// store, authenticator, audit log, review engine, policy engine and gate,
// and the proxy on a real socket.
type env struct {
	tb      testing.TB
	db      *sqlite.DB
	auth    *auth.Authenticator
	log     *audit.Log
	reviews *review.Engine
	cfg     *config.Config
	proxy   *httpproxy.Proxy
	srv     *proxyServer
	up      *upstream
	logs    *syncbuf.Buffer
	token   string // carol's token (not an approver)
	tokenID string
}

type envOption func(*env, *qgate.Target)

// withAuditor wraps the audit log the proxy uses.
func withAuditor(wrap func(httpproxy.Auditor) httpproxy.Auditor) envOption {
	return func(e *env, _ *qgate.Target) { e.proxy.Audit = wrap(e.proxy.Audit) }
}

func newEnv(tb testing.TB, up *upstream, target func(*qgate.Target), opts ...envOption) *env {
	tb.Helper()
	if up == nil {
		up = newUpstream(tb, nil)
	}
	e := &env{tb: tb, up: up, logs: &syncbuf.Buffer{}}
	doc := strings.Replace(testConfig, "UPSTREAM", up.URL, 1)
	cfg, err := config.Parse("test.yaml", []byte(doc), func(string) (string, bool) { return "", false })
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
	e.auth.SCRAMIterations = 4096
	e.log = audit.NewLog(e.db, audit.LogOptions{})
	e.reviews = review.New(e.db, e.db, e.log)
	e.reviews.PublicURL = "http://qgate.test"
	engine, err := policy.New(cfg.Policies, cfg.Defaults, cfg.ReviewDefaults)
	if err != nil {
		tb.Fatal(err)
	}
	g := gate.New(pganalyze.New(pganalyze.Options{}), engine, e.db)
	t := cfg.Target("api")
	if target != nil {
		target(t)
	}
	e.proxy, err = httpproxy.New(t, e.auth, g, e.reviews, e.log, cfg.GroupsOf)
	if err != nil {
		tb.Fatal(err)
	}
	e.proxy.Metrics = metrics.New(nil)
	e.proxy.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, o := range opts {
		o(e, t)
	}
	e.srv = serveProxy(tb, e.proxy, nil)
	e.token, e.tokenID = e.issue(auth.IssueRequest{Identity: "carol", Roles: []string{"dev"}})
	tb.Cleanup(func() {
		e.srv.Close()
		e.proxy.Close()
		e.log.Close()
		rep, err := audit.Verify(context.Background(), e.db)
		if err != nil || !rep.OK {
			tb.Errorf("audit.Verify = %v, %v", rep, err)
		}
		for _, secret := range []string{e.token, "upstream-secret", "upstream-credential"} {
			if strings.Contains(e.logs.String(), secret) {
				tb.Errorf("logs contain a secret %q:\n%s", secret, e.logs.String())
			}
		}
		e.db.Close()
	})
	return e
}

// proxyServer serves a Proxy on a loopback port, as qgate serve does.
type proxyServer struct {
	URL    string
	proxy  *httpproxy.Proxy
	client *http.Client
	done   chan error
}

// serveProxy serves p on a new loopback listener, over TLS when
// tlsConfig is set (the client then trusts tlsConfig's certificate pool
// given as roots).
func serveProxy(tb testing.TB, p *httpproxy.Proxy, tlsConfig *tls.Config, roots ...*x509.CertPool) *proxyServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &proxyServer{URL: "http://" + ln.Addr().String(), proxy: p, done: make(chan error, 1),
		client: &http.Client{Transport: &http.Transport{}}}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
		s.URL = "https://" + ln.Addr().String()
		cc := &tls.Config{}
		if len(roots) > 0 {
			cc.RootCAs = roots[0]
		}
		s.client.Transport = &http.Transport{TLSClientConfig: cc}
	}
	go func() { s.done <- p.Serve(ln) }()
	return s
}

func (s *proxyServer) Client() *http.Client { return s.client }

// Close shuts the server down (waiting for calls in flight) and checks
// that Serve returned cleanly.
func (s *proxyServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.client.CloseIdleConnections()
	s.proxy.Shutdown(ctx)
	if err := <-s.done; err != nil {
		panic("Serve: " + err.Error())
	}
}

func (e *env) issue(req auth.IssueRequest) (token, id string) {
	e.tb.Helper()
	tok, t, err := e.auth.Issue(context.Background(), req)
	if err != nil {
		e.tb.Fatal(err)
	}
	return tok, t.ID
}

// do sends one request through qgate with token (none when "").
func (e *env) do(ctx context.Context, method, path, token string, body []byte, header http.Header) *http.Response {
	e.tb.Helper()
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL, bytes.NewReader(body))
	if err != nil {
		e.tb.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	// Opaque sends the path exactly as written, dots and escapes included.
	req.URL.Opaque = path
	if i := strings.IndexByte(path, '?'); i >= 0 {
		req.URL.Opaque, req.URL.RawQuery = path[:i], path[i+1:]
	}
	for k, vv := range header {
		req.Header[k] = vv
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.tb.Fatal(err)
	}
	return res
}

// call sends a request and reads the whole response.
func (e *env) call(method, path string, body []byte, header http.Header) (*http.Response, []byte) {
	e.tb.Helper()
	res := e.do(context.Background(), method, path, e.token, body, header)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.tb.Fatal(err)
	}
	return res, b
}

// awaitClientLeft waits, up to within, until review id is cancelled
// because its client left, and fails the test if it ends otherwise.
func (e *env) awaitClientLeft(id int64, within time.Duration) {
	e.tb.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := e.reviews.Get(context.Background(), id)
		if err != nil {
			e.tb.Fatal(err)
		}
		if got.Status == qgate.ReviewCancelled {
			if got.Reason != "client disconnected" {
				e.tb.Errorf("reason = %q", got.Reason)
			}
			return
		}
		if got.Status != qgate.ReviewPending || time.Now().After(deadline) {
			e.tb.Fatalf("review is %s, want cancelled: the client's departure was not noticed", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pendingReview waits until a review is pending and returns it.
func (e *env) pendingReview() *qgate.Review {
	e.tb.Helper()
	return reviewtest.WaitPending(e.tb, e.reviews, 5*time.Second)
}

func (e *env) voter(name string) review.Voter {
	return review.Voter{Identity: name, Groups: e.cfg.GroupsOf(name)}
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

// problemDoc is a decoded problem+json body.
type problemDoc struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
	ReviewID  int64  `json:"review_id"`
	ReviewURL string `json:"review_url"`
	ErrorID   string `json:"error_id"`
}

// mustProblem checks that res is a problem document with status.
func mustProblem(tb testing.TB, res *http.Response, body []byte, status int) problemDoc {
	tb.Helper()
	if res.StatusCode != status {
		tb.Fatalf("status = %d, want %d; body %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problemDoc
	if err := json.Unmarshal(body, &p); err != nil {
		tb.Fatalf("problem body %q: %v", body, err)
	}
	if p.Status != status || !strings.HasPrefix(p.Type, "https://qgate.dev/problems/") || p.Title == "" {
		tb.Fatalf("problem = %+v", p)
	}
	if p.RequestID == "" || p.RequestID != res.Header.Get("Qgate-Request-Id") {
		tb.Fatalf("request_id = %q, header %q", p.RequestID, res.Header.Get("Qgate-Request-Id"))
	}
	if bytes.Contains(body, []byte("goroutine ")) || bytes.Contains(body, []byte(".go:")) {
		tb.Fatalf("problem leaks internals: %s", body)
	}
	return p
}
