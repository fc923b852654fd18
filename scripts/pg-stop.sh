#!/usr/bin/env bash
# pg-stop.sh DIR stops a server started by pg-start.sh and removes DIR.
set -euo pipefail
dir=${1:?usage: pg-stop.sh DIR (the second line pg-start.sh printed)}
[ -d "$dir/data" ] || { echo "pg-stop: $dir is not a pg-start.sh directory" >&2; exit 1; }
bin=$(cat "$dir/bin" 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
run=()
[ "$(id -u)" != 0 ] || run=(runuser -u postgres --)
"${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
rm -rf "$dir"
