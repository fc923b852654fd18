package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/internal/clientip"
	"github.com/qgate/qgate/policy"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// build validates the decoded file and turns it into a Config, recording
// every problem with its line.
func (l *loader) build(fc *fileConfig) *Config {
	cfg := &Config{
		File:     l.file,
		Groups:   map[string][]string{},
		Defaults: map[string]qgate.Action{},
	}
	l.buildServer(fc, cfg)
	l.buildStore(fc, cfg)
	cfg.Auth = Auth{TokenKeyFile: fc.Auth.TokenKeyFile, TokenKeyEnv: fc.Auth.TokenKeyEnv, TokenCache: fc.Auth.TokenCache.Duration}
	if cfg.Auth.TokenCache > time.Minute {
		l.problem(l.line("auth", "token_cache"), "auth.token_cache: at most 1m (revocations made elsewhere wait that long)")
	}
	if cfg.Auth.TokenKeyEnv != "" {
		if v, ok := l.env(cfg.Auth.TokenKeyEnv); !ok || v == "" {
			l.problem(l.line("auth", "token_key_env"), "auth.token_key_env: environment variable %s is not set", cfg.Auth.TokenKeyEnv)
		}
	}
	switch cfg.Audit.Durability = fc.Audit.Durability; cfg.Audit.Durability {
	case "":
		cfg.Audit.Durability = "sync"
	case "sync", "async":
	default:
		l.problem(l.line("audit", "durability"), "audit.durability: must be sync or async, not %q", cfg.Audit.Durability)
	}
	if cfg.Auth.TokenKeyFile == "" && cfg.Store.Driver == "sqlite" {
		cfg.Auth.TokenKeyFile = cfg.Store.DSN + ".key"
	}
	for g, members := range fc.Groups {
		if !nameRE.MatchString(g) {
			l.problem(l.line("groups", g), "groups: invalid group name %q", g)
		}
		if len(members) == 0 {
			l.problem(l.line("groups", g), "groups.%s: a group needs at least one member", g)
		}
		cfg.Groups[g] = members
	}
	envs := map[string]bool{}
	for i := range fc.Targets {
		if t := l.buildTarget(i, &fc.Targets[i]); t != nil {
			for _, o := range cfg.Targets {
				if o.Name == t.Name {
					l.problem(l.line("targets", i, "name"), "targets[%d]: duplicate target name %q", i, t.Name)
				}
				if o.Listen == t.Listen && t.Listen != "" && !strings.HasSuffix(t.Listen, ":0") {
					l.problem(l.line("targets", i, "listen"), "targets[%d]: listen address %s is already used by target %q", i, t.Listen, o.Name)
				}
			}
			if t.Listen == cfg.Server.Listen && !strings.HasSuffix(t.Listen, ":0") {
				l.problem(l.line("targets", i, "listen"), "targets[%d]: listen address %s is the server's", i, t.Listen)
			}
			envs[t.Environment] = true
			cfg.Targets = append(cfg.Targets, t)
		}
	}
	for env, a := range fc.Defaults {
		act := qgate.Action(a)
		if !act.Valid() {
			l.problem(l.line("defaults", env), "defaults.%s: action must be allow, deny or review, not %q", env, a)
			continue
		}
		cfg.Defaults[env] = act
		if !envs[env] {
			cfg.Warnings = append(cfg.Warnings, Problem{File: l.file, Line: l.line("defaults", env),
				Message: fmt.Sprintf("defaults.%s: no target is in environment %q", env, env)})
		}
	}
	if rd := fc.Review; rd != nil {
		cfg.ReviewDefaults = qgate.ReviewSpec{Approvers: rd.Approvers, Quorum: max(rd.Quorum, 1), Timeout: rd.Timeout.Duration}
		l.checkApprovers(cfg, rd.Approvers, "review_defaults")
	}
	if cfg.ReviewDefaults.Timeout == 0 {
		cfg.ReviewDefaults.Timeout = DefaultReviewTimeout
	}
	if cfg.ReviewDefaults.Quorum == 0 {
		cfg.ReviewDefaults.Quorum = 1
	}
	names := map[string]bool{}
	for i := range fc.Policies {
		p := l.buildPolicy(cfg, i, &fc.Policies[i])
		if p == nil {
			continue
		}
		if names[p.Name] {
			l.problem(l.line("policies", i, "name"), "policies[%d]: duplicate policy name %q", i, p.Name)
		}
		names[p.Name] = true
		cfg.Policies = append(cfg.Policies, p)
	}
	l.buildWebhooks(fc, cfg)
	l.buildSlack(fc, cfg)
	return cfg
}

