package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/qgate/qgate"
	pganalyze "github.com/qgate/qgate/analyze/postgres"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/audit/journal"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/gate"
	"github.com/qgate/qgate/internal/clientip"
	"github.com/qgate/qgate/metrics"
	"github.com/qgate/qgate/notify/slack"
	"github.com/qgate/qgate/notify/webhook"
	"github.com/qgate/qgate/policy"
	httpproxy "github.com/qgate/qgate/proxy/http"
	pgproxy "github.com/qgate/qgate/proxy/postgres"
	"github.com/qgate/qgate/review"
	"github.com/qgate/qgate/signin"
	"github.com/qgate/qgate/store/sqlite"
	"github.com/qgate/qgate/web"
	"github.com/qgate/qgate/web/ui"
)

// AdminGroup is the group whose members may manage tokens through the API.
const AdminGroup = "admins"

// DefaultGCPercent is the garbage collector target qgate serve runs with
// when the GOGC environment variable is not set.
const DefaultGCPercent = 400

func (m *Main) serveCommand() *cobra.Command {
	var file, logLevel string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the server: every target listener and the REST API",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: want debug, info, warn or error, got %q", logLevel)
			}
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintln(m.Stderr, "warning:", w)
			}
			if _, set := os.LookupEnv("GOGC"); !set {
				// qgate's live heap is small and every call allocates a
				// little: a higher GC target trades a few tens of MB for
				// markedly less collection work per call.
				debug.SetGCPercent(DefaultGCPercent)
			}
			if err := startPprof(m.Stderr); err != nil {
				return err
			}
			s, err := NewServer(cfg, slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level})))
			if err != nil {
				return err
			}
			if err := s.Start(c.Context()); err != nil {
				s.Close()
				return err
			}
			<-c.Context().Done()
			return s.Close()
		},
	}
	cmd.Flags().StringVar(&file, "config", "", "configuration file")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "least severe log messages written: debug (adds one line per proxied call), info, warn or error")
	return cmd
}

