#!/usr/bin/env bash
# HTTP gateway benchmark: qgate against a bare Go reverse proxy and nginx,
# all on loopback in front of the same small Go upstream, measured in one
# interleaved session with wrk.
#
#   scripts/bench/http.sh                 # defaults below
#   ROUNDS=5 DURATION=10s scripts/bench/http.sh
#
# Targets (each a separate process):
#   direct     the upstream itself (scripts/bench/upstream)
#   bare-go    httputil.ReverseProxy with a tuned transport (scripts/bench/bareproxy)
#   nginx      nginx as a plain reverse proxy, keep-alive to the upstream
#   qgate      qgate serve: token check, analysis, policy (allow), and a
#              durable, hash-chained audit event before every forward, on
#              the SQLite store in a temporary directory on disk
#   qgate-async  the same with audit.durability: async: the request event
#              is committed with the next group commit (milliseconds) after
#              the call is forwarded. Set ASYNC=0 to leave it out.
#   qgate-tmpfs  qgate (sync) with the SQLite file on /dev/shm (tmpfs), where
#              fsync costs nothing: qgate's software path without the disk.
#              NOT a durable setup; shown only to separate the two costs.
#              Set TMPFS=0 to leave it out.
#   fast-go    optional (FAST=1): a bare fasthttp proxy, the forwarding
#              path qgate is built on with nothing else (scripts/bench/fastproxy):
#              its distance to qgate is qgate's own work, its distance to
#              nginx what being a Go proxy costs.
#   qgate-base   optional (QGATE_BASE_BIN=path/to/qgate): another qgate
#              build, set up like qgate, to compare two versions in the
#              same session (e.g. before and after a change).
#
# Throughput: wrk -t$THREADS -c$CONNS -d$DURATION against each target in
# turn, $ROUNDS rounds, the order rotated every round; the median per
# target is reported with the ratios. Latency: wrk -t1 -c1 -d$LAT_DURATION
# --latency against direct and qgate, alternating, $ROUNDS rounds, each
# round after a sync (no audit writes of earlier rounds left to write
# back); the median p50 of each and the difference (what qgate adds) are
# reported.
#
# Needs Go (to build the programs) and, installed with apt-get when
# missing, wrk, nginx and curl. Every process it starts is stopped on exit.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
LAT_DURATION=${LAT_DURATION:-5s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
WARMUP=${WARMUP:-3s}
BASE_PORT=${BASE_PORT:-17100}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
TMPFS=${TMPFS:-1}
ASYNC=${ASYNC:-1}
FAST=${FAST:-0}
KEEP=${KEEP:-0} # 1: keep the temporary directory (configs, logs, databases)
REQ_PATH=${REQ_PATH:-/v1/users/42?expand=orders}

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
. scripts/bench/qgate-config.sh

log() { printf '%s\n' "$*" >&2; }
die() { log "http.sh: $*"; exit 1; }

# --- tools ------------------------------------------------------------------

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]} with apt-get"
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v go >/dev/null || die "go is required to build qgate and the benchmark programs"

# --- processes and cleanup --------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/qgate-bench.XXXXXX")
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
	if [ "$KEEP" = 1 ]; then
		log "kept $WORK ${SHM:+and $SHM}"
	else
		rm -rf "$WORK"
		[ -z "$SHM" ] || rm -rf "$SHM"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD in the background, output to $WORK/NAME.log;
# its pid is PID[NAME].
declare -A PID
start() {
	local name=$1
	shift
	"$@" >"$WORK/$name.log" 2>&1 &
	PIDS+=($!)
	PID[$name]=$!
}

