package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/internal/syncbuf"
	"github.com/qgate/qgate/review"
	"github.com/qgate/qgate/store/sqlite"
	"github.com/qgate/qgate/web"
)

// apiEnv is a running REST API on a real store, for the reviews command.
type apiEnv struct {
	URL    string
	engine *review.Engine
	auth   *auth.Authenticator
	tokens map[string]string
}

func mustAPI(tb testing.TB) *apiEnv {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "qgate.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	rand.Read(key)
	a := auth.New(st, key)
	log := audit.NewLog(st, audit.LogOptions{})
	tb.Cleanup(func() { log.Close() })
	eng := review.New(st, st, log)
	eng.PublicURL = "http://qgate.test"
	s := web.New(eng, st, a, log)
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s.GroupsOf = func(id string) []string {
		switch {
		case slices.Contains([]string{"alice", "bob"}, id):
			return []string{"dba"}
		case id == "dave":
			return []string{"sre"}
		}
		return nil
	}
	hs := httptest.NewServer(s.Handler())
	tb.Cleanup(hs.Close)
	tb.Cleanup(s.Close)
	e := &apiEnv{URL: hs.URL, engine: eng, auth: a, tokens: map[string]string{}}
	for _, id := range []string{"rita", "alice", "bob", "dave"} {
		tok, _, err := a.Issue(context.Background(), auth.IssueRequest{Identity: id})
		if err != nil {
			tb.Fatal(err)
		}
		e.tokens[id] = tok
	}
	return e
}

const reviewPayload = "DELETE FROM invoices"

