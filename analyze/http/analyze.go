package httpanalyze

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/qgate/qgate"
)

// DefaultMaxBody is Options.MaxBody when it is not set.
const DefaultMaxBody = 1 << 20

// Finding codes.
const (
	CodeAmbiguousPath          = "http.ambiguous_path"            // critical; the request is Ambiguous
	CodeBadQuery               = "http.bad_query"                 // critical; the request is Ambiguous
	CodeMethodOverride         = "http.method_override"           // low (stripped) or medium (forwarded)
	CodeMethodCase             = "http.method_case"               // high
	CodeBadJSON                = "http.bad_json"                  // medium
	CodeDuplicateJSONKey       = "http.json_duplicate_key"        // high
	CodeJSONWithoutContentType = "http.json_without_content_type" // low
	CodeBodyTooLarge           = "http.body_too_large"            // critical
	CodeEncodedBody            = "http.encoded_body"              // high
	CodeAmbiguousContentType   = "http.ambiguous_content_type"    // high
	CodeWrite                  = "http.write"                     // low: POST, PUT, PATCH outside GraphQL
	CodeDelete                 = "http.delete"                    // medium: DELETE
	CodeUnusualMethod          = "http.unusual_method"            // high: not a standard method
)

// Options configures Analyze for one target.
type Options struct {
	// MaxBody is the largest body that is analysed (DefaultMaxBody when
	// <= 0).
	MaxBody int64
	// GraphQLPath is the target's GraphQL endpoint ("" for none).
	GraphQLPath string
	// AllowMethodOverride is set when the target keeps method-override
	// headers (the proxy strips them otherwise).
	AllowMethodOverride bool
	// TokenHeader is the target's extra qgate token header, redacted like
	// Authorization ("" for none).
	TokenHeader string
}

// Analyze inspects r (method, request target, headers) and body, which the
// caller has already read: at most MaxBody bytes, with truncated set when
// the body was longer. It never fails: problems are findings, and a
// request whose path or query has no single meaning is marked Ambiguous.
//
// Finding offsets: path findings are byte offsets into the raw path of
// the request target; body findings are offsets into body; GraphQL
// findings are offsets into the operation's query string (the body for
// application/graphql); 0/0 otherwise.
func Analyze(r *http.Request, body []byte, truncated bool, opts Options) *qgate.HTTPAnalysis {
	maxBody := opts.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	a := &qgate.HTTPAnalysis{
		Method:   r.Method,
		BodySize: len(body),
		GraphQL:  qgate.GraphQLAnalysis{Operations: []qgate.GraphQLOperation{}},
		Findings: []qgate.Finding{},
	}
	rawPath, rawQuery := requestTarget(r)
	a.RawQuery = rawQuery

	p, err := NormalizePath(rawPath)
	pathOK := err == nil
	if pathOK {
		a.Path = p
	} else {
		a.Path = rawPath
		a.Ambiguous = true
		f := qgate.Finding{Code: CodeAmbiguousPath, Severity: qgate.SeverityCritical, Message: err.Error()}
		if pe, ok := err.(*PathError); ok {
			f.Start, f.End = pe.Start, pe.End
		}
		a.Findings = append(a.Findings, f)
	}

	if m := strings.ToUpper(r.Method); m != r.Method {
		a.Findings = append(a.Findings, qgate.Finding{
			Code: CodeMethodCase, Severity: qgate.SeverityHigh,
			Message: fmt.Sprintf("method %q is not upper-case; some servers run it as %s", r.Method, m),
		})
	}

	if q, err := url.ParseQuery(rawQuery); err != nil {
		a.Query = q
		a.Ambiguous = true
		a.Findings = append(a.Findings, qgate.Finding{
			Code: CodeBadQuery, Severity: qgate.SeverityCritical,
			Message: "query string has no single meaning: " + err.Error(),
		})
	} else {
		a.Query = q
	}

	a.Headers = headerMap(r.Header, r.Host, opts.TokenHeader)
	methodOverrideFindings(a, r.Header, opts.AllowMethodOverride)

	b := analyzeBody(a, r.Header, body, truncated, maxBody)

	if pathOK && opts.GraphQLPath != "" && IsGraphQLPath(a.Path, opts.GraphQLPath) {
		analyzeGraphQL(a, r.Method, &b, body)
	}
	methodFindings(a)
	return a
}

