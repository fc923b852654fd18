package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qgate/qgate/internal/reviewtest"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/demo"
	"github.com/qgate/qgate/notify/webhook"
)

// The end-to-end tests start the real server in-process on port 0 in front
// of a real HTTP upstream and talk to it with real HTTP clients and the CLI.

const e2ePolicies = `
  - name: admin-is-off-limits
    targets: [api]
    when: http.path.startsWith('/admin')
    action: deny
    message: the admin API is not reachable through qgate
  - name: deletes-need-a-dba
    targets: [api]
    when: http.method == 'DELETE'
    action: review
    review: {approvers: [dba], timeout: 1m}
  - name: creates-need-two
    targets: [api]
    when: http.method == 'POST' && !http.graphql.present
    action: review
    review: {approvers: [dba, security], quorum: 2, timeout: 1m}
  - name: graphql-mutations
    targets: [api]
    when: http.graphql.present && !http.graphql.read_only
    action: review
    review: {approvers: [dba], timeout: 1m}
  - name: puts-expire-fast
    targets: [api]
    when: http.method == 'PUT'
    action: review
    review: {approvers: [dba], timeout: 300ms}
  - name: reads
    targets: [api]
    when: http.method == 'GET' || (http.graphql.present && http.graphql.read_only)
    action: allow
`

type e2e struct {
	t        *testing.T
	srv      *Server
	api      *demo.SampleAPI
	hits     atomic.Int64 // requests that reached the upstream
	cfgPath  string
	tokens   map[string]string
	hooks    chan []byte
	hookKey  []byte
	hookSigs chan string
}

func startE2E(t *testing.T, hold string) *e2e {
	t.Helper()
	return startE2EWith(t, hold, "", "")
}

// startE2EWith starts the server with more top-level configuration
// (extra, YAML) and policies ahead of e2ePolicies (YAML list items).
func startE2EWith(t *testing.T, hold, extra, policies string) *e2e {
	t.Helper()
	e := &e2e{t: t, api: demo.NewSampleAPI(), tokens: map[string]string{}, hooks: make(chan []byte, 100), hookSigs: make(chan string, 100),
		hookKey: []byte("webhook-secret-0123456789")}
	apiHandler := e.api.Handler()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		apiHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.hooks <- b
		e.hookSigs <- r.Header.Get("Qgate-Signature")
	}))
	t.Cleanup(receiver.Close)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hook.secret"), e.hookKey, 0o600)
	doc := fmt.Sprintf(`
server: {listen: '127.0.0.1:0', public_url: 'http://qgate.test'}
store: {driver: sqlite, dsn: %s/qgate.db}
targets:
  - name: api
    protocol: http
    environment: staging
    listen: 127.0.0.1:0
    upstream: {url: %s, headers: {X-Upstream-Key: injected-secret}}
    graphql: {path: /graphql}
    hold: %s
    max_body: 1KiB
groups:
  dba: [alice, bob]
  security: [bob, erin]
  admins: [alice]
webhooks:
  - {name: audit-bot, url: %s, secret_file: %s/hook.secret, events: [review.created, review.decided]}
%s
policies:
%s%s
defaults:
  staging: review
`, dir, up.URL, hold, receiver.URL, dir, strings.ReplaceAll(extra, "$DIR", dir), policies, e2ePolicies)
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
	for _, id := range []string{"dana", "alice", "bob", "erin", "mallory"} {
		tok, _, err := s.Auth.Issue(context.Background(), auth.IssueRequest{Identity: id})
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[id] = tok
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.srv = s
	t.Cleanup(func() {
		e.srv.Close() // the server running at the end (a test may restart it)
		// After everything, the audit chain still verifies.
		out, errOut, code := run(t, "", "audit", "verify", "--config", e.cfgPath)
		if code != 0 || !strings.Contains(out, "audit chain OK") {
			t.Errorf("audit verify after the test: exit %d: %s %s", code, out, errOut)
		}
	})
	return e
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends a request to the api target as who.
func (e *e2e) call(ctx context.Context, who, method, path, body string, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+e.srv.Addr("api")+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[who])
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{status: -1, raw: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	json.Unmarshal(b, &r.body)
	return r
}

// rest calls the REST API as who.
func (e *e2e) rest(who, method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL()+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.tokens[who])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// pendingReview waits until a pending review exists and returns its id.
func (e *e2e) pendingReview() int64 {
	e.t.Helper()
	return reviewtest.WaitPending(e.t, e.srv.Reviews, 5*time.Second).ID
}

// async runs a call in the background.
func (e *e2e) async(ctx context.Context, who, method, path, body string, headers ...string) <-chan response {
	ch := make(chan response, 1)
	go func() { ch <- e.call(ctx, who, method, path, body, headers...) }()
	return ch
}

func wait(t *testing.T, ch <-chan response) response {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the held client did not complete")
	}
	return response{}
}

