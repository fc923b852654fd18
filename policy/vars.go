package policy

import (
	"reflect"
	"time"

	"github.com/qgate/qgate"
)

// The CEL variables. Field names follow the product contract through cel
// tags; these types are internal so no CEL type leaks from this package.

type requestVar struct {
	ID          string    `cel:"id"`
	Protocol    string    `cel:"protocol"`
	Target      string    `cel:"target"`
	Environment string    `cel:"environment"`
	SourceIP    string    `cel:"source_ip"`
	Time        time.Time `cel:"time"`
}

type tokenVar struct {
	ID       string   `cel:"id"`
	Name     string   `cel:"name"`
	Identity string   `cel:"identity"`
	Roles    []string `cel:"roles"`
	Groups   []string `cel:"groups"`
}

type sqlVar struct {
	Text        string         `cel:"text"`
	Fingerprint string         `cel:"fingerprint"`
	Statements  []statementVar `cel:"statements"`
	Kinds       []string       `cel:"kinds"`
	Tables      []string       `cel:"tables"`
	Functions   []string       `cel:"functions"`
	ReadOnly    bool           `cel:"read_only"`
	Writes      bool           `cel:"writes"`
	DDL         bool           `cel:"ddl"`
	Multi       bool           `cel:"multi"`
}

type statementVar struct {
	Kind      string   `cel:"kind"`
	Command   string   `cel:"command"`
	Tables    []string `cel:"tables"`
	Functions []string `cel:"functions"`
	HasWhere  bool     `cel:"has_where"`
	HasLimit  bool     `cel:"has_limit"`
	ReadOnly  bool     `cel:"read_only"`
}

type httpVar struct {
	Method  string              `cel:"method"`
	Path    string              `cel:"path"`
	Query   map[string][]string `cel:"query"`
	Headers map[string]string   `cel:"headers"`
	Body    any                 `cel:"body"`
	GraphQL graphqlVar          `cel:"graphql"`
}

type graphqlVar struct {
	Present    bool           `cel:"present"`
	ReadOnly   bool           `cel:"read_only"`
	Operations []operationVar `cel:"operations"`
}

type operationVar struct {
	Type   string   `cel:"type"`
	Name   string   `cel:"name"`
	Fields []string `cel:"fields"`
}

type riskVar struct {
	Level    string       `cel:"level"`
	Findings []findingVar `cel:"findings"`
}

type findingVar struct {
	Code     string `cel:"code"`
	Severity string `cel:"severity"`
	Message  string `cel:"message"`
	Start    int    `cel:"start"`
	End      int    `cel:"end"`
}

var varTypes = []any{
	reflect.TypeOf(requestVar{}), reflect.TypeOf(tokenVar{}), reflect.TypeOf(sqlVar{}),
	reflect.TypeOf(statementVar{}), reflect.TypeOf(httpVar{}), reflect.TypeOf(graphqlVar{}),
	reflect.TypeOf(operationVar{}), reflect.TypeOf(riskVar{}), reflect.TypeOf(findingVar{}),
}

var emptyStrings = []string{}

func nonNil(s []string) []string {
	if s == nil {
		return emptyStrings
	}
	return s
}

func newSQLVar(a *qgate.SQLAnalysis) *sqlVar {
	if a == nil {
		return &sqlVar{Statements: []statementVar{}, Kinds: emptyStrings, Tables: emptyStrings, Functions: emptyStrings}
	}
	v := &sqlVar{
		Text: a.Text, Fingerprint: a.Fingerprint,
		Kinds: nonNil(a.Kinds), Tables: nonNil(a.Tables), Functions: nonNil(a.Functions),
		ReadOnly: a.ReadOnly && a.ParseError == "", Writes: a.Writes, DDL: a.DDL, Multi: a.Multi,
		Statements: make([]statementVar, len(a.Statements)),
	}
	for i, s := range a.Statements {
		v.Statements[i] = statementVar{
			Kind: string(s.Kind), Command: s.Command, Tables: nonNil(s.Tables), Functions: nonNil(s.Functions),
			HasWhere: s.HasWhere, HasLimit: s.HasLimit, ReadOnly: s.ReadOnly,
		}
	}
	return v
}

var emptyHTTP = &httpVar{Query: map[string][]string{}, Headers: map[string]string{}, GraphQL: graphqlVar{Operations: []operationVar{}}}

func newHTTPVar(a *qgate.HTTPAnalysis) *httpVar {
	if a == nil {
		return emptyHTTP
	}
	v := &httpVar{
		Method: a.Method, Path: a.Path, Query: a.Query, Headers: a.Headers, Body: a.Body,
		GraphQL: graphqlVar{
			Present:    a.GraphQL.Present,
			ReadOnly:   a.GraphQL.ReadOnly && a.GraphQL.ParseError == "",
			Operations: make([]operationVar, len(a.GraphQL.Operations)),
		},
	}
	if v.Query == nil {
		v.Query = map[string][]string{}
	}
	if v.Headers == nil {
		v.Headers = map[string]string{}
	}
	for i, op := range a.GraphQL.Operations {
		v.GraphQL.Operations[i] = operationVar{Type: op.Type, Name: op.Name, Fields: nonNil(op.Fields)}
	}
	return v
}

func newRiskVar(r qgate.Risk) *riskVar {
	v := &riskVar{Level: r.Level.String(), Findings: make([]findingVar, len(r.Findings))}
	for i, f := range r.Findings {
		v.Findings[i] = findingVar{Code: f.Code, Severity: f.Severity.String(), Message: f.Message, Start: f.Start, End: f.End}
	}
	return v
}

func newRequestVar(r *qgate.Request) *requestVar {
	return &requestVar{ID: r.ID, Protocol: string(r.Protocol), Target: r.Target, Environment: r.Environment, SourceIP: r.SourceIP, Time: r.Time}
}

func newTokenVar(p *qgate.Principal) *tokenVar {
	return &tokenVar{ID: p.TokenID, Name: p.TokenName, Identity: p.Identity, Roles: nonNil(p.Roles), Groups: nonNil(p.Groups)}
}