// methodFindings flags what the method itself says about a call. GraphQL
// requests are judged by their operations instead.
func methodFindings(a *qgate.HTTPAnalysis) {
	switch strings.ToUpper(a.Method) {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		if !a.GraphQL.Present {
			a.Findings = append(a.Findings, qgate.Finding{Code: CodeWrite, Severity: qgate.SeverityLow,
				Message: a.Method + " usually changes data"})
		}
	case http.MethodDelete:
		a.Findings = append(a.Findings, qgate.Finding{Code: CodeDelete, Severity: qgate.SeverityMedium,
			Message: "DELETE removes data"})
	default:
		a.Findings = append(a.Findings, qgate.Finding{Code: CodeUnusualMethod, Severity: qgate.SeverityHigh,
			Message: fmt.Sprintf("method %q is not a standard HTTP method", a.Method)})
	}
}

// requestTarget splits the request target as the client sent it into its
// raw path and raw query. net/http's URL.Path is already decoded, so the
// original RequestURI is used; absolute-form targets lose their scheme
// and authority. Requests built by hand (no RequestURI) fall back to
// URL.EscapedPath.
func requestTarget(r *http.Request) (path, query string) {
	uri := r.RequestURI
	if uri == "" {
		if r.URL == nil {
			return "/", ""
		}
		return r.URL.EscapedPath(), r.URL.RawQuery
	}
	if uri != "*" && !strings.HasPrefix(uri, "/") {
		if i := strings.Index(uri, "://"); i > 0 {
			rest := uri[i+3:]
			j := strings.IndexAny(rest, "/?")
			switch {
			case j < 0:
				uri = "/"
			case rest[j] == '?':
				uri = "/" + rest[j:]
			default:
				uri = rest[j:]
			}
		}
	}
	path, query, _ = strings.Cut(uri, "?")
	return path, query
}

// methodOverrideFindings flags method-override headers and the _method
// query parameter. Method never changes.
func methodOverrideFindings(a *qgate.HTTPAnalysis, h http.Header, allow bool) {
	for _, hv := range overrideHeaders(h) {
		f := qgate.Finding{Code: CodeMethodOverride, Severity: qgate.SeverityLow,
			Message: fmt.Sprintf("method-override header %s: %s is stripped; the method stays %s", hv[0], hv[1], a.Method)}
		if allow {
			f.Severity = qgate.SeverityMedium
			f.Message = fmt.Sprintf("method-override header %s: %s is forwarded; the upstream may run this %s as %s", hv[0], hv[1], a.Method, hv[1])
		}
		a.Findings = append(a.Findings, f)
	}
	if v, ok := a.Query[MethodOverrideParam]; ok {
		a.Findings = append(a.Findings, qgate.Finding{Code: CodeMethodOverride, Severity: qgate.SeverityMedium,
			Message: fmt.Sprintf("query parameter %s=%s is forwarded; some frameworks run this %s as %s",
				MethodOverrideParam, strings.Join(v, ","), a.Method, strings.Join(v, ","))})
	}
}

// bodyInfo is what analyzeBody learned, for the GraphQL analysis.
type bodyInfo struct {
	mediaType string
	// refused says why the body cannot be analysed ("" when it can).
	refused string
	json    any
	jsonErr *jsonError
	dupKey  string
}

