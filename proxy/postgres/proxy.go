package pgproxy

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/qgate/qgate"
	pganalyze "github.com/qgate/qgate/analyze/postgres"
	"github.com/qgate/qgate/metrics"
	"github.com/qgate/qgate/review"
)

// Defaults.
const (
	// DefaultMaxMessageSize caps one client message (a query, a Bind, a
	// CopyData). Over it the client gets a FATAL error and is
	// disconnected; nothing of the message is forwarded.
	DefaultMaxMessageSize = 64 << 20
	// DefaultConnectTimeout bounds the upstream connection and login.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultStartupTimeout bounds a client's startup and authentication.
	DefaultStartupTimeout = 30 * time.Second
	// DefaultTokenRecheck is how stale the token check of an open session
	// may be: a revoked or expired token's sessions are closed, idle or
	// not, at most this long after the change (and a statement is never
	// forwarded on an older check).
	DefaultTokenRecheck = time.Second
)

// Authenticator verifies a whole token string; *auth.Authenticator
// implements it. A refused token is an error whose qgate.ErrorCode is
// EUNAUTHORIZED (an *auth.AuthError carries the reason); any other error
// means verification could not be done.
type Authenticator interface {
	Verify(ctx context.Context, token string) (*qgate.Token, error)
}

// TokenLookup returns a stored token by its public id, with its SCRAM
// verifier; qgate.TokenStore implements it. Unknown ids are ENOTFOUND.
// SCRAM never reveals the whole token, so after a SCRAM login the listener
// checks the token's state (revoked, expired, scope) itself.
type TokenLookup interface {
	Token(ctx context.Context, id string) (*qgate.Token, error)
}

// Decider decides a request; *gate.Gate implements it. It never fails:
// failures are a deny or a review.
type Decider interface {
	Decide(ctx context.Context, req *qgate.Request) qgate.Decision
}

// Auditor appends an audit event durably before it returns; *audit.Log
// implements it.
type Auditor interface {
	Append(ctx context.Context, e *qgate.AuditEvent) error
}

// Proxy is the PostgreSQL listener of one target. Create it with New, run
// it with Serve and stop it with Close. Fields are collaborators and
// settings; set them before Serve.
type Proxy struct {
	Target  *qgate.Target
	Auth    Authenticator
	Tokens  TokenLookup
	Gate    Decider
	Reviews *review.Engine
	Audit   Auditor
	// Analyzer analyses SQL text (a pganalyze.Analyzer by default). Set it
	// to the gate's analyzer so that both share one cache.
	Analyzer qgate.SQLAnalyzer
	// GroupsOf resolves an identity's groups for policies (nil: none).
	GroupsOf func(identity string) []string
	// Metrics may be nil.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Now is the clock of request and audit timestamps.
	Now func() time.Time

	// MaxMessageSize caps one client message (DefaultMaxMessageSize).
	MaxMessageSize int
	// IdleTimeout closes a session that sends nothing for this long
	// while no statement runs (0: never).
	IdleTimeout time.Duration
	// ConnectTimeout bounds the upstream connection and login.
	ConnectTimeout time.Duration
	// TokenRecheck is how stale an open session's token check may be.
	TokenRecheck time.Duration
	// MaxConnections caps the open sessions of the target (0: unlimited)
	// and MaxConnectionsPerToken those of one token (0: unlimited). A
	// login over either limit gets FATAL 53300 before any upstream
	// connection is opened. New takes both from the target.
	MaxConnections         int
	MaxConnectionsPerToken int

	tlsConfig *tls.Config
	upstream  *pgconn.Config
	mockKey   []byte // derives fake SCRAM salts for unknown token ids
	throttle  *throttle

	mu       sync.Mutex
	ln       net.Listener
	closed   bool
	sessions map[*session]struct{}
	// watchOnce starts watchTokens with the first Serve.
	watchOnce sync.Once
	active    int                 // sessions holding a connection slot
	perToken  map[string]int      // the same, per token id
	cancels   map[uint64]*session // pid<<32 | qgate's secret key
	conns     sync.WaitGroup      // connection goroutines
	pending   sync.WaitGroup      // background audit appends
}

