package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
)

// listAudit serves GET /api/v1/audit (staff only): events oldest first
// (order=desc: newest first), at most limit of them. A reader pages
// forward by passing the last seq it saw as after_seq, or back from the
// newest with order=desc and before_seq. Filters: see auditFilter.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if !c.staff() {
		return qgate.Errorf(qgate.EFORBIDDEN, "only admins and members of a group may read the audit log")
	}
	q := r.URL.Query()
	f, err := auditFilter(q)
	if err != nil {
		return err
	}
	switch o := q.Get("order"); o {
	case "", "asc":
	case "desc":
		f.Desc = true
	default:
		return qgate.Errorf(qgate.EINVALID, "order must be asc or desc, not %q", o)
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

// auditFilter reads the audit filters from a query string: token,
// identity, target, environment, type, action, decision (a request's
// decision: action with type=request), request_id, review_id, since and
// until (RFC 3339; since inclusive, until exclusive), after_seq and
// before_seq.
func auditFilter(q url.Values) (qgate.AuditFilter, error) {
	f := qgate.AuditFilter{TokenID: q.Get("token"), Identity: q.Get("identity"), Target: q.Get("target"),
		Environment: q.Get("environment"), Type: q.Get("type"), Action: q.Get("action"), RequestID: q.Get("request_id")}
	if d := q.Get("decision"); d != "" {
		if !qgate.Action(d).Valid() {
			return f, qgate.Errorf(qgate.EINVALID, "decision must be allow, review or deny, not %q", d)
		}
		if f.Action != "" && f.Action != d {
			return f, qgate.Errorf(qgate.EINVALID, "give decision or action, not both")
		}
		if f.Type != "" && f.Type != qgate.AuditRequest {
			return f, qgate.Errorf(qgate.EINVALID, "decision selects request events; it cannot be combined with type=%s", f.Type)
		}
		f.Action, f.Type = d, qgate.AuditRequest
	}
	var err error
	if f.Since, err = timeParam(q.Get("since"), "since"); err != nil {
		return f, err
	}
	if f.Until, err = timeParam(q.Get("until"), "until"); err != nil {
		return f, err
	}
	for name, dst := range map[string]*int64{"after_seq": &f.AfterSeq, "before_seq": &f.BeforeSeq, "review_id": &f.ReviewID} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return f, qgate.Errorf(qgate.EINVALID, "%s must be a non-negative number, not %q", name, v)
			}
			*dst = n
		}
	}
	return f, nil
}

// exportAudit serves GET /api/v1/audit/export?format=csv|json (staff
// only): every event matching the filters of GET /api/v1/audit, oldest
// first, streamed as a download. json is JSON lines, one event per line,
// exactly as `qgate audit export` writes them.
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if !c.staff() {
		return qgate.Errorf(qgate.EFORBIDDEN, "only admins and members of a group may export the audit log")
	}
	q := r.URL.Query()
	f, err := auditFilter(q)
	if err != nil {
		return err
	}
	export, ctype, ext := audit.Export, "application/x-ndjson; charset=utf-8", "jsonl"
	switch format := q.Get("format"); format {
	case "", "json":
	case "csv":
		export, ctype, ext = audit.ExportCSV, "text/csv; charset=utf-8", "csv"
	default:
		return qgate.Errorf(qgate.EINVALID, "format must be csv or json, not %q", format)
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="qgate-audit-%s.%s"`, s.now().Format("20060102-150405"), ext))
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a large export may outlast the server's WriteTimeout
	return export(r.Context(), s.Store, w, f)
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
