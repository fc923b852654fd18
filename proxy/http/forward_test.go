package httpproxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	httpproxy "github.com/qgate/qgate/proxy/http"
)

func TestProxy_Allow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	h := http.Header{
		"X-Http-Method-Override": {"DELETE"},
		"X-Api-Key":              {"client-key"},
		"X-Forwarded-For":        {"10.9.9.9"},
		"X-Real-Ip":              {"10.9.9.9"},
		"Qgate-Anything":         {"x"},
		"Connection":             {"X-Hop"},
		"X-Hop":                  {"1"},
		"X-Custom":               {"kept"},
		"Cookie":                 {"session=abc"},
	}
	res, body := e.call("GET", "/v1//users/./%7Ealice/42?b=2&a=1%20", nil, h)
	if res.StatusCode != 200 || string(body) != "hello from upstream" || res.Header.Get("X-Upstream") != "yes" {
		t.Fatalf("got %d %q %v", res.StatusCode, body, res.Header)
	}
	rid := res.Header.Get("Qgate-Request-Id")
	if rid == "" {
		t.Error("no Qgate-Request-Id on the response")
	}
	reqs := e.up.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests", len(reqs))
	}
	got := reqs[0]
	if want := "/v1/users/~alice/42?b=2&a=1%20"; got.RequestURI != want {
		t.Errorf("upstream RequestURI = %q, want %q", got.RequestURI, want)
	}
	for k, want := range map[string]string{
		"X-Api-Key":        "upstream-secret",            // configured headers override the client's
		"Authorization":    "Bearer upstream-credential", // never the client's token
		"X-Forwarded-For":  "127.0.0.1",                  // the peer, not the client's claim
		"X-Forwarded-Host": strings.TrimPrefix(e.srv.URL, "http://"),
		"X-Custom":         "kept",
		"Cookie":           "session=abc",
		"Qgate-Request-Id": rid,
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("upstream %s = %q, want %q", k, v, want)
		}
	}
	for _, k := range []string{"X-Http-Method-Override", "Qgate-Anything", "X-Hop", "X-Real-Ip"} {
		if v, ok := got.Header[k]; ok {
			t.Errorf("upstream got %s: %q", k, v)
		}
	}
	for k, vv := range got.Header {
		if strings.Contains(strings.Join(vv, ","), e.token) {
			t.Errorf("the client's token reached the upstream in %s", k)
		}
	}

	e.proxy.Close() // wait for the execution event
	evs := e.audit(qgate.AuditFilter{RequestID: rid})
	if len(evs) != 2 || evs[0].Type != qgate.AuditRequest || evs[0].Action != "allow" || evs[1].Type != qgate.AuditExecution || evs[1].Action != "forwarded" {
		t.Fatalf("audit events = %s", dump(evs))
	}
	var data struct {
		Method, Path, Query string
		Matched             []qgate.MatchedPolicy
	}
	json.Unmarshal(evs[0].Data, &data)
	if data.Method != "GET" || data.Path != "/v1/users/~alice/42" || data.Query != "b=2&a=1%20" || len(data.Matched) != 1 || data.Matched[0].Name != "reads" {
		t.Errorf("request event data = %s", evs[0].Data)
	}
	if evs[0].TokenID != e.tokenID || evs[0].Identity != "carol" || evs[0].Target != "api" || evs[0].Environment != "staging" {
		t.Errorf("request event = %+v", evs[0])
	}
	if bytes.Contains(evs[0].Data, []byte("session=abc")) || bytes.Contains(evs[0].Data, []byte("client-key")) {
		t.Errorf("request event holds header values: %s", evs[0].Data)
	}
	if !strings.Contains(string(evs[1].Data), `"status":200`) || !strings.Contains(string(evs[1].Data), `"bytes":19`) {
		t.Errorf("execution event data = %s", evs[1].Data)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "decision=allow") || !strings.Contains(logs, "identity=carol") || !strings.Contains(logs, "status=200") {
		t.Errorf("log line missing: %s", logs)
	}
}

func TestProxy_UpstreamBasePath(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	e := newEnv(t, up, func(tg *qgate.Target) { tg.HTTP.URL = up.URL + "/base/" })
	if res, body := e.call("GET", "/v1/users", nil, nil); res.StatusCode != 200 {
		t.Fatalf("got %d %s", res.StatusCode, body)
	}
	if got := up.requests()[0].RequestURI; got != "/base/v1/users" {
		t.Errorf("upstream RequestURI = %q", got)
	}
}

