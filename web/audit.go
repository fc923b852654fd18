package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
)

// listAudit serves GET /api/v1/audit (staff only): events oldest first,
// at most limit of them after after_seq, so a reader pages by passing the
// last seq it saw. Filters: token, identity, target, type, decision (a
// request's decision: implies type=request), since and until (RFC 3339).
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if !c.staff() {
		return qgate.Errorf(qgate.EFORBIDDEN, "only admins and members of a group may read the audit log")
	}
	q := r.URL.Query()
	f := qgate.AuditFilter{TokenID: q.Get("token"), Identity: q.Get("identity"), Target: q.Get("target"),
		Type: q.Get("type"), Action: q.Get("decision")}
	if f.Action != "" && f.Type == "" {
		f.Type = qgate.AuditRequest
	}
	var err error
	if f.Since, err = timeParam(q.Get("since"), "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(q.Get("until"), "until"); err != nil {
		return err
	}
	if v := q.Get("after_seq"); v != "" {
		if f.AfterSeq, err = strconv.ParseInt(v, 10, 64); err != nil || f.AfterSeq < 0 {
			return qgate.Errorf(qgate.EINVALID, "after_seq must be a non-negative number, not %q", v)
		}
	}
	if f.Limit, err = limitParam(q); err != nil {
		return err
	}
	es, err := s.Store.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	if es == nil {
		es = []*qgate.AuditEvent{}
	}
	return writeJSON(w, http.StatusOK, es)
}

// verifyAudit serves GET /api/v1/audit/verify (staff only): the chain
// check's report. A broken chain is still 200, with "ok": false.
func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if !c.staff() {
		return qgate.Errorf(qgate.EFORBIDDEN, "only admins and members of a group may verify the audit log")
	}
	rep, err := audit.Verify(r.Context(), s.Store)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

func timeParam(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, qgate.Errorf(qgate.EINVALID, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q", name, s)
	}
	return t, nil
}

// mustJSON encodes audit data built from plain values, which cannot fail.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
