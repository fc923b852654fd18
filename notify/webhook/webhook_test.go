package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/internal/syncbuf"
	"github.com/qgate/qgate/notify/webhook"
)

// hit is one request a receiver got.
type hit struct {
	n      int
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a real HTTP server that records every request and answers
// with respond (200 when nil). n counts requests from 1.
type receiver struct {
	*httptest.Server
	hits chan hit
}

func newReceiver(tb testing.TB, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	tb.Helper()
	rc := &receiver{hits: make(chan hit, 1000)}
	var count atomic.Int64
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := int(count.Add(1))
		rc.hits <- hit{n: n, header: r.Header.Clone(), body: body, at: time.Now()}
		if respond != nil {
			respond(w, r, n)
		}
	}))
	tb.Cleanup(rc.Close)
	return rc
}

// next returns the next request, failing after a while.
func (rc *receiver) next(tb testing.TB) hit {
	tb.Helper()
	select {
	case h := <-rc.hits:
		return h
	case <-time.After(5 * time.Second):
		tb.Fatal("receiver got no request")
		return hit{}
	}
}

// none checks that no request arrives within d.
func (rc *receiver) none(tb testing.TB, d time.Duration) {
	tb.Helper()
	select {
	case h := <-rc.hits:
		tb.Fatalf("unexpected request %d: %s", h.n, h.header.Get(webhook.HeaderEvent))
	case <-time.After(d):
	}
}

func endpoint(name, url string) webhook.Endpoint {
	return webhook.Endpoint{Name: name, URL: url, Secret: secret, Timeout: 2 * time.Second, MaxAttempts: 6}
}

// MustNotifier starts a notifier with a tiny backoff, a discarding logger
// and a memory log, closed when the test ends.
func MustNotifier(tb testing.TB, eps []webhook.Endpoint, opts webhook.Options) (*webhook.Notifier, *webhook.MemoryLog) {
	tb.Helper()
	log := webhook.NewMemoryLog(1000)
	if opts.Log == nil {
		opts.Log = log
	}
	if opts.Backoff == nil {
		opts.Backoff = func(int) time.Duration { return time.Millisecond }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	n := webhook.New(eps, opts)
	tb.Cleanup(func() { n.Close() })
	return n, log
}

// waitFinal waits until the log holds want final records, and returns the
// whole log oldest first.
func waitFinal(tb testing.TB, log *webhook.MemoryLog, want int) []webhook.Delivery {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		all := log.List()
		final := 0
		for _, d := range all {
			if d.Final {
				final++
			}
		}
		if final >= want {
			for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
				all[i], all[j] = all[j], all[i]
			}
			return all
		}
		if time.Now().After(deadline) {
			tb.Fatalf("got %d final deliveries, want %d: %+v", final, want, all)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)

func sampleReview(id int64) *qgate.Review {
	return &qgate.Review{
		ID: id, Status: qgate.ReviewPending, Protocol: qgate.ProtocolPostgres,
		Target: "billing-db", Environment: "prod", RequestID: "req-1",
		Requester: "carol", TokenID: "tok_carol", SourceIP: "10.0.0.7",
		Payload: "DELETE FROM invoices WHERE id = 7", PayloadHash: "sha256:abcd", Shape: "fp",
		Decision: qgate.Decision{
			Action:       qgate.ActionReview,
			Matched:      []qgate.MatchedPolicy{{Name: "prod-writes-need-a-dba", Action: qgate.ActionReview}},
			Requirements: []qgate.ReviewRequirement{{Policy: "prod-writes-need-a-dba", Approvers: []string{"dba"}, Quorum: 1, Timeout: 15 * time.Minute}},
			Risk:         qgate.NewRisk([]qgate.Finding{{Code: "sql.write", Severity: qgate.SeverityMedium, Message: "deletes rows", Start: 0, End: 6}}),
		},
		CreatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute),
	}
}

func event(typ string, id int64) qgate.ReviewEvent {
	return qgate.ReviewEvent{Type: typ, Review: sampleReview(id), URL: "http://127.0.0.1:8080/reviews/" + strconv.FormatInt(id, 10)}
}

