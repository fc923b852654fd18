package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/metrics"
	"github.com/qgate/qgate/web"
)

func TestReviews_ListAndGet(t *testing.T) {
	e := MustEnv(t)
	r1 := e.MustReview(t, "rita")
	r2 := e.MustReview(t, "erin")

	t.Run("OK", func(t *testing.T) {
		var got []map[string]any
		e.MustDo(t, http.StatusOK, &got, "alice", "GET", "/api/v1/reviews?status=pending", "")
		if len(got) != 2 || got[0]["id"] != float64(r2.ID) || got[1]["id"] != float64(r1.ID) {
			t.Fatalf("want reviews %d, %d newest first, got %v", r2.ID, r1.ID, got)
		}
		for _, field := range []string{"id", "status", "protocol", "target", "environment", "requester", "token_id",
			"source_ip", "payload", "payload_hash", "shape", "decision", "votes", "created_at", "expires_at",
			"url", "can_decide", "progress", "time_left_seconds"} {
			if _, ok := got[0][field]; !ok {
				t.Errorf("review object lacks %q", field)
			}
		}
	})

	t.Run("Get", func(t *testing.T) {
		var got web.Review
		e.MustDo(t, http.StatusOK, &got, "alice", "GET", fmt.Sprintf("/api/v1/reviews/%d", r1.ID), "")
		if got.ID != r1.ID || got.Requester != "rita" || got.SourceIP != "10.1.2.3" || got.Target != "billing-db" ||
			got.Environment != "prod" || got.Payload != payload || got.Status != qgate.ReviewPending {
			t.Fatalf("got %+v", got.Review)
		}
		if got.URL != fmt.Sprintf("http://qgate.test/reviews/%d", r1.ID) || !got.CanDecide {
			t.Fatalf("url %q can_decide %v", got.URL, got.CanDecide)
		}
		if p := got.Progress; len(p) != 1 || p[0].Policy != "p" || strings.Join(p[0].Approvers, ",") != "dba" ||
			p[0].Quorum != 1 || p[0].Approved != 0 {
			t.Fatalf("progress %+v", p)
		}
		if got.TimeLeftSeconds <= 0 || got.TimeLeftSeconds > 15*60 {
			t.Fatalf("time_left_seconds %d", got.TimeLeftSeconds)
		}
		f := got.Decision.Risk.Findings
		if len(f) != 1 || f[0].Start != 0 || f[0].End != len(payload) || got.Decision.Matched[0].Name != "p" {
			t.Fatalf("decision %+v", got.Decision)
		}
	})

	t.Run("CanDecideIsPerCaller", func(t *testing.T) {
		for id, want := range map[string]bool{"alice": true, "dave": false, "rita": false} {
			var got web.Review
			e.MustDo(t, http.StatusOK, &got, id, "GET", fmt.Sprintf("/api/v1/reviews/%d", r1.ID), "")
			if got.CanDecide != want {
				t.Errorf("%s: can_decide %v, want %v", id, got.CanDecide, want)
			}
		}
	})

	t.Run("NonStaffSeeTheirOwn", func(t *testing.T) {
		var got []web.Review
		e.MustDo(t, http.StatusOK, &got, "rita", "GET", "/api/v1/reviews", "")
		if len(got) != 1 || got[0].ID != r1.ID {
			t.Fatalf("rita sees %v", got)
		}
		e.MustProblem(t, http.StatusNotFound, qgate.ENOTFOUND, "not found", "rita", "GET", fmt.Sprintf("/api/v1/reviews/%d", r2.ID), "")
	})

	t.Run("NamedApproverSeesIt", func(t *testing.T) {
		e := MustEnv(t)
		e.MustReview(t, "rita")
		named := e.MustReview(t, "rita", qgate.ReviewRequirement{Policy: "p", Approvers: []string{"erin"}, Quorum: 1})
		var got []web.Review
		e.MustDo(t, http.StatusOK, &got, "erin", "GET", "/api/v1/reviews?limit=1", "")
		if len(got) != 1 || got[0].ID != named.ID || !got[0].CanDecide {
			t.Fatalf("erin sees %v", got)
		}
		var rv web.Review
		e.MustDo(t, http.StatusOK, &rv, "erin", "POST", fmt.Sprintf("/api/v1/reviews/%d/approve", named.ID), "")
		if rv.Status != qgate.ReviewApproved {
			t.Fatalf("got %s", rv.Status)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		var got []web.Review
		e.MustDo(t, http.StatusOK, &got, "alice", "GET", "/api/v1/reviews?requester=erin&target=billing-db&limit=5", "")
		if len(got) != 1 || got[0].ID != r2.ID {
			t.Fatalf("got %v", got)
		}
		e.MustDo(t, http.StatusOK, &got, "alice", "GET", "/api/v1/reviews?status=approved", "")
		if len(got) != 0 {
			t.Fatalf("got %v", got)
		}
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "status must be", "alice", "GET", "/api/v1/reviews?status=nope", "")
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "limit", "alice", "GET", "/api/v1/reviews?limit=-1", "")
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		e.MustProblem(t, http.StatusNotFound, qgate.ENOTFOUND, "review 999 not found", "alice", "GET", "/api/v1/reviews/999", "")
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "positive number", "alice", "GET", "/api/v1/reviews/abc", "")
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		e.MustProblem(t, http.StatusUnauthorized, qgate.EUNAUTHORIZED, "Bearer", "", "GET", "/api/v1/reviews", "")
		req, _ := http.NewRequest("GET", e.HTTP.URL+"/api/v1/reviews", nil)
		req.Header.Set("Authorization", "Bearer qgt_aaaaaaaaaaaa_notatoken")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" ||
			resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("bad token: %d %v", resp.StatusCode, resp.Header)
		}
	})
}

