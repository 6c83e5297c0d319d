#!/usr/bin/env bash
# Ferry benchmark: Ferry against vsftpd, Pure-FTPd, ProFTPD and pyftpdlib on this machine, over
# loopback, every scenario interleaved across the servers, N repetitions, medians and ratios.
#
#   bench/run.sh [--quick] [--reps N] [--only SCENARIO,...] [--servers ferry,pyftpdlib,...] [--no-doc]
#
# Installs what it needs (iperf3, python3-pyftpdlib; the C servers through tests/peers/install.sh),
# builds Ferry and the load generator (bench/Ferry.Bench) in Release, makes the data set on tmpfs
# (/dev/shm: the servers are measured, not the disk), measures iperf3 over loopback as the
# ceiling, starts every server on its own 127.0.0.1 port, runs bench/Ferry.Bench and writes
# bench/results/results.json, the tables of docs/benchmarks.md and docs/benchmarks.svg.
# Run as root (the C servers need it to start). Takes ~25 min in full, ~5 min with --quick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DEBIAN_FRONTEND=noninteractive

quick=0 reps="" only="" servers="ferry,pyftpdlib,vsftpd,pure-ftpd,proftpd" doc=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --reps) reps=$2; shift ;;
    --only) only=$2; shift ;;
    --servers) servers=$2; shift ;;
    --no-doc) doc=0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$reps" ] || reps=$([ "$quick" -eq 1 ] && echo 1 || echo 3)

data=${FERRY_BENCH_DATA:-/dev/shm/ferry-bench}
out=bench/results
mkdir -p "$out"
# 10,000 idle sessions need 10,000 descriptors in the server and as many in the load generator.
ulimit -n "$(ulimit -Hn)" || true
echo "run.sh: open files limit $(ulimit -n)"

# --- tools -------------------------------------------------------------------------------------
missing=()
command -v iperf3 >/dev/null 2>&1 || missing+=(iperf3)
dpkg -s python3-pyftpdlib >/dev/null 2>&1 || missing+=(python3-pyftpdlib)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
if [[ ",$servers," =~ ,(vsftpd|pure-ftpd|proftpd), ]]; then
  bash tests/peers/install.sh
fi

# --- build -------------------------------------------------------------------------------------
dotnet build src/Ferry.Cli -c Release -v quiet -nologo
dotnet build bench/Ferry.Bench -c Release -v quiet -nologo
bench=bench/Ferry.Bench/bin/Release/net10.0/ferry-bench
ferry=src/Ferry.Cli/bin/Release/net10.0/ferry.dll
quickflag=()
[ "$quick" -eq 1 ] && quickflag=(--quick)
"$bench" prepare --root "$data" "${quickflag[@]}"
chmod -R a+rX "$data"
chmod 777 "$data/upload"

# --- servers -----------------------------------------------------------------------------------
pids=()
cleanup() { # each server leads its own process group (setsid): stop the group, forked children too
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_port() { # wait_port PORT: up to 20 s for something to accept on 127.0.0.1:PORT
  local i
  for i in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "run.sh: nothing listens on port $1" >&2
  return 1
}

targets=()
port=2300
for name in ${servers//,/ }; do
  port=$((port + 1))
  log="$out/$name.log"
  case "$name" in
    ferry)
      # Limits raised so the benchmark measures the server, not its abuse protection.
      setsid dotnet "$ferry" serve --root "$data" --address 127.0.0.1 --port "$port" --user bench:bench \
        --max-connections 20000 --max-connections-per-ip 20000 --no-defender \
        --max-commands-per-second 100000 --log-level warning >"$log" 2>&1 &
      idle=10000 ;;
    pyftpdlib)
      setsid /usr/bin/python3 bench/pyftpd.py "$port" "$data" bench bench >"$log" 2>&1 &
      idle=10000 ;;
    *)
      # One process per session: 10,000 of them would not fit in this machine's memory.
      setsid bash tests/peers/run-peer.sh "$name" --port "$port" --root "$data" --user bench:bench \
        --max-clients 1100 >"$log" 2>&1 &
      idle=1000 ;;
  esac
  pids+=($!)
  [ "$quick" -eq 1 ] && idle=1000
  wait_port "$port"
  mlsd=""
  [ "$name" = vsftpd ] && mlsd=":nomlsd"   # vsftpd has no MLSD
  targets+=(--target "$name:$port:${pids[-1]}:$idle$mlsd")
done

# --- baseline: iperf3 over loopback, one stream --------------------------------------------------
iperf3 -s -1 -p 5299 >/dev/null 2>&1 &
iperf_pid=$!
sleep 0.5
iperf_gbps=$(iperf3 -c 127.0.0.1 -p 5299 -t 5 -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/8e9)')
wait "$iperf_pid" || true
echo "run.sh: iperf3 loopback ${iperf_gbps} GB/s"

# --- run ---------------------------------------------------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
onlyflag=()
[ -n "$only" ] && onlyflag=(--only "$only")
"$bench" run --root "$data" "${targets[@]}" --user bench --password bench --reps "$reps" \
  "${quickflag[@]}" "${onlyflag[@]}" --out "$out/results.json"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ------------------------------------------------------------------------------------
peer_version() { # the version the peers' installer recorded, or the Debian package's
  local f="${FERRY_PEERS_DIR:-/opt/ferry-peers}/$1/.ferry-peer"
  if [ -f "$f" ]; then cat "$f"; else dpkg-query -W -f='${Version}' "$2" 2>/dev/null || echo unknown; fi
}
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`bench/run.sh$([ "$quick" -eq 1 ] && echo ' --quick') --reps $reps${only:+ --only $only}\`"
  echo "Machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -n1)), $(free -g | awk '/Mem:/{print $2}') GiB, Linux $(uname -r)"
  echo "Load average (1/5/15 min) before: $load_before, after: $load_after (other work on the machine shares its 2 cores)"
  echo "Ferry $(git rev-parse --short HEAD), .NET $(dotnet --version), workstation GC, TieredPGO"
  echo "Peers: vsftpd $(peer_version vsftpd vsftpd), Pure-FTPd $(peer_version pure-ftpd pure-ftpd), ProFTPD $(peer_version proftpd proftpd-core), pyftpdlib $(dpkg-query -W -f='${Version}' python3-pyftpdlib)"
} >"$out/info.txt"
if [ "$doc" -eq 1 ]; then
  "$bench" report --results "$out/results.json" --iperf "$iperf_gbps" --info "$out/info.txt" \
    --md docs/benchmarks.md --svg docs/benchmarks.svg
  echo "run.sh: wrote docs/benchmarks.md and docs/benchmarks.svg"
fi
