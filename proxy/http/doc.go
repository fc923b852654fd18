// Package httpproxy is qgate's HTTP listener: one reverse proxy per HTTP
// target, in which every call is authenticated, analysed, decided, and
// then forwarded, refused, or held until a person approves it.
//
// The package lives in proxy/http but is named httpproxy, because its
// callers always import net/http as well. Import it as
//
//	import httpproxy "github.com/qgate/qgate/proxy/http"
//
// # One call
//
//  1. Token. The qgate token comes from "Authorization: Bearer <token>",
//     or from the target's TokenHeader when one is configured and the
//     request carries it (the raw token, or "Bearer <token>"). A missing,
//     malformed, unknown, wrong, expired or revoked token gets the same
//     401 with `WWW-Authenticate: Bearer realm="qgate"` (plus
//     `error="invalid_token"` when a token was sent); the real reason goes
//     to the audit log (an "auth" event, action "failed") and to the
//     auth-failure metric, never to the client. A token scoped to other
//     targets or environments gets 403. When the token store is down the
//     call gets 503: outages are not reported as bad credentials.
//  2. Refusals before analysis. Upgrade requests (WebSocket, h2c) and
//     CONNECT get 501: qgate cannot inspect what would flow over them. A
//     malformed Qgate-Review header gets 400.
//  3. Body. It is read once, up to the target's MaxBody (+1 byte to tell
//     "exactly MaxBody" from "more"); a declared Content-Length over the
//     limit is refused without reading the rest. fasthttp reads ahead the
//     first 8 KiB at most (no more than the declared length or the limit)
//     with the head; the handler reads the remainder after authentication.
//     A larger body gets 413 and an audit event (action "deny"); nothing
//     is forwarded. The bytes read are what the analysis sees and, byte
//     for byte, what is forwarded. The request is parsed by fasthttp,
//     which takes "chunked" (in any case) or one Content-Length as framing
//     (both together: chunked, and the connection is closed after the
//     call), and ignores "Transfer-Encoding: identity"; any other
//     Transfer-Encoding, conflicting Content-Lengths, or a request line
//     or head it cannot parse get 400 before the token is looked at (431
//     for a head over 32 KiB). qgate re-frames what it forwards (below),
//     so the client's framing never reaches the upstream.
//  4. Decision. httpanalyze.Analyze and the gate decide; exactly one
//     "request" audit event records the outcome (method, normalised path,
//     raw query, matched policies, risk level, finding codes, grant or
//     review id, message: never header values or the body).
//  5. allow: the request event is made durable first (if the audit log
//     fails, 503 and nothing is forwarded), then the call is forwarded.
//     deny: 403 application/problem+json whose detail is the policy's
//     message. review: a review is created and the call is held (below).
//
// # Held calls
//
// A held call waits on the client's connection up to the target's Hold
// (DefaultHold when unset). Approved: the review is marked executed and
// the call is forwarded; the client gets the upstream's response.
// Rejected, expired or cancelled: 403 with the reason and review_id.
// Still pending when the hold ends: 202 Accepted with a JSON body
// {"status":"pending","review_id","review_url","retry"} and the headers
// Qgate-Review and Location (the review's page). If the client disconnects
// while held, the review is cancelled ("client disconnected") unless it
// was decided meanwhile.
//
// The client may then repeat the identical request with
// "Qgate-Review: <id>". The retry is authenticated, analysed, decided and
// audited like any call, and then:
//
//   - a deny stays a deny, review header or not;
//   - a review decision is satisfied by the approved review when the
//     review belongs to the same token and its payload hash (method,
//     normalised path, raw query, SHA-256 of the body, token id, Content-Type
//     and Content-Encoding) matches:
//     it is marked executed, exactly once, and the call forwarded (audit
//     action "allow" with the review id). A second retry gets 409. A
//     review that does not exist, belongs to another token or approved a
//     different request gets the same 403, so nothing leaks about other
//     people's reviews. A review still pending is waited on again, up to
//     the hold, then 202 again; disconnecting from a retry does not
//     cancel the review (after a 202 the review no longer belongs to one
//     connection). A rejected, expired or cancelled review gets 403 with
//     its reason;
//   - an allow (a grant created by the approval, or a policy change) is
//     forwarded as any allowed call; the review is marked executed if it
//     matches, so its page shows that the approved request ran.
//
// # Forwarding
//
// The upstream request line is the target's base URL path joined with
// HTTPAnalysis.Path, exactly the normalised path that policy saw, and the
// raw query as the client sent it. The body is the bytes read, with an
// exact Content-Length: qgate re-frames every request, so the client's
// framing (Content-Length, Transfer-Encoding) never reaches the upstream
// and request smuggling through qgate has nothing to ride on.
//
// Request headers are the client's, minus:
//
//   - hop-by-hop headers (Connection and the headers it names, Keep-Alive,
//     Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE except
//     "TE: trailers", Trailer, Transfer-Encoding, Upgrade) and Expect
//     (qgate has already read the body);
//   - the qgate token: Authorization when it carried the token, the
//     target's TokenHeader always, and an Authorization whose bearer
//     credential looks like a qgate token (auth.Prefix) in any case;
//   - every Qgate-* header (qgate's own namespace, e.g. Qgate-Review);
//   - method-override headers (httpanalyze.MethodOverrideHeaders), unless
//     the target allows method override;
//   - the client's Forwarded, X-Forwarded-* and X-Real-Ip claims.
//
// Then qgate sets X-Forwarded-For (the peer address of the connection;
// X-Forwarded-For from the client is not trusted), X-Forwarded-Host,
// X-Forwarded-Proto and Qgate-Request-Id, and finally the target's
// configured upstream headers, which override anything the client sent.
// When the token came from TokenHeader, the client's own Authorization is
// therefore forwarded unless the configuration injects Authorization.
//
// The listener is a fasthttp.Server and the upstream a
// fasthttp.HostClient: HTTP/1.1 on pooled keep-alive connections (TLS for
// an https upstream), the request target written exactly as built, no
// header of its own. net/http's server and Transport cost several times
// the rest of a forwarded call (a goroutine per connection reading ahead,
// header maps, two goroutines per upstream connection); fasthttp has no
// per-request context, so a held call watches its client's socket itself
// (watchClient). A pooled connection the upstream has closed is noticed
// before a request is written to it (staleCheckConn), and the call goes
// to another connection; a call that fails after it was sent is sent
// again only if it is replayable (idempotent method or an
// Idempotency-Key header) and that was its first try. 1xx answers are
// dropped.
//
// An approved review is sent on a connection of its own with
// "Connection: close", by a client that never retries, so an approval
// runs upstream at most once even if the connection fails.
//
// The response is streamed: headers as soon as the upstream sends them,
// and for responses of unknown length (chunked, server-sent events) a
// flush after every read, so a client sees each chunk when the upstream
// flushes it. Trailers are passed on. Compression is never added or
// removed. An upstream that cannot be reached gets 502; a response that
// breaks off midway aborts the client's connection, so a truncated body
// is never mistaken for a whole one. An upstream that answers 101
// (which qgate never asks for) gets 502 too. After the response an "execution"
// audit event records status, duration, bytes and review or grant id; it
// is appended in the background (Close waits for those appends), and
// shares the commit of the next call's request event (see
// audit.Log.AppendAsync).
//
// # Errors
//
// Every refusal qgate makes itself is an RFC 9457 application/problem+json
// document with type https://qgate.dev/problems/<slug>, title, status,
// detail, and the extension members request_id, review_id and review_url
// where they apply. Internal errors say only that something failed, with
// an error_id that is logged with the real error. Every response carries
// Qgate-Request-Id.
//
// # Logs
//
// One Debug line per call (every call is in the audit log already, and a
// line per call costs more than the policy decision): target, method,
// normalised path, decision, status, duration, request id, identity (and
// review id or error id).
// Never tokens, Authorization or Cookie values, query strings or bodies.
package httpproxy
