package qgate

import (
	"context"
	"time"
)

// Token is an API token issued to an identity. The secret is never stored:
// SecretHash is a keyed hash of it (see package auth). During a rotation's
// grace period the previous secret's hash stays valid until PrevValidUntil.
type Token struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Identity       string    `json:"identity"`
	Roles          []string  `json:"roles"`
	Targets        []string  `json:"targets,omitempty"`
	Environments   []string  `json:"environments,omitempty"`
	SecretHash     []byte    `json:"-"`
	PrevSecretHash []byte    `json:"-"`
	PrevValidUntil time.Time `json:"-"`
	// SCRAM is the SCRAM-SHA-256 verifier of the whole token string, so the
	// PostgreSQL listener can authenticate psql without seeing the secret.
	SCRAM     string    `json:"-"`
	PrevSCRAM string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	LastUsed  time.Time `json:"last_used_at,omitzero"`
}

// Active reports whether the token may be used at now.
func (t *Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// InScope reports whether the token may be used against target in env.
func (t *Token) InScope(target, env string) bool {
	return (len(t.Targets) == 0 || contains(t.Targets, target)) &&
		(len(t.Environments) == 0 || contains(t.Environments, env))
}

// TokenFilter selects tokens in ListTokens.
type TokenFilter struct {
	Identity       string
	IncludeRevoked bool
}

// TokenStore keeps tokens.
type TokenStore interface {
	// CreateToken inserts t. ECONFLICT if the id exists.
	CreateToken(ctx context.Context, t *Token) error
	// Token returns the token with id. ENOTFOUND if none.
	Token(ctx context.Context, id string) (*Token, error)
	// ListTokens returns tokens ordered by creation time.
	ListTokens(ctx context.Context, f TokenFilter) ([]*Token, error)
	// RevokeToken marks the token revoked at the given time. ENOTFOUND if
	// none; revoking twice keeps the first time.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// RotateToken replaces the secret hash and SCRAM verifier; the old ones
	// stay valid until graceUntil (zero: not at all). ENOTFOUND if none.
	RotateToken(ctx context.Context, id string, hash []byte, scram string, graceUntil time.Time) error
	// TouchToken records a use. Best effort.
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// Identity is who tokens speak for: a person or a service.
type Identity struct {
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	Kind      string    `json:"kind,omitempty"` // "person" or "service"
	CreatedAt time.Time `json:"created_at"`
}

// IdentityStore keeps identities. Group membership comes from config.
type IdentityStore interface {
	// UpsertIdentity creates the identity or updates its email and kind;
	// an empty email or kind leaves the stored one unchanged.
	UpsertIdentity(ctx context.Context, id *Identity) error
	// Identity returns the named identity. ENOTFOUND if none.
	Identity(ctx context.Context, name string) (*Identity, error)
	// ListIdentities returns identities ordered by name.
	ListIdentities(ctx context.Context) ([]*Identity, error)
}
