package pgproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/qgate/qgate"
)

// bufSize is the size of the read and write buffers on both sides.
const bufSize = 32 << 10

// session is one client connection and its upstream session.
//
// Two goroutines run it: the client loop (run) reads the client's
// messages, decides statements and writes to the upstream; the relay
// reads the upstream's answers and is the only writer to the client once
// the session is set up. The client loop tells the relay what to expect
// through queue, in the order it wrote to the upstream, so that qgate's
// own messages (notices, refusals) reach the client at the right place.
type session struct {
	p     *Proxy
	conn  net.Conn      // client, TLS when negotiated
	rd    *clientReader // what be reads from
	be    *pgproto3.Backend
	w     *bufio.Writer // client writer: setup, then the relay only
	ip    string
	tls   bool
	user  string
	start time.Time

	token        *qgate.Token
	principal    qgate.Principal
	tokenChecked time.Time

	up     *upstreamConn
	upW    *bufio.Writer   // client loop only
	upR    *bufio.Reader   // relay only, reads upIn
	upIn   *upstreamReader // the relay's upstream reader; kick wakes it
	pid    uint32          // upstream process id, shown to the client
	key    uint32          // qgate's secret key for this session
	bogus  string          // a portal name that cannot exist upstream
	queue  chan item
	done   chan struct{} // closed by shutdown
	relayd chan struct{} // closed when the relay returns

	results results  // segment outcomes, from the relay to the client loop
	ext     extState // extended-protocol state, client loop only

	holdMu     sync.Mutex
	holdCancel context.CancelCauseFunc // set while a statement is held

	// busy counts the chunks forwarded upstream whose answers the relay
	// has not finished reading: the idle timeout does not run meanwhile.
	busy atomic.Int64
	// slot is set while the session counts against the connection
	// limits.
	slot bool
	// watchToken is the id of the token watchTokens checks for this
	// session, set while it holds a slot; guarded by p.mu.
	watchToken string
	// tokenRevoked is set once the token was found invalid (audited once).
	tokenRevoked atomic.Bool

	closeOnce sync.Once
	fatal     atomic.Pointer[pgproto3.ErrorResponse] // set by shutdown, written by the relay
	scratch   []byte
}

// errCancelled and errShutdown end a hold.
var (
	errCancelled = errors.New("cancelled by the client")
	errShutdown  = errors.New("the gateway is shutting down")
	errGone      = errors.New("the client disconnected")
)

