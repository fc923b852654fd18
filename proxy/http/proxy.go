package httpproxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/qgate/qgate"
	httpanalyze "github.com/qgate/qgate/analyze/http"
	"github.com/qgate/qgate/gate"
	"github.com/qgate/qgate/metrics"
	"github.com/qgate/qgate/review"
	"github.com/valyala/fasthttp"
)

// DefaultHold is how long a held call waits when the target sets no hold.
const DefaultHold = 25 * time.Second

// Headers qgate reads or sets.
const (
	// HeaderReview names the approved review a repeated call executes, and
	// on a 202 the review that holds the call.
	HeaderReview = "Qgate-Review"
	// HeaderRequestID carries the request id, to the upstream and back to
	// the client.
	HeaderRequestID = "Qgate-Request-Id"
)

// Authenticator verifies a whole token string; *auth.Authenticator
// implements it. A refused token is an error whose qgate.ErrorCode is
// EUNAUTHORIZED (an *auth.AuthError carries the reason); any other error
// means verification could not be done.
type Authenticator interface {
	Verify(ctx context.Context, token string) (*qgate.Token, error)
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

// Proxy is the HTTP listener of one target. Create it with New, Serve it
// on a listener (wrapped in ListenerTLS when set), Shutdown, then Close.
// Fields are collaborators; set them before serving. New compiles the
// target's upstream, headers, token header and body limit; of the
// target's settings only Hold is read on every call.
type Proxy struct {
	Target  *qgate.Target
	Auth    Authenticator
	Gate    Decider
	Reviews *review.Engine
	Audit   Auditor
	// GroupsOf resolves an identity's groups for policies (nil: none).
	GroupsOf func(identity string) []string
	// Metrics may be nil.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Now is the clock of request and audit timestamps. Durations are
	// measured with the monotonic clock whatever Now says.
	Now func() time.Time

	server         *fasthttp.Server
	upstreamClient *fasthttp.HostClient // pooled keep-alive connections
	onceClient     *fasthttp.HostClient // approved reviews: a new connection, never a retry
	upstreamBase   string               // scheme://host of the upstream plus its base path
	upstreamHost   string               // host[:port] for the Host header
	upstreamTLS    bool                 // https
	basePath       string               // the upstream URL's path, "" for none
	maxBody        int64
	tokenHeader    string // canonical; "" for none
	dropHeaders    map[string]bool
	inject         map[string]string // configured upstream headers, by canonical name
	injectHost     string
	opts           httpanalyze.Options

	mu            sync.RWMutex                   // guards closed against pending.Add
	closed        bool                           // Close was called: append synchronously
	pending       sync.WaitGroup                 // background audit appends
	executionDone func(*qgate.AuditEvent, error) // executionAppended
}

// New returns a Proxy for the HTTP target t. It checks the upstream URL
// and builds the upstream clients from t.HTTP.TLS (CA, client
// certificate, insecure_skip_verify). Errors are EINVALID.
func New(t *qgate.Target, auth Authenticator, gate Decider, reviews *review.Engine, audit Auditor, groupsOf func(string) []string) (*Proxy, error) {
	if t == nil || t.HTTP == nil {
		return nil, qgate.Errorf(qgate.EINVALID, "http proxy: target has no HTTP upstream")
	}
	if auth == nil || gate == nil || reviews == nil || audit == nil {
		return nil, qgate.Errorf(qgate.EINVALID, "http proxy %q: authenticator, gate, review engine and audit log are required", t.Name)
	}
	u, err := url.Parse(t.HTTP.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, qgate.Errorf(qgate.EINVALID, "target %q: upstream url: want http(s)://host[:port][/path] without credentials, got %q", t.Name, t.HTTP.URL)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, qgate.Errorf(qgate.EINVALID, "target %q: upstream url must not have a query or fragment", t.Name)
	}
	base, err := httpanalyze.NormalizePath(u.EscapedPath())
	if err != nil {
		return nil, qgate.Errorf(qgate.EINVALID, "target %q: upstream url path: %v", t.Name, err)
	}
	if u.Scheme == "http" && t.HTTP.TLS != nil && (t.HTTP.TLS.CA != "" || t.HTTP.TLS.Cert != "" || t.HTTP.TLS.InsecureSkipVerify) {
		return nil, qgate.Errorf(qgate.EINVALID, "target %q: upstream tls: tls settings need an https:// upstream url", t.Name)
	}
	var tlsConfig *tls.Config
	if u.Scheme == "https" {
		if tlsConfig, err = upstreamTLS(t.HTTP.TLS); err != nil {
			return nil, fmt.Errorf("target %q: upstream tls: %w", t.Name, err)
		}
		tlsConfig.ServerName = u.Hostname()
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	p := &Proxy{
		Target: t, Auth: auth, Gate: gate, Reviews: reviews, Audit: audit, GroupsOf: groupsOf,
		Logger: slog.Default(), Now: time.Now,
		upstreamClient: newUpstreamClient(addr, tlsConfig, false),
		onceClient:     newUpstreamClient(addr, tlsConfig, true),
		upstreamHost:   u.Host,
		upstreamTLS:    u.Scheme == "https",
		basePath:       strings.TrimRight(base, "/"),
		maxBody:        t.MaxBody,
		inject:         map[string]string{},
		opts: httpanalyze.Options{MaxBody: t.MaxBody, GraphQLPath: t.GraphQLPath,
			AllowMethodOverride: t.AllowMethodOverride, TokenHeader: t.TokenHeader},
	}
	p.executionDone = p.executionAppended
	p.upstreamBase = u.Scheme + "://" + u.Host + p.basePath
	if p.maxBody <= 0 {
		p.maxBody = httpanalyze.DefaultMaxBody
	}
	if h := strings.TrimSpace(t.TokenHeader); h != "" {
		p.tokenHeader = http.CanonicalHeaderKey(h)
	}
	p.dropHeaders = dropSet(p.tokenHeader, t.AllowMethodOverride)
	for name, v := range t.HTTP.Headers {
		name = http.CanonicalHeaderKey(strings.TrimSpace(name))
		if name == "Host" {
			p.injectHost = v
			continue
		}
		p.inject[name] = v
	}
	p.server = p.newServer()
	return p, nil
}

// Close waits for the audit events of finished calls to be appended and
// closes idle upstream connections. Call it after Shutdown and before the
// audit log is closed. Calls still served after Close append their
// execution events before they return.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.pending.Wait()
	p.upstreamClient.CloseIdleConnections()
	p.onceClient.CloseIdleConnections()
	return nil
}

// call is the state of one request.
type call struct {
	p     *Proxy
	fc    *fasthttp.RequestCtx
	r     *http.Request   // the request as net/http describes it (view)
	ctx   context.Context // for store calls: never cancelled, so they finish if the client leaves
	start time.Time       // monotonic
	id    string
	ip    string

	token       *qgate.Token
	tokenSource string // canonical name of the header that carried the token
	body        []byte
	req         *qgate.Request
	dec         qgate.Decision
	reviewID    int64 // the review this call created or executes
	approved    bool  // forwarding an approved review: exactly once
	audited     bool  // the request event is appended
	streaming   bool  // the response body streams after serve returns (upBody)
	left        bool  // the client was seen leaving while the call was held

	// For the log line and metrics.
	decision string // "" until known
	outcome  string // forwarded, refused, held, error
	status   int    // 0 until a response is started
	errID    string
}

// serve authenticates, analyses and decides one call, then forwards,
// refuses or holds it.
func (p *Proxy) serve(fc *fasthttp.RequestCtx) {
	r := view(fc)
	// fc.Time is when fasthttp began the request (it reads the clock for
	// every request anyway).
	c := &call{p: p, fc: fc, r: r, ctx: context.Background(), start: fc.Time(), id: gate.NewRequestID(), ip: sourceIP(fc)}
	fc.Response.Header.Set(HeaderRequestID, c.id)
	defer func() {
		if !c.streaming {
			c.finish()
		}
	}()
	defer c.recover()

	if !c.authenticate() {
		return
	}
	retry, ok := c.reviewHeader()
	if !ok || !c.supported() || !c.readBody() {
		return
	}
	c.decide()
	switch c.dec.Action {
	case qgate.ActionAllow:
		if retry > 0 {
			c.markExecuted(retry)
		}
		c.allow()
	case qgate.ActionReview:
		if retry > 0 {
			c.retry(retry)
		} else {
			c.hold()
		}
	default: // deny, and anything unknown fails closed
		c.deny(retry)
	}
}

// decide analyses the call and asks the gate.
func (c *call) decide() {
	p := c.p
	a := httpanalyze.Analyze(c.r, c.body, false, p.opts)
	c.req = c.newRequest(a)
	c.dec = p.Gate.Decide(c.ctx, c.req)
	c.decision = string(c.dec.Action)
}

func (c *call) newRequest(a *qgate.HTTPAnalysis) *qgate.Request {
	p, t := c.p, c.token
	var groups []string
	if p.GroupsOf != nil {
		groups = p.GroupsOf(t.Identity)
	}
	return &qgate.Request{
		ID: c.id, Protocol: qgate.ProtocolHTTP, Target: p.Target.Name, Environment: p.Target.Environment,
		SourceIP: c.ip, Time: p.Now().UTC(),
		Principal: qgate.Principal{TokenID: t.ID, TokenName: t.Name, Identity: t.Identity, Roles: t.Roles, Groups: groups},
		HTTP:      a,
	}
}

// allow forwards an allowed call once its audit event is durable.
func (c *call) allow() {
	if !c.auditRequest(qgate.ActionAllow, "", true) {
		return
	}
	c.forward()
}

// deny refuses a call that policy denied.
func (c *call) deny(reviewID int64) {
	c.decision = string(qgate.ActionDeny)
	c.reviewID = reviewID
	c.auditRequest(qgate.ActionDeny, "", false)
	msg := c.dec.Message
	if msg == "" {
		msg = "denied by policy"
	}
	c.problem(problem{Status: http.StatusForbidden, slug: "denied", Title: "Request denied by policy", Detail: msg, ReviewID: reviewID}, "refused")
}

// supported refuses what qgate cannot inspect: protocol upgrades and
// tunnels.
func (c *call) supported() bool {
	r := c.r
	if r.Method != http.MethodConnect && !headerHasToken(r.Header["Connection"], "upgrade") && len(r.Header["Upgrade"]) == 0 {
		return true
	}
	what := "protocol upgrades (" + strings.Join(r.Header["Upgrade"], ", ") + ")"
	if r.Method == http.MethodConnect {
		what = "CONNECT tunnels"
	}
	c.refuseEarly(nil, "unsupported", problem{Status: http.StatusNotImplemented, slug: "not-implemented", Title: "Not supported by qgate",
		Detail: what + " are not forwarded: qgate could not inspect what flows over them"})
	return false
}

// readBody reads the whole body, up to the target's limit. A body over
// it is refused (a declared one without reading it) and the connection
// closed, so that the rest is never read.
func (c *call) readBody() bool {
	body, tooLarge, err := readBody(&c.fc.Request, c.p.maxBody)
	switch {
	case tooLarge:
		c.fc.SetConnectionClose()
		detail := fmt.Sprintf("request body exceeds the %d-byte limit of this target", c.p.maxBody)
		c.refuseEarly(nil, "body too large", problem{Status: http.StatusRequestEntityTooLarge, slug: "body-too-large", Title: "Request body too large", Detail: detail})
		return false
	case err != nil:
		c.fc.SetConnectionClose()
		c.refuseEarly(err, "unreadable body", problem{Status: http.StatusBadRequest, slug: "bad-request", Title: "Bad request", Detail: "the request body could not be read"})
		return false
	}
	c.body = body
	return true
}

// readBody reads req's body if it is at most max bytes. A body declared
// (Content-Length) or found to be larger is reported tooLarge; only max+1
// bytes of it are ever read.
func readBody(req *fasthttp.Request, max int64) (body []byte, tooLarge bool, err error) {
	n := req.Header.ContentLength() // -1: chunked; -2: none
	switch {
	case n == 0 || n == -2:
		return nil, false, nil
	case int64(n) > max:
		return nil, true, nil
	}
	r := req.BodyStream()
	if r == nil {
		b := req.Body()
		return b, int64(len(b)) > max, nil
	}
	if n > 0 {
		body = make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, false, err
		}
		return body, false, nil
	}
	// Chunked: read one byte more than allowed to tell "too large".
	body, err = io.ReadAll(io.LimitReader(r, max+1))
	switch {
	case err != nil:
		return nil, false, err
	case int64(len(body)) > max:
		return nil, true, nil
	case len(body) == 0:
		return nil, false, nil
	}
	return body, false, nil
}

