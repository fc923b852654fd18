package httpproxy

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
)

// Reasons for refusals that auth.AuthError does not cover.
const (
	reasonMissing    = "missing"      // no token in the request
	reasonOutOfScope = "out_of_scope" // valid token, other targets or environments
)

// errMalformed is a token header that holds no single token.
var errMalformed = &auth.AuthError{Reason: auth.ReasonMalformed}

// credentials returns the qgate token of r and the canonical name of the
// header that carried it. The target's TokenHeader, when present, wins
// over Authorization. It returns "" when there is no token at all, and
// errMalformed when a token header is repeated.
func (p *Proxy) credentials(r *http.Request) (token, source string, err error) {
	if p.tokenHeader != "" {
		if vals := r.Header[p.tokenHeader]; len(vals) > 0 {
			if len(vals) > 1 {
				return "", p.tokenHeader, errMalformed
			}
			v := strings.TrimSpace(vals[0])
			if scheme, rest, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "Bearer") {
				v = strings.TrimSpace(rest)
			}
			return v, p.tokenHeader, nil
		}
	}
	vals := r.Header["Authorization"]
	if len(vals) > 1 {
		return "", "Authorization", errMalformed
	}
	if len(vals) == 0 {
		return "", "", nil
	}
	if tok, ok := bearer(vals[0]); ok {
		return tok, "Authorization", nil
	}
	return "", "", nil // another scheme: not a qgate credential
}

// bearer returns the credential of a "Bearer" Authorization value.
func bearer(v string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// authenticate verifies the call's token and its scope. It answers 401,
// 403 or 503 itself and returns false when the call may not go on.
func (c *call) authenticate() bool {
	p := c.p
	tok, source, err := p.credentials(c.r)
	if err == nil && tok == "" {
		c.unauthorized(reasonMissing, "", "a qgate token is required: send Authorization: Bearer <token>")
		return false
	}
	var t *qgate.Token
	if err == nil {
		t, err = p.Auth.Verify(c.ctx, tok)
	}
	if err != nil {
		var ae *auth.AuthError
		switch {
		case errors.As(err, &ae):
			c.unauthorized(ae.Reason, ae.TokenID, "invalid token")
		case qgate.ErrorCode(err) == qgate.EUNAUTHORIZED:
			c.unauthorized("invalid", "", "invalid token")
		default:
			c.internal(err, "the token could not be verified")
		}
		return false
	}
	c.token, c.tokenSource = t, source
	if !t.InScope(p.Target.Name, p.Target.Environment) {
		p.Metrics.AuthFailure(p.Target.Name, reasonOutOfScope)
		c.auditAuth(reasonOutOfScope, t.ID, t.Identity)
		c.problem(problem{Status: http.StatusForbidden, slug: "token-scope", Title: "Token not valid here",
			Detail: "this token may not be used with target " + strconv.Quote(p.Target.Name) + " in environment " + strconv.Quote(p.Target.Environment)}, "refused")
		return false
	}
	return true
}

// unauthorized answers 401. The client learns only whether a token was
// sent; the reason goes to the audit log and the metrics.
func (c *call) unauthorized(reason, tokenID, detail string) {
	p := c.p
	p.Metrics.AuthFailure(p.Target.Name, reason)
	c.auditAuth(reason, tokenID, "")
	challenge := `Bearer realm="qgate"`
	if reason != reasonMissing {
		challenge += `, error="invalid_token"`
	}
	c.fc.Response.Header.Set("WWW-Authenticate", challenge)
	c.problem(problem{Status: http.StatusUnauthorized, slug: "unauthorized", Title: "Unauthorized", Detail: detail}, "refused")
}
