#!/usr/bin/env bash
# Coverage-guided fuzzing of Ferry's wire parsers with afl++ and SharpFuzz (not part of ./test.sh).
#   fuzz/run.sh TARGET [SECONDS]     TARGET: line | hostport | reply | listing | ascii
# Exits non-zero when afl-fuzz found a crash; crashing inputs are under fuzz/out/TARGET/default/crashes,
# afl-fuzz's own log in fuzz/out/TARGET.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
target=${1:?usage: fuzz/run.sh line|hostport|reply|listing|ascii [seconds]}
seconds=${2:-60}
[ -d "corpus/$target" ] || { echo "run.sh: no corpus for target '$target'"; exit 2; }

if ! command -v afl-fuzz >/dev/null 2>&1; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends afl++
fi
tools=$PWD/out/tools
if [ ! -x "$tools/sharpfuzz" ]; then
  dotnet tool install --tool-path "$tools" SharpFuzz.CommandLine --version 2.3.0
fi

bin=$PWD/out/bin
rm -rf "$bin" # a fresh copy: sharpfuzz refuses to instrument twice
dotnet publish Ferry.Fuzz/Ferry.Fuzz.csproj -c Release -o "$bin" --nologo -v quiet
# Instrument the library under test (not the harness, not SharpFuzz) for afl's coverage map.
"$tools/sharpfuzz" "$bin/Ferry.Protocol.dll"

rm -rf "out/$target" "out/$target.log"
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
timeout --preserve-status -s INT "$((seconds + 30))" \
  afl-fuzz -V "$seconds" -i "corpus/$target" -o "out/$target" -t 10000 -m none -- dotnet "$bin/Ferry.Fuzz.dll" "$target" >"out/$target.log" 2>&1 || true

stats=out/$target/default/fuzzer_stats
[ -f "$stats" ] || { echo "run.sh: afl-fuzz produced no statistics"; tail -n 30 "out/$target.log"; exit 1; }
grep -E '^(execs_done|corpus_count|saved_crashes|saved_hangs) ' "$stats"
crashes=$(find "out/$target/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
if [ "$crashes" -gt 0 ]; then
  echo "run.sh: $crashes crashing input(s) for '$target':"
  for f in "out/$target/default/crashes"/id:*; do echo "--- $f"; od -A x -t x1z -v "$f" | head -8
    # Without afl's shared memory SharpFuzz runs the target once on stdin: show the exception.
    dotnet "$bin/Ferry.Fuzz.dll" "$target" <"$f" 2>&1 | grep -m 3 -E 'Exception|   at ' || true
  done
  exit 1
fi
echo "run.sh: no crashes for '$target' in $seconds s"
