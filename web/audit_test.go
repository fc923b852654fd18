package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
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

// appendEvents stores events as the proxies and the review engine would.
func appendEvents(tb testing.TB, e *Env, es ...*qgate.AuditEvent) {
	tb.Helper()
	if err := e.Store.AppendAudit(context.Background(), es); err != nil {
		tb.Fatal(err)
	}
}

func seqs(es []qgate.AuditEvent) []int64 {
	var out []int64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func TestAuditFilters(t *testing.T) {
	e := MustEnv(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	appendEvents(t, e,
		&qgate.AuditEvent{Time: t0, Type: qgate.AuditRequest, Action: "allow", RequestID: "r1", TokenID: "t1", Identity: "rita", Target: "billing-db", Environment: "prod"},
		&qgate.AuditEvent{Time: t0.Add(time.Minute), Type: qgate.AuditRequest, Action: "review", RequestID: "r2", TokenID: "t1", Identity: "rita", Target: "api", Environment: "staging", ReviewID: 9},
		&qgate.AuditEvent{Time: t0.Add(2 * time.Minute), Type: qgate.AuditVote, Action: "approved", RequestID: "r2", Identity: "alice", Target: "api", Environment: "staging", ReviewID: 9},
		&qgate.AuditEvent{Time: t0.Add(3 * time.Minute), Type: qgate.AuditExecution, Action: "ok", RequestID: "r2", TokenID: "t1", Identity: "rita", Target: "api", Environment: "staging", ReviewID: 9},
	)
	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"environment=staging", []int64{2, 3, 4}},
		{"decision=review", []int64{2}},
		{"action=approved", []int64{3}},
		{"request_id=r2&type=execution", []int64{4}},
		{"review_id=9&identity=alice", []int64{3}},
		{"token=t1&target=api", []int64{2, 4}},
		{"since=" + url.QueryEscape(t0.Add(time.Minute).Format(time.RFC3339)) + "&until=" + url.QueryEscape(t0.Add(3*time.Minute).Format(time.RFC3339)), []int64{2, 3}},
		{"order=desc&limit=2", []int64{4, 3}},
		{"order=desc&before_seq=3", []int64{2, 1}},
		{"after_seq=1&before_seq=4", []int64{2, 3}},
	} {
		var got []qgate.AuditEvent
		e.MustDo(t, http.StatusOK, &got, "root", "GET", "/api/v1/audit?"+tc.query, "")
		if !slices.Equal(seqs(got), tc.want) {
			t.Errorf("%s: seqs %v, want %v", tc.query, seqs(got), tc.want)
		}
	}
	e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "order", "root", "GET", "/api/v1/audit?order=up", "")
	e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "decision must be", "root", "GET", "/api/v1/audit?decision=maybe", "")
	e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "type=vote", "root", "GET", "/api/v1/audit?decision=allow&type=vote", "")
	e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "review_id", "root", "GET", "/api/v1/audit?review_id=-1", "")
}

func TestAuditExport(t *testing.T) {
	e := MustEnv(t)
	e.MustReview(t, "rita")
	e.MustDo(t, http.StatusOK, nil, "alice", "POST", "/api/v1/reviews/1/approve", "")

	get := func(who, query string) *http.Response {
		req, _ := http.NewRequest("GET", e.HTTP.URL+"/api/v1/audit/export?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+e.Token(who))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	t.Run("CSV", func(t *testing.T) {
		resp := get("dave", "format=csv&type=vote")
		rows, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), `attachment; filename="qgate-audit-`) ||
			!strings.HasSuffix(resp.Header.Get("Content-Disposition"), `.csv"`) {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
		if len(rows) != 2 || rows[0][0] != "seq" || rows[1][2] != "vote" || rows[1][6] != "alice" || rows[1][9] != "1" {
			t.Fatalf("rows %q", rows)
		}
	})
	t.Run("JSONLines", func(t *testing.T) {
		resp := get("root", "format=json")
		b, _ := io.ReadAll(resp.Body)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson; charset=utf-8" || len(lines) != 3 {
			t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, lines)
		}
		for _, l := range lines {
			var ev qgate.AuditEvent
			if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.ChainHash() != ev.Hash {
				t.Fatalf("line %q does not verify: %v", l, err)
			}
		}
	})
	t.Run("Err", func(t *testing.T) {
		e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "export", "rita", "GET", "/api/v1/audit/export", "")
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "format", "root", "GET", "/api/v1/audit/export?format=xml", "")
	})
}
