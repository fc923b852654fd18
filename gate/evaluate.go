package gate

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/qgate/qgate"
	httpanalyze "github.com/qgate/qgate/analyze/http"
)

// Input describes one request to evaluate offline, as `qgate check`,
// `qgate policy test` and the web UI's "try a request" box give it.
type Input struct {
	Target    *qgate.Target
	Principal qgate.Principal
	SourceIP  string
	// SQL text, for postgres targets.
	SQL string
	// HTTP request, for http targets. Headers are "Name: value" lines.
	Method  string
	Path    string
	Headers []string
	Body    string
}

// Evaluate analyses and decides one offline request. It returns an
// EINVALID error when the input does not fit the target.
func (g *Gate) Evaluate(ctx context.Context, in Input) (*qgate.Request, qgate.Decision, error) {
	t := in.Target
	req := &qgate.Request{
		ID: NewRequestID(), Protocol: t.Protocol, Target: t.Name, Environment: t.Environment,
		SourceIP: in.SourceIP, Time: g.Now().UTC(), Principal: in.Principal,
	}
	if req.SourceIP == "" {
		req.SourceIP = "127.0.0.1"
	}
	switch t.Protocol {
	case qgate.ProtocolPostgres, qgate.ProtocolMySQL:
		if in.Method != "" || in.Path != "" {
			return nil, qgate.Decision{}, qgate.Errorf(qgate.EINVALID, "target %q speaks %s: give SQL, not an HTTP request", t.Name, t.Protocol)
		}
		req.SQL = g.SQL.AnalyzeSQL(in.SQL)
	case qgate.ProtocolHTTP:
		if in.SQL != "" {
			return nil, qgate.Decision{}, qgate.Errorf(qgate.EINVALID, "target %q speaks http: give --method and --path, not SQL", t.Name)
		}
		a, err := analyzeHTTP(t, in)
		if err != nil {
			return nil, qgate.Decision{}, err
		}
		req.HTTP = a
	default:
		return nil, qgate.Decision{}, qgate.Errorf(qgate.EINVALID, "target %q: unsupported protocol %q", t.Name, t.Protocol)
	}
	return req, g.Decide(ctx, req), nil
}

func analyzeHTTP(t *qgate.Target, in Input) (*qgate.HTTPAnalysis, error) {
	method := in.Method
	if method == "" {
		method = http.MethodGet
	}
	if in.Path == "" || !strings.HasPrefix(in.Path, "/") {
		return nil, qgate.Errorf(qgate.EINVALID, "path must start with /, got %q", in.Path)
	}
	r, err := http.NewRequest(method, "http://"+t.Listen+in.Path, bytes.NewReader([]byte(in.Body)))
	if err != nil {
		return nil, qgate.Errorf(qgate.EINVALID, "bad HTTP request: %v", err)
	}
	r.RequestURI = in.Path
	for _, h := range in.Headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, qgate.Errorf(qgate.EINVALID, "header %q: want 'Name: value'", h)
		}
		r.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	maxBody := t.MaxBody
	if maxBody <= 0 {
		maxBody = 1 << 20
	}
	body := []byte(in.Body)
	truncated := int64(len(body)) > maxBody
	if truncated {
		body = body[:maxBody]
	}
	opts := httpanalyze.Options{MaxBody: maxBody, GraphQLPath: t.GraphQLPath, AllowMethodOverride: t.AllowMethodOverride, TokenHeader: t.TokenHeader}
	return httpanalyze.Analyze(r, body, truncated, opts), nil
}

// Describe is a short human-readable line for a decision.
func Describe(d qgate.Decision) string {
	names := make([]string, len(d.Matched))
	for i, m := range d.Matched {
		names[i] = fmt.Sprintf("%s(%s)", m.Name, m.Action)
	}
	if d.Default {
		return fmt.Sprintf("%s (environment default)", d.Action)
	}
	return fmt.Sprintf("%s by %s", d.Action, strings.Join(names, ", "))
}
