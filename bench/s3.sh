#!/usr/bin/env bash
# Ferry serving an S3 bucket against a direct S3 client on the same store, in the same run.
#
#   bench/s3.sh [--reps N] [--only SCENARIO,...] [--no-doc] [--part-size BYTES] [--parts-in-flight N]
#               [--compare FERRY_DLL]
#   FERRY_BIN=artifacts/publish/linux-x64/ferry bench/s3.sh ...   # the shipped executable, not ferry.dll
#
# The store is OpenStack Swift with s3api on loopback (tests/peers/s3-swift.sh: the one the tests
# use), so its own speed is part of both columns: what is compared is the cost Ferry adds between an
# FTP client and the store, not the store. The direct client is boto3 from Debian (python3-boto3);
# the FTP client is Python's ftplib, so both columns pay the same interpreter. Scenarios (retr-1g,
# stor-1g, retr-1000, stor-1000, list-10k) and how each is measured: bench/s3bench.py.
# Ferry runs as `ferry serve --storage s3://BUCKET` with its defaults, the part size and parts in
# flight given (default 8 MiB x 4, Ferry's own defaults); boto3's multipart upload gets the same two.
# During the 1 GiB STOR the server's RSS is sampled every 20 ms: the target is a growth of at most
# parts in flight x part size + 32 MiB.
#
# --compare starts a second Ferry from another build's ferry.dll (e.g. the last release, built in a
# git archive elsewhere) on the same bucket: the small-file scenarios then run direct, Ferry, the
# other build, in turn, and the table gains a column for it; so does the 1 GiB RETR (with CPU time).
#
# Installs what it needs (python3-boto3, Swift through tests/peers/s3-swift.sh install), builds Ferry
# in Release, makes a 1 GiB file from a seeded PRNG on tmpfs (/dev/shm), starts Swift and Ferry on
# free 127.0.0.1 ports, runs bench/s3bench.py, writes bench/results/s3.json and the "Object storage"
# section of docs/benchmarks.md (between its s3 markers). Run as root. ~5 min with --reps 1 on a
# quiet machine, most of it making the 11,000 fixture objects.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DEBIAN_FRONTEND=noninteractive

reps=3 only="" doc=1 compare="" part=$((8 * 1024 * 1024)) inflight=4
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift ;;
    --only) only=$2; shift ;;
    --no-doc) doc=0 ;;
    --part-size) part=$2; shift ;;
    --parts-in-flight) inflight=$2; shift ;;
    --compare) compare=$2; shift ;;
    *) echo "s3.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

data=${FERRY_BENCH_DATA:-/dev/shm/ferry-bench-s3}
out=bench/results
mkdir -p "$out" "$data"
# Debian's interpreter: boto3 and the Swift modules are Debian packages, not a pyenv's.
python=/usr/bin/python3

# --- tools -------------------------------------------------------------------------------------
dpkg -s python3-boto3 >/dev/null 2>&1 || { apt-get update; apt-get install -y --no-install-recommends python3-boto3; }
bash tests/peers/s3-swift.sh install

# --- build -------------------------------------------------------------------------------------
dotnet build src/Ferry.Cli -c Release -v quiet -nologo
ferry=src/Ferry.Cli/bin/Release/net10.0/ferry.dll
# FERRY_BIN=/path times that executable instead (e.g. the Native AOT file packaging/publish.sh ships).
ferry=${FERRY_BIN:-$ferry}

# --- data: 1 GiB from a seeded PRNG (the same bytes every run) ----------------------------------
if [ "$(stat -c %s "$data/1g.bin" 2>/dev/null || echo 0)" -ne $((1024 * 1024 * 1024)) ]; then
  "$python" -c 'import random, sys
r = random.Random(16)
with open(sys.argv[1], "wb") as f:
    for _ in range(1024):
        f.write(r.randbytes(1 << 20))' "$data/1g.bin"
fi

