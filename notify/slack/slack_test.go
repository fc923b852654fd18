package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/internal/slacktest"
	"github.com/qgate/qgate/notify/slack"
	"github.com/qgate/qgate/review"
	"github.com/qgate/qgate/store/sqlite"
)

const (
	token   = "xoxb-test-token"
	channel = "C0REVIEWS"
)

var secret = []byte("8f742231b10e8888abcd99yyyzzz85a5")

func newFakeSlack(t *testing.T) *slacktest.Server {
	f := slacktest.New(t, token, channel)
	f.AddUser("U0ALICE", "alice@example.com")
	f.AddUser("U0CAROL", "carol@example.com")
	f.AddUser("U0MALLORY", "mallory@elsewhere.example")
	return f
}

type fixture struct {
	slack    *slacktest.Server
	db       *sqlite.DB
	engine   *review.Engine
	notifier *slack.Notifier
	handler  http.Handler
	now      time.Time // the notifier's clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{slack: newFakeSlack(t), db: db, engine: review.New(db, db, nil), now: time.Now()}
	f.engine.PublicURL = "https://qgate.example"
	f.notifier = slack.New(slack.Options{
		Token: token, Channel: channel, APIURL: f.slack.APIURL(),
		Reviews: f.engine,
		Identities: (&slack.Directory{
			Emails:   map[string]string{"alice@example.com": "alice", "carol@example.com": "carol"},
			GroupsOf: func(string) []string { return []string{"dba"} },
		}).Lookup,
		Messages:      db,
		SigningSecret: secret,
		PublicURL:     "https://qgate.example",
		Logger:        slog.New(slog.DiscardHandler),
		Now:           func() time.Time { return f.now },
		Backoff:       func(int) time.Duration { return time.Millisecond },
	})
	t.Cleanup(func() { f.notifier.Close() })
	f.engine.Notifiers = []qgate.Notifier{f.notifier}
	f.handler = f.notifier.InteractionHandler()
	return f
}

const longPayload = "UPDATE accounts SET balance = 0 WHERE id IN (SELECT id FROM accounts WHERE note LIKE '%<script>%') -- "

