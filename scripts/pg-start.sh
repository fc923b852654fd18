#!/usr/bin/env bash
# pg-start.sh starts a throwaway PostgreSQL server from Debian's packages
# (/usr/lib/postgresql/*/bin) for tests, demos and benchmarks.
#
# It runs initdb in a new temporary directory, listens on a free port of
# 127.0.0.1 only, asks for a password (scram-sha-256) on TCP, and creates
# the superuser qgate_test with a random password. It prints two lines on
# stdout:
#
#   postgres://qgate_test:PASSWORD@127.0.0.1:PORT/postgres?sslmode=disable
#   DIR
#
# Stop the server and remove everything with: scripts/pg-stop.sh DIR
#
# PostgreSQL refuses to run as root; when run as root (CI), the server runs
# as the postgres user (created by Debian's package) in a directory it owns.
# Settings are tuned for throwaway data: fsync and synchronous commit off.
# Environment: PG_BIN (directory of initdb/pg_ctl), PG_PORT (fixed port),
# PG_MAX_CONNECTIONS (default 200), PG_OWNER_PID (stop the server once
# that process has ended).
set -euo pipefail

die() { echo "pg-start: $*" >&2; exit 1; }

bin=${PG_BIN:-}
if [ -z "$bin" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
[ -n "$bin" ] && [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] ||
  die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install Debian's postgresql package (apt-get install postgresql)"

run=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root needs the postgres user (Debian's postgresql package creates it)"
  run=(runuser -u postgres --)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/qgate-pg.XXXXXX")
cleanup() { [ -n "${ok:-}" ] || rm -rf "$dir"; }
trap cleanup EXIT
chmod 0700 "$dir"
[ ${#run[@]} -eq 0 ] || chown postgres: "$dir"

password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$dir/pwfile"
[ ${#run[@]} -eq 0 ] || chown postgres: "$dir/pwfile"

"${run[@]}" "$bin/initdb" -D "$dir/data" -U qgate_test --pwfile="$dir/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
rm -f "$dir/pwfile"

cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
password_encryption = 'scram-sha-256'
max_connections = ${PG_MAX_CONNECTIONS:-200}
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
log_min_messages = warning
CONF

# Pick a free port: try random ones until the server starts (another
# process may take a port between a check and the bind).
started=
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  port=${PG_PORT:-$((20000 + RANDOM % 40000))}
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    [ -z "${PG_PORT:-}" ] || die "port $port is in use"
    continue
  fi
  if "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
    started=1
    break
  fi
  [ -z "${PG_PORT:-}" ] || break
done
[ -n "$started" ] || { cat "$dir/server.log" >&2 2>/dev/null || true; die "the server did not start"; }

echo "$bin" >"$dir/bin"
ok=1

# With PG_OWNER_PID, the server is stopped and removed once that process
# has ended, however it ended (a test binary killed by the fuzzing engine
# never runs its cleanup). The watcher keeps none of our output open.
if [ -n "${PG_OWNER_PID:-}" ]; then
  (
    while kill -0 "$PG_OWNER_PID" 2>/dev/null; do sleep 1; done
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
  ) </dev/null >/dev/null 2>&1 &
fi
echo "postgres://qgate_test:$password@127.0.0.1:$port/postgres?sslmode=disable"
echo "$dir"
