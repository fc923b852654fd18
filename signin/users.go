package signin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/qgate/qgate"
)

// AccountStore is what Users needs from the store.
type AccountStore interface {
	qgate.UserStore
	UpsertIdentity(ctx context.Context, id *qgate.Identity) error
	RevokeSessions(ctx context.Context, identity string, at time.Time) (int, error)
}

// userNameRE is what a local user's name may be: an identity name, which
// may be an e-mail address.
var userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$`)

// Reasons a password sign-in fails, in LoginError.Reason: for the audit
// log and metrics, never for the person signing in.
const (
	ReasonUnknownUser = "unknown_user"
	ReasonBadPassword = "bad_password"
	ReasonDisabled    = "disabled"
)

// wrongCredentials is all the person signing in learns about a failure.
const wrongCredentials = "wrong user name or password"

// LoginError is a refused password sign-in. Whatever the reason it reads
// "wrong user name or password" and unwraps to an EUNAUTHORIZED error.
type LoginError struct {
	Reason string
}

func (e *LoginError) Error() string { return wrongCredentials }

// Unwrap returns the client-facing qgate error.
func (e *LoginError) Unwrap() error { return qgate.Errorf(qgate.EUNAUTHORIZED, wrongCredentials) }

// Users manages local users: creating them, changing and checking
// passwords, disabling them.
type Users struct {
	Store AccountStore
	// Params are the argon2id parameters of new hashes (DefaultParams in
	// NewUsers). A sign-in whose stored hash has other parameters rehashes
	// the password with these.
	Params Params
	Now    func() time.Time

	dummyOnce sync.Once
	dummy     string
	// verify checks a password against a hash (VerifyPassword when nil);
	// tests count the work done through it.
	verify func(password, hash string) (bool, Params, error)
}

// NewUsers returns Users with DefaultParams and the real clock.
func NewUsers(st AccountStore) *Users {
	return &Users{Store: st, Params: DefaultParams, Now: time.Now}
}

// Add creates a user with the password, which must satisfy CheckPassword,
// and records the identity (kind person).
func (u *Users) Add(ctx context.Context, name, email, password string) (*qgate.User, error) {
	if !userNameRE.MatchString(name) {
		return nil, qgate.Errorf(qgate.EINVALID, "invalid user name %q: letters, digits and _ . @ + - (at most 128, starting with a letter or digit)", name)
	}
	if email != "" && (!strings.Contains(email, "@") || strings.ContainsAny(email, " \t\r\n<>")) {
		return nil, qgate.Errorf(qgate.EINVALID, "invalid e-mail address %q", email)
	}
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	hash, err := HashPassword(password, u.Params)
	if err != nil {
		return nil, err
	}
	now := u.now()
	user := &qgate.User{Name: name, Email: email, PasswordHash: hash, CreatedAt: now}
	if err := u.Store.CreateUser(ctx, user); err != nil {
		return nil, fmt.Errorf("add user %s: %w", name, err)
	}
	if err := u.Store.UpsertIdentity(ctx, &qgate.Identity{Name: name, Email: email, Kind: "person"}); err != nil {
		return nil, fmt.Errorf("add user %s: %w", name, err)
	}
	return user, nil
}

// SetPassword replaces the user's password and revokes every web session
// of theirs (whoever knew the old password is signed out everywhere). It
// returns how many sessions it revoked.
func (u *Users) SetPassword(ctx context.Context, name, password string) (int, error) {
	if err := CheckPassword(password); err != nil {
		return 0, err
	}
	hash, err := HashPassword(password, u.Params)
	if err != nil {
		return 0, err
	}
	now := u.now()
	if err := u.Store.SetUserPassword(ctx, name, hash, now); err != nil {
		return 0, fmt.Errorf("set password of %s: %w", name, err)
	}
	n, err := u.Store.RevokeSessions(ctx, name, now)
	if err != nil {
		return 0, fmt.Errorf("set password of %s: sign out: %w", name, err)
	}
	return n, nil
}

// Disable stops the user from signing in and revokes every session of
// theirs at once. It returns how many sessions it revoked.
func (u *Users) Disable(ctx context.Context, name string) (int, error) {
	now := u.now()
	if err := u.Store.DisableUser(ctx, name, now); err != nil {
		return 0, fmt.Errorf("disable user %s: %w", name, err)
	}
	n, err := u.Store.RevokeSessions(ctx, name, now)
	if err != nil {
		return 0, fmt.Errorf("disable user %s: %w", name, err)
	}
	return n, nil
}

// Authenticate checks a user name and password. Every failure is a
// *LoginError; an unknown user costs the same argon2id work as a wrong
// password (a dummy hash is checked), so the time taken does not tell
// whether a name exists. A disabled user is refused after the password
// check, for the same reason. Store failures are EINTERNAL errors.
func (u *Users) Authenticate(ctx context.Context, name, password string) (*qgate.User, error) {
	if len(password) > MaxPasswordLength {
		password = password[:MaxPasswordLength]
	}
	user, err := u.Store.User(ctx, name)
	if err != nil && qgate.ErrorCode(err) != qgate.ENOTFOUND {
		return nil, fmt.Errorf("%w: %w", qgate.Errorf(qgate.EINTERNAL, "user store unavailable"), err)
	}
	verify := u.verify
	if verify == nil {
		verify = VerifyPassword
	}
	if user == nil {
		_, _, _ = verify(password, u.dummyHash())
		return nil, &LoginError{Reason: ReasonUnknownUser}
	}
	ok, params, err := verify(password, user.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("%w: user %s: %w", qgate.Errorf(qgate.EINTERNAL, "stored password hash unreadable"), name, err)
	}
	switch {
	case !ok:
		return nil, &LoginError{Reason: ReasonBadPassword}
	case user.Disabled():
		return nil, &LoginError{Reason: ReasonDisabled}
	}
	if params != u.Params {
		// The parameters were raised (or lowered) since the hash was made.
		if hash, err := HashPassword(password, u.Params); err == nil {
			if err := u.Store.SetUserPassword(ctx, name, hash, u.now()); err == nil {
				user.PasswordHash = hash
			}
		}
	}
	return user, nil
}

// dummyHash is a hash with the current parameters of a password nobody
// knows, made once.
func (u *Users) dummyHash() string {
	u.dummyOnce.Do(func() {
		var err error
		if u.dummy, err = HashPassword(newSecret(), u.Params); err != nil {
			u.dummy = ""
		}
	})
	return u.dummy
}

func (u *Users) now() time.Time {
	if u.Now == nil {
		return time.Now().UTC()
	}
	return u.Now().UTC()
}

// IsLoginError reports whether err is a refused sign-in and returns its
// reason.
func IsLoginError(err error) (string, bool) {
	var le *LoginError
	if errors.As(err, &le) {
		return le.Reason, true
	}
	return "", false
}
