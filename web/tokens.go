package web

import (
	"context"
	"net/http"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
)

// Token is a token as the API shows it: never its hash or SCRAM verifier.
// Secret is set once, in the answer to a creation or rotation.
type Token struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Identity     string    `json:"identity"`
	Roles        []string  `json:"roles"`
	Targets      []string  `json:"targets"`
	Environments []string  `json:"environments"`
	Status       string    `json:"status"` // active, expired or revoked
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	LastUsedAt   time.Time `json:"last_used_at,omitzero"`
	// Secret is the whole token string, shown once.
	Secret string `json:"token,omitempty"`
}

func tokenView(t *qgate.Token, now time.Time) *Token {
	status := "active"
	switch {
	case !t.RevokedAt.IsZero():
		status = "revoked"
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		status = "expired"
	}
	return &Token{ID: t.ID, Name: t.Name, Identity: t.Identity, Roles: nonNil(t.Roles), Targets: nonNil(t.Targets),
		Environments: nonNil(t.Environments), Status: status, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsed}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// listTokens serves GET /api/v1/tokens?identity=&include_revoked=true.
// Admins see every token, others their own.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, c *Caller) error {
	q := r.URL.Query()
	f := qgate.TokenFilter{Identity: q.Get("identity")}
	switch v := q.Get("include_revoked"); v {
	case "", "false":
	case "true":
		f.IncludeRevoked = true
	default:
		return qgate.Errorf(qgate.EINVALID, "include_revoked must be true or false, not %q", v)
	}
	if !c.Admin {
		if f.Identity != "" && f.Identity != c.Identity {
			return writeJSON(w, http.StatusOK, []*Token{})
		}
		f.Identity = c.Identity
	}
	ts, err := s.Store.ListTokens(r.Context(), f)
	if err != nil {
		return err
	}
	now := s.now()
	out := make([]*Token, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenView(t, now))
	}
	return writeJSON(w, http.StatusOK, out)
}

// TokenRequest is the body of POST /api/v1/tokens. TTL is a Go duration
// ("24h"); empty: the token does not expire.
type TokenRequest struct {
	Identity     string   `json:"identity"`
	Name         string   `json:"name,omitempty"`
	Roles        []string `json:"roles,omitempty"`
	Targets      []string `json:"targets,omitempty"`
	Environments []string `json:"environments,omitempty"`
	TTL          string   `json:"ttl,omitempty"`
}

// createToken serves POST /api/v1/tokens (admins only). It answers 201
// with the token and its secret.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if !c.Admin {
		return qgate.Errorf(qgate.EFORBIDDEN, "only admins may issue tokens")
	}
	var body TokenRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	ttl, err := durationParam("ttl", body.TTL)
	if err != nil {
		return err
	}
	ctx := r.Context()
	secret, t, err := s.Auth.Issue(ctx, auth.IssueRequest{Identity: body.Identity, Name: body.Name, Roles: body.Roles,
		Targets: body.Targets, Environments: body.Environments, TTL: ttl})
	if err != nil {
		return err
	}
	if err := s.Store.UpsertIdentity(ctx, &qgate.Identity{Name: t.Identity}); err != nil {
		return s.undoIssue(ctx, t, err)
	}
	if err := s.audit(ctx, &qgate.AuditEvent{Type: qgate.AuditToken, Action: "created", Identity: c.Identity, TokenID: t.ID,
		Data: mustJSON(map[string]any{"by": c.Identity, "by_token": c.TokenID, "token": t.ID, "identity": t.Identity,
			"name": t.Name, "roles": t.Roles, "targets": t.Targets, "environments": t.Environments, "expires_at": t.ExpiresAt})}); err != nil {
		return s.undoIssue(ctx, t, err)
	}
	v := tokenView(t, s.now())
	v.Secret = secret
	return writeJSON(w, http.StatusCreated, v)
}

// undoIssue revokes a token whose secret will never be shown, because
// issuing it could not be completed (or audited).
func (s *Server) undoIssue(ctx context.Context, t *qgate.Token, err error) error {
	if rerr := s.Auth.Revoke(context.WithoutCancel(ctx), t.ID); rerr != nil {
		s.logger().Error("revoke a token whose creation failed", "token_id", t.ID, "err", rerr)
	}
	return err
}

// ownedToken returns the token named in the path if c is an admin or its
// owner.
func (s *Server) ownedToken(r *http.Request, c *Caller, verb string) (*qgate.Token, error) {
	id := r.PathValue("id")
	t, err := s.Store.Token(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !c.Admin && t.Identity != c.Identity {
		return nil, qgate.Errorf(qgate.EFORBIDDEN, "only an admin or the token's owner may %s token %s", verb, id)
	}
	return t, nil
}

// revokeToken serves POST /api/v1/tokens/{id}/revoke (admin or owner).
// Revoking a revoked token is ECONFLICT.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, c *Caller) error {
	t, err := s.ownedToken(r, c, "revoke")
	if err != nil {
		return err
	}
	if !t.RevokedAt.IsZero() {
		return qgate.Errorf(qgate.ECONFLICT, "token %s is already revoked", t.ID)
	}
	ctx := r.Context()
	if err := s.Auth.Revoke(ctx, t.ID); err != nil {
		return err
	}
	if err := s.audit(ctx, &qgate.AuditEvent{Type: qgate.AuditToken, Action: "revoked", Identity: c.Identity, TokenID: t.ID,
		Data: mustJSON(map[string]any{"by": c.Identity, "by_token": c.TokenID, "token": t.ID, "identity": t.Identity})}); err != nil {
		return err
	}
	if t, err = s.Store.Token(ctx, t.ID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, tokenView(t, s.now()))
}

// RotateRequest is the body of a rotation: how long the old secret keeps
// working, as a Go duration ("1h"); empty: not at all.
type RotateRequest struct {
	Grace string `json:"grace,omitempty"`
}

// rotateToken serves POST /api/v1/tokens/{id}/rotate (admin or owner). It
// answers the token with its new secret.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, c *Caller) error {
	var body RotateRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	grace, err := durationParam("grace", body.Grace)
	if err != nil {
		return err
	}
	t, err := s.ownedToken(r, c, "rotate")
	if err != nil {
		return err
	}
	ctx := r.Context()
	secret, err := s.Auth.Rotate(ctx, t.ID, grace)
	if err != nil {
		return err
	}
	if err := s.audit(ctx, &qgate.AuditEvent{Type: qgate.AuditToken, Action: "rotated", Identity: c.Identity, TokenID: t.ID,
		Data: mustJSON(map[string]any{"by": c.Identity, "by_token": c.TokenID, "token": t.ID, "identity": t.Identity,
			"grace": grace.String()})}); err != nil {
		return err
	}
	if t, err = s.Store.Token(ctx, t.ID); err != nil {
		return err
	}
	v := tokenView(t, s.now())
	v.Secret = secret
	return writeJSON(w, http.StatusOK, v)
}

// durationParam parses an optional non-negative Go duration.
func durationParam(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, qgate.Errorf(qgate.EINVALID, "%s must be a duration such as 1h or 30m, not %q", name, s)
	}
	return d, nil
}