// Server is a running qgate: store, audit log, gate, review engine, REST
// API and one listener per target. End-to-end tests start it in-process
// with port 0 addresses.
type Server struct {
	Config  *config.Config
	Store   qgate.Store
	Auth    *auth.Authenticator
	Audit   *audit.Log
	Gate    *gate.Gate
	Reviews *review.Engine
	API     *web.Server
	UI      *ui.Handler
	Signin  *signin.Service
	Metrics *metrics.Metrics
	Logger  *slog.Logger

	webhooks  *webhook.Notifier
	slack     *slack.Notifier
	proxies   map[string]*httpproxy.Proxy
	pgProxies map[string]*pgproxy.Proxy

	mu        sync.Mutex
	listeners map[string]net.Listener // "" is the API
	servers   []*http.Server
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// NewServer opens the store and builds every part; nothing listens yet.
func NewServer(cfg *config.Config, logger *slog.Logger) (*Server, error) {
	st, key, err := openStoreWithKey(cfg)
	if err != nil {
		return nil, err
	}
	if db, ok := st.(*sqlite.DB); ok {
		db.Logger = logger
	}
	engine, err := policy.New(cfg.Policies, cfg.Defaults, cfg.ReviewDefaults)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("compile policies: %w", err)
	}
	uiHandler, err := ui.New()
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Server{Config: cfg, Store: st, UI: uiHandler, Logger: logger, proxies: map[string]*httpproxy.Proxy{}, pgProxies: map[string]*pgproxy.Proxy{}, listeners: map[string]net.Listener{}}
	durability := audit.Durability(cfg.Audit.Durability)
	jr, err := openAuditJournal(st, durability, logger)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.Audit = audit.NewLog(st, audit.LogOptions{Logger: logger, Durability: durability, Journal: jr})
	s.Metrics = metrics.New(s.Audit.QueueDepth)
	s.Auth = auth.New(st, key)
	s.Auth.CacheTTL = cfg.Auth.TokenCache
	s.Gate = gate.New(pganalyze.New(pganalyze.Options{}), engine, st)
	s.Reviews = review.New(st, st, s.Audit)
	s.Reviews.PublicURL = cfg.Server.PublicURL
	s.Reviews.Logger = logger
	if len(cfg.Webhooks) > 0 {
		eps := make([]webhook.Endpoint, len(cfg.Webhooks))
		for i, w := range cfg.Webhooks {
			eps[i] = webhook.Endpoint{Name: w.Name, URL: w.URL, Secret: w.Secret, Events: w.Events, Timeout: w.Timeout, MaxAttempts: w.MaxAttempts}
		}
		s.webhooks = webhook.New(eps, webhook.Options{Logger: logger, Log: webhook.NewMemoryLog(1000)})
		s.Reviews.Notifiers = append(s.Reviews.Notifiers, s.webhooks)
	}
	s.newSlack(logger)
	s.API = web.New(s.Reviews, st, s.Auth, s.Audit)
	s.API.GroupsOf = cfg.GroupsOf
	s.API.Admins = func(identity string) bool { return slices.Contains(cfg.GroupsOf(identity), AdminGroup) }
	s.API.Metrics = s.Metrics
	s.API.Config = web.NewConfig(cfg.Policies, cfg.Defaults, cfg.ReviewDefaults, cfg.Targets, cfg.Groups)
	// The "try a request" box evaluates like qgate check: no grants.
	s.API.Checker = gate.New(s.Gate.SQL, engine, nil)
	s.API.Logger = logger
	s.Signin = newSignin(cfg, st, s.Audit, s.API, key)
	s.Signin.Metrics, s.Signin.Logger = s.Metrics, logger
	resolver := &clientip.Resolver{Trusted: cfg.Server.TrustedProxies}
	s.Signin.ClientIP, s.API.ClientIP = resolver, resolver
	for _, t := range cfg.Targets {
		switch t.Protocol {
		case qgate.ProtocolHTTP:
			p, err := httpproxy.New(t, s.Auth, s.Gate, s.Reviews, s.Audit, cfg.GroupsOf)
			if err != nil {
				s.closeParts()
				return nil, fmt.Errorf("target %s: %w", t.Name, err)
			}
			p.Metrics, p.Logger = s.Metrics, logger // the proxy names its target in every line
			s.proxies[t.Name] = p
		case qgate.ProtocolPostgres:
			p, err := pgproxy.New(t, s.Auth, st, s.Gate, s.Reviews, s.Audit, cfg.GroupsOf)
			if err != nil {
				s.closeParts()
				return nil, fmt.Errorf("target %s: %w", t.Name, err)
			}
			p.Analyzer, p.Metrics, p.Logger = s.Gate.SQL, s.Metrics, logger.With("target", t.Name)
			s.pgProxies[t.Name] = p
		default:
			logger.Warn("target protocol not served by this build yet; its listener stays closed", "target", t.Name, "protocol", t.Protocol)
		}
	}
	return s, nil
}

// Start opens every listener and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	var apiTLS *tls.Config
	if f := s.Config.Server.TLS; f != nil && f.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return fmt.Errorf("server TLS: %w", err)
		}
		apiTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if err := s.listenAPI(s.Config.Server.Listen, s.withSlack(s.handler()), apiTLS); err != nil {
		return err
	}
	for _, t := range s.Config.Targets {
		if p, ok := s.proxies[t.Name]; ok {
			tlsConfig, err := p.ListenerTLS()
			if err != nil {
				return fmt.Errorf("target %s: %w", t.Name, err)
			}
			if err := s.serveTarget(t, tlsConfig, p.Serve); err != nil {
				return err
			}
		}
	}
	for _, t := range s.Config.Targets {
		if p, ok := s.pgProxies[t.Name]; ok {
			if err := s.serveTarget(t, nil, p.Serve); err != nil {
				return err
			}
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.Reviews.Run(ctx, time.Second)
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.recordReviewWaits(ctx)
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.Signin.Run(ctx, time.Hour)
	}()
	if err := s.Audit.Append(ctx, &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "started",
		Data: mustJSON(map[string]any{"config": s.Config.File, "targets": len(s.Config.Targets),
			"audit_durability": s.Audit.Durability()})}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	s.Logger.Info("qgate serving", "api", s.URL(), "public_url", s.Config.Server.PublicURL, "store", s.Config.Store.Driver,
		"audit_durability", s.Audit.Durability())
	return nil
}

