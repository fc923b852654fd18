package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/qgate/qgate/web"
)

// A user added with the CLI signs in through /login, and the session
// cookie then works on the REST API; disabling the user ends it.
func TestE2E_UserSignsIn(t *testing.T) {
	e := startE2E(t, "2s")
	const pw = "a long enough passphrase"

	_, errOut, code := run(t, "short\n", "user", "add", "alice", "--config", e.cfgPath, "--password-stdin")
	if code != exitUsage || !strings.Contains(errOut, "too short: use at least 12 characters") || strings.Contains(errOut, "short\n") {
		t.Fatalf("short password: exit %d: %s", code, errOut)
	}
	_, errOut, code = run(t, "", "user", "add", "alice", "--config", e.cfgPath)
	if code != exitUsage || !strings.Contains(errOut, "--password-stdin is required") {
		t.Fatalf("no --password-stdin: exit %d: %s", code, errOut)
	}
	out, errOut, code := run(t, pw+"\n", "user", "add", "alice", "--email", "alice@example.com", "--config", e.cfgPath, "--password-stdin")
	if code != 0 || strings.Contains(out+errOut, pw) || !strings.Contains(errOut, "user alice added (groups: admins,dba)") {
		t.Fatalf("user add: exit %d: %s %s", code, out, errOut)
	}
	if _, errOut, code = run(t, pw+"\n", "user", "add", "alice", "--config", e.cfgPath, "--password-stdin"); code != exitError || !strings.Contains(errOut, "already exists") {
		t.Fatalf("user add twice: exit %d: %s", code, errOut)
	}
	out, _, code = run(t, "", "user", "list", "--json", "--config", e.cfgPath)
	var users []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &users) != nil || len(users) != 1 || users[0]["name"] != "alice" ||
		users[0]["status"] != "active" || strings.Contains(out, "argon2") {
		t.Fatalf("user list: exit %d: %s", code, out)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(password string) *http.Response {
		t.Helper()
		resp, err := c.Get(e.srv.URL() + "/login?next=/reviews")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("GET /login: %d: %s", resp.StatusCode, page)
		}
		resp, err = c.PostForm(e.srv.URL()+"/login", url.Values{"username": {"alice"}, "password": {password},
			"csrf": {string(m[1])}, "next": {"/reviews"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	me := func() (int, *web.Caller) {
		t.Helper()
		resp, err := c.Get(e.srv.URL() + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var caller web.Caller
		json.NewDecoder(resp.Body).Decode(&caller)
		return resp.StatusCode, &caller
	}

	if resp := login("not the password"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if resp := login(pw); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reviews" {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	code, caller := me()
	if code != http.StatusOK || caller.Identity != "alice" || !caller.Admin || strings.Join(caller.Groups, ",") != "admins,dba" ||
		caller.CSRFToken == "" || caller.SessionID == "" {
		t.Fatalf("me: %d %+v", code, caller)
	}

	// A state change without the CSRF token is refused.
	resp, err := c.Post(e.srv.URL()+"/api/v1/sessions/"+caller.SessionID+"/revoke", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("revoke without CSRF token: %d", resp.StatusCode)
	}

	// A new password replaces the old one and signs the open session out.
	const pw2 = "another long passphrase"
	if _, errOut, code = run(t, pw2+"\n", "user", "passwd", "alice", "--config", e.cfgPath, "--password-stdin"); code != 0 ||
		!strings.Contains(errOut, "1 web session(s) signed out") {
		t.Fatalf("user passwd: exit %d: %s", code, errOut)
	}
	if code, _ := me(); code != http.StatusUnauthorized {
		t.Fatalf("the session opened with the old password survived the change: %d", code)
	}
	if resp := login(pw); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the old password still works: %d", resp.StatusCode)
	}
	if resp := login(pw2); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the new password: %d", resp.StatusCode)
	}
	code, caller = me()
	if code != http.StatusOK {
		t.Fatalf("me: %d", code)
	}

	if _, errOut, code = run(t, "", "user", "disable", "alice", "--config", e.cfgPath); code != 0 || !strings.Contains(errOut, "1 session(s) revoked") {
		t.Fatalf("user disable: exit %d: %s", code, errOut)
	}
	if code, _ := me(); code != http.StatusUnauthorized {
		t.Fatalf("me after user disable: %d", code)
	}
	if resp := login(pw); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a disabled user signed in: %d", resp.StatusCode)
	}

	out, _, _ = run(t, "", "audit", "list", "--config", e.cfgPath, "--json")
	for _, want := range []string{`"type":"user","action":"created"`, `"type":"session","action":"signed_in"`,
		`"type":"user","action":"password_changed"`, `"type":"user","action":"disabled"`} {
		if !strings.Contains(strings.ReplaceAll(out, " ", ""), want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if strings.Contains(out, pw) || strings.Contains(out, pw2) || strings.Contains(out, caller.CSRFToken) {
		t.Fatal("the audit log holds a password or CSRF token")
	}
}
