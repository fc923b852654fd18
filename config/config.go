package config

import (
	"net/netip"
	"time"

	"github.com/qgate/qgate"
)

// Defaults applied when the file leaves a field out.
const (
	DefaultListen        = "127.0.0.1:8080"
	DefaultStoreDriver   = "sqlite"
	DefaultStoreDSN      = "./qgate.db"
	DefaultHold          = 25 * time.Second
	DefaultMaxBody       = 1 << 20
	DefaultReviewTimeout = 15 * time.Minute

	// DefaultSessionLifetime is a web UI session's absolute lifetime and
	// DefaultSessionIdleTimeout how long it lasts unused.
	DefaultSessionLifetime    = 12 * time.Hour
	DefaultSessionIdleTimeout = time.Hour
	DefaultOIDCIdentityClaim  = "email"
	DefaultOIDCGroupsClaim    = "groups"

	// DefaultPostgresMaxConnections caps a postgres target's open client
	// sessions when max_connections is left out (PostgreSQL's own default
	// max_connections).
	DefaultPostgresMaxConnections = 100
	// DefaultPostgresMaxConnectionsPerToken caps one token's open sessions
	// on a postgres target when max_connections_per_token is left out (a
	// typical connection pool's size).
	DefaultPostgresMaxConnectionsPerToken = 10

	DefaultWebhookTimeout     = 5 * time.Second
	DefaultWebhookMaxAttempts = 6
	// MinWebhookSecret is the shortest accepted webhook signing secret.
	MinWebhookSecret = 16
)

// WebhookEvents are the event types a webhook may subscribe to.
func WebhookEvents() []string {
	return []string{qgate.ReviewCreated, qgate.ReviewVoted, qgate.ReviewDecided, qgate.ReviewEnded, qgate.ReviewExecuted}
}

// DefaultWebhookEvents are the events of a webhook that lists none.
func DefaultWebhookEvents() []string {
	return []string{qgate.ReviewCreated, qgate.ReviewDecided, qgate.ReviewEnded}
}

// Config is a loaded, validated configuration.
type Config struct {
	// File is the path the configuration was read from.
	File     string
	Server   Server
	Store    Store
	Auth     Auth
	Audit    Audit
	Targets  []*qgate.Target
	Groups   map[string][]string
	Policies []*qgate.Policy
	Defaults map[string]qgate.Action
	// ReviewDefaults applies to reviews that come from an environment
	// default rather than from a review policy.
	ReviewDefaults qgate.ReviewSpec
	// Webhooks are told about review changes, in file order.
	Webhooks []Webhook
	// Slack, when set, posts reviews to a channel and takes decisions
	// from its buttons.
	Slack *Slack
	// Warnings are suspicious but valid settings, with positions.
	Warnings []Problem
}

// Server is the listener of the REST API and web UI.
type Server struct {
	Listen    string
	PublicURL string
	TLS       *qgate.TLSFiles
	Sessions  Sessions
	// OIDC is the web UI's OpenID Connect provider; nil when only local
	// users sign in.
	OIDC *OIDC
	// TrustedProxies are the reverse proxies (addresses or ranges) in
	// front of the server listener whose X-Forwarded-For names the client
	// (sign-in throttling, session and audit source addresses).
	TrustedProxies []netip.Prefix
}

// Sessions are the web UI's session lifetimes.
type Sessions struct {
	Lifetime    time.Duration // absolute; DefaultSessionLifetime
	IdleTimeout time.Duration // DefaultSessionIdleTimeout
}

// OIDC is an OpenID Connect identity provider for the web UI.
type OIDC struct {
	Name         string // shown as "Sign in with <Name>"; default: the issuer's host
	Issuer       string
	ClientID     string
	ClientSecret string // from client_secret_env or client_secret_file
	RedirectURL  string // default: public_url + /auth/oidc/callback
	Scopes       []string
	// IdentityClaim names the identity (DefaultOIDCIdentityClaim);
	// GroupsClaim lists its groups (DefaultOIDCGroupsClaim).
	IdentityClaim string
	GroupsClaim   string
}

// OIDCDefaultScopes are requested when oidc.scopes is left out.
func OIDCDefaultScopes() []string { return []string{"openid", "email", "profile"} }

// Store names the persistence backend.
type Store struct {
	Driver string // "sqlite" or "postgres"
	DSN    string
}

// Auth says where the key for hashing token secrets comes from.
type Auth struct {
	TokenKeyFile string // default: the SQLite file's path + ".key"
	TokenKeyEnv  string
	// TokenCache is how long the server may reuse a verified token before
	// reading it again (0: every call reads it, revocations act at once).
	TokenCache time.Duration
}

// Audit configures the audit log.
type Audit struct {
	// Durability is "sync" (default: an allowed call's request event is on
	// disk before the call is forwarded, in the store or, with SQLite, in
	// the audit journal beside it; see audit.LogOptions.Journal) or
	// "async" (it is committed with the next group commit, a few
	// milliseconds later; see audit.DurabilityAsync).
	Durability string
}

// Webhook is one outgoing webhook endpoint.
type Webhook struct {
	Name string
	URL  string // http:// or https://
	// Secret signs every delivery (HMAC-SHA256); it comes from secret_env
	// or secret_file and is at least MinWebhookSecret bytes.
	Secret      []byte
	Events      []string // subset of WebhookEvents(); default DefaultWebhookEvents()
	Timeout     time.Duration
	MaxAttempts int
}

// Slack is the Slack app that review messages go to.
type Slack struct {
	// Token is the bot token (xoxb-…), from token_env or token_file.
	Token string
	// SigningSecret verifies interaction requests, from
	// signing_secret_env or signing_secret_file.
	SigningSecret []byte
	// Channel is the channel's id (C…) or name.
	Channel string
	// APIURL is the Web API's base URL, ending in "/"; "" for Slack's.
	APIURL string
	// Identities maps Slack profile e-mail addresses (lower case) to
	// identities; they take precedence over identities' stored e-mails.
	Identities map[string]string
}

// Target returns the named target, or nil.
func (c *Config) Target(name string) *qgate.Target {
	for _, t := range c.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// GroupsOf returns the groups an identity belongs to, in config order.
func (c *Config) GroupsOf(identity string) []string {
	var gs []string
	for _, g := range sortedKeys(c.Groups) {
		for _, m := range c.Groups[g] {
			if m == identity {
				gs = append(gs, g)
				break
			}
		}
	}
	return gs
}