func (l *loader) buildServer(fc *fileConfig, cfg *Config) {
	s := fc.Server
	cfg.Server = Server{Listen: s.Listen, PublicURL: s.PublicURL, TLS: l.tlsFiles(s.TLS, "server", "tls")}
	if cfg.Server.Listen == "" {
		cfg.Server.Listen = DefaultListen
	}
	l.checkListen(cfg.Server.Listen, "server.listen", "server", "listen")
	if cfg.Server.PublicURL == "" {
		scheme := "http"
		if cfg.Server.TLS != nil {
			scheme = "https"
		}
		cfg.Server.PublicURL = scheme + "://" + cfg.Server.Listen
	} else if u, err := url.Parse(cfg.Server.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.problem(l.line("server", "public_url"), "server.public_url: want an http:// or https:// URL, got %q", cfg.Server.PublicURL)
	}
	cfg.Server.PublicURL = strings.TrimRight(cfg.Server.PublicURL, "/")
	l.buildSessions(s.Sessions, cfg)
	l.buildOIDC(s.OIDC, cfg)
	if tp, err := clientip.Parse(s.TrustedProxies); err != nil {
		l.problem(l.line("server", "trusted_proxies"), "server.trusted_proxies: %v", err)
	} else {
		cfg.Server.TrustedProxies = tp
	}
}

func (l *loader) buildSessions(fs *fileSessions, cfg *Config) {
	ss := Sessions{Lifetime: DefaultSessionLifetime, IdleTimeout: DefaultSessionIdleTimeout}
	if fs != nil {
		if fs.Lifetime.set {
			ss.Lifetime = fs.Lifetime.Duration
		}
		if fs.IdleTimeout.set {
			ss.IdleTimeout = fs.IdleTimeout.Duration
		}
		if ss.Lifetime < time.Minute {
			l.problem(l.line("server", "sessions", "lifetime"), "server.sessions.lifetime: at least 1m")
		}
		if ss.IdleTimeout < time.Minute {
			l.problem(l.line("server", "sessions", "idle_timeout"), "server.sessions.idle_timeout: at least 1m")
		}
		if ss.IdleTimeout > ss.Lifetime {
			cfg.Warnings = append(cfg.Warnings, Problem{File: l.file, Line: l.line("server", "sessions", "idle_timeout"),
				Message: fmt.Sprintf("server.sessions.idle_timeout (%v) is longer than lifetime (%v): sessions end at the lifetime", ss.IdleTimeout, ss.Lifetime)})
		}
	}
	cfg.Server.Sessions = ss
}

var claimRE = regexp.MustCompile(`^[A-Za-z0-9_:./-]{1,128}$`)

func (l *loader) buildOIDC(fo *fileOIDC, cfg *Config) {
	if fo == nil {
		return
	}
	at := func(keys ...any) int { return l.line(append([]any{"server", "oidc"}, keys...)...) }
	const where = "server.oidc"
	o := &OIDC{Name: fo.Name, Issuer: strings.TrimRight(fo.Issuer, "/"), ClientID: fo.ClientID, RedirectURL: fo.RedirectURL,
		Scopes: fo.Scopes, IdentityClaim: fo.IdentityClaim, GroupsClaim: fo.GroupsClaim}
	if u, err := url.Parse(fo.Issuer); fo.Issuer == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		l.problem(at("issuer"), "%s.issuer: want the provider's https:// URL (its discovery document is at issuer/.well-known/openid-configuration), got %q", where, fo.Issuer)
	} else {
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			l.problem(at("issuer"), "%s.issuer: plain http is only accepted on loopback; use https", where)
		}
		if o.Name == "" {
			o.Name = u.Hostname()
		}
	}
	if fo.ClientID == "" {
		l.problem(at(), "%s.client_id is required", where)
	}
	if fo.ClientSecretEnv == "" && fo.ClientSecretFile == "" {
		l.problem(at(), "%s: a client secret is required: set client_secret_env or client_secret_file", where)
	} else if v, ok := l.secretFrom(where, "client_secret", fo.ClientSecretEnv, fo.ClientSecretFile, "server", "oidc"); ok {
		if v == "" {
			l.problem(at(), "%s: the client secret is empty", where)
		}
		o.ClientSecret = v
	}
	if o.RedirectURL == "" {
		o.RedirectURL = cfg.Server.PublicURL + "/auth/oidc/callback"
	} else if u, err := url.Parse(o.RedirectURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Path != "/auth/oidc/callback" {
		l.problem(at("redirect_url"), "%s.redirect_url: want an http(s) URL ending in /auth/oidc/callback, got %q", where, o.RedirectURL)
	}
	if l.node("server", "oidc", "scopes") == nil {
		o.Scopes = OIDCDefaultScopes()
	} else if !slices.Contains(o.Scopes, "openid") {
		l.problem(at("scopes"), "%s.scopes: must include openid", where)
	}
	if o.IdentityClaim == "" {
		o.IdentityClaim = DefaultOIDCIdentityClaim
	}
	if o.GroupsClaim == "" {
		o.GroupsClaim = DefaultOIDCGroupsClaim
	}
	for _, c := range []struct{ key, v string }{{"identity_claim", o.IdentityClaim}, {"groups_claim", o.GroupsClaim}} {
		if !claimRE.MatchString(c.v) {
			l.problem(at(c.key), "%s.%s: invalid claim name %q", where, c.key, c.v)
		}
	}
	cfg.Server.OIDC = o
}