// serveTarget opens t's listener (with TLS when tlsConfig is set) and
// runs serve on it in the background.
func (s *Server) serveTarget(t *qgate.Target, tlsConfig *tls.Config, serve func(net.Listener) error) error {
	ln, err := net.Listen("tcp", t.Listen)
	if err != nil {
		return fmt.Errorf("target %s: listen on %s: %w", t.Name, t.Listen, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	s.mu.Lock()
	s.listeners[t.Name] = ln
	s.mu.Unlock()
	s.Logger.Info("target listening", "target", t.Name, "protocol", t.Protocol, "addr", ln.Addr().String())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := serve(ln); err != nil {
			s.Logger.Error("serve", "target", t.Name, "err", err)
		}
	}()
	return nil
}

// listenAPI opens the server listener (the web UI, REST API and metrics)
// and serves h on it in the background.
func (s *Server) listenAPI(addr string, h http.Handler, tlsConfig *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server listen on %s: %w", addr, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn)}
	srv.RegisterOnShutdown(s.API.Close)
	s.mu.Lock()
	s.listeners[""] = ln
	s.servers = append(s.servers, srv)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("serve", "listener", "server", "err", err)
		}
	}()
	return nil
}

// newSignin builds the web UI's sign-in (local users, sessions, OIDC) and
// installs it as the API's authentication: the session cookie first, a
// bearer token otherwise.
func newSignin(cfg *config.Config, st qgate.Store, auditor signin.Auditor, api *web.Server, key []byte) *signin.Service {
	sg := signin.New(st, auditor)
	sg.GroupsOf = cfg.GroupsOf
	sg.Bearer = api.BearerAuth
	sg.Lifetime, sg.IdleTimeout = cfg.Server.Sessions.Lifetime, cfg.Server.Sessions.IdleTimeout
	sg.Secure = (cfg.Server.TLS != nil && cfg.Server.TLS.Cert != "") || strings.HasPrefix(cfg.Server.PublicURL, "https://")
	if o := cfg.Server.OIDC; o != nil {
		sg.OIDC = signin.NewOIDC(signin.OIDCConfig{Name: o.Name, Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			RedirectURL: o.RedirectURL, Scopes: o.Scopes, IdentityClaim: o.IdentityClaim, GroupsClaim: o.GroupsClaim})
		// Every replica signs the OIDC state cookie with the same key,
		// derived from the token key they share.
		m := hmac.New(sha256.New, key)
		m.Write([]byte("qgate oidc state cookie v1"))
		sg.OIDC.Key = m.Sum(nil)
	}
	api.Authenticate = sg.Authenticate
	if u, err := url.Parse(cfg.Server.PublicURL); err == nil && u.Host != "" {
		api.Origins = []string{u.Scheme + "://" + u.Host}
	}
	return sg
}

// handler serves the server listener: the REST API (with /healthz and
// /metrics), the sign-in routes, and the web UI's pages and assets, so
// that the review URLs qgate prints and sends (<public_url>/reviews/{id})
// open the review page.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", s.API.Handler())
	sh := s.Signin.Handler()
	for _, p := range signin.Routes() {
		mux.Handle(p, sh)
	}
	s.UI.Register(mux)
	return mux
}

// recordReviewWaits observes how long each review lasted.
func (s *Server) recordReviewWaits(ctx context.Context) {
	events, cancel := s.Reviews.Subscribe(256)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			if ev.Type == qgate.ReviewDecided || ev.Type == qgate.ReviewEnded {
				r := ev.Review
				s.Metrics.ReviewWait(r.Target, string(r.Status), r.DecidedAt.Sub(r.CreatedAt))
			}
		}
	}
}

// URL is the API's base URL as actually listening.
func (s *Server) URL() string { return "http://" + s.Addr("") }

// Addr returns the listening address of a target, or of the API for "".
func (s *Server) Addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ln, ok := s.listeners[name]; ok {
		return ln.Addr().String()
	}
	return ""
}

