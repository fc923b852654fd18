package httpanalyze

import (
	"net/http"
	"slices"
	"sort"
	"strings"
)

// Redacted replaces secret header values in an analysis.
const Redacted = "[redacted]"

// secretHeaders are always redacted (lower-case names).
var secretHeaders = []string{"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"}

// RedactedHeaders lists the lower-case names of the headers whose values an
// analysis never shows: credentials, cookies (their names are kept) and
// the target's qgate token header, if any.
func RedactedHeaders(tokenHeader string) []string {
	out := slices.Clone(secretHeaders)
	if t := strings.ToLower(strings.TrimSpace(tokenHeader)); t != "" && !slices.Contains(out, t) {
		out = append(out, t)
	}
	return out
}

// methodOverrideHeaders are the headers that frameworks use to run a
// request as another method.
var methodOverrideHeaders = []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}

// MethodOverrideParam is the query or form parameter that frameworks
// (Rails, Laravel, Symfony...) use to run a POST as another method.
const MethodOverrideParam = "_method"

// MethodOverrideHeaders lists the method-override headers that the proxy
// strips unless the target allows method override, and that the analysis
// flags.
func MethodOverrideHeaders() []string { return slices.Clone(methodOverrideHeaders) }

// headerMap returns the headers with lower-case names, repeated values
// joined with ", " and secrets redacted. Host (which net/http keeps out of
// r.Header) is included as "host".
//
// Names that differ only in case (possible in a hand-built http.Header,
// never in a parsed one) are merged, their values in the order of the
// sorted names; every other header maps directly.
func headerMap(h http.Header, host, tokenHeader string) map[string]string {
	token := strings.ToLower(strings.TrimSpace(tokenHeader))
	out := make(map[string]string, len(h)+1)
	for name, vals := range h {
		l := lowerName(name)
		if _, dup := out[l]; dup {
			return mergedHeaderMap(h, host, tokenHeader)
		}
		out[l] = headerValue(l, vals, token)
	}
	if _, ok := out["host"]; !ok && host != "" {
		out["host"] = host
	}
	return out
}

// mergedHeaderMap is headerMap for headers whose names fold together.
func mergedHeaderMap(h http.Header, host, tokenHeader string) map[string]string {
	token := strings.ToLower(strings.TrimSpace(tokenHeader))
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic order when two names fold together
	grouped := make(map[string][]string, len(h)+1)
	for _, name := range names {
		l := strings.ToLower(name)
		grouped[l] = append(grouped[l], h[name]...)
	}
	if _, ok := grouped["host"]; !ok && host != "" {
		grouped["host"] = []string{host}
	}
	out := make(map[string]string, len(grouped))
	for name, vals := range grouped {
		out[name] = headerValue(name, vals, token)
	}
	return out
}

// headerValue is what the analysis shows of header name (lower-case):
// cookie names only, "[redacted]" for secrets (token: the target's token
// header, lower-case), the values joined otherwise.
func headerValue(name string, vals []string, token string) string {
	switch {
	case name == "cookie":
		return redactCookies(vals)
	case slices.Contains(secretHeaders, name) || (token != "" && name == token):
		return Redacted
	case len(vals) == 1:
		return vals[0]
	}
	return strings.Join(vals, ", ")
}

// commonNames are the header names most requests carry, by canonical
// name, so that neither the proxy's request view nor the analysis's
// lower-cased map allocates for them.
var commonNames = func() map[string]headerName {
	m := map[string]headerName{}
	for _, n := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Encoding", "Content-Length", "Content-Type", "Cookie", "Expect", "Host",
		"Idempotency-Key", "If-Match", "If-None-Match", "Origin", "Qgate-Review", "Referer", "Te", "Traceparent",
		"Transfer-Encoding", "User-Agent", "X-Api-Key", "X-Forwarded-For", "X-Request-Id"} {
		m[n] = headerName{canonical: n, lower: strings.ToLower(n)}
	}
	return m
}()

type headerName struct{ canonical, lower string }

// lowerName is strings.ToLower(name), without allocating for common
// canonical names.
func lowerName(name string) string {
	if n, ok := commonNames[name]; ok {
		return n.lower
	}
	return strings.ToLower(name)
}

// CommonHeaderName returns name as a shared string, without allocating,
// when it is a common canonical header name; ok is false for any other
// name. For listeners that turn parsed header names into an http.Header.
func CommonHeaderName(name []byte) (canonical string, ok bool) {
	n, ok := commonNames[string(name)]
	return n.canonical, ok
}

// redactCookies keeps cookie names and hides their values:
// "a=[redacted]; b=[redacted]".
func redactCookies(vals []string) string {
	var parts []string
	for _, v := range vals {
		for _, c := range strings.Split(v, ";") {
			c = strings.TrimSpace(c)
			if c == "" {
				continue
			}
			name, _, ok := strings.Cut(c, "=")
			if !ok { // a nameless cookie is all value
				parts = append(parts, Redacted)
				continue
			}
			parts = append(parts, strings.TrimSpace(name)+"="+Redacted)
		}
	}
	if len(parts) == 0 {
		return Redacted
	}
	return strings.Join(parts, "; ")
}

// overrideHeaders returns the method-override headers present in h as
// "Name: value" pairs, in MethodOverrideHeaders order. It walks h once:
// three walks cost a tenth of Analyze for a GET.
func overrideHeaders(h http.Header) [][2]string {
	var found [][][2]string // by index in methodOverrideHeaders; nil when none
	for name, vals := range h {
		for i, want := range methodOverrideHeaders {
			if len(name) == len(want) && strings.EqualFold(name, want) {
				if found == nil {
					found = make([][][2]string, len(methodOverrideHeaders))
				}
				found[i] = append(found[i], [2]string{want, strings.Join(vals, ", ")})
			}
		}
	}
	var out [][2]string
	for _, f := range found {
		out = append(out, f...)
	}
	return out
}
