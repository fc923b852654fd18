package demo

import (
	"fmt"
	"strings"
)

// Postgres describes the PostgreSQL server the demo may put behind qgate.
type Postgres struct {
	Address, Database, User string
	PasswordEnv             string // environment variable holding the password
	Listen                  string // qgate's listener for it
}

// Config returns the demo's configuration: the sample API as an HTTP
// target in the dev environment (reads allowed, writes held for the
// approvers group) and, when pg is set, a PostgreSQL target with the same
// rules for SQL.
func Config(dir, serverListen, apiListen, upstreamURL string, pg *Postgres) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by qgate demo.
server:
  listen: %s
store:
  driver: sqlite
  dsn: %s/qgate.db
targets:
  - name: sample-api
    protocol: http
    environment: dev
    listen: %s
    upstream: {url: %s}
    graphql: {path: /graphql}
    hold: 25s
`, serverListen, dir, apiListen, upstreamURL)
	if pg != nil {
		fmt.Fprintf(&b, `  - name: demo-db
    protocol: postgres
    environment: dev
    listen: %s
    upstream: {address: '%s', database: %s, user: %s, password_env: %s}
`, pg.Listen, pg.Address, pg.Database, pg.User, pg.PasswordEnv)
	}
	b.WriteString(`groups:
  approvers: [alice]
  admins: [alice]
policies:
  - name: writes-need-approval
    targets: [sample-api]
    when: http.method in ['POST', 'PUT', 'PATCH', 'DELETE'] && !(http.graphql.present && http.graphql.read_only)
    action: review
    review: {approvers: [approvers], timeout: 10m}
  - name: reads
    targets: [sample-api]
    when: http.method in ['GET', 'HEAD'] || (http.graphql.present && http.graphql.read_only)
    action: allow
`)
	if pg != nil {
		b.WriteString(`  - name: sql-reads
    targets: [demo-db]
    when: sql.read_only
    action: allow
  - name: sql-writes-need-approval
    targets: [demo-db]
    when: '!sql.read_only'
    action: review
    review: {approvers: [approvers], timeout: 10m}
`)
	}
	b.WriteString("defaults:\n  dev: review\n")
	return b.String()
}
