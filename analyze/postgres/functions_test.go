package postgres

import (
	"slices"
	"strings"
	"testing"
)

// entries returns the catalog's names of one class, prefix patterns with
// an "x" appended so that they name a matching function.
func entries(class funcClass) []string {
	var names []string
	for n, c := range functions.exact {
		if c == class {
			names = append(names, n)
		}
	}
	for _, p := range functions.prefixes {
		if p.class == class {
			names = append(names, p.prefix+"x")
		}
	}
	slices.Sort(names)
	return names
}

func TestSafeFunctions(t *testing.T) {
	a := New(Options{})
	safe := entries(classSafe)
	if len(safe) < 300 {
		t.Fatalf("only %d safe functions", len(safe))
	}
	for _, name := range safe {
		// Quoted, every name is a plain function call whatever the
		// grammar does with the bare word (current_date, extract, ...).
		for _, sql := range []string{
			`SELECT "` + name + `"(1)`,
			`SELECT pg_catalog."` + name + `"(1)`,
		} {
			got := a.AnalyzeSQL(sql)
			if !got.ReadOnly || len(got.Findings) != 0 {
				t.Errorf("AnalyzeSQL(%q): read-only %v, findings %v; want read-only, none", sql, got.ReadOnly, codes(got))
			}
		}
		// Bare, when the grammar takes it as a call.
		sql := "SELECT " + name + "(1)"
		if got := a.AnalyzeSQL(sql); got.ParseError == "" && !got.ReadOnly {
			t.Errorf("AnalyzeSQL(%q): not read-only: %v", sql, codes(got))
		}
		// In another schema it is somebody's function.
		sql = `SELECT myschema."` + name + `"(1)`
		if got := a.AnalyzeSQL(sql); got.ReadOnly || !slices.Contains(codes(got), codeUnknownFunction) {
			t.Errorf("AnalyzeSQL(%q): read-only %v, findings %v; want not read-only, %s", sql, got.ReadOnly, codes(got), codeUnknownFunction)
		}
	}
}

func TestDangerousFunctions(t *testing.T) {
	a := New(Options{})
	for _, class := range []funcClass{classSideEffect, classDynamic} {
		code := codeSideEffectFunction
		if class == classDynamic {
			code = codeDynamicSQL
		}
		names := entries(class)
		if len(names) < 10 {
			t.Fatalf("only %d %s functions", len(names), class)
		}
		for _, name := range names {
			for _, sql := range []string{
				`SELECT "` + name + `"(1)`,
				`SELECT * FROM t WHERE x = (SELECT pg_catalog."` + name + `"(1))`,
				`SELECT anyschema."` + name + `"(1)`,
			} {
				got := a.AnalyzeSQL(sql)
				if got.ReadOnly || !got.Writes || !slices.Contains(codes(got), code) {
					t.Errorf("AnalyzeSQL(%q): read-only %v, writes %v, findings %v; want not read-only, %s", sql, got.ReadOnly, got.Writes, codes(got), code)
				}
			}
		}
	}
}

func TestUnknownFunctions(t *testing.T) {
	a := New(Options{})
	for _, sql := range []string{
		"SELECT zz_not_a_builtin(1)",
		"SELECT app.audit()",
		"SELECT db.pg_catalog.now()",
		`SELECT "Lower"('x')`,
	} {
		got := a.AnalyzeSQL(sql)
		if got.ReadOnly || !slices.Contains(codes(got), codeUnknownFunction) {
			t.Errorf("AnalyzeSQL(%q): read-only %v, findings %v; want not read-only, %s", sql, got.ReadOnly, codes(got), codeUnknownFunction)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		want funcClass
	}{
		{"now", classSafe},
		{"pg_catalog.now", classSafe},
		{"myschema.now", classUnknown},
		{"nextval", classSideEffect},
		{"pg_catalog.nextval", classSideEffect},
		{"public.nextval", classSideEffect},
		{"lo_export", classSideEffect},
		{"lo_whatever_new", classSideEffect},
		{"dblink", classDynamic},
		{"dblink_exec", classDynamic},
		{"dblink_connect", classSideEffect},
		{"pg_advisory_xact_lock", classSideEffect},
		{"pg_try_advisory_lock", classSideEffect},
		{"pg_ls_dir", classSideEffect},
		{"pg_stat_reset_shared", classSideEffect},
		{"pg_create_logical_replication_slot", classSideEffect},
		{"query_to_xml", classDynamic},
		{"myfunc", classUnknown},
		{"", classUnknown},
	}
	for _, tc := range tests {
		if got := functions.classify(strings.Split(tc.name, ".")); got != tc.want {
			t.Errorf("classify(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOperators(t *testing.T) {
	a := New(Options{})
	if len(functions.operators) < 40 {
		t.Fatalf("only %d operators", len(functions.operators))
	}
	for op := range functions.operators {
		sql := "SELECT a " + op + " b FROM t"
		got := a.AnalyzeSQL(sql)
		if got.ParseError != "" {
			t.Errorf("AnalyzeSQL(%q): %s", sql, got.ParseError)
			continue
		}
		if !got.ReadOnly {
			t.Errorf("AnalyzeSQL(%q): not read-only: %v", sql, codes(got))
		}
		sql = "SELECT a OPERATOR(pg_catalog." + op + ") b FROM t"
		if got := a.AnalyzeSQL(sql); !got.ReadOnly {
			t.Errorf("AnalyzeSQL(%q): not read-only: %v %s", sql, codes(got), got.ParseError)
		}
	}
}

func TestParseCatalogErrors(t *testing.T) {
	for _, data := range []string{
		"now\n",                             // outside a section
		"[unknown]\nnow\n",                  // unknown section
		"[safe]\nnow\n[side_effect]\nnow\n", // in two classes
		"[safe]\nnow*\n",                    // safe prefix
		"[safe]\nNow\n",                     // upper case
		"[safe]\nnow today\n",               // two names
	} {
		if _, err := parseCatalog(data); err == nil {
			t.Errorf("parseCatalog(%q) succeeded, want an error", data)
		}
	}
	c, err := parseCatalog("# comment\n[safe]\nnow\n\n[side_effect]\nlo_*\nlo_get\n[dynamic_sql]\nlo_g*\n[operators]\n+\n")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]funcClass{"now": classSafe, "lo_put": classSideEffect, "lo_get": classSideEffect, "lo_gx": classDynamic, "x": classUnknown} {
		if got := c.lookup(name); got != want {
			t.Errorf("lookup(%q) = %v, want %v", name, got, want)
		}
	}
}