func TestNotifier_Payload(t *testing.T) {
	rc := newReceiver(t, nil)
	clock := time.Unix(1800000000, 123456789)
	n, _ := MustNotifier(t, []webhook.Endpoint{endpoint("sink", rc.URL)}, webhook.Options{Now: func() time.Time { return clock }})

	ev := event(qgate.ReviewDecided, 42)
	ev.Review.Status = qgate.ReviewApproved
	ev.Review.DecidedAt = t0.Add(time.Minute)
	ev.Review.Votes = []qgate.Vote{{Identity: "alice", Groups: []string{"dba"}, Approve: true, Comment: "ok", At: t0.Add(time.Minute)}}
	n.Notify(context.Background(), ev)
	ev.Review.Status = "mutated after Notify" // the snapshot was taken already
	h := rc.next(t)

	t.Run("Headers", func(t *testing.T) {
		for k, want := range map[string]string{
			"Content-Type": "application/json", "User-Agent": "qgate-webhook/1", webhook.HeaderEvent: "review.decided",
		} {
			if got := h.header.Get(k); got != want {
				t.Errorf("%s: got %q, want %q", k, got, want)
			}
		}
		if _, err := uuid.Parse(h.header.Get(webhook.HeaderDelivery)); err != nil {
			t.Errorf("%s: %v", webhook.HeaderDelivery, err)
		}
	})
	t.Run("Verify", func(t *testing.T) {
		if err := webhook.Verify(secret, h.header.Get(webhook.HeaderSignature), h.body, clock, time.Minute); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("IndependentHMAC", func(t *testing.T) {
		sig := h.header.Get(webhook.HeaderSignature)
		var ts, v1 string
		for _, p := range strings.Split(sig, ",") {
			k, v, _ := strings.Cut(p, "=")
			switch k {
			case "t":
				ts = v
			case "v1":
				v1 = v
			}
		}
		if want := strconv.FormatInt(clock.Unix(), 10); ts != want {
			t.Errorf("t: got %s, want %s", ts, want)
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(ts + "."))
		m.Write(h.body)
		if want := hex.EncodeToString(m.Sum(nil)); v1 != want {
			t.Errorf("v1: got %s, want %s", v1, want)
		}
	})
	t.Run("Body", func(t *testing.T) {
		var got webhook.Event
		if err := json.Unmarshal(h.body, &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != h.header.Get(webhook.HeaderDelivery) || got.Type != "review.decided" || got.URL != "http://127.0.0.1:8080/reviews/42" || !got.Time.Equal(clock) {
			t.Errorf("envelope: got %+v", got)
		}
		r := got.Review
		if r.ID != 42 || r.Status != qgate.ReviewApproved || r.Target != "billing-db" || r.Environment != "prod" || r.Requester != "carol" ||
			r.TokenID != "tok_carol" || r.SourceIP != "10.0.0.7" || r.Payload != "DELETE FROM invoices WHERE id = 7" || r.PayloadHash != "sha256:abcd" ||
			!r.CreatedAt.Equal(t0) || !r.DecidedAt.Equal(t0.Add(time.Minute)) || r.Protocol != qgate.ProtocolPostgres {
			t.Errorf("review: got %+v", r)
		}
		d := r.Decision
		if d.Action != qgate.ActionReview || len(d.Matched) != 1 || d.Requirements[0].Timeout != 15*time.Minute || d.Risk.Level != qgate.SeverityMedium || d.Risk.Findings[0].End != 6 {
			t.Errorf("decision: got %+v", d)
		}
		if len(r.Votes) != 1 || r.Votes[0].Identity != "alice" || !r.Votes[0].Approve {
			t.Errorf("votes: got %+v", r.Votes)
		}
	})
	t.Run("Keys", func(t *testing.T) {
		// The wire contract, independent of the Go types.
		var raw map[string]json.RawMessage
		json.Unmarshal(h.body, &raw)
		for _, k := range []string{"id", "type", "time", "review", "url"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("missing key %q in %s", k, h.body)
			}
		}
		if !bytes.Contains(h.body, []byte(`"time":"2027-01-15T08:00:00.123456789Z"`)) {
			t.Errorf("time is not RFC 3339 with nanoseconds in UTC: %s", h.body)
		}
		var review map[string]json.RawMessage
		json.Unmarshal(raw["review"], &review)
		for _, k := range []string{"id", "status", "protocol", "target", "environment", "requester", "token_id", "source_ip",
			"payload", "payload_hash", "decision", "votes", "reason", "created_at", "expires_at", "decided_at"} {
			if _, ok := review[k]; !ok {
				t.Errorf("missing key review.%s", k)
			}
		}
		for _, k := range []string{"shape", "version", "request_id"} {
			if _, ok := review[k]; ok {
				t.Errorf("internal key review.%s is sent", k)
			}
		}
		var decision map[string]json.RawMessage
		json.Unmarshal(review["decision"], &decision)
		for _, k := range []string{"decision", "matched", "requirements", "risk"} {
			if _, ok := decision[k]; !ok {
				t.Errorf("missing key review.decision.%s", k)
			}
		}
	})
}

// TestNotifier_PendingReviewLists checks that empty lists are [] and an
// undecided review has no decided_at.
func TestNotifier_PendingReviewLists(t *testing.T) {
	rc := newReceiver(t, nil)
	n, _ := MustNotifier(t, []webhook.Endpoint{endpoint("sink", rc.URL)}, webhook.Options{})
	ev := event(qgate.ReviewCreated, 1)
	ev.Review.Decision = qgate.Decision{Action: qgate.ActionReview}
	n.Notify(context.Background(), ev)
	h := rc.next(t)
	for _, want := range []string{`"votes":[]`, `"matched":[]`, `"requirements":[]`, `"findings":[]`} {
		if !bytes.Contains(h.body, []byte(want)) {
			t.Errorf("body lacks %s: %s", want, h.body)
		}
	}
	if bytes.Contains(h.body, []byte("decided_at")) {
		t.Errorf("pending review has decided_at: %s", h.body)
	}
}

func TestNotifier_Retry(t *testing.T) {
	t.Run("500TwiceThen200", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
			if n <= 2 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		n, log := MustNotifier(t, []webhook.Endpoint{endpoint("sink", rc.URL)}, webhook.Options{})
		n.Notify(context.Background(), event(qgate.ReviewCreated, 7))
		all := waitFinal(t, log, 1)
		if len(all) != 3 {
			t.Fatalf("got %d attempts, want 3: %+v", len(all), all)
		}
		for i, d := range all {
			wantStatus, wantFinal := 500, false
			if i == 2 {
				wantStatus, wantFinal = 200, true
			}
			if d.Attempt != i+1 || d.Status != wantStatus || d.Final != wantFinal || d.ID != all[0].ID || d.ReviewID != 7 || d.Endpoint != "sink" || d.Event != "review.created" {
				t.Errorf("attempt %d: got %+v", i+1, d)
			}
			if d.OK() != (i == 2) {
				t.Errorf("attempt %d: OK() = %v, error %q", i+1, d.OK(), d.Error)
			}
		}
		first := rc.next(t)
		for range 2 {
			h := rc.next(t)
			if h.header.Get(webhook.HeaderDelivery) != first.header.Get(webhook.HeaderDelivery) || !bytes.Equal(h.body, first.body) {
				t.Errorf("retry %d differs from the first attempt", h.n)
			}
			if err := webhook.Verify(secret, h.header.Get(webhook.HeaderSignature), h.body, time.Now(), time.Minute); err != nil {
				t.Errorf("retry %d: %v", h.n, err)
			}
		}
		if got := n.Stats()[0]; got.Delivered != 1 || got.Failed != 0 {
			t.Errorf("stats: got %+v", got)
		}
	})

	t.Run("400NoRetry", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusBadRequest) })
		n, log := MustNotifier(t, []webhook.Endpoint{endpoint("sink", rc.URL)}, webhook.Options{})
		n.Notify(context.Background(), event(qgate.ReviewCreated, 7))
		all := waitFinal(t, log, 1)
		if len(all) != 1 || all[0].Status != 400 || !all[0].Final || all[0].OK() || all[0].Attempt != 1 {
			t.Fatalf("got %+v", all)
		}
		rc.next(t)
		rc.none(t, 50*time.Millisecond)
		if got := n.Stats()[0]; got.Delivered != 0 || got.Failed != 1 {
			t.Errorf("stats: got %+v", got)
		}
	})

	t.Run("RedirectNotFollowed", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		})
		n, log := MustNotifier(t, []webhook.Endpoint{endpoint("sink", rc.URL)}, webhook.Options{})
		n.Notify(context.Background(), event(qgate.ReviewCreated, 7))
		all := waitFinal(t, log, 1)
		if len(all) != 1 || all[0].Status != 302 || all[0].OK() {
			t.Fatalf("got %+v", all)
		}
		rc.next(t)
		rc.none(t, 50*time.Millisecond)
	})

	t.Run("GiveUp", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusServiceUnavailable) })
		ep := endpoint("sink", rc.URL)
		ep.MaxAttempts = 3
		var backoffs []int
		var mu sync.Mutex
		n, log := MustNotifier(t, []webhook.Endpoint{ep}, webhook.Options{Backoff: func(a int) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			backoffs = append(backoffs, a)
			return time.Millisecond
		}})
		n.Notify(context.Background(), event(qgate.ReviewCreated, 7))
		all := waitFinal(t, log, 1)
		if len(all) != 3 || !all[2].Final || all[2].Status != 503 || all[1].Final {
			t.Fatalf("got %+v", all)
		}
		mu.Lock()
		if got := backoffs; len(got) != 2 || got[0] != 1 || got[1] != 2 {
			t.Errorf("Backoff called with %v, want [1 2]", got)
		}
		mu.Unlock()
		if got := n.Stats()[0]; got.Failed != 1 {
			t.Errorf("stats: got %+v", got)
		}
	})

	t.Run("NetworkError", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		ep := endpoint("sink", "http://"+addr+"/hook")
		ep.MaxAttempts = 2
		n, log := MustNotifier(t, []webhook.Endpoint{ep}, webhook.Options{})
		n.Notify(context.Background(), event(qgate.ReviewCreated, 7))
		all := waitFinal(t, log, 1)
		if len(all) != 2 || all[1].Status != 0 || !strings.Contains(all[1].Error, "refused") {
			t.Fatalf("got %+v", all)
		}
		if strings.Contains(all[1].Error, "/hook") {
			t.Errorf("error shows the URL: %s", all[1].Error)
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}
		})
		ep := endpoint("sink", rc.URL)
		ep.Timeout = 300 * time.Millisecond
		n, log := MustNotifier(t, []webhook.Endpoint{ep}, webhook.Options{})
		n.Notify(context.Background(), event(qgate.ReviewCreated, 7))
		all := waitFinal(t, log, 1)
		if len(all) < 2 || all[0].Error != "no answer within 300ms" || all[0].Final || !all[len(all)-1].OK() {
			t.Fatalf("got %+v", all)
		}
	})
}