func (l *loader) buildStore(fc *fileConfig, cfg *Config) {
	cfg.Store = Store{Driver: fc.Store.Driver, DSN: fc.Store.DSN}
	if cfg.Store.Driver == "" {
		cfg.Store.Driver = DefaultStoreDriver
	}
	switch cfg.Store.Driver {
	case "sqlite":
		if cfg.Store.DSN == "" {
			cfg.Store.DSN = DefaultStoreDSN
		}
	case "postgres":
		if cfg.Store.DSN == "" {
			l.problem(l.line("store"), "store.dsn: the postgres store needs a connection string")
		}
	default:
		l.problem(l.line("store", "driver"), "store.driver: want sqlite or postgres, not %q", cfg.Store.Driver)
	}
}

func (l *loader) checkListen(addr, what string, path ...any) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		l.problem(l.line(path...), "%s: want host:port, got %q", what, addr)
		return
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		l.problem(l.line(path...), "%s: host %q is not an IP address or localhost", what, host)
	}
}

func (l *loader) tlsFiles(t *fileTLS, path ...any) *qgate.TLSFiles {
	if t == nil {
		return nil
	}
	out := &qgate.TLSFiles{Cert: t.Cert, Key: t.Key, CA: t.CA, InsecureSkipVerify: t.InsecureSkipVerify}
	if (t.Cert == "") != (t.Key == "") {
		l.problem(l.line(path...), "%s: cert and key go together", pathString(path))
	}
	for _, f := range []struct{ key, file string }{{"cert", t.Cert}, {"key", t.Key}, {"ca", t.CA}} {
		if f.file == "" {
			continue
		}
		if _, err := os.Stat(f.file); err != nil {
			l.problem(l.line(append(path, f.key)...), "%s.%s: %v", pathString(path), f.key, errors.Unwrap(err))
		}
	}
	return out
}

func pathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		}
	}
	return b.String()
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func (l *loader) buildTarget(i int, ft *fileTarget) *qgate.Target {
	at := func(keys ...any) int { return l.line(append([]any{"targets", i}, keys...)...) }
	where := fmt.Sprintf("targets[%d]", i)
	if ft.Name != "" {
		where = fmt.Sprintf("target %q", ft.Name)
	}
	if !nameRE.MatchString(ft.Name) {
		l.problem(at("name"), "%s: name must be letters, digits, '-', '_' or '.', got %q", where, ft.Name)
	}
	if ft.Environment == "" {
		l.problem(at("environment"), "%s: environment is required (e.g. dev, staging, prod)", where)
	} else if !nameRE.MatchString(ft.Environment) {
		l.problem(at("environment"), "%s: invalid environment %q", where, ft.Environment)
	}
	if ft.Listen == "" {
		l.problem(at("listen"), "%s: listen is required (host:port)", where)
	} else {
		l.checkListen(ft.Listen, where+": listen", "targets", i, "listen")
	}
	t := &qgate.Target{
		Name: ft.Name, Protocol: qgate.Protocol(ft.Protocol), Environment: ft.Environment, Listen: ft.Listen,
		Hold: ft.Hold.Duration, MaxBody: int64(ft.MaxBody), AllowMethodOverride: ft.AllowMethodOverride,
		TokenHeader: ft.TokenHeader, TLS: l.tlsFiles(ft.TLS, "targets", i, "tls"),
	}
	up := ft.Upstream
	switch t.Protocol {
	case qgate.ProtocolPostgres:
		pg := &qgate.PostgresUpstream{Address: up.Address, Database: up.Database, User: up.User, SSLMode: up.SSLMode}
		if up.Address == "" {
			l.problem(at("upstream"), "%s: upstream.address is required (host:port of the PostgreSQL server)", where)
		} else if _, _, err := net.SplitHostPort(up.Address); err != nil {
			l.problem(at("upstream", "address"), "%s: upstream.address: want host:port, got %q", where, up.Address)
		}
		if up.Database == "" {
			l.problem(at("upstream"), "%s: upstream.database is required", where)
		}
		if up.User == "" {
			l.problem(at("upstream"), "%s: upstream.user is required", where)
		}
		switch up.SSLMode {
		case "", "disable", "prefer", "require", "verify-ca", "verify-full":
		default:
			l.problem(at("upstream", "sslmode"), "%s: upstream.sslmode: want disable, prefer, require, verify-ca or verify-full", where)
		}
		pg.Password = l.secret(where+": upstream", up.PasswordEnv, up.PasswordFile, "targets", i, "upstream")
		for _, k := range []string{"url", "headers"} {
			if l.node("targets", i, "upstream", k) != nil {
				l.problem(at("upstream", k), "%s: upstream.%s is for http targets", where, k)
			}
		}
		if ft.GraphQL != nil || ft.Hold.set {
			l.problem(at("protocol"), "%s: graphql and hold are for http targets", where)
		}
		t.MaxConnections = l.limit(ft.MaxConnections, DefaultPostgresMaxConnections, where, "max_connections", at)
		t.MaxConnectionsPerToken = l.limit(ft.MaxConnectionsPerToken, DefaultPostgresMaxConnectionsPerToken, where, "max_connections_per_token", at)
		t.IdleTimeout = ft.IdleTimeout.Duration
		t.Postgres = pg
	case qgate.ProtocolHTTP:
		h := &qgate.HTTPUpstream{URL: up.URL, Headers: map[string]string{}, TLS: l.tlsFiles(up.TLS, "targets", i, "upstream", "tls")}
		if u, err := url.Parse(up.URL); up.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l.problem(at("upstream", "url"), "%s: upstream.url: want an http:// or https:// URL, got %q", where, up.URL)
		}
		for k, v := range up.Headers {
			h.Headers[k] = l.expand(v, where+": upstream.headers."+k, "targets", i, "upstream", "headers", k)
		}
		for _, k := range []string{"address", "database", "user", "password_env", "password_file", "sslmode"} {
			if l.node("targets", i, "upstream", k) != nil {
				l.problem(at("upstream", k), "%s: upstream.%s is for postgres targets", where, k)
			}
		}
		if ft.GraphQL != nil {
			if !strings.HasPrefix(ft.GraphQL.Path, "/") {
				l.problem(at("graphql", "path"), "%s: graphql.path must start with /", where)
			}
			t.GraphQLPath = ft.GraphQL.Path
		}
		for _, k := range []string{"max_connections", "max_connections_per_token", "idle_timeout"} {
			if l.node("targets", i, k) != nil {
				l.problem(at(k), "%s: %s is for postgres targets", where, k)
			}
		}
		if t.Hold == 0 {
			t.Hold = DefaultHold
		}
		if t.MaxBody == 0 {
			t.MaxBody = DefaultMaxBody
		}
		t.HTTP = h
	case qgate.ProtocolMySQL:
		l.problem(at("protocol"), "%s: protocol mysql is not supported yet", where)
	default:
		l.problem(at("protocol"), "%s: protocol must be postgres or http, not %q", where, ft.Protocol)
	}
	return t
}

// limit is a connection limit: def when the key is absent, 0 for
// unlimited, never negative.
func (l *loader) limit(v *int, def int, where, key string, at func(...any) int) int {
	switch {
	case v == nil:
		return def
	case *v < 0:
		l.problem(at(key), "%s: %s must be 0 (unlimited) or more, got %d", where, key, *v)
		return 0
	}
	return *v
}

