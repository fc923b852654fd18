package qgate

import (
	"context"
	"time"
)

// User is a local account of the web UI: a person who signs in with a
// password. Its Name is an identity name, so its groups come from the
// configuration exactly as a token's do. The password is never stored:
// PasswordHash is a PHC-format argon2id string that carries its own
// parameters (see package signin).
type User struct {
	Name         string    `json:"name"`
	Email        string    `json:"email,omitempty"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"` // last password change
	DisabledAt   time.Time `json:"disabled_at,omitzero"`
}

// Disabled reports whether the user may no longer sign in.
func (u *User) Disabled() bool { return !u.DisabledAt.IsZero() }

// UserStore keeps local users.
type UserStore interface {
	// CreateUser inserts u. ECONFLICT if the name exists.
	CreateUser(ctx context.Context, u *User) error
	// User returns the named user. ENOTFOUND if none.
	User(ctx context.Context, name string) (*User, error)
	// ListUsers returns every user, disabled ones too, ordered by name.
	ListUsers(ctx context.Context) ([]*User, error)
	// SetUserPassword replaces the password hash and sets UpdatedAt to at.
	// ENOTFOUND if none.
	SetUserPassword(ctx context.Context, name, hash string, at time.Time) error
	// DisableUser marks the user disabled at the given time. ENOTFOUND if
	// none; disabling twice keeps the first time.
	DisableUser(ctx context.Context, name string, at time.Time) error
}

// Session methods: how a web UI session was opened.
const (
	SessionLocal = "local" // user name and password
	SessionOIDC  = "oidc"  // OpenID Connect
)

// Session is a signed-in browser. The cookie carries a random secret that
// is never stored: SecretHash is its SHA-256. ID is a public name for the
// session (for listing and revoking it), unrelated to the secret.
type Session struct {
	ID         string `json:"id"`
	SecretHash []byte `json:"-"`
	Identity   string `json:"identity"`
	// Groups is the identity provider's groups at sign-in (OIDC sessions);
	// nil for local sessions, whose groups come from the configuration.
	Groups    []string  `json:"groups,omitempty"`
	Method    string    `json:"method"` // SessionLocal or SessionOIDC
	CreatedAt time.Time `json:"created_at"`
	// LastSeenAt is the last recorded use; it lags by up to the touch
	// interval of whoever records uses.
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"` // absolute end of the session
	// IdleTimeout ends the session when it has not been used for so long
	// (zero: never).
	IdleTimeout time.Duration `json:"idle_timeout"`
	RevokedAt   time.Time     `json:"revoked_at,omitzero"`
	SourceIP    string        `json:"source_ip"`
	UserAgent   string        `json:"user_agent"`
}

// Active reports whether the session may be used at now: not revoked,
// before its absolute expiry, and used within its idle timeout.
func (s *Session) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt) &&
		(s.IdleTimeout <= 0 || now.Before(s.IdleExpiresAt()))
}

// IdleExpiresAt is when the session ends if it is not used again (zero
// without an idle timeout).
func (s *Session) IdleExpiresAt() time.Time {
	if s.IdleTimeout <= 0 {
		return time.Time{}
	}
	return s.LastSeenAt.Add(s.IdleTimeout)
}

// SessionFilter selects sessions in ListSessions.
type SessionFilter struct {
	Identity string // "" for everyone's
	// ActiveAt, when set, leaves out sessions revoked or past their
	// absolute expiry at that time (the idle timeout is the caller's to
	// apply with Session.Active).
	ActiveAt time.Time
}

// SessionStore keeps web UI sessions.
type SessionStore interface {
	// CreateSession inserts s. ECONFLICT if the id or secret hash exists.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns the session with the public id. ENOTFOUND if none.
	Session(ctx context.Context, id string) (*Session, error)
	// SessionBySecret returns the session whose SecretHash is hash.
	// ENOTFOUND if none.
	SessionBySecret(ctx context.Context, hash []byte) (*Session, error)
	// ListSessions returns sessions ordered by creation time, newest first.
	ListSessions(ctx context.Context, f SessionFilter) ([]*Session, error)
	// TouchSession records a use; the latest use wins. ENOTFOUND if none.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// RevokeSession marks the session revoked at the given time.
	// ENOTFOUND if none; revoking twice keeps the first time.
	RevokeSession(ctx context.Context, id string, at time.Time) error
	// RevokeSessions revokes every unrevoked session of identity and
	// returns how many it revoked.
	RevokeSessions(ctx context.Context, identity string, at time.Time) (int, error)
	// DeleteEndedSessions deletes the sessions that ended before cutoff
	// (revoked, past their lifetime, or idle for their idle timeout) and
	// returns how many it deleted.
	DeleteEndedSessions(ctx context.Context, cutoff time.Time) (int, error)
}
