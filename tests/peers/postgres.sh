#!/usr/bin/env bash
# A throwaway PostgreSQL 15 on loopback for the cluster tests (Debian's postgresql-15), all under
# one directory, owned by the postgres system user (initdb refuses to run as root).
#
#   postgres.sh install          installs postgresql-15 when missing (root; apt-get)
#   postgres.sh start DIR PORT   initdb (scram-sha-256, superuser "postgres", password "testpw")
#                                and pg_ctl start on 127.0.0.1:PORT (socket in DIR); returns once
#                                the server accepts connections
#   postgres.sh stop DIR         stops it (immediate) and removes DIR
#   postgres.sh pause DIR        stops it, keeping DIR (a database outage in a test)
#   postgres.sh resume DIR PORT  starts it again from DIR
#
# fsync, synchronous_commit and full_page_writes are off: test data, speed over durability.
set -euo pipefail

BIN=/usr/lib/postgresql/15/bin
PASSWORD=testpw

usage() { echo "usage: $0 install | start DIR PORT | stop DIR | pause DIR | resume DIR PORT" >&2; exit 2; }

install() {
  if [ -x "$BIN/initdb" ] && [ -x "$BIN/pg_ctl" ]; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "postgres.sh: postgresql-15 is missing; run '$0 install' as root" >&2
    exit 1
  fi
  echo "postgres.sh: apt-get install postgresql-15"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  # The package may create a cluster of its own (main, port 5432): the tests never use it, they
  # start theirs on a free port.
  apt-get install -y --no-install-recommends postgresql-15
}

# as_pg CMD...: runs CMD as the postgres user when we are root (initdb refuses root), else as us.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

run_server() { # run_server DIR PORT
  as_pg "$BIN/pg_ctl" -D "$1/db" -l "$1/log" -w -t 30 \
    -o "-p $2 -k $1 -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
}

start() { # start DIR PORT
  local dir=$1 port=$2
  [ -x "$BIN/initdb" ] || { echo "postgres.sh: postgresql-15 is not installed (run '$0 install')" >&2; exit 1; }
  stop "$dir"
  mkdir -p "$dir"
  printf '%s' "$PASSWORD" > "$dir/pw"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$dir"; fi
  as_pg "$BIN/initdb" -D "$dir/db" -U postgres --pwfile="$dir/pw" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { echo "postgres.sh: initdb failed:" >&2; cat "$dir/initdb.log" >&2; exit 1; }
  if ! run_server "$dir" "$port"; then
    echo "postgres.sh: pg_ctl start failed on port $port:" >&2
    tail -n 20 "$dir/log" >&2 || true
    exit 1
  fi
}

stop() { # stop DIR
  local dir=$1
  if [ -f "$dir/db/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl" -D "$dir/db" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

pause() { # pause DIR
  as_pg "$BIN/pg_ctl" -D "$1/db" -m fast -w -t 30 stop >/dev/null
}

case "${1:-}" in
  install) install ;;
  start) [ $# -eq 3 ] || usage; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  pause) [ $# -eq 2 ] || usage; pause "$2" ;;
  resume) [ $# -eq 3 ] || usage; run_server "$2" "$3" ;;
  *) usage ;;
esac