func TestNotifier_RetryAfter(t *testing.T) {
	t.Run("Honoured", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		n, log := MustNotifier(t, []webhook.Endpoint{endpoint("sink", rc.URL)}, webhook.Options{})
		n.Notify(context.Background(), event(qgate.ReviewCreated, 7))
		first, second := rc.next(t), rc.next(t)
		if gap := second.at.Sub(first.at); gap < 950*time.Millisecond {
			t.Errorf("retried after %v, want about 1s (Retry-After: 1; backoff is 1ms)", gap)
		}
		if all := waitFinal(t, log, 1); len(all) != 2 || all[0].Status != 429 || !all[1].OK() {
			t.Errorf("got %+v", all)
		}
	})
	t.Run("Capped", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		n, _ := MustNotifier(t, []webhook.Endpoint{endpoint("sink", rc.URL)}, webhook.Options{MaxRetryAfter: 20 * time.Millisecond})
		n.Notify(context.Background(), event(qgate.ReviewCreated, 7))
		first, second := rc.next(t), rc.next(t)
		if gap := second.at.Sub(first.at); gap > time.Second {
			t.Errorf("retried after %v, want the 20ms cap", gap)
		}
	})
}

func TestNotifier_EventFilter(t *testing.T) {
	all := newReceiver(t, nil)
	decided := newReceiver(t, nil)
	onlyDecided := endpoint("decided-only", decided.URL)
	onlyDecided.Events = []string{qgate.ReviewDecided}
	defaults := endpoint("defaults", all.URL)
	n, _ := MustNotifier(t, []webhook.Endpoint{defaults, onlyDecided}, webhook.Options{})

	for _, typ := range []string{qgate.ReviewCreated, qgate.ReviewVoted, qgate.ReviewDecided, qgate.ReviewExecuted, qgate.ReviewEnded} {
		n.Notify(context.Background(), event(typ, 1))
	}
	for _, want := range []string{"review.created", "review.decided", "review.ended"} {
		if got := all.next(t).header.Get(webhook.HeaderEvent); got != want {
			t.Errorf("default endpoint: got %s, want %s", got, want)
		}
	}
	if got := decided.next(t).header.Get(webhook.HeaderEvent); got != "review.decided" {
		t.Errorf("decided-only endpoint: got %s", got)
	}
	all.none(t, 50*time.Millisecond)
	decided.none(t, 0)
}