# --- store and server ----------------------------------------------------------------------------
free_block() { # a port p with p..p+4 free (Swift takes five), in 31000-32699: below Linux's
  # ephemeral range (32768-60999), where an outgoing connection could take a port between this
  # check and Swift's bind, and above run.sh's passive range (10000-30999)
  "$python" -c 'import random, socket
for _ in range(200):
    p = random.randrange(31000, 32695)
    held = []
    try:
        for q in range(p, p + 5):
            t = socket.socket(); t.bind(("127.0.0.1", q)); held.append(t)
        print(p); break
    except OSError:
        pass
    finally:
        for t in held: t.close()'
}
swift_dir=$(mktemp -d /tmp/ferry-bench-swift.XXXXXX)
ferry_pid="" ferry_b_pid=""
cleanup() {
  [ -n "$ferry_pid" ] && { kill -TERM "$ferry_pid" 2>/dev/null || true; wait "$ferry_pid" 2>/dev/null || true; }
  [ -n "$ferry_b_pid" ] && { kill -TERM "$ferry_b_pid" 2>/dev/null || true; wait "$ferry_b_pid" 2>/dev/null || true; }
  bash tests/peers/s3-swift.sh stop "$swift_dir"
}
trap cleanup EXIT
for attempt in 1 2 3; do
  swift_port=$(free_block)
  bash tests/peers/s3-swift.sh start "$swift_dir" "$swift_port" && break
  [ "$attempt" -eq 3 ] && { echo "s3.sh: Swift did not start" >&2; exit 1; }
done
endpoint="http://127.0.0.1:$swift_port/"
bucket="ferry-bench-$(date +%s)"
"$python" -c 'import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test:tester",
                  aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket=sys.argv[2])' "$endpoint" "$bucket"

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_ferry() { # start_ferry DLL|EXECUTABLE PORT LOG: starts it in the background (its pid in $!)
  local run=(dotnet "$1")
  [[ $1 == *.dll ]] || run=("$1")
  AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true \
    AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent \
    "${run[@]}" serve --storage "s3://$bucket" --s3-endpoint "$endpoint" --s3-region us-east-1 --s3-path-style \
    --s3-part-size "$part" --s3-parts-in-flight "$inflight" --address 127.0.0.1 --port "$2" --user bench:bench \
    >"$3" 2>&1 &
}
wait_ferry() { # wait_ferry PID PORT LOG
  for i in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || { cat "$3" >&2; exit 1; }
    sleep 0.1
  done
}
ftp_port=$(free_port)
start_ferry "$ferry" "$ftp_port" "$out/s3-ferry.log"
ferry_pid=$!
wait_ferry "$ferry_pid" "$ftp_port" "$out/s3-ferry.log"
compareflag=()
if [ -n "$compare" ]; then
  ftp_port_b=$(free_port)
  start_ferry "$compare" "$ftp_port_b" "$out/s3-ferry-b.log"
  ferry_b_pid=$!
  wait_ferry "$ferry_b_pid" "$ftp_port_b" "$out/s3-ferry-b.log"
  compareflag=(--ftp-port-b "$ftp_port_b" --ferry-pid-b "$ferry_b_pid")
fi

# --- run ---------------------------------------------------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
onlyflag=()
[ -n "$only" ] && onlyflag=(--only "$only")
"$python" bench/s3bench.py --endpoint "$endpoint" --bucket "$bucket" --ftp-port "$ftp_port" --ferry-pid "$ferry_pid" \
  --store-pids "$(cat "$swift_dir"/pid/* | paste -sd,)" --data "$data" --reps "$reps" --part-size "$part" --parts-in-flight "$inflight" "${onlyflag[@]}" "${compareflag[@]}" --out "$out/s3.json"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ------------------------------------------------------------------------------------
