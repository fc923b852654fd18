package policy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/qgate/qgate"
)

// CostLimit bounds the work one condition may do per request.
const CostLimit = 100_000

// Engine decides requests against compiled policies. It is immutable after
// New and safe for concurrent use.
type Engine struct {
	rules          []rule
	defaults       map[string]qgate.Action
	reviewDefaults qgate.ReviewSpec
}

type rule struct {
	policy  *qgate.Policy
	program cel.Program
}

var celEnv = mustEnv()

func mustEnv() *cel.Env {
	env, err := cel.NewEnv(
		ext.NativeTypes(append([]any{ext.ParseStructTags(true)}, varTypes...)...),
		ext.Strings(),
		ext.Sets(),
		ext.Lists(),
		cel.Variable("request", cel.ObjectType("policy.requestVar")),
		cel.Variable("token", cel.ObjectType("policy.tokenVar")),
		cel.Variable("sql", cel.ObjectType("policy.sqlVar")),
		cel.Variable("http", cel.ObjectType("policy.httpVar")),
		cel.Variable("risk", cel.ObjectType("policy.riskVar")),
	)
	if err != nil {
		panic(fmt.Sprintf("policy: build CEL environment: %v", err))
	}
	return env
}

// ExprError is a problem with one policy's condition. Line and Column are
// positions within the expression (1-based).
type ExprError struct {
	Line, Column int
	Message      string
}

func (e *ExprError) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
}

// CheckError lists every problem found in one expression.
type CheckError struct {
	Errors []*ExprError
}

func (e *CheckError) Error() string {
	s := make([]string, len(e.Errors))
	for i, x := range e.Errors {
		s[i] = x.Error()
	}
	return strings.Join(s, "; ")
}

