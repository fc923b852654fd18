package signin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/internal/clientip"
	"github.com/qgate/qgate/metrics"
	"github.com/qgate/qgate/web"
)

// Cookie names.
const (
	SessionCookie   = "qgate_session" // the session secret
	LoginCSRFCookie = "qgate_csrf"    // the login form's double-submit token
	OIDCCookie      = "qgate_oidc"    // state, nonce and PKCE verifier of a sign-in in progress
)

// Defaults New sets.
const (
	DefaultLifetime    = 12 * time.Hour
	DefaultIdleTimeout = time.Hour
	// DefaultTouchInterval is how often a session's last use is written.
	DefaultTouchInterval = time.Minute
	// Throttling: per user name 5 failures in 10 minutes, per source IP
	// 20 (several people may share an address).
	DefaultUserFailures   = 5
	DefaultIPFailures     = 20
	DefaultThrottleWindow = 10 * time.Minute
)

// Store is what the sign-in service needs from the store.
type Store interface {
	AccountStore
	qgate.SessionStore
}

// Auditor records audit events durably; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, e *qgate.AuditEvent) error
}

// Service signs people in to the web UI: the /login, /logout and OIDC
// routes (Handler), and Authenticate, the hook for web.Server that accepts
// the session cookie and falls back to a bearer token. Set fields before
// the first request; New sets working defaults.
type Service struct {
	Users    *Users
	Sessions qgate.SessionStore
	Audit    Auditor
	// GroupsOf returns an identity's groups from the configuration.
	GroupsOf func(identity string) []string
	// Bearer authenticates requests without a session (web.Server's
	// BearerAuth); nil: only sessions.
	Bearer func(r *http.Request) (*web.Caller, error)
	// OIDC, when set, offers "Sign in with <name>".
	OIDC *OIDC
	// Lifetime is a session's absolute lifetime, IdleTimeout how long it
	// lasts unused.
	Lifetime, IdleTimeout time.Duration
	// Secure marks cookies Secure: set it when the server is reached over
	// https (TLS listener or an https public URL).
	Secure bool
	// TouchInterval is how often a session's last use is written at most.
	TouchInterval time.Duration
	// UserThrottle and IPThrottle slow down password guessing.
	UserThrottle, IPThrottle *Throttle
	// ClientIP finds the client's address behind trusted reverse proxies
	// (server.trusted_proxies); nil: the TCP peer. IPThrottle counts by it.
	ClientIP *clientip.Resolver
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	Now      func() time.Time
}

// New returns a Service with default lifetimes, throttles, logger and
// clock, local users with default argon2id parameters, and no OIDC.
func New(st Store, auditor Auditor) *Service {
	return &Service{
		Users: NewUsers(st), Sessions: st, Audit: auditor,
		Lifetime: DefaultLifetime, IdleTimeout: DefaultIdleTimeout, TouchInterval: DefaultTouchInterval,
		UserThrottle: NewThrottle(DefaultUserFailures, DefaultThrottleWindow),
		IPThrottle:   NewThrottle(DefaultIPFailures, DefaultThrottleWindow),
		Logger:       slog.Default(), Now: time.Now,
	}
}

// Authenticate identifies the caller of an API request: by the session
// cookie when it names an active session, otherwise by Bearer. A request
// with a cookie that is no longer valid and no other credentials is told
// to sign in again. Install it as web.Server.Authenticate.
func (s *Service) Authenticate(r *http.Request) (*web.Caller, error) {
	if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
		c, err := s.sessionCaller(r.Context(), ck.Value)
		if err == nil {
			return c, nil
		}
		if qgate.ErrorCode(err) != qgate.EUNAUTHORIZED {
			return nil, err
		}
		if r.Header.Get("Authorization") == "" || s.Bearer == nil {
			return nil, err
		}
	}
	if s.Bearer == nil {
		return nil, qgate.Errorf(qgate.EUNAUTHORIZED, "sign in first")
	}
	return s.Bearer(r)
}

// sessionCaller resolves a cookie secret to the caller it signs in.
func (s *Service) sessionCaller(ctx context.Context, secret string) (*web.Caller, error) {
	x, err := s.session(ctx, secret)
	if err != nil {
		return nil, err
	}
	return &web.Caller{Identity: x.Identity, Groups: s.groups(x), SessionID: x.ID, CSRFToken: csrfToken(secret)}, nil
}

