// Package web serves qgate's REST API under /api/v1 on the server
// listener, plus /healthz and, when metrics are configured, /metrics.
//
// Every API call except GET /api/v1/openapi.json is authenticated with the
// caller's own qgate token (Authorization: Bearer <token>), or, through
// Server's Authenticate hook (package signin), the web UI's session cookie.
// A cookie session's unsafe requests must carry its CSRF token
// (Caller.CSRFToken, from GET /api/v1/me) in the X-CSRF-Token header and
// must not come from another site; see checkCSRF. Requests and
// responses are JSON; errors are RFC 9457 problem documents
// (application/problem+json) whose "code" member is the qgate error code:
//
//	invalid       400  malformed input (also 413 too large, 415 not JSON)
//	unauthorized  401  no valid token
//	forbidden     403  valid token, not allowed (own request, not in a group,
//	                   a session's request without its CSRF token)
//	not_found     404  no such review, grant or token
//	conflict      409  already voted, already decided, already revoked
//	expired       409  the token or grant is past its time
//	internal      500  a generic message and an error_id that is in the log
//
// # Who may do what
//
// Approvers decide reviews: the review engine refuses the requester and
// anyone outside a required group. Staff are callers that are admins or in
// at least one group; they see every review, every active grant and the
// audit log. Other callers (services, say) see only the reviews they asked
// for or are named to approve, and their own grants and tokens. A grant may be revoked by an admin,
// by a member of one of its review's approver groups, by whoever approved
// it, and by the identity that holds it. Tokens are issued only by admins;
// an admin or the token's owner may revoke or rotate it.
//
// Every state change is in the audit log: votes and the decisions they
// cause are audited by the review engine, grant revocations and token
// creations, revocations and rotations by this package (never with a
// secret).
//
// The routes are listed once, in the table that Routes returns; both the
// mux and the test that checks the embedded OpenAPI document use it.
//
// Client is a small client of the same API, used by the qgate reviews
// command.
package web
