package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/gate"
	"github.com/qgate/qgate/internal/clientip"
	"github.com/qgate/qgate/metrics"
	"github.com/qgate/qgate/review"
)

// Auditor records audit events durably; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, e *qgate.AuditEvent) error
}

var _ Auditor = (*audit.Log)(nil)

// DefaultHeartbeat is how often an idle event stream gets a comment line,
// so that proxies and clients do not time it out.
const DefaultHeartbeat = 15 * time.Second

// Caller is the authenticated identity behind an API request.
type Caller struct {
	Identity string   `json:"identity"`
	Groups   []string `json:"groups"`
	// TokenID is the token the caller authenticated with; "" for a
	// session that was not opened with a token.
	TokenID string `json:"token_id"`
	// Admin is set by the server from Server.Admins.
	Admin bool `json:"admin"`
	// SessionID is the public id of the web UI session the caller signed
	// in with; "" for a token.
	SessionID string `json:"session_id,omitempty"`
	// CSRFToken is set only for callers authenticated by a session cookie:
	// the browser sends it back as the X-CSRF-Token header on every
	// unsafe request, which the server requires (see CSRFHeader).
	CSRFToken string `json:"csrf_token,omitempty"`
}

func (c *Caller) voter() review.Voter {
	return review.Voter{Identity: c.Identity, Groups: c.Groups}
}

// staff reports whether the caller may see every review, grant and audit
// event: admins and members of at least one group.
func (c *Caller) staff() bool { return c.Admin || len(c.Groups) > 0 }

// Server is the REST API. Fields are collaborators and settings; set them
// before calling Handler. New sets working defaults.
type Server struct {
	Reviews *review.Engine
	Store   qgate.Store
	Auth    *auth.Authenticator
	Audit   Auditor
	// GroupsOf returns an identity's groups (from the configuration); nil:
	// nobody is in a group.
	GroupsOf func(identity string) []string
	// Admins reports who may manage tokens (say, members of the "admins"
	// group); nil: nobody.
	Admins func(identity string) bool
	// Authenticate identifies the caller of a request. Nil means
	// BearerAuth; the web UI may install one that accepts a session cookie
	// and falls back to BearerAuth. It returns an error with code
	// EUNAUTHORIZED for missing or bad credentials. The server sets
	// Caller.Admin itself.
	Authenticate func(r *http.Request) (*Caller, error)
	// Config is the configuration's policies, defaults, targets and
	// groups, as GET /api/v1/policies, POST /api/v1/check and
	// GET /api/v1/identities use them; nil: none.
	Config *Config
	// Checker evaluates POST /api/v1/check as `qgate check` does: a gate
	// built from the same policies, without grants. Nil: the endpoint
	// fails.
	Checker *gate.Gate
	// ClientIP finds the client's address behind trusted reverse proxies
	// (server.trusted_proxies), for "try a request"; nil: the TCP peer.
	ClientIP *clientip.Resolver
	// Metrics, when set, is served on /metrics and counts refused tokens.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
	// Heartbeat is the event stream's keep-alive interval
	// (DefaultHeartbeat when zero).
	Heartbeat time.Duration
	// Origins are the origins (scheme://host[:port]) besides the request's
	// own Host that a cookie-authenticated unsafe request may come from,
	// say the configured public URL behind a reverse proxy.
	Origins []string

	mu     sync.Mutex
	closed chan struct{} // closed by Close
}

// New returns a Server with working defaults: the bearer-token check, the
// default logger and the real clock.
func New(reviews *review.Engine, store qgate.Store, authn *auth.Authenticator, auditor Auditor) *Server {
	return &Server{Reviews: reviews, Store: store, Auth: authn, Audit: auditor,
		Logger: slog.Default(), Now: time.Now, Heartbeat: DefaultHeartbeat}
}

// Close ends every event stream, open or opened later, so that
// http.Server.Shutdown does not wait for them (register it with
// http.Server.RegisterOnShutdown). Other requests are still served.
func (s *Server) Close() {
	ch := s.closing()
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// closing returns the channel that Close closes.
func (s *Server) closing() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed == nil {
		s.closed = make(chan struct{})
	}
	return s.closed
}

// Route is one API endpoint: a method and a net/http pattern.
type Route struct {
	Method string
	Path   string
	// Public routes need no authentication.
	Public bool
}

// handlerFunc serves one route. c is nil on public routes. A returned
// error becomes a problem response, unless the handler already started
// writing.
type handlerFunc func(s *Server, w http.ResponseWriter, r *http.Request, c *Caller) error

type route struct {
	Route
	handle handlerFunc
}

// routes is the API. The mux, Routes and the OpenAPI test all read it.
var routes = []route{
	{Route{"GET", "/healthz", true}, (*Server).health},
	{Route{"GET", "/api/v1/openapi.json", true}, (*Server).openAPI},
	{Route{"GET", "/api/v1/me", false}, (*Server).me},
	{Route{"GET", "/api/v1/reviews", false}, (*Server).listReviews},
	{Route{"GET", "/api/v1/reviews/{id}", false}, (*Server).getReview},
	{Route{"POST", "/api/v1/reviews/{id}/approve", false}, (*Server).approve},
	{Route{"POST", "/api/v1/reviews/{id}/reject", false}, (*Server).reject},
	{Route{"GET", "/api/v1/grants", false}, (*Server).listGrants},
	{Route{"POST", "/api/v1/grants/{id}/revoke", false}, (*Server).revokeGrant},
	{Route{"GET", "/api/v1/tokens", false}, (*Server).listTokens},
	{Route{"POST", "/api/v1/tokens", false}, (*Server).createToken},
	{Route{"POST", "/api/v1/tokens/{id}/revoke", false}, (*Server).revokeToken},
	{Route{"POST", "/api/v1/tokens/{id}/rotate", false}, (*Server).rotateToken},
	{Route{"GET", "/api/v1/sessions", false}, (*Server).listSessions},
	{Route{"POST", "/api/v1/sessions/{id}/revoke", false}, (*Server).revokeSession},
	{Route{"GET", "/api/v1/audit", false}, (*Server).listAudit},
	{Route{"GET", "/api/v1/audit/verify", false}, (*Server).verifyAudit},
	{Route{"GET", "/api/v1/audit/export", false}, (*Server).exportAudit},
	{Route{"GET", "/api/v1/requests/{id}", false}, (*Server).requestStory},
	{Route{"GET", "/api/v1/policies", false}, (*Server).listPolicies},
	{Route{"POST", "/api/v1/check", false}, (*Server).check},
	{Route{"GET", "/api/v1/identities", false}, (*Server).listIdentities},
	{Route{"GET", "/api/v1/events", false}, (*Server).events},
}