func TestE2E_AllowedAndDenied(t *testing.T) {
	e := startE2E(t, "5s")
	ctx := context.Background()
	r := e.call(ctx, "dana", "GET", "/v1/items", "")
	if r.status != 200 || !strings.Contains(r.raw, "invoice-2026-001") {
		t.Fatalf("allowed GET: %d %s", r.status, r.raw)
	}
	hits := e.hits.Load()
	r = e.call(ctx, "dana", "GET", "/admin/users", "")
	if r.status != 403 || r.body["detail"] != "the admin API is not reachable through qgate" || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("denied GET: %d %s", r.status, r.raw)
	}
	if e.hits.Load() != hits {
		t.Fatal("a denied request reached the upstream")
	}
	if r := e.call(ctx, "nobody", "GET", "/v1/items", ""); r.status != 401 {
		t.Fatalf("no token: %d", r.status)
	}
}

func TestE2E_HeldThenApprovedByCLI(t *testing.T) {
	e := startE2E(t, "10s")
	held := e.async(context.Background(), "dana", "DELETE", "/v1/items/1", "")
	id := e.pendingReview()
	t.Setenv("QGATE_SERVER", e.srv.URL())
	t.Setenv("QGATE_TOKEN", e.tokens["alice"])
	out, errOut, code := run(t, "", "reviews", "list", "--json")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0]["requester"] != "dana" || list[0]["status"] != "pending" {
		t.Fatalf("reviews list --json: exit %d: %s %s", code, out, errOut)
	}
	if _, errOut, code := run(t, "", "reviews", "approve", fmt.Sprint(id), "--comment", "ok"); code != 0 {
		t.Fatalf("reviews approve: exit %d: %s", code, errOut)
	}
	r := wait(t, held)
	if r.status != 200 || !strings.Contains(r.raw, "invoice-2026-001") {
		t.Fatalf("approved DELETE: %d %s", r.status, r.raw)
	}
	if _, deletes := e.api.Counts(); deletes != 1 {
		t.Fatalf("upstream ran the delete %d times, want once", deletes)
	}
}

func TestE2E_HeldThenRejected(t *testing.T) {
	e := startE2E(t, "10s")
	held := e.async(context.Background(), "dana", "DELETE", "/v1/items/1", "")
	id := e.pendingReview()
	if st, body := e.rest("bob", "POST", fmt.Sprintf("/api/v1/reviews/%d/reject", id), map[string]string{"comment": "not during the freeze"}); st != 200 {
		t.Fatalf("reject: %d %v", st, body)
	}
	r := wait(t, held)
	if r.status != 403 || !strings.Contains(r.raw, "not during the freeze") {
		t.Fatalf("rejected DELETE: %d %s", r.status, r.raw)
	}
	if _, deletes := e.api.Counts(); deletes != 0 {
		t.Fatal("a rejected delete reached the upstream")
	}
}

func TestE2E_HeldThenExpired(t *testing.T) {
	e := startE2E(t, "10s")
	r := e.call(context.Background(), "dana", "PUT", "/v1/items/1", `{"name":"x"}`, "Content-Type: application/json")
	if r.status != 403 || !strings.Contains(r.raw, "timed out") {
		t.Fatalf("expired PUT: %d %s", r.status, r.raw)
	}
}

func TestE2E_AcceptedThenRetry(t *testing.T) {
	e := startE2E(t, "300ms")
	ctx := context.Background()
	r := e.call(ctx, "dana", "DELETE", "/v1/items/2", "")
	if r.status != 202 || r.body["review_id"] == nil || r.header.Get("Qgate-Review") == "" {
		t.Fatalf("held past the hold: %d %s", r.status, r.raw)
	}
	id := r.header.Get("Qgate-Review")
	if st, body := e.rest("alice", "POST", "/api/v1/reviews/"+id+"/approve", map[string]string{}); st != 200 {
		t.Fatalf("approve: %d %v", st, body)
	}
	if r := e.call(ctx, "dana", "DELETE", "/v1/items/3", "", "Qgate-Review: "+id); r.status != 403 {
		t.Fatalf("retry of another request: %d %s", r.status, r.raw)
	}
	if r := e.call(ctx, "bob", "DELETE", "/v1/items/2", "", "Qgate-Review: "+id); r.status != 403 {
		t.Fatalf("retry with another token: %d %s", r.status, r.raw)
	}
	if r := e.call(ctx, "dana", "DELETE", "/v1/items/2", "", "Qgate-Review: "+id); r.status != 200 {
		t.Fatalf("retry: %d %s", r.status, r.raw)
	}
	if r := e.call(ctx, "dana", "DELETE", "/v1/items/2", "", "Qgate-Review: "+id); r.status != 409 {
		t.Fatalf("second retry: %d %s", r.status, r.raw)
	}
	if _, deletes := e.api.Counts(); deletes != 1 {
		t.Fatalf("deletes: %d, want 1", deletes)
	}
}