// analyzeBody sets Body and adds body findings.
func analyzeBody(a *qgate.HTTPAnalysis, h http.Header, body []byte, truncated bool, maxBody int64) (b bodyInfo) {
	cts := h.Values("Content-Type")
	if len(cts) > 0 {
		b.mediaType = mediaType(cts[0])
	}
	empty := len(bytes.TrimSpace(body)) == 0 && !truncated
	if empty {
		return b
	}
	switch {
	case truncated || int64(len(body)) > maxBody:
		b.refused = "body too large"
		a.Findings = append(a.Findings, qgate.Finding{Code: CodeBodyTooLarge, Severity: qgate.SeverityCritical,
			Message: sizeMessage(len(body), maxBody, truncated)})
		return b
	case len(cts) > 1:
		b.refused = "several Content-Type headers"
		a.Findings = append(a.Findings, qgate.Finding{Code: CodeAmbiguousContentType, Severity: qgate.SeverityHigh,
			Message: fmt.Sprintf("%d Content-Type headers; servers disagree about which applies; the body was not analysed", len(cts))})
		return b
	}
	if enc := strings.TrimSpace(strings.Join(h.Values("Content-Encoding"), ",")); enc != "" && !strings.EqualFold(enc, "identity") {
		b.refused = "Content-Encoding " + enc
		a.Findings = append(a.Findings, qgate.Finding{Code: CodeEncodedBody, Severity: qgate.SeverityHigh,
			Message: fmt.Sprintf("body has Content-Encoding %q; it was not analysed", enc)})
		return b
	}

	switch {
	case isJSONType(b.mediaType):
		b.json, b.jsonErr = decodeJSON(body)
		if b.jsonErr != nil {
			a.Findings = append(a.Findings, qgate.Finding{Code: CodeBadJSON, Severity: qgate.SeverityMedium,
				Message: "invalid JSON body: " + b.jsonErr.msg,
				Start:   max(b.jsonErr.offset-1, 0), End: b.jsonErr.offset})
			return b
		}
		a.Body = b.json
		jsonDuplicateFinding(a, &b, body)
	case b.mediaType == "application/x-www-form-urlencoded":
		if form, err := url.ParseQuery(string(body)); err == nil {
			if v, ok := form[MethodOverrideParam]; ok {
				a.Findings = append(a.Findings, qgate.Finding{Code: CodeMethodOverride, Severity: qgate.SeverityMedium,
					Message: fmt.Sprintf("form field %s=%s is forwarded; some frameworks run this %s as %s",
						MethodOverrideParam, strings.Join(v, ","), a.Method, strings.Join(v, ","))})
			}
		}
	case strings.HasPrefix(b.mediaType, "multipart/"):
		if i := bytes.Index(body, []byte(`name="`+MethodOverrideParam+`"`)); i >= 0 {
			a.Findings = append(a.Findings, qgate.Finding{Code: CodeMethodOverride, Severity: qgate.SeverityMedium,
				Message: fmt.Sprintf("multipart field %s is forwarded; some frameworks run this %s as another method", MethodOverrideParam, a.Method),
				Start:   i, End: i + len(MethodOverrideParam) + 7})
		}
	case looksLikeJSON(body):
		// Some upstreams parse JSON whatever the Content-Type says: let
		// policies see it.
		if v, err := decodeJSON(body); err == nil {
			a.Body = v
			b.json = v
			a.Findings = append(a.Findings, qgate.Finding{Code: CodeJSONWithoutContentType, Severity: qgate.SeverityLow,
				Message: fmt.Sprintf("JSON body sent with Content-Type %q", strings.Join(cts, ", "))})
			jsonDuplicateFinding(a, &b, body)
		}
	}
	return b
}

func jsonDuplicateFinding(a *qgate.HTTPAnalysis, b *bodyInfo, body []byte) {
	if key, off, ok := duplicateKey(body); ok {
		b.dupKey = key
		a.Findings = append(a.Findings, qgate.Finding{Code: CodeDuplicateJSONKey, Severity: qgate.SeverityHigh,
			Message: fmt.Sprintf("JSON key %q appears twice in one object; parsers disagree about which value wins", key),
			Start:   off, End: off + len(key) + 2})
	}
}