// serveConn runs one client connection from the first byte to the end.
func (p *Proxy) serveConn(conn net.Conn) {
	s := &session{p: p, conn: conn, ip: sourceIP(conn), start: time.Now(), done: make(chan struct{})}
	defer func() {
		if v := recover(); v != nil {
			p.Logger.Error("postgres proxy panic", "target", p.Target.Name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
		s.close()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn.SetDeadline(time.Now().Add(DefaultStartupTimeout))
	s.setConn(conn)
	startup, ok := s.negotiate()
	if !ok {
		return
	}
	if !s.login(ctx, startup) {
		return
	}
	conn.SetDeadline(time.Time{})
	s.conn.SetDeadline(time.Time{})
	if !p.register(s) {
		s.writeFlush(encode(nil, errorMsg("FATAL", codeAdminShutdown, "the gateway is shutting down", "")))
		return
	}
	defer p.unregister(s)
	s.readyToServe()
	go s.relay()
	s.run(ctx)
	<-s.relayd
}

// setConn (re)starts the protocol on conn: after a TLS handshake nothing
// read before it may be used.
func (s *session) setConn(conn net.Conn) {
	s.conn = conn
	s.rd = &clientReader{conn: conn, idle: s.p.IdleTimeout, busy: func() bool { return s.busy.Load() > 0 }}
	s.be = pgproto3.NewBackend(s.rd, conn)
	s.be.SetMaxBodyLen(s.p.maxMessage())
	s.w = bufio.NewWriterSize(conn, bufSize)
}

func (p *Proxy) maxMessage() int {
	if p.MaxMessageSize <= 0 {
		return DefaultMaxMessageSize
	}
	return p.MaxMessageSize
}

// negotiate handles SSLRequest, GSSENCRequest and CancelRequest and returns
// the StartupMessage.
func (s *session) negotiate() (*pgproto3.StartupMessage, bool) {
	p := s.p
	for {
		msg, err := s.be.ReceiveStartupMessage()
		if err != nil {
			p.Logger.Debug("postgres startup", "target", p.Target.Name, "source_ip", s.ip, "err", err)
			return nil, false
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if s.tls || p.tlsConfig == nil {
				s.writeFlush([]byte{'N'})
				continue
			}
			s.writeFlush([]byte{'S'})
			tc := tls.Server(s.conn, p.tlsConfig)
			if err := tc.Handshake(); err != nil {
				p.Logger.Debug("postgres tls handshake", "target", p.Target.Name, "source_ip", s.ip, "err", err)
				return nil, false
			}
			s.tls = true
			s.setConn(tc)
		case *pgproto3.GSSEncRequest:
			s.writeFlush([]byte{'N'})
		case *pgproto3.CancelRequest:
			p.cancel(m.ProcessID, m.SecretKey)
			return nil, false
		case *pgproto3.StartupMessage:
			if m.ProtocolVersion != pgproto3.ProtocolVersion30 {
				// Offer 3.0, which every client speaks.
				var opts []string
				for k := range m.Parameters {
					if strings.HasPrefix(k, "_pq_.") {
						opts = append(opts, k)
					}
				}
				s.write(encode(nil, &pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: opts}))
			}
			for k := range m.Parameters {
				if strings.HasPrefix(k, "_pq_.") {
					delete(m.Parameters, k)
				}
			}
			return m, true
		default:
			return nil, false
		}
	}
}

// login authenticates the client and opens the upstream session.
func (s *session) login(ctx context.Context, m *pgproto3.StartupMessage) bool {
	p := s.p
	s.user = m.Parameters["user"]
	if s.user == "" {
		s.writeFlush(encode(nil, errorMsg("FATAL", codeInvalidAuthorization, "no PostgreSQL user name specified in startup packet", "")))
		return false
	}
	if v, ok := m.Parameters["replication"]; ok && v != "false" && v != "0" && v != "off" && v != "no" {
		s.writeFlush(encode(nil, errorMsg("FATAL", codeFeatureNotSupported, "replication connections are not supported by qgate", "")))
		return false
	}
	if enc, ok := m.Parameters["client_encoding"]; ok && !safeEncoding(enc) {
		s.writeFlush(encode(nil, errorMsg("FATAL", codeFeatureNotSupported,
			fmt.Sprintf("client encoding %q is not supported by qgate", enc), "Use UTF8 or another ASCII-safe encoding.")))
		return false
	}
	t, err := s.authenticate(ctx)
	var refused *errLoginRefused
	switch {
	case errors.As(err, &refused):
		s.loginFailed(ctx, refused)
		return false
	case err != nil && qgate.ErrorCode(err) == qgate.EINTERNAL && !isNetErr(err):
		id := newErrorID()
		p.Logger.Error("postgres login: token check failed", "target", p.Target.Name, "error_id", id, "err", err)
		s.writeFlush(encode(nil, errorMsg("FATAL", codeInternalError, "qgate could not check the token", "error id "+id)))
		return false
	case err != nil:
		p.Logger.Debug("postgres login", "target", p.Target.Name, "source_ip", s.ip, "err", err)
		return false
	}
	s.token, s.tokenChecked = t, time.Now()
	var groups []string
	if p.GroupsOf != nil {
		groups = p.GroupsOf(t.Identity)
	}
	s.principal = qgate.Principal{TokenID: t.ID, TokenName: t.Name, Identity: t.Identity, Roles: t.Roles, Groups: groups}
	if !s.acquireSlot(ctx) {
		return false
	}

	up, err := p.connectUpstream(ctx, m.Parameters)
	if err != nil {
		id := newErrorID()
		p.Logger.Error("postgres upstream connect", "target", p.Target.Name, "error_id", id, "err", err)
		code, msg := codeConnectionFailure, "qgate could not connect to the upstream server"
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "53") || strings.HasPrefix(pe.Code, "57P0")) {
			code = pe.Code // too many connections, starting up, shutting down: the client may retry
		}
		s.writeFlush(encode(nil, errorMsg("FATAL", code, msg, "error id "+id)))
		return false
	}
	s.up = up
	s.pid = up.pid
	s.upW = bufio.NewWriterSize(up.conn, bufSize)
	s.upIn = &upstreamReader{conn: up.conn}
	s.upR = bufio.NewReaderSize(s.upIn, bufSize)
	s.bogus = "qgate_refused_" + newErrorID() + newErrorID()
	p.Logger.LogAttrs(ctx, slog.LevelInfo, "postgres session", slog.String("target", p.Target.Name),
		slog.String("identity", t.Identity), slog.String("token_id", t.ID), slog.String("source_ip", s.ip),
		slog.Uint64("pid", uint64(up.pid)), slog.Bool("tls", s.tls))
	return true
}

