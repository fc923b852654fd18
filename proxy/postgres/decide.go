package pgproxy

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/gate"
	"github.com/qgate/qgate/review"
)

// statement is one request to decide: a simple Query's whole text, or an
// extended-protocol Execute with its bound parameters.
type statement struct {
	text     string
	analysis *qgate.SQLAnalysis
	extended bool
	params   [][]byte
	formats  []int16

	req *qgate.Request
	dec qgate.Decision
}

// verdict is the outcome of deciding a statement.
type verdict struct {
	// exec is set when the statement may be forwarded.
	exec *execution
	// refusal is the ErrorResponse that stands for the statement.
	refusal []byte
	// end: the session must end (s.fatal holds the client's error).
	end bool
}

// decide analyses, decides, audits and if need be holds a statement.
func (s *session) decide(ctx context.Context, st *statement) verdict {
	p := s.p
	if v, ok := s.recheckToken(ctx); !ok {
		return v
	}
	if st.analysis == nil {
		st.analysis = p.Analyzer.AnalyzeSQL(st.text)
	}
	st.req = &qgate.Request{ID: gate.NewRequestID(), Protocol: qgate.ProtocolPostgres, Target: p.Target.Name,
		Environment: p.Target.Environment, SourceIP: s.ip, Time: p.now(), Principal: s.principal, SQL: st.analysis}
	st.dec = p.Gate.Decide(ctx, st.req)
	switch st.dec.Action {
	case qgate.ActionAllow:
		if err := s.auditRequest(ctx, st, qgate.ActionAllow, 0, ""); err != nil {
			return s.internal(st, "the statement could not be recorded in the audit log, so it was not forwarded")
		}
		return verdict{exec: s.newExecution(st, 0)}
	case qgate.ActionReview:
		return s.hold(ctx, st)
	default:
		s.auditRequest(ctx, st, qgate.ActionDeny, 0, "")
		p.Metrics.Request(p.Target.Name, string(qgate.ActionDeny), "refused")
		msg := st.dec.Message
		if msg == "" {
			msg = "statement denied by policy"
		}
		return verdict{refusal: refusal(codeInsufficientPrivilege, msg, "request id "+st.req.ID)}
	}
}

func (s *session) newExecution(st *statement, reviewID int64) *execution {
	return &execution{reqID: st.req.ID, decision: string(st.dec.Action), reviewID: reviewID, grantID: st.dec.GrantID,
		start: time.Now(), simple: !st.extended}
}

// refusal encodes an ERROR-level ErrorResponse.
func refusal(code, msg, detail string) []byte {
	return encode(nil, errorMsg("ERROR", code, msg, detail))
}

// internal refuses a statement because a dependency failed.
func (s *session) internal(st *statement, msg string) verdict {
	id := newErrorID()
	s.p.Logger.Error("postgres proxy error", "target", s.p.Target.Name, "request_id", st.req.ID, "error_id", id, "what", msg)
	s.p.Metrics.Request(s.p.Target.Name, string(st.dec.Action), "error")
	return verdict{refusal: refusal(codeInternalError, "qgate: "+msg, "error id "+id+", request id "+st.req.ID)}
}

// recheckToken closes the session of a token that was revoked or expired
// since the login (checked at most every TokenRecheck).
func (s *session) recheckToken(ctx context.Context) (verdict, bool) {
	p := s.p
	every := p.TokenRecheck
	if every <= 0 {
		every = DefaultTokenRecheck
	}
	if time.Since(s.tokenChecked) < every {
		return verdict{}, true
	}
	reason, err := p.tokenInvalid(ctx, s.token.ID)
	if err != nil {
		id := newErrorID()
		p.Logger.Error("postgres token recheck", "target", p.Target.Name, "error_id", id, "err", err)
		return verdict{refusal: refusal(codeInternalError, "qgate could not check the token; nothing was forwarded", "error id "+id)}, false
	}
	if reason == "" {
		s.tokenChecked = time.Now()
		return verdict{}, true
	}
	s.tokenRefused(ctx, reason)
	s.fatal.CompareAndSwap(nil, errorMsg("FATAL", codeInvalidAuthorization, msgTokenInvalid, ""))
	return verdict{end: true}, false
}

// msgTokenInvalid is the FATAL message of a session whose token stopped
// being valid.
const msgTokenInvalid = "terminating connection: the token is no longer valid"

