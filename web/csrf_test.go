package web_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/qgate/qgate/web"
)

// A caller that Authenticate marks as a cookie session (CSRFToken set)
// must send the token on unsafe requests; bearer callers need not.
func TestCSRF_CookieCallers(t *testing.T) {
	e := MustEnv(t)
	const token = "per-session-csrf-token"
	e.Server.Authenticate = func(r *http.Request) (*web.Caller, error) {
		if r.Header.Get("Authorization") != "" {
			return e.Server.BearerAuth(r)
		}
		return &web.Caller{Identity: "alice", Groups: []string{"dba"}, SessionID: "s1", CSRFToken: token}, nil
	}
	do := func(method, path string, h http.Header) (int, string) {
		req, _ := http.NewRequest(method, e.HTTP.URL+path, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type") + " " + string(b)
	}

	r := e.MustReview(t, "rita")
	path := fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID)
	if code, body := do("POST", path, nil); code != http.StatusForbidden || !strings.Contains(body, "application/problem+json") ||
		!strings.Contains(body, "missing CSRF token") {
		t.Fatalf("without the token: %d %s", code, body)
	}
	if code, body := do("POST", path, http.Header{web.CSRFHeader: {token + "x"}}); code != http.StatusForbidden || !strings.Contains(body, "wrong CSRF token") {
		t.Fatalf("wrong token: %d %s", code, body)
	}
	if code, body := do("POST", path, http.Header{web.CSRFHeader: {token}, "Origin": {"http://evil.example"}}); code != http.StatusForbidden {
		t.Fatalf("other origin: %d %s", code, body)
	}
	if code, body := do("GET", "/api/v1/me", nil); code != http.StatusOK || !strings.Contains(body, `"csrf_token":"`+token+`"`) {
		t.Fatalf("me: %d %s", code, body)
	}
	if code, body := do("POST", path, http.Header{web.CSRFHeader: {token}, "Origin": {e.HTTP.URL}}); code != http.StatusOK {
		t.Fatalf("with the token: %d %s", code, body)
	}
	// Bearer callers carry no CSRF token and need none.
	r2 := e.MustReview(t, "rita")
	if code, body := do("POST", fmt.Sprintf("/api/v1/reviews/%d/approve", r2.ID), http.Header{"Authorization": {"Bearer " + e.Token("bob")}}); code != http.StatusOK {
		t.Fatalf("bearer: %d %s", code, body)
	}
	if code, body := do("GET", "/api/v1/me", http.Header{"Authorization": {"Bearer " + e.Token("bob")}}); strings.Contains(body, "csrf_token") {
		t.Fatalf("bearer me shows a csrf token: %d %s", code, body)
	}
}
