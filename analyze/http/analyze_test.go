package httpanalyze

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/qgate/qgate"
)

// findingCodes lists the findings other than those the method alone
// causes (TestAnalyze_MethodFindings covers those).
func findingCodes(a *qgate.HTTPAnalysis) []string {
	out := []string{}
	for _, f := range a.Findings {
		switch f.Code {
		case CodeWrite, CodeDelete, CodeUnusualMethod:
			continue
		}
		out = append(out, f.Code+"/"+f.Severity.String())
	}
	return out
}

func finding(a *qgate.HTTPAnalysis, code string) *qgate.Finding {
	for i := range a.Findings {
		if a.Findings[i].Code == code {
			return &a.Findings[i]
		}
	}
	return nil
}

func TestMethodOverrideDoesNotChangeMethod(t *testing.T) {
	r := httptest.NewRequest("POST", "/users/1", nil)
	r.Header.Set("X-HTTP-Method-Override", "DELETE")
	r.Header.Set("X-Method-Override", "PUT")
	a := Analyze(r, nil, false, Options{})
	if a.Method != "POST" {
		t.Errorf("Method = %q", a.Method)
	}
	if got, want := findingCodes(a), []string{"http.method_override/low", "http.method_override/low"}; !reflect.DeepEqual(got, want) {
		t.Errorf("findings = %v, want %v", got, want)
	}
	if !strings.Contains(a.Findings[0].Message, "X-HTTP-Method-Override: DELETE is stripped") {
		t.Errorf("message = %q", a.Findings[0].Message)
	}

	a = Analyze(r, nil, false, Options{AllowMethodOverride: true})
	if a.Method != "POST" || a.Findings[0].Severity != qgate.SeverityMedium {
		t.Errorf("allowed override: method %q findings %v", a.Method, findingCodes(a))
	}

	r = httptest.NewRequest("POST", "/users/1?_method=DELETE", nil)
	a = Analyze(r, nil, false, Options{})
	if a.Method != "POST" || !reflect.DeepEqual(findingCodes(a), []string{"http.method_override/medium"}) {
		t.Errorf("_method: method %q findings %v", a.Method, findingCodes(a))
	}

	r = httptest.NewRequest("POST", "/users/1", strings.NewReader("_method=delete&x=1"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a = Analyze(r, []byte("_method=delete&x=1"), false, Options{})
	if !reflect.DeepEqual(findingCodes(a), []string{"http.method_override/medium"}) {
		t.Errorf("form _method: findings %v", findingCodes(a))
	}

	if got := MethodOverrideHeaders(); !reflect.DeepEqual(got, []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}) {
		t.Errorf("MethodOverrideHeaders = %v", got)
	}
}

func TestMethodCase(t *testing.T) {
	r := httptest.NewRequest("delete", "/a", nil)
	a := Analyze(r, nil, false, Options{})
	if a.Method != "delete" || finding(a, CodeMethodCase) == nil {
		t.Errorf("method %q findings %v", a.Method, findingCodes(a))
	}
}

func TestHeaders(t *testing.T) {
	r := httptest.NewRequest("GET", "http://api.example/a", nil)
	r.Header.Set("Authorization", "Bearer secret-token")
	r.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	r.Header.Set("Qgate-Token", "qg_secret")
	r.Header.Set("X-Api-Key", "k")
	r.Header["Cookie"] = []string{"session=s3cret; theme=dark", "nameless"}
	r.Header.Add("Accept", "application/json")
	r.Header.Add("Accept", "text/plain")
	r.Header["x-lower"] = []string{"1"}
	r.Header["X-Lower"] = []string{"2"}
	a := Analyze(r, nil, false, Options{TokenHeader: "Qgate-Token"})
	want := map[string]string{
		"authorization":       "[redacted]",
		"proxy-authorization": "[redacted]",
		"qgate-token":         "[redacted]",
		"x-api-key":           "[redacted]",
		"cookie":              "session=[redacted]; theme=[redacted]; [redacted]",
		"accept":              "application/json, text/plain",
		"x-lower":             "2, 1",
		"host":                "api.example",
	}
	if !reflect.DeepEqual(a.Headers, want) {
		t.Errorf("headers = %v\nwant      %v", a.Headers, want)
	}
	b, _ := json.Marshal(a)
	for _, secret := range []string{"secret-token", "c2VjcmV0", "qg_secret", "s3cret", "dark", "nameless"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("analysis leaks %q: %s", secret, b)
		}
	}
	// The same without names that fold together (the path parsed
	// requests take): the same map.
	delete(r.Header, "x-lower")
	delete(r.Header, "X-Lower")
	delete(want, "x-lower")
	if a := Analyze(r, nil, false, Options{TokenHeader: "Qgate-Token"}); !reflect.DeepEqual(a.Headers, want) {
		t.Errorf("headers (no folded names) = %v\nwant      %v", a.Headers, want)
	}
	if got := RedactedHeaders("X-Qgate"); !reflect.DeepEqual(got[len(got)-1], "x-qgate") {
		t.Errorf("RedactedHeaders = %v", got)
	}
}

