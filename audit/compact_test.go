package audit

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/qgate/qgate"
)

// FuzzCompactData: whatever the data, compactData stores what json.Compact
// makes of valid JSON and refuses the rest, whether or not it takes the
// shortcut for data without whitespace outside strings.
func FuzzCompactData(f *testing.F) {
	for _, s := range []string{
		`{"sql":"SELECT a FROM t WHERE b = 'x y'"}`,
		"{ \"a\" : [1, 2],\n\"b\": \"<&>\" }",
		`{"s":"a \" b","t":"\\"}`,
		`{"s":"\\\" "} `,
		`{"s":"x"`, ` `, `"a b"`, `[1, 2]`, `{"a":"\u0020"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e := &qgate.AuditEvent{Data: bytes.Clone(data)}
		err := compactData(e)
		var want bytes.Buffer
		werr := json.Compact(&want, data)
		if len(data) == 0 {
			return
		}
		if (err != nil) != (werr != nil) {
			t.Fatalf("compactData(%q) error %v; json.Compact error %v", data, err, werr)
		}
		if err == nil && !bytes.Equal(e.Data, want.Bytes()) {
			t.Fatalf("compactData(%q) = %q, want %q", data, e.Data, want.Bytes())
		}
	})
}