// Close stops the listeners gracefully, then the background work, then
// flushes the audit log and closes the store.
func (s *Server) Close() error {
	// Held calls may wait up to their target's hold time: give them that.
	grace := 10 * time.Second
	for _, t := range s.Config.Targets {
		grace = max(grace, t.Hold+5*time.Second)
	}
	shutdown, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	s.mu.Lock()
	servers := s.servers
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Add(1)
		go func() { defer wg.Done(); srv.Shutdown(shutdown) }()
	}
	for _, p := range s.proxies {
		wg.Add(1)
		go func() { defer wg.Done(); p.Shutdown(shutdown) }()
	}
	wg.Wait()
	for _, p := range s.proxies {
		p.Close()
	}
	for _, p := range s.pgProxies {
		p.Close()
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return s.closeParts()
}

func (s *Server) closeParts() error {
	if s.webhooks != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.webhooks.Shutdown(ctx)
		cancel()
	}
	s.shutdownSlack()
	var errs []error
	if err := s.Audit.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := s.Store.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// auditJournalSize is the size of the audit journal file: 64 MiB holds
// the request events of about 100,000 calls between two rewinds.
const auditJournalSize = 64 << 20

// openAuditJournal opens the audit journal beside an SQLite store under
// audit.durability sync, appends to the store what the journal holds
// beyond it (the records of calls forwarded just before a crash), and
// returns it for the audit Log. It returns nil, and the Log commits every
// allowed call's event before the call goes on, for other stores, for
// async durability (which still stores what a journal left by a durable
// run holds), and when another gateway on the same file holds the
// journal.
func openAuditJournal(st qgate.Store, durability audit.Durability, logger *slog.Logger) (*journal.Journal, error) {
	db, ok := st.(*sqlite.DB)
	if !ok || db.AuditJournalPath() == "" {
		return nil, nil
	}
	var j *journal.Journal
	var n int
	var err error
	if durability == audit.DurabilityAsync {
		n, err = storeAuditJournal(db)
	} else if j, err = journal.Open(db.AuditJournalPath(), auditJournalSize); errors.Is(err, journal.ErrLocked) {
		logger.Warn("another qgate serve uses this store's audit journal: this one commits every allowed call's audit event before forwarding it, without the journal",
			"journal", db.AuditJournalPath())
		return nil, nil
	} else if err == nil {
		n, err = replayAuditJournal(db, j)
	} else {
		err = fmt.Errorf("audit journal: %w", err)
	}
	if err != nil {
		return nil, err
	}
	if n > 0 {
		logger.Info("audit journal replayed: events of calls made before the last stop are now in the audit log",
			"journal", db.AuditJournalPath(), "events", n)
	}
	return j, nil
}

// storeAuditJournal appends to db the events that the audit journal
// beside it holds beyond db's mark, if there is a journal and no running
// qgate serve holds it (one that does stores them itself within
// milliseconds), and then clears it. It returns how many it stored.
func storeAuditJournal(db *sqlite.DB) (int, error) {
	j, err := openIdleAuditJournal(db.AuditJournalPath())
	if j == nil {
		return 0, err
	}
	n, err := replayAuditJournal(db, j)
	if err != nil {
		return n, err
	}
	// Everything in it is in the database now.
	return n, errors.Join(j.Clear(), j.Close())
}

// removeEmptyAuditJournal deletes the audit journal at path if it holds
// nothing to replay and no process uses it; a journal with entries, or
// none at all, is left alone.
func removeEmptyAuditJournal(path string) error {
	j, err := openIdleAuditJournal(path)
	if j == nil {
		return err
	}
	empty := len(j.Pending()) == 0
	if err := j.Close(); err != nil || !empty {
		return err
	}
	return os.Remove(path)
}

// openIdleAuditJournal opens the audit journal at path if there is one
// and no process holds it; otherwise it returns nil.
func openIdleAuditJournal(path string) (*journal.Journal, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	j, err := journal.Open(path, auditJournalSize)
	if errors.Is(err, journal.ErrLocked) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit journal: %w", err)
	}
	return j, nil
}

// replayAuditJournal appends to db the events j holds beyond db's journal
// mark, and starts j; it returns how many it appended. On an error it
// closes j.
func replayAuditJournal(db *sqlite.DB, j *journal.Journal) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := audit.ReplayJournal(ctx, db, j)
	if err != nil {
		j.Close()
	}
	return n, err
}
