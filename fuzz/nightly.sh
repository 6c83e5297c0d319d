#!/usr/bin/env bash
# Nightly-style fuzzing: every target for a fixed budget, one after the other, and the corpus each
# run grows is kept in fuzz/corpus/TARGET (minimised with afl-cmin; deduplicated and capped if
# afl-cmin fails). Not part of ./test.sh.
#   fuzz/nightly.sh [SECONDS]          default 300 s per target (or FUZZ_SECONDS)
#   FUZZ_TARGETS="line session"        only these targets (default: all six)
#   FUZZ_CORPUS_MAX=300                most queue files kept per target (default 300)
# Exits 1 when any target saved a crash (or afl-fuzz failed to run); commit the grown corpus.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
seconds=${1:-${FUZZ_SECONDS:-300}}
targets=${FUZZ_TARGETS:-line hostport reply listing ascii session}
max_files=${FUZZ_CORPUS_MAX:-300}
failed=()
summary=()

# Hand-written seeds keep their names; files taken from afl's queue are named q-<sha256 prefix>,
# and the q- files are replaced on each run by the newly minimised set (which was computed over a
# queue seeded with the old ones, so no coverage is lost).
keep_corpus() {
  local t=$1 queue=out/$1/default/queue min=out/$1.cmin timeout_ms=10000
  [ "$t" = session ] && timeout_ms=20000
  [ -d "$queue" ] || return 0
  rm -rf "$min"
  if AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 timeout 600 afl-cmin -i "$queue" -o "$min" -t "$timeout_ms" -m none \
      -- "$(command -v dotnet)" out/bin/Ferry.Fuzz.dll "$t" >"out/$t.cmin.log" 2>&1 && [ -n "$(ls -A "$min" 2>/dev/null)" ]; then
    how=afl-cmin
  else
    # Fallback: every distinct queue entry, smallest first, up to the cap.
    rm -rf "$min"; mkdir -p "$min"
    find "$queue" -maxdepth 1 -type f -name 'id:*' -printf '%s %p\n' | sort -n | cut -d' ' -f2- |
      head -n "$max_files" | while read -r f; do cp "$f" "$min/"; done
    how="dedup (afl-cmin failed, see out/$t.cmin.log)"
  fi
  local before after
  before=$(find "corpus/$t" -maxdepth 1 -type f | wc -l)
  declare -A seen=()
  for f in "corpus/$t"/*; do
    [ -f "$f" ] && [[ $(basename "$f") != q-* ]] && seen[$(sha256sum <"$f" | cut -c1-64)]=1
  done
  rm -f "corpus/$t"/q-*
  local n=0
  for f in $(find "$min" -maxdepth 1 -type f -printf '%s %p\n' | sort -n | cut -d' ' -f2-); do
    local h
    h=$(sha256sum <"$f" | cut -c1-64)
    [ -n "${seen[$h]:-}" ] && continue
    seen[$h]=1
    [ "$n" -ge "$max_files" ] && break
    cp "$f" "corpus/$t/q-${h:0:16}"
    n=$((n + 1))
  done
  after=$(find "corpus/$t" -maxdepth 1 -type f | wc -l)
  echo "nightly: corpus/$t: $before -> $after files ($how)"
  corpus_note="$before -> $after"
}

for t in $targets; do
  echo "=== $t ($seconds s)"
  status=ok
  ./run.sh "$t" "$seconds" || { status=FAILED; failed+=("$t"); }
  corpus_note=-
  keep_corpus "$t"
  stats=out/$t/default/fuzzer_stats
  if [ -f "$stats" ]; then
    get() { grep -E "^$1 " "$stats" | sed 's/.*: //'; }
    summary+=("$(printf '%-9s %-7s execs %-9s execs/s %-8s paths %-5s crashes %-3s hangs %-3s corpus %s' \
      "$t" "$status" "$(get execs_done)" "$(get execs_per_sec)" "$(get corpus_count)" "$(get saved_crashes)" "$(get saved_hangs)" "$corpus_note")")
  else
    summary+=("$(printf '%-9s %-7s (no statistics)' "$t" "$status")")
  fi
done

echo
echo "nightly summary ($seconds s per target):"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "nightly: crashes or failures in: ${failed[*]} (inputs under fuzz/out/TARGET/default/crashes)"
  exit 1
fi
echo "nightly: no crashes"
