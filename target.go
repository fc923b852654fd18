package qgate

import "time"

// Target is one upstream that qgate fronts.
type Target struct {
	Name        string
	Protocol    Protocol
	Environment string
	Listen      string
	// Postgres upstream.
	Postgres *PostgresUpstream
	// HTTP upstream.
	HTTP *HTTPUpstream
	// GraphQLPath is the path whose requests are parsed as GraphQL ("" for
	// none).
	GraphQLPath string
	// Hold is how long a held HTTP call waits before answering 202.
	Hold time.Duration
	// MaxBody caps request bodies that qgate reads and analyses.
	MaxBody int64
	// AllowMethodOverride keeps X-HTTP-Method-Override and friends.
	AllowMethodOverride bool
	// TokenHeader is an extra header that may carry the qgate token for
	// clients that send their own Authorization header.
	TokenHeader string
	TLS         *TLSFiles
	// MaxConnections caps the open client sessions of a postgres target
	// (0: unlimited).
	MaxConnections int
	// MaxConnectionsPerToken caps the open client sessions of one token on
	// a postgres target (0: unlimited).
	MaxConnectionsPerToken int
	// IdleTimeout closes a postgres session that sends nothing for this
	// long while no statement runs (0: never).
	IdleTimeout time.Duration
}

// PostgresUpstream is a PostgreSQL server's address and the real
// credentials that qgate uses for it; clients never see them.
type PostgresUpstream struct {
	Address  string
	Database string
	User     string
	Password string // resolved from password_env / password_file
	SSLMode  string
}

// HTTPUpstream is an HTTP API's base URL and the headers qgate injects.
type HTTPUpstream struct {
	URL     string
	Headers map[string]string // values resolved (${ENV} expanded)
	TLS     *TLSFiles
}

// TLSFiles names certificate files.
type TLSFiles struct {
	Cert, Key, CA      string
	InsecureSkipVerify bool
}
