package postgres

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func TestLRU(t *testing.T) {
	c := newLRU[string, int](8) // one shard of 8
	for i := range 8 {
		c.put(fmt.Sprint(i), i)
	}
	if v, ok := c.get("0"); !ok || v != 0 {
		t.Fatalf("get(0) = %v, %v", v, ok)
	}
	c.put("8", 8) // evicts "1", the least recently used
	if _, ok := c.get("1"); ok {
		t.Error("1 was not evicted")
	}
	for _, k := range []string{"0", "2", "8"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
	c.put("8", 80)
	if v, _ := c.get("8"); v != 80 {
		t.Errorf("get(8) = %d after update", v)
	}
	if n := c.len(); n != 8 {
		t.Errorf("len = %d, want 8", n)
	}

	big := newLRU[string, int](1000)
	for i := range 5000 {
		big.put(fmt.Sprint(i), i)
	}
	if n := big.len(); n < 900 || n > 1024 {
		t.Errorf("len = %d after 5000 puts into a 1000-entry cache", n)
	}

	var off *lru[string, int] = newLRU[string, int](-1)
	off.put("a", 1)
	if _, ok := off.get("a"); ok || off.len() != 0 {
		t.Error("disabled cache stored an entry")
	}
}

// literalVariant rewrites every literal of text into another literal of
// the same token type and a different length, so that the variant has the
// same shape key (unless the analysis read a literal) but other offsets.
func literalVariant(text string) (string, bool) {
	res, err := pg_query.Scan(text)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	last, changed := 0, false
	for _, tk := range res.Tokens {
		lit := text[tk.Start:tk.End]
		var repl string
		switch tk.Token {
		case pg_query.Token_ICONST:
			repl = "987654321"
		case pg_query.Token_FCONST:
			repl = "2.5e3"
		case pg_query.Token_SCONST:
			switch {
			case strings.HasPrefix(lit, "'"):
				repl = `'variant '' literal, é'`
			case strings.HasPrefix(lit, "E'") || strings.HasPrefix(lit, "e'"):
				repl = `E'variant\' ; literal'`
			case strings.HasPrefix(lit, "$"):
				repl = "$v$variant ; DROP TABLE x$v$"
			}
		}
		if repl == "" {
			continue
		}
		b.WriteString(text[last:tk.Start])
		b.WriteString(repl)
		last = int(tk.End)
		changed = true
	}
	b.WriteString(text[last:])
	return b.String(), changed
}

// TestCacheConsistency: an analysis served from the caches equals a fresh
// analysis of the same text, field for field.
func TestCacheConsistency(t *testing.T) {
	texts := []string{
		// The shape key must not share these: the literal decides.
		"EXPLAIN (ANALYZE 'off') DELETE FROM t",
		"EXPLAIN (ANALYZE 'on') DELETE FROM t",
		"EXPLAIN (ANALYZE 0) DELETE FROM t",
		"EXPLAIN (ANALYZE 1) DELETE FROM t",
		"SELECT * FROM t WHERE id IN (1, 2)",
		"SELECT * FROM t WHERE id IN (1, 2, 3)",
		"SELECT a AS x FROM t",
		"SELECT a AS y FROM t",
		// The DML cache must not share these: the grammar reads the
		// literal (precision picks the type; 0 does not parse) or decodes
		// the escapes (an invalid one does not parse).
		"SELECT 1::float(5)",
		"SELECT 1::float(30)",
		"SELECT 1::float(0)",
		"SELECT U&'\\0061'",
		"SELECT U&'\\006'",
		"SELECT U&'!0061' UESCAPE '!'",
		"SELECT U&'!0061' UESCAPE ''",
		"SELECT U&\"\\0061\" FROM t",
		// Utility statements keep literals in their fingerprint.
		"SET search_path = 'a'",
		"SET search_path = 'b'",
		"SELECT set_config('search_path', 'a', false)",
		"SELECT set_config('search_path', 'b', false)",
	}
	for _, tc := range analyzeCases {
		texts = append(texts, tc.sql)
	}
	var variants []string
	for _, s := range texts {
		if v, ok := literalVariant(s); ok {
			variants = append(variants, v)
		}
	}
	if len(variants) < 40 {
		t.Fatalf("only %d literal variants", len(variants))
	}

	warm := New(Options{})
	for _, s := range texts {
		warm.AnalyzeSQL(s)
	}
	shapeHits := warm.stats.shapeHits.Load() + warm.stats.dmlHits.Load()
	for _, s := range append(append(variants, texts...), variants...) {
		got := warm.AnalyzeSQL(s)
		want := New(Options{CacheSize: -1, ShapeCacheSize: -1}).AnalyzeSQL(s)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("AnalyzeSQL(%q) through the caches:\n got %+v\nwant %+v", s, got, want)
		}
		checkInvariants(t, got)
	}
	if hits := warm.stats.shapeHits.Load() + warm.stats.dmlHits.Load() - shapeHits; hits < 30 {
		t.Errorf("only %d shape cache hits for %d variants", hits, len(variants))
	}
	if warm.stats.exactHits.Load() < int64(len(texts)) {
		t.Errorf("only %d exact cache hits", warm.stats.exactHits.Load())
	}
}

