#!/usr/bin/env bash
# Short sessions in the first seconds after start (issue 22 item 7): each variant is started fresh,
# CLIENTS bench/ftplib-loop.py "sessions" processes (connect, login, RETR 4 KiB, QUIT, in a loop) start
# as soon as its port accepts and run WINDOW seconds (the "first" window), then again WINDOW seconds
# ("steady"). Sessions are counted from the clients' output, the server's CPU time from
# /proc/PID/stat (user + system) over each window. Variants run in turn, pyftpdlib among them, so
# every repetition is one alternation on the same machine state.
#   jit           ferry as shipped (tiered compilation with PGO; the runtimeconfig of Ferry.Cli.csproj)
#   no-pgo        DOTNET_TieredPGO=0 (no instrumented tier: hot code goes from tier 0 to tier 1 at once)
#   no-tiering    DOTNET_TieredCompilation=0 (everything fully optimized at its first call)
#   no-delay      DOTNET_TC_CallCountingDelayMs=0 (call counting, hence tier-up, starts at once instead
#                 of waiting until no new method has been jitted for 100 ms, which start-up keeps extending)
#   loops-opt     DOTNET_TC_QuickJitForLoops=0 (methods with loops are fully optimized at first call)
#   no-spin       DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 (idle pool workers sleep instead of spinning)
#   aot           the Native AOT executable packaging/publish.sh ships (FERRY_AOT=PATH, default
#                 artifacts/publish/linux-x64/ferry): no JIT, so nothing to warm up
#   pyftpdlib     bench/pyftpd.py with Debian's pyftpdlib
# Ferry runs with --log-level warning and the limits raised, as in docs/benchmarks.md; --defaults runs it
# with every default instead.
#
#   bench/first-seconds.sh [--reps N] [--variants jit,no-pgo,...] [--clients N] [--window SECONDS] [--defaults] [--no-build]
# Writes bench/results/first-seconds.jsonl and bench/results/first-seconds.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

reps=3 clients=8 window=10 build=1
variants="jit,no-pgo,no-tiering,no-delay,loops-opt,no-spin,pyftpdlib"
ferry_args=(--log-level warning --max-connections 20000 --max-connections-per-ip 20000 --no-defender --max-commands-per-second 100000)
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift ;;
    --variants) variants=$2; shift ;;
    --clients) clients=$2; shift ;;
    --window) window=$2; shift ;;
    --defaults) ferry_args=() ;;
    --no-build) build=0 ;;
    *) echo "first-seconds.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$build" = 1 ] && dotnet build src/Ferry.Cli -c Release -v quiet -nologo
ferry=src/Ferry.Cli/bin/Release/net10.0/ferry.dll
# The `aot` variant: the Native AOT executable packaging/publish.sh ships (no JIT, no tiering).
aot=${FERRY_AOT:-artifacts/publish/linux-x64/ferry}

out=bench/results
mkdir -p "$out"
root=$(mktemp -d /tmp/ferry-first.XXXXXX)
head -c 4096 /dev/urandom >"$root/small.bin"
chmod -R a+rX "$root"
: >"$out/first-seconds.jsonl"

pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$root"
}
trap cleanup EXIT

tick=$(getconf CLK_TCK)
cpu_us() { awk -v t="$tick" '{ print ($14 + $15) * 1000000 / t }' "/proc/$1/stat"; }

# One window: CLIENTS loops for WINDOW seconds; prints "sessions cpu_us".
run_window() {
  local port=$1 before after files=() i total=0
  before=$(cpu_us "$pid")
  for i in $(seq 1 "$clients"); do
    files+=("$(mktemp)")
    python3 bench/ftplib-loop.py sessions 127.0.0.1 "$port" "$window" >"${files[-1]}" 2>&1 &
  done
  wait
  after=$(cpu_us "$pid")
  for i in "${files[@]}"; do
    # "sessions 123/s (1234 in 10.0 s)"
    total=$((total + $(sed -n 's/.*(\([0-9]*\) in .*/\1/p' "$i" | head -n1 | grep . || echo 0)))
    rm -f "$i"
  done
  echo "$total $(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.0f", a - b }')"
}