func (f *fixture) create(t *testing.T, payload string, reqs ...qgate.ReviewRequirement) *qgate.Review {
	t.Helper()
	if len(reqs) == 0 {
		reqs = []qgate.ReviewRequirement{{Policy: "prod-writes", Approvers: []string{"dba"}, Quorum: 1, Timeout: time.Hour, SlackMode: "approve"}}
	}
	r, err := f.engine.Create(context.Background(), review.Request{
		Request: &qgate.Request{ID: "req-1", Protocol: qgate.ProtocolPostgres, Target: "orders-db", Environment: "production",
			SourceIP: "127.0.0.1", Principal: qgate.Principal{TokenID: "tok-carol", Identity: "carol"}},
		Decision: qgate.Decision{Action: qgate.ActionReview, Requirements: reqs,
			Matched: []qgate.MatchedPolicy{{Name: "prod-writes", Action: qgate.ActionReview}},
			Risk:    qgate.NewRisk([]qgate.Finding{{Code: "no_where", Severity: qgate.SeverityHigh, Message: "UPDATE touches many rows"}})},
		Payload: payload, PayloadHash: review.Hash(payload), Shape: "sql:x",
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// click builds Slack's block_actions interaction for a button click.
func (f *fixture) click(user, actionID string, id int64) []byte {
	return f.slack.Click(user, actionID, id)
}

func (f *fixture) post(body []byte, ts time.Time, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(slack.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(slack.HeaderSignature, sig)
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) signedPost(body []byte, ts time.Time) *httptest.ResponseRecorder {
	return f.post(body, ts, slacktest.Sign(secret, strconv.FormatInt(ts.Unix(), 10), body))
}

func (f *fixture) review(t *testing.T, id int64) *qgate.Review {
	t.Helper()
	r, err := f.engine.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCreatedPostsMessageWithButtons(t *testing.T) {
	f := newFixture(t)
	payload := strings.Repeat(longPayload, 30) // ~3,000 characters
	r := f.create(t, payload)
	post := f.slack.WaitCalls(t, "chat.postMessage", 1)[0]
	if post.Auth != "Bearer "+token && post.Form.Get("token") != token {
		t.Error("no bot token sent")
	}
	if got := post.Form.Get("channel"); got != channel {
		t.Errorf("channel = %q", got)
	}
	blocks := post.Blocks(t)
	for _, want := range []string{"carol", "orders-db (production)", "high", "prod-writes", "UPDATE accounts SET balance = 0",
		"&lt;script&gt;", "…", "more characters not shown", "https://qgate.example/reviews/" + strconv.FormatInt(r.ID, 10)} {
		if !strings.Contains(blocks, want) {
			t.Errorf("message lacks %q", want)
		}
	}
	if strings.Contains(blocks, "<script>") {
		t.Error("payload not escaped for mrkdwn")
	}
	if strings.Count(blocks, "UPDATE accounts") > 1500/len(longPayload)+1 {
		t.Error("payload not truncated")
	}
	if got := post.ActionIDs(t); strings.Join(got, ",") != "qgate_approve,qgate_reject,qgate_open" {
		t.Errorf("buttons = %v", got)
	}
	if !strings.Contains(post.Form.Get("text"), "Review #") {
		t.Errorf("fallback text = %q", post.Form.Get("text"))
	}
}

func TestSignedApprovalDecidesAndUpdatesMessage(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders WHERE id = 42")
	f.slack.WaitCalls(t, "chat.postMessage", 1)

	rec := f.signedPost(f.click("U0ALICE", slack.ActionApprove, r.ID), f.now)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	upd := f.slack.WaitCalls(t, "chat.update", 1)[0]
	if upd.Form.Get("channel") != channel || upd.Form.Get("ts") != "1700000000.000100" {
		t.Errorf("updated %s/%s, want the posted message", upd.Form.Get("channel"), upd.Form.Get("ts"))
	}
	blocks := upd.Blocks(t)
	if !strings.Contains(blocks, "Approved* by alice") {
		t.Errorf("update lacks outcome: %s", blocks)
	}
	if ids := upd.ActionIDs(t); len(ids) != 0 {
		t.Errorf("buttons left after decision: %v", ids)
	}
	got := f.review(t, r.ID)
	if got.Status != qgate.ReviewApproved || len(got.Votes) != 1 || got.Votes[0].Identity != "alice" || got.Votes[0].Comment != "via Slack" {
		t.Errorf("review = %s %+v", got.Status, got.Votes)
	}
	if us := f.slack.Calls("users.info"); len(us) != 1 || us[0].Form.Get("user") != "U0ALICE" {
		t.Errorf("users.info calls = %+v", us)
	}
	if rs := f.slack.Calls("response_url"); len(rs) != 0 {
		t.Errorf("unexpected ephemeral replies: %+v", rs)
	}
}

func TestSignedRejection(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DROP TABLE orders")
	f.slack.WaitCalls(t, "chat.postMessage", 1)
	if rec := f.signedPost(f.click("U0ALICE", slack.ActionReject, r.ID), f.now); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	upd := f.slack.WaitCalls(t, "chat.update", 1)[0]
	if blocks := upd.Blocks(t); !strings.Contains(blocks, "Rejected* by alice") {
		t.Errorf("update lacks outcome: %s", blocks)
	}
	if got := f.review(t, r.ID); got.Status != qgate.ReviewRejected {
		t.Errorf("status = %s", got.Status)
	}
}

func TestRefusedRequests(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders")
	f.slack.WaitCalls(t, "chat.postMessage", 1)
	body := f.click("U0ALICE", slack.ActionApprove, r.ID)
	ts := strconv.FormatInt(f.now.Unix(), 10)

	t.Run("BadSignature", func(t *testing.T) {
		if rec := f.post(body, f.now, slack.Sign([]byte("not-the-secret"), ts, body)); rec.Code != http.StatusUnauthorized {
			t.Errorf("status %d", rec.Code)
		}
		if rec := f.post(body, f.now, ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("no signature: status %d", rec.Code)
		}
		tampered := f.click("U0ALICE", slack.ActionReject, r.ID)
		if rec := f.post(tampered, f.now, slack.Sign(secret, ts, body)); rec.Code != http.StatusUnauthorized {
			t.Errorf("tampered body: status %d", rec.Code)
		}
	})
	t.Run("StaleTimestamp", func(t *testing.T) {
		old := f.now.Add(-5*time.Minute - time.Second)
		if rec := f.signedPost(body, old); rec.Code != http.StatusUnauthorized {
			t.Errorf("old: status %d", rec.Code)
		}
		future := f.now.Add(5*time.Minute + time.Second)
		if rec := f.signedPost(body, future); rec.Code != http.StatusUnauthorized {
			t.Errorf("future: status %d", rec.Code)
		}
	})
	time.Sleep(50 * time.Millisecond)
	if n := len(f.slack.Calls("users.info")); n != 0 {
		t.Errorf("refused requests reached users.info %d times", n)
	}
	if got := f.review(t, r.ID); got.Status != qgate.ReviewPending || len(got.Votes) != 0 {
		t.Errorf("refused requests decided: %s %+v", got.Status, got.Votes)
	}

	t.Run("Replay", func(t *testing.T) {
		at := f.now.Add(-time.Minute)
		if rec := f.signedPost(body, at); rec.Code != http.StatusOK {
			t.Fatalf("first: status %d", rec.Code)
		}
		f.slack.WaitCalls(t, "chat.update", 1)
		if rec := f.signedPost(body, at); rec.Code != http.StatusUnauthorized {
			t.Errorf("replay: status %d", rec.Code)
		}
		time.Sleep(50 * time.Millisecond)
		if n := len(f.slack.Calls("users.info")); n != 1 {
			t.Errorf("users.info called %d times, want 1", n)
		}
	})
}

func TestUnmappedUserRefused(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders")
	f.slack.WaitCalls(t, "chat.postMessage", 1)
	for _, user := range []string{"U0MALLORY", "U0NOBODY"} { // unknown e-mail; unknown to Slack
		if rec := f.signedPost(f.click(user, slack.ActionApprove, r.ID), f.now); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	}
	replies := f.slack.WaitCalls(t, "response_url", 2)
	texts := ""
	for _, r := range replies { // the two clicks run concurrently
		if r.JSON["response_type"] != "ephemeral" || r.JSON["replace_original"] != false {
			t.Errorf("reply is not ephemeral: %+v", r.JSON)
		}
		texts += r.JSON["text"].(string) + "\n"
	}
	if !strings.Contains(texts, "not linked to a qgate identity") || !strings.Contains(texts, "could not look up your Slack profile") {
		t.Errorf("replies = %s", texts)
	}
	if got := f.review(t, r.ID); got.Status != qgate.ReviewPending || len(got.Votes) != 0 {
		t.Errorf("unmapped user decided: %s %+v", got.Status, got.Votes)
	}
	if n := len(f.slack.Calls("chat.update")); n != 0 {
		t.Errorf("message updated %d times", n)
	}
}

func TestEngineRefusalReported(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders") // requested by carol
	f.slack.WaitCalls(t, "chat.postMessage", 1)
	if rec := f.signedPost(f.click("U0CAROL", slack.ActionApprove, r.ID), f.now); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	reply := f.slack.WaitCalls(t, "response_url", 1)[0]
	if text, _ := reply.Text(), true; !strings.Contains(text, "your own request") {
		t.Errorf("reply = %q", text)
	}
	if got := f.review(t, r.ID); got.Status != qgate.ReviewPending || len(got.Votes) != 0 {
		t.Errorf("self-approval recorded: %s %+v", got.Status, got.Votes)
	}
}

func TestQuorumKeepsButtons(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders", qgate.ReviewRequirement{Policy: "two-person", Approvers: []string{"dba"}, Quorum: 2, Timeout: time.Hour})
	f.slack.WaitCalls(t, "chat.postMessage", 1)
	if rec := f.signedPost(f.click("U0ALICE", slack.ActionApprove, r.ID), f.now); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	reply := f.slack.WaitCalls(t, "response_url", 1)[0]
	if text, _ := reply.Text(), true; !strings.Contains(text, "still needs more approvals") {
		t.Errorf("reply = %q", text)
	}
	upd := f.slack.WaitCalls(t, "chat.update", 1)[0]
	if blocks := upd.Blocks(t); !strings.Contains(blocks, "Approved so far by alice") {
		t.Errorf("update = %s", blocks)
	}
	if ids := upd.ActionIDs(t); len(ids) != 3 {
		t.Errorf("buttons = %v", ids)
	}
}

func TestLinkModeHasNoButtonsAndRefusesApprovals(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders",
		qgate.ReviewRequirement{Policy: "sso-only", Approvers: []string{"dba"}, Quorum: 1, Timeout: time.Hour, SlackMode: "link"})
	post := f.slack.WaitCalls(t, "chat.postMessage", 1)[0]
	if ids := post.ActionIDs(t); strings.Join(ids, ",") != "qgate_open" {
		t.Errorf("buttons = %v, want only the link", ids)
	}
	if blocks := post.Blocks(t); !strings.Contains(blocks, `"url":"https://qgate.example/reviews/`) {
		t.Errorf("no link button: %s", blocks)
	}
	// A forged click (an old message, or a crafted payload signed by Slack).
	if rec := f.signedPost(f.click("U0ALICE", slack.ActionApprove, r.ID), f.now); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	reply := f.slack.WaitCalls(t, "response_url", 1)[0]
	if text, _ := reply.Text(), true; !strings.Contains(text, "must be decided in qgate") {
		t.Errorf("reply = %q", text)
	}
	if got := f.review(t, r.ID); got.Status != qgate.ReviewPending || len(got.Votes) != 0 {
		t.Errorf("link-only review decided from Slack: %s %+v", got.Status, got.Votes)
	}

	// One link-only requirement among others makes the review link-only:
	// a Slack vote would count toward it too.
	r2 := f.create(t, "DELETE FROM orders",
		qgate.ReviewRequirement{Policy: "writes", Approvers: []string{"dba"}, Quorum: 1, SlackMode: "approve"},
		qgate.ReviewRequirement{Policy: "sso-only", Approvers: []string{"dba"}, Quorum: 1, SlackMode: "link"})
	post2 := f.slack.WaitCalls(t, "chat.postMessage", 2)[1]
	if ids := post2.ActionIDs(t); strings.Join(ids, ",") != "qgate_open" {
		t.Errorf("mixed review %d buttons = %v, want only the link", r2.ID, ids)
	}
}

func TestEndedAndExecutedUpdate(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders")
	f.slack.WaitCalls(t, "chat.postMessage", 1)
	if _, err := f.engine.Cancel(context.Background(), r.ID, "client went away"); err != nil {
		t.Fatal(err)
	}
	upd := f.slack.WaitCalls(t, "chat.update", 1)[0]
	if blocks := upd.Blocks(t); !strings.Contains(blocks, "Cancelled") || !strings.Contains(blocks, "client went away") {
		t.Errorf("update = %s", blocks)
	}
	if ids := upd.ActionIDs(t); len(ids) != 0 {
		t.Errorf("buttons = %v", ids)
	}
}

func TestNotifyNeverBlocks(t *testing.T) {
	stuck := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stuck)
	n := slack.New(slack.Options{Token: token, Channel: channel, APIURL: srv.URL + "/", QueueSize: 2,
		Logger: slog.New(slog.DiscardHandler), Backoff: func(int) time.Duration { return time.Millisecond }})
	defer n.Close()
	start := time.Now()
	for i := range 50 {
		n.Notify(context.Background(), qgate.ReviewEvent{Type: qgate.ReviewCreated, Review: &qgate.Review{ID: int64(i + 1)}})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Notify took %v", d)
	}
	if s := n.Stats(); s.Dropped == 0 {
		t.Errorf("stats = %+v, want drops", s)
	}
}

func TestRetriesServerErrors(t *testing.T) {
	var mu sync.Mutex
	attempts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		a := attempts
		mu.Unlock()
		if a < 3 {
			http.Error(w, "oops", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true,"channel":"C0REVIEWS","ts":"1700000000.000100","message":{"type":"message","text":"x"}}`)
	}))
	defer srv.Close()
	n := slack.New(slack.Options{Token: token, Channel: channel, APIURL: srv.URL + "/",
		Logger: slog.New(slog.DiscardHandler), Backoff: func(int) time.Duration { return time.Millisecond }})
	n.Notify(context.Background(), qgate.ReviewEvent{Type: qgate.ReviewCreated, Review: &qgate.Review{ID: 1, Status: qgate.ReviewPending}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := n.Stats(); s.Posted != 1 || attempts != 3 {
		t.Errorf("stats = %+v after %d attempts", s, attempts)
	}
}

// TestRestartedNotifierUpdatesMessage: the message's place is kept in the
// store, so a new Notifier (qgate restarted) on the same store updates the
// message posted by the old one, with no click to learn it from.
func TestRestartedNotifierUpdatesMessage(t *testing.T) {
	f := newFixture(t)
	f.create(t, "DELETE FROM orders WHERE id = 1")
	r := f.create(t, "DELETE FROM orders WHERE id = 2")
	posts := f.slack.WaitCalls(t, "chat.postMessage", 2)
	ts := f.slack.MessageTS(r.ID)
	if ts == "" || ts == f.slack.MessageTS(r.ID-1) {
		t.Fatalf("fake recorded ts %q for review %d", ts, r.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.notifier.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	restarted := slack.New(slack.Options{Token: token, Channel: channel, APIURL: f.slack.APIURL(), Messages: f.db,
		Logger: slog.New(slog.DiscardHandler), Backoff: func(int) time.Duration { return time.Millisecond }})
	defer restarted.Close()
	f.engine.Notifiers = []qgate.Notifier{restarted}
	if _, err := f.engine.Cancel(context.Background(), r.ID, "client went away"); err != nil {
		t.Fatal(err)
	}
	upd := f.slack.WaitCalls(t, "chat.update", 1)[0]
	if upd.Form.Get("channel") != channel || upd.Form.Get("ts") != ts {
		t.Errorf("updated %s/%s, want the message posted before the restart, %s/%s", upd.Form.Get("channel"), upd.Form.Get("ts"), channel, ts)
	}
	if blocks := upd.Blocks(t); !strings.Contains(blocks, "Cancelled") {
		t.Errorf("update = %s", blocks)
	}
	if len(posts) != 2 || len(f.slack.Calls("chat.postMessage")) != 2 {
		t.Error("the restarted notifier posted a new message")
	}
	if err := restarted.Shutdown(ctx); err != nil { // the worker counts after Slack answers
		t.Fatal(err)
	}
	if s := restarted.Stats(); s.Updated != 1 || s.Failed != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// TestClickTeachesMessage: a click on a message qgate has no record of
// (posted before the store kept them) records it, in memory and in the
// store, so the outcome replaces that message.
func TestClickTeachesMessage(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders")
	f.slack.WaitCalls(t, "chat.postMessage", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.notifier.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Another database with the same review (id 1), but no message
	// reference: as after a restore from a backup older than the message.
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	engine := review.New(db, db, nil)
	created, err := engine.Create(context.Background(), review.Request{
		Request:  &qgate.Request{ID: "req-2", Protocol: qgate.ProtocolPostgres, Target: "orders-db", Principal: qgate.Principal{Identity: "carol"}},
		Decision: qgate.Decision{Action: qgate.ActionReview, Requirements: []qgate.ReviewRequirement{{Policy: "p", Approvers: []string{"dba"}, Quorum: 1, Timeout: time.Hour}}},
		Payload:  "DELETE FROM orders", PayloadHash: review.Hash("DELETE FROM orders"), Shape: "sql:x",
	})
	if err != nil || created.ID != r.ID {
		t.Fatalf("created %v, %v; want review %d", created, err, r.ID)
	}
	n := slack.New(slack.Options{Token: token, Channel: channel, APIURL: f.slack.APIURL(), Messages: db, Reviews: engine,
		Identities:    (&slack.Directory{Emails: map[string]string{"alice@example.com": "alice"}, GroupsOf: func(string) []string { return []string{"dba"} }}).Lookup,
		SigningSecret: secret, Logger: slog.New(slog.DiscardHandler), Backoff: func(int) time.Duration { return time.Millisecond }})
	defer n.Close()
	engine.Notifiers = []qgate.Notifier{n}
	body := f.slack.Click("U0ALICE", slack.ActionApprove, r.ID)
	rec := httptest.NewRecorder()
	n.InteractionHandler().ServeHTTP(rec, slacktest.Request("/slack/interactions", secret, time.Now(), body))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	upd := f.slack.WaitCalls(t, "chat.update", 1)[0]
	if want := f.slack.MessageTS(r.ID); upd.Form.Get("ts") != want {
		t.Errorf("updated ts %s, want the clicked message %s", upd.Form.Get("ts"), want)
	}
	if _, ts, err := db.SlackMessage(context.Background(), r.ID); err != nil || ts != f.slack.MessageTS(r.ID) {
		t.Errorf("stored message: %s, %v", ts, err)
	}
}

func TestDirectory(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, id := range []*qgate.Identity{
		{Name: "alice", Email: "Alice@Example.com"},
		{Name: "bob", Email: "bob@example.com"},
		{Name: "bob-admin", Email: "bob@example.com"},
		{Name: "carol", Email: "carol@example.com"},
		{Name: "ci-bot"},
	} {
		if err := db.UpsertIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	d := &slack.Directory{
		Emails:   map[string]string{"carol@example.com": "carol-ops", "Dave@Example.com": "dave", "bob@example.com": "bob"},
		Store:    db,
		GroupsOf: func(id string) []string { return map[string][]string{"alice": {"dba"}, "dave": {"dba", "sre"}}[id] },
	}
	for _, c := range []struct {
		email, identity string
		groups          string
		code            string
	}{
		{"alice@example.com", "alice", "dba", ""},   // from the store, any case
		{"carol@example.com", "carol-ops", "", ""},  // config wins over the store
		{"dave@example.com", "dave", "dba,sre", ""}, // config only, any case
		{"bob@example.com", "bob", "", ""},          // config settles a shared e-mail
		{"nobody@example.com", "", "", qgate.ENOTFOUND},
		{"", "", "", qgate.ENOTFOUND}, // identities without an e-mail never match
	} {
		id, groups, err := d.Lookup(ctx, c.email)
		if id != c.identity || strings.Join(groups, ",") != c.groups || qgate.ErrorCode(err) != c.code {
			t.Errorf("Lookup(%q) = %q %v %v; want %q [%s] code %q", c.email, id, groups, err, c.identity, c.groups, c.code)
		}
	}
	// Two identities with one e-mail, and no config entry: refused.
	d.Emails = nil
	if id, _, err := d.Lookup(ctx, "bob@example.com"); qgate.ErrorCode(err) != qgate.EFORBIDDEN {
		t.Errorf("shared e-mail: %q, %v; want EFORBIDDEN", id, err)
	}
}

func TestAmbiguousEmailRefusedInSlack(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders")
	f.slack.WaitCalls(t, "chat.postMessage", 1)
	f.slack.AddUser("U0BOB", "bob@example.com")
	for _, name := range []string{"bob", "robert"} {
		if err := f.db.UpsertIdentity(context.Background(), &qgate.Identity{Name: name, Email: "bob@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	n := slack.New(slack.Options{Token: token, Channel: channel, APIURL: f.slack.APIURL(), Reviews: f.engine, Messages: f.db,
		Identities:    (&slack.Directory{Store: f.db, GroupsOf: func(string) []string { return []string{"dba"} }}).Lookup,
		SigningSecret: secret, Logger: slog.New(slog.DiscardHandler)})
	defer n.Close()
	rec := httptest.NewRecorder()
	n.InteractionHandler().ServeHTTP(rec, slacktest.Request("/slack/interactions", secret, time.Now(), f.click("U0BOB", slack.ActionApprove, r.ID)))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	reply := f.slack.WaitCalls(t, "response_url", 1)[0]
	if !strings.Contains(reply.Text(), "cannot be linked to one qgate identity") {
		t.Errorf("reply = %q", reply.Text())
	}
	if got := f.review(t, r.ID); got.Status != qgate.ReviewPending || len(got.Votes) != 0 {
		t.Errorf("ambiguous e-mail decided: %s %+v", got.Status, got.Votes)
	}
}

// TestResponseURLRestricted: ephemeral replies go only to Slack's hooks
// host or the configured API's host, never to a URL elsewhere, even in a
// correctly signed payload.
func TestResponseURLRestricted(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders") // requested by carol: her click is refused with a reply
	f.slack.WaitCalls(t, "chat.postMessage", 1)
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	body := f.click("U0CAROL", slack.ActionApprove, r.ID)
	form, _ := url.ParseQuery(string(body))
	payload := strings.Replace(form.Get("payload"), jsonString(f.slack.ResponseURL()), jsonString(other.URL+"/actions/T0001/1/x"), 1)
	body = []byte(url.Values{"payload": {payload}}.Encode())
	if rec := f.signedPost(body, f.now); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	// The same click with Slack's response_url is answered: wait for it,
	// so the first one has been handled too.
	if rec := f.signedPost(f.click("U0CAROL", slack.ActionApprove, r.ID), f.now.Add(time.Second)); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	f.slack.WaitCalls(t, "response_url", 1)
	time.Sleep(50 * time.Millisecond)
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("%d replies went to a host that is not Slack's", n)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

func TestSignMatchesSlack(t *testing.T) {
	// Slack's documented example
	// (https://api.slack.com/authentication/verifying-requests-from-slack).
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
	key := []byte("8f742231b10e8888abcd99yyyzzz85a5")
	const want = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	if got := slack.Sign(key, "1531420618", body); got != want {
		t.Errorf("slack.Sign = %s, want %s", got, want)
	}
	if got := slacktest.Sign(key, "1531420618", body); got != want {
		t.Errorf("slacktest.Sign = %s, want %s", got, want)
	}
}