# wait_http URL [HEADER]: until URL answers 200 (10 s at most).
wait_http() {
	local url=$1 header=${2:-X-Bench: 1} i
	for i in $(seq 100); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' -H "$header" "$url" || true)" = 200 ]; then
			return 0
		fi
		sleep 0.1
	done
	die "$url did not answer 200; logs in $WORK (rerun with KEEP=1)"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

P_UP=$BASE_PORT
P_BARE=$((BASE_PORT + 1))
P_NGINX=$((BASE_PORT + 2))
P_QGATE=$((BASE_PORT + 3))
P_QGATE_API=$((BASE_PORT + 4))
P_SHM=$((BASE_PORT + 5))
P_SHM_API=$((BASE_PORT + 6))
P_BASE=$((BASE_PORT + 7))
P_BASE_API=$((BASE_PORT + 8))
P_ASYNC=$((BASE_PORT + 9))
P_ASYNC_API=$((BASE_PORT + 10))
P_FAST=$((BASE_PORT + 11))
for p in $(seq "$BASE_PORT" $((BASE_PORT + 11))); do
	port_free "$p" || die "port $p is in use (set BASE_PORT)"
done

# --- build ------------------------------------------------------------------

log "building qgate, upstream and bareproxy"
mkdir -p "$WORK/bin"
go build -o "$WORK/bin/qgate" ./cmd/qgate
go build -o "$WORK/bin/upstream" ./scripts/bench/upstream
go build -o "$WORK/bin/bareproxy" ./scripts/bench/bareproxy
[ "$FAST" != 1 ] || go build -o "$WORK/bin/fastproxy" ./scripts/bench/fastproxy

# --- upstream and bare proxy ------------------------------------------------

start upstream "$WORK/bin/upstream" -listen "127.0.0.1:$P_UP"
wait_http "http://127.0.0.1:$P_UP/"
start bareproxy "$WORK/bin/bareproxy" -listen "127.0.0.1:$P_BARE" -upstream "http://127.0.0.1:$P_UP"
wait_http "http://127.0.0.1:$P_BARE/"
if [ "$FAST" = 1 ]; then
	start fastproxy "$WORK/bin/fastproxy" -listen "127.0.0.1:$P_FAST" -upstream "127.0.0.1:$P_UP"
	wait_http "http://127.0.0.1:$P_FAST/"
fi

# --- nginx ------------------------------------------------------------------

mkdir -p "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    upstream app {
        server 127.0.0.1:$P_UP;
        keepalive 256;
    }
    server {
        listen 127.0.0.1:$P_NGINX;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_buffering on;
        }
    }
}
EOF
chmod -R a+rwX "$WORK/nginx" # workers may run as nobody
start nginx "$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" -g 'daemon off;'
wait_http "http://127.0.0.1:$P_NGINX/"

# --- qgate ------------------------------------------------------------------

# qgate_start NAME DIR PORT APIPORT [BINARY [DURABILITY]]: writes
# DIR/qgate.yaml, issues a token into DIR/token, starts qgate serve.
qgate_start() {
	local name=$1 dir=$2 port=$3 api=$4 bin=${5:-$WORK/bin/qgate} durability=${6:-sync}
	qgate_config "$dir" "$port" "$api" "$P_UP" "$durability"
	"$bin" token create --config "$dir/qgate.yaml" --identity bench --roles reader >"$dir/token"
	start "$name" "$bin" serve --config "$dir/qgate.yaml"
	wait_http "http://127.0.0.1:$port$REQ_PATH" "Authorization: Bearer $(cat "$dir/token")"
}

qgate_start qgate "$WORK/qgate" "$P_QGATE" "$P_QGATE_API"
TOKEN=$(cat "$WORK/qgate/token")
TARGETS=(direct bare-go nginx qgate)
[ "$FAST" != 1 ] || TARGETS+=(fast-go)
if [ "$ASYNC" = 1 ]; then
	qgate_start qgate-async "$WORK/qgate-async" "$P_ASYNC" "$P_ASYNC_API" "$WORK/bin/qgate" async
	TOKEN_ASYNC=$(cat "$WORK/qgate-async/token")
	TARGETS+=(qgate-async)
