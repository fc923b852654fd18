package httpanalyze

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/qgate/qgate"
)

func FuzzNormalizePath(f *testing.F) {
	for _, tc := range pathCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := NormalizePath(raw)
		if err != nil {
			pe, ok := err.(*PathError)
			if !ok {
				t.Fatalf("error %T %v", err, err)
			}
			if pe.Start < 0 || pe.Start > pe.End || pe.End > len(raw) {
				t.Fatalf("error range %d..%d outside %q", pe.Start, pe.End, raw)
			}
			return
		}
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("%q -> %q: not absolute", raw, got)
		}
		if strings.Contains(got, "//") {
			t.Fatalf("%q -> %q: repeated slash", raw, got)
		}
		for _, seg := range strings.Split(got, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q -> %q: dot segment", raw, got)
			}
		}
		upper := strings.ToUpper(got)
		for _, bad := range []string{"%2F", "%5C", "%00", "\\", "\x00", "%252E"} {
			if strings.Contains(upper, bad) {
				t.Fatalf("%q -> %q: contains %q", raw, got, bad)
			}
		}
		for i := 0; i < len(got); i++ {
			c := got[i]
			if c == '%' {
				if i+2 >= len(got) || !isHex(got[i+1]) || !isHex(got[i+2]) ||
					strings.ToUpper(got[i+1:i+3]) != got[i+1:i+3] || isUnreserved(unhex(got[i+1])<<4|unhex(got[i+2])) {
					t.Fatalf("%q -> %q: bad escape at %d", raw, got, i)
				}
				i += 2
				continue
			}
			if c != '/' && !rawAllowed(c) {
				t.Fatalf("%q -> %q: raw %q", raw, got, c)
			}
		}
		again, err := NormalizePath(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", raw, got, again, err)
		}
	})
}

// FuzzJSONBody checks decodeJSON and duplicateKey against encoding/json's
// tokenizer.
func FuzzJSONBody(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a\u0062":1,"ab":2}`, `[{"a":1},{"a":2}]`, `{"a":{"a":1}}`,
		`{"s":"\"a\":{,"}`, `{"a":1,}`, `"x"`, `{"\\":1,"\\\\":2}`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, jerr := decodeJSON(body)
		if jerr != nil {
			if jerr.offset < 0 || jerr.offset > len(body) {
				t.Fatalf("offset %d outside %d bytes", jerr.offset, len(body))
			}
			return
		}
		key, off, found := duplicateKey(body)
		want, wantFound := referenceDuplicate(body)
		if found != wantFound || found && key != want {
			t.Fatalf("duplicateKey(%q) = %q, %v; reference %q, %v", body, key, found, want, wantFound)
		}
		if found && (off < 0 || off >= len(body) || body[off] != '"') {
			t.Fatalf("duplicate offset %d", off)
		}
	})
}

func referenceDuplicate(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.object {
					top.key = true
				}
				stack = append(stack, &frame{object: v == '{', keys: map[string]bool{}, key: true})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.object && top.key {
				if top.keys[v] {
					return v, true
				}
				top.keys[v] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.object {
			top.key = true
		}
	}
}

// FuzzAnalyze checks that Analyze never panics and keeps its promises on
// arbitrary request targets, content types and bodies.
func FuzzAnalyze(f *testing.F) {
	for _, tc := range gqlCases {
		f.Add(tc.method, tc.target, tc.contentType, []byte(tc.body))
	}
	f.Add("POST", "/a%2Fb?x=1;y", "application/json", []byte(`{"a":1,"a":2}`))
	f.Fuzz(func(t *testing.T, method, target, contentType string, body []byte) {
		r := &http.Request{Method: method, RequestURI: target, URL: &url.URL{}, Header: http.Header{}, Host: "h"}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		a := Analyze(r, body, false, Options{GraphQLPath: "/graphql", MaxBody: 4096})
		if a.Query == nil || a.Headers == nil || a.Findings == nil || a.GraphQL.Operations == nil {
			t.Fatal("nil map or slice")
		}
		if a.Ambiguous {
			critical := false
			for _, fd := range a.Findings {
				critical = critical || fd.Severity == qgate.SeverityCritical
			}
			if !critical {
				t.Fatal("ambiguous without a critical finding")
			}
		}
		g := a.GraphQL
		if g.ReadOnly {
			if !g.Present || g.ParseError != "" {
				t.Fatalf("read-only with present=%v error=%q", g.Present, g.ParseError)
			}
			for _, op := range g.Operations {
				if op.Type != "query" {
					t.Fatalf("read-only with a %s", op.Type)
				}
			}
		}
		if g.ParseError != "" && !hasCode(a, "graphql.parse_error") {
			t.Fatal("parse error without a finding")
		}
		for _, fd := range a.Findings {
			if fd.Start < 0 || fd.Start > fd.End {
				t.Fatalf("finding range %+v", fd)
			}
			if strings.HasPrefix(fd.Code, "http.") && fd.End > max(len(target), len(body)) {
				t.Fatalf("finding range %+v beyond the payload", fd)
			}
		}
	})
}

func hasCode(a *qgate.HTTPAnalysis, code string) bool {
	for _, f := range a.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}
