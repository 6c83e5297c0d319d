#!/usr/bin/env bash
# Memory per idle logged-in session (issue 22 item 8): Ferry against pyftpdlib in one run. Each
# repetition starts every server fresh, in turn (ferry, any --ferry-dll builds, pyftpdlib), and
# bench/idle-clients.py measures the server's PSS (/proc/PID/smaps_rollup) before and SETTLE seconds
# after N anonymous sessions logged in, each from its own 127.0.x.y address. Ferry runs with its
# defaults except --max-connections (the default 2,000 would refuse most of the sessions).
# SETTLE is 15 s: an idle session is one that has been idle a while, and Ferry gives back what the
# burst of logins left committed once it has been quiet for 10 s (--memory-trim-delay); pyftpdlib's
# figure is the same at 2 s and 15 s (docs/benchmarks.md, "Idle sessions").
# Writes bench/results/idle.jsonl (one line per measurement) and bench/results/idle.md (medians, the
# ratio to pyftpdlib, the load average at each measurement).
#
#   bench/idle.sh [--sessions N] [--reps N] [--settle SECONDS] [--ferry-dll NAME=PATH]... [--no-pyftpdlib] [--no-build]
#
# --ferry-dll NAME=PATH adds another build of Ferry (a ferry.dll), measured in the same alternation
# (e.g. main before a change: git worktree add /tmp/before main && dotnet build /tmp/before/src/Ferry.Cli -c Release).
# Needs python3 and pyftpdlib (Debian's python3-pyftpdlib, run with /usr/bin/python3), and a file
# descriptor limit above N (raised to the hard limit here).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

sessions=10000 reps=3 settle=15 build=1 pyftpdlib=1
servers=("ferry=src/Ferry.Cli/bin/Release/net10.0/ferry.dll")
while [ $# -gt 0 ]; do
  case "$1" in
    --sessions) sessions=$2; shift ;;
    --reps) reps=$2; shift ;;
    --settle) settle=$2; shift ;;
    --ferry-dll) servers+=("$2"); shift ;;
    --no-pyftpdlib) pyftpdlib=0 ;;
    --no-build) build=0 ;;
    *) echo "idle.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$pyftpdlib" = 1 ] && servers+=("pyftpdlib=bench/pyftpd.py")

ulimit -n "$(ulimit -Hn)" || true
if [ "$(ulimit -n)" -le $((sessions + 100)) ]; then
  echo "idle.sh: the file descriptor limit ($(ulimit -n)) is too low for $sessions sessions" >&2
  exit 1
fi
if [ "$(( sessions ))" -gt 62500 ]; then
  echo "idle.sh: at most 62,500 sessions (one per 127.0.x.y address)" >&2
  exit 2
fi
[ "$build" = 1 ] && dotnet build src/Ferry.Cli -c Release -v quiet -nologo

out=bench/results
mkdir -p "$out"
root=$(mktemp -d /tmp/ferry-idle.XXXXXX)
echo "an idle server's only file" >"$root/readme.txt"
chmod -R a+rX "$root"
: >"$out/idle.jsonl"

pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$root"
}
trap cleanup EXIT

port=${FERRY_BENCH_PORT:-2470}
for rep in $(seq 1 "$reps"); do
  for server in "${servers[@]}"; do
    name=${server%%=*} path=${server#*=}
    port=$((port + 1))
    log="$out/idle-$name.log"
    if [ "$name" = pyftpdlib ]; then
      setsid /usr/bin/python3 "$path" "$port" "$root" bench bench >"$log" 2>&1 &
    else
      setsid dotnet "$path" serve --root "$root" --address 127.0.0.1 --port "$port" \
        --max-connections $((sessions + 1000)) >"$log" 2>&1 &
    fi
    pid=$!
    start=$(date +%s)
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
      sleep 0.05
      if [ $(( $(date +%s) - start )) -gt 60 ]; then echo "idle.sh: $name did not start (see $log)" >&2; exit 1; fi
    done
    # The start-up's own allocations settle before the first reading.
    sleep 1
    load=$(cut -d' ' -f1 /proc/loadavg)
    line=$(python3 bench/idle-clients.py "$port" "$pid" "$sessions" "$settle")
    echo "{\"server\": \"$name\", \"rep\": $rep, \"load\": $load, ${line#\{}" | tee -a "$out/idle.jsonl"
    kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  done
done

python3 - "$out/idle.jsonl" "$sessions" "$reps" <<'PY' | tee "$out/idle.md"
import json, statistics, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sessions, reps = sys.argv[2], sys.argv[3]
names = list(dict.fromkeys(r["server"] for r in rows))
def med(name, key):
    xs = [r[key] for r in rows if r["server"] == name and r[key] is not None]
    return statistics.median(xs) if xs else None
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
loads = [r["load"] for r in rows]
print(f"bench/idle.sh --sessions {sessions} --reps {reps} (Ferry {commit}); load average {min(loads):.1f}-{max(loads):.1f}\n")
print("| server | KiB/session (PSS), median | runs | ratio to pyftpdlib | RSS KiB/session | sessions | errors |")
print("|---|---:|---|---:|---:|---:|---:|")
base = med("pyftpdlib", "kib_per_session")
for n in names:
    m = med(n, "kib_per_session")
    runs = ", ".join(f"{r['kib_per_session']:.2f}" for r in rows if r["server"] == n and r["kib_per_session"] is not None)
    ratio = f"{m / base:.2f}x" if base and m else "-"
    sess = min(r["sessions"] for r in rows if r["server"] == n)
    errors = sum(r["errors"] for r in rows if r["server"] == n)
    print(f"| {n} | {m:.2f} | {runs} | {ratio} | {med(n, 'rss_kib_per_session'):.2f} | {sess} | {errors} |")
PY
