package signin

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/qgate/qgate"
)

//go:embed templates/login.html
var templates embed.FS

var loginPage = template.Must(template.ParseFS(templates, "templates/login.html"))

// loginView is what the login page shows.
type loginView struct {
	Error, Notice string
	CSRF          string
	Next          string
	Username      string
	OIDCName      string
	OIDCURL       string
}

// maxFormSize bounds the login and logout forms.
const maxFormSize = 16 << 10

// Handler serves GET and POST /login, POST /logout, and with OIDC
// GET /auth/oidc/login and GET /auth/oidc/callback.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /auth/oidc/login", s.oidcLogin)
	mux.HandleFunc("GET /auth/oidc/callback", s.oidcCallback)
	return headers(mux)
}

// Routes are the paths Handler serves, for composing it with other
// handlers.
func Routes() []string {
	return []string{"/login", "/logout", "/auth/oidc/login", "/auth/oidc/callback"}
}

// headers sets what every sign-in response needs: no caching, no framing
// (clickjacking), no sniffing, no referrer leaking the next parameter.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Cache-Control", "no-store")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// loginForm serves GET /login: the form, with a fresh double-submit CSRF
// cookie unless the browser already has one.
func (s *Service) loginForm(w http.ResponseWriter, r *http.Request) {
	v := &loginView{Next: SafeNext(r.URL.Query().Get("next"))}
	if r.URL.Query().Get("signed_out") == "1" {
		v.Notice = "You are signed out."
	}
	s.render(w, r, http.StatusOK, v)
}

// render writes the login page with status, filling in the CSRF token and
// the OIDC link.
func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, v *loginView) {
	v.CSRF = s.loginCSRF(w, r)
	if s.OIDC != nil {
		v.OIDCName = s.OIDC.Name()
		v.OIDCURL = "/auth/oidc/login"
		if v.Next != "/" {
			v.OIDCURL += "?next=" + url.QueryEscape(v.Next)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := loginPage.Execute(w, v); err != nil {
		s.logger().Warn("render login page", "err", err)
	}
}

// loginCSRF returns the browser's login CSRF token, setting a new cookie
// if it has none.
func (s *Service) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(LoginCSRFCookie); err == nil && validSecret(ck.Value) {
		return ck.Value
	}
	tok := newSecret()
	http.SetCookie(w, s.cookie(LoginCSRFCookie, tok, "/", 0))
	return tok
}

// login serves POST /login.
func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormSize)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, http.StatusBadRequest, &loginView{Error: "The form could not be read; try again.", Next: "/"})
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	v := &loginView{Next: SafeNext(r.PostForm.Get("next")), Username: truncate(name, 128)}
	ip := s.sourceIP(r)
	ck, _ := r.Cookie(LoginCSRFCookie)
	if ck == nil || !equal(r.PostForm.Get("csrf"), ck.Value) || !s.sameSite(r) {
		s.Metrics.AuthFailure("login", "csrf")
		v.Error = "The sign-in form expired or came from another site; please try again."
		s.render(w, r, http.StatusForbidden, v)
		return
	}
	if name == "" || password == "" {
		v.Error = "Enter your user name and password."
		s.render(w, r, http.StatusBadRequest, v)
		return
	}
	now := s.now()
	userKey := strings.ToLower(truncate(name, 128))
	if wait := max(s.UserThrottle.Wait(userKey, now), s.IPThrottle.Wait(ip, now)); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		s.Metrics.AuthFailure("login", "throttled")
		s.audit(ctx, &qgate.AuditEvent{Type: qgate.AuditAuth, Action: "throttled",
			Data: mustJSON(map[string]any{"method": qgate.SessionLocal, "username": userKey, "source_ip": ip, "retry_after": secs})})
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		v.Error = fmt.Sprintf("Too many failed attempts. Try again in %d seconds.", secs)
		s.render(w, r, http.StatusTooManyRequests, v)
		return
	}
	user, err := s.Users.Authenticate(ctx, name, password)
	if reason, ok := IsLoginError(err); ok {
		s.UserThrottle.Fail(userKey, now)
		s.IPThrottle.Fail(ip, now)
		s.Metrics.AuthFailure("login", reason)
		s.logger().Info("sign-in refused", "reason", reason, "username", userKey, "remote", ip)
		s.audit(ctx, &qgate.AuditEvent{Type: qgate.AuditAuth, Action: "failed",
			Data: mustJSON(map[string]any{"method": qgate.SessionLocal, "reason": reason, "username": userKey, "source_ip": ip})})
		v.Error = "Wrong user name or password."
		s.render(w, r, http.StatusUnauthorized, v)
		return
	} else if err != nil {
		s.internalError(w, r, "password sign-in", err)
		return
	}
	s.UserThrottle.Succeed(userKey)
	s.signedIn(w, r, user.Name, qgate.SessionLocal, nil, v.Next)
}