func TestReviews_Approve(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e := MustEnv(t)
		r := e.MustReview(t, "rita")
		var got web.Review
		e.MustDo(t, http.StatusOK, &got, "alice", "POST", fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID),
			`{"comment": "looks fine", "grant": "30m"}`)
		if got.Status != qgate.ReviewApproved || len(got.Votes) != 1 || got.Votes[0].Identity != "alice" ||
			got.Votes[0].Comment != "looks fine" || got.Votes[0].Grant != "30m0s" || got.CanDecide || got.TimeLeftSeconds != 0 {
			t.Fatalf("got %+v", got.Review)
		}
		if got.Progress[0].Approved != 1 {
			t.Fatalf("progress %+v", got.Progress)
		}
		// The engine audits the vote once; the API adds nothing.
		if votes := e.AuditEvents(t, qgate.AuditVote); len(votes) != 1 || votes[0].Identity != "alice" {
			t.Fatalf("vote audit: %v", votes)
		}
		var grants []qgate.Grant
		e.MustDo(t, http.StatusOK, &grants, "alice", "GET", "/api/v1/grants", "")
		if len(grants) != 1 || grants[0].ReviewID != r.ID || grants[0].CreatedBy != "alice" {
			t.Fatalf("grants %+v", grants)
		}
	})

	t.Run("ErrSelfApproval", func(t *testing.T) {
		e := MustEnv(t)
		r := e.MustReview(t, "bob") // bob is a dba himself
		e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "your own request", "bob", "POST",
			fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID), "")
		var got web.Review
		e.MustDo(t, http.StatusOK, &got, "bob", "GET", fmt.Sprintf("/api/v1/reviews/%d", r.ID), "")
		if got.CanDecide || got.Status != qgate.ReviewPending {
			t.Fatalf("requester: can_decide %v status %s", got.CanDecide, got.Status)
		}
	})

	t.Run("ErrNotInGroup", func(t *testing.T) {
		e := MustEnv(t)
		r := e.MustReview(t, "rita")
		e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "not in a group", "dave", "POST",
			fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID), `{}`)
		// An admin outside the group is no exception.
		e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "not in a group", "root", "POST",
			fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID), `{}`)
	})

	t.Run("ErrDoubleVote", func(t *testing.T) {
		e := MustEnv(t)
		r := e.MustReview(t, "rita", qgate.ReviewRequirement{Policy: "p", Approvers: []string{"dba"}, Quorum: 2})
		path := fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID)
		e.MustDo(t, http.StatusOK, nil, "alice", "POST", path, "")
		e.MustProblem(t, http.StatusConflict, qgate.ECONFLICT, "already voted", "alice", "POST", path, "")
	})

	t.Run("ErrAlreadyDecided", func(t *testing.T) {
		e := MustEnv(t)
		r := e.MustReview(t, "rita")
		path := fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID)
		e.MustDo(t, http.StatusOK, nil, "alice", "POST", path, "")
		e.MustProblem(t, http.StatusConflict, qgate.ECONFLICT, "already approved", "bob", "POST", path, "")
	})

	t.Run("ErrBadBody", func(t *testing.T) {
		e := MustEnv(t)
		r := e.MustReview(t, "rita")
		path := fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID)
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "invalid JSON", "alice", "POST", path, `{"comment": `)
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, `unknown field "approve"`, "alice", "POST", path, `{"approve": true}`)
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "after the object", "alice", "POST", path, `{} {}`)
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "must be", "alice", "POST", path, `{"comment": 5}`)
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "positive duration", "alice", "POST", path, `{"grant": "forever"}`)
		e.MustProblem(t, http.StatusRequestEntityTooLarge, qgate.EINVALID, "larger than", "alice", "POST", path,
			`{"comment": "`+strings.Repeat("x", web.MaxBodySize)+`"}`)

		req, _ := http.NewRequest("POST", e.HTTP.URL+path, strings.NewReader(`comment=hi`))
		req.Header.Set("Authorization", "Bearer "+e.Token("alice"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("form post: %d", resp.StatusCode)
		}
		// Nothing was recorded.
		var got web.Review
		e.MustDo(t, http.StatusOK, &got, "alice", "GET", fmt.Sprintf("/api/v1/reviews/%d", r.ID), "")
		if len(got.Votes) != 0 {
			t.Fatalf("votes %v", got.Votes)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		e := MustEnv(t)
		e.MustProblem(t, http.StatusNotFound, qgate.ENOTFOUND, "not found", "alice", "POST", "/api/v1/reviews/42/approve", "")
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		e := MustEnv(t)
		r := e.MustReview(t, "rita")
		e.MustProblem(t, http.StatusUnauthorized, qgate.EUNAUTHORIZED, "", "", "POST", fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID), "")
	})
}

