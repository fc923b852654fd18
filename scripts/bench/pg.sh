#!/usr/bin/env bash
# PostgreSQL gateway benchmark: pgbench directly against a throwaway
# PostgreSQL server, through qgate, and through pgbouncer in session mode,
# in one interleaved run.
#
#   scripts/bench/pg.sh                                  # 5 rounds of 10 s
#   BENCH_SECONDS=3 BENCH_ROUNDS=1 scripts/bench/pg.sh   # a quick look
#
# Targets:
#   direct     the server (scripts/pg-start.sh: fsync off, loopback TCP)
#   qgate      qgate serve, allow-everything policy (when: 'true'): every
#              statement is parsed, decided and audited (a durable,
#              hash-chained "request" event before it is forwarded and an
#              "execution" event after), SQLite store in a temp dir on disk,
#              audit.durability: sync (the default)
#   qgate-async  the same with audit.durability: async: the request event
#              is committed with the next group commit (milliseconds) after
#              the statement is forwarded. ASYNC=0 leaves it out.
#   pgbouncer  pgbouncer, pool_mode = session
#   qgate-tmpfs  qgate (sync) with its SQLite store on /dev/shm (tmpfs),
#              where fsync costs nothing: qgate's software path without the
#              disk. NOT a durable setup; shown only to separate the two
#              costs. TMPFS=1 adds it.
#   go-relay, go-msgrelay  (RELAY=1) the floor of any Go proxy:
#              scripts/bench/tcprelay copying bytes both ways (io.Copy,
#              which splices), and reading the client's side message by
#              message as a gateway must. Nothing is parsed or audited.
#
# Throughput: for every mode below, pgbench -n -c $CLIENTS -j $JOBS -T
# $BENCH_SECONDS against each target in turn, $BENCH_ROUNDS rounds, the
# order of the targets rotated every round; the median TPS per target and
# the ratios are printed.
#   select-simple    -S -M simple     (a new literal in every query)
#   select-extended  -S -M extended
#   select-prepared  -S -M prepared
#   tpcb-simple      the default TPC-B-like script, -M simple
# Latency: pgbench -n -c 1 -j 1 -S -M simple -T $BENCH_SECONDS, direct and
# qgate alternating, $BENCH_ROUNDS rounds: median of the rounds' average
# and p50 latency (from pgbench's per-transaction log), and the difference.
#
# Environment: BENCH_SECONDS (10), BENCH_ROUNDS (5), SCALE (10), CLIENTS
# (8), JOBS (2), MODES (all four, space-separated), ASYNC (1), TMPFS (0), RELAY (0), KEEP=1 keeps the
# temporary directory (configs, logs, audit database). QGATE_BIN runs an
# already built qgate instead of building one. Extra environment (GOGC,
# GOMAXPROCS...) passes through to qgate.
#
# Needs Go and Debian's PostgreSQL packages; pgbench (postgresql-contrib on
# older releases, postgresql-client on newer ones) and pgbouncer are
# installed with apt-get when missing. Every process it starts is stopped on
# exit.
set -euo pipefail

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_ROUNDS=${BENCH_ROUNDS:-5}
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-8}
JOBS=${JOBS:-2}
MODES=${MODES:-select-simple select-extended select-prepared tpcb-simple}
KEEP=${KEEP:-0}
TMPFS=${TMPFS:-0}
RELAY=${RELAY:-0}
ASYNC=${ASYNC:-1}

cd "$(dirname "$0")/../.."
ROOT=$(pwd)

log() { printf '%s\n' "$*" >&2; }
die() { log "pg.sh: $*"; exit 1; }