// Routes returns the API's endpoints as Handler serves them and as the
// OpenAPI document describes them (/metrics, which is optional and not
// JSON, is in neither).
func Routes() []Route {
	out := make([]Route, len(routes))
	for i, rt := range routes {
		out[i] = rt.Route
	}
	return out
}

// Handler returns the API's handler: the routes, /healthz, /metrics when
// Metrics is set, and problem responses for unknown /api/v1 paths and
// methods.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	methods := map[string][]string{} // path → allowed methods
	for _, rt := range routes {
		mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
		methods[rt.Path] = append(methods[rt.Path], rt.Method)
	}
	paths := http.NewServeMux() // the same paths, any method: to tell 405 from 404
	for p, ms := range methods {
		if slices.Contains(ms, "GET") {
			ms = append(ms, "HEAD")
		}
		allow := strings.Join(ms, ", ")
		paths.HandleFunc(p, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", allow)
			writeProblem(w, &Problem{Status: http.StatusMethodNotAllowed, Code: qgate.EINVALID, Detail: "method not allowed; allowed: " + allow})
		})
	}
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		if h, pattern := paths.Handler(r); pattern != "" {
			h.ServeHTTP(w, r)
			return
		}
		writeProblem(w, &Problem{Status: http.StatusNotFound, Code: qgate.ENOTFOUND, Detail: "no such API endpoint: " + r.URL.Path})
	})
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics.Handler())
	}
	return mux
}

// wrap authenticates (unless the route is public), recovers panics and
// turns a handler's error into a problem response.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &trackingWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.fail(rw, r, fmtPanic(v))
			}
		}()
		h := rw.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		var c *Caller
		if !rt.Public {
			var err error
			if c, err = s.caller(r); err != nil {
				s.fail(rw, r, err)
				return
			}
			if err := s.checkCSRF(r, c); err != nil {
				s.fail(rw, r, err)
				return
			}
		}
		if err := rt.handle(s, rw, r, c); err != nil {
			s.fail(rw, r, err)
		}
	})
}

// trackingWriter notes whether the handler has written, so that a late
// error is logged instead of corrupting a response that has started.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) { w.wrote = true; w.ResponseWriter.WriteHeader(code) }
func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and SetWriteDeadline.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// caller authenticates r with Authenticate (or BearerAuth) and resolves
// admin rights.
func (s *Server) caller(r *http.Request) (*Caller, error) {
	authenticate := s.Authenticate
	if authenticate == nil {
		authenticate = s.BearerAuth
	}
	c, err := authenticate(r)
	if err != nil {
		return nil, err
	}
	if c == nil || c.Identity == "" {
		return nil, qgate.Errorf(qgate.EUNAUTHORIZED, "not authenticated")
	}
	c.Admin = s.Admins != nil && s.Admins(c.Identity)
	if c.Groups == nil {
		c.Groups = []string{}
	}
	return c, nil
}

// BearerAuth authenticates a request by the qgate token in its
// Authorization header and resolves the identity's groups with GroupsOf.
// A refused token is counted in Metrics by reason; the client only learns
// "invalid token".
func (s *Server) BearerAuth(r *http.Request) (*Caller, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, qgate.Errorf(qgate.EUNAUTHORIZED, "send your qgate token as 'Authorization: Bearer <token>'")
	}
	t, err := s.Auth.Verify(r.Context(), token)
	if err != nil {
		var ae *auth.AuthError
		if errors.As(err, &ae) {
			s.Metrics.AuthFailure("api", ae.Reason)
			s.logger().Info("api token refused", "reason", ae.Reason, "token_id", ae.TokenID, "remote", r.RemoteAddr)
		}
		return nil, err
	}
	return &Caller{Identity: t.Identity, Groups: s.groupsOf(t.Identity), TokenID: t.ID}, nil
}

func (s *Server) groupsOf(identity string) []string {
	if s.GroupsOf == nil {
		return []string{}
	}
	gs := slices.Clone(s.GroupsOf(identity))
	if gs == nil {
		gs = []string{}
	}
	return gs
}

func (s *Server) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// audit appends one event, stamped now. The append outlives a client that
// hangs up: the change it records has happened.
func (s *Server) audit(ctx context.Context, e *qgate.AuditEvent) error {
	if s.Audit == nil {
		return nil
	}
	e.Time = s.now()
	if err := s.Audit.Append(context.WithoutCancel(ctx), e); err != nil {
		return errors.Join(qgate.Errorf(qgate.EINTERNAL, "the change was made but could not be audited"), err)
	}
	return nil
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request, _ *Caller) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) me(w http.ResponseWriter, _ *http.Request, c *Caller) error {
	return writeJSON(w, http.StatusOK, c)
}
