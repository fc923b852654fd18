package pgproxy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
)

// Reasons for a refused login that auth.AuthError does not name.
const (
	reasonOutOfScope = "out_of_scope" // valid token, other targets or environments
	reasonNoSCRAM    = "no_verifier"  // the token has no usable SCRAM verifier
	reasonProtocol   = "protocol"     // the client broke the authentication exchange
	reasonMechanism  = "mechanism"    // the client asked for another SASL mechanism
)

const scramMechanism = "SCRAM-SHA-256"

// errLoginRefused is a refused login; reason is for the audit log only.
type errLoginRefused struct {
	reason  string
	tokenID string
	token   *qgate.Token
}

func (e *errLoginRefused) Error() string { return "login refused: " + e.reason }

// authenticate authenticates the client as the token whose id is the
// startup user name. On a TLS connection the client sends the whole token
// as a cleartext password; otherwise SCRAM-SHA-256 proves it knows the
// token without sending it. It returns the token, an *errLoginRefused, or
// another error when the check could not be done (store unavailable) or
// the connection failed.
func (s *session) authenticate(ctx context.Context) (*qgate.Token, error) {
	if s.tls {
		return s.authCleartext(ctx)
	}
	return s.authSCRAM(ctx)
}

// authCleartext asks for the password and verifies it as a whole token.
func (s *session) authCleartext(ctx context.Context) (*qgate.Token, error) {
	s.writeFlush(encode(nil, &pgproto3.AuthenticationCleartextPassword{}))
	if err := s.be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
		return nil, err
	}
	msg, err := s.be.Receive()
	if err != nil {
		return nil, err
	}
	pw, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return nil, &errLoginRefused{reason: reasonProtocol}
	}
	t, err := s.p.Auth.Verify(ctx, pw.Password)
	var ae *auth.AuthError
	switch {
	case errors.As(err, &ae):
		return nil, &errLoginRefused{reason: ae.Reason, tokenID: ae.TokenID}
	case qgate.ErrorCode(err) == qgate.EUNAUTHORIZED:
		return nil, &errLoginRefused{reason: auth.ReasonMalformed}
	case err != nil:
		return nil, err
	}
	if t.ID != s.user {
		// The token is valid but the user name names another: refuse, so
		// that logs and pg_stat_activity never show a misleading user.
		return nil, &errLoginRefused{reason: "user_mismatch", tokenID: t.ID, token: t}
	}
	if !t.InScope(s.p.Target.Name, s.p.Target.Environment) {
		return nil, &errLoginRefused{reason: reasonOutOfScope, tokenID: t.ID, token: t}
	}
	return t, nil
}

// authSCRAM runs SCRAM-SHA-256 against the token's stored verifier. The
// credential is looked up by the startup user name, not the SCRAM user
// name, which libpq leaves empty. An unknown id runs the same exchange
// against a made-up verifier, so that the answer never tells whether the
// id exists.
func (s *session) authSCRAM(ctx context.Context) (*qgate.Token, error) {
	p := s.p
	t, err := p.Tokens.Token(ctx, s.user)
	var refused *errLoginRefused
	var creds, prev *scram.StoredCredentials
	switch {
	case qgate.ErrorCode(err) == qgate.ENOTFOUND:
		refused = &errLoginRefused{reason: auth.ReasonUnknown}
		if id, _, perr := auth.Parse(s.user); perr == nil {
			refused.tokenID = id
		}
	case err != nil:
		return nil, err
	default:
		c, perr := auth.ParseSCRAMVerifier(t.SCRAM)
		if perr != nil {
			refused = &errLoginRefused{reason: reasonNoSCRAM, tokenID: t.ID, token: t}
		} else {
			creds = stored(c)
			if t.PrevSCRAM != "" && p.now().Before(t.PrevValidUntil) {
				if pc, err := auth.ParseSCRAMVerifier(t.PrevSCRAM); err == nil && string(pc.Salt) == string(c.Salt) && pc.Iterations == c.Iterations {
					prev = stored(pc)
				}
			}
		}
	}
	if creds == nil {
		creds = p.mockCredentials(s.user)
	}

	s.writeFlush(encode(nil, &pgproto3.AuthenticationSASL{AuthMechanisms: []string{scramMechanism}}))
	if err := s.be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return nil, err
	}
	msg, err := s.be.Receive()
	if err != nil {
		return nil, err
	}
	first, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return nil, &errLoginRefused{reason: reasonProtocol, tokenID: refusedID(refused, t)}
	}
	if first.AuthMechanism != scramMechanism {
		return nil, &errLoginRefused{reason: reasonMechanism, tokenID: refusedID(refused, t)}
	}
	// A copy: first.Data points into the receive buffer, which the next
	// message overwrites, and a rotation's grace period replays it.
	clientFirst := string(first.Data)
	nonce := newNonce()
	server := func(c *scram.StoredCredentials) *scram.ServerConversation {
		srv, _ := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return *c, nil })
		return srv.WithNonceGenerator(func() string { return nonce }).NewConversation()
	}
	conv := server(creds)
	serverFirst, err := conv.Step(clientFirst)
	if err != nil {
		return nil, &errLoginRefused{reason: reasonProtocol, tokenID: refusedID(refused, t)}
	}
	s.writeFlush(encode(nil, &pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)}))
	if err := s.be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return nil, err
	}
	msg, err = s.be.Receive()
	if err != nil {
		return nil, err
	}
	final, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return nil, &errLoginRefused{reason: reasonProtocol, tokenID: refusedID(refused, t)}
	}
	serverFinal, err := conv.Step(string(final.Data))
	if err != nil && prev != nil {
		// During a rotation's grace period the previous token is accepted
		// too: both verifiers share salt and iterations, so the same
		// exchange can be checked against either.
		again := server(prev)
		if _, ferr := again.Step(clientFirst); ferr == nil {
			serverFinal, err = again.Step(string(final.Data))
		}
	}
	if refused != nil {
		return nil, refused
	}
	if err != nil {
		return nil, &errLoginRefused{reason: auth.ReasonBadSecret, tokenID: t.ID, token: t}
	}
	now := p.now()
	switch {
	case !t.RevokedAt.IsZero():
		return nil, &errLoginRefused{reason: auth.ReasonRevoked, tokenID: t.ID, token: t}
	case !t.Active(now):
		return nil, &errLoginRefused{reason: auth.ReasonExpired, tokenID: t.ID, token: t}
	case !t.InScope(p.Target.Name, p.Target.Environment):
		return nil, &errLoginRefused{reason: reasonOutOfScope, tokenID: t.ID, token: t}
	}
	s.write(encode(nil, &pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)}))
	return t, nil
}

