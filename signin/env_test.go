package signin_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/review"
	"github.com/qgate/qgate/signin"
	"github.com/qgate/qgate/store/sqlite"
	"github.com/qgate/qgate/web"
)

// groups is who is in which group in every test.
var groups = map[string][]string{
	"dba":    {"alice", "bob"},
	"admins": {"root"},
}

func groupsOf(identity string) []string {
	var gs []string
	for g, members := range groups {
		if slices.Contains(members, identity) {
			gs = append(gs, g)
		}
	}
	slices.Sort(gs)
	return gs
}

// testParams keep argon2id cheap in tests; the format and the code paths
// are the same as with DefaultParams.
var testParams = signin.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// password is every test user's password.
const password = "correct horse battery"

// clock is a settable clock shared by every part of an Env.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Env is the API and the sign-in routes on one real HTTP server, with a
// real SQLite store, audit log and review engine, and users alice, bob,
// dana and root (password above).
type Env struct {
	Store   *sqlite.DB
	Auth    *auth.Authenticator
	Engine  *review.Engine
	API     *web.Server
	Signin  *signin.Service
	HTTP    *httptest.Server
	Clock   *clock
	tokens  map[string]string
	options envOptions
}

type envOptions struct {
	tls  bool
	oidc *signin.OIDC
}

// MustEnv starts an Env; opts may set TLS or OIDC.
func MustEnv(tb testing.TB, opts ...func(*envOptions)) *Env {
	tb.Helper()
	var o envOptions
	for _, f := range opts {
		f(&o)
	}
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "qgate.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	key := make([]byte, 32)
	rand.Read(key)
	a := auth.New(st, key)
	a.Now = clk.Now
	log := audit.NewLog(st, audit.LogOptions{})
	tb.Cleanup(func() { log.Close() })
	eng := review.New(st, st, log)
	eng.Now = clk.Now
	api := web.New(eng, st, a, log)
	api.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	api.GroupsOf = groupsOf
	api.Admins = func(id string) bool { return slices.Contains(groupsOf(id), "admins") }
	api.Now = clk.Now

	sg := signin.New(st, log)
	sg.Users.Params = testParams
	sg.Users.Now = clk.Now
	sg.Now = clk.Now
	sg.GroupsOf = groupsOf
	sg.Bearer = api.BearerAuth
	sg.Logger = api.Logger
	sg.OIDC = o.oidc
	api.Authenticate = sg.Authenticate

	mux := http.NewServeMux()
	mux.Handle("/", api.Handler())
	for _, p := range signin.Routes() {
		mux.Handle(p, sg.Handler())
	}
	var hs *httptest.Server
	if o.tls {
		sg.Secure = true
		hs = httptest.NewTLSServer(mux)
	} else {
		hs = httptest.NewServer(mux)
	}
	tb.Cleanup(hs.Close)
	tb.Cleanup(api.Close)
	e := &Env{Store: st, Auth: a, Engine: eng, API: api, Signin: sg, HTTP: hs, Clock: clk, tokens: map[string]string{}, options: o}
	for _, name := range []string{"alice", "bob", "dana", "root"} {
		if _, err := sg.Users.Add(context.Background(), name, name+"@example.com", password); err != nil {
			tb.Fatal(err)
		}
		tok, _, err := a.Issue(context.Background(), auth.IssueRequest{Identity: name})
		if err != nil {
			tb.Fatal(err)
		}
		e.tokens[name] = tok
	}
	return e
}

// Browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see each 303.
type Browser struct {
	*http.Client
	env *Env
}