// secret resolves a password from an environment variable or a file.
func (l *loader) secret(where, envName, file string, path ...any) string {
	v, _ := l.secretFrom(where, "password", envName, file, path...)
	return v
}

// secretFrom resolves a secret from the environment variable named by the
// key prefix+"_env" or the file named by prefix+"_file" (without trailing
// newlines). ok is false when a problem was recorded. The value itself
// never appears in a message.
func (l *loader) secretFrom(where, prefix, envName, file string, path ...any) (v string, ok bool) {
	envKey, fileKey := prefix+"_env", prefix+"_file"
	switch {
	case envName != "" && file != "":
		l.problem(l.line(path...), "%s: set %s or %s, not both", where, envKey, fileKey)
		return "", false
	case envName != "":
		v, ok := l.env(envName)
		if !ok {
			l.problem(l.line(append(path, envKey)...), "%s: environment variable %s (%s) is not set", where, envName, envKey)
		}
		return v, ok
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			l.problem(l.line(append(path, fileKey)...), "%s: %s: %v", where, fileKey, errors.Unwrap(err))
			return "", false
		}
		return strings.TrimRight(string(b), "\r\n"), true
	}
	return "", true
}

func (l *loader) buildWebhooks(fc *fileConfig, cfg *Config) {
	for i := range fc.Webhooks {
		w := l.buildWebhook(cfg, i, &fc.Webhooks[i])
		for _, o := range cfg.Webhooks {
			if o.Name == w.Name && w.Name != "" {
				l.problem(l.line("webhooks", i, "name"), "webhooks[%d]: duplicate webhook name %q", i, w.Name)
			}
		}
		cfg.Webhooks = append(cfg.Webhooks, w)
	}
}

func (l *loader) buildWebhook(cfg *Config, i int, fw *fileWebhook) Webhook {
	at := func(keys ...any) int { return l.line(append([]any{"webhooks", i}, keys...)...) }
	where := fmt.Sprintf("webhooks[%d]", i)
	if fw.Name != "" {
		where = fmt.Sprintf("webhook %q", fw.Name)
	}
	w := Webhook{Name: fw.Name, URL: fw.URL, Timeout: fw.Timeout.Duration, MaxAttempts: fw.MaxAttempts}
	if !nameRE.MatchString(fw.Name) {
		l.problem(at("name"), "%s: name must be letters, digits, '-', '_' or '.', got %q", where, fw.Name)
	}
	if u, err := url.Parse(fw.URL); fw.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.problem(at("url"), "%s: url: want an http:// or https:// URL, got %q", where, fw.URL)
	} else if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		cfg.Warnings = append(cfg.Warnings, Problem{File: l.file, Line: at("url"),
			Message: fmt.Sprintf("%s: url is plain http to %s: the signature stops tampering, but queries in the payload travel unencrypted", where, u.Hostname())})
	}
	if fw.SecretEnv == "" && fw.SecretFile == "" {
		l.problem(at(), "%s: a signing secret is required: set secret_env or secret_file", where)
	} else if v, ok := l.secretFrom(where, "secret", fw.SecretEnv, fw.SecretFile, "webhooks", i); ok {
		key := "secret_env"
		if fw.SecretFile != "" {
			key = "secret_file"
		}
		if len(v) < MinWebhookSecret {
			l.problem(at(key), "%s: the secret from %s is %d bytes, want at least %d", where, key, len(v), MinWebhookSecret)
		}
		w.Secret = []byte(v)
	}
	if l.node("webhooks", i, "events") == nil {
		w.Events = DefaultWebhookEvents()
	} else if len(fw.Events) == 0 {
		l.problem(at("events"), "%s: events: list at least one event, or leave events out for the default (%s)",
			where, strings.Join(DefaultWebhookEvents(), ", "))
	}
	known := WebhookEvents()
	for j, e := range fw.Events {
		switch {
		case !slices.Contains(known, e):
			l.problem(at("events", j), "%s: events: unknown event %q (want one of %s)", where, e, strings.Join(known, ", "))
		case slices.Contains(w.Events, e):
			l.problem(at("events", j), "%s: events: %s is listed twice", where, e)
		default:
			w.Events = append(w.Events, e)
		}
	}
	if w.Timeout == 0 {
		w.Timeout = DefaultWebhookTimeout
	}
	if l.node("webhooks", i, "max_attempts") == nil {
		w.MaxAttempts = DefaultWebhookMaxAttempts
	} else if fw.MaxAttempts < 1 {
		l.problem(at("max_attempts"), "%s: max_attempts must be at least 1, got %d", where, fw.MaxAttempts)
	}
	return w
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// expand replaces ${NAME} with the environment variable's value.
func (l *loader) expand(v, where string, path ...any) string {
	return envRef.ReplaceAllStringFunc(v, func(m string) string {
		name := envRef.FindStringSubmatch(m)[1]
		val, ok := l.env(name)
		if !ok {
			l.problem(l.line(path...), "%s: environment variable %s is not set", where, name)
		}
		return val
	})
}

