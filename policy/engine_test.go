package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/policy"
)

func MustEngine(tb testing.TB, defaults map[string]qgate.Action, ps ...*qgate.Policy) *policy.Engine {
	tb.Helper()
	e, err := policy.New(ps, defaults, qgate.ReviewSpec{Approvers: []string{"admins"}, Quorum: 1, Timeout: time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func sqlReq(env string, a qgate.SQLAnalysis) *qgate.Request {
	return &qgate.Request{Protocol: qgate.ProtocolPostgres, Target: "db", Environment: env, SQL: &a,
		Principal: qgate.Principal{Identity: "alice", Roles: []string{"dev"}, Groups: []string{"dba"}}}
}

func TestEngine_Decide(t *testing.T) {
	deny := &qgate.Policy{Name: "no-ddl", When: "sql.ddl", Action: qgate.ActionDeny, Message: "no DDL"}
	review := &qgate.Policy{Name: "writes", When: "!sql.read_only", Action: qgate.ActionReview,
		Review: &qgate.ReviewSpec{Approvers: []string{"dba"}, Quorum: 2, Timeout: 15 * time.Minute}}
	review2 := &qgate.Policy{Name: "big-writes", When: "sql.writes && sql.multi", Action: qgate.ActionReview,
		Review: &qgate.ReviewSpec{Approvers: []string{"security"}, Quorum: 1, Timeout: 5 * time.Minute}}
	allow := &qgate.Policy{Name: "reads", When: "sql.read_only", Action: qgate.ActionAllow}
	prodOnly := &qgate.Policy{Name: "prod-only", Environments: []string{"prod"}, When: "true", Action: qgate.ActionDeny}
	e := MustEngine(t, map[string]qgate.Action{"dev": qgate.ActionAllow}, deny, review, review2, allow, prodOnly)

	t.Run("Allow", func(t *testing.T) {
		d := e.Decide(sqlReq("dev", qgate.SQLAnalysis{ReadOnly: true}))
		if d.Action != qgate.ActionAllow || len(d.Matched) != 1 || d.Matched[0].Name != "reads" || d.Default {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("DenyBeatsReview", func(t *testing.T) {
		d := e.Decide(sqlReq("dev", qgate.SQLAnalysis{DDL: true, Writes: true}))
		if d.Action != qgate.ActionDeny || d.Message != "no DDL" || len(d.Matched) != 2 {
			t.Fatalf("got %+v", d)
		}
		if len(d.Requirements) != 0 {
			t.Fatalf("a deny has no review requirements, got %+v", d.Requirements)
		}
	})
	t.Run("EveryReviewPolicyRequired", func(t *testing.T) {
		d := e.Decide(sqlReq("dev", qgate.SQLAnalysis{Writes: true, Multi: true}))
		if d.Action != qgate.ActionReview || len(d.Requirements) != 2 {
			t.Fatalf("got %+v", d)
		}
		if r := d.Requirements[1]; r.Policy != "writes" || r.Quorum != 2 || r.Approvers[0] != "dba" {
			t.Fatalf("requirement: got %+v", r)
		}
		if got := d.Timeout(time.Hour); got != 5*time.Minute {
			t.Fatalf("timeout: got %v, want the shortest, 5m", got)
		}
	})
	t.Run("ScopedByEnvironment", func(t *testing.T) {
		d := e.Decide(sqlReq("prod", qgate.SQLAnalysis{ReadOnly: true}))
		if d.Action != qgate.ActionDeny {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("EnvironmentDefault", func(t *testing.T) {
		e := MustEngine(t, map[string]qgate.Action{"dev": qgate.ActionAllow, "staging": qgate.ActionDeny})
		if d := e.Decide(sqlReq("dev", qgate.SQLAnalysis{})); d.Action != qgate.ActionAllow || !d.Default {
			t.Fatalf("dev: got %+v", d)
		}
		if d := e.Decide(sqlReq("staging", qgate.SQLAnalysis{})); d.Action != qgate.ActionDeny || !strings.Contains(d.Message, "default") {
			t.Fatalf("staging: got %+v", d)
		}
	})
	t.Run("UnknownEnvironmentIsReview", func(t *testing.T) {
		d := MustEngine(t, nil).Decide(sqlReq("qa", qgate.SQLAnalysis{ReadOnly: true}))
		if d.Action != qgate.ActionReview || !d.Default || len(d.Requirements) != 1 || d.Requirements[0].Approvers[0] != "admins" {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("ParseErrorDenied", func(t *testing.T) {
		d := MustEngine(t, map[string]qgate.Action{"dev": qgate.ActionAllow}, &qgate.Policy{Name: "all", When: "true", Action: qgate.ActionAllow}).
			Decide(sqlReq("dev", qgate.SQLAnalysis{ParseError: `syntax error at or near "SELEC"`}))
		if d.Action != qgate.ActionDeny || !strings.Contains(d.Message, "SELEC") || len(d.Matched) != 0 {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("AmbiguousPathDenied", func(t *testing.T) {
		d := MustEngine(t, map[string]qgate.Action{"dev": qgate.ActionAllow}, &qgate.Policy{Name: "all", When: "true", Action: qgate.ActionAllow}).
			Decide(&qgate.Request{Environment: "dev", HTTP: &qgate.HTTPAnalysis{Method: "GET", Ambiguous: true}})
		if d.Action != qgate.ActionDeny {
			t.Fatalf("got %+v", d)
		}
	})
}

// TestEngine_ErrorsFailClosed checks that a condition failing at run time
// can refuse but never allow.
func TestEngine_ErrorsFailClosed(t *testing.T) {
	missing := "http.headers['x-team'] == 'payments'"
	allow := &qgate.Policy{Name: "team-allow", When: missing, Action: qgate.ActionAllow}
	deny := &qgate.Policy{Name: "team-deny", When: missing, Action: qgate.ActionDeny}
	req := &qgate.Request{Environment: "dev", HTTP: &qgate.HTTPAnalysis{Method: "GET", Path: "/", Headers: map[string]string{}}}

	d := MustEngine(t, map[string]qgate.Action{"dev": qgate.ActionReview}, allow).Decide(req)
	if d.Action != qgate.ActionReview || len(d.Matched) != 0 {
		t.Fatalf("erroring allow: got %+v", d)
	}
	if d.Risk.Level != qgate.SeverityHigh || d.Risk.Findings[0].Code != "policy.error" {
		t.Fatalf("erroring allow: want a policy.error finding, got %+v", d.Risk)
	}
	d = MustEngine(t, map[string]qgate.Action{"dev": qgate.ActionAllow}, deny).Decide(req)
	if d.Action != qgate.ActionDeny {
		t.Fatalf("erroring deny: got %+v", d)
	}
}

func TestEngine_Variables(t *testing.T) {
	at := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	req := &qgate.Request{
		ID: "req_1", Protocol: qgate.ProtocolPostgres, Target: "db", Environment: "prod", SourceIP: "10.1.2.3", Time: at,
		Principal: qgate.Principal{TokenID: "tok", TokenName: "laptop", Identity: "alice", Roles: []string{"analyst"}, Groups: []string{"dba"}},
		SQL: &qgate.SQLAnalysis{Text: "DELETE FROM t", Fingerprint: "abc", Kinds: []string{"delete"}, Tables: []string{"public.t"},
			Functions: []string{}, Writes: true,
			Statements: []qgate.Statement{{Kind: qgate.KindDelete, Command: "DELETE", Tables: []string{"public.t"}}},
			Findings:   []qgate.Finding{{Code: "sql.write_without_where", Severity: qgate.SeverityHigh, Start: 0, End: 13}}},
	}
	for _, expr := range []string{
		"request.id == 'req_1' && request.protocol == 'postgres' && request.target == 'db' && request.environment == 'prod'",
		"request.source_ip.startsWith('10.') && request.time.getHours('UTC') == 3",
		"token.id == 'tok' && token.name == 'laptop' && token.identity == 'alice' && 'analyst' in token.roles && 'dba' in token.groups",
		"sql.text == 'DELETE FROM t' && sql.fingerprint == 'abc' && sql.kinds == ['delete'] && 'public.t' in sql.tables",
		"sql.writes && !sql.read_only && !sql.ddl && !sql.multi && sql.functions.size() == 0",
		"sql.statements.exists(s, s.kind == 'delete' && s.command == 'DELETE' && !s.has_where && !s.has_limit && !s.read_only)",
		"risk.level == 'high' && risk.findings.exists(f, f.code == 'sql.write_without_where' && f.severity == 'high' && f.end == 13)",
		"http.method == '' && !http.graphql.present && http.graphql.operations.size() == 0 && http.headers.size() == 0",
	} {
		e := MustEngine(t, map[string]qgate.Action{"prod": qgate.ActionDeny}, &qgate.Policy{Name: "p", When: expr, Action: qgate.ActionAllow})
		if d := e.Decide(req); d.Action != qgate.ActionAllow {
			t.Errorf("%s: did not hold (%+v)", expr, d)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct{ expr, want string }{
		{"sql.read_only", ""},
		{"sqll.read_only", "1:1: undeclared reference to 'sqll'"},
		{"sql.read_onyl", "1:4: undefined field 'read_onyl'"},
		{"sql.tables", "condition must be a bool"},
		{"sql.read_only &&", "1:17: Syntax error"},
		{"token.roles.contains('x')", "found no matching overload"},
	} {
		err := policy.Check(tt.expr)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tt.expr, err)
			}
			continue
		}
		var ce *policy.CheckError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.expr, err, tt.want)
		}
	}
}

// TestEngine_CostLimit checks that a pathological condition is stopped.
func TestEngine_CostLimit(t *testing.T) {
	expr := "sql.tables.all(a, sql.tables.all(b, sql.tables.all(c, a + b + c != 'x')))"
	e := MustEngine(t, map[string]qgate.Action{"dev": qgate.ActionAllow}, &qgate.Policy{Name: "slow", When: expr, Action: qgate.ActionDeny})
	tables := make([]string, 200)
	for i := range tables {
		tables[i] = strings.Repeat("t", i)
	}
	d := e.Decide(sqlReq("dev", qgate.SQLAnalysis{Tables: tables}))
	if d.Action != qgate.ActionDeny || d.Risk.Findings[0].Code != "policy.error" || !strings.Contains(d.Risk.Findings[0].Message, "cost") {
		t.Fatalf("got %+v", d)
	}
}