func TestProxy_Deny(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	res, body := e.call("GET", "/admin/users", nil, nil)
	p := mustProblem(t, res, body, 403)
	if p.Detail != "the admin API is off limits" || p.Type != "https://qgate.dev/problems/denied" {
		t.Errorf("problem = %+v", p)
	}
	if n := len(e.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
	if evs := e.audit(qgate.AuditFilter{RequestID: p.RequestID}); len(evs) != 1 || evs[0].Action != "deny" {
		t.Errorf("audit = %s", dump(evs))
	}
}

func TestProxy_Paths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	t.Run("EncodedDotSegment", func(t *testing.T) {
		res, body := e.call("GET", "/a/%2e%2e/admin", nil, nil)
		p := mustProblem(t, res, body, 403)
		if !strings.Contains(p.Detail, "ambiguous path") {
			t.Errorf("detail = %q", p.Detail)
		}
	})
	t.Run("EncodedSlash", func(t *testing.T) {
		res, body := e.call("GET", "/v1/users%2F..%2Fadmin", nil, nil)
		mustProblem(t, res, body, 403)
	})
	t.Run("DotSegmentsSeenByPolicy", func(t *testing.T) {
		res, body := e.call("GET", "/v1/../admin", nil, nil)
		if p := mustProblem(t, res, body, 403); p.Detail != "the admin API is off limits" {
			t.Errorf("policy did not see /admin: %+v", p)
		}
	})
	if n := len(e.up.requests()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
	t.Run("DotSegmentsForwardedNormalised", func(t *testing.T) {
		res, body := e.call("GET", "/v1/../v1/./users//", nil, nil)
		if res.StatusCode != 200 {
			t.Fatalf("got %d %s", res.StatusCode, body)
		}
		reqs := e.up.requests()
		if got := reqs[len(reqs)-1].RequestURI; got != "/v1/users/" {
			t.Errorf("upstream RequestURI = %q", got)
		}
	})
}

func TestProxy_MethodOverrideCannotDowngrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(tg *qgate.Target) { tg.Hold = 100 * time.Millisecond })
	res, body := e.call("DELETE", "/v1/users/42", nil, http.Header{"X-Http-Method-Override": {"GET"}, "X-Method-Override": {"GET"}})
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("got %d %s, want 202 (held)", res.StatusCode, body)
	}
	if n := len(e.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
	rs, _ := e.reviews.List(context.Background(), qgate.ReviewFilter{})
	if len(rs) != 1 || !strings.HasPrefix(rs[0].Payload, "DELETE /v1/users/42\n") || strings.Contains(strings.ToLower(rs[0].Payload), "override") {
		t.Errorf("review payload = %q", rs[0].Payload)
	}
}

func TestProxy_Body(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	t.Run("ForwardedByteIdentical", func(t *testing.T) {
		body := []byte(`{"b": 1,   "a": [1, 2]}` + "\n")
		res, rb := e.call("POST", "/v1/echo", body, http.Header{"Content-Type": {"application/json"}})
		if res.StatusCode != 200 {
			t.Fatalf("got %d %s", res.StatusCode, rb)
		}
		got := last(e.up)
		if !bytes.Equal(got.Body, body) || got.ContentLength != int64(len(body)) {
			t.Errorf("upstream body %q (length %d), want %q", got.Body, got.ContentLength, body)
		}
	})
	t.Run("ChunkedReframed", func(t *testing.T) {
		body := bytes.Repeat([]byte("x"), 1024) // exactly the limit
		req, _ := http.NewRequest("PUT", e.srv.URL+"/v1/echo", io.MultiReader(bytes.NewReader(body)))
		req.Header.Set("Authorization", "Bearer "+e.token)
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("got %d", res.StatusCode)
		}
		got := last(e.up)
		if !bytes.Equal(got.Body, body) || got.ContentLength != 1024 || len(got.TransferEncoding) != 0 {
			t.Errorf("upstream got %d bytes, length %d, te %v", len(got.Body), got.ContentLength, got.TransferEncoding)
		}
	})
	before := len(e.up.requests())
	t.Run("TooLarge", func(t *testing.T) {
		res, b := e.call("POST", "/v1/echo", bytes.Repeat([]byte("x"), 1025), nil)
		p := mustProblem(t, res, b, http.StatusRequestEntityTooLarge)
		evs := e.audit(qgate.AuditFilter{RequestID: p.RequestID})
		if len(evs) != 1 || evs[0].Action != "deny" || !strings.Contains(string(evs[0].Data), `"reason":"body too large"`) ||
			!strings.Contains(string(evs[0].Data), "http.body_too_large") {
			t.Errorf("audit = %s", dump(evs))
		}
	})
	t.Run("TooLargeChunked", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/echo", io.MultiReader(bytes.NewReader(make([]byte, 5000))))
		req.Header.Set("Authorization", "Bearer "+e.token)
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		mustProblem(t, res, b, http.StatusRequestEntityTooLarge)
	})
	if n := len(e.up.requests()); n != before {
		t.Errorf("oversized bodies reached the upstream")
	}
}

