package qgate

import "time"

// Protocol names a target's wire protocol.
type Protocol string

const (
	ProtocolPostgres Protocol = "postgres"
	ProtocolHTTP     Protocol = "http"
	ProtocolMySQL    Protocol = "mysql"
)

// Principal is the authenticated caller behind a request: the token and the
// identity it speaks for, with the identity's groups resolved from config.
type Principal struct {
	TokenID   string   `json:"id"`
	TokenName string   `json:"name"`
	Identity  string   `json:"identity"`
	Roles     []string `json:"roles"`
	Groups    []string `json:"groups"`
}

// Request is one statement or call to be decided. Exactly one of SQL and
// HTTP is set, matching Protocol.
type Request struct {
	ID          string        `json:"id"`
	Protocol    Protocol      `json:"protocol"`
	Target      string        `json:"target"`
	Environment string        `json:"environment"`
	SourceIP    string        `json:"source_ip"`
	Time        time.Time     `json:"time"`
	Principal   Principal     `json:"token"`
	SQL         *SQLAnalysis  `json:"sql,omitempty"`
	HTTP        *HTTPAnalysis `json:"http,omitempty"`
}

// Findings returns the risk findings of whichever analysis is present.
func (r *Request) Findings() []Finding {
	switch {
	case r.SQL != nil:
		return r.SQL.Findings
	case r.HTTP != nil:
		return r.HTTP.Findings
	}
	return nil
}
