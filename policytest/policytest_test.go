package policytest_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	pganalyze "github.com/qgate/qgate/analyze/postgres"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/gate"
	"github.com/qgate/qgate/policy"
	"github.com/qgate/qgate/policytest"
)

// TestGolden runs every testdata/<case>/requests.yaml against its config:
// policy authors add cases without writing Go.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*/requests.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			f, err := policytest.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(f.Config)
			if err != nil {
				t.Fatal(err)
			}
			engine, err := policy.New(cfg.Policies, cfg.Defaults, cfg.ReviewDefaults)
			if err != nil {
				t.Fatal(err)
			}
			g := gate.New(pganalyze.New(pganalyze.Options{}), engine, nil)
			for _, r := range policytest.Run(context.Background(), g, cfg, f) {
				if !r.OK() {
					t.Errorf("%s (%s:%d): %v", r.Case.Name, path, r.Case.Line, r.Diffs)
				}
			}
		})
	}
}

// TestRun_ReportsDiffs checks that a wrong expectation fails with a
// readable diff.
func TestRun_ReportsDiffs(t *testing.T) {
	cfg, err := config.Load("testdata/prod-postgres/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.New(cfg.Policies, cfg.Defaults, cfg.ReviewDefaults)
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(pganalyze.New(pganalyze.Options{}), engine, nil)
	matched := []string{"reads"}
	f := &policytest.File{Path: "x.yaml", Cases: []policytest.Case{
		{Name: "wrong", Target: "billing-db", SQL: "DELETE FROM t WHERE id = 1", Expect: "allow", Matched: &matched, Risk: "none", Line: 3},
	}}
	res := policytest.Run(context.Background(), g, cfg, f)
	var buf bytes.Buffer
	if n := policytest.Report(&buf, f, res); n != 1 {
		t.Fatalf("failures: got %d, want 1", n)
	}
	for _, want := range []string{"FAIL  wrong (x.yaml:3)", "decision: got review, want allow", "matched: got [prod-writes-need-a-dba], want [reads]", "risk: got", "0 passed, 1 failed"} {
		if !bytes.Contains(buf.Bytes(), []byte(want)) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}