// New returns a Proxy for the PostgreSQL target t. It loads the listener's
// TLS certificate when the target has one and checks the upstream
// settings. Errors are EINVALID.
func New(t *qgate.Target, auth Authenticator, tokens TokenLookup, gate Decider, reviews *review.Engine, audit Auditor, groupsOf func(string) []string) (*Proxy, error) {
	if t == nil || t.Postgres == nil {
		return nil, qgate.Errorf(qgate.EINVALID, "postgres proxy: target has no PostgreSQL upstream")
	}
	if auth == nil || tokens == nil || gate == nil || reviews == nil || audit == nil {
		return nil, qgate.Errorf(qgate.EINVALID, "postgres proxy %q: authenticator, token lookup, gate, review engine and audit log are required", t.Name)
	}
	p := &Proxy{
		Target: t, Auth: auth, Tokens: tokens, Gate: gate, Reviews: reviews, Audit: audit, GroupsOf: groupsOf,
		Analyzer: pganalyze.New(pganalyze.Options{}), Logger: slog.Default(), Now: time.Now,
		MaxMessageSize: DefaultMaxMessageSize, ConnectTimeout: DefaultConnectTimeout, TokenRecheck: DefaultTokenRecheck,
		IdleTimeout: t.IdleTimeout, MaxConnections: t.MaxConnections, MaxConnectionsPerToken: t.MaxConnectionsPerToken,
		throttle: newThrottle(), sessions: map[*session]struct{}{}, cancels: map[uint64]*session{}, perToken: map[string]int{},
	}
	p.mockKey = make([]byte, 32)
	rand.Read(p.mockKey)
	var err error
	if p.upstream, err = upstreamConfig(t); err != nil {
		return nil, err
	}
	if p.tlsConfig, err = listenerTLS(t); err != nil {
		return nil, err
	}
	return p, nil
}

// upstreamConfig builds the pgconn configuration of the target's
// upstream. The password is set directly, never through a string.
func upstreamConfig(t *qgate.Target) (*pgconn.Config, error) {
	pg := t.Postgres
	host, port, err := net.SplitHostPort(pg.Address)
	if err != nil {
		return nil, qgate.Errorf(qgate.EINVALID, "target %q: upstream address: want host:port, got %q", t.Name, pg.Address)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, qgate.Errorf(qgate.EINVALID, "target %q: upstream port %q", t.Name, port)
	}
	mode := pg.SSLMode
	if mode == "" {
		mode = "prefer"
	}
	kv := fmt.Sprintf("host=%s port=%s dbname=%s user=%s sslmode=%s", quoteKV(host), port, quoteKV(pg.Database), quoteKV(pg.User), quoteKV(mode))
	cfg, err := pgconn.ParseConfig(kv)
	if err != nil {
		return nil, qgate.Errorf(qgate.EINVALID, "target %q: upstream settings: %v", t.Name, err)
	}
	cfg.Password = pg.Password
	cfg.RuntimeParams = map[string]string{}
	return cfg, nil
}

// quoteKV quotes a value for a keyword/value connection string.
func quoteKV(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Serve accepts client connections on ln until Close. It returns nil
// after Close, or the listener's error.
func (p *Proxy) Serve(ln net.Listener) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		ln.Close()
		return nil
	}
	p.ln = ln
	p.mu.Unlock()
	p.watchOnce.Do(func() {
		every := p.TokenRecheck
		if every <= 0 {
			every = DefaultTokenRecheck
		}
		go p.watchTokens(every)
	})
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			conn.Close()
			return nil
		}
		p.conns.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.conns.Done()
			p.serveConn(conn)
		}()
	}
}

// Close stops accepting connections, ends every session (clients get a
// FATAL 57P01 error) and waits for their audit events to be appended.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	var err error
	if p.ln != nil {
		err = p.ln.Close()
	}
	sessions := make([]*session, 0, len(p.sessions))
	for s := range p.sessions {
		sessions = append(sessions, s)
	}
	p.mu.Unlock()
	for _, s := range sessions {
		s.shutdown("terminating connection because the gateway is shutting down", codeAdminShutdown)
	}
	p.conns.Wait()
	p.pending.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// register makes s known for cancels and Close; it fails once the proxy
// is closed.
func (p *Proxy) register(s *session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.sessions[s] = struct{}{}
	for {
		var b [4]byte
		rand.Read(b[:])
		s.key = binary.BigEndian.Uint32(b[:])
		k := cancelKey(s.pid, s.key)
		if _, dup := p.cancels[k]; !dup && s.key != 0 {
			p.cancels[k] = s
			return true
		}
	}
}

func (p *Proxy) unregister(s *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.sessions, s)
	if p.cancels[cancelKey(s.pid, s.key)] == s {
		delete(p.cancels, cancelKey(s.pid, s.key))
	}
}

func cancelKey(pid, key uint32) uint64 { return uint64(pid)<<32 | uint64(key) }

// cancel handles a CancelRequest: the session with that process id and
// secret key cancels what it is doing. Unknown keys are ignored, as
// PostgreSQL does.
func (p *Proxy) cancel(pid uint32, secret []byte) {
	if len(secret) != 4 {
		return
	}
	p.mu.Lock()
	s := p.cancels[cancelKey(pid, binary.BigEndian.Uint32(secret))]
	p.mu.Unlock()
	if s != nil {
		s.cancel()
	}
}

// goAudit runs an audit append in the background; Close waits for it.
func (p *Proxy) goAudit(fn func()) {
	p.pending.Add(1)
	go func() {
		defer p.pending.Done()
		fn()
	}()
}

func (p *Proxy) now() time.Time {
	if p.Now == nil {
		return time.Now().UTC()
	}
	return p.Now().UTC()
}
