package jsonenc_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/qgate/qgate/internal/jsonenc"
)

var weird = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "ctl \x00\x01\b\f\n\r\t\x1f\x7f",
	"utf-8 é ü 日本 🙂", "bad \xff\xfe utf-8 \xe2\x82", "line\u2028para\u2029sep", "/v1/users/42?x=1&y=<2>",
}

func same(t *testing.T, v any, got []byte) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%#v: got %s, want %s", v, got, want)
	}
}

func TestAppend(t *testing.T) {
	for _, s := range weird {
		same(t, s, jsonenc.AppendString(nil, s))
	}
	same(t, []string(nil), jsonenc.AppendStrings(nil, nil))
	same(t, weird, jsonenc.AppendStrings(nil, weird))
	for _, f := range []float64{0, 0.001, 0.123, 1.5, 12345.678, 1e-7, -2.5, 1e21, 3e25, math.SmallestNonzeroFloat64} {
		same(t, f, jsonenc.AppendFloat(nil, f))
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range weird {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		same(t, s, jsonenc.AppendString(nil, s))
	})
}

// BenchmarkAppendString encodes what an audit event's strings mostly are:
// ids and hex hashes, nothing to escape.
//
//	go test -run '^$' -bench AppendString ./internal/jsonenc
func BenchmarkAppendString(b *testing.B) {
	s := "blake2b:d6494f4a6cf8d07a4535e1d25920df1be8a20cb3233d211b26383c07779d7a1a"
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = jsonenc.AppendString(buf[:0], s)
	}
}