func refusedID(r *errLoginRefused, t *qgate.Token) string {
	switch {
	case r != nil:
		return r.tokenID
	case t != nil:
		return t.ID
	}
	return ""
}

func stored(c auth.SCRAMCredentials) *scram.StoredCredentials {
	return &scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations},
		StoredKey: c.StoredKey, ServerKey: c.ServerKey}
}

// mockCredentials returns a made-up verifier for user whose salt is the
// same on every attempt (as PostgreSQL's mock authentication does), so
// that repeated attempts cannot tell a missing id from a wrong password.
func (p *Proxy) mockCredentials(user string) *scram.StoredCredentials {
	mac := hmac.New(sha256.New, p.mockKey)
	mac.Write([]byte("salt\x00" + user))
	salt := mac.Sum(nil)[:16]
	mac.Reset()
	mac.Write([]byte("keys\x00" + user))
	keys := mac.Sum(nil)
	return &scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: auth.DefaultSCRAMIterations},
		StoredKey: keys, ServerKey: keys}
}

// loginFailed audits a refused login, slows the answer down according to
// the source address's recent failures, and answers FATAL 28P01 with the
// same message whatever the reason.
func (s *session) loginFailed(ctx context.Context, r *errLoginRefused) {
	p := s.p
	p.Metrics.AuthFailure(p.Target.Name, r.reason)
	ev := &qgate.AuditEvent{Time: p.now(), Type: qgate.AuditAuth, Action: "failed", TokenID: r.tokenID,
		Target: p.Target.Name, Environment: p.Target.Environment}
	if r.token != nil {
		ev.Identity = r.token.Identity
	}
	ev.Data = jsonData(map[string]any{"reason": r.reason, "source_ip": s.ip, "protocol": "postgres", "user": truncate(s.user, 128)})
	if err := p.Audit.Append(context.WithoutCancel(ctx), ev); err != nil {
		p.Logger.Error("audit append failed", "target", p.Target.Name, "event", "auth", "err", err)
	}
	p.Logger.Info("postgres login refused", "target", p.Target.Name, "source_ip", s.ip, "reason", r.reason, "token_id", r.tokenID)
	if d := p.throttle.failure(s.ip, time.Now()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	s.writeFlush(encode(nil, errorMsg("FATAL", codeInvalidPassword, fmt.Sprintf("password authentication failed for user %q", s.user), "")))
}

// throttle slows down failed logins per source address: every failure
// adds one to the address's level, which halves every halfLife; a failure
// is answered after base·2^(level-1), at most maxDelay.
type throttle struct {
	mu sync.Mutex
	m  map[string]*bucket

	base, maxDelay, halfLife time.Duration
	maxEntries               int
}

type bucket struct {
	level float64
	at    time.Time
}

func newThrottle() *throttle {
	return &throttle{m: map[string]*bucket{}, base: 50 * time.Millisecond, maxDelay: 5 * time.Second,
		halfLife: 30 * time.Second, maxEntries: 10000}
}

func (t *throttle) decay(b *bucket, now time.Time) {
	if el := now.Sub(b.at); el > 0 {
		b.level *= math.Exp2(-float64(el) / float64(t.halfLife))
		b.at = now
	}
}

// failure records a failed login from ip and returns how long to wait
// before answering it.
func (t *throttle) failure(ip string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.m[ip]
	if b == nil {
		if len(t.m) >= t.maxEntries {
			for k, o := range t.m {
				if t.decay(o, now); o.level < 0.5 {
					delete(t.m, k)
				}
			}
		}
		b = &bucket{at: now}
		t.m[ip] = b
	}
	t.decay(b, now)
	b.level++
	d := time.Duration(float64(t.base) * math.Exp2(b.level-1))
	return min(d, t.maxDelay)
}

// newNonce returns the server's part of a SCRAM nonce: 18 random bytes in
// base64, printable and without commas.
func newNonce() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}
