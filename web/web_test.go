package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	pganalyze "github.com/qgate/qgate/analyze/postgres"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/gate"
	"github.com/qgate/qgate/policy"
	"github.com/qgate/qgate/review"
	"github.com/qgate/qgate/store/sqlite"
	"github.com/qgate/qgate/web"
)

// groups is who is in which group in every test.
var groups = map[string][]string{
	"dba":    {"alice", "bob", "carol"},
	"sre":    {"carol", "dave"},
	"admins": {"root"},
	"crowd":  {"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"},
}

// The configuration every test's server shows and checks against.
var (
	testTargets = []*qgate.Target{
		{Name: "billing-db", Protocol: qgate.ProtocolPostgres, Environment: "prod", Listen: "127.0.0.1:6432",
			Postgres: &qgate.PostgresUpstream{Address: "10.0.0.5:5432", Database: "billing", User: "app", Password: "upstream-secret"}},
		{Name: "payments-api", Protocol: qgate.ProtocolHTTP, Environment: "staging", Listen: "127.0.0.1:9001",
			HTTP: &qgate.HTTPUpstream{URL: "http://10.0.0.6:7000", Headers: map[string]string{"Authorization": "Bearer upstream-key"}}, GraphQLPath: "/graphql"},
	}
	testPolicies = []*qgate.Policy{
		{Name: "no-ddl-in-prod", Environments: []string{"prod"}, When: "sql.ddl", Action: qgate.ActionDeny, Message: "DDL goes through migrations"},
		{Name: "prod-writes-need-a-dba", Environments: []string{"prod"}, When: "!sql.read_only", Action: qgate.ActionReview,
			Review: &qgate.ReviewSpec{Approvers: []string{"dba"}, Quorum: 2, Timeout: 10 * time.Minute}},
		{Name: "reads", When: "sql.read_only", Action: qgate.ActionAllow},
		{Name: "api-deletes", Targets: []string{"payments-api"}, When: "http.method == 'DELETE' && 'ops' in token.roles", Action: qgate.ActionReview,
			Review: &qgate.ReviewSpec{Approvers: []string{"sre"}, Quorum: 1}},
	}
	testDefaults = map[string]qgate.Action{"prod": qgate.ActionReview, "staging": qgate.ActionAllow}
)

func groupsOf(identity string) []string {
	var gs []string
	for g, members := range groups {
		if slices.Contains(members, identity) {
			gs = append(gs, g)
		}
	}
	slices.Sort(gs)
	return gs
}

// Env is a running API on a real store, authenticator, audit log and
// review engine, with a token for each identity.
type Env struct {
	Store  *sqlite.DB
	Auth   *auth.Authenticator
	Log    *audit.Log
	Engine *review.Engine
	Server *web.Server
	HTTP   *httptest.Server
	tokens map[string]string // identity → whole token
}

// MustEnv starts an Env; everything is closed when the test ends.
func MustEnv(tb testing.TB) *Env {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "qgate.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	rand.Read(key)
	a := auth.New(st, key)
	log := audit.NewLog(st, audit.LogOptions{})
	tb.Cleanup(func() { log.Close() })
	eng := review.New(st, st, log)
	eng.PublicURL = "http://qgate.test"
	s := web.New(eng, st, a, log)
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s.GroupsOf = groupsOf
	s.Admins = func(id string) bool { return slices.Contains(groupsOf(id), "admins") }
	s.Config = web.NewConfig(testPolicies, testDefaults, qgate.ReviewSpec{Quorum: 1, Timeout: 15 * time.Minute}, testTargets, groups)
	engine, err := policy.New(testPolicies, testDefaults, qgate.ReviewSpec{Quorum: 1})
	if err != nil {
		tb.Fatal(err)
	}
	s.Checker = gate.New(pganalyze.New(pganalyze.Options{}), engine, nil)
	hs := httptest.NewServer(s.Handler())
	tb.Cleanup(hs.Close)
	tb.Cleanup(s.Close) // runs first: ends event streams so hs.Close does not wait
	e := &Env{Store: st, Auth: a, Log: log, Engine: eng, Server: s, HTTP: hs, tokens: map[string]string{}}
	for _, id := range []string{"rita", "alice", "bob", "carol", "dave", "erin", "root"} {
		e.MustToken(tb, id)
	}
	return e
}