// TestShapeKeyIsNotJustTheFingerprint: pg_query's fingerprint stops at
// depth 100, so texts that differ deep down share it.
func TestShapeKeyIsNotJustTheFingerprint(t *testing.T) {
	deep := func(inner string) string {
		return "SELECT " + strings.Repeat("abs(", 120) + inner + strings.Repeat(")", 120)
	}
	safe, unsafe := deep("length('x')"), deep("nextval('s')")
	fpSafe, err1 := pg_query.Fingerprint(safe)
	fpUnsafe, err2 := pg_query.Fingerprint(unsafe)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	// With pg_query_go v6.2.5 they are equal; either way the analyses
	// must differ.
	t.Logf("fingerprints %s, %s (equal: %v)", fpSafe, fpUnsafe, fpSafe == fpUnsafe)
	a := New(Options{})
	for range 2 {
		if got := a.AnalyzeSQL(safe); !got.ReadOnly {
			t.Errorf("deep safe query not read-only: %v %s", codes(got), got.ParseError)
		}
		if got := a.AnalyzeSQL(unsafe); got.ReadOnly {
			t.Errorf("deep nextval query read-only")
		}
	}
}

func TestExactCache(t *testing.T) {
	a := New(Options{})
	sql := "SELECT abalance FROM pgbench_accounts WHERE aid = 1"
	if a.AnalyzeSQL(sql) != a.AnalyzeSQL(sql) {
		t.Error("same text analysed twice: want the cached analysis")
	}
	if a.stats.exactHits.Load() != 1 || a.stats.parses.Load() != 1 {
		t.Errorf("exact hits %d, parses %d; want 1, 1", a.stats.exactHits.Load(), a.stats.parses.Load())
	}
	other := "SELECT abalance FROM pgbench_accounts WHERE aid = 123456"
	got := a.AnalyzeSQL(other)
	if a.stats.dmlHits.Load() != 1 || a.stats.parses.Load() != 1 {
		t.Errorf("DML shape hits %d, parses %d; want 1, 1", a.stats.dmlHits.Load(), a.stats.parses.Load())
	}
	if got.Statements[0].End != len(other) || got.Text != other {
		t.Errorf("shape hit kept the old text's offsets: %+v", got.Statements[0])
	}

	long := "SELECT 1" + strings.Repeat(" ", maxCachedText)
	a.AnalyzeSQL(long)
	a.AnalyzeSQL(long)
	if a.stats.exactHits.Load() != 1 {
		t.Error("a text over maxCachedText was cached")
	}
}

// TestDMLCache: plain DML seen with other literals is served without
// parsing, with the fingerprint of a parse; anything else still parses.
func TestDMLCache(t *testing.T) {
	for _, tc := range []struct {
		first, second string
		dml           bool
	}{
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 1", "SELECT abalance FROM pgbench_accounts WHERE aid = 99", true},
		{"UPDATE t SET a = 'x' WHERE id = 1", "UPDATE t SET a = 'yy' WHERE id = 2", true},
		{"INSERT INTO t VALUES (1, 'a'); SELECT 2", "INSERT INTO t VALUES (3, 'b'); SELECT 4", true},
		{"SELECT 1::float(5)", "SELECT 1::float(6)", false},
		{"SELECT U&'\\0061'", "SELECT U&'\\0062'", false},
		{"SET work_mem = '1MB'", "SET work_mem = '2MB'", false},
		{"EXPLAIN SELECT 1", "EXPLAIN SELECT 2", false},
		{"SELECT 1; SET a = 1", "SELECT 2; SET a = 2", false},
	} {
		a := New(Options{})
		a.AnalyzeSQL(tc.first)
		got := a.AnalyzeSQL(tc.second)
		if hit := a.stats.dmlHits.Load() == 1; hit != tc.dml {
			t.Errorf("%q after %q: DML cache hit %v, want %v", tc.second, tc.first, hit, tc.dml)
		}
		want := New(Options{CacheSize: -1, ShapeCacheSize: -1}).AnalyzeSQL(tc.second)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("AnalyzeSQL(%q) after %q:\n got %+v\nwant %+v", tc.second, tc.first, got, want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	a := New(Options{CacheSize: 64, ShapeCacheSize: 32}) // small: evictions too
	want := make(map[string]bool)
	for _, tc := range analyzeCases {
		want[tc.sql] = tc.readOnly
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				tc := analyzeCases[(g*37+i)%len(analyzeCases)]
				if got := a.AnalyzeSQL(tc.sql); got.ReadOnly != want[tc.sql] {
					t.Errorf("AnalyzeSQL(%q).ReadOnly = %v", tc.sql, got.ReadOnly)
					return
				}
			}
		}()
	}
	wg.Wait()
}
