#!/usr/bin/env bash
# Coverage-guided fuzzing of Ferry with afl++ and SharpFuzz (not part of ./test.sh): the wire parsers,
# and whole sessions against an in-process server (session).
#   fuzz/run.sh TARGET [SECONDS]     TARGET: line | hostport | reply | listing | ascii | session
# Exits non-zero when afl-fuzz found a crash; crashing inputs are under fuzz/out/TARGET/default/crashes,
# afl-fuzz's own log in fuzz/out/TARGET.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
target=${1:?usage: fuzz/run.sh line|hostport|reply|listing|ascii|session [seconds]}
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
# Instrument the libraries under test (not the harness, not SharpFuzz) for afl's coverage map: the
# parsers live in Ferry.Protocol; the session target drives Ferry.Server too.
"$tools/sharpfuzz" "$bin/Ferry.Protocol.dll"
timeout_ms=10000
if [ "$target" = session ]; then
  "$tools/sharpfuzz" "$bin/Ferry.Server.dll"
  # An input stops sending lines after 6 s and its checks wait up to 3 s each: 20 s is a hang.
  timeout_ms=20000
fi

dict=()
[ -f "dict/$target.dict" ] && dict=(-x "dict/$target.dict") # tokens afl splices into inputs

rm -rf "out/$target" "out/$target.log"
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
timeout --preserve-status -s INT "$((seconds + 30))" \
  afl-fuzz -V "$seconds" -i "corpus/$target" -o "out/$target" -t "$timeout_ms" -m none "${dict[@]}" -- dotnet "$bin/Ferry.Fuzz.dll" "$target" >"out/$target.log" 2>&1 || true

# The session target's temporary roots (ferry-fuzz-session-PID-*) outlive a process afl killed.
for d in "${TMPDIR:-/tmp}"/ferry-fuzz-session-*; do
  [ -d "$d" ] || continue
  pid=${d##*/ferry-fuzz-session-}; pid=${pid%%-*}
  [ -d "/proc/$pid" ] || rm -rf "$d"
done

stats=out/$target/default/fuzzer_stats
[ -f "$stats" ] || { echo "run.sh: afl-fuzz produced no statistics"; tail -n 30 "out/$target.log"; exit 1; }
grep -E '^(execs_done|corpus_count|saved_crashes|saved_hangs) ' "$stats"
crashes=$(find "out/$target/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
if [ "$crashes" -gt 0 ]; then
  echo "run.sh: $crashes crashing input(s) for '$target':"
  for f in "out/$target/default/crashes"/id:*; do echo "--- $f"; od -A x -t x1z -v "$f" | head -8
    if [ "$target" = session ]; then
      # Replays the input without afl and prints the broken invariant with the dialogue's transcript.
      dotnet "$bin/Ferry.Fuzz.dll" session-check "$f" 2>&1 | head -60 || true
    else
      # Without afl's shared memory SharpFuzz runs the target once on stdin: show the exception.
      dotnet "$bin/Ferry.Fuzz.dll" "$target" <"$f" 2>&1 | grep -m 3 -E 'Exception|   at ' || true
    fi
  done
  exit 1
fi
echo "run.sh: no crashes for '$target' in $seconds s"