// TestNotifier_Order checks that one endpoint gets its events in order,
// even when an early one needs retries.
func TestNotifier_Order(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 2 {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	n, _ := MustNotifier(t, []webhook.Endpoint{endpoint("sink", rc.URL)}, webhook.Options{})
	for i := range 20 {
		n.Notify(context.Background(), event(qgate.ReviewCreated, int64(i)))
	}
	want := int64(0)
	for want < 20 {
		var ev webhook.Event
		h := rc.next(t)
		json.Unmarshal(h.body, &ev)
		if h.n == 2 { // failed attempt of review 1
			if ev.Review.ID != 1 {
				t.Fatalf("request 2: got review %d", ev.Review.ID)
			}
			continue
		}
		if ev.Review.ID != want {
			t.Fatalf("request %d: got review %d, want %d", h.n, ev.Review.ID, want)
		}
		want++
	}
}

// TestNotifier_NeverBlocks checks that Notify returns at once while the
// receiver hangs, that overflow is dropped and counted, and that Close
// stops a worker stuck in a request.
func TestNotifier_NeverBlocks(t *testing.T) {
	rc := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) {
		<-r.Context().Done() // hangs until qgate gives up on the request
	})
	ep := endpoint("slow", rc.URL)
	ep.Timeout = time.Hour
	n, log := MustNotifier(t, []webhook.Endpoint{ep}, webhook.Options{QueueSize: 4})

	n.Notify(context.Background(), event(qgate.ReviewCreated, 0))
	rc.next(t) // the worker is now stuck in the first request
	start := time.Now()
	for i := 1; i < 100; i++ {
		n.Notify(context.Background(), event(qgate.ReviewCreated, int64(i)))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("99 calls of Notify took %v", d)
	}
	if got := n.Stats()[0]; got.Queued != 4 || got.Dropped != 95 {
		t.Errorf("stats: got %+v, want 4 queued, 95 dropped", got)
	}

	closed := make(chan struct{})
	go func() { n.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while the receiver hangs")
	}
	all := waitFinal(t, log, 5)
	for _, d := range all {
		if !d.Final || !strings.Contains(d.Error, "closed") {
			t.Errorf("got %+v, want abandoned", d)
		}
	}
	if got := n.Stats()[0]; got.Failed != 5 || got.Queued != 0 {
		t.Errorf("stats after Close: got %+v", got)
	}
	n.Notify(context.Background(), event(qgate.ReviewCreated, 100))
	if got := n.Stats()[0]; got.Dropped != 96 {
		t.Errorf("Notify after Close: dropped %d, want 96", got.Dropped)
	}
	rc.none(t, 50*time.Millisecond)
}

