package web

import (
	"net/http"
	"time"

	"github.com/qgate/qgate"
)

// Session is a web UI session as the API shows it: never its secret.
type Session struct {
	ID       string   `json:"id"`
	Identity string   `json:"identity"`
	Method   string   `json:"method"`           // local or oidc
	Groups   []string `json:"groups,omitempty"` // the identity provider's, for oidc sessions
	Status   string   `json:"status"`           // active, expired or revoked
	// Current marks the session the caller is using.
	Current       bool      `json:"current"`
	CreatedAt     time.Time `json:"created_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at,omitzero"`
	RevokedAt     time.Time `json:"revoked_at,omitzero"`
	SourceIP      string    `json:"source_ip"`
	UserAgent     string    `json:"user_agent"`
}

func sessionView(x *qgate.Session, c *Caller, now time.Time) *Session {
	status := "active"
	switch {
	case !x.RevokedAt.IsZero():
		status = "revoked"
	case !x.Active(now):
		status = "expired"
	}
	return &Session{ID: x.ID, Identity: x.Identity, Method: x.Method, Groups: x.Groups, Status: status,
		Current: c.SessionID != "" && c.SessionID == x.ID, CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt,
		ExpiresAt: x.ExpiresAt, IdleExpiresAt: x.IdleExpiresAt(), RevokedAt: x.RevokedAt,
		SourceIP: x.SourceIP, UserAgent: x.UserAgent}
}

// listSessions serves GET /api/v1/sessions?identity=&include_inactive=true.
// Admins see everyone's sessions, others their own; by default only the
// active ones.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, c *Caller) error {
	q := r.URL.Query()
	now := s.now()
	f := qgate.SessionFilter{Identity: q.Get("identity"), ActiveAt: now}
	switch v := q.Get("include_inactive"); v {
	case "", "false":
	case "true":
		f.ActiveAt = time.Time{}
	default:
		return qgate.Errorf(qgate.EINVALID, "include_inactive must be true or false, not %q", v)
	}
	if !c.Admin {
		if f.Identity != "" && f.Identity != c.Identity {
			return writeJSON(w, http.StatusOK, []*Session{})
		}
		f.Identity = c.Identity
	}
	ss, err := s.Store.ListSessions(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]*Session, 0, len(ss))
	for _, x := range ss {
		if !f.ActiveAt.IsZero() && !x.Active(now) {
			continue // idle too long
		}
		out = append(out, sessionView(x, c, now))
	}
	return writeJSON(w, http.StatusOK, out)
}

// revokeSession serves POST /api/v1/sessions/{id}/revoke: the session's
// owner or an admin signs it out at once.
func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, c *Caller) error {
	ctx := r.Context()
	x, err := s.Store.Session(ctx, r.PathValue("id"))
	if qgate.ErrorCode(err) == qgate.ENOTFOUND || (err == nil && !c.Admin && x.Identity != c.Identity) {
		// Someone else's session is as good as unknown to a non-admin.
		return qgate.Errorf(qgate.ENOTFOUND, "session %q not found", r.PathValue("id"))
	} else if err != nil {
		return err
	}
	if !x.RevokedAt.IsZero() {
		return qgate.Errorf(qgate.ECONFLICT, "session %s is already revoked", x.ID)
	}
	now := s.now()
	if err := s.Store.RevokeSession(ctx, x.ID, now); err != nil {
		return err
	}
	x.RevokedAt = now
	if err := s.audit(ctx, &qgate.AuditEvent{Type: qgate.AuditSession, Action: "revoked", Identity: x.Identity,
		Data: mustJSON(map[string]any{"by": c.Identity, "by_token": c.TokenID, "session_id": x.ID, "method": x.Method})}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sessionView(x, c, now))
}
