package httpproxy_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
)

// held sends a request in the background and returns a channel with its
// response (body read).
type reply struct {
	res  *http.Response
	body []byte
}

func (e *env) callAsync(ctx context.Context, method, path string, body []byte, header http.Header) <-chan reply {
	ch := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, method, e.srv.URL+path, strings.NewReader(string(body)))
		for k, vv := range header {
			req.Header[k] = vv
		}
		req.Header.Set("Authorization", "Bearer "+e.token)
		res, err := e.srv.Client().Do(req)
		if err != nil {
			ch <- reply{}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		ch <- reply{res, b}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan reply) reply {
	t.Helper()
	select {
	case r := <-ch:
		if r.res == nil {
			t.Fatal("request failed")
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no response")
	}
	return reply{}
}

func TestProxy_Hold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Approved", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, nil)
		ch := e.callAsync(ctx, "DELETE", "/v1/users/42?hard=true", nil, http.Header{"X-Reason": {"cleanup"}})
		rv := e.pendingReview()
		if want := "DELETE /v1/users/42?hard=true\n"; !strings.HasPrefix(rv.Payload, want) || !strings.Contains(rv.Payload, "x-reason: cleanup\n") ||
			strings.Contains(rv.Payload, e.token) || strings.Contains(rv.Payload, "authorization") {
			t.Errorf("payload = %q", rv.Payload)
		}
		if rv.Requester != "carol" || rv.TokenID != e.tokenID || rv.Target != "api" {
			t.Errorf("review = %+v", rv)
		}
		if n := len(e.up.requests()); n != 0 {
			t.Fatalf("upstream saw %d requests before approval", n)
		}
		// The outcome comes later than the 100 ms a block's range of
		// request ids reaches back, in another block than the request:
		// listing by request id still finds both (store/sqlite's
		// TestAuditRequestRanges covers ranges and rows one by one).
		time.Sleep(150 * time.Millisecond)
		if _, err := e.reviews.Approve(ctx, rv.ID, e.voter("alice"), "ok", 0); err != nil {
			t.Fatal(err)
		}
		r := wait(t, ch)
		if r.res.StatusCode != 200 || string(r.body) != "hello from upstream" {
			t.Fatalf("got %d %s", r.res.StatusCode, r.body)
		}
		if reqs := e.up.requests(); len(reqs) != 1 || reqs[0].Method != "DELETE" || reqs[0].RequestURI != "/v1/users/42?hard=true" {
			t.Fatalf("upstream saw %+v", reqs)
		}
		got, _ := e.reviews.Get(ctx, rv.ID)
		if got.Status != qgate.ReviewApproved || got.ExecutedAt.IsZero() {
			t.Errorf("review after = %+v", got)
		}
		e.proxy.Close()
		evs := e.audit(qgate.AuditFilter{Type: qgate.AuditExecution})
		if len(evs) != 1 || evs[0].ReviewID != rv.ID || !strings.Contains(string(evs[0].Data), `"review_id":`+strconv.FormatInt(rv.ID, 10)) {
			t.Errorf("execution events = %s", dump(evs))
		}
		rid := r.res.Header.Get("Qgate-Request-Id")
		var types []string
		for _, ev := range e.audit(qgate.AuditFilter{RequestID: rid}) {
			types = append(types, ev.Type+"/"+ev.Action)
		}
		if !slices.Contains(types, "request/review") || !slices.Contains(types, "execution/forwarded") {
			t.Errorf("events of request %s: %v", rid, types)
		}
	})

	t.Run("Rejected", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, nil)
		ch := e.callAsync(ctx, "DELETE", "/v1/users/42", nil, nil)
		rv := e.pendingReview()
		if _, err := e.reviews.Reject(ctx, rv.ID, e.voter("bob"), "not on a Friday"); err != nil {
			t.Fatal(err)
		}
		r := wait(t, ch)
		p := mustProblem(t, r.res, r.body, 403)
		if !strings.Contains(p.Detail, "not on a Friday") || p.ReviewID != rv.ID || p.ReviewURL != "http://qgate.test/reviews/"+strconv.FormatInt(rv.ID, 10) {
			t.Errorf("problem = %+v", p)
		}
		if n := len(e.up.requests()); n != 0 {
			t.Errorf("upstream saw %d requests", n)
		}
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, nil)
		start := time.Now()
		res, b := e.call("POST", "/v1/short", []byte(`{}`), http.Header{"Content-Type": {"application/json"}})
		p := mustProblem(t, res, b, 403)
		if p.Type != "https://qgate.dev/problems/review-expired" || p.ReviewID == 0 {
			t.Errorf("problem = %+v", p)
		}
		if d := time.Since(start); d < 300*time.Millisecond || d > 4*time.Second {
			t.Errorf("answered after %v, want about 300ms", d)
		}
		if n := len(e.up.requests()); n != 0 {
			t.Errorf("upstream saw %d requests", n)
		}
	})

	t.Run("ClientDisconnects", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, nil)
		cctx, cancel := context.WithCancel(ctx)
		ch := e.callAsync(cctx, "DELETE", "/v1/users/42", nil, nil)
		rv := e.pendingReview()
		cancel()
		<-ch
		e.awaitClientLeft(rv.ID, 5*time.Second)
		if _, err := e.reviews.Approve(ctx, rv.ID, e.voter("alice"), "", 0); qgate.ErrorCode(err) != qgate.ECONFLICT {
			t.Errorf("approving a cancelled review: %v", err)
		}
		if n := len(e.up.requests()); n != 0 {
			t.Errorf("upstream saw %d requests", n)
		}
	})
}

