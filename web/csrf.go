package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/qgate/qgate"
)

// CSRFHeader carries a session's CSRF token (Caller.CSRFToken) on every
// unsafe request a signed-in browser makes.
const CSRFHeader = "X-CSRF-Token"

// safeMethod reports whether method cannot change state.
func safeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// checkCSRF refuses an unsafe request authenticated by a session cookie
// unless it carries the session's CSRF token in CSRFHeader and, when the
// browser says where it comes from (Sec-Fetch-Site, Origin), it comes from
// this site. Callers with a bearer token have no CSRFToken: a browser
// never attaches their credentials by itself, so there is nothing to forge.
func (s *Server) checkCSRF(r *http.Request, c *Caller) error {
	if c.CSRFToken == "" || safeMethod(r.Method) {
		return nil
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return s.csrfRefused(r, c, "cross_site", "cross-site request refused")
	}
	if o := r.Header.Get("Origin"); o != "" && !s.sameOrigin(r, o) {
		return s.csrfRefused(r, c, "origin", "request from another origin refused")
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		return s.csrfRefused(r, c, "missing", "missing CSRF token: send the csrf_token from GET /api/v1/me as the "+CSRFHeader+" header")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(c.CSRFToken)) != 1 {
		return s.csrfRefused(r, c, "mismatch", "wrong CSRF token: send the csrf_token from GET /api/v1/me as the "+CSRFHeader+" header")
	}
	return nil
}

// sameOrigin reports whether origin is the request's own host or one of
// Origins.
func (s *Server) sameOrigin(r *http.Request, origin string) bool {
	if slices.Contains(s.Origins, strings.TrimRight(origin, "/")) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
}

func (s *Server) csrfRefused(r *http.Request, c *Caller, reason, detail string) error {
	s.Metrics.AuthFailure("csrf", reason)
	s.logger().Warn("csrf check refused a request", "reason", reason, "identity", c.Identity,
		"session_id", c.SessionID, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	return &Problem{Status: http.StatusForbidden, Code: qgate.EFORBIDDEN, Detail: detail}
}
