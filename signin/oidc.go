package signin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/qgate/qgate"
)

// OIDC defaults.
const (
	DefaultIdentityClaim = "email"
	DefaultGroupsClaim   = "groups"
	// stateLifetime is how long a sign-in at the identity provider may
	// take.
	stateLifetime = 10 * time.Minute
)

// DefaultScopes are requested when OIDCConfig.Scopes is empty.
func DefaultScopes() []string { return []string{oidc.ScopeOpenID, "email", "profile"} }

// OIDCConfig describes an OpenID Connect identity provider.
type OIDCConfig struct {
	// Name is shown on the button: "Sign in with <Name>".
	Name         string
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is qgate's /auth/oidc/callback as the browser reaches
	// it, registered with the provider.
	RedirectURL string
	Scopes      []string // DefaultScopes() when empty; openid is added if missing
	// IdentityClaim is the ID token claim that names the identity
	// (DefaultIdentityClaim); GroupsClaim the one that lists its groups
	// (DefaultGroupsClaim; a missing claim means no groups).
	IdentityClaim string
	GroupsClaim   string
}

// OIDC signs people in with an OpenID Connect provider: authorization
// code flow with PKCE (S256), state and nonce. The provider's discovery
// document is fetched on first use and kept once it was read, so qgate
// starts even while the provider is unreachable.
type OIDC struct {
	Config OIDCConfig
	// Key signs the short-lived cookie that carries state, nonce and PKCE
	// verifier between the two legs. Replicas behind one URL need the
	// same key; NewOIDC makes a random one.
	Key []byte
	// HTTPClient talks to the provider (a 10 s timeout by default).
	HTTPClient *http.Client
	// Now is the clock of the state cookie (time.Now when nil). ID tokens
	// are checked against the real clock.
	Now func() time.Time

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// NewOIDC returns an OIDC with defaults filled in and a random key.
func NewOIDC(cfg OIDCConfig) *OIDC {
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes()
	} else if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.IdentityClaim == "" {
		cfg.IdentityClaim = DefaultIdentityClaim
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = DefaultGroupsClaim
	}
	if cfg.Name == "" {
		cfg.Name = "single sign-on"
	}
	key := make([]byte, 32)
	rand.Read(key)
	return &OIDC{Config: cfg, Key: key, HTTPClient: &http.Client{Timeout: 10 * time.Second}, Now: time.Now}
}

// Name is the provider's display name.
func (o *OIDC) Name() string { return o.Config.Name }

// setup discovers the provider once.
func (o *OIDC) setup(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.oauth != nil {
		return o.oauth, o.verifier, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, o.HTTPClient), 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.Config.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("oidc discovery at %s: %w", o.Config.Issuer, err)
	}
	o.oauth = &oauth2.Config{ClientID: o.Config.ClientID, ClientSecret: o.Config.ClientSecret,
		RedirectURL: o.Config.RedirectURL, Endpoint: p.Endpoint(), Scopes: o.Config.Scopes}
	o.verifier = p.Verifier(&oidc.Config{ClientID: o.Config.ClientID})
	return o.oauth, o.verifier, nil
}

func (o *OIDC) ctx(ctx context.Context) context.Context {
	return context.WithValue(oidc.ClientContext(ctx, o.HTTPClient), oauth2.HTTPClient, o.HTTPClient)
}

func (o *OIDC) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// flow is what the state cookie carries from /auth/oidc/login to the
// callback.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"r"`
	Expires  int64  `json:"e"`
}

// seal encodes f with an HMAC under Key.
func (o *OIDC) seal(f *flow) string {
	b, _ := json.Marshal(f)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(o.mac(payload))
}

// open checks and decodes a sealed flow that has not expired.
func (o *OIDC) open(v string) (*flow, error) {
	payload, sig, ok := strings.Cut(v, ".")
	if !ok {
		return nil, errors.New("malformed")
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, o.mac(payload)) {
		return nil, errors.New("bad signature")
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, errors.New("malformed")
	}
	var f flow
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, errors.New("malformed")
	}
	if o.now().Unix() > f.Expires {
		return nil, errors.New("expired")
	}
	return &f, nil
}

func (o *OIDC) mac(payload string) []byte {
	m := hmac.New(sha256.New, o.Key)
	m.Write([]byte("qgate-oidc-flow-v1:" + payload))
	return m.Sum(nil)
}

// claims maps an ID token's claims to an identity and groups.
func (o *OIDC) claims(tok *oidc.IDToken) (identity string, groups []string, reason string) {
	var m map[string]any
	if err := tok.Claims(&m); err != nil {
		return "", nil, "bad_claims"
	}
	identity, _ = m[o.Config.IdentityClaim].(string)
	identity = strings.TrimSpace(identity)
	if identity == "" {
		return "", nil, "no_identity_claim"
	}
	if o.Config.IdentityClaim == "email" {
		if v, ok := m["email_verified"].(bool); ok && !v {
			return "", nil, "email_not_verified"
		}
	}
	groups = []string{}
	switch g := m[o.Config.GroupsClaim].(type) {
	case string:
		if g != "" {
			groups = append(groups, g)
		}
	case []any:
		for _, e := range g {
			if s, ok := e.(string); ok && s != "" && !slices.Contains(groups, s) {
				groups = append(groups, s)
			}
		}
	}
	return identity, groups, ""
}