// TestCommonHeaderName: a known canonical name comes back as the shared
// string, any other name is not common.
func TestCommonHeaderName(t *testing.T) {
	for _, c := range []struct {
		name   string
		common bool
	}{{"Accept", true}, {"User-Agent", true}, {"Content-Type", true}, {"X-Custom-Header", false}, {"accept", false}} {
		got, ok := CommonHeaderName([]byte(c.name))
		if ok != c.common || (ok && got != c.name) {
			t.Errorf("CommonHeaderName(%q) = %q, %v; want common %v", c.name, got, ok, c.common)
		}
	}
	if lowerName("Content-Type") != "content-type" || lowerName("X-Custom") != "x-custom" {
		t.Errorf("lowerName: %q, %q", lowerName("Content-Type"), lowerName("X-Custom"))
	}
}

func TestQuery(t *testing.T) {
	r := httptest.NewRequest("GET", "/search?q=a+b&tag=x&tag=y&empty=&%C3%A9=1", nil)
	a := Analyze(r, nil, false, Options{})
	want := map[string][]string{"q": {"a b"}, "tag": {"x", "y"}, "empty": {""}, "é": {"1"}}
	if !reflect.DeepEqual(a.Query, want) || a.RawQuery != "q=a+b&tag=x&tag=y&empty=&%C3%A9=1" {
		t.Errorf("query = %v raw %q", a.Query, a.RawQuery)
	}
	if a.Ambiguous || len(findingCodes(a)) != 0 {
		t.Errorf("ambiguous %v findings %v", a.Ambiguous, findingCodes(a))
	}
	for _, bad := range []string{"/s?a=1;b=2", "/s?a=%zz"} {
		a = Analyze(httptest.NewRequest("GET", bad, nil), nil, false, Options{})
		if !a.Ambiguous || finding(a, CodeBadQuery) == nil || finding(a, CodeBadQuery).Severity != qgate.SeverityCritical {
			t.Errorf("%s: ambiguous %v findings %v", bad, a.Ambiguous, findingCodes(a))
		}
	}
}

func TestPathInAnalysis(t *testing.T) {
	a := Analyze(httptest.NewRequest("GET", "//a/./b/../c%7e?x=1", nil), nil, false, Options{})
	if a.Path != "/a/c~" || a.Ambiguous {
		t.Errorf("path %q ambiguous %v", a.Path, a.Ambiguous)
	}
	a = Analyze(httptest.NewRequest("GET", "/files/..%2F..%2Fetc/passwd", nil), nil, false, Options{})
	f := finding(a, CodeAmbiguousPath)
	if !a.Ambiguous || f == nil || f.Severity != qgate.SeverityCritical || a.Path != "/files/..%2F..%2Fetc/passwd" {
		t.Fatalf("ambiguous %v path %q findings %v", a.Ambiguous, a.Path, findingCodes(a))
	}
	if got := a.Path[f.Start:f.End]; got != "%2F" {
		t.Errorf("finding range %q", got)
	}
	// Absolute-form request target.
	r := httptest.NewRequest("GET", "http://h.example//x/%61?q=1", nil)
	a = Analyze(r, nil, false, Options{})
	if a.Path != "/x/a" || a.RawQuery != "q=1" {
		t.Errorf("absolute-form: path %q query %q", a.Path, a.RawQuery)
	}
	// A request built by hand has no RequestURI.
	r, _ = http.NewRequest("GET", "http://h.example/a%2Fb/c?d=1", nil)
	a = Analyze(r, nil, false, Options{})
	if !a.Ambiguous {
		t.Errorf("hand-built request: path %q not ambiguous", a.Path)
	}
	// OPTIONS *
	r = httptest.NewRequest("OPTIONS", "*", nil)
	a = Analyze(r, nil, false, Options{})
	if !a.Ambiguous || a.Path != "*" {
		t.Errorf("OPTIONS *: path %q ambiguous %v", a.Path, a.Ambiguous)
	}
}

