package signin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/internal/clientip"
	"github.com/qgate/qgate/signin"
	"github.com/qgate/qgate/web"
)

func TestLogin_Password(t *testing.T) {
	e := MustEnv(t)
	b := e.NewBrowser(t)

	resp, body := b.Do(t, "GET", "/login", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<label for="password">`) ||
		!strings.Contains(string(body), `href="/ui/app.css"`) {
		t.Fatalf("GET /login: %d: %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "Sign in with") {
		t.Fatal("the page offers single sign-on without OIDC configured")
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers: %v", resp.Header)
	}
	ck := Cookie(resp, signin.LoginCSRFCookie)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
		t.Fatalf("login CSRF cookie: %+v", ck)
	}

	resp, page := b.Login(t, "alice", password, "/reviews/7?tab=sql")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reviews/7?tab=sql" {
		t.Fatalf("POST /login: %d to %q: %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	ck = Cookie(resp, signin.SessionCookie)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure || len(ck.Value) != 43 {
		t.Fatalf("session cookie: %+v", ck)
	}

	me := b.MustMe(t)
	if me.Identity != "alice" || strings.Join(me.Groups, ",") != "dba" || me.TokenID != "" || me.CSRFToken == "" || me.SessionID == "" {
		t.Fatalf("me: %+v", me)
	}
	if me.CSRFToken == ck.Value || strings.Contains(me.SessionID, ck.Value) {
		t.Fatal("the CSRF token or the public session id is the cookie secret")
	}

	// The store keeps only a hash of the secret.
	x, err := e.Store.Session(context.Background(), me.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(x.SecretHash), ck.Value) || x.Method != qgate.SessionLocal || x.Identity != "alice" ||
		!x.ExpiresAt.Equal(e.Clock.Now().Add(signin.DefaultLifetime)) {
		t.Fatalf("stored session: %+v", x)
	}

	evs := e.AuditEvents(t, qgate.AuditSession)
	if len(evs) != 1 || evs[0].Action != "signed_in" || evs[0].Identity != "alice" {
		t.Fatalf("session audit: %+v", evs)
	}
	assertNoSecrets(t, e, ck.Value, me.CSRFToken)
}

// assertNoSecrets fails if a password, cookie or CSRF token is anywhere in
// the audit log.
func assertNoSecrets(t *testing.T, e *Env, secrets ...string) {
	t.Helper()
	all, err := e.Store.ListAudit(context.Background(), qgate.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, password, "wrong password!")
	for _, ev := range all {
		b, _ := json.Marshal(ev)
		for _, s := range secrets {
			if s != "" && strings.Contains(string(b), s) {
				t.Fatalf("audit event %d holds a secret: %s", ev.Seq, b)
			}
		}
	}
}

func TestLogin_WrongPasswordAndUnknownUser(t *testing.T) {
	e := MustEnv(t)
	b := e.NewBrowser(t)
	for _, user := range []string{"alice", "nobody"} {
		resp, page := b.Login(t, user, "wrong password!", "/")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Wrong user name or password.") {
			t.Fatalf("%s: %d: %s", user, resp.StatusCode, page)
		}
		if Cookie(resp, signin.SessionCookie) != nil {
			t.Fatalf("%s: a failed login set a session cookie", user)
		}
		if !strings.Contains(page, `value="`+user+`"`) {
			t.Fatalf("%s: the form does not keep the user name", user)
		}
	}
	if code, _ := b.Me(t); code != http.StatusUnauthorized {
		t.Fatalf("me after failed logins: %d", code)
	}
	evs := e.AuditEvents(t, qgate.AuditAuth)
	if len(evs) != 2 {
		t.Fatalf("auth audit: %+v", evs)
	}
	for i, reason := range []string{signin.ReasonBadPassword, signin.ReasonUnknownUser} {
		var d map[string]any
		json.Unmarshal(evs[i].Data, &d)
		if evs[i].Action != "failed" || d["reason"] != reason || d["method"] != "local" || d["source_ip"] != "127.0.0.1" {
			t.Fatalf("event %d: %s %s", i, evs[i].Action, evs[i].Data)
		}
	}
	assertNoSecrets(t, e)
}

// An unknown user name costs the same argon2id work as a wrong password:
// exactly one verification against a hash with the current parameters.
// (Counted, not timed: a timing assertion would be flaky.)
func TestUsers_UnknownUserDoesTheSameWork(t *testing.T) {
	e := MustEnv(t)
	u := e.Signin.Users
	u.Params = signin.Params{Memory: 16 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	ctx := context.Background()
	if _, err := u.SetPassword(ctx, "alice", password); err != nil {
		t.Fatal(err)
	}
	var calls []signin.Params
	signin.SetVerify(u, func(pw, hash string) (bool, signin.Params, error) {
		ok, p, err := signin.VerifyPassword(pw, hash)
		if err != nil {
			t.Fatalf("verify against an unreadable hash %q: %v", hash, err)
		}
		calls = append(calls, p)
		return ok, p, err
	})
	work := func(name string) []signin.Params {
		calls = nil
		_, err := u.Authenticate(ctx, name, "wrong password!")
		if _, ok := signin.IsLoginError(err); !ok {
			t.Fatalf("%s: %v", name, err)
		}
		return calls
	}
	known, unknown := work("alice"), work("nobody")
	if len(known) != 1 || len(unknown) != 1 || known[0] != u.Params || unknown[0] != u.Params {
		t.Fatalf("argon2id verifications: wrong password %+v, unknown user %+v; want one each with %+v", known, unknown, u.Params)
	}
}

func TestLogin_DisabledUser(t *testing.T) {
	e := MustEnv(t)
	b := e.NewBrowser(t)
	b.MustLogin(t, "bob")
	n, err := e.Signin.Users.Disable(context.Background(), "bob")
	if err != nil || n != 1 {
		t.Fatalf("disable: %d, %v", n, err)
	}
	if code, _ := b.Me(t); code != http.StatusUnauthorized {
		t.Fatalf("a disabled user's session still works: %d", code)
	}
	resp, page := b.Login(t, "bob", password, "/")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Wrong user name or password.") {
		t.Fatalf("disabled user login: %d: %s", resp.StatusCode, page)
	}
}

func TestSession_IdleTimeoutAndLifetime(t *testing.T) {
	e := MustEnv(t)
	b := e.NewBrowser(t)
	b.MustLogin(t, "alice")
	e.Clock.Add(59 * time.Minute)
	b.MustMe(t) // used within the idle timeout: goes on
	e.Clock.Add(59 * time.Minute)
	b.MustMe(t)
	e.Clock.Add(61 * time.Minute)
	if code, _ := b.Me(t); code != http.StatusUnauthorized {
		t.Fatalf("after 61 idle minutes: %d", code)
	}

	b.MustLogin(t, "alice")
	for range 13 {
		e.Clock.Add(55 * time.Minute)
		b.MustMe(t)
	}
	e.Clock.Add(5 * time.Minute) // 12h since sign-in, last use 5 min ago
	resp, body := b.Do(t, "GET", "/api/v1/me", nil, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "sign in again") {
		t.Fatalf("after the absolute lifetime: %d %s", resp.StatusCode, body)
	}
}

// TestSweep: ended sessions stay listed for SessionRetention, then go.
func TestSweep(t *testing.T) {
	e := MustEnv(t)
	ended, open := e.NewBrowser(t), e.NewBrowser(t)
	ended.MustLogin(t, "alice")
	e.Clock.Add(2 * time.Hour) // the first session is idle past its timeout
	open.MustLogin(t, "alice")
	ctx := context.Background()
	count := func() int {
		ss, err := e.Signin.Sessions.ListSessions(ctx, qgate.SessionFilter{Identity: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		return len(ss)
	}
	if n, err := e.Signin.Sweep(ctx); err != nil || n != 0 || count() != 2 {
		t.Fatalf("sweep within the retention: deleted %d (%v), %d left", n, err, count())
	}
	for range 5 { // the second stays in use for a while
		e.Clock.Add(50 * time.Minute)
		open.MustMe(t)
	}
	// A week on: the first session ended (idle) more than the retention
	// ago, the second less (an hour after its last use).
	e.Clock.Add(7 * 24 * time.Hour)
	if n, err := e.Signin.Sweep(ctx); err != nil || n != 1 || count() != 1 {
		t.Fatalf("sweep after the retention: deleted %d (%v), %d left", n, err, count())
	}
}

func TestSession_RevokeActsAtOnce(t *testing.T) {
	e := MustEnv(t)
	laptop, phone, admin := e.NewBrowser(t), e.NewBrowser(t), e.NewBrowser(t)
	laptop.MustLogin(t, "alice")
	phone.MustLogin(t, "alice")
	admin.MustLogin(t, "root")
	me := laptop.MustMe(t)
	phoneID := phone.MustMe(t).SessionID

	resp, body := laptop.Do(t, "GET", "/api/v1/sessions", nil, nil)
	var list []web.Session
	json.Unmarshal(body, &list)
	if resp.StatusCode != http.StatusOK || len(list) != 2 {
		t.Fatalf("alice's sessions: %d %s", resp.StatusCode, body)
	}
	for _, s := range list {
		if s.Identity != "alice" || s.Status != "active" || s.Current != (s.ID == me.SessionID) || s.SourceIP != "127.0.0.1" {
			t.Fatalf("session %+v", s)
		}
	}
	if strings.Contains(string(body), "secret") {
		t.Fatalf("the session list shows secrets: %s", body)
	}
	_, body = admin.Do(t, "GET", "/api/v1/sessions", nil, nil)
	list = nil
	json.Unmarshal(body, &list)
	if len(list) != 3 {
		t.Fatalf("admin sees %d sessions, want 3: %s", len(list), body)
	}

	// bob may not revoke alice's session; it is as good as unknown to him.
	bob := e.NewBrowser(t)
	bob.MustLogin(t, "bob")
	resp, _ = bob.Do(t, "POST", "/api/v1/sessions/"+phoneID+"/revoke", nil, csrf(bob.MustMe(t)))
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("bob revoking alice's session: %d", resp.StatusCode)
	}
	phone.MustMe(t)

	resp, body = laptop.Do(t, "POST", "/api/v1/sessions/"+phoneID+"/revoke", nil, csrf(me))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	if code, _ := phone.Me(t); code != http.StatusUnauthorized {
		t.Fatalf("the revoked session still works: %d", code)
	}
	laptop.MustMe(t)
	resp, _ = laptop.Do(t, "POST", "/api/v1/sessions/"+phoneID+"/revoke", nil, csrf(me))
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("revoking twice: %d", resp.StatusCode)
	}

	// An admin signs alice's laptop out.
	resp, _ = admin.Do(t, "POST", "/api/v1/sessions/"+me.SessionID+"/revoke", nil, csrf(admin.MustMe(t)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin revoke: %d", resp.StatusCode)
	}
	if code, _ := laptop.Me(t); code != http.StatusUnauthorized {
		t.Fatalf("the session revoked by an admin still works: %d", code)
	}
	evs := e.AuditEvents(t, qgate.AuditSession)
	var revoked []string
	for _, ev := range evs {
		if ev.Action == "revoked" {
			var d map[string]any
			json.Unmarshal(ev.Data, &d)
			revoked = append(revoked, fmt.Sprint(d["by"], ":", d["session_id"]))
		}
	}
	if strings.Join(revoked, " ") != "alice:"+phoneID+" root:"+me.SessionID {
		t.Fatalf("revocations audited: %v", revoked)
	}
}

// flipFirst returns s with another first character: a token that is
// wrong whatever s starts with.
func flipFirst(s string) string {
	if s[0] == 'x' {
		return "y" + s[1:]
	}
	return "x" + s[1:]
}

func csrf(c *web.Caller) http.Header { return http.Header{web.CSRFHeader: {c.CSRFToken}} }

func TestCSRF_APIPostNeedsTheSessionToken(t *testing.T) {
	e := MustEnv(t)
	b := e.NewBrowser(t)
	b.MustLogin(t, "alice")
	me := b.MustMe(t)
	r := e.MustReview(t)
	approve := fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID)

	other := e.NewBrowser(t)
	other.MustLogin(t, "alice")
	otherToken := other.MustMe(t).CSRFToken
	if otherToken == me.CSRFToken {
		t.Fatal("two sessions share a CSRF token")
	}

	for _, tc := range []struct {
		name   string
		header http.Header
		detail string
	}{
		{"missing", nil, "missing CSRF token"},
		{"wrong", http.Header{web.CSRFHeader: {flipFirst(me.CSRFToken)}}, "wrong CSRF token"},
		{"another session's", http.Header{web.CSRFHeader: {otherToken}}, "wrong CSRF token"},
		{"cross-site", http.Header{web.CSRFHeader: {me.CSRFToken}, "Sec-Fetch-Site": {"cross-site"}}, "cross-site"},
		{"other origin", http.Header{web.CSRFHeader: {me.CSRFToken}, "Origin": {"https://evil.example"}}, "another origin"},
	} {
		resp, body := b.Do(t, "POST", approve, nil, tc.header)
		var p web.Problem
		json.Unmarshal(body, &p)
		if resp.StatusCode != http.StatusForbidden || p.Code != qgate.EFORBIDDEN || !strings.Contains(p.Detail, tc.detail) {
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
	}
	if got, _ := e.Store.Review(context.Background(), r.ID); got.Status != qgate.ReviewPending {
		t.Fatalf("a refused request changed the review: %s", got.Status)
	}
	h := csrf(me)
	h.Set("Origin", e.HTTP.URL)
	h.Set("Sec-Fetch-Site", "same-origin")
	resp, body := b.Do(t, "POST", approve, nil, h)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the right token: %d %s", resp.StatusCode, body)
	}

	// GETs need no token.
	if resp, _ := b.Do(t, "GET", fmt.Sprintf("/api/v1/reviews/%d", r.ID), nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d", resp.StatusCode)
	}

	// A bearer token needs no CSRF token: a browser never sends it by itself.
	r2 := e.MustReview(t)
	req, _ := http.NewRequest("POST", e.HTTP.URL+fmt.Sprintf("/api/v1/reviews/%d/approve", r2.ID), nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["bob"])
	res, err := e.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("bearer approve: %d", res.StatusCode)
	}
}

func TestLogin_OpenRedirectRefused(t *testing.T) {
	for next, want := range map[string]string{
		"/":                             "/",
		"/reviews/3":                    "/reviews/3",
		"/a?b=c#d":                      "/a?b=c#d",
		"":                              "/",
		"//evil.example/":               "/",
		"/\\evil.example":               "/",
		"/\\/evil.example":              "/",
		"https://evil.example/":         "/",
		"javascript:alert(1)":           "/",
		"evil.example":                  "/",
		"/%0d%0aSet-Cookie:x=y":         "/%0d%0aSet-Cookie:x=y",
		"/\r\nSet-Cookie: x=y":          "/",
		"/\tevil":                       "/",
		"\\\\evil.example":              "/",
		"/ok/../..//evil":               "/ok/../..//evil",
		"https:/evil.example":           "/",
		"/" + strings.Repeat("a", 3000): "/",
	} {
		if got := signin.SafeNext(next); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", next, got, want)
		}
	}
	e := MustEnv(t)
	for _, next := range []string{"//evil.example/x", "/\\evil.example", "https://evil.example/"} {
		b := e.NewBrowser(t)
		resp, _ := b.Login(t, "alice", password, next)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("next %q: %d to %q", next, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestLogin_Throttled(t *testing.T) {
	e := MustEnv(t)
	b := e.NewBrowser(t)
	for i := range signin.DefaultUserFailures {
		resp, _ := b.Login(t, "alice", "wrong password!", "/")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, resp.StatusCode)
		}
	}
	// Now even the right password waits.
	resp, page := b.Login(t, "Alice", password, "/")
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || secs < 1 || !strings.Contains(page, "Too many failed attempts") {
		t.Fatalf("after %d failures: %d, Retry-After %q: %s", signin.DefaultUserFailures, resp.StatusCode, resp.Header.Get("Retry-After"), page)
	}
	// Another user from the same address is not locked out yet.
	other := e.NewBrowser(t)
	other.MustLogin(t, "bob")

	e.Clock.Add(time.Duration(secs) * time.Second)
	resp, _ = b.Login(t, "alice", "wrong password!", "/") // one more failure doubles the delay
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after waiting: %d", resp.StatusCode)
	}
	resp, _ = b.Login(t, "alice", password, "/")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != strconv.Itoa(2*secs) {
		t.Fatalf("after the sixth failure: %d, Retry-After %q, want %d", resp.StatusCode, resp.Header.Get("Retry-After"), 2*secs)
	}
	e.Clock.Add(time.Duration(2*secs) * time.Second)
	b.MustLogin(t, "alice")
	var throttled int
	for _, ev := range e.AuditEvents(t, qgate.AuditAuth) {
		if ev.Action == "throttled" {
			throttled++
		}
	}
	if throttled != 2 {
		t.Fatalf("%d throttled attempts audited, want 2", throttled)
	}
}

// Behind a trusted reverse proxy the IP throttle counts the client the
// proxy names in X-Forwarded-For, not the proxy: one client's failures do
// not lock everybody else out, and sessions record the client's address.
func TestLogin_BehindTrustedProxy(t *testing.T) {
	e := MustEnv(t)
	trusted, err := clientip.Parse([]string{"127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	e.Signin.ClientIP = &clientip.Resolver{Trusted: trusted}
	e.Signin.IPThrottle = signin.NewThrottle(2, 10*time.Minute)
	login := func(b *Browser, client, user, pw string) *http.Response {
		csrf := b.LoginForm(t)
		form := url.Values{"username": {user}, "password": {pw}, "csrf": {csrf}, "next": {"/"}}
		resp, _ := b.Do(t, "POST", "/login", strings.NewReader(form.Encode()), http.Header{
			"Content-Type": {"application/x-www-form-urlencoded"}, "X-Forwarded-For": {client}})
		return resp
	}
	attacker, other := e.NewBrowser(t), e.NewBrowser(t)
	for _, user := range []string{"nobody1", "nobody2"} {
		if resp := login(attacker, "198.51.100.66", user, "wrong password!"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure from the attacker: %d", resp.StatusCode)
		}
	}
	if resp := login(attacker, "198.51.100.66", "alice", password); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the attacker's address after its failures: %d, want 429", resp.StatusCode)
	}
	if resp := login(other, "198.51.100.7", "alice", password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("another client behind the same proxy: %d, want 303", resp.StatusCode)
	}
	ss, err := e.Signin.Sessions.ListSessions(context.Background(), qgate.SessionFilter{Identity: "alice"})
	if err != nil || len(ss) != 1 || ss[0].SourceIP != "198.51.100.7" {
		t.Fatalf("sessions: %v %+v, want one from 198.51.100.7", err, ss)
	}
}

func TestThrottle_PerIP(t *testing.T) {
	th := signin.NewThrottle(3, 10*time.Minute)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if w := th.Wait("10.0.0.1", now); w != 0 {
			t.Fatalf("attempt %d waits %v", i, w)
		}
		th.Fail("10.0.0.1", now)
	}
	if w := th.Wait("10.0.0.1", now); w != time.Second {
		t.Fatalf("after 3 failures: wait %v, want 1s", w)
	}
	if w := th.Wait("10.0.0.2", now); w != 0 {
		t.Fatalf("another key waits %v", w)
	}
	if w := th.Wait("10.0.0.1", now.Add(11*time.Minute)); w != 0 {
		t.Fatalf("after the window: wait %v", w)
	}
	th.Fail("10.0.0.1", now)
	th.Succeed("10.0.0.1")
	if w := th.Wait("10.0.0.1", now); w != 0 {
		t.Fatalf("after a success: wait %v", w)
	}
}

func TestLogin_CSRF(t *testing.T) {
	e := MustEnv(t)
	b := e.NewBrowser(t)
	form := url.Values{"username": {"alice"}, "password": {password}, "next": {"/"}}
	resp, page := b.PostForm(t, "/login", form) // no cookie, no field
	if resp.StatusCode != http.StatusForbidden || Cookie(resp, signin.SessionCookie) != nil {
		t.Fatalf("login without CSRF: %d %s", resp.StatusCode, page)
	}
	form.Set("csrf", b.LoginForm(t)[1:]+"x")
	if resp, _ := b.PostForm(t, "/login", form); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login with the wrong CSRF field: %d", resp.StatusCode)
	}
	form.Set("csrf", b.LoginForm(t))
	resp, _ = b.Do(t, "POST", "/login", strings.NewReader(form.Encode()), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {"https://evil.example"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login posted from another origin: %d", resp.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	e := MustEnv(t)
	b := e.NewBrowser(t)
	b.MustLogin(t, "alice")
	me := b.MustMe(t)
	if resp, _ := b.PostForm(t, "/logout", url.Values{"csrf": {"nope"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout with a wrong token: %d", resp.StatusCode)
	}
	b.MustMe(t)
	resp, _ := b.PostForm(t, "/logout", url.Values{"csrf": {me.CSRFToken}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?signed_out=1" {
		t.Fatalf("logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if ck := Cookie(resp, signin.SessionCookie); ck == nil || ck.MaxAge >= 0 {
		t.Fatalf("the cookie is not cleared: %+v", ck)
	}
	x, err := e.Store.Session(context.Background(), me.SessionID)
	if err != nil || x.RevokedAt.IsZero() {
		t.Fatalf("the session is not revoked: %+v %v", x, err)
	}
	if code, _ := b.Me(t); code != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", code)
	}
	evs := e.AuditEvents(t, qgate.AuditSession)
	if evs[len(evs)-1].Action != "signed_out" || evs[len(evs)-1].Identity != "alice" {
		t.Fatalf("logout audit: %+v", evs[len(evs)-1])
	}
}

func TestCookies_SecureUnderTLS(t *testing.T) {
	e := MustEnv(t, func(o *envOptions) { o.tls = true })
	b := e.NewBrowser(t)
	csrfResp, _ := b.Do(t, "GET", "/login", nil, nil)
	resp, _ := b.Login(t, "alice", password, "/")
	for _, ck := range []*http.Cookie{Cookie(csrfResp, signin.LoginCSRFCookie), Cookie(resp, signin.SessionCookie)} {
		if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
			t.Fatalf("cookie under TLS: %+v", ck)
		}
	}
	if me := b.MustMe(t); me.Identity != "alice" {
		t.Fatalf("me: %+v", me)
	}
}

func TestAuthenticate_BearerStillWorks(t *testing.T) {
	e := MustEnv(t)
	req, _ := http.NewRequest("GET", e.HTTP.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["bob"])
	// A stale session cookie beside a valid token does not get in the way.
	req.AddCookie(&http.Cookie{Name: signin.SessionCookie, Value: strings.Repeat("A", 43)})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c web.Caller
	json.NewDecoder(resp.Body).Decode(&c)
	if resp.StatusCode != http.StatusOK || c.Identity != "bob" || c.TokenID == "" || c.CSRFToken != "" {
		t.Fatalf("bearer me: %d %+v", resp.StatusCode, c)
	}
}
