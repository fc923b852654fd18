// Package httpanalyze analyses HTTP requests for the gate: method, the
// normalised path, query, headers, JSON body and, on a target's GraphQL
// endpoint, the GraphQL operations.
//
// The package lives in analyze/http but is named httpanalyze, because its
// callers always import net/http as well (Analyze takes an *http.Request)
// and a second package named http would force an alias on every one of
// them. Import it as
//
//	import httpanalyze "github.com/qgate/qgate/analyze/http"
//
// Path. NormalizePath defines the one canonical form of a path that
// policies see and the proxy forwards: unreserved characters decoded, other
// percent-encodings kept with upper-case hex, repeated slashes collapsed,
// dot segments removed. Paths with no single meaning (encoded "/" or "\",
// NUL, a dot segment that only appears after decoding, double encoding,
// invalid encodings or UTF-8, path parameters on a dot segment,
// "OPTIONS *") make
// the analysis Ambiguous with a critical http.ambiguous_path finding, and
// the gate denies them. The raw path is read from r.RequestURI, since
// net/http's URL.Path is already decoded.
//
// Method. HTTPAnalysis.Method is r.Method as sent. Method-override headers
// (MethodOverrideHeaders) never change it; they are flagged
// http.method_override, low when the proxy strips them (the default),
// medium when the target keeps them. A _method query parameter or form
// field, which the proxy forwards, is flagged medium. A method that is not
// upper-case is flagged http.method_case (high): some servers upper-case
// it.
//
// Query. url.ParseQuery semantics; a query that does not parse (bad
// escapes, ";" separators, which other servers split on) is Ambiguous with
// a critical http.bad_query finding.
//
// Headers. Lower-case names, repeated values joined with ", ", plus
// "host". Secrets are never copied into the analysis, which approvers see
// and the audit log keeps: Authorization, Proxy-Authorization, X-Api-Key,
// X-Auth-Token and the target's token header become "[redacted]", Cookie
// keeps only cookie names ("a=[redacted]; b=[redacted]").
//
// Body. BodySize is len(body). A body over MaxBody (or truncated by the
// caller) is not analysed: http.body_too_large, critical. Bodies with a
// Content-Encoding, or several Content-Type headers, are not analysed
// either (high). JSON bodies (application/json, text/json, +json) are
// decoded with encoding/json and UseNumber; invalid JSON (including
// invalid UTF-8 and trailing data) is http.bad_json (medium) with Body
// nil; a key repeated in one object is http.json_duplicate_key (high),
// since parsers disagree on which value wins (Body keeps the last, as
// encoding/json does). A body that parses as a JSON object or array under
// another Content-Type is decoded too, flagged low, because some upstreams
// ignore the Content-Type.
//
// GraphQL. On the GraphQL endpoint (IsGraphQLPath: case, a trailing slash
// and ";params" are ignored, so variants that reach the same handler are
// not missed) GraphQL.Present is set and the payload is read from:
//
//   - a non-empty body: application/json (or +json) holding an object or
//     a batch array; application/graphql (the body is the query);
//     application/x-www-form-urlencoded fields. Any other or missing
//     Content-Type, a body that was not analysed, invalid JSON and
//     duplicate JSON keys are refused;
//   - otherwise the URL parameters query, operationName, variables,
//     extensions (each at most once);
//   - never both: servers differ on which wins (express-graphql prefers
//     the URL even for POST), so that is refused;
//   - neither: GET, HEAD and OPTIONS execute nothing (a GraphiQL page, a
//     CORS preflight): read-only with no operation; other methods are
//     refused ("missing query").
//
// Refused means GraphQL.ParseError is set, ReadOnly is false and a
// critical graphql.parse_error finding is added. Operations are analysed
// by package analyze/graphql, which adds graphql.mutation and
// graphql.subscription (medium) and, for GET or HEAD, graphql.mutation_over_get
// (high).
//
// Offsets: path findings index the raw path of the request target, body
// findings index the body, GraphQL findings index the operation's query
// string (which is the body for application/graphql), others are 0/0.
package httpanalyze