func TestReviews_Quorum(t *testing.T) {
	t.Run("OnePersonCountsOnce", func(t *testing.T) {
		e := MustEnv(t)
		// Two groups, quorum two: carol is in both and still counts once.
		r := e.MustReview(t, "rita", qgate.ReviewRequirement{Policy: "p", Approvers: []string{"dba", "sre"}, Quorum: 2})
		path := fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID)
		var got web.Review
		e.MustDo(t, http.StatusOK, &got, "carol", "POST", path, "")
		if got.Status != qgate.ReviewPending || got.Progress[0].Approved != 1 {
			t.Fatalf("after carol: %s, progress %+v", got.Status, got.Progress)
		}
		e.MustDo(t, http.StatusOK, &got, "dave", "POST", path, "")
		if got.Status != qgate.ReviewApproved || got.Progress[0].Approved != 2 {
			t.Fatalf("after dave: %s, progress %+v", got.Status, got.Progress)
		}
	})

	t.Run("OnePersonMeetsTwoPolicies", func(t *testing.T) {
		e := MustEnv(t)
		// Each matched policy must be met; carol belongs to both groups.
		r := e.MustReview(t, "rita",
			qgate.ReviewRequirement{Policy: "dba-writes", Approvers: []string{"dba"}, Quorum: 1},
			qgate.ReviewRequirement{Policy: "sre-prod", Approvers: []string{"sre"}, Quorum: 1})
		var got web.Review
		e.MustDo(t, http.StatusOK, &got, "carol", "POST", fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID), "")
		if got.Status != qgate.ReviewApproved || got.Progress[0].Approved != 1 || got.Progress[1].Approved != 1 {
			t.Fatalf("got %s, progress %+v", got.Status, got.Progress)
		}
	})

	t.Run("EachPolicyNeedsItsGroup", func(t *testing.T) {
		e := MustEnv(t)
		r := e.MustReview(t, "rita",
			qgate.ReviewRequirement{Policy: "dba-writes", Approvers: []string{"dba"}, Quorum: 1},
			qgate.ReviewRequirement{Policy: "sre-prod", Approvers: []string{"sre"}, Quorum: 1})
		path := fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID)
		var got web.Review
		e.MustDo(t, http.StatusOK, &got, "alice", "POST", path, "")
		if got.Status != qgate.ReviewPending || got.Progress[0].Approved != 1 || got.Progress[1].Approved != 0 {
			t.Fatalf("after alice: %s, progress %+v", got.Status, got.Progress)
		}
		e.MustDo(t, http.StatusOK, &got, "dave", "POST", path, "")
		if got.Status != qgate.ReviewApproved {
			t.Fatalf("after dave: %s", got.Status)
		}
	})
}

func TestReviews_Reject(t *testing.T) {
	e := MustEnv(t)
	r := e.MustReview(t, "rita")
	path := fmt.Sprintf("/api/v1/reviews/%d/reject", r.ID)
	e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "own request", "rita", "POST", path, `{"comment": "no"}`)
	e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "grant", "alice", "POST", path, `{"grant": "1h"}`)
	var got web.Review
	e.MustDo(t, http.StatusOK, &got, "alice", "POST", path, `{"comment": "add a WHERE clause"}`)
	if got.Status != qgate.ReviewRejected || got.Reason != "rejected by alice: add a WHERE clause" {
		t.Fatalf("got %s, reason %q", got.Status, got.Reason)
	}
	e.MustProblem(t, http.StatusConflict, qgate.ECONFLICT, "already rejected", "bob", "POST", path, "")
}

