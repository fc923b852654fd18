package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/config"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

const valid = `
server:
  listen: 127.0.0.1:8080
  public_url: http://127.0.0.1:8080
store:
  driver: sqlite
  dsn: ./qgate.db
targets:
  - name: billing-db
    protocol: postgres
    environment: prod
    listen: 127.0.0.1:6432
    upstream: {address: 127.0.0.1:5432, database: billing, user: app, password_env: BILLING_PW}
  - name: payments-api
    protocol: http
    environment: staging
    listen: 127.0.0.1:9001
    upstream:
      url: http://127.0.0.1:7000
      headers: {Authorization: "Bearer ${PAYMENTS_API_KEY}"}
    graphql: {path: /graphql}
    hold: 25s
groups:
  dba: [alice, bob]
policies:
  - name: no-ddl-in-prod
    environments: [prod]
    when: sql.ddl
    action: deny
    message: DDL in production goes through migrations
  - name: prod-writes-need-a-dba
    environments: [prod]
    when: "!sql.read_only"
    action: review
    review: {approvers: [dba], quorum: 1, timeout: 15m}
  - name: reads
    when: sql.read_only
    action: allow
defaults:
  prod: review
  staging: allow
  dev: allow
`

func TestParse_OK(t *testing.T) {
	cfg, err := config.Parse("qgate.yaml", []byte(valid), env(map[string]string{"BILLING_PW": "s3cret", "PAYMENTS_API_KEY": "k"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(cfg.Targets), 2; got != want {
		t.Fatalf("targets: got %d, want %d", got, want)
	}
	db := cfg.Target("billing-db")
	if db.Postgres == nil || db.Postgres.Password != "s3cret" || db.Postgres.Database != "billing" {
		t.Fatalf("billing-db upstream: got %+v", db.Postgres)
	}
	api := cfg.Target("payments-api")
	if got, want := api.HTTP.Headers["Authorization"], "Bearer k"; got != want {
		t.Fatalf("header: got %q, want %q", got, want)
	}
	if api.GraphQLPath != "/graphql" || api.Hold != 25*time.Second || api.MaxBody != config.DefaultMaxBody {
		t.Fatalf("payments-api: got %+v", api)
	}
	p := cfg.Policies[1]
	if p.Action != qgate.ActionReview || p.Review.Quorum != 1 || p.Review.Timeout != 15*time.Minute || p.Review.Approvers[0] != "dba" {
		t.Fatalf("policy: got %+v %+v", p, p.Review)
	}
	if cfg.Defaults["prod"] != qgate.ActionReview || cfg.Defaults["dev"] != qgate.ActionAllow {
		t.Fatalf("defaults: got %v", cfg.Defaults)
	}
	if got := cfg.GroupsOf("bob"); len(got) != 1 || got[0] != "dba" {
		t.Fatalf("GroupsOf(bob): got %v", got)
	}
	if cfg.Auth.TokenKeyFile != "./qgate.db.key" {
		t.Fatalf("token key file: got %q", cfg.Auth.TokenKeyFile)
	}
	if cfg.Audit.Durability != "sync" {
		t.Fatalf("audit durability: got %q, want the default sync", cfg.Audit.Durability)
	}
	cfg, err = config.Parse("qgate.yaml", []byte("server: {trusted_proxies: [10.0.0.0/8, 127.0.0.1]}\n"), env(nil))
	if err != nil || len(cfg.Server.TrustedProxies) != 2 || cfg.Server.TrustedProxies[1].String() != "127.0.0.1/32" {
		t.Fatalf("server.trusted_proxies: %v, %v", cfg.Server.TrustedProxies, err)
	}
	cfg, err = config.Parse("qgate.yaml", []byte("audit: {durability: async}\n"), env(nil))
	if err != nil || cfg.Audit.Durability != "async" {
		t.Fatalf("audit.durability async: got %q, %v", cfg.Audit.Durability, err)
	}
}

// TestParse_Errors checks that each malformed file is refused with a
// message naming the line of the problem.
func TestParse_Errors(t *testing.T) {
	vars := map[string]string{"BILLING_PW": "x", "PAYMENTS_API_KEY": "k"}
	for _, tt := range []struct {
		name string
		doc  string
		want []string // substrings, each must appear
	}{
		{"UnknownTopKey", "server: {listen: 127.0.0.1:1}\nsurver: {}\n", []string{`qgate.yaml:2: unknown key "surver" in the top level`}},
		{"UnknownNestedKey", "server:\n  listen: 127.0.0.1:1\n  listne: x\n", []string{`qgate.yaml:3: unknown key "listne" in server`}},
		{"InlinePassword", "targets:\n  - name: a\n    protocol: postgres\n    environment: dev\n    listen: 127.0.0.1:7\n    upstream:\n      address: 127.0.0.1:5432\n      database: d\n      user: u\n      password: hunter2\n",
			[]string{`qgate.yaml:10: unknown key "password" in targets[0].upstream`}},
		{"BadYAML", "server: [\n", []string{"qgate.yaml:"}},
		{"WrongType", "targets: {a: 1}\n", []string{"qgate.yaml:1: targets: want a list"}},
		{"BadDuration", "targets:\n  - name: a\n    protocol: http\n    environment: dev\n    listen: 127.0.0.1:7\n    upstream: {url: http://x}\n    hold: soon\n",
			[]string{`qgate.yaml:7: invalid duration "soon"`}},
		{"BadAction", "policies:\n  - name: p\n    when: 'true'\n    action: permit\n", []string{`qgate.yaml:4: policy "p": action must be allow, deny or review, not "permit"`}},
		{"CELTypo", "policies:\n  - name: p\n    when: sql.read_onyl\n    action: allow\n", []string{`qgate.yaml:3: policy "p": when: column 4: undefined field 'read_onyl'`}},
		{"CELUndeclared", "policies:\n  - name: p\n    action: deny\n    when: |\n      sql.ddl ||\n      sqll.multi\n", []string{`qgate.yaml:6: policy "p": when: column 1: undeclared reference to 'sqll'`}},
		{"CELNotBool", "policies:\n  - name: p\n    when: sql.tables\n    action: deny\n", []string{`qgate.yaml:3: policy "p": when: column 1: condition must be a bool`}},
		{"MissingWhen", "policies:\n  - name: p\n    action: deny\n", []string{`qgate.yaml:2: policy "p": when is required`}},
		{"UnknownGroup", "policies:\n  - name: p\n    when: 'true'\n    action: review\n    review: {approvers: [dbas]}\n", []string{`unknown group "dbas"`, "qgate.yaml:5:"}},
		{"UnknownTarget", "policies:\n  - name: p\n    targets: [nope]\n    when: 'true'\n    action: deny\n", []string{`qgate.yaml:3: policy "p": unknown target "nope"`}},
		{"DuplicatePolicy", "policies:\n  - {name: p, when: 'true', action: deny}\n  - {name: p, when: 'true', action: deny}\n", []string{`qgate.yaml:3: policies[1]: duplicate policy name "p"`}},
		{"MissingEnv", "targets:\n  - name: a\n    protocol: postgres\n    environment: dev\n    listen: 127.0.0.1:7\n    upstream: {address: 'h:1', database: d, user: u, password_env: NOPE}\n",
			[]string{"qgate.yaml:6:", "environment variable NOPE (password_env) is not set"}},
		{"MissingHeaderEnv", "targets:\n  - name: a\n    protocol: http\n    environment: dev\n    listen: 127.0.0.1:7\n    upstream:\n      url: http://x\n      headers: {X-Key: '${NOPE}'}\n",
			[]string{"qgate.yaml:8:", "environment variable NOPE is not set"}},
		{"BadProtocol", "targets:\n  - name: a\n    protocol: ftp\n    environment: dev\n    listen: 127.0.0.1:7\n", []string{`qgate.yaml:3: target "a": protocol must be postgres or http, not "ftp"`}},
		{"BadListen", "targets:\n  - name: a\n    protocol: http\n    environment: dev\n    listen: 7000\n    upstream: {url: http://x}\n", []string{`qgate.yaml:5: target "a": listen: want host:port`}},
		{"DuplicateListen", "targets:\n  - {name: a, protocol: http, environment: dev, listen: '127.0.0.1:7', upstream: {url: 'http://x'}}\n  - {name: b, protocol: http, environment: dev, listen: '127.0.0.1:7', upstream: {url: 'http://x'}}\n",
			[]string{`qgate.yaml:3: targets[1]: listen address 127.0.0.1:7 is already used by target "a"`}},
		{"BadDefault", "defaults:\n  prod: maybe\n", []string{`qgate.yaml:2: defaults.prod: action must be allow, deny or review`}},
		{"BadStore", "store: {driver: mongo}\n", []string{`qgate.yaml:1: store.driver: want sqlite or postgres`}},
		{"BadTrustedProxy", "server:\n  trusted_proxies: [10.0.0.0/8, proxy.example]\n", []string{`qgate.yaml:2: server.trusted_proxies: "proxy.example" is neither an IP address nor a CIDR range`}},
		{"BadDurability", "audit: {durability: eventually}\n", []string{`qgate.yaml:1: audit.durability: must be sync or async, not "eventually"`}},
		{"TokenCacheTooLong", "auth: {token_cache: 10m}\n", []string{"qgate.yaml:1: auth.token_cache: at most 1m"}},
		{"DuplicateKey", "server:\n  listen: 127.0.0.1:1\n  listen: 127.0.0.1:2\n", []string{"qgate.yaml:3:", "already defined"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("qgate.yaml", []byte(tt.doc), env(vars))
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestParse_AllProblemsAtOnce checks that validation does not stop at the
// first problem.
func TestParse_AllProblemsAtOnce(t *testing.T) {
	doc := "server: {listen: nope}\npolicies:\n  - {name: a, when: 'sqll', action: deny}\n  - {name: b, when: 'true', action: nah}\n"
	_, err := config.Parse("f.yaml", []byte(doc), env(nil))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *config.Error", err)
	}
	if got := len(ce.Problems); got != 3 {
		t.Fatalf("got %d problems, want 3:\n%v", got, err)
	}
}

func TestLoad_PasswordFile(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := "targets:\n  - name: a\n    protocol: postgres\n    environment: dev\n    listen: 127.0.0.1:7\n    upstream: {address: 'h:1', database: d, user: u, password_file: " + pw + "}\n"
	f := filepath.Join(dir, "qgate.yaml")
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Target("a").Postgres.Password; got != "from-file" {
		t.Fatalf("password: got %q", got)
	}
}

func TestLoad_Examples(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Setenv("BILLING_PW", "x")
			t.Setenv("PAYMENTS_API_KEY", "x")
			if _, err := config.Load(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

const webhooksDoc = `
webhooks:
  - name: audit-sink
    url: https://hooks.example.com/qgate
    secret_env: HOOK_SECRET
  - name: pager
    url: http://127.0.0.1:9999/hook
    secret_file: SECRET_FILE
    events: [review.decided, review.executed]
    timeout: 2s
    max_attempts: 3
`

func TestParse_Webhooks(t *testing.T) {
	dir := t.TempDir()
	sf := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(sf, []byte("0123456789abcdef-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(webhooksDoc, "SECRET_FILE", sf, 1)
	cfg, err := config.Parse("qgate.yaml", []byte(doc), env(map[string]string{"HOOK_SECRET": "0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(cfg.Webhooks), 2; got != want {
		t.Fatalf("webhooks: got %d, want %d", got, want)
	}
	t.Run("Defaults", func(t *testing.T) {
		w := cfg.Webhooks[0]
		if w.Name != "audit-sink" || w.URL != "https://hooks.example.com/qgate" || string(w.Secret) != "0123456789abcdef" {
			t.Fatalf("got %+v", w)
		}
		if got, want := strings.Join(w.Events, ","), "review.created,review.decided,review.ended"; got != want {
			t.Errorf("events: got %s, want %s", got, want)
		}
		if w.Timeout != config.DefaultWebhookTimeout || w.MaxAttempts != config.DefaultWebhookMaxAttempts {
			t.Errorf("timeout, max_attempts: got %v, %d", w.Timeout, w.MaxAttempts)
		}
	})
	t.Run("Explicit", func(t *testing.T) {
		w := cfg.Webhooks[1]
		if string(w.Secret) != "0123456789abcdef-from-file" {
			t.Errorf("secret from file: got %d bytes", len(w.Secret))
		}
		if got, want := strings.Join(w.Events, ","), "review.decided,review.executed"; got != want {
			t.Errorf("events: got %s, want %s", got, want)
		}
		if w.Timeout != 2*time.Second || w.MaxAttempts != 3 {
			t.Errorf("timeout, max_attempts: got %v, %d", w.Timeout, w.MaxAttempts)
		}
	})
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: got %v", cfg.Warnings)
	}
}

func TestParse_WebhookPlainHTTPWarning(t *testing.T) {
	doc := "webhooks:\n  - name: w\n    url: http://hooks.example.com/x\n    secret_env: S\n"
	cfg, err := config.Parse("qgate.yaml", []byte(doc), env(map[string]string{"S": "0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Line != 3 || !strings.Contains(cfg.Warnings[0].Message, "plain http") {
		t.Fatalf("warnings: got %v", cfg.Warnings)
	}
}

// TestParse_WebhookErrors checks that each malformed webhook is refused
// with a message naming its line, and that no message shows a secret.
func TestParse_WebhookErrors(t *testing.T) {
	const secret = "0123456789abcdef"
	vars := map[string]string{"S": secret, "SHORT": "tooshort"}
	hook := func(lines ...string) string {
		return "webhooks:\n  - name: w\n" + strings.Join(lines, "\n") + "\n"
	}
	for _, tt := range []struct {
		name string
		doc  string
		want []string
	}{
		{"InlineSecret", hook("    url: https://x.example", "    secret: "+secret),
			[]string{`qgate.yaml:4: unknown key "secret" in webhooks[0] (known keys: name, url, secret_env, secret_file, events, timeout, max_attempts)`}},
		{"NoSecret", hook("    url: https://x.example"), []string{`qgate.yaml:2: webhook "w": a signing secret is required: set secret_env or secret_file`}},
		{"BothSecrets", hook("    url: https://x.example", "    secret_env: S", "    secret_file: /nonexistent"),
			[]string{`qgate.yaml:2: webhook "w": set secret_env or secret_file, not both`}},
		{"MissingSecretEnv", hook("    url: https://x.example", "    secret_env: NOPE"),
			[]string{`qgate.yaml:4: webhook "w": environment variable NOPE (secret_env) is not set`}},
		{"MissingSecretFile", hook("    url: https://x.example", "    secret_file: /nonexistent/qgate-secret"),
			[]string{`qgate.yaml:4: webhook "w": secret_file: no such file or directory`}},
		{"ShortSecret", hook("    url: https://x.example", "    secret_env: SHORT"),
			[]string{`qgate.yaml:4: webhook "w": the secret from secret_env is 8 bytes, want at least 16`}},
		{"MissingURL", hook("    secret_env: S"), []string{`qgate.yaml:2: webhook "w": url: want an http:// or https:// URL, got ""`}},
		{"BadScheme", hook("    url: ftp://x.example/hook", "    secret_env: S"),
			[]string{`qgate.yaml:3: webhook "w": url: want an http:// or https:// URL, got "ftp://x.example/hook"`}},
		{"NoHost", hook("    url: https:///hook", "    secret_env: S"), []string{`qgate.yaml:3: webhook "w": url: want an http:// or https:// URL`}},
		{"UnknownEvent", hook("    url: https://x.example", "    secret_env: S", "    events:", "      - review.decided", "      - review.create"),
			[]string{`qgate.yaml:7: webhook "w": events: unknown event "review.create" (want one of review.created, review.voted, review.decided, review.ended, review.executed)`}},
		{"DuplicateEvent", hook("    url: https://x.example", "    secret_env: S", "    events: [review.ended, review.ended]"),
			[]string{`qgate.yaml:5: webhook "w": events: review.ended is listed twice`}},
		{"EmptyEvents", hook("    url: https://x.example", "    secret_env: S", "    events: []"),
			[]string{`qgate.yaml:5: webhook "w": events: list at least one event`}},
		{"BadTimeout", hook("    url: https://x.example", "    secret_env: S", "    timeout: 0s"),
			[]string{`qgate.yaml:5: duration "0s" must be positive`}},
		{"BadMaxAttempts", hook("    url: https://x.example", "    secret_env: S", "    max_attempts: 0"),
			[]string{`qgate.yaml:5: webhook "w": max_attempts must be at least 1, got 0`}},
		{"BadName", "webhooks:\n  - name: 'has space'\n    url: https://x.example\n    secret_env: S\n",
			[]string{`qgate.yaml:2: webhook "has space": name must be letters, digits`}},
		{"MissingName", "webhooks:\n  - url: https://x.example\n    secret_env: S\n",
			[]string{`qgate.yaml:2: webhooks[0]: name must be letters, digits`}},
		{"DuplicateName", "webhooks:\n  - {name: w, url: 'https://a.example', secret_env: S}\n  - {name: w, url: 'https://b.example', secret_env: S}\n",
			[]string{`qgate.yaml:3: webhooks[1]: duplicate webhook name "w"`}},
		{"NotAList", "webhooks: {name: w}\n", []string{"qgate.yaml:1: webhooks: want a list"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("qgate.yaml", []byte(tt.doc), env(vars))
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the secret:\n%v", err)
			}
		})
	}
}

func TestParse_PostgresLimits(t *testing.T) {
	vars := env(map[string]string{"PW": "x"})
	const pgTarget = "targets:\n  - name: a\n    protocol: postgres\n    environment: dev\n    listen: 127.0.0.1:7\n    upstream: {address: 'h:1', database: d, user: u, password_env: PW}\n"
	cfg, err := config.Parse("qgate.yaml", []byte(pgTarget), vars)
	if err != nil {
		t.Fatal(err)
	}
	if tg := cfg.Target("a"); tg.MaxConnections != config.DefaultPostgresMaxConnections ||
		tg.MaxConnectionsPerToken != config.DefaultPostgresMaxConnectionsPerToken || tg.IdleTimeout != 0 {
		t.Errorf("defaults = %d, %d, %v", tg.MaxConnections, tg.MaxConnectionsPerToken, tg.IdleTimeout)
	}
	cfg, err = config.Parse("qgate.yaml", []byte(pgTarget+"    max_connections: 0\n    max_connections_per_token: 3\n    idle_timeout: 5m\n"), vars)
	if err != nil {
		t.Fatal(err)
	}
	if tg := cfg.Target("a"); tg.MaxConnections != 0 || tg.MaxConnectionsPerToken != 3 || tg.IdleTimeout != 5*time.Minute {
		t.Errorf("set = %d, %d, %v", tg.MaxConnections, tg.MaxConnectionsPerToken, tg.IdleTimeout)
	}
	for _, tt := range []struct {
		name, doc string
		want      []string
	}{
		{"Negative", pgTarget + "    max_connections: -1\n", []string{`qgate.yaml:7: target "a": max_connections must be 0 (unlimited) or more, got -1`}},
		{"NegativePerToken", pgTarget + "    max_connections_per_token: -2\n", []string{`qgate.yaml:7: target "a": max_connections_per_token must be 0 (unlimited) or more, got -2`}},
		{"NotInt", pgTarget + "    max_connections: lots\n", []string{"qgate.yaml:7:"}},
		{"BadIdle", pgTarget + "    idle_timeout: later\n", []string{`qgate.yaml:7: invalid duration "later"`}},
		{"HTTPTarget", "targets:\n  - name: h\n    protocol: http\n    environment: dev\n    listen: 127.0.0.1:7\n    upstream: {url: http://x}\n    max_connections: 5\n    idle_timeout: 1m\n",
			[]string{`qgate.yaml:7: target "h": max_connections is for postgres targets`, `qgate.yaml:8: target "h": idle_timeout is for postgres targets`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("qgate.yaml", []byte(tt.doc), vars)
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParse_SessionsAndOIDC(t *testing.T) {
	cfg, err := config.Parse("qgate.yaml", []byte("server: {listen: '127.0.0.1:8080', public_url: 'https://qgate.example.com/'}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Server.Sessions; s.Lifetime != config.DefaultSessionLifetime || s.IdleTimeout != config.DefaultSessionIdleTimeout || cfg.Server.OIDC != nil {
		t.Fatalf("defaults: %+v, oidc %+v", s, cfg.Server.OIDC)
	}

	const doc = `
server:
  public_url: https://qgate.example.com
  sessions: {lifetime: 8h, idle_timeout: 30m}
  oidc:
    issuer: https://sso.example.com/realms/main/
    client_id: qgate
    client_secret_env: OIDC_SECRET
`
	cfg, err = config.Parse("qgate.yaml", []byte(doc), env(map[string]string{"OIDC_SECRET": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Server.Sessions; s.Lifetime != 8*time.Hour || s.IdleTimeout != 30*time.Minute {
		t.Fatalf("sessions: %+v", s)
	}
	o := cfg.Server.OIDC
	if o == nil || o.Issuer != "https://sso.example.com/realms/main" || o.ClientID != "qgate" || o.ClientSecret != "s3cret" ||
		o.RedirectURL != "https://qgate.example.com/auth/oidc/callback" || strings.Join(o.Scopes, " ") != "openid email profile" ||
		o.IdentityClaim != "email" || o.GroupsClaim != "groups" || o.Name != "sso.example.com" {
		t.Fatalf("oidc: %+v", o)
	}

	dir := t.TempDir()
	secret := filepath.Join(dir, "oidc.secret")
	os.WriteFile(secret, []byte("from-file\n"), 0o600)
	cfg, err = config.Parse("qgate.yaml", []byte(`
server:
  oidc:
    name: Example SSO
    issuer: http://127.0.0.1:5556/dex
    client_id: qgate
    client_secret_file: `+secret+`
    redirect_url: http://127.0.0.1:8080/auth/oidc/callback
    scopes: [openid, email, groups]
    identity_claim: preferred_username
    groups_claim: roles
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.Server.OIDC; o.ClientSecret != "from-file" || o.Name != "Example SSO" || o.IdentityClaim != "preferred_username" ||
		o.GroupsClaim != "roles" || strings.Join(o.Scopes, " ") != "openid email groups" {
		t.Fatalf("oidc: %+v", o)
	}
}

func TestParse_SessionsAndOIDCErrors(t *testing.T) {
	const oidc = "server:\n  oidc:\n    issuer: https://sso.example.com\n    client_id: qgate\n"
	for _, tt := range []struct {
		name, doc string
		want      []string
	}{
		{"UnknownKey", "server:\n  sessions:\n    lifetime: 1h\n    idle: 5m\n", []string{`qgate.yaml:4: unknown key "idle" in server.sessions`}},
		{"BadDuration", "server:\n  sessions: {lifetime: forever}\n", []string{`qgate.yaml:2: invalid duration "forever"`}},
		{"TooShort", "server:\n  sessions:\n    idle_timeout: 10s\n", []string{"qgate.yaml:3: server.sessions.idle_timeout: at least 1m"}},
		{"InlineSecret", oidc + "    client_secret: hunter2\n", []string{`qgate.yaml:5: unknown key "client_secret" in server.oidc`}},
		{"NoSecret", oidc, []string{"qgate.yaml:3: server.oidc: a client secret is required"}},
		{"SecretEnvUnset", oidc + "    client_secret_env: NOPE\n", []string{"qgate.yaml:5: server.oidc: environment variable NOPE (client_secret_env) is not set"}},
		{"BothSecrets", oidc + "    client_secret_env: S\n    client_secret_file: /x\n", []string{"qgate.yaml:3: server.oidc: set client_secret_env or client_secret_file, not both"}},
		{"NoIssuer", "server:\n  oidc:\n    client_id: q\n    client_secret_env: S\n", []string{"qgate.yaml:3: server.oidc.issuer: want the provider's https:// URL"}},
		{"PlainHTTPIssuer", "server:\n  oidc:\n    issuer: http://sso.example.com\n    client_id: q\n    client_secret_env: S\n", []string{"qgate.yaml:3: server.oidc.issuer: plain http is only accepted on loopback"}},
		{"NoClientID", "server:\n  oidc:\n    issuer: https://sso.example.com\n    client_secret_env: S\n", []string{"qgate.yaml:3: server.oidc.client_id is required"}},
		{"NoOpenID", oidc + "    client_secret_env: S\n    scopes: [email]\n", []string{"qgate.yaml:6: server.oidc.scopes: must include openid"}},
		{"BadRedirect", oidc + "    client_secret_env: S\n    redirect_url: https://qgate.example.com/callback\n", []string{"qgate.yaml:6: server.oidc.redirect_url: want an http(s) URL ending in /auth/oidc/callback"}},
		{"BadClaim", oidc + "    client_secret_env: S\n    groups_claim: 'a b'\n", []string{`qgate.yaml:6: server.oidc.groups_claim: invalid claim name "a b"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("qgate.yaml", []byte(tt.doc), env(map[string]string{"S": "x"}))
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}
