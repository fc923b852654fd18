package signin_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/signin"
)

// idp is a mock OpenID Connect provider running in-process.
type idp struct {
	*mockoidc.MockOIDC
	badNonce atomic.Bool // replace the nonce the client sends
}

func startIDP(t *testing.T) *idp {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{MockOIDC: m}
	m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == mockoidc.AuthorizationEndpoint && p.badNonce.Load() {
				q := r.URL.Query()
				q.Set("nonce", "someone-elses-nonce")
				r.URL.RawQuery = q.Encode()
			}
			next.ServeHTTP(w, r)
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return p
}

// mustOIDCEnv starts an Env whose sign-in offers the mock provider.
func mustOIDCEnv(t *testing.T) (*Env, *idp) {
	p := startIDP(t)
	cfg := p.Config()
	o := signin.NewOIDC(signin.OIDCConfig{Name: "Mock SSO", Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Scopes: []string{"openid", "email", "profile", "groups"}})
	e := MustEnv(t, func(opts *envOptions) { opts.oidc = o })
	o.Config.RedirectURL = e.HTTP.URL + "/auth/oidc/callback" // known once the server listens; read on first use
	return e, p
}

// ssoLogin runs the browser through the provider and returns qgate's
// answer to the callback. tamper may change the callback URL.
func ssoLogin(t *testing.T, b *Browser, next string, tamper func(*url.URL)) *http.Response {
	t.Helper()
	resp, body := b.Do(t, "GET", "/auth/oidc/login?next="+url.QueryEscape(next), nil, nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /auth/oidc/login: %d %s", resp.StatusCode, body)
	}
	ck := Cookie(resp, signin.OIDCCookie)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/auth/oidc/" || ck.MaxAge <= 0 {
		t.Fatalf("state cookie: %+v", ck)
	}
	auth, _ := url.Parse(resp.Header.Get("Location"))
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" ||
		strings.Contains(ck.Value, q.Get("state")) {
		t.Fatalf("authorization request: %s (cookie %s)", auth, ck.Value)
	}
	resp, err := b.Client.Get(auth.String()) // the provider signs the queued user in
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("provider: %d", resp.StatusCode)
	}
	cb, _ := url.Parse(resp.Header.Get("Location"))
	if tamper != nil {
		tamper(cb)
	}
	resp, err = b.Client.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestOIDC_FullFlow(t *testing.T) {
	e, p := mustOIDCEnv(t)
	b := e.NewBrowser(t)
	_, page := b.Do(t, "GET", "/login?next=/reviews", nil, nil)
	if !strings.Contains(string(page), "Sign in with Mock SSO") || !strings.Contains(string(page), `href="/auth/oidc/login?next=%2Freviews"`) {
		t.Fatalf("login page without the SSO link: %s", page)
	}

	// The configuration puts carol's e-mail in no group: her groups come
	// from the provider's claim alone.
	p.QueueUser(&mockoidc.MockUser{Subject: "c-1", Email: "carol@example.com", EmailVerified: true, Groups: []string{"sre", "oncall"}})
	resp := ssoLogin(t, b, "/reviews", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reviews" || Cookie(resp, signin.SessionCookie) == nil {
		t.Fatalf("callback: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	me := b.MustMe(t)
	if me.Identity != "carol@example.com" || strings.Join(me.Groups, ",") != "oncall,sre" || me.CSRFToken == "" {
		t.Fatalf("me: %+v", me)
	}
	x, err := e.Store.Session(context.Background(), me.SessionID)
	if err != nil || x.Method != qgate.SessionOIDC || strings.Join(x.Groups, ",") != "sre,oncall" {
		t.Fatalf("stored session: %+v %v", x, err)
	}
	evs := e.AuditEvents(t, qgate.AuditSession)
	if len(evs) != 1 || evs[0].Action != "signed_in" || !strings.Contains(string(evs[0].Data), `"method":"oidc"`) {
		t.Fatalf("audit: %+v", evs)
	}
}

// Groups from the provider's claim are added to the configuration's.
func TestOIDC_GroupsClaimUnionConfig(t *testing.T) {
	e, p := mustOIDCEnv(t)
	e.Signin.OIDC.Config.IdentityClaim = "preferred_username"
	b := e.NewBrowser(t)
	p.QueueUser(&mockoidc.MockUser{Subject: "a-1", Email: "alice@corp.example", PreferredUsername: "alice", EmailVerified: true,
		Groups: []string{"sre", "dba"}})
	if resp := ssoLogin(t, b, "/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	if me := b.MustMe(t); strings.Join(me.Groups, ",") != "dba,sre" {
		t.Fatalf("groups %v, want dba (config) and sre (claim)", me.Groups)
	}
}

func TestOIDC_TamperedStateRefused(t *testing.T) {
	e, p := mustOIDCEnv(t)
	b := e.NewBrowser(t)
	p.QueueUser(mockoidc.DefaultUser())
	resp := ssoLogin(t, b, "/", func(u *url.URL) {
		q := u.Query()
		q.Set("state", q.Get("state")+"x")
		u.RawQuery = q.Encode()
	})
	if resp.StatusCode != http.StatusForbidden || Cookie(resp, signin.SessionCookie) != nil {
		t.Fatalf("tampered state: %d", resp.StatusCode)
	}
	if code, _ := b.Me(t); code != http.StatusUnauthorized {
		t.Fatalf("me: %d", code)
	}
	assertAuthFailure(t, e, "state_mismatch")

	// A callback without the state cookie (another browser) is refused too.
	p.QueueUser(mockoidc.DefaultUser())
	other := e.NewBrowser(t)
	var stolen string
	ssoLogin(t, b, "/", func(u *url.URL) { stolen = u.String(); u.RawQuery = "" })
	resp2, err := other.Client.Get(stolen)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusBadRequest || Cookie(resp2, signin.SessionCookie) != nil {
		t.Fatalf("callback in another browser: %d", resp2.StatusCode)
	}
}

func TestOIDC_WrongNonceRefused(t *testing.T) {
	e, p := mustOIDCEnv(t)
	b := e.NewBrowser(t)
	p.badNonce.Store(true)
	p.QueueUser(mockoidc.DefaultUser())
	resp := ssoLogin(t, b, "/", nil)
	if resp.StatusCode != http.StatusForbidden || Cookie(resp, signin.SessionCookie) != nil {
		t.Fatalf("wrong nonce: %d", resp.StatusCode)
	}
	if code, _ := b.Me(t); code != http.StatusUnauthorized {
		t.Fatalf("me: %d", code)
	}
	assertAuthFailure(t, e, "nonce_mismatch")
}

// The identity comes from the configured claim; without it, no session.
func TestOIDC_IdentityClaim(t *testing.T) {
	e, p := mustOIDCEnv(t)
	e.Signin.OIDC.Config.IdentityClaim = "preferred_username"
	b := e.NewBrowser(t)
	p.QueueUser(&mockoidc.MockUser{Subject: "b-1", Email: "bob@corp.example", PreferredUsername: "bob", EmailVerified: true})
	if resp := ssoLogin(t, b, "/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	if me := b.MustMe(t); me.Identity != "bob" || strings.Join(me.Groups, ",") != "dba" {
		t.Fatalf("me: %+v (bob's config groups expected)", me)
	}

	nobody := e.NewBrowser(t)
	p.QueueUser(&mockoidc.MockUser{Subject: "n-1", Email: "nobody@corp.example", EmailVerified: true})
	if resp := ssoLogin(t, nobody, "/", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("without the identity claim: %d", resp.StatusCode)
	}
	assertAuthFailure(t, e, "no_identity_claim")
}

func assertAuthFailure(t *testing.T, e *Env, reason string) {
	t.Helper()
	for _, ev := range e.AuditEvents(t, qgate.AuditAuth) {
		var d map[string]any
		json.Unmarshal(ev.Data, &d)
		if ev.Action == "failed" && d["method"] == "oidc" && d["reason"] == reason {
			return
		}
	}
	t.Fatalf("no audited oidc failure with reason %s", reason)
}
