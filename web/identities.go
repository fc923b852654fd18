package web

import (
	"net/http"
	"slices"
	"time"

	"github.com/qgate/qgate"
)

// IdentityView is one identity as GET /api/v1/identities shows it.
type IdentityView struct {
	Name  string `json:"name"`
	Kind  string `json:"kind,omitempty"`
	Email string `json:"email,omitempty"`
	// Groups are the identity's groups from the configuration.
	Groups []string `json:"groups"`
	Admin  bool     `json:"admin"`
	// Tokens counts active tokens; AllTokens every token ever issued.
	Tokens    int `json:"tokens"`
	AllTokens int `json:"all_tokens"`
	// LastUsedAt is the latest use of any of its tokens.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// listIdentities serves GET /api/v1/identities (admins): every identity
// the store knows, that holds a token or that a group names, with its
// groups, token counts and last use, by name.
func (s *Server) listIdentities(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if !c.Admin {
		return qgate.Errorf(qgate.EFORBIDDEN, "only admins may list identities")
	}
	ctx := r.Context()
	byName := map[string]*IdentityView{}
	get := func(name string) *IdentityView {
		v := byName[name]
		if v == nil {
			v = &IdentityView{Name: name}
			byName[name] = v
		}
		return v
	}
	ids, err := s.Store.ListIdentities(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		v := get(id.Name)
		v.Kind, v.Email = id.Kind, id.Email
	}
	ts, err := s.Store.ListTokens(ctx, qgate.TokenFilter{IncludeRevoked: true})
	if err != nil {
		return err
	}
	now := s.now()
	for _, t := range ts {
		v := get(t.Identity)
		v.AllTokens++
		if t.Active(now) {
			v.Tokens++
		}
		if t.LastUsed.After(v.LastUsedAt) {
			v.LastUsedAt = t.LastUsed
		}
	}
	for _, members := range s.config().Groups {
		for _, m := range members {
			get(m)
		}
	}
	out := make([]*IdentityView, 0, len(byName))
	for _, v := range byName {
		v.Groups = s.groupsOf(v.Name)
		v.Admin = s.Admins != nil && s.Admins(v.Name)
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *IdentityView) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return writeJSON(w, http.StatusOK, out)
}
