#!/usr/bin/env bash
# Passive port sharing (issue 24): short sessions per second (connect, log in, PASV, RETR 4 KiB,
# QUIT) against two Ferry servers in one interleaved run of the load generator:
#   range    today's passive listener: a random free port of a 20,000-port range (10000-29999)
#   shared   --passive-port-sharing over 8 ports (31000-31007): every port listened on for the
#            server's lifetime, each data connection handed to its session by source address
# ferry-bench spreads its clients over 4,000 loopback addresses (127.0.x.y), control and data
# sockets of a session bound to the same one, as clients behind distinct addresses would be; so
# sessions of one address rarely meet on a port. Both run as bench/run.sh's `ferry-tuned` (limits
# raised, defender off, log level warning) so that the data path and not the abuse protection is
# measured. Writes bench/results/pasv-sharing.md (medians, ratio shared/range).
#
#   bench/pasv-sharing.sh [--reps N] [--only SCENARIO,...]   (default: 3 reps of sessions-c1,sessions-c64,sessions-c1000)
# Needs bench/run.sh's data set (made if missing). Run on a quiet machine for figures to quote.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

reps=3 only="sessions-c1,sessions-c64,sessions-c1000"
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift ;;
    --only) only=$2; shift ;;
    *) echo "pasv-sharing.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
ulimit -n "$(ulimit -Hn)" || true
data=${FERRY_BENCH_DATA:-/dev/shm/ferry-bench}
out=bench/results
mkdir -p "$out"

dotnet build src/Ferry.Cli -c Release -v quiet -nologo
dotnet build bench/Ferry.Bench -c Release -v quiet -nologo
bench=bench/Ferry.Bench/bin/Release/net10.0/ferry-bench
[ -f "$data/f4k.bin" ] || "$bench" prepare --root "$data" --quick
chmod -R a+rX "$data"

pids=()
cleanup() { # each server leads its own process group (setsid)
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

targets=() port=2360
for variant in range shared; do
  port=$((port + 1))
  case "$variant" in
    range) pasv=(--passive-ports 10000-29999) ;;
    shared) pasv=(--passive-port-sharing --passive-ports 31000-31007) ;;
  esac
  setsid dotnet src/Ferry.Cli/bin/Release/net10.0/ferry.dll serve --root "$data" --address 127.0.0.1 --port "$port" \
    --user bench:bench --max-connections 20000 --max-connections-per-ip 20000 --no-defender \
    --max-commands-per-second 100000 --log-level warning "${pasv[@]}" >"$out/pasv-$variant.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "pasv-sharing.sh: $variant did not start (see $out/pasv-$variant.log)" >&2; exit 1; }
    sleep 0.1
  done
  targets+=(--target "$variant:$port:${pids[-1]}:1000")
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$bench" run --root "$data" "${targets[@]}" --user bench --password bench --reps "$reps" --quick \
  --only "$only" --out "$out/pasv-sharing.json"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$out/pasv-sharing.json" "$reps" "$load_before" "$load_after" >"$out/pasv-sharing.md" <<'PY'
import json, statistics, sys, subprocess
results, reps, before, after = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
def runs(s, v): return [r for r in results if r["Scenario"] == s and r["Server"] == v]
def median(s, v, key="Value"):
    xs = [r[key] for r in runs(s, v) if r["Errors"] == 0 and r[key] is not None]
    return statistics.median(xs) if xs else None
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print(f"`bench/pasv-sharing.sh --reps {reps}` (Ferry {commit}), quick durations; load average before {before}, after {after}.\n")
print("| scenario | range: sessions/s (p50 / p99 ms) | shared: sessions/s (p50 / p99 ms) | shared / range | errors range / shared |")
print("|---|---:|---:|---:|---:|")
for s in dict.fromkeys(r["Scenario"] for r in results):
    a, b = median(s, "range"), median(s, "shared")
    cell = lambda v, m: "failed" if m is None else f"{m:,.0f} ({median(s, v, 'P50Ms'):.1f} / {median(s, v, 'P99Ms'):.1f})"
    ratio = f"{b / a:.2f}×" if a and b else "–"
    errors = f"{sum(r['Errors'] for r in runs(s, 'range'))} / {sum(r['Errors'] for r in runs(s, 'shared'))}"
    print(f"| {s} | {cell('range', a)} | {cell('shared', b)} | {ratio} | {errors} |")
PY
cat "$out/pasv-sharing.md"