// refuseEarly refuses an authenticated call before a decision: it is
// analysed (without its body) so that the audit event names what it was,
// and audited as a deny with reason.
func (c *call) refuseEarly(err error, reason string, pr problem) {
	c.req = c.newRequest(httpanalyze.Analyze(c.r, nil, pr.Status == http.StatusRequestEntityTooLarge, c.p.opts))
	c.dec = qgate.Decision{Action: qgate.ActionDeny, Risk: qgate.NewRisk(c.req.HTTP.Findings), Message: pr.Detail}
	c.decision = string(qgate.ActionDeny)
	if err != nil {
		c.p.Logger.LogAttrs(c.ctx, slog.LevelDebug, "http request refused", slog.String("target", c.p.Target.Name),
			slog.String("request_id", c.id), slog.String("reason", reason), slog.Any("err", err))
	}
	c.auditRequest(qgate.ActionDeny, reason, false)
	c.problem(pr, "refused")
}

// recover turns a panic into a logged 500 with an error id, dropping any
// head already copied from the upstream. (forward sets c.streaming last,
// so a panic never comes with an upstream body to close.)
func (c *call) recover() {
	v := recover()
	if v == nil {
		return
	}
	c.errID = newErrorID()
	c.p.Logger.Error("http proxy panic", "target", c.p.Target.Name, "request_id", c.id, "error_id", c.errID,
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	c.fc.Response.Reset()
	c.fc.Response.Header.Set(HeaderRequestID, c.id)
	c.problem(problem{Status: http.StatusInternalServerError, slug: "internal", Title: "Internal error",
		Detail: "qgate failed while handling this request; nothing more was forwarded", ErrorID: c.errID}, "error")
}

// finish logs the call and counts it.
func (c *call) finish() {
	p := c.p
	path := c.r.URL.Path
	if c.req != nil && c.req.HTTP != nil {
		path = c.req.HTTP.Path
	}
	decision, outcome := c.decision, c.outcome
	if decision == "" {
		decision = "none"
	}
	if outcome == "" {
		outcome = "error"
	}
	// The handler is called directly, as slog suggests for wrappers: a
	// record without a caller's pc saves a stack walk on every call.
	if h, ctx := p.Logger.Handler(), context.Background(); h.Enabled(ctx, slog.LevelDebug) {
		var attrs [10]slog.Attr
		a := append(attrs[:0],
			slog.String("target", p.Target.Name),
			slog.String("method", c.r.Method),
			slog.String("path", path),
			slog.String("decision", decision),
			slog.Int("status", c.status),
			slog.Duration("duration", time.Since(c.start)),
			slog.String("request_id", c.id))
		if c.token != nil {
			a = append(a, slog.String("identity", c.token.Identity))
		}
		if c.reviewID != 0 {
			a = append(a, slog.Int64("review_id", c.reviewID))
		}
		if c.errID != "" {
			a = append(a, slog.String("error_id", c.errID))
		}
		rec := slog.NewRecord(time.Now(), slog.LevelDebug, "http request", 0)
		rec.AddAttrs(a...)
		_ = h.Handle(ctx, rec)
	}
	if c.req != nil { // refused tokens are counted as auth failures instead
		p.Metrics.Request(p.Target.Name, decision, outcome)
	}
}

// sourceIP is the peer address of the connection; X-Forwarded-For is
// never trusted.
func sourceIP(fc *fasthttp.RequestCtx) string {
	addr := fc.RemoteAddr()
	if a, ok := addr.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			return ip.Unmap().String()
		}
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}
