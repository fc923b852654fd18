package demo

import "fmt"

// Config returns the demo's configuration: the sample API as an HTTP
// target in the dev environment, reads allowed, writes held for the
// approvers group.
func Config(dir, serverListen, apiListen, upstreamURL string) string {
	return fmt.Sprintf(`# Written by qgate demo.
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
groups:
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
defaults:
  dev: review
`, serverListen, dir, apiListen, upstreamURL)
}