fi
if [ "$TMPFS" = 1 ] && [ -d /dev/shm ]; then
	SHM=$(mktemp -d /dev/shm/qgate-bench.XXXXXX)
	qgate_start qgate-tmpfs "$SHM" "$P_SHM" "$P_SHM_API"
	TOKEN_SHM=$(cat "$SHM/token")
	TARGETS+=(qgate-tmpfs)
fi
if [ -n "${QGATE_BASE_BIN:-}" ]; then
	qgate_start qgate-base "$WORK/qgate-base" "$P_BASE" "$P_BASE_API" "$(realpath "$QGATE_BASE_BIN")"
	TOKEN_BASE=$(cat "$WORK/qgate-base/token")
	TARGETS+=(qgate-base)
fi

# target_args TARGET: sets ARGS to the headers and URL wrk uses for TARGET.
target_args() {
	case $1 in
	direct) ARGS=("http://127.0.0.1:$P_UP$REQ_PATH") ;;
	bare-go) ARGS=("http://127.0.0.1:$P_BARE$REQ_PATH") ;;
	fast-go) ARGS=("http://127.0.0.1:$P_FAST$REQ_PATH") ;;
	nginx) ARGS=("http://127.0.0.1:$P_NGINX$REQ_PATH") ;;
	qgate) ARGS=(-H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$P_QGATE$REQ_PATH") ;;
	qgate-async) ARGS=(-H "Authorization: Bearer $TOKEN_ASYNC" "http://127.0.0.1:$P_ASYNC$REQ_PATH") ;;
	qgate-tmpfs) ARGS=(-H "Authorization: Bearer $TOKEN_SHM" "http://127.0.0.1:$P_SHM$REQ_PATH") ;;
	qgate-base) ARGS=(-H "Authorization: Bearer $TOKEN_BASE" "http://127.0.0.1:$P_BASE$REQ_PATH") ;;
	*) die "unknown target $1" ;;
	esac
}

# server_pids TARGET: the processes that serve TARGET (nginx: the master
# and its workers).
server_pids() {
	case $1 in
	direct) echo "${PID[upstream]}" ;;
	bare-go) echo "${PID[bareproxy]}" ;;
	fast-go) echo "${PID[fastproxy]}" ;;
	nginx) echo "${PID[nginx]}" $(pgrep -P "${PID[nginx]}" || true) ;;
	*) echo "${PID[$1]}" ;;
	esac
}

# cpu_ticks PID...: user+system CPU time of the processes, in clock ticks.
cpu_ticks() {
	local pid sum=0 f
	for pid in "$@"; do
		# The fields after the command name (which may hold spaces): utime
		# and stime are the 12th and 13th of them.
		read -r -a f < <(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}
TCK=$(getconf CLK_TCK)

# run_wrk OUT TARGET WRK-OPTIONS...: runs wrk against TARGET, output to
# OUT, and fails on socket errors or non-2xx answers. It appends to OUT
# the CPU time the serving processes used ("cpu-ticks: N").
run_wrk() {
	local out=$1 target=$2
	shift 2
	target_args "$target"
	local pids t0
	pids=$(server_pids "$target")
	t0=$(cpu_ticks $pids)
	wrk "$@" "${ARGS[@]}" >"$out" 2>&1 || die "wrk failed against $target: $(cat "$out")"
	echo "cpu-ticks: $(($(cpu_ticks $pids) - t0))" >>"$out"
	if grep -qE 'Non-2xx|Socket errors' "$out"; then
		die "errors against $target: $(grep -E 'Non-2xx|Socket errors' "$out")"
	fi
}

# cpu_per_req FILE: CPU microseconds the serving processes spent per
# request during that wrk run.
cpu_per_req() {
	awk -v tck="$TCK" '$1 == "cpu-ticks:" {t = $2} $2 == "requests" && $3 == "in" {n = $1} END {if (n > 0) printf "%.0f\n", t / tck * 1e6 / n}' "$1"
}

rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }

# p50 FILE: the 50% latency of a wrk --latency output, in microseconds.
p50() {
	awk '$1 == "50%" {
		v = $2
		if (v ~ /us$/) { sub(/us$/, "", v); print v + 0 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); print v * 1000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000000 }
	}' "$1"
}

median() { sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# --- throughput -------------------------------------------------------------

mkdir -p "$WORK/results"
log "warming up ($WARMUP each)"
for t in "${TARGETS[@]}"; do
	run_wrk "$WORK/results/warmup-$t" "$t" -t"$THREADS" -c"$CONNS" -d"$WARMUP"
done

log "throughput: wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, ${#TARGETS[@]} targets"
n=${#TARGETS[@]}
for r in $(seq "$ROUNDS"); do
	for k in $(seq 0 $((n - 1))); do
		t=${TARGETS[$(((k + r - 1) % n))]}
		run_wrk "$WORK/results/tp-$t-$r" "$t" -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency
		log "  round $r $(printf '%-12s' "$t") $(rps "$WORK/results/tp-$t-$r") req/s, $(cpu_per_req "$WORK/results/tp-$t-$r") CPU-µs/req"
	done
done

# --- latency at one connection ----------------------------------------------

LAT_TARGETS=(direct qgate)
[ "$FAST" != 1 ] || LAT_TARGETS+=(fast-go)
[ -z "${TOKEN_ASYNC:-}" ] || LAT_TARGETS+=(qgate-async)
[ -z "${TOKEN_SHM:-}" ] || LAT_TARGETS+=(qgate-tmpfs)
[ -z "${TOKEN_BASE:-}" ] || LAT_TARGETS+=(qgate-base)
log "latency: wrk -t1 -c1 -d$LAT_DURATION --latency, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
	# The gateways' audit writes (hundreds of MB after the throughput
	# rounds) sit dirty in the page cache until the kernel writes them
	# back, about 30 s later, on the same two CPUs and disk: whichever
	# target runs then is slowed (qgate's p50 at one connection by 10-30
	# µs). Each round starts with none left, alike for every target.
	sync
	for t in "${LAT_TARGETS[@]}"; do
		run_wrk "$WORK/results/lat-$t-$r" "$t" -t1 -c1 -d"$LAT_DURATION" --latency
		log "  round $r $(printf '%-12s' "$t") p50 $(p50 "$WORK/results/lat-$t-$r") µs"
	done
done

# --- report -----------------------------------------------------------------

declare -A MED CPU
printf '\n%s\n' "qgate HTTP gateway benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -sr)"
printf '%s\n' "wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS interleaved rounds, GET $REQ_PATH"
printf '%s\n\n' "CPU-µs/req: user+system CPU of the serving process(es) per request (direct: the upstream alone)"
printf '%-12s %10s %11s   %s\n' target 'req/s' 'CPU-µs/req' 'req/s per round'
for t in "${TARGETS[@]}"; do
	vals=$(for r in $(seq "$ROUNDS"); do rps "$WORK/results/tp-$t-$r"; done)
	MED[$t]=$(echo "$vals" | median)
	CPU[$t]=$(for r in $(seq "$ROUNDS"); do cpu_per_req "$WORK/results/tp-$t-$r"; done | median)
	printf '%-12s %10.0f %11.0f   %s\n' "$t" "${MED[$t]}" "${CPU[$t]}" "$(echo $vals)"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# round_ratio A B: the median over rounds of A's req/s over B's in the same
# round. Targets of one round run within a minute of each other, so this
# is less moved than the ratio of medians by the host's speed changing
# between rounds.
round_ratio() {
	for r in $(seq "$ROUNDS"); do
		ratio "$(rps "$WORK/results/tp-$1-$r")" "$(rps "$WORK/results/tp-$2-$r")"
		echo
	done | median | awk '{printf "%.2f", $1}'
}
# ratio_line A B [GOAL]: one line of the ratio table.
ratio_line() {
	printf '%-22s %6s %9s %9s   %s\n' "$1/$2" "$(ratio "${MED[$1]}" "${MED[$2]}")" "$(round_ratio "$1" "$2")" \
		"$(ratio "${CPU[$1]}" "${CPU[$2]}")" "${3:-}"
}
printf '\n%s\n' "ratios of req/s (higher: qgate faster) and of CPU per request (lower: qgate leaner);"
printf '%s\n' "'per round' is the median of the rounds' own ratios"
printf '%-22s %6s %9s %9s   %s\n' '' 'req/s' 'per round' 'CPU/req' 'goal (req/s)'
ratio_line qgate bare-go '>= 1.0'
ratio_line qgate nginx '>= 0.5'
ratio_line nginx direct
ratio_line bare-go nginx
if [ -n "${MED[qgate-async]:-}" ]; then
	ratio_line qgate-async bare-go '>= 1.0 (audit.durability: async)'
	ratio_line qgate-async nginx '>= 0.5 (audit.durability: async)'
fi
if [ -n "${MED[fast-go]:-}" ]; then
	ratio_line qgate fast-go "(what qgate's own work keeps)"
	ratio_line fast-go nginx
fi
if [ -n "${MED[qgate-tmpfs]:-}" ]; then
	ratio_line qgate-tmpfs bare-go '(software path, not durable)'
	ratio_line qgate-tmpfs nginx '(software path, not durable)'
fi
if [ -n "${MED[qgate-base]:-}" ]; then
	ratio_line qgate qgate-base
fi

printf '\n%s\n' "p50 latency at one connection (wrk -t1 -c1 -d$LAT_DURATION), median of $ROUNDS rounds"
declare -A LAT
for t in "${LAT_TARGETS[@]}"; do
	LAT[$t]=$(for r in $(seq "$ROUNDS"); do p50 "$WORK/results/lat-$t-$r"; done | median)
	printf '%-22s %8.0f µs\n' "$t" "${LAT[$t]}"
done
printf '%-22s %8.0f µs   %s\n' 'added by qgate' "$(awk -v a="${LAT[qgate]}" -v b="${LAT[direct]}" 'BEGIN {print a - b}')" 'goal <= 100 µs'
if [ -n "${LAT[qgate-async]:-}" ]; then
	printf '%-22s %8.0f µs   %s\n' 'added by qgate-async' "$(awk -v a="${LAT[qgate-async]}" -v b="${LAT[direct]}" 'BEGIN {print a - b}')" 'goal <= 100 µs (audit.durability: async)'
fi
if [ -n "${LAT[fast-go]:-}" ]; then
	printf '%-22s %8.0f µs   %s\n' 'added by fast-go' "$(awk -v a="${LAT[fast-go]}" -v b="${LAT[direct]}" 'BEGIN {print a - b}')" '(a Go proxy that does nothing)'
fi
if [ -n "${LAT[qgate-base]:-}" ]; then
	printf '%-22s %8.0f µs\n' 'added by qgate-base' "$(awk -v a="${LAT[qgate-base]}" -v b="${LAT[direct]}" 'BEGIN {print a - b}')"
fi
if [ -n "${LAT[qgate-tmpfs]:-}" ]; then
	printf '%-22s %8.0f µs   %s\n' 'added by qgate-tmpfs' "$(awk -v a="${LAT[qgate-tmpfs]}" -v b="${LAT[direct]}" 'BEGIN {print a - b}')" '(software path, not durable)'
fi

# The audit log must hold every call, and its chain must verify.
printf '\n%s\n' "qgate audit log after the run:"
"$WORK/bin/qgate" audit verify --config "$WORK/qgate/qgate.yaml" 2>&1 | sed 's/^/  /' || true
if [ -n "${TOKEN_ASYNC:-}" ]; then
	printf '%s\n' "qgate-async audit log after the run:"
	"$WORK/bin/qgate" audit verify --config "$WORK/qgate-async/qgate.yaml" 2>&1 | sed 's/^/  /' || true
fi