// oidcLogin serves GET /auth/oidc/login: it sends the browser to the
// provider with a fresh state, nonce and PKCE challenge, kept in a signed
// cookie for the callback.
func (s *Service) oidcLogin(w http.ResponseWriter, r *http.Request) {
	if s.OIDC == nil {
		http.NotFound(w, r)
		return
	}
	oc, _, err := s.OIDC.setup(r.Context())
	if err != nil {
		s.logger().Error("oidc provider unavailable", "err", err)
		s.render(w, r, http.StatusBadGateway, &loginView{Next: "/",
			Error: fmt.Sprintf("%s cannot be reached right now; try again later.", s.OIDC.Name())})
		return
	}
	f := &flow{State: newSecret(), Nonce: newSecret(), Verifier: oauth2.GenerateVerifier(),
		Next: SafeNext(r.URL.Query().Get("next")), Expires: s.OIDC.now().Add(stateLifetime).Unix()}
	http.SetCookie(w, s.cookie(OIDCCookie, s.OIDC.seal(f), "/auth/oidc/", int(stateLifetime/time.Second)))
	http.Redirect(w, r, oc.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// oidcCallback serves GET /auth/oidc/callback: it checks the state against
// the signed cookie, exchanges the code (with the PKCE verifier), verifies
// the ID token and its nonce, maps the claims and opens a session.
func (s *Service) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if s.OIDC == nil {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	http.SetCookie(w, s.cookie(OIDCCookie, "", "/auth/oidc/", -1)) // one use, whatever happens
	refuse := func(status int, reason, message string, identity string) {
		s.Metrics.AuthFailure("oidc", reason)
		s.logger().Info("oidc sign-in refused", "reason", reason, "identity", identity, "remote", s.sourceIP(r))
		s.audit(ctx, &qgate.AuditEvent{Type: qgate.AuditAuth, Action: "failed", Identity: identity,
			Data: mustJSON(map[string]any{"method": qgate.SessionOIDC, "reason": reason, "source_ip": s.sourceIP(r)})})
		s.render(w, r, status, &loginView{Next: "/", Error: message})
	}
	ck, err := r.Cookie(OIDCCookie)
	if err != nil {
		refuse(http.StatusBadRequest, "no_state", "The sign-in took too long or was started elsewhere; please start again.", "")
		return
	}
	f, err := s.OIDC.open(ck.Value)
	if err != nil {
		refuse(http.StatusBadRequest, "bad_state_cookie", "The sign-in took too long or was started elsewhere; please start again.", "")
		return
	}
	if !equal(q.Get("state"), f.State) {
		refuse(http.StatusForbidden, "state_mismatch", "The sign-in could not be verified (state mismatch); please start again.", "")
		return
	}
	if e := q.Get("error"); e != "" {
		refuse(http.StatusForbidden, "provider_error", fmt.Sprintf("%s refused the sign-in (%s).", s.OIDC.Name(), truncate(e, 64)), "")
		return
	}
	oc, verifier, err := s.OIDC.setup(ctx)
	if err != nil {
		s.logger().Error("oidc provider unavailable", "err", err)
		s.render(w, r, http.StatusBadGateway, &loginView{Next: "/", Error: s.OIDC.Name() + " cannot be reached right now; try again later."})
		return
	}
	octx := s.OIDC.ctx(ctx)
	tok, err := oc.Exchange(octx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		s.logger().Warn("oidc code exchange failed", "err", err)
		refuse(http.StatusForbidden, "exchange_failed", "The sign-in could not be completed; please start again.", "")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		refuse(http.StatusForbidden, "no_id_token", "The identity provider sent no ID token.", "")
		return
	}
	idt, err := verifier.Verify(octx, raw)
	if err != nil {
		s.logger().Warn("oidc id token refused", "err", err)
		refuse(http.StatusForbidden, "bad_id_token", "The identity provider's answer could not be verified.", "")
		return
	}
	if !equal(idt.Nonce, f.Nonce) {
		refuse(http.StatusForbidden, "nonce_mismatch", "The sign-in could not be verified (nonce mismatch); please start again.", "")
		return
	}
	identity, groups, reason := s.OIDC.claims(idt)
	if reason != "" {
		refuse(http.StatusForbidden, reason, "Your identity provider account cannot sign in to qgate ("+strings.ReplaceAll(reason, "_", " ")+").", "")
		return
	}
	if u, err := s.Users.Store.User(ctx, identity); err == nil && u.Disabled() {
		refuse(http.StatusForbidden, ReasonDisabled, "This account is disabled.", identity)
		return
	}
	s.signedIn(w, r, identity, qgate.SessionOIDC, groups, f.Next)
}
