package pgproxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/qgate/qgate"
)

// maxAuditSQL caps the SQL text stored in one audit event.
const maxAuditSQL = 16 << 10

// requestData is the Data of a "request" audit event. It never holds
// parameter values.
type requestData struct {
	SQL          string                `json:"sql"`
	SQLTruncated bool                  `json:"sql_truncated,omitempty"`
	Protocol     string                `json:"protocol"` // simple or extended
	Params       int                   `json:"params,omitempty"`
	SourceIP     string                `json:"source_ip"`
	Matched      []qgate.MatchedPolicy `json:"matched"`
	Risk         string                `json:"risk"`
	Findings     []string              `json:"findings"`
	GrantID      int64                 `json:"grant_id,omitempty"`
	ReviewID     int64                 `json:"review_id,omitempty"`
	Message      string                `json:"message,omitempty"`
	// Decision is the policy decision when the action differs from it.
	Decision string `json:"decision,omitempty"`
	// Reason says why qgate refused on its own.
	Reason string `json:"reason,omitempty"`
}

// executionData is the Data of an "execution" audit event.
type executionData struct {
	Tags       []string `json:"tags"`
	Rows       int64    `json:"rows"`
	DurationMS float64  `json:"duration_ms"`
	SQLState   string   `json:"sqlstate,omitempty"`
	ReviewID   int64    `json:"review_id,omitempty"`
	GrantID    int64    `json:"grant_id,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// execution is one forwarded statement whose outcome the relay records.
type execution struct {
	reqID    string
	decision string
	reviewID int64
	grantID  int64
	start    time.Time // monotonic
	simple   bool      // a simple Query: every answer until ReadyForQuery
	at       int       // extended: the completion index of its Execute
	tags     []string
	code     string // SQLSTATE of its error
	err      string // why it did not run
}

// auditRequest appends a statement's "request" event and reports whether
// it is durable.
func (s *session) auditRequest(ctx context.Context, st *statement, action qgate.Action, reviewID int64, reason string) error {
	p := s.p
	codes := make([]string, len(st.dec.Risk.Findings))
	for i, f := range st.dec.Risk.Findings {
		codes[i] = f.Code
	}
	d := requestData{SQL: st.text, Protocol: "simple", Params: len(st.params), SourceIP: s.ip,
		Matched: st.dec.Matched, Risk: st.dec.Risk.Level.String(), Findings: codes,
		GrantID: st.dec.GrantID, ReviewID: reviewID, Message: st.dec.Message, Reason: reason}
	if st.extended {
		d.Protocol = "extended"
	}
	if len(d.SQL) > maxAuditSQL {
		d.SQL, d.SQLTruncated = truncate(d.SQL, maxAuditSQL), true
	}
	if d.Matched == nil {
		d.Matched = []qgate.MatchedPolicy{}
	}
	if action != st.dec.Action {
		d.Decision = string(st.dec.Action)
	}
	ev := s.event(qgate.AuditRequest, string(action), st.req.ID, reviewID, nil)
	ev.Data = d.appendJSON(make([]byte, 0, 256+len(d.SQL)))
	var err error
	if a, ok := p.Audit.(allowedAuditor); ok && action == qgate.ActionAllow {
		err = a.AppendAllowed(context.WithoutCancel(ctx), ev)
	} else {
		err = p.Audit.Append(context.WithoutCancel(ctx), ev)
	}
	if err != nil {
		p.Logger.LogAttrs(ctx, slog.LevelError, "audit append failed", slog.String("target", p.Target.Name),
			slog.String("request_id", st.req.ID), slog.Any("err", err))
	}
	return err
}

// finishExecution records what happened upstream, in the background.
func (s *session) finishExecution(e *execution) {
	p := s.p
	took := time.Since(e.start)
	rows := int64(0)
	for _, t := range e.tags {
		if n := commandRows([]byte(t)); n > 0 {
			rows += n
		}
	}
	outcome := "forwarded"
	if e.code != "" || e.err != "" {
		outcome = "error"
	}
	p.Metrics.Upstream(p.Target.Name, took)
	p.Metrics.Request(p.Target.Name, e.decision, outcome)
	tags := e.tags
	if tags == nil {
		tags = []string{}
	}
	ev := s.event(qgate.AuditExecution, outcome, e.reqID, e.reviewID, nil)
	d := executionData{Tags: tags, Rows: rows, DurationMS: float64(took.Microseconds()) / 1000, SQLState: e.code,
		ReviewID: e.reviewID, GrantID: e.grantID, Error: e.err}
	ev.Data = d.appendJSON(make([]byte, 0, 128))
	p.appendAsync(ev)
}

// allowedAuditor is implemented by an Auditor whose durability setting
// may let the request event of an allowed statement be committed after it
// is forwarded (*audit.Log: audit.durability).
type allowedAuditor interface {
	AppendAllowed(ctx context.Context, e *qgate.AuditEvent) error
}

// asyncAuditor is implemented by an Auditor that can queue an event and
// report its outcome later (*audit.Log): the execution events then need no
// goroutine each.
type asyncAuditor interface {
	AppendAsync(e *qgate.AuditEvent, done func(*qgate.AuditEvent, error)) error
}

// appendAsync appends an execution event in the background; Close waits
// for it.
func (p *Proxy) appendAsync(ev *qgate.AuditEvent) {
	failed := func(err error) {
		p.Logger.Error("audit append failed", "target", p.Target.Name, "request_id", ev.RequestID, "event", ev.Type, "err", err)
	}
	if a, ok := p.Audit.(asyncAuditor); ok {
		p.pending.Add(1)
		err := a.AppendAsync(ev, func(_ *qgate.AuditEvent, err error) {
			defer p.pending.Done()
			if err != nil {
				failed(err)
			}
		})
		if err != nil {
			p.pending.Done()
			failed(err)
		}
		return
	}
	p.goAudit(func() {
		if err := p.Audit.Append(context.Background(), ev); err != nil {
			failed(err)
		}
	})
}

// event builds an audit event about the session.
func (s *session) event(typ, action, reqID string, reviewID int64, data any) *qgate.AuditEvent {
	p := s.p
	ev := &qgate.AuditEvent{Time: p.now(), Type: typ, Action: action, RequestID: reqID,
		Target: p.Target.Name, Environment: p.Target.Environment, ReviewID: reviewID}
	if s.token != nil {
		ev.TokenID, ev.Identity = s.token.ID, s.token.Identity
	}
	if data != nil {
		ev.Data = jsonData(data)
	}
	return ev
}

func jsonData(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// newErrorID returns a short random id that ties a client's error to the
// log line holding the real error.
func newErrorID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
