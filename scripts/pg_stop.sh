#!/usr/bin/env bash
# Stops a cluster started by scripts/pg_start.sh and removes its directory.
#
#   scripts/pg_stop.sh "$POP3D_PG_DATA"
set -euo pipefail
DATA="${1:?usage: pg_stop.sh DATA_DIR}"
[ -d "$DATA/db" ] || { echo "pg_stop: no cluster in $DATA" >&2; exit 1; }
BIN=""
for dir in /usr/lib/postgresql/*/bin; do
  [ -x "$dir/pg_ctl" ] && BIN="$dir"
done
[ -n "$BIN" ] || BIN="$(dirname "$(command -v pg_ctl)")"
RUN=()
[ "$(id -u)" = "0" ] && RUN=(runuser -u "$(stat -c %U "$DATA")" --)
"${RUN[@]}" "$BIN/pg_ctl" -D "$DATA/db" -m immediate -w stop >&2 || true
rm -rf -- "$DATA"
