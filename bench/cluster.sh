#!/usr/bin/env bash
# Cluster benchmarks (issue 17) and the admin console with 1,000 sessions (issue 18), on loopback.
#
#   bench/cluster.sh [--only logins,transfers,admin] [--seconds S] [--admin-sessions N]
#
# 1. logins: named-account logins per second on one node (4 ftplib processes: connect, USER,
#    PASS, QUIT in a loop), accounts from a users file vs from PostgreSQL (--accounts postgres://).
# 2. transfers: short sessions per second (4 ftplib processes: connect, login, RETR 4 KiB, QUIT),
#    many small RETRs (500 x 64 KiB, 4 sessions) and one large RETR + STOR (512 MiB), straight to
#    one node vs through HAProxy (docs/haproxy-two-nodes.cfg, send-proxy-v2) to one node vs to two
#    nodes sharing the root; SHA-256 checked.
# 3. admin: one node with --admin-port and 1,000 logged-in FTP sessions: time of GET /api/sessions,
#    the Server-Sent Events page update (bytes per event, the server's CPU per second with one
#    reader against none), RSS before and with the sessions. bench/admin.sh runs this part alone,
#    two builds interleaved (the first request since the start, the event stream's bytes per second).
# All on one machine: the clients, HAProxy, PostgreSQL and every node share its cores, so two nodes
# cannot add CPU here; the figures say what the balancer and the database cost, not how a cluster
# scales. Data on tmpfs (/dev/shm). Writes bench/results/cluster.json and prints a table; the
# "Cluster" section of docs/benchmarks.md is written from it by hand. Run as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DEBIAN_FRONTEND=noninteractive

only="logins,transfers,admin" seconds=10 admin_sessions=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --admin-sessions) admin_sessions=$2; shift ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
want() { [[ ",$only," == *",$1,"* ]]; }

python=/usr/bin/python3
bash tests/peers/haproxy.sh install
bash tests/peers/postgres.sh install
dotnet build src/Ferry.Cli -c Release -v quiet -nologo
ferry=src/Ferry.Cli/bin/Release/net10.0/ferry.dll

work=$(mktemp -d /dev/shm/ferry-bench-cluster.XXXXXX)
out=bench/results
mkdir -p "$out"
pids=()
pg_dir=""
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$pg_dir" ] && bash tests/peers/postgres.sh stop "$pg_dir"
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { # wait_port HOST PORT PID LOG
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { cat "$4" >&2; exit 1; }
    sleep 0.1
  done
  echo "cluster.sh: nothing listens on $1:$2" >&2; cat "$4" >&2; exit 1
}
# serve NAME PORT ARGS...: a ferry serve in the background, its pid in $served
serve() {
  local name=$1 port=$2; shift 2
  dotnet "$ferry" serve --address 127.0.0.1 --port "$port" --log-level warning "$@" >"$work/$name.log" 2>&1 &
  served=$!
  pids+=("$served")
  wait_port 127.0.0.1 "$port" "$served" "$work/$name.log"
}
stop() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }
bench() { "$python" bench/clusterbench.py "$@"; }

results="$work/results.jsonl"
: >"$results"
record() { echo "{\"name\": \"$1\", \"result\": $2}" >>"$results"; echo "$1: $2" >&2; }

users=$work/users.json
printf 'bench\n' | dotnet "$ferry" user add bench --users "$users" --permissions all --password-stdin >/dev/null
mkdir -p "$work/root/small"

# --- 1. logins: users file vs PostgreSQL ---------------------------------------------------------
if want logins; then
  port=$(free_port)
  serve users "$port" --root "$work/root" --users "$users" --no-anonymous
  record logins-users-file "$(bench logins --port "$port" --seconds "$seconds" --clients 4)"
  stop "$served"

  pg_dir=$(mktemp -d /tmp/ferry-bench-pg.XXXXXX)
  pg_port=$(free_port)
  bash tests/peers/postgres.sh start "$pg_dir" "$pg_port"
  url="postgres://postgres@127.0.0.1:$pg_port/postgres"
  export FERRY_ACCOUNTS_PASSWORD=testpw
  printf 'bench\n' | dotnet "$ferry" user add bench --accounts "$url" --permissions all --password-stdin >/dev/null
  port=$(free_port)
  serve postgres "$port" --root "$work/root" --accounts "$url" --no-anonymous
  record logins-postgres "$(bench logins --port "$port" --seconds "$seconds" --clients 4)"
  stop "$served"
  unset FERRY_ACCOUNTS_PASSWORD
  bash tests/peers/postgres.sh stop "$pg_dir"; pg_dir=""