// tokenInvalid reports why the token with the id may no longer be used on
// this target ("" if it may), or the store's error.
func (p *Proxy) tokenInvalid(ctx context.Context, id string) (string, error) {
	t, err := p.Tokens.Token(ctx, id)
	switch {
	case qgate.ErrorCode(err) == qgate.ENOTFOUND:
		return "unknown", nil
	case err != nil:
		return "", err
	case !t.RevokedAt.IsZero():
		return "revoked", nil
	case !t.Active(p.now()):
		return "expired", nil
	case !t.InScope(p.Target.Name, p.Target.Environment):
		return reasonOutOfScope, nil
	}
	return "", nil
}

// tokenRefused counts and audits, once per session, that its token was
// found invalid.
func (s *session) tokenRefused(ctx context.Context, reason string) {
	if !s.tokenRevoked.CompareAndSwap(false, true) {
		return
	}
	p := s.p
	p.Metrics.AuthFailure(p.Target.Name, reason)
	ev := s.event(qgate.AuditAuth, "failed", "", 0, map[string]any{"reason": reason, "source_ip": s.ip, "protocol": "postgres", "session": true})
	if err := p.Audit.Append(context.WithoutCancel(ctx), ev); err != nil {
		p.Logger.Error("audit append failed", "target", p.Target.Name, "event", "auth", "err", err)
	}
}

// watchTokens closes, every interval, the sessions whose token was
// revoked, expired or taken out of scope since they logged in, idle or
// not: a revocation ends every session of the token within one interval,
// not only at its next statement. A running statement is cut off as by
// pg_terminate_backend; a held one is withdrawn. It returns once the
// proxy is closed.
func (p *Proxy) watchTokens(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	ctx := context.Background()
	for range t.C {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		byToken := map[string][]*session{}
		for s := range p.sessions {
			if s.watchToken != "" {
				byToken[s.watchToken] = append(byToken[s.watchToken], s)
			}
		}
		p.mu.Unlock()
		for id, sessions := range byToken {
			reason, err := p.tokenInvalid(ctx, id)
			if err != nil {
				p.Logger.Warn("postgres token watch", "target", p.Target.Name, "token_id", id, "err", err)
				continue
			}
			if reason == "" {
				continue
			}
			for _, s := range sessions {
				s.tokenRefused(ctx, reason)
				p.Logger.Info("postgres session closed: token no longer valid", "target", p.Target.Name,
					"token_id", id, "reason", reason, "pid", s.pid)
				s.shutdown(msgTokenInvalid, codeInvalidAuthorization)
			}
		}
	}
}

