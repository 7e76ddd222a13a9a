#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster for the tests and benchmarks.
#
#   eval "$(scripts/pg_start.sh)"   # exports POP3D_PG_URL and POP3D_PG_DATA
#   ... run tests ...
#   scripts/pg_stop.sh "$POP3D_PG_DATA"
#
# Installs Debian's `postgresql` with apt-get when initdb is missing (unless
# PG_START_NO_INSTALL=1), runs initdb as an unprivileged user (PostgreSQL
# refuses to run as root: as root it uses the `postgres` account), trusts
# local connections only, and listens on a unix socket in the temp dir (no
# TCP port). Prints export lines on stdout; logs go to stderr.
set -euo pipefail

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ]; then
      echo "$dir"
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

if ! BIN="$(find_bin)"; then
  if [ "${PG_START_NO_INSTALL:-0}" = "1" ]; then
    echo "pg_start: initdb not found and PG_START_NO_INSTALL=1" >&2
    exit 2
  fi
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "pg_start: initdb not found; install PostgreSQL (Debian: postgresql)" >&2
    exit 2
  fi
  echo "pg_start: installing postgresql with apt-get" >&2
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2
  BIN="$(find_bin)"
fi

DATA="$(mktemp -d "${TMPDIR:-/tmp}/pop3d-pg.XXXXXX")"
chmod 755 "$DATA"
RUN=()
if [ "$(id -u)" = "0" ]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres >&2
  fi
  chown postgres: "$DATA"
  RUN=(runuser -u postgres --)
fi

"${RUN[@]}" "$BIN/initdb" -D "$DATA/db" -U pop3d --auth=trust \
  --encoding=UTF8 --no-locale --no-sync >&2
"${RUN[@]}" "$BIN/pg_ctl" -D "$DATA/db" -l "$DATA/log" -w \
  -o "-c listen_addresses='' -k $DATA -c fsync=off -c max_connections=200" \
  start >&2

echo "export POP3D_PG_URL='postgres://pop3d@localhost/postgres?host=$DATA'"
echo "export POP3D_PG_DATA='$DATA'"