func TestE2E_WhoMayApprove(t *testing.T) {
	e := startE2E(t, "300ms")
	ctx := context.Background()
	// alice asks; alice is a dba, but never approves her own request.
	r := e.call(ctx, "alice", "DELETE", "/v1/items/1", "")
	id := r.header.Get("Qgate-Review")
	if st, body := e.rest("alice", "POST", "/api/v1/reviews/"+id+"/approve", map[string]string{}); st != 403 {
		t.Fatalf("self-approval: %d %v", st, body)
	}
	if st, body := e.rest("mallory", "POST", "/api/v1/reviews/"+id+"/approve", map[string]string{}); st != 403 && st != 404 {
		t.Fatalf("approver outside the group: %d %v", st, body)
	}
	if st, _ := e.rest("erin", "POST", "/api/v1/reviews/"+id+"/approve", map[string]string{}); st != 403 {
		t.Fatalf("security may not approve a dba review: %d", st)
	}
	// Quorum of two distinct people: bob is in both groups and counts once.
	r = e.call(ctx, "dana", "POST", "/v1/items", `{"name":"new"}`, "Content-Type: application/json")
	id = r.header.Get("Qgate-Review")
	if st, body := e.rest("bob", "POST", "/api/v1/reviews/"+id+"/approve", map[string]string{}); st != 200 || body["status"] != "pending" {
		t.Fatalf("first of two: %d %v", st, body)
	}
	if st, body := e.rest("erin", "POST", "/api/v1/reviews/"+id+"/approve", map[string]string{}); st != 200 || body["status"] != "approved" {
		t.Fatalf("second of two: %d %v", st, body)
	}
}

