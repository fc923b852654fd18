package main

import (
	"context"
	"encoding/json"
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/demo"
	"github.com/qgate/qgate/internal/pgtest"
	"github.com/qgate/qgate/review"
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
	pgConn  func(ctx context.Context) (*pgx.Conn, error)    // dana through qgate
	psql    func(ctx context.Context, sql string) *exec.Cmd // psql as dana through qgate
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
    review: {approvers: [dba], timeout: 10s}
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
		INSERT INTO invoices SELECT g FROM generate_series(1, 5) g;
		CREATE TABLE ledger (id serial PRIMARY KEY, note text NOT NULL)`); err != nil {
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
    hold: 30s
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
	for _, who := range []string{"dana", "alice", "bob", "erin"} {
		if _, errOut, code := run(t, password+"\n", "user", "add", who, "--config", e.cfgPath, "--password-stdin"); code != 0 {
			t.Fatalf("qgate user add %s: exit %d: %s", who, code, errOut)
		}
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
	e.psql = func(ctx context.Context, sql string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-At",
			fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", host, port, danaID, strings.TrimPrefix(u.Path, "/")), "-c", sql)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+e.tokens["dana"])
		return cmd
	}
	return e
}

// curl sends an HTTP request to the api target as dana with the curl
// command, in the background; the status and body arrive on the channel.
func (e *browserE2E) curl(t *testing.T, method, path string) <-chan response {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed for the browser tests (apt-get install curl)")
	}
	out := make(chan response, 1)
	go func() {
		cmd := exec.Command("curl", "-sS", "-X", method, "-H", "Authorization: Bearer "+e.tokens["dana"],
			"-w", "\n%{http_code}", "http://"+e.srv.Addr("api")+path)
		b, err := cmd.Output()
		if err != nil {
			out <- response{status: -1, raw: err.Error()}
			return
		}
		i := strings.LastIndexByte(string(b), '\n')
		if i < 0 {
			out <- response{status: -1, raw: string(b)}
			return
		}
		status, _ := strconv.Atoi(string(b[i+1:]))
		body := string(b[:i])
		out <- response{status: status, raw: body}
	}()
	return out
}

// password is every local user's password in the browser tests.
const password = "correct horse battery staple"

// signIn opens path in a tab that has no session: the page sends the
// browser to the sign-in form, which it fills in as who, and the form
// brings it back to path.
func (e *browserE2E) signIn(t *testing.T, ctx context.Context, who, path string) {
	t.Helper()
	do(t, ctx, "open "+path+" signed out", chromedp.Navigate(e.srv.URL()+path), chromedp.WaitVisible(chromedp.ID("username")))
	if loc := js[string](t, ctx, "location.pathname + location.search"); loc != "/login?next="+url.QueryEscape(path) {
		t.Fatalf("signed out, %s went to %s", path, loc)
	}
	do(t, ctx, "sign in as "+who,
		chromedp.SendKeys(chromedp.ID("username"), who),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#who .me")))
	if loc := js[string](t, ctx, "location.pathname"); loc != path {
		t.Fatalf("after signing in: at %s, want %s", loc, path)
	}
	if me := text(t, ctx, "#who .me"); !strings.Contains(me, who) {
		t.Fatalf("signed in as %q, want %s", me, who)
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

// waitReview waits for a pending review that match accepts.
func (e *browserE2E) waitReview(t *testing.T, match func(*qgate.Review) bool) *qgate.Review {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs, err := e.srv.Reviews.List(context.Background(), qgate.ReviewFilter{Status: qgate.ReviewPending})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if match(r) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the held request's review did not appear")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func payloadPrefix(prefix string) func(*qgate.Review) bool {
	return func(r *qgate.Review) bool { return strings.HasPrefix(r.Payload, prefix) }
}

// do runs browser actions and fails the test on an error.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// js evaluates an expression in the page (awaiting a promise) into T.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text returns the visible text of the first element matching sel. It
// reads it in one evaluation in the page, so a re-render (an event-stream
// update) between finding the node and reading it cannot fail the test.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	q, _ := json.Marshal(sel)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[*string](
		fmt.Sprintf(`(() => { const n = document.querySelector(%s); return n ? n.innerText : null })()`, q)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	if s == nil {
		t.Fatalf("text of %s: no such element", sel)
	}
	return *s
}

// selectRow selects an inbox row by clicking it, in one evaluation in the
// page: the event stream re-renders the list whenever any review changes,
// which can replace the row's node between finding it and clicking it.
// The inbox keeps the selection by review id across re-renders.
func selectRow(t *testing.T, ctx context.Context, id int64) {
	t.Helper()
	click := fmt.Sprintf(`(() => { const n = document.querySelector('li.row[data-id="%d"] .rowmeta'); if (!n) return false; n.click(); return true })()`, id)
	deadline := time.Now().Add(10 * time.Second)
	for !js[bool](t, ctx, click) {
		if time.Now().After(deadline) {
			t.Fatalf("no inbox row for review %d", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitText waits until the text of sel contains every one of want (the
// page may still be applying an update), and fails with the last text.
func waitText(t *testing.T, ctx context.Context, sel string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := text(t, ctx, sel)
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(s, w)
		}
		if ok {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("text of %s: %q, want it to contain %q", sel, s, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// open navigates the tab to a page of the UI and waits for sel.
func (e *browserE2E) open(t *testing.T, ctx context.Context, path, sel string) {
	t.Helper()
	do(t, ctx, "open "+path, chromedp.Navigate(e.srv.URL()+path), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// unlabelled lists the form controls of the page that have no label.
const unlabelledJS = `[...document.querySelectorAll('input:not([type=hidden]),select,textarea')]
	.filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.closest('[hidden]'))
	.map(el => el.id || el.name || el.outerHTML.slice(0, 60))`

func noUnlabelled(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if bad := js[[]string](t, ctx, unlabelledJS); len(bad) > 0 {
		t.Errorf("%s has controls without a label: %v", page, bad)
	}
}

// watchRows records, in the page, when each inbox row first appeared
// (Date.now(), the same clock as the server's on one machine), and marks
// the page so that a reload would show.
const watchRowsJS = `(() => {
	window.__page = Math.random();
	window.__seen = {};
	const note = () => { for (const li of document.querySelectorAll('li.row')) if (!(li.dataset.id in __seen)) __seen[li.dataset.id] = Date.now(); };
	new MutationObserver(note).observe(document.getElementById('main'), {subtree: true, childList: true});
	note();
	return window.__page;
})()`

func TestBrowser(t *testing.T) {
	sharedBrowser(t) // skip or fail early without Chromium
	e := startBrowserE2E(t)

	// A held HTTP call and a held statement (pgx, extended protocol, so
	// with bound parameters) appear in an open inbox without a reload;
	// the statement is approved from its review page (opened with the
	// keyboard) and runs once, the call is rejected from the inbox with a
	// reason that its client sees; the history tells the whole story.
	t.Run("InboxApproveRejectStory", func(t *testing.T) {
		t.Parallel()
		alice := tab(t, 60*time.Second)
		e.signIn(t, alice, "alice", "/")
		do(t, alice, "page", chromedp.WaitVisible(chromedp.CSS(".live.on")))
		page := js[float64](t, alice, watchRowsJS)

		sent := time.Now()
		httpDone := e.curl(t, "DELETE", "/v1/items/2")
		type psqlResult struct {
			out, stderr string
			err         error
		}
		psqlDone := make(chan psqlResult, 1)
		go func() {
			cmd := e.psql(context.Background(), "INSERT INTO ledger (note) VALUES ('from psql') RETURNING note")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			psqlDone <- psqlResult{string(out), stderr.String(), err}
		}()
		type pgResult struct {
			id  int
			at  time.Time
			err error
		}
		pgDone := make(chan pgResult, 1)
		go func() {
			ctx := context.Background()
			conn, err := e.pgConn(ctx)
			if err != nil {
				pgDone <- pgResult{err: err}
				return
			}
			defer conn.Close(ctx)
			var r pgResult
			r.err = conn.QueryRow(ctx, "INSERT INTO ledger (note) VALUES ($1) RETURNING id", "refund é€😀 #7").Scan(&r.id)
			r.at = time.Now()
			pgDone <- r
		}()
		rvHTTP := e.waitReview(t, payloadPrefix("DELETE /v1/items/2"))
		rvPG := e.waitReview(t, func(r *qgate.Review) bool {
			return strings.Contains(r.Payload, "INSERT INTO ledger (note) VALUES ($1)")
		})
		rvPsql := e.waitReview(t, func(r *qgate.Review) bool { return strings.Contains(r.Payload, "'from psql'") })
		for _, rv := range []*qgate.Review{rvHTTP, rvPG, rvPsql} {
			do(t, alice, "row in the inbox", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#decide li.row[data-id="%d"]`, rv.ID))))
		}
		if js[float64](t, alice, "window.__page") != page {
			t.Fatal("the inbox reloaded")
		}
		seen := js[map[string]float64](t, alice, "window.__seen")
		for _, rv := range []*qgate.Review{rvHTTP, rvPG} {
			ms := seen[fmt.Sprint(rv.ID)] - float64(rv.CreatedAt.UnixMilli())
			t.Logf("review %d (%s) appeared in the open inbox %.0f ms after it was created (%v after the request was sent)",
				rv.ID, rv.Target, ms, time.Duration(seen[fmt.Sprint(rv.ID)]*1e6)-time.Duration(sent.UnixNano()))
		}
		if !strings.Contains(text(t, alice, fmt.Sprintf(`li.row[data-id="%d"]`, rvPG.ID)), "INSERT INTO ledger") {
			t.Fatal("the inbox row does not show the statement")
		}
		screenshot(t, alice, "inbox")

		// The psql statement is approved from the inbox with the a key:
		// psql, waiting all along, prints the inserted row.
		// Rows of other reviews survive an update: the node is the same.
		keep := fmt.Sprintf(`document.querySelector('li.row[data-id="%d"]')`, rvPG.ID)
		js[bool](t, alice, keep+`.__kept = true`)
		selectRow(t, alice, rvPsql.ID)
		do(t, alice, "approve the psql statement with a",
			chromedp.KeyEvent("a"),
			chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf(`#decide li.row[data-id="%d"]`, rvPsql.ID))))
		select {
		case r := <-psqlDone:
			if r.err != nil || !slices.Contains(strings.Split(r.out, "\n"), "from psql") {
				t.Fatalf("psql after approval: %v: %q %q", r.err, r.out, r.stderr)
			}
			if want := fmt.Sprintf("NOTICE:  waiting for approval: review %d", rvPsql.ID); !strings.Contains(r.stderr, want) {
				t.Errorf("psql did not show %q: %q", want, r.stderr)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("psql did not complete after approval")
		}
		if !js[bool](t, alice, `(`+keep+` || {}).__kept === true`) {
			t.Error("approving one review re-created the inbox rows of the others")
		}
		var fromPsql int
		if err := e.direct.QueryRow(context.Background(), "SELECT count(*) FROM ledger WHERE note = 'from psql'").Scan(&fromPsql); err != nil || fromPsql != 1 {
			t.Fatalf("the psql statement ran %d times (%v), want once", fromPsql, err)
		}

		// Keyboard: select the statement's row, Enter opens its review.
		selectRow(t, alice, rvPG.ID)
		do(t, alice, "open with Enter",
			chromedp.KeyEvent("\r"),
			chromedp.WaitVisible(chromedp.ID("approve")))
		if loc := js[string](t, alice, "location.pathname"); loc != fmt.Sprintf("/reviews/%d", rvPG.ID) {
			t.Fatalf("Enter opened %s", loc)
		}
		body := text(t, alice, "main")
		for _, want := range []string{"Bound parameters", "$1", "refund é€😀 #7", "db-writes-need-a-dba", "!sql.read_only", "0 of 1", "dana", "sql.write"} {
			if !strings.Contains(body, want) {
				t.Errorf("the review page does not show %q", want)
			}
		}
		if marks := js[[]string](t, alice, `[...document.querySelectorAll('mark.finding')].map(m => m.textContent)`); len(marks) == 0 ||
			!strings.Contains(strings.Join(marks, ""), "INSERT") {
			t.Errorf("findings not marked in the SQL: %q", marks)
		}
		noUnlabelled(t, alice, "the review page")
		screenshot(t, alice, "review")

		do(t, alice, "approve", chromedp.SendKeys(chromedp.ID("comment"), "refund agreed with finance"))
		select {
		case r := <-pgDone:
			t.Fatalf("the statement completed before approval: %+v", r)
		default:
		}
		clicked := time.Now()
		do(t, alice, "click approve", chromedp.Click(chromedp.ID("approve")))
		var res pgResult
		select {
		case res = <-pgDone:
		case <-time.After(10 * time.Second):
			t.Fatal("the statement did not complete after approval")
		}
		if res.err != nil || res.id == 0 {
			t.Fatalf("approved statement: %+v", res)
		}
		t.Logf("approve click → first result row at the client: %v", res.at.Sub(clicked).Round(time.Millisecond))
		var n int
		if err := e.direct.QueryRow(context.Background(), "SELECT count(*) FROM ledger WHERE note = $1", "refund é€😀 #7").Scan(&n); err != nil || n != 1 {
			t.Fatalf("the statement ran %d times (%v), want once", n, err)
		}
		do(t, alice, "review shows approved", chromedp.WaitVisible(chromedp.CSS(".pagehead .st-approved")))

		// Reject the call from the inbox: select it, r, a reason.
		e.open(t, alice, "/", fmt.Sprintf(`li.row[data-id="%d"]`, rvHTTP.ID))
		selectRow(t, alice, rvHTTP.ID)
		do(t, alice, "reject with r",
			chromedp.KeyEvent("r"),
			chromedp.WaitVisible(chromedp.ID("reject-reason")),
			chromedp.SendKeys(chromedp.ID("reject-reason"), "item 2 is still invoiced"),
			chromedp.Click(chromedp.CSS(`dialog button[value="reject"]`)),
			chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf(`li.row[data-id="%d"]`, rvHTTP.ID))))
		select {
		case r := <-httpDone:
			if r.status != http.StatusForbidden || !strings.Contains(r.raw, "item 2 is still invoiced") {
				t.Fatalf("rejected call: %d %s", r.status, r.raw)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the rejected call did not complete")
		}
		if n := e.upstreamHits("DELETE", "/v1/items/2"); n != 0 {
			t.Fatalf("the rejected call reached the upstream %d times", n)
		}

		// The history links to the approved statement's story.
		e.open(t, alice, "/history", "table.events tbody tr")
		noUnlabelled(t, alice, "the history")
		screenshot(t, alice, "history")
		story := fmt.Sprintf(`a[href="/requests/%s"]`, rvPG.RequestID)
		do(t, alice, "open the story", chromedp.Click(chromedp.CSS(story)), chromedp.WaitVisible(chromedp.CSS("ol.timeline")))
		steps := js[[]string](t, alice, `[...document.querySelectorAll('ol.timeline li')].map(li => li.dataset.type + ':' + li.dataset.action)`)
		want := []string{"review:created", "vote:approve", "review:approved", "execution:forwarded"}
		if !containsInOrder(steps, want) || !slices.Contains(steps, "request:review") {
			t.Fatalf("story steps %v, want %v in order", steps, want)
		}
		tl := text(t, alice, "ol.timeline")
		for _, w := range []string{"alice approved", "refund agreed with finance", "1 row", "INSERT INTO ledger"} {
			if !strings.Contains(tl, w) {
				t.Errorf("the story does not say %q: %s", w, tl)
			}
		}
		screenshot(t, alice, "story")
	})

	// The requester sees their own review without approve or reject
	// buttons, and the server refuses their approval anyway.
	t.Run("OwnReview", func(t *testing.T) {
		t.Parallel()
		done := e.call("DELETE", "/v1/items/3", "")
		rv := e.waitReview(t, payloadPrefix("DELETE /v1/items/3"))
		dana := tab(t, 30*time.Second)
		e.signIn(t, dana, "dana", "/")
		do(t, dana, "page", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#mine li.row[data-id="%d"]`, rv.ID))))
		e.open(t, dana, fmt.Sprintf("/reviews/%d", rv.ID), "#cannot-decide")
		if s := text(t, dana, "#cannot-decide"); !strings.Contains(s, "your own request") {
			t.Fatalf("explanation: %q", s)
		}
		if js[bool](t, dana, `!!document.querySelector('#approve, #reject, .voteform')`) {
			t.Fatal("the requester is offered approve or reject")
		}
		got := js[map[string]any](t, dana, fmt.Sprintf(`(async () => {
			const {post} = await import('/ui/api.js');
			try { await post('/api/v1/reviews/%d/approve', {}); return {status: 200}; }
			catch (e) { return {status: e.status, message: e.message}; }
		})()`, rv.ID))
		if got["status"] != 403.0 || !strings.Contains(fmt.Sprint(got["message"]), "own") {
			t.Fatalf("self-approval from the browser: %v", got)
		}
		// Usable at 360 px: nothing wider than the screen.
		do(t, dana, "narrow screen", chromedp.EmulateViewport(360, 740))
		for _, p := range []string{"/", fmt.Sprintf("/reviews/%d", rv.ID)} {
			e.open(t, dana, p, "h1")
			if w := js[int](t, dana, "document.documentElement.scrollWidth"); w > 360 {
				t.Errorf("%s is %d px wide on a 360 px screen", p, w)
			}
		}
		screenshot(t, dana, "review-narrow")
		if _, err := e.srv.Reviews.Reject(context.Background(), rv.ID, reviewVoter("alice", "dba"), "not now"); err != nil {
			t.Fatal(err)
		}
		<-done
	})

	// A review that needs two approvals shows its progress and stays
	// pending after the first; the second releases the call, once.
	t.Run("Quorum", func(t *testing.T) {
		t.Parallel()
		done := e.call("POST", "/v1/items", `{"name": "quorum item"}`)
		rv := e.waitReview(t, payloadPrefix("POST /v1/items"))
		path := fmt.Sprintf("/reviews/%d", rv.ID)
		alice := tab(t, 30*time.Second)
		e.signIn(t, alice, "alice", path)
		do(t, alice, "page", chromedp.WaitVisible(chromedp.CSS("#approve")))
		waitText(t, alice, "ul.progress", "0 of 2", "2 more needed")
		do(t, alice, "first approval", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("cannot-decide")))
		waitText(t, alice, "ul.progress", "1 of 2", "1 more needed")
		waitText(t, alice, ".pagehead", "pending")
		select {
		case r := <-done:
			t.Fatalf("the call went through after one approval of two: %d %s", r.status, r.raw)
		case <-time.After(300 * time.Millisecond):
		}
		bob := tab(t, 30*time.Second)
		e.signIn(t, bob, "bob", path)
		do(t, bob, "page", chromedp.WaitVisible(chromedp.CSS("#approve")))
		waitText(t, bob, "ul.votes", "alice")
		do(t, bob, "second approval", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.CSS(".pagehead .st-approved")))
		select {
		case r := <-done:
			if r.status != http.StatusCreated {
				t.Fatalf("approved call: %d %s", r.status, r.raw)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the call did not complete after the quorum")
		}
		if n := e.upstreamHits("POST", "/v1/items"); n != 1 {
			t.Fatalf("the approved call reached the upstream %d times, want 1", n)
		}
		// alice's page follows over the event stream.
		do(t, alice, "alice's page follows", chromedp.WaitVisible(chromedp.CSS(".pagehead .st-approved")))
	})

	// An expired review leaves the open inbox by itself. Its timeout
	// (10 s) leaves the page time to show the row first on a loaded
	// machine: with 3 s, the row once expired before it was drawn.
	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		alice := tab(t, 30*time.Second)
		e.signIn(t, alice, "alice", "/")
		do(t, alice, "page", chromedp.WaitVisible(chromedp.CSS(".live.on")))
		done := e.call("PUT", "/v1/items/4", `{"name": "late"}`)
		rv := e.waitReview(t, payloadPrefix("PUT /v1/items/4"))
		row := chromedp.CSS(fmt.Sprintf(`li.row[data-id="%d"]`, rv.ID))
		do(t, alice, "row appears", chromedp.WaitVisible(row))
		do(t, alice, "row leaves after expiry", chromedp.WaitNotPresent(row))
		got, err := e.srv.Reviews.Get(context.Background(), rv.ID)
		if err != nil || got.Status != qgate.ReviewExpired {
			t.Fatalf("review after it left the inbox: %v %+v", err, got)
		}
		<-done
	})

	// A signed-in browser's state change without the session's CSRF
	// token is refused; with it (as the UI sends it) it goes through.
	// Signing out ends the session.
	t.Run("CSRFAndSignOut", func(t *testing.T) {
		t.Parallel()
		done := e.call("DELETE", "/v1/items/1", "")
		rv := e.waitReview(t, payloadPrefix("DELETE /v1/items/1"))
		alice := tab(t, 30*time.Second)
		path := fmt.Sprintf("/reviews/%d", rv.ID)
		e.signIn(t, alice, "alice", path)
		bare := js[map[string]any](t, alice, fmt.Sprintf(`fetch('/api/v1/reviews/%d/approve', {method: 'POST'})
			.then(async r => ({status: r.status, body: await r.json()}))`, rv.ID))
		if bare["status"] != 403.0 || !strings.Contains(fmt.Sprint(bare["body"]), "CSRF") {
			t.Fatalf("approve without the CSRF header: %v", bare)
		}
		if got, _ := e.srv.Reviews.Get(context.Background(), rv.ID); got.Status != qgate.ReviewPending || len(got.Votes) != 0 {
			t.Fatalf("the refused request voted: %+v", got)
		}
		forged := js[float64](t, alice, fmt.Sprintf(`fetch('/api/v1/reviews/%d/approve', {method: 'POST', headers: {'X-CSRF-Token': 'forged'}}).then(r => r.status)`, rv.ID))
		if forged != 403 {
			t.Fatalf("approve with a wrong CSRF token: %v", forged)
		}
		do(t, alice, "approve through the UI", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.CSS(".pagehead .st-approved")))
		if r := <-done; r.status >= 300 {
			t.Fatalf("approved call: %d %s", r.status, r.raw)
		}
		if n := e.upstreamHits("DELETE", "/v1/items/1"); n != 1 {
			t.Fatalf("the approved call reached the upstream %d times, want 1", n)
		}
		do(t, alice, "sign out", chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.ID("username")))
		// The session is gone: the inbox sends the browser to sign in.
		do(t, alice, "open the inbox signed out", chromedp.Navigate(e.srv.URL()+"/"), chromedp.WaitVisible(chromedp.ID("username")))
		if loc := js[string](t, alice, "location.pathname + location.search"); loc != "/login?next=%2F" {
			t.Fatalf("after signing out, the inbox went to %s", loc)
		}
	})

	// The policies page lists the rules and evaluates a request as
	// qgate check does.
	t.Run("Policies", func(t *testing.T) {
		t.Parallel()
		alice := tab(t, 30*time.Second)
		e.signIn(t, alice, "alice", "/policies")
		do(t, alice, "page", chromedp.WaitVisible(chromedp.CSS("#try-run")))
		if s := text(t, alice, "ol.policies"); !strings.Contains(s, "db-writes-need-a-dba") || !strings.Contains(s, "!sql.read_only") {
			t.Fatalf("policies: %q", s)
		}
		do(t, alice, "try a statement",
			chromedp.SetValue(chromedp.ID("try-target"), "db"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('try-target').dispatchEvent(new Event('change'))`),
			chromedp.SendKeys(chromedp.ID("try-sql"), "DELETE FROM invoices"),
			chromedp.Click(chromedp.ID("try-run")),
			chromedp.WaitVisible(chromedp.CSS("#try-result .verdict")))
		verdict := text(t, alice, "#try-result")
		if !strings.Contains(verdict, "review") || !strings.Contains(verdict, "db-writes-need-a-dba") {
			t.Fatalf("verdict: %q", verdict)
		}
		if n := js[int](t, alice, `document.querySelectorAll('#try-result mark.finding').length`); n == 0 {
			t.Fatal("no finding marked in the tried statement")
		}
		noUnlabelled(t, alice, "the policies page")
		screenshot(t, alice, "policies")
	})

	// Admins create a token and see its secret once.
	t.Run("Tokens", func(t *testing.T) {
		t.Parallel()
		alice := tab(t, 30*time.Second)
		e.signIn(t, alice, "alice", "/tokens")
		do(t, alice, "page", chromedp.WaitVisible(chromedp.CSS("table.identities tbody tr")))
		noUnlabelled(t, alice, "the tokens page")
		screenshot(t, alice, "tokens") // before a secret is on the page
		do(t, alice, "create a token",
			chromedp.SendKeys(chromedp.ID("new-identity"), "ci-bot"),
			chromedp.SendKeys(chromedp.ID("new-name"), "deploys"),
			chromedp.Click(chromedp.CSS(`form.grid-form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.ID("secret-value")))
		secret := text(t, alice, "#secret-value")
		if tok, err := e.srv.Auth.Verify(context.Background(), secret); err != nil || tok.Identity != "ci-bot" {
			t.Fatalf("the shown secret %q does not verify: %v", secret, err)
		}
		do(t, alice, "listed", chromedp.WaitVisible(chromedp.CSS(`table.identities`)))
		if s := waitText(t, alice, "table.tokens", "ci-bot"); strings.Contains(s, secret) {
			t.Fatalf("the token list shows the secret: %q", s)
		}
	})

	// Findings are byte offsets: the UI turns them into string indices
	// correctly for multi-byte text, and marks exactly those characters.
	t.Run("ByteOffsets", func(t *testing.T) {
		t.Parallel()
		ctx := tab(t, 30*time.Second)
		e.signIn(t, ctx, "erin", "/policies")
		do(t, ctx, "page", chromedp.WaitVisible(chromedp.CSS("#try-run")))
		got := js[[]int](t, ctx, `import('/ui/util.js').then(u => { const m = u.byteMapper('aé€😀b');
			return [m(0), m(1), m(3), m(6), m(10), m(11), m(2), m(2, true), m(99)]; })`)
		if want := []int{0, 1, 2, 3, 5, 6, 1, 2, 6}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("byteMapper = %v, want %v", got, want)
		}
		sql := "SELECT 'é€' || '😀x' FROM t"
		start := strings.Index(sql, "😀")
		marked := js[string](t, ctx, fmt.Sprintf(`import('/ui/payload.js').then(p => {
			const el = p.sqlView(%q, [{code: 'test', severity: 'high', message: 'm', start: %d, end: %d}]);
			return [...el.querySelectorAll('mark.finding')].map(m => m.textContent).join(''); })`, sql, start, start+len("😀x")))
		if marked != "😀x" {
			t.Fatalf("marked %q, want %q", marked, "😀x")
		}
	})
}

// containsInOrder reports whether want appears in got as a subsequence.
func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func reviewVoter(identity string, groups ...string) review.Voter {
	return review.Voter{Identity: identity, Groups: groups}
}
