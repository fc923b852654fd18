package gate_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	pganalyze "github.com/qgate/qgate/analyze/postgres"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/gate"
	"github.com/qgate/qgate/policy"
	"github.com/qgate/qgate/store/sqlite"
)

const cfgDoc = `
targets:
  - {name: db, protocol: postgres, environment: prod, listen: '127.0.0.1:7001', upstream: {address: '127.0.0.1:5432', database: d, user: u}}
  - {name: api, protocol: http, environment: prod, listen: '127.0.0.1:7002', upstream: {url: 'http://127.0.0.1:7000'}, graphql: {path: /graphql}}
groups:
  dba: [alice, bob]
policies:
  - {name: no-ddl, when: sql.ddl, action: deny}
  - {name: writes, when: '!sql.read_only && sql.statements.size() > 0', action: review, review: {approvers: [dba]}}
  - {name: reads, when: sql.read_only, action: allow}
  - {name: api-reads, targets: [api], when: "http.method == 'GET'", action: allow}
  - {name: api-writes, targets: [api], when: "http.method != 'GET'", action: review, review: {approvers: [dba]}}
defaults:
  prod: review
`

func MustGate(tb testing.TB, grants qgate.GrantStore) (*gate.Gate, *config.Config) {
	tb.Helper()
	cfg, err := config.Parse("test.yaml", []byte(cfgDoc), func(string) (string, bool) { return "", false })
	if err != nil {
		tb.Fatal(err)
	}
	engine, err := policy.New(cfg.Policies, cfg.Defaults, cfg.ReviewDefaults)
	if err != nil {
		tb.Fatal(err)
	}
	return gate.New(pganalyze.New(pganalyze.Options{}), engine, grants), cfg
}

func TestGate_GrantTurnsReviewIntoAllow(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g, cfg := MustGate(t, db)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	g.Now = func() time.Time { return now }
	ctx := context.Background()
	in := func(sql string) gate.Input {
		return gate.Input{Target: cfg.Target("db"), SQL: sql, Principal: qgate.Principal{TokenID: "tok1", Identity: "carol"}}
	}
	req, d, err := g.Evaluate(ctx, in("UPDATE accounts SET plan = 'pro' WHERE id = 1"))
	if err != nil || d.Action != qgate.ActionReview {
		t.Fatalf("before grant: %v %+v", err, d)
	}
	if err := db.CreateGrant(ctx, &qgate.Grant{TokenID: "tok1", Target: "db", Shape: gate.Shape(req), ReviewID: 1,
		CreatedBy: "alice", CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// Same shape, other literal: allowed by the grant.
	if _, d, _ := g.Evaluate(ctx, in("UPDATE accounts SET plan = 'free' WHERE id = 99")); d.Action != qgate.ActionAllow || d.GrantID == 0 {
		t.Fatalf("same shape: got %+v", d)
	}
	// Another shape: still reviewed.
	if _, d, _ := g.Evaluate(ctx, in("DELETE FROM accounts WHERE id = 1")); d.Action != qgate.ActionReview {
		t.Fatalf("other shape: got %+v", d)
	}
	// Another token: still reviewed.
	other := in("UPDATE accounts SET plan = 'free' WHERE id = 99")
	other.Principal.TokenID = "tok2"
	if _, d, _ := g.Evaluate(ctx, other); d.Action != qgate.ActionReview {
		t.Fatalf("other token: got %+v", d)
	}
	// After expiry: reviewed again.
	now = now.Add(31 * time.Minute)
	if _, d, _ := g.Evaluate(ctx, in("UPDATE accounts SET plan = 'free' WHERE id = 99")); d.Action != qgate.ActionReview {
		t.Fatalf("after expiry: got %+v", d)
	}
}

func TestShape(t *testing.T) {
	g, cfg := MustGate(t, nil)
	shape := func(method, path, body string) string {
		req, _, err := g.Evaluate(context.Background(), gate.Input{Target: cfg.Target("api"), Method: method, Path: path, Body: body,
			Headers: []string{"Content-Type: application/json"}})
		if err != nil {
			t.Fatal(err)
		}
		return gate.Shape(req)
	}
	if a, b := shape("DELETE", "/users/42", ""), shape("DELETE", "/users/43", ""); a != b || a != "http:DELETE /users/:id" {
		t.Fatalf("ids should share a shape: %q %q", a, b)
	}
	if a, b := shape("DELETE", "/users/42", ""), shape("POST", "/users/42", ""); a == b {
		t.Fatalf("methods must differ: %q", a)
	}
	q := shape("POST", "/graphql", `{"query":"mutation { refund(id: 1) { id } }"}`)
	if q != "http:POST /graphql mutation:(refund)" {
		t.Fatalf("graphql shape: got %q", q)
	}
}

func TestPathTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/":                  "/",
		"/users/42":          "/users/:id",
		"/users/42/orders/7": "/users/:id/orders/:id",
		"/users/me":          "/users/me",
		"/o/0f8fad5b-d9cb-469f-a165-70867728950e": "/o/:id",
		"/v1/items": "/v1/items",
	} {
		if got := gate.PathTemplate(in); got != want {
			t.Errorf("PathTemplate(%q): got %q, want %q", in, got, want)
		}
	}
}

