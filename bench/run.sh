#!/usr/bin/env bash
# Ferry benchmark: Ferry against vsftpd, Pure-FTPd, ProFTPD and pyftpdlib on this machine, over
# loopback, every scenario interleaved across the servers, N repetitions, medians and ratios.
#
#   bench/run.sh [--quick] [--reps N] [--only SCENARIO,...] [--servers ferry,ferry-tuned,pyftpdlib,...]
#                [--no-doc] [--pasv-range A-B|any] [--ferry-dll NAME=PATH]...
#
# --ferry-dll NAME=PATH adds a server NAME (list it in --servers) that is `ferry serve` at its defaults,
# run from another build's ferry.dll: two builds of Ferry compared in one interleaved run, e.g.
#   --servers ferry-before,ferry-after --ferry-dll ferry-before=/tmp/a/ferry.dll --ferry-dll ferry-after=/tmp/b/ferry.dll
# A PATH that does not end in .dll is run as it is (a published executable: single-file, native AOT).
# (with --no-doc: the report's ratios are against `ferry`). FERRY_BENCH_PORT (default 2300) and
# FERRY_BENCH_IPERF_PORT (default 5299) move the servers' and iperf3's ports off another run's.
#
# Ferry runs as users run it: `ferry` is `ferry serve` with its defaults (log level information, the
# defender on, the default connection and command-rate limits), as every peer runs with its own.
# The only settings given are those every server gets from the harness (address, port, root, the
# bench account, the FTPS certificate, the passive port range). `ferry-tuned` is a second Ferry with
# the settings earlier runs used (limits raised, defender off, --log-level warning); the report
# shows it in a column beside the defaults, never as a peer. One scenario cannot run at the
# defaults as the peers do: idle-sessions holds 1,900 sessions against `ferry` (the default
# --max-connections is 2,000; no setting is changed) and 10,000 against `ferry-tuned`. Leave
# `ferry-tuned` out of --servers to save its share of the run.
#
# Scenarios (--only takes these names): idle-sessions, retr-1g, stor-1g, retr-1g-tls, stor-1g-tls,
# retr-1000-small (one session: TYPE I, PASV, RETR of 1,000 4 KiB files in turn), sessions-c1/-c64/
# -c1000/-c64-named, list-10k and mlsd-10k (one session listing a 10,000-entry directory),
# list-short and nlst-short (one blocking session, as Python's ftplib's retrlines: TYPE A, PASV,
# LIST or NLST of a 10-file directory, over and over for 10 s (3 s with --quick); listings/s: the
# round trip of one client, issue 22 item 2), retr-1000x10m (1,000 concurrent 10 MiB downloads).
#
# Every server gets the same passive port range, 10000-30999 (below Linux's ephemeral range, so no
# client connection holds one of its ports), unless --pasv-range says otherwise; `any` leaves each
# server at its own default (any free port). Why: a passive listener on "any port" is bind(port 0),
# and the kernel's search for a free port slows down with every TIME_WAIT socket on the machine.
# A scenario that runs right after another server's short-session scenario (tens of thousands of
# finished data connections in TIME_WAIT) measured 3-50× slower than with a range (see
# docs/benchmarks.md): the order of the servers, not the servers, would decide the result.
#
# Installs what it needs (iperf3, python3-pyftpdlib, python3-openssl; the C servers through
# tests/peers/install.sh), builds Ferry and the load generator (bench/Ferry.Bench) in Release, makes
# the data set on tmpfs (/dev/shm: the servers are measured, not the disk), makes one self-signed
# certificate for FTPS (bench/results/tls), measures iperf3 over loopback as the ceiling, starts
# every server on its own 127.0.0.1 port with explicit FTPS on (plain sessions still allowed; a
# server that does not start with TLS is restarted without it and its TLS scenarios report that),
# runs bench/Ferry.Bench and writes
# bench/results/results.json, the tables of docs/benchmarks.md and docs/benchmarks.svg.
# Run as root (the C servers need it to start). Takes ~25 min in full, ~5 min with --quick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DEBIAN_FRONTEND=noninteractive