# --- tools ------------------------------------------------------------------

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
apt_install() {
	log "installing $* with apt-get"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if ! ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	apt_install postgresql
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if ! ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
	apt_install postgresql-contrib || true
	ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || apt_install postgresql-client
fi
PGBENCH=$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[ -x "$PGBOUNCER" ] || { apt_install pgbouncer; PGBOUNCER=/usr/sbin/pgbouncer; }
command -v jq >/dev/null || apt_install jq
[ -n "${QGATE_BIN:-}" ] || command -v go >/dev/null || die "go is required to build qgate"

# --- processes and cleanup --------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/qgate-pgbench.XXXXXX")
chmod 0755 "$WORK"
PGDIR=
SHM=
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	[ -z "$PGDIR" ] || "$ROOT/scripts/pg-stop.sh" "$PGDIR" || true
	if [ "$KEEP" = 1 ]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
	fi
	[ -z "$SHM" ] || rm -rf "$SHM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() { # start NAME CMD...: in the background, output to $WORK/NAME.log
	local name=$1
	shift
	"$@" >"$WORK/$name.log" 2>&1 &
	PIDS+=($!)
}

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	die "no free port"
}

wait_port() { # wait_port PORT NAME
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	die "$2 did not listen on port $1; logs in $WORK (rerun with KEEP=1)"
}

# --- PostgreSQL -------------------------------------------------------------

log "starting PostgreSQL"
out=$("$ROOT/scripts/pg-start.sh")
URL=$(echo "$out" | sed -n 1p)
PGDIR=$(echo "$out" | sed -n 2p)
PGPW=$(echo "$URL" | sed -E 's|^postgres://[^:]+:([^@]+)@.*|\1|')
PGPORT=$(echo "$URL" | sed -E 's|.*@127\.0\.0\.1:([0-9]+)/.*|\1|')
PGUSER=qgate_test
DB=postgres

log "pgbench -i -s $SCALE"
PGPASSWORD=$PGPW "$PGBENCH" -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" -i -s "$SCALE" -q "$DB" >"$WORK/init.log" 2>&1 ||
	{ cat "$WORK/init.log" >&2; die "pgbench -i failed"; }

# --- qgate ------------------------------------------------------------------

QGATE=${QGATE_BIN:-$WORK/qgate}
if [ -z "${QGATE_BIN:-}" ]; then
	log "building qgate"
	go build -o "$QGATE" ./cmd/qgate