// pendingJSON is the body of a 202.
type pendingJSON struct {
	Status    string `json:"status"`
	ReviewID  int64  `json:"review_id"`
	ReviewURL string `json:"review_url"`
	Retry     string `json:"retry"`
	RequestID string `json:"request_id"`
}

func mustPending(t *testing.T, res *http.Response, body []byte) pendingJSON {
	t.Helper()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202; body %s", res.StatusCode, body)
	}
	var p pendingJSON
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(p.ReviewID, 10)
	if p.Status != "pending" || p.ReviewID == 0 || p.ReviewURL != "http://qgate.test/reviews/"+id ||
		!strings.Contains(p.Retry, "Qgate-Review: "+id) || p.RequestID != res.Header.Get("Qgate-Request-Id") {
		t.Fatalf("202 body = %s", body)
	}
	if res.Header.Get("Qgate-Review") != id || res.Header.Get("Location") != p.ReviewURL {
		t.Fatalf("202 headers = %v", res.Header)
	}
	return p
}

func TestProxy_Retry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	short := func(tg *qgate.Target) { tg.Hold = 150 * time.Millisecond }
	retry := func(id int64, h http.Header) http.Header {
		if h == nil {
			h = http.Header{}
		}
		h.Set("Qgate-Review", strconv.FormatInt(id, 10))
		return h
	}

	t.Run("ExactlyOnce", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, short)
		res, b := e.call("DELETE", "/v1/users/7", nil, nil)
		p := mustPending(t, res, b)
		if _, err := e.reviews.Approve(ctx, p.ReviewID, e.voter("alice"), "", 0); err != nil {
			t.Fatal(err)
		}
		// Another token may not use the approval.
		other, _ := e.issue(auth.IssueRequest{Identity: "carol"})
		r2 := e.do(ctx, "DELETE", "/v1/users/7", other, nil, retry(p.ReviewID, nil))
		if pr := mustProblem(t, r2, readAll(t, r2), 403); pr.Type != "https://qgate.dev/problems/review-mismatch" {
			t.Errorf("other token: %+v", pr)
		}
		// Nor another request.
		res, b = e.call("DELETE", "/v1/users/8", nil, retry(p.ReviewID, nil))
		mustProblem(t, res, b, 403)
		if n := len(e.up.requests()); n != 0 {
			t.Fatalf("upstream saw %d requests", n)
		}

		res, b = e.call("DELETE", "/v1/users/7", nil, retry(p.ReviewID, nil))
		if res.StatusCode != 200 || string(b) != "hello from upstream" {
			t.Fatalf("retry: got %d %s", res.StatusCode, b)
		}
		if reqs := e.up.requests(); len(reqs) != 1 || reqs[0].Header.Get("Qgate-Review") != "" {
			t.Fatalf("upstream saw %+v", reqs)
		}
		evs := e.audit(qgate.AuditFilter{RequestID: res.Header.Get("Qgate-Request-Id"), Type: qgate.AuditRequest})
		if len(evs) != 1 || evs[0].Action != "allow" || evs[0].ReviewID != p.ReviewID || !strings.Contains(string(evs[0].Data), `"decision":"review"`) {
			t.Errorf("retry audit = %s", dump(evs))
		}

		res, b = e.call("DELETE", "/v1/users/7", nil, retry(p.ReviewID, nil))
		if pr := mustProblem(t, res, b, http.StatusConflict); pr.ReviewID != p.ReviewID {
			t.Errorf("second retry: %+v", pr)
		}
		if n := len(e.up.requests()); n != 1 {
			t.Errorf("upstream saw %d requests, want 1", n)
		}
	})

	t.Run("DifferentBody", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, short)
		ct := http.Header{"Content-Type": {"application/json"}}
		res, b := e.call("POST", "/v1/orders", []byte(`{"amount": 10}`), ct)
		p := mustPending(t, res, b)
		if _, err := e.reviews.Approve(ctx, p.ReviewID, e.voter("bob"), "", 0); err != nil {
			t.Fatal(err)
		}
		res, b = e.call("POST", "/v1/orders", []byte(`{"amount": 10000}`), retry(p.ReviewID, ct))
		mustProblem(t, res, b, 403)
		res, b = e.call("POST", "/v1/orders?x=1", []byte(`{"amount": 10}`), retry(p.ReviewID, ct))
		mustProblem(t, res, b, 403)
		// The same bytes under another content type are another request.
		res, b = e.call("POST", "/v1/orders", []byte(`{"amount": 10}`), retry(p.ReviewID, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}))
		mustProblem(t, res, b, 403)
		if n := len(e.up.requests()); n != 0 {
			t.Fatalf("upstream saw %d requests", n)
		}
		res, b = e.call("POST", "/v1/orders", []byte(`{"amount": 10}`), retry(p.ReviewID, ct))
		if res.StatusCode != 200 {
			t.Fatalf("identical retry: %d %s", res.StatusCode, b)
		}
		if got := last(e.up); string(got.Body) != `{"amount": 10}` {
			t.Errorf("upstream body = %q", got.Body)
		}
	})

	t.Run("StillPendingThenApprovedWhileWaiting", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, short)
		res, b := e.call("DELETE", "/v1/users/9", nil, nil)
		p := mustPending(t, res, b)
		// Retrying too early: held again, then 202 again.
		res, b = e.call("DELETE", "/v1/users/9", nil, retry(p.ReviewID, nil))
		if p2 := mustPending(t, res, b); p2.ReviewID != p.ReviewID {
			t.Fatalf("a retry created review %d", p2.ReviewID)
		}
		e.proxy.Target.Hold = 5 * time.Second
		ch := e.callAsync(ctx, "DELETE", "/v1/users/9", nil, retry(p.ReviewID, nil))
		time.Sleep(50 * time.Millisecond)
		if _, err := e.reviews.Approve(ctx, p.ReviewID, e.voter("alice"), "", 0); err != nil {
			t.Fatal(err)
		}
		if r := wait(t, ch); r.res.StatusCode != 200 {
			t.Fatalf("got %d %s", r.res.StatusCode, r.body)
		}
		if n := len(e.up.requests()); n != 1 {
			t.Errorf("upstream saw %d requests", n)
		}
	})

	t.Run("RejectedAfter202", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, short)
		res, b := e.call("DELETE", "/v1/users/10", nil, nil)
		p := mustPending(t, res, b)
		if _, err := e.reviews.Reject(ctx, p.ReviewID, e.voter("alice"), "no"); err != nil {
			t.Fatal(err)
		}
		res, b = e.call("DELETE", "/v1/users/10", nil, retry(p.ReviewID, nil))
		if pr := mustProblem(t, res, b, 403); !strings.Contains(pr.Detail, "rejected by alice: no") {
			t.Errorf("problem = %+v", pr)
		}
	})

	t.Run("DenyWins", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, short)
		res, b := e.call("DELETE", "/v1/users/11", nil, nil)
		p := mustPending(t, res, b)
		if _, err := e.reviews.Approve(ctx, p.ReviewID, e.voter("alice"), "", 0); err != nil {
			t.Fatal(err)
		}
		res, b = e.call("DELETE", "/admin/users/11", nil, retry(p.ReviewID, nil))
		if pr := mustProblem(t, res, b, 403); pr.Type != "https://qgate.dev/problems/denied" {
			t.Errorf("problem = %+v", pr)
		}
	})

	t.Run("BadHeader", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, short)
		res, b := e.call("DELETE", "/v1/users/12", nil, http.Header{"Qgate-Review": {"twelve"}})
		mustProblem(t, res, b, 400)
		res, b = e.call("DELETE", "/v1/users/12", nil, http.Header{"Qgate-Review": {"999"}})
		mustProblem(t, res, b, 403)
	})
}