declare -A ferry_dlls=()
quick=0 reps="" only="" servers="ferry,ferry-tuned,pyftpdlib,vsftpd,pure-ftpd,proftpd" doc=1 pasv="10000-30999"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --reps) reps=$2; shift ;;
    --only) only=$2; shift ;;
    --servers) servers=$2; shift ;;
    --no-doc) doc=0 ;;
    --pasv-range) pasv=$2; shift ;;
    --ferry-dll) ferry_dlls[${2%%=*}]=${2#*=}; shift ;;
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
dpkg -s python3-openssl >/dev/null 2>&1 || missing+=(python3-openssl)   # pyftpdlib's TLS_FTPHandler
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
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

# --- FTPS certificate: one self-signed RSA key for every server (vsftpd's rsa_cert_file and ProFTPD's
# TLSRSACertificateFile want RSA), outside the served tree; ferry-bench trusts exactly this one.
tls_dir="$out/tls"
mkdir -p "$tls_dir"
tls_cert="$tls_dir/cert.pem" tls_key="$tls_dir/key.pem"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$tls_key" -out "$tls_cert" 2>/dev/null
chmod 644 "$tls_cert"
chmod 600 "$tls_key"
echo "run.sh: FTPS certificate $tls_cert, $(openssl x509 -in "$tls_cert" -noout -fingerprint -sha256)"

# --- servers -----------------------------------------------------------------------------------
pids=() names=()
cleanup() { # each server leads its own process group (setsid): stop the group, forked children too
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_port() { # wait_port PORT PID: up to 20 s for something to accept on 127.0.0.1:PORT while PID lives
  local i
  for i in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: nothing listens on port $1" >&2
  return 1
}

start_server() { # start_server NAME PORT LOG TLS(1|0): in the background, leader of its own group
  local tls_ferry=() tls_py=() tls_peer=() pasv_ferry=() pasv_peer=()
  if [ "$pasv" != any ]; then
    pasv_ferry=(--passive-ports "$pasv")
    pasv_peer=(--pasv-min "${pasv%-*}" --pasv-max "${pasv#*-}")
  fi
  if [ "$4" -eq 1 ]; then
    tls_ferry=(--tls-cert "$tls_cert" --tls-key "$tls_key")
    tls_py=("$tls_cert" "$tls_key")
    tls_peer=(--tls "$tls_cert" "$tls_key")
  fi
  if [ -n "${ferry_dlls[$1]:-}" ]; then
    # Another build of Ferry (--ferry-dll), at the defaults as `ferry` below.
    local host=(dotnet); [[ ${ferry_dlls[$1]} == *.dll ]] || host=()
    setsid "${host[@]}" "${ferry_dlls[$1]}" serve --root "$data" --address 127.0.0.1 --port "$2" --user bench:bench \
      "${tls_ferry[@]}" "${pasv_ferry[@]}" >"$3" 2>&1 &
    pids+=($!)
    names+=("$1")
    return
  fi
  case "$1" in
    ferry)
      # Ferry at its defaults (log level, defender, limits), as users run it. FTPS with the default
      # --tls-session-reuse required, like vsftpd and ProFTPD.
      setsid dotnet "$ferry" serve --root "$data" --address 127.0.0.1 --port "$2" --user bench:bench \
        "${tls_ferry[@]}" "${pasv_ferry[@]}" >"$3" 2>&1 & ;;
    ferry-tuned)
      # What earlier runs measured as "ferry": limits raised and the defender off so the server and
      # not its abuse protection is measured, and the log quiet. Shown beside the defaults.
      setsid dotnet "$ferry" serve --root "$data" --address 127.0.0.1 --port "$2" --user bench:bench \
        --max-connections 20000 --max-connections-per-ip 20000 --no-defender \
        --max-commands-per-second 100000 --log-level warning "${tls_ferry[@]}" "${pasv_ferry[@]}" >"$3" 2>&1 & ;;
    pyftpdlib)
      FERRY_BENCH_PASV="${pasv#any}" setsid /usr/bin/python3 bench/pyftpd.py "$2" "$data" bench bench "${tls_py[@]}" >"$3" 2>&1 & ;;
    *)
      # One process per session: 10,000 of them would not fit in this machine's memory.
      setsid bash tests/peers/run-peer.sh "$1" --port "$2" --root "$data" --user bench:bench \
        --max-clients 1100 "${tls_peer[@]}" "${pasv_peer[@]}" >"$3" 2>&1 & ;;
  esac
  pids+=($!)
  names+=("$1")
}

