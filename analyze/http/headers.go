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
func headerMap(h http.Header, host, tokenHeader string) map[string]string {
	redact := RedactedHeaders(tokenHeader)
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
		switch {
		case name == "cookie":
			out[name] = redactCookies(vals)
		case slices.Contains(redact, name):
			out[name] = Redacted
		default:
			out[name] = strings.Join(vals, ", ")
		}
	}
	return out
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
// "Name: value" pairs, in MethodOverrideHeaders order.
func overrideHeaders(h http.Header) [][2]string {
	var out [][2]string
	for _, want := range methodOverrideHeaders {
		for name, vals := range h {
			if strings.EqualFold(name, want) {
				out = append(out, [2]string{want, strings.Join(vals, ", ")})
			}
		}
	}
	return out
}
