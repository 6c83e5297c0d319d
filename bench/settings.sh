#!/usr/bin/env bash
# Ferry under different runtime settings, side by side in one run of the load generator:
#   jit          dotnet ferry.dll as `dotnet run` / the .NET tool runs it (workstation GC, TieredPGO)
#   server-gc    the same with DOTNET_gcServer=1
#   no-pgo       the same with DOTNET_TieredPGO=0
#   inline       the same with DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 (continuations on the epoll thread)
#   no-spin      the same with DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 (idle pool workers sleep at
#                once instead of spinning for work; what the one-shot client commands run with)
#   copy         jit with --sendfile off: plaintext downloads copied through two buffers, not sendfile(2)
#   no-cache     jit with --listing-cache off: every listing stats every entry
#   r2r          framework-dependent ReadyToRun publish (dotnet publish -p:PublishReadyToRun=true)
#   aot          NativeAOT publish (dotnet publish -r linux-x64 -p:PublishAot=true): no JIT at all
#   log-info     jit at the default log level (information: a line per connection, login, transfer
#                and session end) instead of warning: what the default logging costs
#   defaults     jit with every default (log level information, defender on, default limits); its
#                idle-sessions holds 1,900 sessions, under the default --max-connections of 2,000
# For each: start-up time (exec to first accepted connection), memory after start-up, and the
# scenarios of bench/Ferry.Bench (quick durations). Writes docs/benchmarks-settings.md.
#
#   bench/settings.sh [--reps N] [--only SCENARIO,...] [--variants jit,aot,...]
# Needs bench/run.sh's data set (it makes it if missing). Run as root on a quiet machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

reps=2 only="idle-sessions,retr-1g,stor-1g,retr-1g-tls,retr-1000-small,sessions-c1,sessions-c64,list-10k,mlsd-10k,retr-200x10m"
variants="jit,log-info,defaults,server-gc,no-pgo,inline,copy,no-cache,r2r,aot"
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift ;;
    --only) only=$2; shift ;;
    --variants) variants=$2; shift ;;
    *) echo "settings.sh: unknown option $1" >&2; exit 2 ;;
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
[ -f "$data/big-1g.bin" ] || "$bench" prepare --root "$data"
chmod -R a+rX "$data"
chmod 777 "$data/upload"
if [[ ",$variants," == *,r2r,* ]]; then
  dotnet publish src/Ferry.Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -p:PackAsTool=false -v quiet -nologo -o "$out/ferry-r2r"
fi
if [[ ",$variants," == *,aot,* ]]; then
  dotnet publish src/Ferry.Cli -c Release -r linux-x64 --self-contained true -p:PublishAot=true \
    -p:PackAsTool=false -v quiet -nologo -o "$out/ferry-aot"
fi

# FTPS for retr-1g-tls: bench/run.sh's certificate, or one made the same way.
tls_cert="$out/tls/cert.pem" tls_key="$out/tls/key.pem"
if [ ! -f "$tls_cert" ] || [ ! -f "$tls_key" ]; then
  mkdir -p "$out/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$tls_key" -out "$tls_cert" 2>/dev/null
fi

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }

targets=() port=2340
echo "| variant | start-up to first accept (ms) | RSS after start-up (MiB) |" >"$out/settings-startup.md"
echo "|---|---:|---:|" >>"$out/settings-startup.md"
for variant in ${variants//,/ }; do
  port=$((port + 1))
  envs=() extra=() cmd=(dotnet src/Ferry.Cli/bin/Release/net10.0/ferry.dll) idle=10000
  tuned=(--max-connections 20000 --max-connections-per-ip 20000 --no-defender --max-commands-per-second 100000 --log-level warning)
  case "$variant" in
    jit) ;;
    server-gc) envs=(DOTNET_gcServer=1) ;;
    no-pgo) envs=(DOTNET_TieredPGO=0) ;;
    inline) envs=(DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1) ;;
    no-spin) envs=(DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0) ;;
    copy) extra=(--sendfile off) ;;
    no-cache) extra=(--listing-cache off) ;;
    r2r) cmd=(dotnet "$out/ferry-r2r/ferry.dll") ;;
    aot) cmd=("$out/ferry-aot/ferry") ;;
    log-info) tuned=(--max-connections 20000 --max-connections-per-ip 20000 --no-defender --max-commands-per-second 100000) ;;
    defaults) tuned=() idle=1900 ;;
    *) echo "settings.sh: unknown variant $variant" >&2; exit 2 ;;
  esac
  start=$(date +%s%N)
  env "${envs[@]}" setsid "${cmd[@]}" serve --root "$data" --address 127.0.0.1 --port "$port" --user bench:bench \
    "${tuned[@]}" --tls-cert "$tls_cert" --tls-key "$tls_key" "${extra[@]}" >"$out/settings-$variant.log" 2>&1 &
  pids+=($!)
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    sleep 0.005
    if [ $(( ($(date +%s%N) - start) / 1000000 )) -gt 20000 ]; then echo "settings.sh: $variant did not start" >&2; exit 1; fi
  done
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  sleep 1
  pid=$(pgrep -f -- "--port $port " | head -n1)
  echo "| $variant | $ms | $(( $(rss_kib "$pid") / 1024 )) |" >>"$out/settings-startup.md"
  targets+=(--target "$variant:$port:$pid:$idle")
done

"$bench" run --root "$data" "${targets[@]}" --user bench --password bench --reps "$reps" --quick --tls-cert "$tls_cert" \
  --only "$only" --out "$out/settings.json"

python3 - "$out/settings.json" "$out/settings-startup.md" "$reps" >docs/benchmarks-settings.md <<'EOF'
import json, statistics, sys, subprocess
results, startup, reps = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), sys.argv[3]
variants = list(dict.fromkeys(r["Server"] for r in results))
scenarios = list(dict.fromkeys(r["Scenario"] for r in results))
def median(s, v):
    xs = [r["Value"] for r in results if r["Scenario"] == s and r["Server"] == v and r["Errors"] == 0]
    return statistics.median(xs) if xs else None
unit = {r["Scenario"]: r["Unit"] for r in results}
higher = {r["Scenario"]: r["HigherIsBetter"] for r in results}
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print("# Ferry under different runtime settings\n")
print(f"Made by `bench/settings.sh --reps {reps}` (Ferry {commit}); medians of {reps} repetitions, quick")
print("durations, all variants interleaved in one run on the same data set. Ratios are to `jit`, the")
print("way `dotnet run` and the .NET tool run Ferry. See docs/benchmarks.md for what each scenario does.")
print("`jit` and the other variants run with `--log-level warning`, the limits raised and the defender off;")
print("`log-info` is `jit` at the default log level (`information`), `defaults` is Ferry with every default")
print("(its idle-sessions holds 1,900 sessions: the default --max-connections is 2,000).\n")
print("## Start-up\n")
print(startup)
print("## Scenarios (ratio to `jit`; for KiB/session lower is better)\n")
print("| scenario | unit | " + " | ".join(variants) + " |")
print("|---|---|" + "---:|" * len(variants))
for s in scenarios:
    base = median(s, "jit")
    cells = []
    for v in variants:
        m = median(s, v)
        if m is None:
            cells.append("failed")
        elif base:
            cells.append(f"{m:.3g} ({m / base:.2f}×)")
        else:
            cells.append(f"{m:.3g}")
    print(f"| {s} | {unit[s]} | " + " | ".join(cells) + " |")
EOF
echo "settings.sh: wrote docs/benchmarks-settings.md"