// Eight approvers at once on a quorum-two review: exactly two votes count,
// the review is approved exactly once, and the others are told it is
// decided.
func TestReviews_ConcurrentApprovals(t *testing.T) {
	e := MustEnv(t)
	approvers := groups["crowd"]
	for _, id := range approvers {
		e.MustToken(t, id)
	}
	r := e.MustReview(t, "rita", qgate.ReviewRequirement{Policy: "p", Approvers: []string{"crowd"}, Quorum: 2})
	events, cancel := e.Engine.Subscribe(64)
	defer cancel()

	path := fmt.Sprintf("/api/v1/reviews/%d/approve", r.ID)
	codes := make([]int, len(approvers))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, id := range approvers {
		wg.Go(func() {
			<-start
			codes[i], _ = e.Do(t, id, "POST", path, "")
		})
	}
	close(start)
	wg.Wait()

	ok, conflict := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			conflict++
		}
	}
	if ok != 2 || conflict != 6 {
		t.Fatalf("got %d OK and %d conflicts (%v), want 2 and 6", ok, conflict, codes)
	}
	var got web.Review
	e.MustDo(t, http.StatusOK, &got, "alice", "GET", fmt.Sprintf("/api/v1/reviews/%d", r.ID), "")
	if got.Status != qgate.ReviewApproved || len(got.Votes) != 2 || got.Votes[0].Identity == got.Votes[1].Identity {
		t.Fatalf("got %s with votes %+v", got.Status, got.Votes)
	}
	approved := 0
	for _, ev := range e.AuditEvents(t, qgate.AuditReview) {
		if ev.Action == string(qgate.ReviewApproved) {
			approved++
		}
	}
	if approved != 1 {
		t.Fatalf("%d approved audit events, want 1", approved)
	}
	if n := len(e.AuditEvents(t, qgate.AuditVote)); n != 2 {
		t.Fatalf("%d vote audit events, want 2", n)
	}
	decided := 0
	for len(events) > 0 {
		if ev := <-events; ev.Type == qgate.ReviewDecided {
			decided++
		}
	}
	if decided != 1 {
		t.Fatalf("%d review.decided events, want 1", decided)
	}
}

func TestRoutes_Errors(t *testing.T) {
	e := MustEnv(t)
	p := e.MustProblem(t, http.StatusNotFound, qgate.ENOTFOUND, "no such API endpoint", "alice", "GET", "/api/v1/nope", "")
	if p.Type != "urn:qgate:error:not_found" {
		t.Fatalf("type %q", p.Type)
	}
	e.MustProblem(t, http.StatusMethodNotAllowed, qgate.EINVALID, "allowed: POST", "alice", "GET", "/api/v1/reviews/1/approve", "")

	var me web.Caller
	e.MustDo(t, http.StatusOK, &me, "carol", "GET", "/api/v1/me", "")
	if me.Identity != "carol" || strings.Join(me.Groups, ",") != "dba,sre" || me.TokenID != e.TokenID(t, "carol") || me.Admin {
		t.Fatalf("me: %+v", me)
	}
	code, body := e.Do(t, "", "GET", "/healthz", "")
	if code != http.StatusOK || !json.Valid(body) {
		t.Fatalf("healthz: %d %s", code, body)
	}
}

// brokenGrants fails every grant listing, as an unavailable store would.
type brokenGrants struct{ qgate.Store }

func (brokenGrants) ListGrants(context.Context, time.Time) ([]*qgate.Grant, error) {
	return nil, errors.New("disk I/O error: /var/lib/qgate/qgate.db")
}

func TestRoutes_ErrInternal(t *testing.T) {
	e := MustEnv(t)
	var logs bytes.Buffer
	e.Server.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	e.Server.Store = brokenGrants{e.Store}
	p := e.MustProblem(t, http.StatusInternalServerError, qgate.EINTERNAL, "internal error", "alice", "GET", "/api/v1/grants", "")
	if p.ErrorID == "" || !strings.Contains(p.Detail, p.ErrorID) || strings.Contains(p.Detail, "disk") {
		t.Fatalf("problem %+v", p)
	}
	if !strings.Contains(logs.String(), p.ErrorID) || !strings.Contains(logs.String(), "disk I/O error") {
		t.Fatalf("the log does not tie the error id to the cause: %s", logs.String())
	}
}

func TestRoutes_Metrics(t *testing.T) {
	e := MustEnv(t)
	if code, _ := e.Do(t, "", "GET", "/metrics", ""); code != http.StatusNotFound {
		t.Fatalf("/metrics without Metrics: %d", code)
	}
	e.Server.Metrics = metrics.New(nil)
	hs := httptest.NewServer(e.Server.Handler())
	defer hs.Close()
	req, _ := http.NewRequest("GET", hs.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `qgate_auth_failures_total{reason="malformed",target="api"} 1`) {
		t.Fatalf("metrics:\n%s", body)
	}
}
