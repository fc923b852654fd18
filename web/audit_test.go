package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
)

func TestAudit(t *testing.T) {
	e := MustEnv(t)
	e.MustReview(t, "rita")
	e.MustDo(t, http.StatusOK, nil, "alice", "POST", "/api/v1/reviews/1/approve", "")

	t.Run("List", func(t *testing.T) {
		var all []qgate.AuditEvent
		e.MustDo(t, http.StatusOK, &all, "dave", "GET", "/api/v1/audit", "")
		if len(all) != 3 || all[0].Seq != 1 || all[0].Action != "created" || all[1].Type != qgate.AuditVote {
			t.Fatalf("got %+v", all)
		}
		var page []qgate.AuditEvent
		e.MustDo(t, http.StatusOK, &page, "root", "GET", "/api/v1/audit?after_seq=1&limit=1", "")
		if len(page) != 1 || page[0].Seq != 2 {
			t.Fatalf("page: %+v", page)
		}
		e.MustDo(t, http.StatusOK, &page, "root", "GET", "/api/v1/audit?type=vote&identity=alice&target=billing-db", "")
		if len(page) != 1 || page[0].Identity != "alice" {
			t.Fatalf("filtered: %+v", page)
		}
		since := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
		e.MustDo(t, http.StatusOK, &page, "root", "GET", "/api/v1/audit?since="+since, "")
		if len(page) != 0 {
			t.Fatalf("since the future: %+v", page)
		}
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "RFC 3339", "root", "GET", "/api/v1/audit?since=yesterday", "")
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "after_seq", "root", "GET", "/api/v1/audit?after_seq=x", "")
	})

	t.Run("ErrNotStaff", func(t *testing.T) {
		e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "audit log", "rita", "GET", "/api/v1/audit", "")
		e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "audit log", "rita", "GET", "/api/v1/audit/verify", "")
	})

	t.Run("Verify", func(t *testing.T) {
		var rep audit.Report
		e.MustDo(t, http.StatusOK, &rep, "alice", "GET", "/api/v1/audit/verify", "")
		want, err := audit.Verify(context.Background(), e.Store)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK || rep != want {
			t.Fatalf("got %+v, want %+v", rep, want)
		}
	})
}