func TestE2E_ConcurrentApprovals(t *testing.T) {
	e := startE2E(t, "200ms")
	r := e.call(context.Background(), "dana", "POST", "/v1/items", `{"name":"new"}`, "Content-Type: application/json")
	id := r.header.Get("Qgate-Review")
	var wg sync.WaitGroup
	var ok atomic.Int32
	for _, who := range []string{"alice", "bob", "erin", "alice", "bob", "erin"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, _ := e.rest(who, "POST", "/api/v1/reviews/"+id+"/approve", map[string]string{}); st == 200 {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	_, body := e.rest("alice", "GET", "/api/v1/reviews/"+id, nil)
	votes, _ := body["votes"].([]any)
	if body["status"] != "approved" || len(votes) != 2 || ok.Load() != 2 {
		t.Fatalf("status %v, %d votes, %d successes; want approved, 2, 2", body["status"], len(votes), ok.Load())
	}
}

func TestE2E_ClientDisconnectCancels(t *testing.T) {
	e := startE2E(t, "10s")
	ctx, cancel := context.WithCancel(context.Background())
	held := e.async(ctx, "dana", "DELETE", "/v1/items/1", "")
	id := e.pendingReview()
	cancel()
	<-held
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := e.srv.Reviews.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == qgate.ReviewCancelled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("review %d is %s after the client left, want cancelled", id, r.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestE2E_Grant(t *testing.T) {
	e := startE2E(t, "200ms")
	ctx := context.Background()
	r := e.call(ctx, "dana", "DELETE", "/v1/items/1", "")
	id := r.header.Get("Qgate-Review")
	if st, body := e.rest("alice", "POST", "/api/v1/reviews/"+id+"/approve", map[string]string{"grant": "1500ms"}); st != 200 {
		t.Fatalf("approve with grant: %d %v", st, body)
	}
	// Same shape (DELETE /v1/items/:id) from the same token: allowed now.
	if r := e.call(ctx, "dana", "DELETE", "/v1/items/2", ""); r.status != 200 {
		t.Fatalf("call under the grant: %d %s", r.status, r.raw)
	}
	// Another token: still held.
	if r := e.call(ctx, "erin", "DELETE", "/v1/items/3", ""); r.status != 202 {
		t.Fatalf("another token: %d %s", r.status, r.raw)
	}
	time.Sleep(1600 * time.Millisecond)
	if r := e.call(ctx, "dana", "DELETE", "/v1/items/3", ""); r.status != 202 {
		t.Fatalf("after the grant expired: %d %s", r.status, r.raw)
	}
	events, err := e.srv.Store.ListAudit(ctx, qgate.AuditFilter{Type: qgate.AuditGrant})
	if err != nil || len(events) == 0 {
		t.Fatalf("grant not audited: %v", err)
	}
}

func TestE2E_RefusedBeforeUpstream(t *testing.T) {
	e := startE2E(t, "200ms")
	ctx := context.Background()
	hits := e.hits.Load()
	// A method-override header cannot turn a DELETE into a GET.
	if r := e.call(ctx, "dana", "DELETE", "/v1/items/1", "", "X-HTTP-Method-Override: GET"); r.status != 202 {
		t.Fatalf("override: %d %s", r.status, r.raw)
	}
	for _, p := range []string{"/v1/%2e%2e/admin/users", "/v1/..%2Fadmin", "/v1/items%00", "/v1/%252e%252e/admin"} {
		if r := e.call(ctx, "dana", "GET", p, ""); r.status != 403 && r.status != 400 {
			t.Fatalf("path %s: %d %s", p, r.status, r.raw)
		}
	}
	// Dot segments are resolved before policy: this is /admin/users.
	if r := e.call(ctx, "dana", "GET", "/v1/../admin/users", ""); r.status != 403 {
		t.Fatalf("dot segments: %d %s", r.status, r.raw)
	}
	if r := e.call(ctx, "dana", "POST", "/v1/items", strings.Repeat("x", 2048), "Content-Type: application/json"); r.status != 413 {
		t.Fatalf("oversized body: %d %s", r.status, r.raw)
	}
	if e.hits.Load() != hits {
		t.Fatalf("%d refused requests reached the upstream", e.hits.Load()-hits)
	}
}

func TestE2E_GraphQL(t *testing.T) {
	e := startE2E(t, "200ms")
	ctx := context.Background()
	if r := e.call(ctx, "dana", "POST", "/graphql", `{"query":"{ items { id } }"}`, "Content-Type: application/json"); r.status != 200 {
		t.Fatalf("query: %d %s", r.status, r.raw)
	}
	if r := e.call(ctx, "dana", "POST", "/graphql", `{"query":"mutation { deleteItem(id: 1) { id } }"}`, "Content-Type: application/json"); r.status != 202 {
		t.Fatalf("mutation: %d %s", r.status, r.raw)
	}
	if r := e.call(ctx, "dana", "POST", "/graphql", `{"query":"query Q { items { id } } mutation M { x }", "operationName": "M"}`, "Content-Type: application/json"); r.status != 202 {
		t.Fatalf("mutation picked by operationName: %d %s", r.status, r.raw)
	}
	if n := e.api.GraphQLCalls(); n != 1 {
		t.Fatalf("graphql calls upstream: %d, want 1", n)
	}
}

func TestE2E_WebhookSignature(t *testing.T) {
	e := startE2E(t, "200ms")
	e.call(context.Background(), "dana", "DELETE", "/v1/items/1", "")
	select {
	case body := <-e.hooks:
		sig := <-e.hookSigs
		if err := webhook.Verify(e.hookKey, sig, body, time.Now(), 5*time.Minute); err != nil {
			t.Fatalf("signature does not verify: %v", err)
		}
		if err := webhook.Verify([]byte("another-secret-0123456789"), sig, body, time.Now(), 5*time.Minute); err == nil {
			t.Fatal("a wrong secret verified")
		}
		var ev struct {
			Type   string
			Review struct{ Requester string }
		}
		if json.Unmarshal(body, &ev); ev.Type != "review.created" || ev.Review.Requester != "dana" {
			t.Fatalf("webhook payload: %s", body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook delivery")
	}
}

func TestE2E_Metrics(t *testing.T) {
	e := startE2E(t, "200ms")
	e.call(context.Background(), "dana", "GET", "/v1/items", "")
	resp, err := http.Get(e.srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`qgate_requests_total{decision="allow",outcome=`, "qgate_audit_queue_depth", "qgate_upstream_seconds"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestE2E_RevokeFromCLI revokes a token with `qgate token revoke`, which
// opens the store on its own as an operator would: the running server
// refuses the token's very next call.
func TestE2E_RevokeFromCLI(t *testing.T) {
	e := startE2E(t, "200ms")
	ctx := context.Background()
	if r := e.call(ctx, "dana", "GET", "/v1/items", ""); r.status != 200 {
		t.Fatalf("before revocation: %d %s", r.status, r.raw)
	}
	id := strings.Split(e.tokens["dana"], "_")[1]
	if _, errOut, code := run(t, "", "token", "revoke", "--config", e.cfgPath, id); code != 0 {
		t.Fatalf("token revoke: exit %d: %s", code, errOut)
	}
	if r := e.call(ctx, "dana", "GET", "/v1/items", ""); r.status != 401 {
		t.Fatalf("after revocation: %d %s", r.status, r.raw)
	}
}