// BenchmarkDecide measures a full decision as a listener takes it: SQL
// analysis, then policy (CEL) on the configuration above.
func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	decide := func(b *testing.B, texts []string) {
		g, cfg := MustGate(b, nil)
		t := cfg.Target("db")
		principal := qgate.Principal{TokenID: "tok", Identity: "carol", Roles: []string{"dev"}, Groups: []string{}}
		g.Decide(ctx, &qgate.Request{Protocol: t.Protocol, Target: t.Name, Environment: t.Environment, Principal: principal,
			SQL: g.SQL.AnalyzeSQL("SELECT abalance FROM pgbench_accounts WHERE aid = 1")})
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			req := &qgate.Request{Protocol: t.Protocol, Target: t.Name, Environment: t.Environment, Principal: principal,
				SQL: g.SQL.AnalyzeSQL(texts[i%len(texts)])}
			if d := g.Decide(ctx, req); d.Action != qgate.ActionAllow {
				b.Fatalf("got %s", d.Action)
			}
		}
	}
	texts := func(n int, format string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf(format, 1_000_000+i)
		}
		return out
	}
	b.Run("exact_text_cached", func(b *testing.B) {
		decide(b, []string{"SELECT abalance FROM pgbench_accounts WHERE aid = 42"})
	})
	b.Run("same_shape_other_literal", func(b *testing.B) {
		// 100k distinct literals: far more than the exact-text cache holds.
		decide(b, texts(100_000, "SELECT abalance FROM pgbench_accounts WHERE aid = %d"))
	})
	b.Run("uncached", func(b *testing.B) {
		// A new table name each time: a new shape, so a full parse.
		decide(b, texts(max(b.N, 1), "SELECT abalance FROM pgbench_accounts_%d WHERE aid = 42"))
	})
}

// TestShape_DeepNesting checks that a grant for a harmless query cannot
// cover a harmful one hidden below pg_query's fingerprint depth limit.
func TestShape_DeepNesting(t *testing.T) {
	g, cfg := MustGate(t, nil)
	deep := func(inner string) string {
		return "SELECT " + strings.Repeat("abs(", 120) + inner + strings.Repeat(")", 120)
	}
	harmless, _, _ := g.Evaluate(context.Background(), gate.Input{Target: cfg.Target("db"), SQL: deep("length('x')")})
	harmful, _, _ := g.Evaluate(context.Background(), gate.Input{Target: cfg.Target("db"), SQL: deep("nextval('s')")})
	if harmless.SQL.ParseError != "" || harmful.SQL.ParseError != "" {
		t.Fatalf("parser refused the nesting: %s", harmless.SQL.ParseError)
	}
	if harmless.SQL.Fingerprint != harmful.SQL.Fingerprint {
		t.Logf("fingerprints differ already; the shape check below still applies")
	}
	if gate.Shape(harmless) == gate.Shape(harmful) {
		t.Fatalf("same shape %q for a harmless and a harmful query", gate.Shape(harmless))
	}
}