info="Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`bench/s3.sh --reps $reps${only:+ --only $only}\`; $(nproc) cores, load average before $load_before, after $load_after; Ferry $(git rev-parse --short HEAD), Swift $(dpkg-query -W -f='${Version}' swift-proxy), boto3 $(dpkg-query -W -f='${Version}' python3-boto3)"
"$python" - "$out/s3.json" "$info" >"$out/s3.md" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
mib = 1024 * 1024
med = lambda runs, k: statistics.median(x[k] for x in runs)
print(sys.argv[2] + "\n")
print("| Scenario | Direct S3 (boto3) | Ferry (ftplib → Ferry → S3) | Ferry / direct | Checked |")
print("|---|---:|---:|---:|---|")
for name, clients in r["scenarios"].items():
    d, f = clients["direct"], clients["ferry"]
    ok = "SHA-256 / count ok" if all(x["ok"] for x in d + f) else "**FAILED**"
    if name.endswith("-1g"):
        dv, fv = 1024 / med(d, "seconds"), 1024 / med(f, "seconds")
        print(f"| {name} | {dv:.0f} MiB/s | {fv:.0f} MiB/s | {fv / dv:.2f}× | {ok} |")
        if "ferry-b" in clients:
            b = clients["ferry-b"]
            bv = 1024 / med(b, "seconds")
            okb = "SHA-256 / count ok" if all(x["ok"] for x in b) else "**FAILED**"
            print(f"| {name}, compared build (--compare) | {dv:.0f} MiB/s | {bv:.0f} MiB/s | {bv / dv:.2f}× | {okb} |")
    elif name == "list-10k":
        for k, label in (("first_byte", "time to first byte"), ("seconds", "total")):
            dv, fv = med(d, k) * 1000, med(f, k) * 1000
            print(f"| {name} {label} | {dv:.0f} ms | {fv:.0f} ms | {dv / fv:.2f}× (speed) | {ok} |")
    else:
        dv, fv = 1000 / med(d, "seconds"), 1000 / med(f, "seconds")
        print(f"| {name} | {dv:.0f} files/s | {fv:.0f} files/s | {fv / dv:.2f}× | {ok} |")
        if "ferry-b" in clients:
            b = clients["ferry-b"]
            bv = 1000 / med(b, "seconds")
            okb = "SHA-256 / count ok" if all(x["ok"] for x in b) else "**FAILED**"
            print(f"| {name}, compared build (--compare) | {dv:.0f} files/s | {bv:.0f} files/s | {bv / dv:.2f}× | {okb} |")
cpu = [(n, c) for n, c in r["scenarios"].items() if n.endswith("-1000") and "client_cpu_ms" in c["direct"][0]]
if cpu:
    # CPU time per file: what a loaded machine stretches much less than wall-clock time.
    print("\nCPU time per file (medians, ms; load-insensitive where wall-clock time is not):\n")
    print("| Scenario | Direct: benchmark client | Direct: store (Swift) | Ferry: ftplib | Ferry: server | Ferry: store (Swift) |")
    print("|---|---:|---:|---:|---:|---:|")
    per = lambda runs, k: med(runs, k) / runs[0]["files"]
    for name, c in cpu:
        d = c["direct"]
        for label in (x for x in ("ferry", "ferry-b") if x in c):
            f = c[label]
            print(f"| {name}{', compared build' if label == 'ferry-b' else ''} | {per(d, 'client_cpu_ms'):.2f} | {per(d, 'store_cpu_ms'):.2f} "
                  f"| {per(f, 'client_cpu_ms'):.2f} | {per(f, 'server_cpu_ms'):.2f} | {per(f, 'store_cpu_ms'):.2f} |")
retr = r["scenarios"].get("retr-1g", {})
if "server_cpu_ms" in retr.get("ferry", [{}])[0]:
    # CPU seconds per GiB sent: the server's cost of the copy, which a loaded machine stretches far less.
    cells = "; ".join(f"{'this build' if k == 'ferry' else 'compared build'} {med(retr[k], 'server_cpu_ms') / 1000:.2f} s "
                      f"(store {med(retr[k], 'store_cpu_ms') / 1000:.2f} s)" for k in ("ferry", "ferry-b") if k in retr)
    print(f"\nCPU time of the 1 GiB RETR (medians): Ferry {cells}.")
stor = r["scenarios"].get("stor-1g", {}).get("ferry", [])
if stor:
    growth = max(x["rss_growth_kib"] for x in stor) / 1024
    target = r["parts_in_flight"] * r["part_size"] / mib + 32
    print(f"\nServer RSS during the 1 GiB STOR: started at {stor[0]['rss_start_kib'] / 1024:.0f} MiB, grew by at most "
          f"{growth:.0f} MiB over {len(stor)} run(s); target ≤ {r['parts_in_flight']} × {r['part_size'] // mib} MiB + 32 MiB "
          f"= {target:.0f} MiB: {'met' if growth <= target else '**not met**'}.")
PY
cat "$out/s3.md"
if [ "$doc" -eq 1 ]; then
  "$python" - docs/benchmarks.md "$out/s3.md" <<'PY'
import re, sys
doc, table = open(sys.argv[1]).read(), open(sys.argv[2]).read()
begin, end = "<!-- s3:begin -->", "<!-- s3:end -->"
if begin not in doc:
    sys.exit("s3.sh: docs/benchmarks.md has no s3 markers")
head, rest = doc.split(begin, 1)
open(sys.argv[1], "w").write(head + begin + "\n" + table + rest[rest.index(end):])
PY
  echo "s3.sh: wrote the object-storage table of docs/benchmarks.md"
fi
