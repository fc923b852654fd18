#!/usr/bin/env bash
# Compare the CPU cost per call of two qgate builds, both under load at the
# same time, so that the host's speed, which moves by tens of percent from
# one minute to the next on a shared machine, moves both alike.
#
#   go build -o /tmp/qgate-old ./cmd/qgate          # e.g. on the base commit
#   go build -o /tmp/qgate-new ./cmd/qgate          # on the change
#   scripts/bench/http-pair.sh /tmp/qgate-old /tmp/qgate-new
#   DURABILITY=sync ROUNDS=6 scripts/bench/http-pair.sh A B
#   DURABILITY=async DURABILITY_B=sync scripts/bench/http-pair.sh Q Q   # one build, two modes
#
# Each build serves its own HTTP target (SQLite store in a temporary
# directory, the allow policy of http.sh) in front of one shared upstream
# (scripts/bench/upstream); every round runs wrk -t1 -c$CONNS against both
# at once for $DURATION and prints each gateway's CPU time (user+system)
# per request, and their ratio. The two compete for the same two CPUs, so
# the absolute figures are higher than in http.sh; the ratio is the point.
# Needs Go and wrk (installed with apt-get when missing).
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 QGATE_BINARY_A QGATE_BINARY_B" >&2; exit 2; }
A=$(realpath "$1")
B=$(realpath "$2")
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-8s}
CONNS=${CONNS:-32}
DURABILITY=${DURABILITY:-async}
DURABILITY_B=${DURABILITY_B:-$DURABILITY}
BASE_PORT=${BASE_PORT:-17300}
REQ_PATH=${REQ_PATH:-/v1/users/42?expand=orders}

cd "$(dirname "$0")/../.."
. scripts/bench/qgate-config.sh
command -v wrk >/dev/null || {
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/qgate-pair.XXXXXX")
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$WORK/upstream" ./scripts/bench/upstream
P_UP=$BASE_PORT
"$WORK/upstream" -listen "127.0.0.1:$P_UP" >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)

declare -a PID TOKEN PORT
for i in 0 1; do
	bin=$A
	[ "$i" = 0 ] || bin=$B
	dir=$WORK/$i
	PORT[$i]=$((BASE_PORT + 1 + 2 * i))
	durability=$DURABILITY
	[ "$i" = 0 ] || durability=$DURABILITY_B
	qgate_config "$dir" "${PORT[$i]}" $((BASE_PORT + 2 + 2 * i)) "$P_UP" "$durability"
	TOKEN[$i]=$("$bin" token create --config "$dir/qgate.yaml" --identity bench --roles reader)
	"$bin" serve --config "$dir/qgate.yaml" >"$dir/serve.log" 2>&1 &
	PID[$i]=$!
	PIDS+=($!)
done

url() { echo "http://127.0.0.1:${PORT[$1]}$REQ_PATH"; }
for i in 0 1; do
	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN[$i]}" "$(url "$i")" || true)" = 200 ] && break
		sleep 0.1
	done
	wrk -t1 -c4 -d1s -H "Authorization: Bearer ${TOKEN[$i]}" "$(url "$i")" >/dev/null
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
per_req() { awk -v t="$1" -v n="$2" -v tck="$TCK" 'BEGIN {printf "%.1f", t / tck * 1e6 / n}'; }

printf 'audit.durability %s (A) and %s (B), wrk -t1 -c%s -d%s against each at once\n' "$DURABILITY" "$DURABILITY_B" "$CONNS" "$DURATION"
printf '%-6s %14s %14s %8s\n' round 'A CPU-µs/req' 'B CPU-µs/req' 'B/A'
ratios=()
for r in $(seq "$ROUNDS"); do
	a0=$(ticks "${PID[0]}")
	b0=$(ticks "${PID[1]}")
	wrk -t1 -c"$CONNS" -d"$DURATION" -H "Authorization: Bearer ${TOKEN[0]}" "$(url 0)" >"$WORK/a.out" 2>&1 &
	w=$!
	wrk -t1 -c"$CONNS" -d"$DURATION" -H "Authorization: Bearer ${TOKEN[1]}" "$(url 1)" >"$WORK/b.out" 2>&1
	wait "$w"
	na=$(awk '/requests in/ {print $1}' "$WORK/a.out")
	nb=$(awk '/requests in/ {print $1}' "$WORK/b.out")
	ca=$(per_req $(($(ticks "${PID[0]}") - a0)) "$na")
	cb=$(per_req $(($(ticks "${PID[1]}") - b0)) "$nb")
	ratio=$(awk -v a="$ca" -v b="$cb" 'BEGIN {printf "%.3f", b / a}')
	ratios+=("$ratio")
	printf '%-6s %14s %14s %8s\n' "$r" "$ca" "$cb" "$ratio"
done
printf 'median B/A: %s  (A: %s, B: %s)\n' \
	"$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')" "$A" "$B"
