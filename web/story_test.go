package web_test

import (
	"net/http"
	"testing"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/web"
)

func TestRequestStory(t *testing.T) {
	e := MustEnv(t)
	// The held call as the proxy records it, then its review.
	appendEvents(t, e, &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "review", RequestID: "req-rita",
		TokenID: e.TokenID(t, "rita"), Identity: "rita", Target: "billing-db", Environment: "prod"})
	rv := e.MustReview(t, "rita")
	appendEvents(t, e, &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: "someone-else", Identity: "erin"})
	e.MustDo(t, http.StatusOK, nil, "alice", "POST", "/api/v1/reviews/1/approve", `{"comment": "fine"}`)
	// The client repeats the call with Qgate-Review: a new request id
	// that carries the review out.
	appendEvents(t, e,
		&qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: "req-retry", Identity: "rita", ReviewID: rv.ID},
		&qgate.AuditEvent{Type: qgate.AuditExecution, Action: "ok", RequestID: "req-retry", Identity: "rita", ReviewID: rv.ID,
			Data: []byte(`{"status":204}`)})

	var st web.Story
	e.MustDo(t, http.StatusOK, &st, "rita", "GET", "/api/v1/requests/req-rita", "")
	var got []string
	for i, ev := range st.Events {
		got = append(got, ev.Type+":"+ev.Action)
		if i > 0 && ev.Seq <= st.Events[i-1].Seq {
			t.Fatalf("events out of order: %+v", st.Events)
		}
		if ev.RequestID == "someone-else" {
			t.Fatalf("story holds an unrelated event: %+v", ev)
		}
	}
	want := []string{"request:review", "review:created", "vote:approve", "review:approved", "request:allow", "execution:ok"}
	if len(got) != len(want) {
		t.Fatalf("story %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("story %v, want %v", got, want)
		}
	}
	if st.RequestID != "req-rita" || len(st.Reviews) != 1 || st.Reviews[0].ID != rv.ID || st.Reviews[0].Status != qgate.ReviewApproved ||
		st.Reviews[0].Votes[0].Identity != "alice" {
		t.Fatalf("reviews: %+v", st.Reviews)
	}
	// Staff see it too; the retry's own id tells the same story.
	var st2 web.Story
	e.MustDo(t, http.StatusOK, &st2, "dave", "GET", "/api/v1/requests/req-retry", "")
	if len(st2.Events) != len(st.Events) {
		t.Fatalf("from the retry: %d events, want %d", len(st2.Events), len(st.Events))
	}
	// Somebody else's request is not visible to a non-staff caller.
	e.MustProblem(t, http.StatusNotFound, qgate.ENOTFOUND, "not found", "erin", "GET", "/api/v1/requests/req-rita", "")
	e.MustProblem(t, http.StatusNotFound, qgate.ENOTFOUND, "not found", "root", "GET", "/api/v1/requests/nope", "")
}

func TestIdentities(t *testing.T) {
	e := MustEnv(t)
	e.MustToken(t, "alice") // a second token
	e.MustDo(t, http.StatusOK, nil, "root", "POST", "/api/v1/tokens/"+e.TokenID(t, "bob")+"/revoke", "")
	// A use of alice's token shows as her last use.
	e.MustDo(t, http.StatusOK, nil, "alice", "GET", "/api/v1/me", "")

	var ids []web.IdentityView
	e.MustDo(t, http.StatusOK, &ids, "root", "GET", "/api/v1/identities", "")
	by := map[string]web.IdentityView{}
	var names []string
	for _, v := range ids {
		by[v.Name] = v
		names = append(names, v.Name)
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Fatalf("not sorted by name: %v", names)
		}
	}
	if a := by["alice"]; a.Tokens != 2 || a.AllTokens != 2 || len(a.Groups) != 1 || a.Groups[0] != "dba" || a.Admin || a.LastUsedAt.IsZero() {
		t.Fatalf("alice: %+v", a)
	}
	if b := by["bob"]; b.Tokens != 0 || b.AllTokens != 1 {
		t.Fatalf("bob: %+v", b)
	}
	if r := by["root"]; !r.Admin {
		t.Fatalf("root: %+v", r)
	}
	// Group members without tokens are listed too.
	if a1, ok := by["a1"]; !ok || a1.Tokens != 0 || a1.Groups[0] != "crowd" {
		t.Fatalf("a1: %+v", a1)
	}
	e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "only admins", "alice", "GET", "/api/v1/identities", "")
}