// signedIn ends the browser's previous session, if any, opens a new one
// (a fresh secret: no session fixation), audits it and sends the browser
// to next.
func (s *Service) signedIn(w http.ResponseWriter, r *http.Request, identity, method string, groups []string, next string) {
	ctx := r.Context()
	if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
		if old, err := s.session(ctx, ck.Value); err == nil {
			s.Sessions.RevokeSession(ctx, old.ID, s.now())
		}
	}
	x, err := s.open(ctx, w, r, identity, method, groups)
	if err != nil {
		s.internalError(w, r, "open session", err)
		return
	}
	data := map[string]any{"method": method, "session_id": x.ID, "source_ip": x.SourceIP, "user_agent": x.UserAgent,
		"expires_at": x.ExpiresAt}
	if groups != nil {
		data["idp_groups"] = groups
	}
	s.audit(ctx, &qgate.AuditEvent{Type: qgate.AuditSession, Action: "signed_in", Identity: identity, Data: mustJSON(data)})
	http.SetCookie(w, s.cookie(LoginCSRFCookie, "", "/", -1))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout serves POST /logout: with the session's CSRF token as the csrf
// field, it revokes the session; either way it clears the cookie and
// sends the browser to /login.
func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormSize)
	_ = r.ParseForm()
	ck, err := r.Cookie(SessionCookie)
	if err == nil && ck.Value != "" {
		if x, err := s.session(ctx, ck.Value); err == nil {
			if !equal(r.PostForm.Get("csrf"), csrfToken(ck.Value)) || !s.sameSite(r) {
				s.Metrics.AuthFailure("logout", "csrf")
				http.Error(w, "sign-out refused: missing or wrong CSRF token", http.StatusForbidden)
				return
			}
			if err := s.Sessions.RevokeSession(ctx, x.ID, s.now()); err != nil {
				s.internalError(w, r, "sign out", err)
				return
			}
			s.audit(ctx, &qgate.AuditEvent{Type: qgate.AuditSession, Action: "signed_out", Identity: x.Identity,
				Data: mustJSON(map[string]any{"method": x.Method, "session_id": x.ID, "source_ip": s.sourceIP(r)})})
		}
	}
	http.SetCookie(w, s.cookie(SessionCookie, "", "/", -1))
	http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
}

// sameSite checks the browser's own account of where a form post comes
// from, when it gives one: defence in depth beside the CSRF tokens.
func (s *Service) sameSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return false
		}
	}
	return true
}

// internalError logs err with an id and shows a page that names it.
func (s *Service) internalError(w http.ResponseWriter, r *http.Request, op string, err error) {
	id := newSessionID()[:16]
	s.logger().Error("sign-in failed", "op", op, "error_id", id, "path", r.URL.Path, "err", err)
	http.Error(w, fmt.Sprintf("Sign-in is unavailable right now (error id %s).", id), http.StatusInternalServerError)
}

// SafeNext returns next if it is a path on this site, "/" otherwise: it
// must start with one "/" (not "//" or "/\", which browsers read as
// another host), contain no backslash or control character, and name no
// scheme or host.
func SafeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 2048 || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\") || strings.IndexFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// validSecret reports whether v looks like a value newSecret made.
func validSecret(v string) bool {
	return len(v) == 43 && strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