fi
# qgate_config DIR PORT API DURABILITY: writes DIR/qgate.yaml (store in DIR)
qgate_config() {
	cat >"$1/qgate.yaml" <<YAML
audit:
  durability: $4
server:
  listen: 127.0.0.1:$3
  public_url: http://127.0.0.1:$3
store:
  driver: sqlite
  dsn: $1/qgate.db
targets:
  - name: bench-db
    protocol: postgres
    environment: bench
    listen: 127.0.0.1:$2
    upstream: {address: 127.0.0.1:$PGPORT, database: $DB, user: $PGUSER, password_env: QGATE_BENCH_PG_PASSWORD, sslmode: disable}
    max_connections_per_token: 0   # pgbench shares one token across all its clients
policies:
  - name: allow-everything
    when: 'true'
    action: allow
defaults:
  bench: allow
YAML
}
export QGATE_BENCH_PG_PASSWORD=$PGPW
# Every qgate variant: its name, port, token user and password.
declare -A Q_PORT Q_USER Q_PW
QVARIANTS=()
# qgate_variant NAME DIR DURABILITY: configures and starts one qgate.
qgate_variant() {
	local port tok
	port=$(free_port)
	qgate_config "$2" "$port" "$(free_port)" "$3"
	tok=$("$QGATE" token create --config "$2/qgate.yaml" --identity bench --json)
	Q_PORT[$1]=$port
	Q_USER[$1]=$(echo "$tok" | jq -r .id)
	Q_PW[$1]=$(echo "$tok" | jq -r .secret)
	if [ ${#QVARIANTS[@]} -eq 0 ]; then
		start "$1" "$QGATE" serve --config "$2/qgate.yaml"
	else
		# Profiling hooks (QGATE_PPROF_LISTEN) are for the first only.
		start "$1" env -u QGATE_PPROF_LISTEN "$QGATE" serve --config "$2/qgate.yaml"
	fi
	wait_port "$port" "$1"
	QVARIANTS+=("$1")
}
qgate_variant qgate "$WORK" sync
if [ "$ASYNC" = 1 ]; then
	mkdir -p "$WORK/async"
	qgate_variant qgate-async "$WORK/async" async
fi
if [ "$TMPFS" = 1 ]; then
	SHM=$(mktemp -d /dev/shm/qgate-pgbench.XXXXXX)
	qgate_variant qgate-tmpfs "$SHM" sync
fi
TARGETS=(direct pgbouncer "${QVARIANTS[@]}")

# --- Go relays (the floor of a Go proxy) ----------------------------------------

RELAYS=()
declare -A R_PORT
if [ "$RELAY" = 1 ]; then
	go build -o "$WORK/tcprelay" ./scripts/bench/tcprelay
	for r in go-relay go-msgrelay; do
		R_PORT[$r]=$(free_port)
		flags=()
		[ "$r" = go-relay ] || flags=(-messages)
		start "$r" "$WORK/tcprelay" -listen "127.0.0.1:${R_PORT[$r]}" -upstream "127.0.0.1:$PGPORT" "${flags[@]}"
		wait_port "${R_PORT[$r]}" "$r"
		RELAYS+=("$r")
	done
	TARGETS+=("${RELAYS[@]}")
fi

# --- pgbouncer ----------------------------------------------------------------

BPORT=$(free_port)
cat >"$WORK/pgbouncer.ini" <<INI
[databases]
$DB = host=127.0.0.1 port=$PGPORT dbname=$DB user=$PGUSER
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BPORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $WORK/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 50
logfile =
pidfile =
log_connections = 0
log_disconnections = 0
INI
printf '"%s" "%s"\n' "$PGUSER" "$PGPW" >"$WORK/userlist.txt"
BOUNCER=("$PGBOUNCER")
if [ "$(id -u)" -eq 0 ]; then
	# pgbouncer refuses to run as root.
	chown -R postgres: "$WORK"
	BOUNCER=(runuser -u postgres -- "$PGBOUNCER")
fi
start pgbouncer "${BOUNCER[@]}" "$WORK/pgbouncer.ini"
wait_port "$BPORT" pgbouncer

# --- measurements -------------------------------------------------------------

# target NAME: sets T_PORT, T_USER, T_PW
target() {
	case $1 in
	direct) T_PORT=$PGPORT T_USER=$PGUSER T_PW=$PGPW ;;
	pgbouncer) T_PORT=$BPORT T_USER=$PGUSER T_PW=$PGPW ;;
	go-relay | go-msgrelay) T_PORT=${R_PORT[$1]} T_USER=$PGUSER T_PW=$PGPW ;;
	*) T_PORT=${Q_PORT[$1]} T_USER=${Q_USER[$1]} T_PW=${Q_PW[$1]} ;;
	esac
}

mode_args() {
	case $1 in
	select-simple) echo "-S -M simple" ;;
	select-extended) echo "-S -M extended" ;;
	select-prepared) echo "-S -M prepared" ;;
	tpcb-simple) echo "-M simple" ;;
	*) die "unknown mode $1" ;;
	esac
}