// hold creates a review for the statement, tells the client, and waits
// for the decision, a cancel request, the client's disconnect or the
// gateway's shutdown.
func (s *session) hold(ctx context.Context, st *statement) verdict {
	p := s.p
	// A cancel request counts from the moment the statement is held,
	// before the review exists.
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.holdMu.Lock()
	s.holdCancel = cancel
	s.holdMu.Unlock()
	defer func() {
		s.holdMu.Lock()
		s.holdCancel = nil
		s.holdMu.Unlock()
	}()
	payload, hash := s.payload(st)
	rv, err := p.Reviews.Create(context.WithoutCancel(ctx), review.Request{Request: st.req, Decision: st.dec,
		Payload: payload, PayloadHash: hash, Shape: gate.Shape(st.req)})
	if err != nil {
		p.Logger.Error("postgres create review", "target", p.Target.Name, "request_id", st.req.ID, "err", err)
		return s.internal(st, "the statement could not be held for review, so it was not forwarded")
	}
	if err := s.auditRequest(ctx, st, qgate.ActionReview, rv.ID, ""); err != nil {
		p.Reviews.Cancel(context.WithoutCancel(ctx), rv.ID, "the request could not be audited")
		return s.internal(st, "the statement could not be recorded in the audit log, so it was not forwarded")
	}
	url := p.Reviews.URL(rv.ID)
	s.send(item{local: encode(nil, &pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "00000",
		Message: fmt.Sprintf("waiting for approval: review %d, %s", rv.ID, url),
		Detail:  fmt.Sprintf("Policy %s holds this statement until it is approved (expires %s).", policyNames(st.dec), rv.ExpiresAt.Format(time.RFC3339)),
		Hint:    "Cancel the statement to withdraw the review."})})

	gone, stop := s.rd.watch()
	go func() {
		select {
		case <-gone:
			cancel(errGone)
		case <-hctx.Done():
		}
	}()
	final, err := p.Reviews.Wait(hctx, rv.ID)
	stop()

	bg := context.WithoutCancel(ctx)
	detail := fmt.Sprintf("review %d, %s; request id %s", rv.ID, url, st.req.ID)
	if err != nil && hctx.Err() != nil {
		cause := context.Cause(hctx)
		if got, cerr := p.Reviews.Cancel(bg, rv.ID, cause.Error()); cerr != nil {
			p.Logger.Error("postgres cancel review", "target", p.Target.Name, "review_id", rv.ID, "err", cerr)
		} else if got.Status == qgate.ReviewCancelled {
			p.Metrics.ReviewWait(p.Target.Name, string(got.Status), got.DecidedAt.Sub(got.CreatedAt))
		}
		p.Metrics.Request(p.Target.Name, string(qgate.ActionReview), "held")
		switch {
		case errors.Is(cause, errCancelled):
			return verdict{refusal: refusal(codeQueryCanceled, "canceling statement due to user request", "The review was withdrawn: "+detail)}
		default: // gone, shutdown
			return verdict{end: true}
		}
	}
	if err != nil {
		p.Logger.Error("postgres wait review", "target", p.Target.Name, "review_id", rv.ID, "err", err)
		return s.internal(st, "the review could not be read, so the statement was not forwarded")
	}
	p.Metrics.ReviewWait(p.Target.Name, string(final.Status), final.DecidedAt.Sub(final.CreatedAt))
	if final.Status != qgate.ReviewApproved {
		p.Metrics.Request(p.Target.Name, string(qgate.ActionReview), "refused")
		msg := fmt.Sprintf("review %d %s", rv.ID, final.Status)
		if final.Reason != "" {
			msg += ": " + final.Reason
		}
		return verdict{refusal: refusal(codeInsufficientPrivilege, msg, detail)}
	}
	// The hold may have lasted longer than the token: check it again
	// before anything runs.
	s.tokenChecked = time.Time{}
	if v, ok := s.recheckToken(ctx); !ok {
		p.Metrics.Request(p.Target.Name, string(qgate.ActionReview), "refused")
		return v
	}
	if _, err := p.Reviews.Execute(bg, rv.ID, s.token.ID, hash); err != nil {
		p.Metrics.Request(p.Target.Name, string(qgate.ActionReview), "refused")
		if code := qgate.ErrorCode(err); code == qgate.ECONFLICT || code == qgate.EFORBIDDEN {
			return verdict{refusal: refusal(codeInsufficientPrivilege, qgate.ErrorMessage(err), detail)}
		}
		p.Logger.LogAttrs(ctx, slog.LevelError, "postgres execute review", slog.Int64("review_id", rv.ID), slog.Any("err", err))
		return s.internal(st, "the approved review could not be executed")
	}
	return verdict{exec: s.newExecution(st, rv.ID)}
}

func policyNames(d qgate.Decision) string {
	var names []string
	for _, m := range d.Matched {
		if m.Action == qgate.ActionReview {
			names = append(names, strconv.Quote(m.Name))
		}
	}
	if len(names) == 0 {
		return "the environment's default"
	}
	return strings.Join(names, ", ")
}

// payload renders the statement for approvers, with its parameters, and
// the hash that binds an approval to it (text, parameters and token).
func (s *session) payload(st *statement) (payload, hash string) {
	if !st.extended {
		return st.text, review.Hash(st.text, s.token.ID)
	}
	parts := make([]string, 0, len(st.params)+2)
	parts = append(parts, st.text)
	var b strings.Builder
	b.WriteString(st.text)
	for i, v := range st.params {
		r := renderParam(v, paramFormat(st.formats, i))
		parts = append(parts, r)
		fmt.Fprintf(&b, "\n-- $%d = %s", i+1, r)
	}
	parts = append(parts, s.token.ID)
	return b.String(), review.Hash(parts...)
}

func paramFormat(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return 0
	case 1:
		return formats[0]
	}
	if i < len(formats) {
		return formats[i]
	}
	return 0
}

// renderParam shows a bound parameter as a literal: text values quoted,
// binary ones in hex.
func renderParam(v []byte, format int16) string {
	switch {
	case v == nil:
		return "NULL"
	case format == 1:
		return `'\x` + hex.EncodeToString(v) + `' (binary)`
	}
	return "'" + strings.ReplaceAll(string(v), "'", "''") + "'"
}
