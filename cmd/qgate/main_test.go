package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// run executes the qgate CLI in-process.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// MustConfig writes a configuration using a fresh SQLite store.
func MustConfig(tb testing.TB, policies string) string {
	tb.Helper()
	dir := tb.TempDir()
	doc := `
store: {driver: sqlite, dsn: ` + filepath.Join(dir, "qgate.db") + `}
targets:
  - name: db
    protocol: postgres
    environment: prod
    listen: 127.0.0.1:16432
    upstream: {address: 127.0.0.1:5432, database: app, user: app}
  - name: api
    protocol: http
    environment: staging
    listen: 127.0.0.1:19001
    upstream: {url: http://127.0.0.1:7000}
    graphql: {path: /graphql}
groups:
  dba: [alice, bob]
policies:
` + policies + `
defaults:
  prod: review
  staging: allow
`
	path := filepath.Join(dir, "qgate.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

const stdPolicies = `
  - {name: no-ddl, environments: [prod], when: sql.ddl, action: deny, message: DDL goes through migrations}
  - {name: writes, environments: [prod], when: '!sql.read_only', action: review, review: {approvers: [dba]}}
  - {name: reads, when: sql.read_only, action: allow}
  - {name: api-deletes, targets: [api], when: "http.method == 'DELETE'", action: review, review: {approvers: [dba]}}
`

func TestCheck_SQL(t *testing.T) {
	cfg := MustConfig(t, stdPolicies)
	for _, tt := range []struct {
		name, sql, want string
		readOnly        bool
	}{
		{"Read", "SELECT * FROM invoices WHERE id = 1", "allow", true},
		{"Write", "UPDATE invoices SET paid = true WHERE id = 1", "review", false},
		{"DDL", "DROP TABLE invoices", "deny", false},
		{"ParseError", "SELEC 1", "deny", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, "", "check", "--config", cfg, "--target", "db", "--sql", tt.sql)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got struct {
				Decision string
				Matched  []struct{ Name, Action string }
				Risk     struct{ Level string }
				SQL      struct {
					ReadOnly   bool `json:"read_only"`
					Statements []struct{ Kind string }
				}
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output is not one JSON object: %v\n%s", err, out)
			}
			if got.Decision != tt.want || got.SQL.ReadOnly != tt.readOnly {
				t.Fatalf("got decision %s read_only %v, want %s %v\n%s", got.Decision, got.SQL.ReadOnly, tt.want, tt.readOnly, out)
			}
		})
	}
}