# pgb TARGET ARGS...: runs pgbench, output in $WORK/last.out
pgb() {
	target "$1"
	shift
	PGPASSWORD=$T_PW "$PGBENCH" -h 127.0.0.1 -p "$T_PORT" -U "$T_USER" -n "$@" "$DB" >"$WORK/last.out" 2>&1 ||
		{ cat "$WORK/last.out" >&2; die "pgbench failed against $T_PORT"; }
	if grep -q 'number of failed transactions: [1-9]' "$WORK/last.out"; then
		cat "$WORK/last.out" >&2
		die "pgbench saw failed transactions"
	fi
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# A vacuum like pgbench's own (skipped by -n on every run below).
PGPASSWORD=$PGPW "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" -qAt -c 'VACUUM ANALYZE' "$DB" >/dev/null

# Warm-up: a short run per target so every pool, cache and page is warm.
for t in "${TARGETS[@]}"; do
	pgb "$t" -c "$CLIENTS" -j "$JOBS" -S -M simple -T 2
done

NT=${#TARGETS[@]}
declare -A TPS
log "throughput: $BENCH_ROUNDS rounds of ${BENCH_SECONDS}s per mode and target, pgbench -c $CLIENTS -j $JOBS"
for r in $(seq "$BENCH_ROUNDS"); do
	for mode in $MODES; do
		for i in $(seq 0 $((NT - 1))); do
			t=${TARGETS[$(((i + r) % NT))]}
			# shellcheck disable=SC2046
			pgb "$t" -c "$CLIENTS" -j "$JOBS" $(mode_args "$mode") -T "$BENCH_SECONDS"
			v=$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$WORK/last.out" | head -n 1)
			TPS[$mode.$t]="${TPS[$mode.$t]:-} $v"
			log "  round $r $mode $t: $v tps"
		done
	done
done

declare -A LAT P50
log "latency: $BENCH_ROUNDS rounds of ${BENCH_SECONDS}s, pgbench -c 1 -j 1 -S -M simple"
for r in $(seq "$BENCH_ROUNDS"); do
	LT=(direct "${QVARIANTS[@]}" "${RELAYS[@]}")
	for t in "${LT[@]}"; do
		rm -f "$WORK"/lat.*
		pgb "$t" -c 1 -j 1 -S -M simple -T "$BENCH_SECONDS" -l --log-prefix="$WORK/lat"
		v=$(sed -nE 's/^latency average = ([0-9.]+) ms.*/\1/p' "$WORK/last.out")
		p=$(cat "$WORK"/lat.* | awk '{print $3}' | median)
		LAT[$t]="${LAT[$t]:-} $v"
		P50[$t]="${P50[$t]:-} $p"
		log "  round $r $t: average $v ms, p50 $p us"
	done
done

# --- report -------------------------------------------------------------------

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "nan"}'; }

echo
echo "pgbench -c $CLIENTS -j $JOBS, scale $SCALE, median TPS of $BENCH_ROUNDS rounds of ${BENCH_SECONDS}s ($(nproc) CPUs)"
hdr="mode direct pgbouncer ${QVARIANTS[*]} pgbouncer/direct"
for v in "${QVARIANTS[@]}"; do hdr="$hdr $v/direct $v/pgbouncer"; done
{
	echo "$hdr"
	for mode in $MODES; do
		d=$(med "${TPS[$mode.direct]}")
		b=$(med "${TPS[$mode.pgbouncer]}")
		line="$mode $(printf '%.0f %.0f' "$d" "$b")"
		for v in "${QVARIANTS[@]}"; do line="$line $(printf '%.0f' "$(med "${TPS[$mode.$v]}")")"; done
		line="$line $(ratio "$b" "$d")"
		for v in "${QVARIANTS[@]}"; do
			q=$(med "${TPS[$mode.$v]}")
			line="$line $(ratio "$q" "$d") $(ratio "$q" "$b")"
		done
		echo "$line"
	done
} | column -t
if [ ${#RELAYS[@]} -gt 0 ]; then
	echo
	echo "Go relays, nothing parsed or audited (same runs)"
	{
		line="mode"
		for v in "${RELAYS[@]}"; do line="$line $v $v/pgbouncer"; done
		echo "$line"
		for mode in $MODES; do
			b=$(med "${TPS[$mode.pgbouncer]}")
			line=$mode
			for v in "${RELAYS[@]}"; do
				q=$(med "${TPS[$mode.$v]}")
				line="$line $(printf '%.0f' "$q") $(ratio "$q" "$b")"
			done
			echo "$line"
		done
	} | column -t
fi
echo
echo "one client (pgbench -c 1 -j 1 -S -M simple), median of $BENCH_ROUNDS rounds"
{
	echo "target average_ms p50_us added_avg_us added_p50_us"
	ld=$(med "${LAT[direct]}")
	pd=$(med "${P50[direct]}")
	for t in "${LT[@]}"; do
		l=$(med "${LAT[$t]}")
		p=$(med "${P50[$t]}")
		awk -v t="$t" -v l="$l" -v p="$p" -v ld="$ld" -v pd="$pd" 'BEGIN {printf "%s %.3f %.0f %.0f %.0f\n", t, l, p, (l - ld) * 1000, p - pd}'
	done
} | column -t
n=$(sqlite3 "$WORK/qgate.db" 'select max(last_seq) from audit_blocks' 2>/dev/null || true)
[ -z "$n" ] || echo "audit events written by qgate (disk store): $n"
