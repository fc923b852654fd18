package httpproxy

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/qgate/qgate"
)

// requestData is the Data of a "request" audit event. It never holds
// header values or the body.
type requestData struct {
	Method   string                `json:"method"`
	Path     string                `json:"path"`
	Query    string                `json:"query,omitempty"`
	SourceIP string                `json:"source_ip"`
	Matched  []qgate.MatchedPolicy `json:"matched"`
	Risk     string                `json:"risk"`
	Findings []string              `json:"findings"`
	GrantID  int64                 `json:"grant_id,omitempty"`
	ReviewID int64                 `json:"review_id,omitempty"`
	Message  string                `json:"message,omitempty"`
	// Decision is the policy decision when the action differs from it
	// (a review decision satisfied by an approved review).
	Decision string `json:"decision,omitempty"`
	// Reason says why qgate refused on its own, before any policy.
	Reason string `json:"reason,omitempty"`
}

// executionData is the Data of an "execution" audit event.
type executionData struct {
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Bytes      int64   `json:"bytes"`
	ReviewID   int64   `json:"review_id,omitempty"`
	GrantID    int64   `json:"grant_id,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// authData is the Data of an "auth" audit event. It never holds the
// token.
type authData struct {
	Reason   string `json:"reason"`
	SourceIP string `json:"source_ip"`
	Method   string `json:"method"`
	Path     string `json:"path"`
}

// auditRequest appends the call's one "request" event. When failClosed is
// set and the append fails, it answers 503 and returns false: nothing may
// be forwarded that the audit log does not hold.
func (c *call) auditRequest(action qgate.Action, reason string, failClosed bool) bool {
	p, a := c.p, c.req.HTTP
	codes := make([]string, len(c.dec.Risk.Findings))
	for i, f := range c.dec.Risk.Findings {
		codes[i] = f.Code
	}
	d := requestData{
		Method: a.Method, Path: a.Path, Query: a.RawQuery, SourceIP: c.ip,
		Matched: c.dec.Matched, Risk: c.dec.Risk.Level.String(), Findings: codes,
		GrantID: c.dec.GrantID, ReviewID: c.reviewID, Message: c.dec.Message, Reason: reason,
	}
	if d.Matched == nil {
		d.Matched = []qgate.MatchedPolicy{}
	}
	if action != c.dec.Action {
		d.Decision = string(c.dec.Action)
	}
	ev := c.event(qgate.AuditRequest, string(action), &d)
	// A client that leaves does not cut the record short: the outcome of
	// the append is then known for sure.
	var err error
	if a, ok := p.Audit.(allowedAuditor); ok && action == qgate.ActionAllow {
		err = a.AppendAllowed(c.ctx, ev)
	} else {
		err = p.Audit.Append(c.ctx, ev)
	}
	if err == nil {
		c.audited = true
		return true
	}
	c.errID = newErrorID()
	p.Logger.LogAttrs(c.ctx, slog.LevelError, "audit append failed", slog.String("target", p.Target.Name),
		slog.String("request_id", c.id), slog.String("error_id", c.errID), slog.Any("err", err))
	if !failClosed {
		return true
	}
	c.problem(problem{Status: http.StatusServiceUnavailable, slug: "unavailable", Title: "Service unavailable",
		Detail: "the request could not be recorded in the audit log, so it was not forwarded", ErrorID: c.errID}, "error")
	return false
}

// allowedAuditor is an Auditor whose durability setting may let the
// request event of an allowed call be committed after the call is
// forwarded (*audit.Log: audit.durability).
type allowedAuditor interface {
	AppendAllowed(ctx context.Context, e *qgate.AuditEvent) error
}

// asyncAuditor is an Auditor that can also queue an event without waiting
// for it to be committed; *audit.Log implements it. done is called once
// the event is appended or failed, unless AppendAsync returns an error.
type asyncAuditor interface {
	AppendAsync(e *qgate.AuditEvent, done func(*qgate.AuditEvent, error)) error
}

// auditExecution records what happened upstream. It is appended in the
// background, after the response: Close waits for it.
func (c *call) auditExecution(action string, status int, took time.Duration, n int64, errMsg string) {
	p := c.p
	ev := c.event(qgate.AuditExecution, action, &executionData{
		Status: status, DurationMS: float64(took.Microseconds()) / 1000, Bytes: n,
		ReviewID: c.reviewID, GrantID: c.dec.GrantID, Error: errMsg,
	})
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		p.executionFailed(ev, p.Audit.Append(context.Background(), ev))
		return
	}
	p.pending.Add(1)
	if a, ok := p.Audit.(asyncAuditor); ok {
		if err := a.AppendAsync(ev, p.executionDone); err != nil {
			p.executionDone(ev, err)
		}
		return
	}
	go func() { p.executionDone(ev, p.Audit.Append(context.Background(), ev)) }()
}

// executionAppended ends a background append of an execution event (the
// func value executionDone, made once: a closure per call would cost
// allocations on every call).
func (p *Proxy) executionAppended(ev *qgate.AuditEvent, err error) {
	p.executionFailed(ev, err)
	p.pending.Done()
}

// executionFailed logs a failed append of an execution event.
func (p *Proxy) executionFailed(ev *qgate.AuditEvent, err error) {
	if err != nil {
		p.Logger.Error("audit append failed", "target", p.Target.Name, "request_id", ev.RequestID, "event", "execution", "err", err)
	}
}

// auditAuth records a refused authentication. tokenID is the parsed,
// public id of the token ("" when there was none or it was malformed).
func (c *call) auditAuth(reason, tokenID, identity string) {
	p := c.p
	ev := c.event(qgate.AuditAuth, "failed", authData{Reason: reason, SourceIP: c.ip, Method: c.r.Method, Path: c.r.URL.Path})
	ev.TokenID, ev.Identity = tokenID, identity
	if err := p.Audit.Append(c.ctx, ev); err != nil {
		p.Logger.LogAttrs(c.ctx, slog.LevelError, "audit append failed", slog.String("target", p.Target.Name),
			slog.String("request_id", c.id), slog.String("event", "auth"), slog.Any("err", err))
	}
}

// event builds an audit event about the call.
func (c *call) event(typ, action string, data any) *qgate.AuditEvent {
	p := c.p
	ev := &qgate.AuditEvent{Time: p.Now().UTC(), Type: typ, Action: action, RequestID: c.id,
		Target: p.Target.Name, Environment: p.Target.Environment, ReviewID: c.reviewID}
	if c.token != nil {
		ev.TokenID, ev.Identity = c.token.ID, c.token.Identity
	}
	if a, ok := data.(jsonAppender); ok {
		ev.Data = a.appendJSON(make([]byte, 0, 256))
	} else if b, err := json.Marshal(data); err == nil {
		ev.Data = b
	}
	return ev
}
