package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/gate"
)

// Config is the part of the loaded configuration that the API shows and
// uses: policies, environment defaults, targets (without addresses or
// credentials) and groups. NewConfig builds it.
type Config struct {
	Policies       []PolicyView            `json:"policies"`
	Defaults       map[string]qgate.Action `json:"defaults"`
	ReviewDefaults ReviewSpecView          `json:"review_defaults"`
	Targets        []TargetView            `json:"targets"`
	// Groups maps each group to its members; GET /api/v1/identities
	// lists them. Not shown by GET /api/v1/policies.
	Groups map[string][]string `json:"-"`

	targets []*qgate.Target
}

// PolicyView is one policy as GET /api/v1/policies shows it.
type PolicyView struct {
	Name         string          `json:"name"`
	Targets      []string        `json:"targets"`
	Environments []string        `json:"environments"`
	When         string          `json:"when"`
	Action       qgate.Action    `json:"action"`
	Message      string          `json:"message,omitempty"`
	Review       *ReviewSpecView `json:"review,omitempty"`
}

// ReviewSpecView is who must approve what a review policy holds.
type ReviewSpecView struct {
	Approvers []string `json:"approvers"`
	Quorum    int      `json:"quorum"`
	Timeout   string   `json:"timeout"`
	Slack     string   `json:"slack,omitempty"`
}

// TargetView is a target without its addresses and credentials.
type TargetView struct {
	Name        string         `json:"name"`
	Protocol    qgate.Protocol `json:"protocol"`
	Environment string         `json:"environment"`
	GraphQLPath string         `json:"graphql_path,omitempty"`
}

// NewConfig builds the API's view of a configuration. The targets are
// kept for POST /api/v1/check.
func NewConfig(policies []*qgate.Policy, defaults map[string]qgate.Action, reviewDefaults qgate.ReviewSpec,
	targets []*qgate.Target, groups map[string][]string) *Config {
	c := &Config{Policies: []PolicyView{}, Defaults: map[string]qgate.Action{}, ReviewDefaults: specView(reviewDefaults),
		Targets: []TargetView{}, Groups: map[string][]string{}, targets: slices.Clone(targets)}
	for _, p := range policies {
		v := PolicyView{Name: p.Name, Targets: nonNil(p.Targets), Environments: nonNil(p.Environments),
			When: p.When, Action: p.Action, Message: p.Message}
		if p.Review != nil {
			rs := specView(*p.Review)
			v.Review = &rs
		}
		c.Policies = append(c.Policies, v)
	}
	for env, a := range defaults {
		c.Defaults[env] = a
	}
	for _, t := range targets {
		c.Targets = append(c.Targets, TargetView{Name: t.Name, Protocol: t.Protocol, Environment: t.Environment, GraphQLPath: t.GraphQLPath})
	}
	for g, ms := range groups {
		c.Groups[g] = slices.Clone(ms)
	}
	return c
}

func specView(s qgate.ReviewSpec) ReviewSpecView {
	v := ReviewSpecView{Approvers: nonNil(slices.Clone(s.Approvers)), Quorum: s.Quorum, Slack: s.Slack}
	if s.Timeout > 0 {
		v.Timeout = s.Timeout.String()
	}
	return v
}

// target returns the named target, or nil.
func (c *Config) target(name string) *qgate.Target {
	if c == nil {
		return nil
	}
	for _, t := range c.targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func (s *Server) config() *Config {
	if s.Config == nil {
		return NewConfig(nil, nil, qgate.ReviewSpec{}, nil, nil)
	}
	return s.Config
}

// listPolicies serves GET /api/v1/policies: the loaded policies, the
// environments' defaults and the targets, read-only. Every signed-in
// caller may read the rules that apply to them.
func (s *Server) listPolicies(w http.ResponseWriter, _ *http.Request, _ *Caller) error {
	return writeJSON(w, http.StatusOK, s.config())
}

// CheckRequest is the body of POST /api/v1/check: one request to evaluate
// as `qgate check` does. Give SQL for a SQL target, or Method and Path
// (with Headers as "Name: value" lines and Body) for an HTTP target.
// Identity defaults to the caller; only staff may evaluate as somebody
// else.
type CheckRequest struct {
	Target   string   `json:"target"`
	SQL      string   `json:"sql,omitempty"`
	Method   string   `json:"method,omitempty"`
	Path     string   `json:"path,omitempty"`
	Headers  []string `json:"headers,omitempty"`
	Body     string   `json:"body,omitempty"`
	Identity string   `json:"identity,omitempty"`
	Roles    []string `json:"roles,omitempty"`
}

// check serves POST /api/v1/check: the same evaluation as `qgate check`
// (policies and analysers, no grants, nothing forwarded or recorded) and
// the same JSON object.
func (s *Server) check(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if s.Checker == nil {
		return qgate.Errorf(qgate.EINTERNAL, "this server has no policy checker")
	}
	var in CheckRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	t := s.config().target(in.Target)
	if t == nil {
		return qgate.Errorf(qgate.EINVALID, "unknown target %q", in.Target)
	}
	identity := in.Identity
	switch {
	case identity == "":
		identity = c.Identity
	case identity != c.Identity && !c.staff():
		return qgate.Errorf(qgate.EFORBIDDEN, "only admins and members of a group may evaluate a request as somebody else")
	}
	gi := gate.Input{Target: t, SourceIP: s.ClientIP.IP(r),
		Principal: qgate.Principal{TokenID: "offline", TokenName: "web check", Identity: identity,
			Roles: nonNil(in.Roles), Groups: s.groupsOf(identity)}}
	hasHTTP := in.Method != "" || in.Path != "" || len(in.Headers) > 0 || in.Body != ""
	if hasHTTP {
		gi.Method, gi.Path, gi.Headers, gi.Body = strings.ToUpper(in.Method), in.Path, in.Headers, in.Body
		if gi.Method == "" {
			gi.Method = http.MethodGet
		}
	} else {
		gi.SQL = in.SQL
	}
	req, d, err := s.Checker.Evaluate(r.Context(), gi)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, gate.Report(req, d))
}