func TestCheck_SQLFromStdin(t *testing.T) {
	cfg := MustConfig(t, stdPolicies)
	out, errOut, code := run(t, "SELECT 1;\nDELETE FROM t;", "check", "--config", cfg, "--target", "db", "--sql", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"decision": "review"`) || !strings.Contains(out, `"multi": true`) {
		t.Fatalf("got %s", out)
	}
}

func TestCheck_HTTP(t *testing.T) {
	cfg := MustConfig(t, stdPolicies)
	out, errOut, code := run(t, "", "check", "--config", cfg, "--target", "api", "--method", "DELETE", "--path", "/v1/items/3",
		"--header", "X-HTTP-Method-Override: GET")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		Decision string
		HTTP     struct{ Method, Path string }
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Decision != "review" || got.HTTP.Method != "DELETE" || got.HTTP.Path != "/v1/items/3" {
		t.Fatalf("got %+v", got)
	}
}

func TestCheck_BadInput(t *testing.T) {
	cfg := MustConfig(t, stdPolicies)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"UnknownTarget", []string{"check", "--config", cfg, "--target", "nope", "--sql", "SELECT 1"}, `unknown target "nope"`},
		{"NoRequest", []string{"check", "--config", cfg, "--target", "db"}, "give either --sql or --method"},
		{"SQLToHTTPTarget", []string{"check", "--config", cfg, "--target", "api", "--sql", "SELECT 1"}, "speaks http"},
		{"BadFlag", []string{"check", "--nope"}, "unknown flag"},
		{"MissingConfig", []string{"check", "--config", "/nonexistent.yaml", "--target", "db", "--sql", "SELECT 1"}, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := run(t, "", tt.args...)
			if code != exitUsage {
				t.Fatalf("exit: got %d, want %d (%s)", code, exitUsage, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Fatalf("stderr lacks %q: %s", tt.want, errOut)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := MustConfig(t, stdPolicies)
	if out, errOut, code := run(t, "", "config", "validate", "--config", cfg); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("valid config: exit %d: %s %s", code, out, errOut)
	}
	bad := MustConfig(t, "  - {name: p, when: sql.read_onyl, action: allow}\n")
	_, errOut, code := run(t, "", "config", "validate", "--config", bad)
	if code != exitUsage || !regexp.MustCompile(`qgate.yaml:\d+: policy "p": when: column 4: undefined field 'read_onyl'`).MatchString(errOut) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestPolicyTest(t *testing.T) {
	out, errOut, code := run(t, "", "policy", "test", "../../policytest/testdata/prod-postgres/requests.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "passed, 0 failed") {
		t.Fatalf("got %s", out)
	}
	dir := t.TempDir()
	failing := filepath.Join(dir, "cases.yaml")
	os.WriteFile(failing, []byte("- name: deletes pass\n  target: db\n  sql: DELETE FROM t WHERE id = 1\n  expect: allow\n"), 0o600)
	out, _, code = run(t, "", "policy", "test", "--config", MustConfig(t, stdPolicies), failing)
	if code != exitError {
		t.Fatalf("failing case: exit %d, want %d\n%s", code, exitError, out)
	}
	if !strings.Contains(out, "FAIL  deletes pass") || !strings.Contains(out, "decision: got review, want allow") {
		t.Fatalf("no readable diff:\n%s", out)
	}
}

var tokenRE = regexp.MustCompile(`^qgt_[a-z2-7]{12}_[0-9A-Za-z]+$`)

func TestToken_Lifecycle(t *testing.T) {
	cfg := MustConfig(t, stdPolicies)
	out, errOut, code := run(t, "", "token", "create", "--config", cfg, "--identity", "alice", "--roles", "dba,oncall", "--ttl", "24h")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	secret := strings.TrimSuffix(out, "\n")
	if strings.Count(out, "\n") != 1 || !tokenRE.MatchString(secret) {
		t.Fatalf("create must print the token alone on stdout, got %q", out)
	}
	out, _, code = run(t, "", "token", "create", "--config", cfg, "--identity", "ci-bot", "--json")
	var created struct{ ID, Secret, Identity string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || code != 0 || created.Identity != "ci-bot" || !strings.Contains(created.Secret, created.ID) {
		t.Fatalf("create --json: exit %d, %v: %s", code, err, out)
	}
	out, _, _ = run(t, "", "token", "list", "--config", cfg)
	if !strings.Contains(out, created.ID) || !strings.Contains(out, "alice") || strings.Contains(out, secret) {
		t.Fatalf("list:\n%s", out)
	}
	if _, errOut, code := run(t, "", "token", "revoke", "--config", cfg, created.ID); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errOut)
	}
	out, _, _ = run(t, "", "token", "list", "--config", cfg, "--all", "--json")
	if !strings.Contains(out, `"status":"revoked"`) {
		t.Fatalf("revoked token not shown as revoked: %s", out)
	}
	out, errOut, code = run(t, "", "token", "rotate", "--config", cfg, strings.Split(secret, "_")[1], "--grace", "1h")
	if code != 0 || !tokenRE.MatchString(strings.TrimSpace(out)) || strings.TrimSpace(out) == secret {
		t.Fatalf("rotate: exit %d: %q %s", code, out, errOut)
	}
	if _, errOut, code := run(t, "", "token", "revoke", "--config", cfg, "nosuchtoken1"); code != exitError {
		t.Fatalf("revoke unknown: exit %d: %s", code, errOut)
	}
	// The store holds no secret anywhere.
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "qgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	secretPart := secret[strings.LastIndex(secret, "_")+1:]
	if bytes.Contains(raw, []byte(secretPart[:20])) {
		t.Fatal("the database file contains the token secret")
	}
}

func TestAudit_VerifyAndTamper(t *testing.T) {
	cfg := MustConfig(t, stdPolicies)
	for _, id := range []string{"alice", "bob", "carol"} {
		if _, errOut, code := run(t, "", "token", "create", "--config", cfg, "--identity", id); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	}
	out, errOut, code := run(t, "", "audit", "verify", "--config", cfg)
	if code != 0 || !strings.Contains(out, "audit chain OK: 3 records") {
		t.Fatalf("verify: exit %d: %s %s", code, out, errOut)
	}
	out, _, code = run(t, "", "audit", "list", "--config", cfg, "--identity", "bob")
	if code != 0 || !strings.Contains(out, "bob") || strings.Contains(out, "carol") {
		t.Fatalf("list --identity bob:\n%s", out)
	}
	out, _, code = run(t, "", "audit", "export", "--config", cfg)
	if code != 0 || strings.Count(out, "\n") != 3 {
		t.Fatalf("export: want 3 JSON lines, got:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil || e["hash"] == "" {
			t.Fatalf("export line %q: %v", line, err)
		}
	}
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "qgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_blocks SET events = replace(events, '"identity":"bob"', '"identity":"mallory"')`); err != nil {
		t.Fatal(err)
	}
	out, _, code = run(t, "", "audit", "verify", "--config", cfg)
	if code != exitError || !strings.Contains(out, "BROKEN at record 2") {
		t.Fatalf("tampered verify: exit %d: %s", code, out)
	}
}

// TestServe_LogLevel: a --log-level that is not a level is refused before
// anything starts.
func TestServe_LogLevel(t *testing.T) {
	cfg := MustConfig(t, stdPolicies)
	_, stderr, code := run(t, "", "serve", "--config", cfg, "--log-level", "loud")
	if code == 0 || !strings.Contains(stderr, "--log-level") || !strings.Contains(stderr, `"loud"`) {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}