func TestNotifier_Shutdown(t *testing.T) {
	t.Run("Drains", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
			time.Sleep(10 * time.Millisecond)
			if n == 1 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		n, log := MustNotifier(t, []webhook.Endpoint{endpoint("sink", rc.URL)}, webhook.Options{})
		for i := range 3 {
			n.Notify(context.Background(), event(qgate.ReviewCreated, int64(i)))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if got := n.Stats()[0]; got.Delivered != 3 {
			t.Errorf("stats: got %+v, want 3 delivered", got)
		}
		if got := len(log.List()); got != 4 {
			t.Errorf("got %d attempts, want 4", got)
		}
	})
	t.Run("Deadline", func(t *testing.T) {
		rc := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() })
		ep := endpoint("slow", rc.URL)
		ep.Timeout = time.Hour
		n, log := MustNotifier(t, []webhook.Endpoint{ep}, webhook.Options{})
		n.Notify(context.Background(), event(qgate.ReviewCreated, 1))
		n.Notify(context.Background(), event(qgate.ReviewCreated, 2))
		rc.next(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := n.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want deadline exceeded", err)
		}
		all := log.List() // complete: Shutdown returned after the workers
		if len(all) != 2 || !all[0].Final || all[0].Attempt != 0 || all[1].Attempt != 1 {
			t.Errorf("got %+v", all)
		}
	})
	t.Run("StopsBackoff", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusInternalServerError) })
		n, log := MustNotifier(t, []webhook.Endpoint{endpoint("sink", rc.URL)}, webhook.Options{Backoff: func(int) time.Duration { return time.Hour }})
		n.Notify(context.Background(), event(qgate.ReviewCreated, 1))
		rc.next(t)
		waitForLen(t, log, 1)
		start := time.Now()
		n.Close()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Close took %v while waiting to retry", d)
		}
		all := log.List()
		if len(all) != 2 || !all[0].Final || !strings.Contains(all[0].Error, "closed") || all[0].Attempt != 1 {
			t.Errorf("got %+v", all)
		}
	})
}

