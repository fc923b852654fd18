# Sourced by the HTTP benchmark scripts (http.sh, http-pair.sh).
#
# qgate_config DIR TARGET_PORT API_PORT UPSTREAM_PORT DURABILITY: writes
# DIR/qgate.yaml, the gateway every HTTP benchmark measures: one HTTP
# target in front of the upstream, an allow policy for GET and HEAD, the
# SQLite store and its key in DIR, audit.durability DURABILITY.
qgate_config() {
	local dir=$1 port=$2 api=$3 upstream=$4 durability=$5
	mkdir -p "$dir"
	cat >"$dir/qgate.yaml" <<EOF
audit:
  durability: $durability
server:
  listen: 127.0.0.1:$api
  public_url: http://127.0.0.1:$api
store:
  driver: sqlite
  dsn: $dir/qgate.db
auth:
  token_key_file: $dir/token.key
targets:
  - name: bench-api
    protocol: http
    environment: staging
    listen: 127.0.0.1:$port
    upstream: {url: 'http://127.0.0.1:$upstream'}
policies:
  - name: reads
    when: http.method in ['GET', 'HEAD']
    action: allow
defaults:
  staging: deny
EOF
}