// NewBrowser returns a browser with an empty cookie jar.
func (e *Env) NewBrowser(tb testing.TB) *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := e.HTTP.Client() // trusts the TLS test server
	c = &http.Client{Transport: c.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Browser{Client: c, env: e}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// LoginForm gets /login and returns the form's CSRF token.
func (b *Browser) LoginForm(tb testing.TB) string {
	tb.Helper()
	resp, body := b.Do(tb, "GET", "/login", nil, nil)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /login: %d: %s", resp.StatusCode, body)
	}
	m := csrfField.FindStringSubmatch(string(body))
	if m == nil {
		tb.Fatalf("no csrf field in the login page: %s", body)
	}
	return m[1]
}

// Login posts the login form (after getting it) and returns the response.
func (b *Browser) Login(tb testing.TB, user, pw, next string) (*http.Response, string) {
	tb.Helper()
	csrf := b.LoginForm(tb)
	return b.PostForm(tb, "/login", url.Values{"username": {user}, "password": {pw}, "csrf": {csrf}, "next": {next}})
}

// MustLogin signs in and fails unless it succeeded.
func (b *Browser) MustLogin(tb testing.TB, user string) {
	tb.Helper()
	resp, body := b.Login(tb, user, password, "/")
	if resp.StatusCode != http.StatusSeeOther {
		tb.Fatalf("login as %s: %d: %s", user, resp.StatusCode, body)
	}
}

// PostForm posts a urlencoded form.
func (b *Browser) PostForm(tb testing.TB, path string, form url.Values) (*http.Response, string) {
	tb.Helper()
	resp, body := b.Do(tb, "POST", path, strings.NewReader(form.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	return resp, string(body)
}

// Do sends one request with the browser's cookies.
func (b *Browser) Do(tb testing.TB, method, path string, body io.Reader, h http.Header) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, b.env.HTTP.URL+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, out
}

// Me calls GET /api/v1/me and returns the status and caller.
func (b *Browser) Me(tb testing.TB) (int, *web.Caller) {
	tb.Helper()
	resp, body := b.Do(tb, "GET", "/api/v1/me", nil, nil)
	var c web.Caller
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &c); err != nil {
			tb.Fatal(err)
		}
	}
	return resp.StatusCode, &c
}

// MustMe is Me that fails unless it answered 200.
func (b *Browser) MustMe(tb testing.TB) *web.Caller {
	tb.Helper()
	code, c := b.Me(tb)
	if code != http.StatusOK {
		tb.Fatalf("GET /api/v1/me: %d", code)
	}
	return c
}

// Cookie returns the response's Set-Cookie named name, or nil.
func Cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// MustReview creates a pending review requested by dana that one dba
// must approve.
func (e *Env) MustReview(tb testing.TB) *qgate.Review {
	tb.Helper()
	id, _, err := auth.Parse(e.tokens["dana"])
	if err != nil {
		tb.Fatal(err)
	}
	reqs := []qgate.ReviewRequirement{{Policy: "p", Approvers: []string{"dba"}, Quorum: 1}}
	req := &qgate.Request{ID: "req-" + strconv.FormatInt(time.Now().UnixNano(), 10), Protocol: qgate.ProtocolPostgres, Target: "billing-db", Environment: "prod",
		SourceIP: "10.1.2.3", Time: e.Clock.Now(), Principal: qgate.Principal{TokenID: id, Identity: "dana"},
		SQL: &qgate.SQLAnalysis{Text: "DELETE FROM invoices"}}
	r, err := e.Engine.Create(context.Background(), review.Request{
		Request:  req,
		Decision: qgate.Decision{Action: qgate.ActionReview, Matched: []qgate.MatchedPolicy{{Name: "p", Action: qgate.ActionReview}}, Requirements: reqs},
		Payload:  "DELETE FROM invoices", PayloadHash: review.Hash("DELETE FROM invoices"), Shape: "fp",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// AuditEvents returns the stored events of type typ.
func (e *Env) AuditEvents(tb testing.TB, typ string) []*qgate.AuditEvent {
	tb.Helper()
	es, err := e.Store.ListAudit(context.Background(), qgate.AuditFilter{Type: typ})
	if err != nil {
		tb.Fatal(err)
	}
	return es
}
