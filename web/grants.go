package web

import (
	"net/http"
	"slices"
	"time"

	"github.com/qgate/qgate"
)

// listGrants serves GET /api/v1/grants: the grants active now, newest
// first. Staff see every grant, others the grants of their own tokens.
func (s *Server) listGrants(w http.ResponseWriter, r *http.Request, c *Caller) error {
	gs, err := s.Store.ListGrants(r.Context(), s.now())
	if err != nil {
		return err
	}
	out := make([]*qgate.Grant, 0, len(gs))
	var own map[string]bool
	if !c.staff() {
		if own, err = s.ownTokens(r, c); err != nil {
			return err
		}
	}
	for _, g := range gs {
		if own == nil || own[g.TokenID] {
			out = append(out, g)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// ownTokens returns the ids of c's tokens, revoked ones included.
func (s *Server) ownTokens(r *http.Request, c *Caller) (map[string]bool, error) {
	ts, err := s.Store.ListTokens(r.Context(), qgate.TokenFilter{Identity: c.Identity, IncludeRevoked: true})
	if err != nil {
		return nil, err
	}
	own := make(map[string]bool, len(ts))
	for _, t := range ts {
		own[t.ID] = true
	}
	return own, nil
}

// revokeGrant serves POST /api/v1/grants/{id}/revoke. It answers the
// revoked grant; ECONFLICT if it had already ended.
func (s *Server) revokeGrant(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id, err := pathID(r, "grant")
	if err != nil {
		return err
	}
	ctx := r.Context()
	g, err := s.grant(r, id)
	if err != nil {
		return err
	}
	if ok, err := s.mayRevokeGrant(r, c, g); err != nil {
		return err
	} else if !ok {
		return qgate.Errorf(qgate.EFORBIDDEN, "only an admin, an approver of review %d or the grant's holder may revoke grant %d", g.ReviewID, g.ID)
	}
	now := s.now()
	switch {
	case !g.RevokedAt.IsZero():
		return qgate.Errorf(qgate.ECONFLICT, "grant %d is already revoked", g.ID)
	case !now.Before(g.ExpiresAt):
		return qgate.Errorf(qgate.ECONFLICT, "grant %d has already expired", g.ID)
	}
	if err := s.Store.RevokeGrant(ctx, g.ID, now); err != nil {
		return err
	}
	g.RevokedAt = now
	if err := s.audit(ctx, &qgate.AuditEvent{Type: qgate.AuditGrant, Action: "revoked", Identity: c.Identity,
		TokenID: g.TokenID, Target: g.Target, ReviewID: g.ReviewID,
		Data: mustJSON(map[string]any{"by": c.Identity, "by_token": c.TokenID, "grant_id": g.ID, "shape": g.Shape})}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, g)
}

// grant finds a grant by id. The store has no lookup by id, so this reads
// every grant; grants are few.
func (s *Server) grant(r *http.Request, id int64) (*qgate.Grant, error) {
	gs, err := s.Store.ListGrants(r.Context(), time.Time{})
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(gs, func(g *qgate.Grant) bool { return g.ID == id })
	if i < 0 {
		return nil, qgate.Errorf(qgate.ENOTFOUND, "grant %d not found", id)
	}
	return gs[i], nil
}

// mayRevokeGrant: admins; whoever approved it; those who could have
// approved the review it came from; the identity holding the token.
func (s *Server) mayRevokeGrant(r *http.Request, c *Caller, g *qgate.Grant) (bool, error) {
	if c.Admin || g.CreatedBy == c.Identity {
		return true, nil
	}
	if rv, err := s.Store.Review(r.Context(), g.ReviewID); err == nil {
		if namedApprover(c, rv) && rv.Requester != c.Identity {
			return true, nil
		}
	} else if qgate.ErrorCode(err) != qgate.ENOTFOUND {
		return false, err
	}
	t, err := s.Store.Token(r.Context(), g.TokenID)
	if err == nil {
		return t.Identity == c.Identity, nil
	} else if qgate.ErrorCode(err) != qgate.ENOTFOUND {
		return false, err
	}
	return false, nil
}