targets=()
rm -f "$out"/*.tls-failed.log
port=${FERRY_BENCH_PORT:-2300}
for name in ${servers//,/ }; do
  port=$((port + 1))
  log="$out/$name.log"
  flags=""
  [ "$name" = vsftpd ] && flags+=":nomlsd"   # vsftpd has no MLSD
  start_server "$name" "$port" "$log" 1
  if ! wait_port "$port" "${pids[-1]}"; then
    # Reported, not dropped: the plain scenarios still run, the TLS ones say "no FTPS".
    echo "run.sh: $name did not start with FTPS (see $out/$name.tls-failed.log); restarting it without TLS" >&2
    kill -TERM -- "-${pids[-1]}" 2>/dev/null || true
    wait "${pids[-1]}" 2>/dev/null || true
    unset 'pids[-1]' 'names[-1]'
    mv "$log" "$out/$name.tls-failed.log"
    start_server "$name" "$port" "$log" 0
    wait_port "$port" "${pids[-1]}"
    flags+=":notls"
  fi
  idle=10000
  # The C servers fork a process per session: 10,000 of them would not fit in memory. Ferry at its
  # defaults accepts 2,000 connections (--max-connections): it holds 1,900 (the report says so).
  case "$name" in vsftpd | pure-ftpd | proftpd) idle=1000 ;; ferry) idle=1900 ;; esac
  [ -n "${ferry_dlls[$name]:-}" ] && idle=1900
  [ "$quick" -eq 1 ] && idle=1000
  targets+=(--target "$name:$port:${pids[-1]}:$idle$flags")
done

iperf_port=${FERRY_BENCH_IPERF_PORT:-5299}
# --- baseline: iperf3 over loopback, one stream --------------------------------------------------
iperf3 -s -1 -p "$iperf_port" >/dev/null 2>&1 &
iperf_pid=$!
sleep 0.5
iperf_gbps=$(iperf3 -c 127.0.0.1 -p "$iperf_port" -t 5 -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/8e9)')
wait "$iperf_pid" || true
echo "run.sh: iperf3 loopback ${iperf_gbps} GB/s"
# The same with the receiver writing what it gets into a file on the data's file system
# (iperf3 -s -F), 1 GiB in 1 MiB writes, median of 3: what any upload into that file system can
# reach at best, since the target "85% of iperf3" counts no file at all.
iperf_file_runs=()
for _ in 1 2 3; do
  iperf3 -s -1 -p "$iperf_port" -F "$data/.iperf3-sink" >/dev/null 2>&1 &
  iperf_pid=$!
  sleep 0.5
  iperf_file_runs+=("$(iperf3 -c 127.0.0.1 -p "$iperf_port" -n 1G -l 1M -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/8e9)')")
  wait "$iperf_pid" || true
  rm -f "$data/.iperf3-sink"
done
iperf_file_gbps=$(printf '%s\n' "${iperf_file_runs[@]}" | sort -g | sed -n 2p)
echo "run.sh: iperf3 loopback into a file on $data ${iperf_file_gbps} GB/s (runs: ${iperf_file_runs[*]})"

# --- run ---------------------------------------------------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
onlyflag=()
[ -n "$only" ] && onlyflag=(--only "$only")
"$bench" run --root "$data" "${targets[@]}" --user bench --password bench --reps "$reps" \
  --tls-cert "$tls_cert" "${quickflag[@]}" "${onlyflag[@]}" --out "$out/results.json"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for i in "${!pids[@]}"; do
  if ! kill -0 "${pids[$i]}" 2>/dev/null; then
    # bash keeps a background job's status: above 128 it was killed by signal (status - 128).
    status=0
    wait "${pids[$i]}" || status=$?
    echo "run.sh: ${names[$i]} (pid ${pids[$i]}) exited during the run with status $status: see $out/${names[$i]}.log" >&2
  fi
done

# --- report ------------------------------------------------------------------------------------
peer_version() { # the version the peers' installer recorded, or the Debian package's
  local f="${FERRY_PEERS_DIR:-/opt/ferry-peers}/$1/.ferry-peer"
  if [ -f "$f" ]; then cat "$f"; else dpkg-query -W -f='${Version}' "$2" 2>/dev/null || echo unknown; fi
}
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`bench/run.sh$([ "$quick" -eq 1 ] && echo ' --quick') --reps $reps${only:+ --only $only}$([ "$pasv" = any ] && echo " --pasv-range any")\`"
  echo "Machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -n1)), $(free -g | awk '/Mem:/{print $2}') GiB, Linux $(uname -r)"
  echo "Load average (1/5/15 min) before: $load_before, after: $load_after (other work on the machine shares its 2 cores)"
  echo "Ferry $(git rev-parse --short HEAD), .NET $(dotnet --version), workstation GC, TieredPGO; \`ferry\` at its defaults (log level information, defender on, default limits)$([[ ",$servers," == *,ferry-tuned,* ]] && echo ", \`ferry-tuned\` with --log-level warning, --no-defender, --max-connections(-per-ip) 20000, --max-commands-per-second 100000")"
  echo "FTPS: explicit (AUTH TLS, PBSZ 0, PROT P), one self-signed RSA 2048 certificate for all servers; client: .NET SslStream, TLS 1.2 and 1.3 offered, data connections resume the control session; OpenSSL $(openssl version | cut -d' ' -f2), PyOpenSSL $(dpkg-query -W -f='${Version}' python3-openssl)"
  echo "Peers: vsftpd $(peer_version vsftpd vsftpd), Pure-FTPd $(peer_version pure-ftpd pure-ftpd), ProFTPD $(peer_version proftpd proftpd-core), pyftpdlib $(dpkg-query -W -f='${Version}' python3-pyftpdlib)"
} >"$out/info.txt"
if [ "$doc" -eq 1 ]; then
  "$bench" report --results "$out/results.json" --iperf "$iperf_gbps" --iperf-file "$iperf_file_gbps" --info "$out/info.txt" \
    --md docs/benchmarks.md --svg docs/benchmarks.svg
  cp "$out/results.json" docs/benchmarks-results.json
  echo "run.sh: wrote docs/benchmarks.md, docs/benchmarks.svg and docs/benchmarks-results.json"
fi
