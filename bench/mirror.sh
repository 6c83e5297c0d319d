#!/usr/bin/env bash
# The issue-21 mirror benchmark: `ferry mirror --parallel 4` against `lftp -e 'mirror --parallel=4'`
# for 1,001 small files (100 B to 8 KB), both directions, against Ferry (`ferry serve`) and the
# four Debian peers (vsftpd, Pure-FTPd, ProFTPD from tests/peers, pyftpdlib), over loopback, data
# on tmpfs. Each run starts from an empty target; wall time of the whole command (process start
# included, as a user sees it); every copy is checked file by file with SHA-256. Prints one line per
# run and a table of ratios (lftp's time / ferry's: above 1.0x ferry is faster).
#
#   bench/mirror.sh [REPS]        (default 1; needs root, lftp, python3-pyftpdlib, tests/peers/install.sh)
#   FERRY_BIN=/path/to/ferry bench/mirror.sh   time that binary instead of what packaging/publish.sh ships
#   SERVERS="ferry vsftpd" bench/mirror.sh      a subset
# bench/mirror-1001.sh is the older, Ferry-and-pyftpdlib-only variant with repetitions and no-op runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
reps=${1:-1}
servers=${SERVERS:-ferry vsftpd pure-ftpd proftpd pyftpdlib}
work=/dev/shm/ferry-mirror-bench
rm -rf "$work"; mkdir -p "$work/out"
if [ -z "${FERRY_BIN:-}" ]; then
  # The executable users get (self-contained, Native AOT since session 13): start-up and code
  # generation are part of a mirror's cost, and they depend on how the binary is published
  # (docs/benchmarks.md).
  packaging/publish.sh --no-pack linux-x64 >/dev/null
  mkdir -p "$work/ferry-shipped"; cp artifacts/publish/linux-x64/ferry "$work/ferry-shipped/"
  FERRY_BIN=$work/ferry-shipped/ferry
fi
ferry=$FERRY_BIN
python3 - "$work/local-src" <<'PY'
import os, random, sys
os.makedirs(sys.argv[1])
r = random.Random(21)
for i in range(1001):
    with open(os.path.join(sys.argv[1], f"file-{i:04d}.dat"), "wb") as f:
        f.write(r.randbytes(r.randint(100, 8000)))
PY
pgids=()
cleanup() { for g in "${pgids[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done; }
trap cleanup EXIT

now() { date +%s.%N; }
declare -A took
run() { # key label command...
  local t0 t1; t0=$(now); "${@:3}" >"$work/last.out" 2>&1 || { echo "FAILED: $2"; tail -20 "$work/last.out"; exit 1; }; t1=$(now)
  took[$1]=$(echo "$t1 - $t0" | bc)
  printf '%-36s %6.2f s\n' "$2" "${took[$1]}"
}
check() { # dir-a dir-b: same files, same SHA-256
  diff <(cd "$1" && sha256sum * | sort) <(cd "$2" && sha256sum * | sort) >/dev/null || { echo "DIFFERENT: $1 $2"; exit 1; }
}
lftp_do() { lftp -u bench,bench -p "$1" -e "set ftp:ssl-allow no; set net:max-retries 1; $2; bye" 127.0.0.1; }
wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "no server on $1"; exit 1; }

port=$((20000 + RANDOM % 5000))
for server in $servers; do
  port=$((port + 1))
  root=$work/$server/root
  mkdir -p "$root"; cp -a "$work/local-src" "$root/src"
  case $server in
    ferry) setsid "$ferry" serve --root "$root" --address 127.0.0.1 --port "$port" --user bench:bench --log-level warning >"$work/$server.log" 2>&1 & ;;
    pyftpdlib) setsid /usr/bin/python3 bench/pyftpd.py "$port" "$root" bench bench >"$work/$server.log" 2>&1 & ;;
    *) setsid bash tests/peers/run-peer.sh "$server" --port "$port" --root "$root" --user bench:bench --max-clients 100 >"$work/$server.log" 2>&1 & ;;
  esac
  pgids+=($!)
  wait_port "$port"
  for r in $(seq "$reps"); do
    d=$work/out/$server-down-ferry-$r; run "$server-down-ferry-$r" "$server down ferry #$r" "$ferry" mirror --no-progress --parallel 4 "ftp://bench:bench@127.0.0.1:$port/src" "$d"; check "$root/src" "$d"
    d=$work/out/$server-down-lftp-$r;  run "$server-down-lftp-$r" "$server down lftp  #$r" lftp_do "$port" "mirror --parallel=4 src $d"; check "$root/src" "$d"
    run "$server-up-ferry-$r" "$server up   ferry #$r" "$ferry" mirror --upload --no-progress --parallel 4 "$work/local-src" "ftp://bench:bench@127.0.0.1:$port/up-ferry-$r"; check "$work/local-src" "$root/up-ferry-$r"
    run "$server-up-lftp-$r" "$server up   lftp  #$r" lftp_do "$port" "mirror -R --parallel=4 $work/local-src up-lftp-$r"; check "$work/local-src" "$root/up-lftp-$r"
  done
  kill -TERM -- "-${pgids[-1]}" 2>/dev/null || true
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo
echo "| Server | Direction | ferry (s) | lftp (s) | lftp / ferry |"
echo "|---|---|---:|---:|---:|"
for server in $servers; do
  for dir in down up; do
    f=$(for r in $(seq "$reps"); do echo "${took[$server-$dir-ferry-$r]}"; done | median)
    l=$(for r in $(seq "$reps"); do echo "${took[$server-$dir-lftp-$r]}"; done | median)
    ratio=$(echo "scale=2; $l / $f" | bc)
    below=$(echo "$ratio < 1.0" | bc)
    printf '| %s | %s | %.2f | %.2f | %.2fx%s |\n' "$server" "$([ $dir = down ] && echo download || echo upload)" "$f" "$l" "$ratio" "$([ "$below" = 1 ] && echo ' (below 1.0x)' || true)"
  done
done
rm -rf "$work"
