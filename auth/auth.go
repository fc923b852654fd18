package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qgate/qgate"
)

// Reasons for an authentication failure, in AuthError.Reason. They are for
// the audit log and operators, never for the client.
const (
	ReasonMalformed = "malformed"  // not a token: prefix, length, characters or checksum
	ReasonUnknown   = "unknown"    // well-formed, but no token has this id
	ReasonBadSecret = "bad_secret" // the id exists, the secret does not match
	ReasonExpired   = "expired"    // right secret, token past its expiry
	ReasonRevoked   = "revoked"    // right secret, token revoked
)

// invalidTokenMessage is the only thing a client learns about a failure.
const invalidTokenMessage = "invalid token"

// AuthError is the error Verify returns when a token is refused. Whatever
// the reason, it reads the same and unwraps to the same client-facing
// qgate.Errorf(qgate.EUNAUTHORIZED, "invalid token"), so
// qgate.ErrorCode(err) == qgate.EUNAUTHORIZED and qgate.ErrorMessage(err)
// == "invalid token" for every failure. The real reason, for the audit log,
// is available with errors.As.
type AuthError struct {
	Reason  string // one of the Reason constants
	TokenID string // the parsed id; "" when the token was malformed
}

// Error returns the client-facing text, identical for every reason, so that
// printing the error to a client cannot leak the reason.
func (e *AuthError) Error() string { return e.Unwrap().Error() }

// Unwrap returns the client-facing qgate error.
func (e *AuthError) Unwrap() error {
	return qgate.Errorf(qgate.EUNAUTHORIZED, invalidTokenMessage)
}

// Defaults New sets.
const (
	// DefaultCacheTTL is zero: a revocation made by another process (the
	// operator CLI, another replica) is effective at once, or as soon as
	// an announcing store's version shows it. Every call
	// reads the token from the store, unless the store announces token
	// changes (TokenVersioner, as the SQLite store does): then a token is
	// kept until the next change, or VersionedCacheTTL. A deployment may
	// trade immediacy for throughput with auth.token_cache.
	DefaultCacheTTL = 0
	// DefaultTouchInterval is how often a token's last use is written.
	DefaultTouchInterval = time.Minute
	// VersionedCacheTTL is how long Verify keeps a token, with CacheTTL
	// zero, when the store announces every token change (TokenVersioner):
	// the token is read again at once after a change, and at the latest
	// after this long should an announcement have been lost.
	VersionedCacheTTL = time.Second
)

// TokenVersioner is implemented by a TokenStore that can tell, much more
// cheaply than reading a token, whether any token may have changed: the
// version differs after every revocation or rotation committed by any
// process using the same store: at once for changes made through the
// same store value, and for other processes' changes after at most a
// short delay the store documents (the SQLite store: a millisecond,
// sqlite.TokenVersionRecheck). ok is false when it cannot tell.
type TokenVersioner interface {
	TokensVersion() (version uint64, ok bool)
}

// Authenticator issues, verifies, rotates and revokes tokens kept in Store.
// Secrets are never stored: only HMAC-SHA256(Key, secret) and a SCRAM
// verifier of the whole token. It is safe for concurrent use if Store is
// and if its fields are not changed after first use. It must not be copied
// after first use.
type Authenticator struct {
	Store qgate.TokenStore
	// Key is the server key of the keyed hash, at least MinKeySize bytes.
	Key []byte
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// SCRAMIterations is the PBKDF2 iteration count of new SCRAM
	// verifiers (DefaultSCRAMIterations when zero or negative). Some
	// clients refuse fewer than 4096.
	SCRAMIterations int
	// CacheTTL is how long Verify may reuse a token it read from the
	// store instead of reading it again (DefaultCacheTTL in New; zero or
	// negative reads the store on every call, or, if the store is a
	// TokenVersioner, after every announced change and at least every
	// VersionedCacheTTL). Revoke and Rotate through this Authenticator
	// take effect at once regardless; a revocation, rotation or deletion
	// made elsewhere (qgate token revoke in another process, another
	// replica) takes effect as soon as the store's version shows it
	// (TokenVersioner) if the store announced it, and within CacheTTL
	// otherwise.
	CacheTTL time.Duration
	// TouchInterval is how often Verify records a token's use in the
	// store: at most once per TouchInterval per token (by Now), so that a
	// busy token costs one store write a minute rather than one per call
	// (DefaultTouchInterval in New). The stored LastUsed therefore lags by
	// up to TouchInterval. Zero or negative records every use.
	TouchInterval time.Duration

	cache cache
	mac   atomic.Pointer[keyedMAC]
}

// New returns an Authenticator with the default clock, SCRAM iteration
// count, cache lifetime and touch interval.
func New(store qgate.TokenStore, key []byte) *Authenticator {
	return &Authenticator{Store: store, Key: key, Now: time.Now, SCRAMIterations: DefaultSCRAMIterations,
		CacheTTL: DefaultCacheTTL, TouchInterval: DefaultTouchInterval}
}

