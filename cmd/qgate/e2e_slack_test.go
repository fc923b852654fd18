package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/internal/slacktest"
	"github.com/qgate/qgate/notify/slack"
)

const (
	e2eSlackToken   = "xoxb-e2e-0000-token"
	e2eSlackChannel = "C0E2EREVIEW"
)

var e2eSlackSecret = []byte("e2e-signing-secret-8f742231b10e88")

// slackE2E is the server with a slack section pointing at a fake Slack.
type slackE2E struct {
	*e2e
	slack *slacktest.Server
}

func startSlackE2E(t *testing.T, hold string) *slackE2E {
	t.Helper()
	fake := slacktest.New(t, e2eSlackToken, e2eSlackChannel)
	fake.AddUser("U0DANA", "dana@example.com")     // the requester, mapped by the configuration
	fake.AddUser("U0ALICE", "alice@example.com")   // a dba, mapped by her identity's stored e-mail
	fake.AddUser("U0BOB", "Bob@Example.com")       // a dba, mapped by the configuration, any case
	fake.AddUser("U0EVE", "eve@elsewhere.example") // nobody in qgate
	dir := t.TempDir()
	for name, v := range map[string][]byte{"slack.token": []byte(e2eSlackToken + "\n"), "slack.secret": e2eSlackSecret} {
		if err := os.WriteFile(filepath.Join(dir, name), v, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	extra := fmt.Sprintf(`slack:
  token_file: %[1]s/slack.token
  signing_secret_file: %[1]s/slack.secret
  channel: %[2]s
  api_url: %[3]s
  identities:
    dana@example.com: dana
    bob@example.com: bob
`, dir, e2eSlackChannel, fake.APIURL())
	policies := `  - name: patches-behind-sso
    targets: [api]
    when: http.method == 'PATCH'
    action: review
    review: {approvers: [dba], timeout: 1m, slack: link}
`
	e := startE2EWith(t, hold, extra, policies)
	if err := e.srv.Store.UpsertIdentity(context.Background(), &qgate.Identity{Name: "alice", Email: "alice@example.com", Kind: "person"}); err != nil {
		t.Fatal(err)
	}
	return &slackE2E{e2e: e, slack: fake}
}

// interact posts a body to /slack/interactions as Slack does, signed
// with secret at time at.
func (e *slackE2E) interact(secret []byte, at time.Time, body []byte) int {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(slacktest.Request(e.srv.URL()+SlackInteractionsPath, secret, at, body))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (e *slackE2E) status(id int64) (qgate.ReviewStatus, int) {
	e.t.Helper()
	r, err := e.srv.Reviews.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Status, len(r.Votes)
}

// waitUpdate waits for a chat.update of the message ts whose blocks
// contain want.
func (e *slackE2E) waitUpdate(ts, want string) slacktest.Call {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, c := range e.slack.Calls("chat.update") {
			if c.Form.Get("ts") == ts && strings.Contains(c.Blocks(e.t), want) {
				return c
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no chat.update of %s containing %q", ts, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestE2E_SlackApproval(t *testing.T) {
	e := startSlackE2E(t, "10s")
	held := e.async(context.Background(), "dana", "DELETE", "/v1/items/1", "")
	id := e.pendingReview()

	post := e.slack.WaitCalls(t, "chat.postMessage", 1)[0]
	if post.Form.Get("channel") != e2eSlackChannel {
		t.Errorf("posted to %q", post.Form.Get("channel"))
	}
	if got := post.ActionIDs(t); !slices.Equal(got, []string{slack.ActionApprove, slack.ActionReject, slack.ActionOpen}) {
		t.Errorf("buttons = %v", got)
	}
	blocks := post.Blocks(t)
	for _, want := range []string{"dana", "api (staging)", "deletes-need-a-dba", "DELETE /v1/items/1", fmt.Sprintf("http://qgate.test/reviews/%d", id)} {
		if !strings.Contains(blocks, want) {
			t.Errorf("message lacks %q: %s", want, blocks)
		}
	}
	ts := e.slack.MessageTS(id)

	t.Run("BadSignature", func(t *testing.T) {
		body := e.slack.Click("U0ALICE", slack.ActionApprove, id)
		if code := e.interact([]byte("not-the-signing-secret"), time.Now(), body); code != http.StatusUnauthorized {
			t.Errorf("wrong secret: status %d, want 401", code)
		}
		if code := e.interact(e2eSlackSecret, time.Now().Add(-6*time.Minute), body); code != http.StatusUnauthorized {
			t.Errorf("stale timestamp: status %d, want 401", code)
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(e.slack.Calls("users.info")); n != 0 {
			t.Errorf("refused requests looked up %d users", n)
		}
		if st, votes := e.status(id); st != qgate.ReviewPending || votes != 0 {
			t.Errorf("refused requests decided: %s, %d votes", st, votes)
		}
	})

	t.Run("RequesterRefused", func(t *testing.T) {
		if code := e.interact(e2eSlackSecret, time.Now(), e.slack.Click("U0DANA", slack.ActionApprove, id)); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		reply := e.slack.WaitCalls(t, "response_url", 1)[0]
		if reply.JSON["response_type"] != "ephemeral" || !strings.Contains(reply.Text(), "your own request") {
			t.Errorf("reply = %v", reply.JSON)
		}
		if st, votes := e.status(id); st != qgate.ReviewPending || votes != 0 {
			t.Errorf("self-approval recorded: %s, %d votes", st, votes)
		}
	})

	t.Run("UnmappedRefused", func(t *testing.T) {
		if code := e.interact(e2eSlackSecret, time.Now(), e.slack.Click("U0EVE", slack.ActionApprove, id)); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		reply := e.slack.WaitCalls(t, "response_url", 2)[1]
		if !strings.Contains(reply.Text(), "not linked to a qgate identity") {
			t.Errorf("reply = %q", reply.Text())
		}
		if st, votes := e.status(id); st != qgate.ReviewPending || votes != 0 {
			t.Errorf("unmapped user decided: %s, %d votes", st, votes)
		}
	})
	if _, deletes := e.api.Counts(); deletes != 0 {
		t.Fatalf("the delete ran before approval (%d times)", deletes)
	}

	// alice is a dba known by her identity's e-mail: her click approves,
	// the waiting client gets the upstream's answer.
	if code := e.interact(e2eSlackSecret, time.Now(), e.slack.Click("U0ALICE", slack.ActionApprove, id)); code != http.StatusOK {
		t.Fatalf("approve: status %d", code)
	}
	r := wait(t, held)
	if r.status != 200 || !strings.Contains(r.raw, "invoice-2026-001") {
		t.Fatalf("approved DELETE: %d %s", r.status, r.raw)
	}
	if _, deletes := e.api.Counts(); deletes != 1 {
		t.Fatalf("upstream ran the delete %d times, want once", deletes)
	}
	rv, err := e.srv.Reviews.Get(context.Background(), id)
	if err != nil || rv.Status != qgate.ReviewApproved || len(rv.Votes) != 1 || rv.Votes[0].Identity != "alice" || rv.Votes[0].Comment != "via Slack" {
		t.Fatalf("review after the click: %+v, %v", rv, err)
	}
	upd := e.waitUpdate(ts, "Approved* by alice")
	if ids := upd.ActionIDs(t); len(ids) != 0 {
		t.Errorf("buttons left after the decision: %v", ids)
	}
	if n := len(e.slack.Calls("chat.postMessage")); n != 1 {
		t.Errorf("%d messages posted, want the one updated in place", n)
	}
	// The decision is in the audit log under alice's name.
	events, err := e.srv.Store.ListAudit(context.Background(), qgate.AuditFilter{ReviewID: id})
	if err != nil {
		t.Fatal(err)
	}
	approved := false
	for _, ev := range events {
		approved = approved || (ev.Identity == "alice" && strings.Contains(ev.Action, "approv"))
	}
	if !approved {
		t.Errorf("no audit event of alice's approval among %d", len(events))
	}
}

func TestE2E_SlackRejectByConfiguredEmail(t *testing.T) {
	e := startSlackE2E(t, "10s")
	held := e.async(context.Background(), "dana", "DELETE", "/v1/items/1", "")
	id := e.pendingReview()
	e.slack.WaitCalls(t, "chat.postMessage", 1)
	// bob's Slack e-mail differs in case from slack.identities' entry.
	if code := e.interact(e2eSlackSecret, time.Now(), e.slack.Click("U0BOB", slack.ActionReject, id)); code != http.StatusOK {
		t.Fatalf("reject: status %d", code)
	}
	if r := wait(t, held); r.status != 403 {
		t.Fatalf("rejected DELETE: %d %s", r.status, r.raw)
	}
	if _, deletes := e.api.Counts(); deletes != 0 {
		t.Fatal("a rejected delete reached the upstream")
	}
	e.waitUpdate(e.slack.MessageTS(id), "Rejected* by bob")
}

func TestE2E_SlackLinkOnly(t *testing.T) {
	e := startSlackE2E(t, "10s")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	held := e.async(ctx, "dana", "PATCH", "/v1/items/2", `{"name":"x"}`, "Content-Type: application/json")
	id := e.pendingReview()
	post := e.slack.WaitCalls(t, "chat.postMessage", 1)[0]
	if got := post.ActionIDs(t); !slices.Equal(got, []string{slack.ActionOpen}) {
		t.Errorf("link-only buttons = %v, want only the link", got)
	}
	if blocks := post.Blocks(t); !strings.Contains(blocks, fmt.Sprintf(`"url":"http://qgate.test/reviews/%d"`, id)) {
		t.Errorf("no link to the review: %s", blocks)
	}
	// A forged Approve click (signed, but for a button that was never
	// shown) is refused.
	if code := e.interact(e2eSlackSecret, time.Now(), e.slack.Click("U0ALICE", slack.ActionApprove, id)); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	reply := e.slack.WaitCalls(t, "response_url", 1)[0]
	if !strings.Contains(reply.Text(), "must be decided in qgate") {
		t.Errorf("reply = %q", reply.Text())
	}
	if st, votes := e.status(id); st != qgate.ReviewPending || votes != 0 {
		t.Fatalf("link-only review decided from Slack: %s, %d votes", st, votes)
	}
	// The client gives up: the message says so.
	cancel()
	<-held
	e.waitUpdate(e.slack.MessageTS(id), "Cancelled")
	if hits := e.hits.Load(); hits != 0 {
		t.Errorf("%d requests reached the upstream", hits)
	}
}

// TestE2E_SlackRestart: the message reference is in the store, so a
// restarted server updates the message it posted before the restart.
func TestE2E_SlackRestart(t *testing.T) {
	e := startSlackE2E(t, "200ms")
	r := e.call(context.Background(), "dana", "DELETE", "/v1/items/1", "")
	if r.status != 202 {
		t.Fatalf("held past the hold: %d %s", r.status, r.raw)
	}
	id := e.pendingReview()
	e.slack.WaitCalls(t, "chat.postMessage", 1)
	ts := e.slack.MessageTS(id)
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := e.srv.Config
	s, err := NewServer(cfg, e.srv.Logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.srv = s // closed by startE2E's cleanup
	if st, body := e.rest("alice", "POST", fmt.Sprintf("/api/v1/reviews/%d/approve", id), map[string]string{}); st != 200 {
		t.Fatalf("approve after the restart: %d %v", st, body)
	}
	e.waitUpdate(ts, "Approved* by alice")
	if n := len(e.slack.Calls("chat.postMessage")); n != 1 {
		t.Errorf("%d messages posted, want the first one updated", n)
	}
}
