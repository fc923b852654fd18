package httpproxy_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
)

func TestProxy_Auth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	ctx := context.Background()

	t.Run("Missing", func(t *testing.T) {
		res := e.do(ctx, "GET", "/v1/users", "", nil, nil)
		b := readAll(t, res)
		p := mustProblem(t, res, b, 401)
		if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="qgate"` {
			t.Errorf("WWW-Authenticate = %q", got)
		}
		if !strings.Contains(p.Detail, "token is required") {
			t.Errorf("detail = %q", p.Detail)
		}
	})

	t.Run("InvalidReadsTheSame", func(t *testing.T) {
		// unknown: a well-formed token from another store.
		other := newEnv(t, nil, nil)
		unknown := other.token
		// bad secret: the old secret of a rotated token.
		wrong, wrongID := e.issue(auth.IssueRequest{Identity: "carol"})
		if _, err := e.auth.Rotate(ctx, wrongID, 0); err != nil {
			t.Fatal(err)
		}
		expired, _ := e.issue(auth.IssueRequest{Identity: "carol", TTL: time.Millisecond})
		time.Sleep(5 * time.Millisecond)
		malformed := "qgt_" + strings.Repeat("a", 20)

		var first problemDoc
		var firstHeader string
		for i, tok := range []string{unknown, wrong, expired, malformed} {
			res := e.do(ctx, "GET", "/v1/users", tok, nil, nil)
			p := mustProblem(t, res, readAll(t, res), 401)
			h := res.Header.Get("WWW-Authenticate")
			if i == 0 {
				first, firstHeader = p, h
				if h != `Bearer realm="qgate", error="invalid_token"` || p.Detail != "invalid token" {
					t.Errorf("first refusal: %q %+v", h, p)
				}
				continue
			}
			p.RequestID = first.RequestID
			if p != first || h != firstHeader {
				t.Errorf("refusal %d differs: %+v %q, want %+v %q", i, p, h, first, firstHeader)
			}
		}
		var reasons []string
		for _, ev := range e.audit(qgate.AuditFilter{Type: qgate.AuditAuth}) {
			if strings.Contains(string(ev.Data), unknown) || strings.Contains(string(ev.Data), wrong) {
				t.Errorf("audit holds a token: %s", ev.Data)
			}
			reasons = append(reasons, string(ev.Data))
		}
		all := strings.Join(reasons, "\n")
		for _, want := range []string{auth.ReasonUnknown, auth.ReasonBadSecret, auth.ReasonExpired, auth.ReasonMalformed, "missing"} {
			if !strings.Contains(all, `"reason":"`+want+`"`) {
				t.Errorf("no auth event with reason %s in\n%s", want, all)
			}
		}
		if n := len(e.up.requests()); n != 0 {
			t.Errorf("upstream saw %d requests", n)
		}
	})

	t.Run("RevokedAtOnce", func(t *testing.T) {
		tok, id := e.issue(auth.IssueRequest{Identity: "carol"})
		res := e.do(ctx, "GET", "/v1/users", tok, nil, nil)
		readAll(t, res)
		if res.StatusCode != 200 {
			t.Fatalf("before revoking: %d", res.StatusCode)
		}
		if err := e.auth.Revoke(ctx, id); err != nil {
			t.Fatal(err)
		}
		res = e.do(ctx, "GET", "/v1/users", tok, nil, nil)
		mustProblem(t, res, readAll(t, res), 401)
	})

	t.Run("OutOfScope", func(t *testing.T) {
		tok, _ := e.issue(auth.IssueRequest{Identity: "carol", Targets: []string{"other"}})
		res := e.do(ctx, "GET", "/v1/users", tok, nil, nil)
		mustProblem(t, res, readAll(t, res), 403)
		tok, _ = e.issue(auth.IssueRequest{Identity: "carol", Environments: []string{"prod"}})
		res = e.do(ctx, "GET", "/v1/users", tok, nil, nil)
		mustProblem(t, res, readAll(t, res), 403)
	})

	t.Run("OtherScheme", func(t *testing.T) {
		res := e.do(ctx, "GET", "/v1/users", "", nil, http.Header{"Authorization": {"Basic " + e.token}})
		mustProblem(t, res, readAll(t, res), 401)
	})
}

func TestProxy_TokenHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(tg *qgate.Target) {
		tg.TokenHeader = "X-Gate-Token"
		delete(tg.HTTP.Headers, "Authorization") // the client's own Authorization goes through
	})
	ctx := context.Background()
	res := e.do(ctx, "GET", "/v1/users", "", nil, http.Header{
		"X-Gate-Token":  {e.token},
		"Authorization": {"Bearer client-own-upstream-key"},
	})
	readAll(t, res)
	if res.StatusCode != 200 {
		t.Fatalf("got %d", res.StatusCode)
	}
	got := last(e.up)
	if got.Header.Get("Authorization") != "Bearer client-own-upstream-key" || got.Header.Get("X-Gate-Token") != "" {
		t.Errorf("upstream headers = %v", got.Header)
	}

	// A qgate token in Authorization never goes upstream, wherever the
	// token was taken from.
	res = e.do(ctx, "GET", "/v1/users", e.token, nil, http.Header{"X-Gate-Token": {"Bearer " + e.token}})
	readAll(t, res)
	if res.StatusCode != 200 {
		t.Fatalf("got %d", res.StatusCode)
	}
	if got := last(e.up); got.Header.Get("Authorization") != "" || got.Header.Get("X-Gate-Token") != "" {
		t.Errorf("upstream got the token: %v", got.Header)
	}

	// Authorization alone still works.
	res = e.do(ctx, "GET", "/v1/users", e.token, nil, nil)
	readAll(t, res)
	if res.StatusCode != 200 {
		t.Fatalf("got %d", res.StatusCode)
	}
}
