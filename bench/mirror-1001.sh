#!/usr/bin/env bash
# `ferry mirror --parallel 4` against `lftp -e 'mirror --parallel=4'` for 1,001 small files (issue 21),
# both directions, from a local `ferry serve` and a local pyftpdlib, over loopback, data on tmpfs.
# Each run starts from an empty target; ferry and lftp runs are interleaved; wall time of the whole
# command (process start included, as a user sees it). Then one no-op run each (target up to date).
#
#   bench/mirror-1001.sh [REPS]      (default 3; needs lftp, python3-pyftpdlib; builds Ferry in Release)
#   FERRY_BEFORE=/path/to/other/ferry bench/mirror-1001.sh   also times another ferry build (e.g. an
#                                    older commit) in the same interleaving, as "before"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
reps=${1:-3}
dotnet build src/Ferry.Cli -c Release -v quiet -nologo >/dev/null
ferry=$PWD/src/Ferry.Cli/bin/Release/net10.0/ferry
before=${FERRY_BEFORE:-}
work=/dev/shm/ferry-mirror-1001
rm -rf "$work"; mkdir -p "$work/root/src" "$work/out"
python3 - "$work/root/src" <<'PY'
import os, random, sys
r = random.Random(21)
for i in range(1001):
    with open(os.path.join(sys.argv[1], f"file-{i:04d}.dat"), "wb") as f:
        f.write(r.randbytes(r.randint(100, 8000)))
PY
cp -a "$work/root/src" "$work/local-src"
port_ferry=$((20000 + RANDOM % 5000)); port_py=$((port_ferry + 1))
"$ferry" serve --root "$work/root" --address 127.0.0.1 --port "$port_ferry" --user bench:bench --log-level warning >"$work/ferry.log" 2>&1 &
pid_ferry=$!
/usr/bin/python3 -m pyftpdlib -i 127.0.0.1 -p "$port_py" -w -d "$work/root" -u bench -P bench >"$work/pyftpd.log" 2>&1 &
pid_py=$!
trap 'kill $pid_ferry $pid_py 2>/dev/null || true' EXIT
for p in $port_ferry $port_py; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
done

now() { date +%s.%N; }
run() { # label command...
  local t0 t1; t0=$(now); "${@:2}" >"$work/last.out" 2>&1 || { echo "FAILED: $1"; cat "$work/last.out"; exit 1; }; t1=$(now)
  printf '%-44s %6.2f s\n' "$1" "$(echo "$t1 - $t0" | bc)"
}
check() { # dir-a dir-b: same files, same SHA-256
  diff <(cd "$1" && sha256sum * | sort) <(cd "$2" && sha256sum * | sort) >/dev/null || { echo "DIFFERENT: $1 $2"; exit 1; }
}
lftp_do() { lftp -u bench,bench -p "$1" -e "set ftp:ssl-allow no; set net:max-retries 1; $2; bye" 127.0.0.1; }

for server in ferry pyftpdlib; do
  port=$([ $server = ferry ] && echo $port_ferry || echo $port_py)
  for r in $(seq "$reps"); do
    d=$work/out/$server-down-ferry-$r; run "$server down ferry #$r" "$ferry" mirror --no-progress --parallel 4 "ftp://bench:bench@127.0.0.1:$port/src" "$d"; check "$work/root/src" "$d"
    if [ -n "$before" ]; then
      d=$work/out/$server-down-before-$r; run "$server down before #$r" "$before" mirror --no-progress --parallel 4 "ftp://bench:bench@127.0.0.1:$port/src" "$d"; check "$work/root/src" "$d"
    fi
    d=$work/out/$server-down-lftp-$r;  run "$server down lftp  #$r" lftp_do "$port" "mirror --parallel=4 src $d"; check "$work/root/src" "$d"
    run "$server up   ferry #$r" "$ferry" mirror --upload --no-progress --parallel 4 "$work/local-src" "ftp://bench:bench@127.0.0.1:$port/up-$server-ferry-$r"; check "$work/local-src" "$work/root/up-$server-ferry-$r"
    if [ -n "$before" ]; then
      run "$server up   before #$r" "$before" mirror --upload --no-progress --parallel 4 "$work/local-src" "ftp://bench:bench@127.0.0.1:$port/up-$server-before-$r"; check "$work/local-src" "$work/root/up-$server-before-$r"
    fi
    run "$server up   lftp  #$r" lftp_do "$port" "mirror -R --parallel=4 $work/local-src up-$server-lftp-$r"; check "$work/local-src" "$work/root/up-$server-lftp-$r"
  done
  run "$server down ferry no-op" "$ferry" mirror --no-progress --parallel 4 "ftp://bench:bench@127.0.0.1:$port/src" "$work/out/$server-down-ferry-1"
  grep -q ' 0 transferred' "$work/last.out" || { echo "ferry no-op down transferred:"; cat "$work/last.out"; }
  run "$server down lftp  no-op" lftp_do "$port" "mirror --parallel=4 src $work/out/$server-down-lftp-1"
  run "$server up   ferry no-op" "$ferry" mirror --upload --no-progress --parallel 4 "$work/local-src" "ftp://bench:bench@127.0.0.1:$port/up-$server-ferry-1"
  grep -q ' 0 transferred' "$work/last.out" || { echo "ferry no-op up transferred:"; cat "$work/last.out"; }
  run "$server up   lftp  no-op" lftp_do "$port" "mirror -R --parallel=4 $work/local-src up-$server-lftp-1"
done
rm -rf "$work"
