package web_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/web"
)

func TestPolicies(t *testing.T) {
	e := MustEnv(t)
	var got web.Config
	code, body := e.Do(t, "rita", "GET", "/api/v1/policies", "")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Policies) != 4 || got.Policies[0].Name != "no-ddl-in-prod" || got.Policies[0].Message != "DDL goes through migrations" ||
		got.Policies[0].Review != nil || !slices.Equal(got.Policies[0].Environments, []string{"prod"}) {
		t.Fatalf("policies: %+v", got.Policies)
	}
	p := got.Policies[1]
	if p.When != "!sql.read_only" || p.Action != qgate.ActionReview || p.Review == nil ||
		!slices.Equal(p.Review.Approvers, []string{"dba"}) || p.Review.Quorum != 2 || p.Review.Timeout != "10m0s" {
		t.Fatalf("review policy: %+v %+v", p, p.Review)
	}
	if got.Defaults["prod"] != qgate.ActionReview || got.Defaults["staging"] != qgate.ActionAllow || got.ReviewDefaults.Timeout != "15m0s" {
		t.Fatalf("defaults: %+v %+v", got.Defaults, got.ReviewDefaults)
	}
	if len(got.Targets) != 2 || got.Targets[0] != (web.TargetView{Name: "billing-db", Protocol: qgate.ProtocolPostgres, Environment: "prod"}) ||
		got.Targets[1].GraphQLPath != "/graphql" {
		t.Fatalf("targets: %+v", got.Targets)
	}
	// Addresses, upstream credentials and group members stay inside.
	for _, leak := range []string{"upstream-secret", "upstream-key", "10.0.0.5", "6432", "alice", "password"} {
		if strings.Contains(string(body), leak) {
			t.Fatalf("policies answer shows %q: %s", leak, body)
		}
	}
}

func TestCheck(t *testing.T) {
	e := MustEnv(t)
	t.Run("SQL", func(t *testing.T) {
		var out map[string]any
		e.MustDo(t, http.StatusOK, &out, "rita", "POST", "/api/v1/check", `{"target": "billing-db", "sql": "DELETE FROM invoices"}`)
		if out["decision"] != "review" || out["default"] != false {
			t.Fatalf("got %v", out)
		}
		matched := out["matched"].([]any)
		if len(matched) != 1 || matched[0].(map[string]any)["name"] != "prod-writes-need-a-dba" {
			t.Fatalf("matched %v", matched)
		}
		req := out["requirements"].([]any)[0].(map[string]any)
		if req["quorum"] != 2.0 {
			t.Fatalf("requirements %v", req)
		}
		risk := out["risk"].(map[string]any)
		if risk["level"] == "none" || len(risk["findings"].([]any)) == 0 {
			t.Fatalf("risk %v", risk)
		}
		sql := out["sql"].(map[string]any)
		if sql["text"] != "DELETE FROM invoices" || sql["read_only"] != false {
			t.Fatalf("sql %v", sql)
		}
		tok := out["token"].(map[string]any)
		if tok["identity"] != "rita" {
			t.Fatalf("token %v", tok)
		}
		if _, ok := out["http"]; ok {
			t.Fatal("an SQL check has an http object")
		}
	})
	t.Run("Deny", func(t *testing.T) {
		var out map[string]any
		e.MustDo(t, http.StatusOK, &out, "rita", "POST", "/api/v1/check", `{"target": "billing-db", "sql": "DROP TABLE invoices"}`)
		if out["decision"] != "deny" || out["message"] != "DDL goes through migrations" {
			t.Fatalf("got %v", out)
		}
	})
	t.Run("HTTPWithRolesAndGroups", func(t *testing.T) {
		var out map[string]any
		body := `{"target": "payments-api", "method": "delete", "path": "/v1/charges/42?x=1", "headers": ["X-Trace: 1"], "roles": ["ops"]}`
		e.MustDo(t, http.StatusOK, &out, "carol", "POST", "/api/v1/check", body)
		if out["decision"] != "review" {
			t.Fatalf("got %v", out)
		}
		h := out["http"].(map[string]any)
		if h["method"] != "DELETE" || h["path"] != "/v1/charges/42" || h["headers"].(map[string]any)["x-trace"] != "1" {
			t.Fatalf("http %v", h)
		}
		tok := out["token"].(map[string]any)
		if groups := tok["groups"].([]any); len(groups) != 2 || groups[0] != "dba" || groups[1] != "sre" {
			t.Fatalf("groups %v", tok)
		}
		// Without the role the staging default allows it.
		e.MustDo(t, http.StatusOK, &out, "carol", "POST", "/api/v1/check", `{"target": "payments-api", "method": "DELETE", "path": "/v1/charges/42"}`)
		if out["decision"] != "allow" || out["default"] != true {
			t.Fatalf("without the role: %v", out)
		}
	})
	t.Run("AsSomebodyElse", func(t *testing.T) {
		var out map[string]any
		e.MustDo(t, http.StatusOK, &out, "alice", "POST", "/api/v1/check", `{"target": "billing-db", "sql": "SELECT 1", "identity": "rita"}`)
		if out["token"].(map[string]any)["identity"] != "rita" {
			t.Fatalf("got %v", out)
		}
		e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "somebody else", "rita", "POST", "/api/v1/check",
			`{"target": "billing-db", "sql": "SELECT 1", "identity": "alice"}`)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "unknown target", "rita", "POST", "/api/v1/check", `{"target": "nope", "sql": "SELECT 1"}`)
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "give SQL", "rita", "POST", "/api/v1/check", `{"target": "billing-db", "method": "GET", "path": "/"}`)
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "path must start with /", "rita", "POST", "/api/v1/check", `{"target": "payments-api", "method": "GET", "path": "x"}`)
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "unknown field", "rita", "POST", "/api/v1/check", `{"target": "billing-db", "query": "x"}`)
	})
	// Nothing was recorded: a check is not a request.
	if evs := e.AuditEvents(t, ""); len(evs) != 0 {
		t.Fatalf("audit: %+v", evs)
	}
}