// readyToServe sends AuthenticationOk, the upstream's parameters, qgate's
// BackendKeyData and ReadyForQuery.
func (s *session) readyToServe() {
	b := encode(nil, &pgproto3.AuthenticationOk{})
	for k, v := range s.up.params {
		b = encode(b, &pgproto3.ParameterStatus{Name: k, Value: v})
	}
	var key [4]byte
	key[0], key[1], key[2], key[3] = byte(s.key>>24), byte(s.key>>16), byte(s.key>>8), byte(s.key)
	b = encode(b, &pgproto3.BackendKeyData{ProcessID: s.pid, SecretKey: key[:]}, &pgproto3.ReadyForQuery{TxStatus: 'I'})
	s.queue = make(chan item, 256)
	s.relayd = make(chan struct{})
	s.results.signal = make(chan struct{}, 1)
	s.ext.init()
	s.writeFlush(b)
}

// write buffers b for the client. Only the setup code and the relay call
// it.
func (s *session) write(b []byte) {
	s.w.Write(b)
}

func (s *session) writeFlush(b []byte) {
	s.w.Write(b)
	s.w.Flush()
}

// cancel handles the client's CancelRequest: a held statement is
// withdrawn; otherwise the upstream is asked to cancel.
func (s *session) cancel() {
	s.holdMu.Lock()
	hc := s.holdCancel
	s.holdMu.Unlock()
	if hc != nil {
		hc(errCancelled)
		return
	}
	go s.p.cancelUpstream(s.up.pid, s.up.key)
}

// shutdown ends the session from outside: a held statement is withdrawn,
// and the client gets a FATAL error with code.
func (s *session) shutdown(msg, code string) {
	s.fatal.CompareAndSwap(nil, errorMsg("FATAL", code, msg, ""))
	s.holdMu.Lock()
	if s.holdCancel != nil {
		s.holdCancel(errShutdown)
	}
	s.holdMu.Unlock()
	s.closeOnce.Do(func() { close(s.done) })
	if s.up != nil {
		// The relay sees the upstream end, writes the FATAL error and
		// closes the client connection, which ends the client loop.
		s.up.conn.Close()
	}
	go func() {
		select {
		case <-s.relayd:
		case <-time.After(5 * time.Second):
			s.conn.Close() // a client that does not read
		}
	}()
}

// close releases both connections.
func (s *session) close() {
	s.releaseSlot()
	s.closeOnce.Do(func() { close(s.done) })
	if s.up != nil {
		s.up.conn.Close()
	}
	s.conn.Close()
}

// clientReader reads the client connection. While a statement is held it
// watches the connection for a disconnect: bytes that arrive meanwhile are
// kept for the next read.
type clientReader struct {
	conn  net.Conn
	stash []byte
	err   error
	// idle is the idle timeout (0: none); busy reports whether a
	// statement runs, which makes a client's silence normal.
	idle time.Duration
	busy func() bool
}

func (r *clientReader) Read(b []byte) (int, error) {
	if len(r.stash) > 0 {
		n := copy(b, r.stash)
		r.stash = r.stash[n:]
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	for {
		n, err := r.conn.Read(b)
		var ne net.Error
		if n == 0 && r.idle > 0 && r.busy != nil && errors.As(err, &ne) && ne.Timeout() && r.busy() {
			// Not idle: the client waits for a statement's answers.
			r.conn.SetReadDeadline(time.Now().Add(r.idle))
			continue
		}
		return n, err
	}
}

// watch reads the connection in the background until stop is called. gone
// is closed if the client disconnects first, even after sending more
// (pipelined messages): a client that has gone cannot run what it asked
// for. Data that arrives is kept for the next Read; past maxBatch bytes
// the watch stops reading, so that a held client cannot make qgate hold
// more.
func (r *clientReader) watch() (gone <-chan struct{}, stop func()) {
	ch := make(chan struct{})
	if r.err != nil {
		close(ch) // it has gone already
		return ch, func() {}
	}
	finished := make(chan struct{})
	r.conn.SetReadDeadline(time.Time{}) // a held statement is not idleness
	go func() {
		defer close(finished)
		buf := make([]byte, 4096)
		for len(r.stash) < maxBatch {
			n, err := r.conn.Read(buf)
			r.stash = append(r.stash, buf[:n]...)
			var ne net.Error
			if err != nil {
				if !(errors.As(err, &ne) && ne.Timeout()) {
					r.err = err
					close(ch)
				}
				return
			}
		}
	}()
	return ch, func() {
		r.conn.SetReadDeadline(time.Unix(1, 0))
		<-finished
		r.conn.SetReadDeadline(time.Time{})
	}
}

func sourceIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed)
}