// session returns the active session of a cookie secret and records its
// use. EUNAUTHORIZED if there is none.
func (s *Service) session(ctx context.Context, secret string) (*qgate.Session, error) {
	expired := qgate.Errorf(qgate.EUNAUTHORIZED, "your session has ended; sign in again")
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) != secretSize {
		return nil, expired
	}
	x, err := s.Sessions.SessionBySecret(ctx, hashSecret(secret))
	if qgate.ErrorCode(err) == qgate.ENOTFOUND {
		return nil, expired
	} else if err != nil {
		return nil, errors.Join(qgate.Errorf(qgate.EINTERNAL, "session store unavailable"), err)
	}
	now := s.now()
	if !x.Active(now) {
		return nil, expired
	}
	interval := s.TouchInterval
	if x.IdleTimeout > 0 {
		interval = min(interval, x.IdleTimeout/10)
	}
	if now.Sub(x.LastSeenAt) >= interval {
		if err := s.Sessions.TouchSession(ctx, x.ID, now); err != nil {
			s.logger().Warn("could not record a session's use", "session_id", x.ID, "err", err)
		}
	}
	return x, nil
}

// groups are the configuration's groups of the session's identity, and
// for an OIDC session also the identity provider's groups at sign-in.
func (s *Service) groups(x *qgate.Session) []string {
	var gs []string
	if s.GroupsOf != nil {
		gs = slices.Clone(s.GroupsOf(x.Identity))
	}
	for _, g := range x.Groups {
		if !slices.Contains(gs, g) {
			gs = append(gs, g)
		}
	}
	slices.Sort(gs)
	if gs == nil {
		gs = []string{}
	}
	return gs
}

// open starts a session for identity and sets its cookie on w.
func (s *Service) open(ctx context.Context, w http.ResponseWriter, r *http.Request, identity, method string, groups []string) (*qgate.Session, error) {
	now := s.now()
	for range 3 {
		secret := newSecret()
		x := &qgate.Session{
			ID: newSessionID(), SecretHash: hashSecret(secret), Identity: identity, Groups: groups, Method: method,
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.Lifetime), IdleTimeout: s.IdleTimeout,
			SourceIP: s.sourceIP(r), UserAgent: truncate(r.UserAgent(), 256),
		}
		err := s.Sessions.CreateSession(ctx, x)
		if qgate.ErrorCode(err) == qgate.ECONFLICT {
			continue
		} else if err != nil {
			return nil, err
		}
		http.SetCookie(w, s.cookie(SessionCookie, secret, "/", 0))
		return x, nil
	}
	return nil, qgate.Errorf(qgate.EINTERNAL, "could not find an unused session id")
}

// cookie returns an HttpOnly, SameSite=Lax cookie, Secure when s.Secure.
// maxAge < 0 deletes it; 0 makes it last until the browser closes.
func (s *Service) cookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true,
		Secure: s.Secure, SameSite: http.SameSiteLaxMode}
}

// audit appends an event stamped now; the change it records has happened
// even if the client hangs up.
func (s *Service) audit(ctx context.Context, e *qgate.AuditEvent) {
	if s.Audit == nil {
		return
	}
	e.Time = s.now()
	if err := s.Audit.Append(context.WithoutCancel(ctx), e); err != nil {
		s.logger().Error("could not audit a sign-in event", "type", e.Type, "action", e.Action, "err", err)
	}
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// secretSize is the size of a session secret: 256 random bits.
const secretSize = 32

// newSecret returns 256 random bits, base64url-encoded.
func newSecret() string {
	b := make([]byte, secretSize)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newSessionID returns a public session id: 96 random bits in hex,
// unrelated to the secret.
func newSessionID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// hashSecret is what the store keeps of a session secret. The secret has
// 256 bits of entropy, so a plain SHA-256 cannot be reversed.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte("qgate-session-v1:" + secret))
	return h[:]
}

// csrfToken derives a session's CSRF token from its secret: it differs
// per session, needs no storage, and cannot be computed from what the
// store keeps.
func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("qgate-csrf-v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// equal compares two tokens in constant time; empty never matches.
func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// sourceIP is the client's address (ClientIP's answer; the peer address
// without a resolver).
func (s *Service) sourceIP(r *http.Request) string { return s.ClientIP.IP(r) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// SessionRetention is how long an ended session stays listed (GET
// /api/v1/sessions?include_inactive=true) before Sweep deletes it.
const SessionRetention = 7 * 24 * time.Hour

// Sweep deletes the sessions that ended more than SessionRetention ago and
// returns how many it deleted.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	return s.Sessions.DeleteEndedSessions(ctx, s.now().Add(-SessionRetention))
}

// Run calls Sweep every interval until ctx ends, logging failures.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil {
			if ctx.Err() == nil {
				s.logger().Error("deleting ended sessions", "err", err)
			}
		} else if n > 0 {
			s.logger().Info("deleted ended sessions", "sessions", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
