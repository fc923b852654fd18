package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/notify/slack"
	"github.com/qgate/qgate/review"
	"github.com/qgate/qgate/store/sqlite"
)

const (
	token   = "xoxb-test-token"
	channel = "C0REVIEWS"
)

var secret = []byte("8f742231b10e8888abcd99yyyzzz85a5")

// call is one request the fake Slack received.
type call struct {
	Method string // "chat.postMessage", "users.info", "response_url", …
	Auth   string
	Form   url.Values
	JSON   map[string]any // response_url bodies
}

// fakeSlack implements the Web API methods qgate uses, answering with
// Slack's JSON shapes, and a response_url endpoint.
type fakeSlack struct {
	*httptest.Server
	mu    sync.Mutex
	calls []call
	users map[string]string // Slack user id -> profile e-mail
	seq   int
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{users: map[string]string{
		"U0ALICE": "alice@example.com", "U0CAROL": "carol@example.com", "U0MALLORY": "mallory@elsewhere.example",
	}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSlack) APIURL() string      { return f.URL + "/api/" }
func (f *fakeSlack) ResponseURL() string { return f.URL + "/actions/T0001/123/abc" }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/actions/") {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.calls = append(f.calls, call{Method: "response_url", JSON: body})
		w.WriteHeader(http.StatusOK)
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	_ = r.ParseForm()
	c := call{Method: method, Auth: r.Header.Get("Authorization"), Form: r.PostForm}
	f.calls = append(f.calls, c)
	if c.Auth != "Bearer "+token && r.PostForm.Get("token") != token {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	switch method {
	case "chat.postMessage":
		if r.PostForm.Get("channel") != channel {
			writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		f.seq++
		ts := fmt.Sprintf("1700000000.%06d", 100*f.seq)
		writeJSON(w, map[string]any{"ok": true, "channel": channel, "ts": ts, "message": map[string]any{
			"type": "message", "subtype": "bot_message", "text": r.PostForm.Get("text"), "ts": ts,
			"bot_id": "B0QGATE", "app_id": "A0QGATE", "blocks": json.RawMessage(orNull(r.PostForm.Get("blocks"))),
		}})
	case "chat.update":
		writeJSON(w, map[string]any{"ok": true, "channel": r.PostForm.Get("channel"), "ts": r.PostForm.Get("ts"),
			"text": r.PostForm.Get("text"), "message": map[string]any{
				"type": "message", "text": r.PostForm.Get("text"), "bot_id": "B0QGATE",
				"blocks": json.RawMessage(orNull(r.PostForm.Get("blocks"))), "edited": map[string]any{"user": "B0QGATE", "ts": "1700000001.000000"},
			}})
	case "users.info":
		id := r.PostForm.Get("user")
		email, ok := f.users[id]
		if !ok {
			writeJSON(w, map[string]any{"ok": false, "error": "user_not_found"})
			return
		}
		name := strings.Split(email, "@")[0]
		writeJSON(w, map[string]any{"ok": true, "user": map[string]any{
			"id": id, "team_id": "T0001", "name": name, "deleted": false, "real_name": name, "tz": "Europe/Paris",
			"is_admin": false, "is_bot": false, "updated": 1700000000,
			"profile": map[string]any{"real_name": name, "display_name": name, "email": email, "team": "T0001"},
		}})
	default:
		writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

func (f *fakeSlack) Calls(method string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// waitCalls waits until the fake has received n calls of method.
func (f *fakeSlack) waitCalls(t *testing.T, method string, n int) []call {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cs := f.Calls(method)
		if len(cs) >= n {
			return cs
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d %s calls, want %d", len(cs), method, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type fixture struct {
	slack    *fakeSlack
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
	f := &fixture{slack: newFakeSlack(t), engine: review.New(db, db, nil), now: time.Now()}
	f.engine.PublicURL = "https://qgate.example"
	f.notifier = slack.New(slack.Options{
		Token: token, Channel: channel, APIURL: f.slack.APIURL(),
		Reviews: f.engine,
		Identities: func(email string) (string, []string, bool) {
			switch email {
			case "alice@example.com":
				return "alice", []string{"dba"}, true
			case "carol@example.com":
				return "carol", []string{"dba"}, true
			}
			return "", nil, false
		},
		SigningSecret:     secret,
		PublicURL:         "https://qgate.example",
		ResponseURLPrefix: f.slack.URL + "/actions/",
		Logger:            slog.New(slog.DiscardHandler),
		Now:               func() time.Time { return f.now },
		Backoff:           func(int) time.Duration { return time.Millisecond },
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
	payload := map[string]any{
		"type": "block_actions", "team": map[string]any{"id": "T0001", "domain": "example"},
		"user":         map[string]any{"id": user, "username": strings.ToLower(user), "team_id": "T0001"},
		"api_app_id":   "A0QGATE",
		"token":        "legacy-verification-token",
		"container":    map[string]any{"type": "message", "message_ts": "1700000000.000100", "channel_id": channel, "is_ephemeral": false},
		"trigger_id":   "123.456.abc",
		"channel":      map[string]any{"id": channel, "name": "reviews"},
		"response_url": f.slack.ResponseURL(),
		"actions": []map[string]any{{
			"action_id": actionID, "block_id": "qgate_review_" + strconv.FormatInt(id, 10), "type": "button",
			"value": strconv.FormatInt(id, 10), "action_ts": "1700000002.000200",
			"text": map[string]any{"type": "plain_text", "text": "Approve", "emoji": true},
		}},
	}
	b, _ := json.Marshal(payload)
	return []byte(url.Values{"payload": {string(b)}}.Encode())
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
	return f.post(body, ts, slack.Sign(secret, strconv.FormatInt(ts.Unix(), 10), body))
}

func blocksOf(t *testing.T, c call) string {
	t.Helper()
	var blocks slackapi.Blocks // Slack's shapes decode
	if err := json.Unmarshal([]byte(c.Form.Get("blocks")), &blocks); err != nil {
		t.Fatalf("blocks: %v", err)
	}
	// Re-encode without HTML escaping, so that tests see the text as Slack does.
	var v any
	_ = json.Unmarshal([]byte(c.Form.Get("blocks")), &v)
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.String()
}

func actionIDs(t *testing.T, c call) []string {
	t.Helper()
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(c.Form.Get("blocks")), &blocks); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range blocks {
		if b["type"] != "actions" {
			continue
		}
		for _, e := range b["elements"].([]any) {
			ids = append(ids, e.(map[string]any)["action_id"].(string))
		}
	}
	return ids
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
	post := f.slack.waitCalls(t, "chat.postMessage", 1)[0]
	if post.Auth != "Bearer "+token && post.Form.Get("token") != token {
		t.Error("no bot token sent")
	}
	if got := post.Form.Get("channel"); got != channel {
		t.Errorf("channel = %q", got)
	}
	blocks := blocksOf(t, post)
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
	if got := actionIDs(t, post); strings.Join(got, ",") != "qgate_approve,qgate_reject,qgate_open" {
		t.Errorf("buttons = %v", got)
	}
	if !strings.Contains(post.Form.Get("text"), "Review #") {
		t.Errorf("fallback text = %q", post.Form.Get("text"))
	}
}

func TestSignedApprovalDecidesAndUpdatesMessage(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders WHERE id = 42")
	f.slack.waitCalls(t, "chat.postMessage", 1)

	rec := f.signedPost(f.click("U0ALICE", slack.ActionApprove, r.ID), f.now)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	upd := f.slack.waitCalls(t, "chat.update", 1)[0]
	if upd.Form.Get("channel") != channel || upd.Form.Get("ts") != "1700000000.000100" {
		t.Errorf("updated %s/%s, want the posted message", upd.Form.Get("channel"), upd.Form.Get("ts"))
	}
	blocks := blocksOf(t, upd)
	if !strings.Contains(blocks, "Approved* by alice") {
		t.Errorf("update lacks outcome: %s", blocks)
	}
	if ids := actionIDs(t, upd); len(ids) != 0 {
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
	f.slack.waitCalls(t, "chat.postMessage", 1)
	if rec := f.signedPost(f.click("U0ALICE", slack.ActionReject, r.ID), f.now); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	upd := f.slack.waitCalls(t, "chat.update", 1)[0]
	if blocks := blocksOf(t, upd); !strings.Contains(blocks, "Rejected* by alice") {
		t.Errorf("update lacks outcome: %s", blocks)
	}
	if got := f.review(t, r.ID); got.Status != qgate.ReviewRejected {
		t.Errorf("status = %s", got.Status)
	}
}

func TestRefusedRequests(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders")
	f.slack.waitCalls(t, "chat.postMessage", 1)
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
		f.slack.waitCalls(t, "chat.update", 1)
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
	f.slack.waitCalls(t, "chat.postMessage", 1)
	for _, user := range []string{"U0MALLORY", "U0NOBODY"} { // unknown e-mail; unknown to Slack
		if rec := f.signedPost(f.click(user, slack.ActionApprove, r.ID), f.now); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	}
	replies := f.slack.waitCalls(t, "response_url", 2)
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
	f.slack.waitCalls(t, "chat.postMessage", 1)
	if rec := f.signedPost(f.click("U0CAROL", slack.ActionApprove, r.ID), f.now); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	reply := f.slack.waitCalls(t, "response_url", 1)[0]
	if text, _ := reply.JSON["text"].(string); !strings.Contains(text, "your own request") {
		t.Errorf("reply = %q", text)
	}
	if got := f.review(t, r.ID); got.Status != qgate.ReviewPending || len(got.Votes) != 0 {
		t.Errorf("self-approval recorded: %s %+v", got.Status, got.Votes)
	}
}

func TestQuorumKeepsButtons(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders", qgate.ReviewRequirement{Policy: "two-person", Approvers: []string{"dba"}, Quorum: 2, Timeout: time.Hour})
	f.slack.waitCalls(t, "chat.postMessage", 1)
	if rec := f.signedPost(f.click("U0ALICE", slack.ActionApprove, r.ID), f.now); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	reply := f.slack.waitCalls(t, "response_url", 1)[0]
	if text, _ := reply.JSON["text"].(string); !strings.Contains(text, "still needs more approvals") {
		t.Errorf("reply = %q", text)
	}
	upd := f.slack.waitCalls(t, "chat.update", 1)[0]
	if blocks := blocksOf(t, upd); !strings.Contains(blocks, "Approved so far by alice") {
		t.Errorf("update = %s", blocks)
	}
	if ids := actionIDs(t, upd); len(ids) != 3 {
		t.Errorf("buttons = %v", ids)
	}
}

func TestLinkModeHasNoButtonsAndRefusesApprovals(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders",
		qgate.ReviewRequirement{Policy: "sso-only", Approvers: []string{"dba"}, Quorum: 1, Timeout: time.Hour, SlackMode: "link"})
	post := f.slack.waitCalls(t, "chat.postMessage", 1)[0]
	if ids := actionIDs(t, post); strings.Join(ids, ",") != "qgate_open" {
		t.Errorf("buttons = %v, want only the link", ids)
	}
	if blocks := blocksOf(t, post); !strings.Contains(blocks, `"url":"https://qgate.example/reviews/`) {
		t.Errorf("no link button: %s", blocks)
	}
	// A forged click (an old message, or a crafted payload signed by Slack).
	if rec := f.signedPost(f.click("U0ALICE", slack.ActionApprove, r.ID), f.now); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	reply := f.slack.waitCalls(t, "response_url", 1)[0]
	if text, _ := reply.JSON["text"].(string); !strings.Contains(text, "must be decided in qgate") {
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
	post2 := f.slack.waitCalls(t, "chat.postMessage", 2)[1]
	if ids := actionIDs(t, post2); strings.Join(ids, ",") != "qgate_open" {
		t.Errorf("mixed review %d buttons = %v, want only the link", r2.ID, ids)
	}
}

func TestEndedAndExecutedUpdate(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, "DELETE FROM orders")
	f.slack.waitCalls(t, "chat.postMessage", 1)
	if _, err := f.engine.Cancel(context.Background(), r.ID, "client went away"); err != nil {
		t.Fatal(err)
	}
	upd := f.slack.waitCalls(t, "chat.update", 1)[0]
	if blocks := blocksOf(t, upd); !strings.Contains(blocks, "Cancelled") || !strings.Contains(blocks, "client went away") {
		t.Errorf("update = %s", blocks)
	}
	if ids := actionIDs(t, upd); len(ids) != 0 {
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
