package postgres

import (
	"reflect"
	"testing"
)

// FuzzAnalyzeSQL checks the analyzer's invariants on arbitrary text, and
// that an analysis served from (small, constantly evicting) caches equals
// a fresh one.
func FuzzAnalyzeSQL(f *testing.F) {
	for _, tc := range analyzeCases {
		f.Add(tc.sql)
		if v, ok := literalVariant(tc.sql); ok {
			f.Add(v)
		}
	}
	for _, s := range []string{
		"", ";", "SELEC 1", "SELECT 'abc", "SELECT 1; DELET FROM t", "/* unterminated",
		"SELECT 1;\x00 DROP TABLE t", "SELECT '\xff'", "SELECT U&'\\0061' UESCAPE '!'",
		"SELECT * FROM t WHERE x = $1", "SELECT 1 +", "EXPLAIN (ANALYZE 'off') DELETE FROM t",
	} {
		f.Add(s)
	}
	warm := New(Options{CacheSize: 256, ShapeCacheSize: 64})
	fresh := New(Options{CacheSize: -1, ShapeCacheSize: -1})
	f.Fuzz(func(t *testing.T, text string) {
		got := warm.AnalyzeSQL(text)
		checkInvariants(t, got)
		if got.Text != text {
			t.Fatalf("Text = %q, want %q", got.Text, text)
		}
		if want := fresh.AnalyzeSQL(text); !reflect.DeepEqual(got, want) {
			t.Fatalf("cached analysis differs from a fresh one:\n got %+v\nwant %+v", got, want)
		}
	})
}