// mustReview creates a pending review requested by rita that needs one dba.
func (e *apiEnv) mustReview(tb testing.TB) *qgate.Review {
	tb.Helper()
	tokenID, _, _ := auth.Parse(e.tokens["rita"])
	r, err := e.engine.Create(context.Background(), review.Request{
		Request: &qgate.Request{ID: "req-1", Protocol: qgate.ProtocolPostgres, Target: "billing-db", Environment: "prod",
			SourceIP: "10.9.8.7", Principal: qgate.Principal{TokenID: tokenID, Identity: "rita"}},
		Decision: qgate.Decision{Action: qgate.ActionReview,
			Matched:      []qgate.MatchedPolicy{{Name: "prod-writes-need-a-dba", Action: qgate.ActionReview}},
			Requirements: []qgate.ReviewRequirement{{Policy: "prod-writes-need-a-dba", Approvers: []string{"dba"}, Quorum: 1}},
			Risk: qgate.NewRisk([]qgate.Finding{{Code: "delete-without-where", Severity: qgate.SeverityCritical,
				Message: "DELETE without WHERE", Start: 0, End: 6}})},
		Payload: reviewPayload, PayloadHash: review.Hash(reviewPayload), Shape: "fp",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// as runs the CLI against the API with identity's token.
func (e *apiEnv) as(t *testing.T, identity string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Setenv("QGATE_SERVER", e.URL)
	t.Setenv("QGATE_TOKEN", e.tokens[identity])
	return run(t, "", args...)
}

func TestReviews_ListCLI(t *testing.T) {
	e := mustAPI(t)
	r := e.mustReview(t)

	out, errOut, code := e.as(t, "alice", "reviews", "list", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []struct {
		ID             int64
		Status, Target string
		Requester      string
		CanDecide      bool `json:"can_decide"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(got) != 1 || got[0].ID != r.ID || got[0].Status != "pending" || got[0].Target != "billing-db" ||
		got[0].Requester != "rita" || !got[0].CanDecide {
		t.Fatalf("got %+v", got)
	}

	out, _, code = e.as(t, "alice", "reviews", "list")
	if code != 0 || !strings.Contains(out, "REQUESTER") || !strings.Contains(out, "rita") ||
		!strings.Contains(out, "critical") || !strings.Contains(out, reviewPayload) {
		t.Fatalf("table: exit %d\n%s", code, out)
	}

	// Approved reviews drop out of the default (pending) list, not of --status all.
	if _, errOut, code := e.as(t, "alice", "reviews", "approve", "1"); code != 0 {
		t.Fatalf("approve: %d %s", code, errOut)
	}
	out, _, _ = e.as(t, "alice", "reviews", "list", "--json")
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("pending after approval: %s", out)
	}
	out, _, _ = e.as(t, "alice", "reviews", "list", "--status", "all", "--json")
	if !strings.Contains(out, `"status": "approved"`) {
		t.Fatalf("--status all: %s", out)
	}
}

func TestReviews_ShowCLI(t *testing.T) {
	e := mustAPI(t)
	e.mustReview(t)
	out, errOut, code := e.as(t, "alice", "reviews", "show", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Review 1: pending (you can decide: yes)",
		"rita", "10.9.8.7", "billing-db (prod, postgres)",
		"prod-writes-need-a-dba (review)",
		"prod-writes-need-a-dba: 0 of 1 approvals from dba",
		"[critical] delete-without-where: DELETE without WHERE",
		">>>DELETE<<<",
		"  " + reviewPayload,
		"none yet",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	out, _, code = e.as(t, "alice", "reviews", "show", "1", "--json")
	if code != 0 || !json.Valid([]byte(out)) || !strings.Contains(out, `"source_ip": "10.9.8.7"`) {
		t.Fatalf("show --json: %d %s", code, out)
	}
}

func TestReviews_ApproveRejectCLI(t *testing.T) {
	t.Run("Approve", func(t *testing.T) {
		e := mustAPI(t)
		e.mustReview(t)
		out, errOut, code := e.as(t, "alice", "reviews", "approve", "1", "--comment", "ok", "--grant", "30m")
		if code != 0 || strings.TrimSpace(out) != "review 1 approved" {
			t.Fatalf("exit %d: %q %s", code, out, errOut)
		}
		_, errOut, code = e.as(t, "bob", "reviews", "approve", "1")
		if code != exitError || !strings.Contains(errOut, "already approved") {
			t.Fatalf("second approval: exit %d: %s", code, errOut)
		}
	})
	t.Run("Reject", func(t *testing.T) {
		e := mustAPI(t)
		e.mustReview(t)
		out, errOut, code := e.as(t, "bob", "reviews", "reject", "1", "--comment", "use a WHERE clause")
		if code != 0 || strings.TrimSpace(out) != "review 1 rejected: rejected by bob: use a WHERE clause" {
			t.Fatalf("exit %d: %q %s", code, out, errOut)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		e := mustAPI(t)
		e.mustReview(t)
		for _, tt := range []struct {
			name, who string
			args      []string
			code      int
			want      string
		}{
			{"Self", "rita", []string{"reviews", "approve", "1"}, exitError, "your own request"},
			{"NotInGroup", "dave", []string{"reviews", "reject", "1"}, exitError, "not in a group"},
			{"NotFound", "alice", []string{"reviews", "show", "99"}, exitError, "review 99 not found"},
			{"BadID", "alice", []string{"reviews", "show", "x"}, exitUsage, "positive number"},
			{"BadGrant", "alice", []string{"reviews", "approve", "1", "--grant", "soon"}, exitUsage, "--grant"},
			{"BadStatus", "alice", []string{"reviews", "list", "--status", "done"}, exitUsage, "status must be"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, errOut, code := e.as(t, tt.who, tt.args...)
				if code != tt.code || !strings.Contains(errOut, tt.want) {
					t.Fatalf("exit %d (want %d): %s", code, tt.code, errOut)
				}
			})
		}
	})
}

func TestReviews_EnvironmentCLI(t *testing.T) {
	e := mustAPI(t)
	t.Setenv("QGATE_SERVER", e.URL)
	t.Setenv("QGATE_TOKEN", "")
	_, errOut, code := run(t, "", "reviews", "list")
	if code != exitUsage || !strings.Contains(errOut, "QGATE_TOKEN is not set") {
		t.Fatalf("no token: exit %d: %s", code, errOut)
	}
	t.Setenv("QGATE_TOKEN", "qgt_notavalidtoken")
	_, errOut, code = run(t, "", "reviews", "list")
	if code != exitError || !strings.Contains(errOut, "invalid token") {
		t.Fatalf("bad token: exit %d: %s", code, errOut)
	}
	t.Setenv("QGATE_TOKEN", e.tokens["alice"])
	_, errOut, code = run(t, "", "reviews", "list", "--server", "http://127.0.0.1:1")
	if code != exitInternal || !strings.Contains(errOut, "cannot reach qgate") {
		t.Fatalf("no server: exit %d: %s", code, errOut)
	}
	_, errOut, code = run(t, "", "reviews", "list", "--server", "localhost:8080")
	if code != exitUsage {
		t.Fatalf("bad URL: exit %d: %s", code, errOut)
	}
}

// waitFor polls f until it holds or a second passes.
func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReviews_WatchCLI(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		name := "Text"
		if asJSON {
			name = "JSON"
		}
		t.Run(name, func(t *testing.T) {
			e := mustAPI(t)
			t.Setenv("QGATE_SERVER", e.URL)
			t.Setenv("QGATE_TOKEN", e.tokens["alice"])
			args := []string{"reviews", "watch"}
			if asJSON {
				args = append(args, "--json")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out, errOut syncbuf.Buffer
			done := make(chan int)
			go func() { done <- Run(ctx, args, strings.NewReader(""), &out, &errOut) }()
			waitFor(t, "the stream to open", func() bool { return strings.Contains(errOut.String(), "watching reviews") })

			r := e.mustReview(t)
			waitFor(t, "the review's line", func() bool { return strings.Contains(out.String(), "\n") })
			line := strings.TrimSpace(out.String())
			if asJSON {
				var got struct {
					Event     string
					ID        int64
					Status    string
					Requester string
				}
				if err := json.Unmarshal([]byte(line), &got); err != nil {
					t.Fatalf("not one JSON object per line: %v: %s", err, line)
				}
				if got.Event != qgate.ReviewCreated || got.ID != r.ID || got.Status != "pending" || got.Requester != "rita" {
					t.Fatalf("got %+v", got)
				}
			} else if !strings.Contains(line, "review.created") || !strings.Contains(line, "#1") || !strings.Contains(line, "rita") {
				t.Fatalf("line: %q", line)
			}
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Fatalf("exit %d after interrupt: %s", code, errOut.String())
				}
			case <-time.After(2 * time.Second):
				t.Fatal("watch did not stop when interrupted")
			}
		})
	}
}