// IssueRequest describes a token to issue.
type IssueRequest struct {
	Identity     string // required
	Name         string
	Roles        []string
	Targets      []string // empty: every target
	Environments []string // empty: every environment
	// TTL is the token's lifetime; zero means it does not expire.
	TTL time.Duration
}

// Issue creates and stores a new token for req.Identity. It returns the
// whole token string, which is shown once and can never be recovered, and
// the stored token (which holds only hashes).
func (a *Authenticator) Issue(ctx context.Context, req IssueRequest) (token string, t *qgate.Token, err error) {
	if err := a.checkKey(); err != nil {
		return "", nil, err
	}
	if strings.TrimSpace(req.Identity) == "" {
		return "", nil, qgate.Errorf(qgate.EINVALID, "identity is required")
	}
	if req.TTL < 0 {
		return "", nil, qgate.Errorf(qgate.EINVALID, "token lifetime must not be negative")
	}
	now := a.now()
	roles := slices.Clone(req.Roles)
	if roles == nil {
		roles = []string{}
	}
	// 60 random bits make an id collision very unlikely; retry a few times
	// all the same rather than fail.
	for range 3 {
		id, secret := newID(), newSecret()
		token = format(id, secret)
		verifier, err := scramVerifier(token, nil, a.iterations())
		if err != nil {
			return "", nil, err
		}
		t = &qgate.Token{
			ID:           id,
			Name:         req.Name,
			Identity:     req.Identity,
			Roles:        roles,
			Targets:      slices.Clone(req.Targets),
			Environments: slices.Clone(req.Environments),
			SecretHash:   a.hash(secret),
			SCRAM:        verifier,
			CreatedAt:    now,
		}
		if req.TTL > 0 {
			t.ExpiresAt = now.Add(req.TTL)
		}
		err = a.Store.CreateToken(ctx, t)
		if qgate.ErrorCode(err) == qgate.ECONFLICT {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		return token, t, nil
	}
	return "", nil, qgate.Errorf(qgate.EINTERNAL, "could not find an unused token id")
}

// dummyHash is compared against when a token id is unknown, so that an
// unknown id costs the same work as a wrong secret.
var dummyHash = make([]byte, sha256.Size)

// Verify authenticates a whole token string and returns the stored token.
//
// It parses the token, looks its id up, compares HMAC-SHA256(Key, secret)
// in constant time with the stored hash (or with the previous hash while a
// rotation's grace period lasts), and checks that the token is neither
// revoked nor expired. Any refusal is an *AuthError; an unavailable store
// or a missing key is an EINTERNAL error instead, so that outages are not
// reported as bad credentials.
//
// A token that verified is kept for CacheTTL, or, with CacheTTL zero (the
// default) and a store that announces token changes (TokenVersioner),
// until the store's token version changes and at most VersionedCacheTTL;
// with neither, every call reads the store. While kept, a token is
// checked against the kept copy (secret, revocation, expiry by Now, on
// every call) instead of read again; a secret that does not match the
// kept copy is checked against the store. Failures are never kept, so a
// token created elsewhere works at once.
//
// On success the returned token is the caller's own copy with LastUsed
// set to now, and the use is recorded with Store.TouchToken at most once
// per TouchInterval; a failed touch is ignored.
func (a *Authenticator) Verify(ctx context.Context, token string) (*qgate.Token, error) {
	if err := a.checkKey(); err != nil {
		return nil, err
	}
	id, secret, err := Parse(token)
	if err != nil {
		return nil, &AuthError{Reason: ReasonMalformed}
	}
	mac := a.hash(secret)
	now := a.now()
	// The version is taken before the store is read: a change committed
	// after this point gives the next call another version.
	ttl, version := a.CacheTTL, uint64(0)
	if tv, ok := a.Store.(TokenVersioner); ok {
		if v, ok := tv.TokensVersion(); ok {
			version = v
			if ttl <= 0 {
				ttl = VersionedCacheTTL
			}
		}
	}
	t, gen, touchDue := a.cache.get(id, now, ttl, a.TouchInterval, version)
	if t == nil || !matches(t, mac, now) {
		t, err = a.Store.Token(ctx, id)
		if err != nil {
			if qgate.ErrorCode(err) == qgate.ENOTFOUND {
				a.cache.forget(id)
				_ = hmac.Equal(mac, dummyHash)
				return nil, &AuthError{Reason: ReasonUnknown, TokenID: id}
			}
			return nil, fmt.Errorf("%w: %w", qgate.Errorf(qgate.EINTERNAL, "token store unavailable"), err)
		}
		if !matches(t, mac, now) {
			return nil, &AuthError{Reason: ReasonBadSecret, TokenID: id}
		}
		a.cache.put(t, now, gen, version, ttl, a.TouchInterval)
	}
	switch {
	case !t.RevokedAt.IsZero():
		return nil, &AuthError{Reason: ReasonRevoked, TokenID: id}
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return nil, &AuthError{Reason: ReasonExpired, TokenID: id}
	}
	if touchDue && a.cache.touch(id, now, ttl, a.TouchInterval) {
		_ = a.Store.TouchToken(ctx, id, now)
	}
	out := *t
	out.Roles, out.Targets, out.Environments = slices.Clone(t.Roles), slices.Clone(t.Targets), slices.Clone(t.Environments)
	out.LastUsed = now
	return &out, nil
}

// matches reports whether mac is t's secret hash, or its previous one
// while the rotation's grace period lasts, in constant time.
func matches(t *qgate.Token, mac []byte, now time.Time) bool {
	match := hmac.Equal(mac, t.SecretHash)
	if !match && len(t.PrevSecretHash) > 0 && now.Before(t.PrevValidUntil) {
		match = hmac.Equal(mac, t.PrevSecretHash)
	}
	return match
}

// Rotate gives token id a new secret, keeping its id, identity, roles,
// scope and expiry, and returns the new whole token string. The old secret
// stays valid until now+grace; with grace 0 it is invalid at once. Only the
// latest previous secret is kept: rotating again ends the earlier grace.
//
// Revoked tokens cannot be rotated (EINVALID), nor can expired ones
// (EEXPIRED). An unknown id is ENOTFOUND.
//
// During a grace period the new SCRAM verifier reuses the previous one's
// salt and iteration count, so that a PostgreSQL listener can send one salt
// and accept a proof made from either token.
func (a *Authenticator) Rotate(ctx context.Context, id string, grace time.Duration) (token string, err error) {
	if err := a.checkKey(); err != nil {
		return "", err
	}
	if grace < 0 {
		return "", qgate.Errorf(qgate.EINVALID, "grace period must not be negative")
	}
	t, err := a.Store.Token(ctx, id)
	if err != nil {
		return "", err
	}
	now := a.now()
	if !t.RevokedAt.IsZero() {
		return "", qgate.Errorf(qgate.EINVALID, "token %s is revoked and cannot be rotated", t.ID)
	}
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return "", qgate.Errorf(qgate.EEXPIRED, "token %s has expired and cannot be rotated", t.ID)
	}
	var (
		salt       []byte
		iters      = a.iterations()
		graceUntil time.Time
	)
	if grace > 0 {
		graceUntil = now.Add(grace)
		if c, err := ParseSCRAMVerifier(t.SCRAM); err == nil {
			salt, iters = c.Salt, c.Iterations
		}
	}
	secret := newSecret()
	token = format(t.ID, secret)
	verifier, err := scramVerifier(token, salt, iters)
	if err != nil {
		return "", err
	}
	err = a.Store.RotateToken(ctx, t.ID, a.hash(secret), verifier, graceUntil)
	a.cache.forget(t.ID) // whatever happened, read it again
	if err != nil {
		return "", err
	}
	return token, nil
}

