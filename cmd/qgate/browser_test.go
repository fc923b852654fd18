package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/demo"
	"github.com/qgate/qgate/internal/pgtest"
)

// The browser tests drive Debian's chromium (headless) through the web UI
// of a real `qgate serve` in front of a real HTTP upstream and a real
// PostgreSQL. One browser serves every test; each person gets a tab in a
// browser context of their own, so their cookies are theirs.

// chromiumPath finds the browser: QGATE_CHROMIUM, or chromium on PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("QGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "the browser tests need Chromium: apt-get install chromium (.ci/run does it), or set QGATE_CHROMIUM to its path"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (skipped because CI is not set)")
	return ""
}

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

// sharedBrowser starts the one browser of this test binary; stopBrowser
// (from TestMain) ends it.
func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	browser.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox, // the tests may run as root in a container
			chromedp.DisableGPU,
			chromedp.WindowSize(1280, 900),
		)
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		browser.ctx = bctx
		browser.cancel = func() { bcancel(); acancel() }
		browser.err = chromedp.Do(bctx) // starts it
	})
	if browser.err != nil {
		t.Fatalf("start chromium: %v", browser.err)
	}
	return browser.ctx
}

func stopBrowser() {
	if browser.cancel != nil {
		browser.cancel()
	}
}

// tab opens a tab in a fresh browser context (its own cookies), bounded
// by timeout.
func tab(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(sharedBrowser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, timeout)
	t.Cleanup(tcancel)
	return tctx
}

// browserE2E is qgate serve with an HTTP target (api) and a PostgreSQL
// target (db), tokens for the requester dana, and people who approve.
type browserE2E struct {
	srv     *Server
	cfgPath string
	hits    sync.Map // "METHOD path" → *atomic.Int64: calls that reached the upstream
	tokens  map[string]string
	pgConn  func(ctx context.Context) (*pgx.Conn, error) // dana through qgate
	direct  *pgx.Conn
}

const browserPolicies = `
  - name: api-deletes-need-a-dba
    targets: [api]
    when: http.method == 'DELETE'
    action: review
    review: {approvers: [dba], timeout: 2m}
  - name: api-creates-need-two
    targets: [api]
    when: http.method == 'POST'
    action: review
    review: {approvers: [dba, security], quorum: 2, timeout: 2m}
  - name: api-puts-expire-fast
    targets: [api]
    when: http.method == 'PUT'
    action: review
    review: {approvers: [dba], timeout: 3s}
  - name: api-reads
    targets: [api]
    when: http.method == 'GET'
    action: allow
  - name: db-reads
    targets: [db]
    when: sql.read_only
    action: allow
  - name: db-writes-need-a-dba
    targets: [db]
    when: '!sql.read_only'
    action: review
    review: {approvers: [dba], timeout: 2m}
`

func startBrowserE2E(t *testing.T) *browserE2E {
	t.Helper()
	e := &browserE2E{tokens: map[string]string{}}
	api := demo.NewSampleAPI().Handler()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := e.hits.LoadOrStore(r.Method+" "+r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)

	dsn := pgtest.CreateDB(t, pgtest.DSN(t))
	ctx := context.Background()
	direct, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close(ctx) })
	if _, err := direct.Exec(ctx, `CREATE TABLE invoices (id int PRIMARY KEY, paid bool NOT NULL DEFAULT false);
		INSERT INTO invoices SELECT g FROM generate_series(1, 5) g`); err != nil {
		t.Fatal(err)
	}
	e.direct = direct
	u, _ := url.Parse(dsn)
	pw, _ := u.User.Password()
	t.Setenv("QGATE_BROWSER_PG_PW", pw)

	dir := t.TempDir()
	doc := fmt.Sprintf(`
server: {listen: '127.0.0.1:0', public_url: 'http://127.0.0.1'}
store: {driver: sqlite, dsn: %s/qgate.db}
targets:
  - name: api
    protocol: http
    environment: staging
    listen: 127.0.0.1:0
    upstream: {url: %s}
    hold: 60s
  - name: db
    protocol: postgres
    environment: prod
    listen: 127.0.0.1:0
    upstream: {address: '%s', database: %s, user: %s, password_env: QGATE_BROWSER_PG_PW}
groups:
  dba: [alice, bob]
  security: [bob, erin]
  admins: [alice]
policies:
%s
defaults:
  staging: review
  prod: review
`, dir, up.URL, u.Host, strings.TrimPrefix(u.Path, "/"), u.User.Username(), browserPolicies)
	e.cfgPath = filepath.Join(dir, "qgate.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"dana", "alice", "bob", "erin"} {
		tok, _, err := s.Auth.Issue(ctx, auth.IssueRequest{Identity: id, Name: id + "-laptop"})
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[id] = tok
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.srv = s
	t.Cleanup(func() { s.Close() })
	danaID, _, _ := auth.Parse(e.tokens["dana"])
	host, port, _ := net.SplitHostPort(s.Addr("db"))
	e.pgConn = func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=disable",
			host, port, danaID, e.tokens["dana"], strings.TrimPrefix(u.Path, "/")))
	}
	return e
}

// signIn makes the tab act as who.
func (e *browserE2E) signIn(t *testing.T, ctx context.Context, who string) {
	t.Helper()
	_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Authorization": "Bearer " + e.tokens[who]}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
}

// call sends an HTTP request to the api target as dana, in the
// background; the result arrives on the channel.
func (e *browserE2E) call(method, path, body string) <-chan response {
	out := make(chan response, 1)
	go func() {
		req, _ := http.NewRequest(method, "http://"+e.srv.Addr("api")+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.tokens["dana"])
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- response{status: -1, raw: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- response{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	}()
	return out
}

func (e *browserE2E) upstreamHits(method, path string) int64 {
	n, ok := e.hits.Load(method + " " + path)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

// screenshot saves the tab's page as name.png in QGATE_SCREENSHOTS (or
// a temporary directory).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("QGATE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

var errUnused = errors.New("unused")

func TestBrowser_Scratch(t *testing.T) {
	e := startBrowserE2E(t)
	ctx := tab(t, 120*time.Second)
	e.signIn(t, ctx, "alice")
	del := e.call("DELETE", "/v1/items/1", "")
	post := e.call("POST", "/v1/items", `{"name": "new invoice ✓", "amount": 12.5}`)
	go func() {
		c, err := e.pgConn(context.Background())
		if err != nil {
			return
		}
		c.Exec(context.Background(), "UPDATE invoices SET paid = true WHERE id = $1 AND paid = $2", 3, false)
	}()
	time.Sleep(time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL()+"/"), chromedp.WaitVisible(chromedp.CSS("li.row"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	screenshot(t, ctx, "inbox")
	for _, p := range []string{"/reviews/1", "/reviews/2", "/reviews/3", "/history", "/policies", "/tokens"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL()+p), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
		screenshot(t, ctx, strings.ReplaceAll(strings.Trim(p, "/"), "/", "-"))
	}
	_, _ = del, post
}
