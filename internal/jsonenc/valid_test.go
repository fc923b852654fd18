package jsonenc_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/qgate/qgate/internal/jsonenc"
)

// validCases are texts on both sides of every rule Valid checks; each must
// get encoding/json.Valid's answer.
var validCases = []string{
	``, ` `, `null`, `nul`, `nulll`, `true`, `tru`, `false`, `falsy`, ` {} `, "\t[]\r\n", `{`, `[`, `}`, `]`, `[}`, `{]`,
	`{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`, `{"a":1,"b":[true,false,null]}`, `{,}`, `[,]`, `[1,]`,
	`[1 2]`, `[1,,2]`, `[[[[]]]]`, `[[[[]]]`, `{"a":{"b":{"c":{}}}}`, `{"a":}`, `{"":""}`, `{"a":1}{}`, `1 2`, `"a" x`,
	`0`, `-0`, `00`, `01`, `-`, `-a`, `1.`, `1.5`, `.5`, `1e`, `1e5`, `1E+5`, `1e-5`, `1e+`, `-1.5e-10`, `1.5.5`, `1ee5`,
	`123456789012345678901234567890`, `1true`, `[1true]`, `"\u00e9"`, `"\u00"`, `"\u00g0"`, `"\uABCD"`, `"\x"`, `"\/"`,
	`"\"\\\/\b\f\n\r\t"`, `"abc`, `"a\"`, "\"tab\tin string\"", "\"nl\nin\"", "\"\x7f\"", "\"bad \xff utf-8\"", "\"é 日本\"",
	"\xef\xbb\xbf{}", `{"a":"b"}x`, `["a",{"b":[1,{"c":null}]}]`, "\x00", `[-]`, `[01]`, `{"a":-}`, `"\`, `"\u`, `"\u123`,
}

func TestValid(t *testing.T) {
	for _, s := range validCases {
		if got, want := jsonenc.Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", s, got, want)
		}
	}
}

// TestValidDepth: encoding/json accepts 10000 levels of nesting, not
// 10001.
func TestValidDepth(t *testing.T) {
	for _, n := range []int{63, 64, 65, 10000, 10001} {
		for _, open := range []string{"[", `{"a":`} {
			s := strings.Repeat(open, n) + strings.Repeat(map[string]string{"[": "]", `{"a":`: "}"}[open], n)
			if open != "[" {
				s = strings.Repeat(open, n) + "1" + strings.Repeat("}", n)
			}
			if got, want := jsonenc.Valid([]byte(s)), json.Valid([]byte(s)); got != want {
				t.Errorf("depth %d of %q: Valid = %v, encoding/json says %v", n, open, got, want)
			}
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range validCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := json.Valid(b)
		if got := jsonenc.Valid(b); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
		valid, spaced := jsonenc.ValidSpaced(b)
		if valid != want {
			t.Errorf("ValidSpaced(%q) = %v, encoding/json says %v", b, valid, want)
		}
		if valid {
			var c bytes.Buffer
			if err := json.Compact(&c, b); err != nil {
				t.Fatal(err)
			}
			if compacted := !bytes.Equal(c.Bytes(), b); spaced != compacted {
				t.Errorf("ValidSpaced(%q) says spaced %v; json.Compact changes it: %v", b, spaced, compacted)
			}
		}
	})
}

// TestValidSpaced: whitespace outside strings is found wherever JSON
// allows it, and whitespace inside strings is not counted.
func TestValidSpaced(t *testing.T) {
	for _, c := range []struct {
		in     string
		spaced bool
	}{
		{`{"a":1}`, false},
		{`{"a b":"c\t d","e":[1,2,{"f":null}]}`, false},
		{` {"a":1}`, true},
		{`{"a":1} `, true},
		{`{ "a":1}`, true},
		{`{"a" :1}`, true},
		{`{"a": 1}`, true},
		{`{"a":1 }`, true},
		{`{"a":1,
"b":2}`, true},
		{`[1 ,2]`, true},
		{`[1,	2]`, true},
		{`[ ]`, true},
		{`"  "`, false},
		{"\r\n7", true},
	} {
		valid, spaced := jsonenc.ValidSpaced([]byte(c.in))
		if !valid || spaced != c.spaced {
			t.Errorf("ValidSpaced(%q) = %v, %v; want true, %v", c.in, valid, spaced, c.spaced)
		}
	}
}

// BenchmarkValid checks what the HTTP gateway's request event carries.
//
//	go test -run '^$' -bench Valid ./internal/jsonenc
func BenchmarkValid(b *testing.B) {
	data := []byte(`{"method":"GET","path":"/v1/users/42","query":"expand=orders","source_ip":"127.0.0.1","matched":[{"name":"reads","action":"allow"}],"risk":"none","findings":[],"status":200,"duration_ms":0.569}`)
	b.Run("jsonenc", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !jsonenc.Valid(data) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !json.Valid(data) {
				b.Fatal("invalid")
			}
		}
	})
}