func (l *loader) buildPolicy(cfg *Config, i int, fp *filePolicy) *qgate.Policy {
	at := func(keys ...any) int { return l.line(append([]any{"policies", i}, keys...)...) }
	where := fmt.Sprintf("policies[%d]", i)
	if fp.Name != "" {
		where = fmt.Sprintf("policy %q", fp.Name)
	}
	if !nameRE.MatchString(fp.Name) {
		l.problem(at("name"), "%s: name must be letters, digits, '-', '_' or '.', got %q", where, fp.Name)
	}
	p := &qgate.Policy{Name: fp.Name, Targets: fp.Targets, Environments: fp.Environments, When: fp.When,
		Action: qgate.Action(fp.Action), Message: fp.Message}
	if !p.Action.Valid() {
		l.problem(at("action"), "%s: action must be allow, deny or review, not %q", where, fp.Action)
	}
	for j, t := range fp.Targets {
		if cfg.Target(t) == nil {
			l.problem(at("targets", j), "%s: unknown target %q", where, t)
		}
	}
	if strings.TrimSpace(fp.When) == "" {
		l.problem(at("when"), "%s: when is required (a CEL condition; use \"true\" to always match)", where)
	} else if err := policy.Check(fp.When); err != nil {
		l.exprProblems(err, where, i)
	}
	if fp.Review != nil {
		if p.Action != qgate.ActionReview {
			l.problem(at("review"), "%s: review settings only make sense with action: review", where)
		}
		r := fp.Review
		p.Review = &qgate.ReviewSpec{Approvers: r.Approvers, Quorum: r.Quorum, Timeout: r.Timeout.Duration, Slack: r.Slack}
		l.checkApprovers(cfg, r.Approvers, fmt.Sprintf("policies[%d].review", i), "policies", i, "review", "approvers")
		if r.Quorum < 0 {
			l.problem(at("review", "quorum"), "%s: review.quorum must be at least 1", where)
		}
		switch r.Slack {
		case "", "approve", "link":
		default:
			l.problem(at("review", "slack"), "%s: review.slack must be approve or link", where)
		}
	}
	if p.Action == qgate.ActionReview {
		if p.Review == nil {
			p.Review = &qgate.ReviewSpec{Approvers: cfg.ReviewDefaults.Approvers}
		}
		if p.Review.Quorum == 0 {
			p.Review.Quorum = 1
		}
		if p.Review.Timeout == 0 {
			p.Review.Timeout = DefaultReviewTimeout
		}
	}
	return p
}

func (l *loader) checkApprovers(cfg *Config, approvers []string, where string, path ...any) {
	if len(path) == 0 {
		path = []any{where}
	}
	for j, a := range approvers {
		if _, ok := cfg.Groups[a]; !ok {
			l.problem(l.line(append(path, j)...), "%s.approvers: unknown group %q (define it under groups)", where, a)
		}
	}
}

// exprProblems reports CEL errors at their line in the file.
func (l *loader) exprProblems(err error, where string, i int) {
	n := l.node("policies", i, "when")
	base := l.line("policies", i, "when")
	var ce *policy.CheckError
	if !errors.As(err, &ce) {
		l.problem(base, "%s: when: %v", where, err)
		return
	}
	for _, e := range ce.Errors {
		line := base
		if n != nil && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 { // block scalar: content starts on the next line
			line = base + e.Line
		} else {
			line = base + e.Line - 1
		}
		l.problem(line, "%s: when: column %d: %s", where, e.Column, e.Message)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
