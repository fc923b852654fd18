package pgproxy

import (
	"context"
	"fmt"

	"github.com/qgate/qgate"
)

// codeTooManyConnections is PostgreSQL's too_many_connections.
const codeTooManyConnections = "53300"

// acquireSlot counts the authenticated session against the target's and
// the token's connection limits. Over a limit, the refusal is audited, the
// client gets FATAL 53300 and acquireSlot reports false; no upstream
// connection has been opened.
func (s *session) acquireSlot(ctx context.Context) bool {
	p := s.p
	id := s.token.ID
	var reason, msg string
	var limit int
	p.mu.Lock()
	switch {
	case p.MaxConnectionsPerToken > 0 && p.perToken[id] >= p.MaxConnectionsPerToken:
		reason, limit = "too many connections for token", p.MaxConnectionsPerToken
		msg = fmt.Sprintf("too many connections for token %s", id)
	case p.MaxConnections > 0 && p.active >= p.MaxConnections:
		reason, limit = "too many connections to target", p.MaxConnections
		msg = fmt.Sprintf("too many connections to target %q", p.Target.Name)
	default:
		p.active++
		p.perToken[id]++
		s.slot = true
		s.watchToken = id
	}
	p.mu.Unlock()
	if s.slot {
		return true
	}
	ev := s.event(qgate.AuditAuth, "deny", "", 0, map[string]any{"reason": reason, "limit": limit,
		"source_ip": s.ip, "protocol": "postgres"})
	if err := p.Audit.Append(context.WithoutCancel(ctx), ev); err != nil {
		p.Logger.Error("audit append failed", "target", p.Target.Name, "event", "auth", "err", err)
	}
	p.Logger.Info("postgres connection refused", "target", p.Target.Name, "source_ip", s.ip, "reason", reason,
		"limit", limit, "token_id", id)
	s.writeFlush(encode(nil, errorMsg("FATAL", codeTooManyConnections, msg, fmt.Sprintf("The limit is %d.", limit))))
	return false
}

// releaseSlot gives back the session's connection slot, once.
func (s *session) releaseSlot() {
	if !s.slot {
		return
	}
	s.slot = false
	p := s.p
	p.mu.Lock()
	s.watchToken = ""
	p.active--
	if p.perToken[s.token.ID]--; p.perToken[s.token.ID] <= 0 {
		delete(p.perToken, s.token.ID)
	}
	p.mu.Unlock()
}