func post(body, contentType string) (*http.Request, []byte) {
	r := httptest.NewRequest("POST", "/api", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r, []byte(body)
}

func TestJSONBody(t *testing.T) {
	r, body := post(`{"amount": 12.50, "to": ["a", "b"], "meta": {"n": null, "ok": true}}`, "application/json; charset=utf-8")
	a := Analyze(r, body, false, Options{})
	want := map[string]any{
		"amount": json.Number("12.50"),
		"to":     []any{"a", "b"},
		"meta":   map[string]any{"n": nil, "ok": true},
	}
	if !reflect.DeepEqual(a.Body, want) || a.BodySize != len(body) || len(findingCodes(a)) != 0 {
		t.Errorf("body %#v size %d findings %v", a.Body, a.BodySize, findingCodes(a))
	}

	r, body = post(`{"a": 1,}`, "application/vnd.api+json")
	a = Analyze(r, body, false, Options{})
	f := finding(a, CodeBadJSON)
	if a.Body != nil || f == nil || f.Severity != qgate.SeverityMedium || f.End != 9 {
		t.Errorf("bad JSON: body %#v findings %+v", a.Body, a.Findings)
	}
	for _, bad := range []string{`{"a": 1} {"b": 2}`, "{\"a\": \"\xff\"}", `{"a": `} {
		r, body = post(bad, "application/json")
		if a = Analyze(r, body, false, Options{}); a.Body != nil || finding(a, CodeBadJSON) == nil {
			t.Errorf("%q: body %#v findings %v", bad, a.Body, findingCodes(a))
		}
	}

	r, body = post(`{"amount": 1, "x": {"amount": 2}, "amount": 1000000}`, "application/json")
	a = Analyze(r, body, false, Options{})
	f = finding(a, CodeDuplicateJSONKey)
	if f == nil || f.Severity != qgate.SeverityHigh || string(body[f.Start:f.End]) != `"amount"` || f.Start < 30 {
		t.Errorf("duplicate key: findings %+v", a.Findings)
	}
	r, body = post(`{"a\u0062": 1, "ab": 2}`, "application/json")
	if a = Analyze(r, body, false, Options{}); finding(a, CodeDuplicateJSONKey) == nil {
		t.Errorf("escaped duplicate key not found: %v", findingCodes(a))
	}
	r, body = post(`[{"a": 1}, {"a": 2}, {"s": "\"a\": {,"}]`, "application/json")
	if a = Analyze(r, body, false, Options{}); len(findingCodes(a)) != 0 {
		t.Errorf("no duplicates: %v", findingCodes(a))
	}

	r, body = post(`{"delete": true}`, "text/plain")
	a = Analyze(r, body, false, Options{})
	if !reflect.DeepEqual(a.Body, map[string]any{"delete": true}) || finding(a, CodeJSONWithoutContentType) == nil {
		t.Errorf("JSON without content type: body %#v findings %v", a.Body, findingCodes(a))
	}
	r, body = post(`hello`, "")
	if a = Analyze(r, body, false, Options{}); a.Body != nil || len(findingCodes(a)) != 0 {
		t.Errorf("text body: %#v %v", a.Body, findingCodes(a))
	}
}

func TestBodyNotAnalysed(t *testing.T) {
	r, body := post(`{"a": 1}`, "application/json")
	a := Analyze(r, body, true, Options{})
	if a.Body != nil || !reflect.DeepEqual(findingCodes(a), []string{"http.body_too_large/critical"}) {
		t.Errorf("truncated: %#v %v", a.Body, findingCodes(a))
	}
	a = Analyze(r, body, false, Options{MaxBody: 4})
	if a.Body != nil || !reflect.DeepEqual(findingCodes(a), []string{"http.body_too_large/critical"}) || a.BodySize != 8 {
		t.Errorf("over MaxBody: %#v %v", a.Body, findingCodes(a))
	}
	r.Header.Set("Content-Encoding", "gzip")
	if a = Analyze(r, body, false, Options{}); a.Body != nil || finding(a, CodeEncodedBody) == nil {
		t.Errorf("gzip: %#v %v", a.Body, findingCodes(a))
	}
	r, body = post(`{"a": 1}`, "application/json")
	r.Header.Add("Content-Type", "text/plain")
	if a = Analyze(r, body, false, Options{}); a.Body != nil || finding(a, CodeAmbiguousContentType) == nil {
		t.Errorf("two content types: %#v %v", a.Body, findingCodes(a))
	}
}

func TestAnalysisJSONShape(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header = http.Header{}
	r.Host = ""
	b, err := json.Marshal(Analyze(r, nil, false, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"method":"GET","path":"/","raw_query":"","query":{},"headers":{},"body":null,"body_size":0,` +
		`"graphql":{"present":false,"read_only":false,"operations":[]},"ambiguous":false,"findings":[]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestAnalyze_MethodFindings(t *testing.T) {
	for method, want := range map[string]string{
		"GET": "", "HEAD": "", "OPTIONS": "", "POST": CodeWrite, "PUT": CodeWrite,
		"PATCH": CodeWrite, "DELETE": CodeDelete, "PURGE": CodeUnusualMethod,
	} {
		r := httptest.NewRequest(method, "/v1/items/1", nil)
		a := Analyze(r, nil, false, Options{})
		got := ""
		for _, f := range a.Findings {
			if f.Code == CodeWrite || f.Code == CodeDelete || f.Code == CodeUnusualMethod {
				got = f.Code
			}
		}
		if got != want {
			t.Errorf("%s: got finding %q, want %q", method, got, want)
		}
	}
}