port=${FERRY_BENCH_PORT:-2520}
for rep in $(seq 1 "$reps"); do
  for variant in ${variants//,/ }; do
    port=$((port + 1))
    envs=()
    case "$variant" in
      jit) ;;
      no-pgo) envs=(DOTNET_TieredPGO=0) ;;
      no-tiering) envs=(DOTNET_TieredCompilation=0) ;;
      no-delay) envs=(DOTNET_TC_CallCountingDelayMs=0) ;;
      loops-opt) envs=(DOTNET_TC_QuickJitForLoops=0) ;;
      no-spin) envs=(DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0) ;;
      aot) [ -x "$aot" ] || { echo "first-seconds.sh: variant aot needs $aot (packaging/publish.sh --no-pack linux-x64, or FERRY_AOT=PATH)" >&2; exit 2; } ;;
      pyftpdlib) ;;
      *) echo "first-seconds.sh: unknown variant $variant" >&2; exit 2 ;;
    esac
    # Every variant makes ~30,000 short sessions, each with a data connection: wait for the loopback
    # ports they left in TIME_WAIT (60 s) to drain, or the next server's PASV binds and the clients'
    # connects fail with EADDRINUSE (the server run after them then counts no session at all).
    waited=0
    while [ "$(ss -Htan state time-wait | wc -l)" -gt 1000 ] && [ "$waited" -lt 75 ]; do sleep 1; waited=$((waited + 1)); done
    log="$out/first-seconds-$variant.log"
    if [ "$variant" = pyftpdlib ]; then
      setsid /usr/bin/python3 bench/pyftpd.py "$port" "$root" bench bench >"$log" 2>&1 &
    elif [ "$variant" = aot ]; then
      setsid "$aot" serve --root "$root" --address 127.0.0.1 --port "$port" "${ferry_args[@]}" >"$log" 2>&1 &
    else
      env "${envs[@]}" setsid dotnet "$ferry" serve --root "$root" --address 127.0.0.1 --port "$port" "${ferry_args[@]}" >"$log" 2>&1 &
    fi
    pid=$!
    start=$(date +%s)
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
      sleep 0.01
      if [ $(( $(date +%s) - start )) -gt 60 ]; then echo "first-seconds.sh: $variant did not start (see $log)" >&2; exit 1; fi
    done
    load=$(cut -d' ' -f1 /proc/loadavg)
    read -r first_n first_cpu < <(run_window "$port")
    read -r steady_n steady_cpu < <(run_window "$port")
    echo "{\"variant\": \"$variant\", \"rep\": $rep, \"load\": $load, \"window\": $window, \"first_sessions\": $first_n, \"first_cpu_us\": $first_cpu, \"steady_sessions\": $steady_n, \"steady_cpu_us\": $steady_cpu}" \
      | tee -a "$out/first-seconds.jsonl"
    kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  done
done

python3 - "$out/first-seconds.jsonl" "$reps" "$clients" <<'PY' | tee "$out/first-seconds.md"
import json, statistics, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reps, clients = sys.argv[2], sys.argv[3]
names = list(dict.fromkeys(r["variant"] for r in rows))
def med(n, f):
    xs = [f(r) for r in rows if r["variant"] == n]
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
per = lambda key, cpu: (lambda r: r[cpu] / r[key] if r[key] else None)
rate = lambda key: (lambda r: r[key] / r["window"])
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
loads = [r["load"] for r in rows]
print(f"bench/first-seconds.sh --reps {reps} --clients {clients} (Ferry {commit}); load average {min(loads):.1f}-{max(loads):.1f}\n")
print("| variant | first: sessions/s | CPU µs/session | ratio to pyftpdlib | steady: sessions/s | CPU µs/session | ratio to pyftpdlib |")
print("|---|---:|---:|---:|---:|---:|---:|")
pf, ps = med("pyftpdlib", rate("first_sessions")), med("pyftpdlib", rate("steady_sessions"))
for n in names:
    f, s = med(n, rate("first_sessions")), med(n, rate("steady_sessions"))
    fc, sc = med(n, per("first_sessions", "first_cpu_us")), med(n, per("steady_sessions", "steady_cpu_us"))
    rf = f"{f / pf:.2f}x" if pf else "-"
    rs = f"{s / ps:.2f}x" if ps else "-"
    print(f"| {n} | {f:.0f} | {fc:.0f} | {rf} | {s:.0f} | {sc:.0f} | {rs} |")
PY