fi

# --- 2. transfers: direct vs HAProxy + 1 node vs HAProxy + 2 nodes -------------------------------
if want transfers; then
  "$python" -c 'import random, sys, os
r = random.Random(17)
root = sys.argv[1]
for i in range(500):
    open(os.path.join(root, "small", "%04d.bin" % i), "wb").write(r.randbytes(65536))
open(os.path.join(root, "tiny.bin"), "wb").write(r.randbytes(4096))
with open(os.path.join(root, "large.bin"), "wb") as f:
    for _ in range(512):
        f.write(r.randbytes(1 << 20))' "$work/root"
  # transfer_set NAME HOST PORT: short sessions, many small RETRs, one large RETR + STOR
  transfer_set() {
    record "sessions-$1" "$(bench sessions --host "$2" --port "$3" --seconds "$seconds" --clients 4 --data "$work/root")"
    record "small-$1" "$(bench small --host "$2" --port "$3" --files 500 --sessions 4 --data "$work/root")"
    record "large-$1" "$(bench large --host "$2" --port "$3" --data "$work/root" --root "$work/root")"
  }
  port=$(free_port)
  serve direct "$port" --root "$work/root" --users "$users" --no-anonymous --passive-ports 40000-40019
  transfer_set direct 127.0.0.1 "$port"
  stop "$served"

  # balance NODE_A_PORT NODE_B_PORT: HAProxy with the shipped configuration in front of them; with
  # one node both of its servers are that node (its passive ports 40000-40009; node_b's frontend
  # range is then bound but never advertised).
  balance() {
    lb=$(free_port)
    LB_ADDRESS=127.0.0.10 LB_CONTROL_PORT=$lb NODE_A=127.0.0.1 NODE_B=127.0.0.1 NODE_A_CONTROL_PORT=$1 NODE_B_CONTROL_PORT=$2 \
      NODE_A_PASSIVE=40000-40009 NODE_B_PASSIVE=40010-40019 haproxy -f docs/haproxy-two-nodes.cfg -db >"$work/haproxy.log" 2>&1 &
    pid_lb=$!
    pids+=("$pid_lb")
    wait_port 127.0.0.10 "$lb" "$pid_lb" "$work/haproxy.log"
    sleep 1 # the first health checks mark the servers up
  }
  a=$(free_port); b=$(free_port)
  node_args=(--root "$work/root" --users "$users" --no-anonymous --proxy-protocol --proxy-trusted 127.0.0.1 --proxy-protocol-data --passive-address 127.0.0.10)
  serve node-a "$a" "${node_args[@]}" --passive-ports 40000-40009; pid_a=$served
  balance "$a" "$a"
  transfer_set haproxy-1 127.0.0.10 "$lb"
  stop "$pid_lb"

  serve node-b "$b" "${node_args[@]}" --passive-ports 40010-40019; pid_b=$served
  balance "$a" "$b"
  transfer_set haproxy 127.0.0.10 "$lb"
  stop "$pid_lb"; stop "$pid_a"; stop "$pid_b"
fi

# --- 3. admin console with N sessions ------------------------------------------------------------
if want admin; then
  printf 'bench\n' | dotnet "$ferry" admin add root --users "$users" --password-stdin >/dev/null
  token=$(dotnet "$ferry" admin token root --users "$users" --label bench 2>/dev/null | head -n1)
  [ -n "$token" ] || { echo "cluster.sh: no API token from ferry admin token" >&2; exit 1; }
  port=$(free_port); admin_port=$(free_port)
  serve admin "$port" --root "$work/root" --users "$users" --no-anonymous --admin-port "$admin_port" \
    --max-connections $((admin_sessions + 100)) --max-connections-per-ip $((admin_sessions / 100 + 32))
  wait_port 127.0.0.1 "$admin_port" "$served" "$work/admin.log"
  record admin "$(bench admin --port "$port" --sessions "$admin_sessions" --admin-port "$admin_port" --token "$token" --pid "$served")"
  stop "$served"
fi

info="$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); Ferry $(git rev-parse --short HEAD); HAProxy $(dpkg-query -W -f='${Version}' haproxy); PostgreSQL $(dpkg-query -W -f='${Version}' postgresql-15)"
"$python" - "$results" "$info" >"$out/cluster.json" <<'PY'
import json, sys
print(json.dumps({"run": sys.argv[2], "results": {j["name"]: j["result"] for j in map(json.loads, open(sys.argv[1]))}}, indent=2))
PY
cat "$out/cluster.json"
