// Package policytest runs policy test files: YAML lists of requests with the
// decisions a policy author expects. `qgate policy test` and the golden
// tests in testdata/ both use it, so a case means the same thing in a
// user's CI as in ours.
//
// A file is either a list of cases, or a mapping with the configuration to
// test against and the cases:
//
//	config: qgate.yaml          # relative to this file
//	cases:
//	  - name: reads pass
//	    target: billing-db
//	    identity: alice           # optional; groups come from the config
//	    roles: [analyst]          # optional
//	    sql: SELECT * FROM invoices
//	    expect: allow
//	  - name: deletes are held for a DBA
//	    target: billing-db
//	    sql: DELETE FROM invoices WHERE id = 1
//	    expect: review
//	    matched: [prod-writes-need-a-dba]   # optional: exact matched policies
//	    risk: high                          # optional: expected risk level
//	  - name: API delete
//	    target: payments-api
//	    method: DELETE
//	    path: /v1/payments/42
//	    headers: {Content-Type: application/json}
//	    body: '{}'
//	    expect: review
package policytest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/config"
	"github.com/qgate/qgate/gate"
)

// Case is one request and what its author expects.
type Case struct {
	Name     string            `yaml:"name"`
	Target   string            `yaml:"target"`
	Identity string            `yaml:"identity"`
	Roles    []string          `yaml:"roles"`
	SourceIP string            `yaml:"source_ip"`
	SQL      string            `yaml:"sql"`
	Method   string            `yaml:"method"`
	Path     string            `yaml:"path"`
	Headers  map[string]string `yaml:"headers"`
	Body     string            `yaml:"body"`
	Expect   string            `yaml:"expect"`
	Matched  *[]string         `yaml:"matched"`
	Risk     string            `yaml:"risk"`
	Line     int               `yaml:"-"`
}

// File is a parsed policy test file.
type File struct {
	Path   string
	Config string // configuration path from the file, resolved; may be ""
	Cases  []Case
}

type fileDoc struct {
	Config string `yaml:"config"`
	Cases  []Case `yaml:"cases"`
}

// Load reads a policy test file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy tests: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: no cases", path)
	}
	doc := root.Content[0]
	f := &File{Path: path}
	var items *yaml.Node
	switch doc.Kind {
	case yaml.SequenceNode:
		items = doc
	case yaml.MappingNode:
		var fd fileDoc
		dec := doc
		if err := decodeStrict(dec, &fd); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if fd.Config != "" {
			f.Config = filepath.Join(filepath.Dir(path), fd.Config)
		}
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if doc.Content[i].Value == "cases" {
				items = doc.Content[i+1]
			}
		}
	default:
		return nil, fmt.Errorf("%s: want a list of cases or a mapping with config and cases", path)
	}
	if items == nil || len(items.Content) == 0 {
		return nil, fmt.Errorf("%s: no cases", path)
	}
	for i, n := range items.Content {
		var c Case
		if err := decodeStrict(n, &c); err != nil {
			return nil, fmt.Errorf("%s: case %d: %w", path, i+1, err)
		}
		c.Line = n.Line
		if c.Name == "" {
			c.Name = fmt.Sprintf("case %d", i+1)
		}
		if !qgate.Action(c.Expect).Valid() {
			return nil, fmt.Errorf("%s:%d: %s: expect must be allow, deny or review, not %q", path, n.Line, c.Name, c.Expect)
		}
		if c.Risk != "" {
			if _, ok := qgate.ParseSeverity(c.Risk); !ok {
				return nil, fmt.Errorf("%s:%d: %s: risk must be none, low, medium, high or critical", path, n.Line, c.Name)
			}
		}
		f.Cases = append(f.Cases, c)
	}
	return f, nil
}

// decodeStrict decodes n into v, refusing unknown keys.
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// Result is the outcome of one case.
type Result struct {
	Case     Case
	Decision qgate.Decision
	// Diffs lists every way the decision differs from the expectation;
	// empty when the case passed.
	Diffs []string
}

// OK reports whether the case passed.
func (r Result) OK() bool { return len(r.Diffs) == 0 }

// Run evaluates every case against cfg with g.
func Run(ctx context.Context, g *gate.Gate, cfg *config.Config, f *File) []Result {
	results := make([]Result, 0, len(f.Cases))
	for _, c := range f.Cases {
		res := Result{Case: c}
		t := cfg.Target(c.Target)
		if t == nil {
			res.Diffs = append(res.Diffs, fmt.Sprintf("unknown target %q", c.Target))
			results = append(results, res)
			continue
		}
		identity := c.Identity
		if identity == "" {
			identity = "policy-test"
		}
		groups := cfg.GroupsOf(identity)
		in := gate.Input{Target: t, SourceIP: c.SourceIP, SQL: c.SQL, Method: strings.ToUpper(c.Method), Path: c.Path, Body: c.Body,
			Principal: qgate.Principal{TokenID: "policy-test", Identity: identity, Roles: c.Roles, Groups: groups}}
		for _, k := range sortedKeys(c.Headers) {
			in.Headers = append(in.Headers, k+": "+c.Headers[k])
		}
		_, d, err := g.Evaluate(ctx, in)
		if err != nil {
			res.Diffs = append(res.Diffs, "could not evaluate: "+qgate.ErrorMessage(err))
			results = append(results, res)
			continue
		}
		res.Decision = d
		if string(d.Action) != c.Expect {
			res.Diffs = append(res.Diffs, fmt.Sprintf("decision: got %s, want %s", d.Action, c.Expect))
		}
		if c.Matched != nil {
			got := make([]string, len(d.Matched))
			for i, m := range d.Matched {
				got[i] = m.Name
			}
			want := append([]string{}, (*c.Matched)...)
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				res.Diffs = append(res.Diffs, fmt.Sprintf("matched: got [%s], want [%s]", strings.Join(got, ", "), strings.Join(want, ", ")))
			}
		}
		if c.Risk != "" && d.Risk.Level.String() != c.Risk {
			res.Diffs = append(res.Diffs, fmt.Sprintf("risk: got %s, want %s", d.Risk.Level, c.Risk))
		}
		results = append(results, res)
	}
	return results
}

// Report writes a readable summary and returns the number of failures.
func Report(w interface{ Write([]byte) (int, error) }, f *File, results []Result) int {
	failed := 0
	for _, r := range results {
		if r.OK() {
			fmt.Fprintf(w, "ok    %s\n", r.Case.Name)
			continue
		}
		failed++
		fmt.Fprintf(w, "FAIL  %s (%s:%d)\n", r.Case.Name, f.Path, r.Case.Line)
		for _, d := range r.Diffs {
			fmt.Fprintf(w, "        %s\n", d)
		}
		if len(r.Decision.Matched) > 0 || r.Decision.Message != "" {
			fmt.Fprintf(w, "        (%s", gate.Describe(r.Decision))
			if r.Decision.Message != "" {
				fmt.Fprintf(w, "; message: %s", r.Decision.Message)
			}
			fmt.Fprintln(w, ")")
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", len(results)-failed, failed)
	return failed
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
