#!/usr/bin/env bash
# The admin console with 1,000 FTP sessions (issue 18): two builds of ferry compared INTERLEAVED
# (base, this tree, base, this tree, ...), since the machine's load moves absolute figures.
#
#   bench/admin.sh [--base DIR] [--reps N] [--sessions N] [--busy N]
#
# --base DIR: a checkout of the commit to compare with, built here (e.g. `git archive main | tar -x
# -C DIR`); without it only this tree is measured. Each run starts a fresh `ferry serve
# --admin-port`, opens N logged-in sessions, then (bench/clusterbench.py admin): the first GET
# /api/sessions since the start (wall time and the server's CPU time around it), 50 more (p50,
# p99), the Server-Sent Events stream for 10 s with every session idle and for 10 s with --busy of
# them sending a NOOP a second (bytes of the first event, bytes per second after it), the server's
# CPU and RSS. Writes bench/results/admin.json (every run, and the medians per build). Run as root
# (the sessions come from 200 loopback addresses, 127.0.0.10-209).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

base="" reps=3 sessions=1000 busy=50
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift ;;
    --reps) reps=$2; shift ;;
    --sessions) sessions=$2; shift ;;
    --busy) busy=$2; shift ;;
    *) echo "admin.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

python=/usr/bin/python3
dotnet build src/Ferry.Cli -c Release -v quiet -nologo
ferry=$PWD/src/Ferry.Cli/bin/Release/net10.0/ferry.dll
variants=("new=$ferry")
if [ -n "$base" ]; then
  (cd "$base" && dotnet build src/Ferry.Cli -c Release -v quiet -nologo)
  variants=("base=$base/src/Ferry.Cli/bin/Release/net10.0/ferry.dll" "${variants[@]}")
fi

work=$(mktemp -d /dev/shm/ferry-bench-admin.XXXXXX)
out=bench/results
mkdir -p "$out" "$work/root"
served=""
cleanup() {
  [ -n "$served" ] && { kill -TERM "$served" 2>/dev/null || true; wait "$served" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { # wait_port PORT PID LOG
  for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; exit 1; }
    sleep 0.1
  done
  echo "admin.sh: nothing listens on port $1" >&2; cat "$3" >&2; exit 1
}

users=$work/users.json
printf 'bench\n' | dotnet "$ferry" user add bench --users "$users" --permissions all --password-stdin >/dev/null
printf 'bench\n' | dotnet "$ferry" admin add root --users "$users" --password-stdin >/dev/null
token=$(dotnet "$ferry" admin token root --users "$users" --label bench 2>/dev/null | head -n1)
[ -n "$token" ] || { echo "admin.sh: no API token from ferry admin token" >&2; exit 1; }

results=$work/results.jsonl
: >"$results"
for rep in $(seq "$reps"); do
  for variant in "${variants[@]}"; do
    name=${variant%%=*} dll=${variant#*=}
    port=$(free_port) admin_port=$(free_port)
    dotnet "$dll" serve --address 127.0.0.1 --port "$port" --log-level warning --root "$work/root" --users "$users" --no-anonymous \
      --admin-port "$admin_port" --max-connections $((sessions + 100)) --max-connections-per-ip $((sessions / 100 + 32)) >"$work/$name.log" 2>&1 &
    served=$!
    # The FTP port: the console is not asked anything before the measurement (its first request is measured).
    wait_port "$port" "$served" "$work/$name.log"
    r=$("$python" bench/clusterbench.py admin --port "$port" --sessions "$sessions" --admin-port "$admin_port" --token "$token" --pid "$served" --busy "$busy")
    echo "{\"variant\": \"$name\", \"rep\": $rep, \"result\": $r}" >>"$results"
    echo "$name #$rep: $r" >&2
    kill -TERM "$served"; wait "$served" 2>/dev/null || true; served=""
  done
done

info="$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); Ferry $(git rev-parse --short HEAD)"
"$python" - "$results" "$info" >"$out/admin.json" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
def med(name, f):
    values = [f(r["result"]) for r in runs if r["variant"] == name]
    return round(statistics.median(values), 1) if values else None
summary = {}
for name in dict.fromkeys(r["variant"] for r in runs):
    summary[name] = {
        "api_first_ms": med(name, lambda r: r["api_first_ms"]),
        "api_first_server_cpu_ms": med(name, lambda r: r["api_first_server_cpu_ms"]),
        "api_later_server_cpu_ms_per_request": med(name, lambda r: r["api_later_server_cpu_ms_per_request"]),
        "api_later_p50_ms": med(name, lambda r: r["api_later_ms"]["p50"]),
        "api_later_p99_ms": med(name, lambda r: r["api_later_ms"]["p99"]),
        "sse_first_event_bytes": med(name, lambda r: r["sse_idle_sessions"]["first_event_bytes"]),
        "sse_idle_bytes_per_s": med(name, lambda r: r["sse_idle_sessions"]["bytes_per_second"]),
        "sse_busy_bytes_per_s": med(name, lambda r: r.get("sse_busy_sessions", {}).get("bytes_per_second", 0)),
        "cpu_idle_ms_per_s": med(name, lambda r: r["cpu_idle_per_s"] * 1000),
        "cpu_with_sse_ms_per_s": med(name, lambda r: r["cpu_with_sse_per_s"] * 1000),
        "load_average_1min": med(name, lambda r: float(r["load_average"][0])),
    }
print(json.dumps({"run": sys.argv[2], "medians": summary, "runs": runs}, indent=2))
PY
"$python" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["run"]); print(json.dumps(d["medians"], indent=2))' "$out/admin.json"
