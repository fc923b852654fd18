// Package signin signs people in to the web UI and keeps their sessions.
//
// Local users (Users) have argon2id passwords in PHC format; OpenID Connect
// (OIDC) signs people in through an identity provider with the code flow,
// PKCE, state and nonce. Either way a Service opens a session: a 256-bit
// secret in the HttpOnly, SameSite=Lax cookie qgate_session, of which the
// store keeps only a hash. Service.Authenticate, installed as
// web.Server.Authenticate, accepts that cookie and falls back to a bearer
// token; it gives the caller the session's CSRF token, which web.Server
// then requires on every unsafe request. Service.Handler serves /login,
// /logout and the OIDC routes.
//
// Nothing here logs or audits a password, a cookie or a CSRF token.
package signin