// Revoke revokes token id now; the next Verify refuses it. Revoking twice
// keeps the first time. An unknown id is ENOTFOUND.
func (a *Authenticator) Revoke(ctx context.Context, id string) error {
	err := a.Store.RevokeToken(ctx, id, a.now())
	a.cache.forget(id) // whatever happened, read it again
	return err
}

// hash is the keyed hash stored for a secret: HMAC-SHA256(Key, secret).
func (a *Authenticator) hash(secret string) []byte {
	k := a.keyed()
	h, _ := k.pool.Get().(hash.Hash)
	if h == nil {
		h = hmac.New(sha256.New, k.key)
	}
	// Reset restores the keyed state (the hashed inner and outer pads)
	// that the HMAC saved the first time: the pads are not hashed again.
	h.Reset()
	h.Write([]byte(secret))
	sum := h.Sum(nil)
	k.pool.Put(h)
	return sum
}

// keyed returns the HMACs of the current Key.
func (a *Authenticator) keyed() *keyedMAC {
	k := a.mac.Load()
	if k == nil || !bytes.Equal(k.key, a.Key) {
		k = &keyedMAC{key: bytes.Clone(a.Key)}
		a.mac.Store(k)
	}
	return k
}

// keyedMAC keeps HMAC-SHA256 hashers keyed with key for reuse: a new one
// costs allocations and two block hashes for the pads, which a reused
// one's Reset does not.
type keyedMAC struct {
	key  []byte
	pool sync.Pool // of hash.Hash
}

func (a *Authenticator) checkKey() error {
	if len(a.Key) < MinKeySize {
		return qgate.Errorf(qgate.EINTERNAL, "server key is shorter than %d bytes", MinKeySize)
	}
	return nil
}

func (a *Authenticator) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a *Authenticator) iterations() int {
	if a.SCRAMIterations <= 0 {
		return DefaultSCRAMIterations
	}
	return a.SCRAMIterations
}