// MustToken issues a token for identity and keeps it for Do.
func (e *Env) MustToken(tb testing.TB, identity string) string {
	tb.Helper()
	tok, _, err := e.Auth.Issue(context.Background(), auth.IssueRequest{Identity: identity, Name: identity + "-laptop"})
	if err != nil {
		tb.Fatal(err)
	}
	e.tokens[identity] = tok
	return tok
}

// Token returns identity's whole token.
func (e *Env) Token(identity string) string { return e.tokens[identity] }

// TokenID returns the public id of identity's token.
func (e *Env) TokenID(tb testing.TB, identity string) string {
	id, _, err := auth.Parse(e.tokens[identity])
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

const payload = "UPDATE invoices SET paid = true"

// MustReview creates a pending review requested by requester. With no
// requirements it needs one dba.
func (e *Env) MustReview(tb testing.TB, requester string, reqs ...qgate.ReviewRequirement) *qgate.Review {
	tb.Helper()
	if len(reqs) == 0 {
		reqs = []qgate.ReviewRequirement{{Policy: "p", Approvers: []string{"dba"}, Quorum: 1}}
	}
	var matched []qgate.MatchedPolicy
	for _, r := range reqs {
		matched = append(matched, qgate.MatchedPolicy{Name: r.Policy, Action: qgate.ActionReview})
	}
	req := &qgate.Request{ID: "req-" + requester, Protocol: qgate.ProtocolPostgres, Target: "billing-db", Environment: "prod",
		SourceIP: "10.1.2.3", Time: time.Now(), Principal: qgate.Principal{TokenID: e.TokenID(tb, requester), Identity: requester},
		SQL: &qgate.SQLAnalysis{Text: payload}}
	r, err := e.Engine.Create(context.Background(), review.Request{
		Request: req,
		Decision: qgate.Decision{Action: qgate.ActionReview, Matched: matched, Requirements: reqs,
			Risk: qgate.NewRisk([]qgate.Finding{{Code: "no-where", Severity: qgate.SeverityHigh,
				Message: "UPDATE without WHERE", Start: 0, End: len(payload)}})},
		Payload: payload, PayloadHash: review.Hash(payload), Shape: "fp-update-invoices",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// Do sends one request as identity ("" for none) and returns the status
// and body.
func (e *Env) Do(tb testing.TB, identity, method, path, body string) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.HTTP.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if identity != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[identity])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, b
}

// MustDo is Do that fails unless the status is want, and decodes the body
// into out (if not nil).
func (e *Env) MustDo(tb testing.TB, want int, out any, identity, method, path, body string) {
	tb.Helper()
	code, b := e.Do(tb, identity, method, path, body)
	if code != want {
		tb.Fatalf("%s %s as %q: got %d, want %d: %s", method, path, identity, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("%s %s: decode: %v: %s", method, path, err, b)
		}
	}
}

// MustProblem checks a problem response's status, code and detail.
func (e *Env) MustProblem(tb testing.TB, want int, code, detail string, identity, method, path, body string) web.Problem {
	tb.Helper()
	var p web.Problem
	e.MustDo(tb, want, &p, identity, method, path, body)
	if p.Status != want || p.Code != code || !strings.Contains(p.Detail, detail) || p.Type == "" || p.Title == "" {
		tb.Fatalf("%s %s: got problem %+v, want status %d code %s detail containing %q", method, path, p, want, code, detail)
	}
	return p
}

// AuditEvents returns the stored events of type typ.
func (e *Env) AuditEvents(tb testing.TB, typ string) []*qgate.AuditEvent {
	tb.Helper()
	es, err := e.Store.ListAudit(context.Background(), qgate.AuditFilter{Type: typ})
	if err != nil {
		tb.Fatal(err)
	}
	return es
}

func jsonBody(tb testing.TB, v any) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		tb.Fatal(err)
	}
	return buf.String()
}