func waitForLen(tb testing.TB, log *webhook.MemoryLog, n int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(log.List()) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("log has %d records, want %d", len(log.List()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNotifier_NoSecretInLogs checks what slog sees on success and failure.
func TestNotifier_NoSecretInLogs(t *testing.T) {
	buf := &syncbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	ep := endpoint("sink", rc.URL+"/hook/url-token-xyz")
	n, log := MustNotifier(t, []webhook.Endpoint{ep}, webhook.Options{Logger: logger})
	n.Notify(context.Background(), event(qgate.ReviewCreated, 7))
	waitFinal(t, log, 1)
	n.Close()
	out := buf.String()
	for _, leak := range []string{string(secret), hex.EncodeToString(secret), "url-token-xyz", "DELETE FROM"} {
		if strings.Contains(out, leak) {
			t.Errorf("log shows %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "webhook attempt failed; will retry") || !strings.Contains(out, "webhook delivered") {
		t.Errorf("log lacks the attempts:\n%s", out)
	}
}

func TestNew_PanicsWithoutSecret(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New accepted an endpoint without a secret")
		}
	}()
	webhook.New([]webhook.Endpoint{{Name: "x", URL: "http://127.0.0.1:1"}}, webhook.Options{})
}

func TestExponentialBackoff(t *testing.T) {
	for attempt := 1; attempt <= 30; attempt++ {
		base := min(time.Second<<min(attempt-1, 20), webhook.MaxBackoff)
		for range 50 {
			d := webhook.ExponentialBackoff(attempt)
			if d < base*8/10 || d > base*12/10 || d > webhook.MaxBackoff {
				t.Fatalf("attempt %d: got %v, want %v ±20%% and at most %v", attempt, d, base, webhook.MaxBackoff)
			}
		}
	}
}

func TestMemoryLog(t *testing.T) {
	log := webhook.NewMemoryLog(3)
	if got := log.List(); len(got) != 0 {
		t.Fatalf("empty log: got %v", got)
	}
	for i := 1; i <= 5; i++ {
		log.RecordDelivery(context.Background(), webhook.Delivery{Attempt: i})
		got := log.List()
		if want := min(i, 3); len(got) != want {
			t.Fatalf("after %d: got %d records, want %d", i, len(got), want)
		}
		for j, d := range got {
			if d.Attempt != i-j {
				t.Fatalf("after %d: record %d is attempt %d, want %d (newest first)", i, j, d.Attempt, i-j)
			}
		}
	}
}