// compile parses and type-checks expr; its result must be a bool.
func compile(expr string) (cel.Program, error) {
	ast, iss := celEnv.Compile(expr)
	if iss.Err() != nil {
		ce := &CheckError{}
		for _, e := range iss.Errors() {
			loc := e.Location
			ce.Errors = append(ce.Errors, &ExprError{Line: loc.Line(), Column: loc.Column() + 1, Message: e.Message})
		}
		return nil, ce
	}
	if ast.OutputType() != cel.BoolType {
		return nil, &CheckError{Errors: []*ExprError{{Line: 1, Column: 1, Message: fmt.Sprintf("condition must be a bool, not %s", ast.OutputType())}}}
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if !boundedCost(ast) {
		opts = append(opts, cel.CostLimit(CostLimit))
	}
	prg, err := celEnv.Program(ast, opts...)
	if err != nil {
		return nil, fmt.Errorf("plan condition: %w", err)
	}
	return prg, nil
}

// boundedCost reports whether a checked condition can never cost more
// than CostLimit, whatever the request holds: its worst case, estimated
// from the same cost model the runtime tracker charges, is within the
// limit. Such a condition (most are: comparisons with constants) runs
// without a cost tracker, which allocates on every evaluation. A
// condition over sizes the estimate cannot bound (a loop over a list, a
// function of the whole body) keeps the tracker and the limit.
func boundedCost(ast *cel.Ast) bool {
	est, err := celEnv.EstimateCost(ast, nil)
	return err == nil && est.Max <= CostLimit
}

// Check compiles and type-checks one condition. It returns a *CheckError
// naming every problem with its position in the expression.
func Check(expr string) error {
	_, err := compile(expr)
	return err
}

// New compiles every policy's condition. defaults maps environments to
// their action when no policy matches; rd applies to reviews that come from
// such a default.
func New(policies []*qgate.Policy, defaults map[string]qgate.Action, rd qgate.ReviewSpec) (*Engine, error) {
	e := &Engine{defaults: defaults, reviewDefaults: rd}
	var errs []error
	for _, p := range policies {
		prg, err := compile(p.When)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %q: %w", p.Name, err))
			continue
		}
		e.rules = append(e.rules, rule{policy: p, program: prg})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return e, nil
}

// activation gives CEL the variables of one request, each built the
// first time a condition names it (most conditions name one or two).
type activation struct {
	req  *qgate.Request
	risk qgate.Risk

	requestVar *requestVar
	tokenVar   *tokenVar
	sqlVar     *sqlVar
	httpVar    *httpVar
	riskVar    *riskVar
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		if a.requestVar == nil {
			a.requestVar = newRequestVar(a.req)
		}
		return a.requestVar, true
	case "token":
		if a.tokenVar == nil {
			a.tokenVar = newTokenVar(&a.req.Principal)
		}
		return a.tokenVar, true
	case "sql":
		if a.sqlVar == nil {
			a.sqlVar = newSQLVar(a.req.SQL)
		}
		return a.sqlVar, true
	case "http":
		if a.httpVar == nil {
			a.httpVar = newHTTPVar(a.req.HTTP)
		}
		return a.httpVar, true
	case "risk":
		if a.riskVar == nil {
			a.riskVar = newRiskVar(a.risk)
		}
		return a.riskVar, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Decide returns the decision for req. It never fails: problems become a
// deny or a review, with a finding saying why.
func (e *Engine) Decide(req *qgate.Request) qgate.Decision {
	findings := req.Findings()
	if refusal, ok := refuseUnclassified(req); ok {
		return qgate.Decision{Action: qgate.ActionDeny, Matched: []qgate.MatchedPolicy{}, Risk: qgate.NewRisk(findings), Message: refusal}
	}
	var extra []qgate.Finding
	risk := qgate.NewRisk(findings)
	act := &activation{req: req, risk: risk}
	d := qgate.Decision{Matched: []qgate.MatchedPolicy{}}
	var reviews []*qgate.Policy // matching review policies, for requirements
	best := -1
	for i := range e.rules {
		r := &e.rules[i]
		p := r.policy
		if !p.AppliesTo(req.Target, req.Environment) {
			continue
		}
		out, _, err := r.program.Eval(act)
		matched := false
		if err != nil {
			// Fail closed: an erroring condition can refuse, never allow.
			matched = p.Action != qgate.ActionAllow
			extra = append(extra, qgate.Finding{Code: "policy.error", Severity: qgate.SeverityHigh,
				Message: fmt.Sprintf("policy %q could not be evaluated: %v", p.Name, err)})
		} else {
			b, ok := out.(types.Bool)
			matched = ok && bool(b)
		}
		if !matched {
			continue
		}
		d.Matched = append(d.Matched, qgate.MatchedPolicy{Name: p.Name, Action: p.Action})
		if p.Action == qgate.ActionReview {
			reviews = append(reviews, p)
		}
		if s := p.Action.Strength(); s > best {
			best = s
			d.Action = p.Action
		}
		if p.Action == qgate.ActionDeny && d.Message == "" {
			d.Message = p.Message
		}
	}
	if best < 0 {
		d.Default = true
		a, ok := e.defaults[req.Environment]
		if !ok {
			a = qgate.ActionReview
		}
		d.Action = a
	}
	if d.Action == qgate.ActionDeny && d.Message == "" {
		d.Message = deniedMessage(&d, req.Environment)
	}
	if d.Action == qgate.ActionReview {
		d.Requirements = e.requirements(reviews)
	}
	d.Risk = risk
	if len(extra) > 0 {
		d.Risk = qgate.NewRisk(append(append([]qgate.Finding{}, findings...), extra...))
	}
	return d
}

// requirements collects the approvals a review needs: one per matching
// review policy, or the review defaults when the review came from an
// environment default.
func (e *Engine) requirements(matched []*qgate.Policy) []qgate.ReviewRequirement {
	var reqs []qgate.ReviewRequirement
	for _, p := range matched {
		if p.Review != nil {
			reqs = append(reqs, qgate.ReviewRequirement{Policy: p.Name, Approvers: p.Review.Approvers,
				Quorum: p.Review.Quorum, Timeout: p.Review.Timeout, SlackMode: p.Review.Slack})
		}
	}
	if len(reqs) == 0 {
		rd := e.reviewDefaults
		reqs = append(reqs, qgate.ReviewRequirement{Policy: "defaults", Approvers: rd.Approvers, Quorum: max(rd.Quorum, 1), Timeout: rd.Timeout, SlackMode: rd.Slack})
	}
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].Policy < reqs[j].Policy })
	return reqs
}

func deniedMessage(d *qgate.Decision, env string) string {
	if d.Default {
		return fmt.Sprintf("denied by the default for environment %q", env)
	}
	names := make([]string, 0, len(d.Matched))
	for _, m := range d.Matched {
		if m.Action == qgate.ActionDeny {
			names = append(names, m.Name)
		}
	}
	return "denied by policy " + strings.Join(names, ", ")
}

// refuseUnclassified reports requests that no policy may see, because
// qgate could not tell what they would do.
func refuseUnclassified(req *qgate.Request) (string, bool) {
	if s := req.SQL; s != nil && s.ParseError != "" {
		return "could not parse SQL: " + s.ParseError, true
	}
	if h := req.HTTP; h != nil {
		for _, f := range h.Findings {
			if f.Severity == qgate.SeverityCritical {
				return f.Message, true
			}
		}
		if h.Ambiguous {
			return "ambiguous request path", true
		}
		if h.GraphQL.Present && h.GraphQL.ParseError != "" {
			return "could not parse GraphQL: " + h.GraphQL.ParseError, true
		}
	}
	return "", false
}