func TestProxy_GraphQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(tg *qgate.Target) { tg.Hold = 100 * time.Millisecond })
	ct := http.Header{"Content-Type": {"application/json"}}
	res, b := e.call("POST", "/graphql", []byte(`{"query":"{ users { id name } }"}`), ct)
	if res.StatusCode != 200 {
		t.Fatalf("query: got %d %s", res.StatusCode, b)
	}
	res, b = e.call("POST", "/graphql", []byte(`{"query":"mutation { deleteUser(id: 1) { id } }"}`), ct)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("mutation: got %d %s, want 202", res.StatusCode, b)
	}
	if n := len(e.up.requests()); n != 1 {
		t.Errorf("upstream saw %d requests, want only the query", n)
	}
}

func TestProxy_Unsupported(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	res, b := e.call("GET", "/v1/socket", nil, http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}})
	mustProblem(t, res, b, http.StatusNotImplemented)
	if n := len(e.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}

func TestProxy_UpstreamDown(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	e := newEnv(t, up, nil)
	up.Close()
	res, b := e.call("GET", "/v1/users", nil, nil)
	p := mustProblem(t, res, b, http.StatusBadGateway)
	if p.ErrorID == "" || !strings.Contains(e.logs.String(), p.ErrorID) {
		t.Errorf("error id %q not in the logs", p.ErrorID)
	}
	e.proxy.Close()
	evs := e.audit(qgate.AuditFilter{RequestID: p.RequestID, Type: qgate.AuditExecution})
	if len(evs) != 1 || evs[0].Action != "failed" {
		t.Errorf("audit = %s", dump(evs))
	}
}

// failingAuditor refuses every request event.
type failingAuditor struct{ httpproxy.Auditor }

func (f failingAuditor) Append(ctx context.Context, e *qgate.AuditEvent) error {
	if e.Type == qgate.AuditRequest {
		return errors.New("disk full")
	}
	return f.Auditor.Append(ctx, e)
}

func TestProxy_AuditFailureFailsClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil, withAuditor(func(a httpproxy.Auditor) httpproxy.Auditor { return failingAuditor{a} }))
	res, b := e.call("GET", "/v1/users", nil, nil)
	p := mustProblem(t, res, b, http.StatusServiceUnavailable)
	if strings.Contains(string(b), "disk full") || p.ErrorID == "" {
		t.Errorf("problem = %s", b)
	}
	if n := len(e.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}

func last(u *upstream) recorded {
	reqs := u.requests()
	if len(reqs) == 0 {
		return recorded{}
	}
	return reqs[len(reqs)-1]
}

func dump(evs []*qgate.AuditEvent) string {
	b, _ := json.MarshalIndent(evs, "", "  ")
	return string(b)
}

func TestProxy_TruncatedResponseAborts(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		conn, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		bw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		bw.Flush()
		conn.Close() // no last chunk: the body broke off
	})
	e := newEnv(t, up, nil)
	res := e.do(context.Background(), "GET", "/v1/users", e.token, nil, nil)
	defer res.Body.Close()
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Fatal("a truncated body read as complete")
	}
	e.proxy.Close()
	evs := e.audit(qgate.AuditFilter{Type: qgate.AuditExecution})
	if len(evs) != 1 || evs[0].Action != "failed" {
		t.Errorf("execution events = %s", dump(evs))
	}
}

// panicky is a gate with a bug.
type panicky struct{}

func (panicky) Decide(context.Context, *qgate.Request) qgate.Decision { panic("bug in the gate") }

func TestProxy_PanicIsA500WithErrorID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil, func(e *env, _ *qgate.Target) { e.proxy.Gate = panicky{} })
	res, b := e.call("GET", "/v1/users", nil, nil)
	p := mustProblem(t, res, b, http.StatusInternalServerError)
	if p.ErrorID == "" || strings.Contains(string(b), "bug in the gate") || !strings.Contains(e.logs.String(), p.ErrorID) {
		t.Errorf("problem = %s", b)
	}
	if n := len(e.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}
