// Package gate turns a request into a decision: it runs the analyzers,
// evaluates policy, and consults grants that earlier approvals created.
// Every listener and the offline `qgate check` go through it, so they can
// never disagree about what a request is or what happens to it.
package gate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/policy"
)

// Gate decides requests. Fields are collaborators; Grants may be nil.
type Gate struct {
	SQL    qgate.SQLAnalyzer
	Policy *policy.Engine
	Grants qgate.GrantStore
	Now    func() time.Time
}

// New returns a Gate with working defaults.
func New(sql qgate.SQLAnalyzer, engine *policy.Engine, grants qgate.GrantStore) *Gate {
	return &Gate{SQL: sql, Policy: engine, Grants: grants, Now: time.Now}
}

// Decide returns the decision for req. A review is turned into an allow
// when an active grant covers the same shape from the same token. Decide
// never returns an error: failures become a refusal or a review.
func (g *Gate) Decide(ctx context.Context, req *qgate.Request) qgate.Decision {
	d := g.Policy.Decide(req)
	if d.Action != qgate.ActionReview || g.Grants == nil || req.Principal.TokenID == "" {
		return d
	}
	shape := Shape(req)
	if shape == "" {
		return d
	}
	gr, err := g.Grants.ActiveGrant(ctx, req.Principal.TokenID, req.Target, shape, g.Now())
	if err != nil {
		return d // not found, or the store failed: the review stands
	}
	d.Action = qgate.ActionAllow
	d.GrantID = gr.ID
	return d
}

// Shape is the key that grants are bound to: the SQL fingerprint, or for
// HTTP the method, the path template and the GraphQL operations.
func Shape(req *qgate.Request) string {
	switch {
	case req.SQL != nil:
		return sqlShape(req.SQL)
	case req.HTTP != nil:
		h := req.HTTP
		var b strings.Builder
		b.WriteString("http:")
		b.WriteString(h.Method)
		b.WriteByte(' ')
		b.WriteString(PathTemplate(h.Path))
		for _, op := range h.GraphQL.Operations {
			b.WriteString(" ")
			b.WriteString(op.Type)
			b.WriteByte(':')
			b.WriteString(op.Name)
			b.WriteByte('(')
			b.WriteString(strings.Join(op.Fields, ","))
			b.WriteByte(')')
		}
		return b.String()
	}
	return ""
}

// sqlShape is the fingerprint plus a digest of everything the analysis
// found (statements' kinds, commands, tables, functions, read-only flags).
// pg_query's fingerprint alone ignores parse-tree levels beyond 100, so a
// grant for a harmless deep query must not cover a harmful one that only
// differs down there; the analysis walks the whole tree.
func sqlShape(a *qgate.SQLAnalysis) string {
	if a.Fingerprint == "" || a.ParseError != "" {
		return ""
	}
	h := sha256.New()
	for _, st := range a.Statements {
		fmt.Fprintf(h, "%s|%s|%q|%q|%t|%t|%t\n", st.Kind, st.Command, st.Tables, st.Functions, st.HasWhere, st.HasLimit, st.ReadOnly)
	}
	return "sql:" + a.Fingerprint + ":" + hex.EncodeToString(h.Sum(nil))[:16]
}

var idSegment = regexp.MustCompile(`^(?:[0-9]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{24,64})$`)

// PathTemplate replaces path segments that look like identifiers (numbers,
// UUIDs, long hex strings) with ":id", so /users/42 and /users/43 share a
// shape.
func PathTemplate(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if idSegment.MatchString(s) {
			segs[i] = ":id"
		}
	}
	return strings.Join(segs, "/")
}

// NewRequestID returns a unique, time-ordered request id (UUIDv7): ids
// that sort by time keep the audit log's request_id index compact, which
// matters for append throughput.
func NewRequestID() string {
	id, err := uuid.NewV7()
	if err != nil {
		var b [16]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}
	return id.String()
}
