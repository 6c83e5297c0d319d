#!/usr/bin/env bash
# The one command: installs missing interop peers, builds, runs every test suite and prints
# "N passed, N failed, N skipped" as its last line. Non-zero exit on build failure, any failed
# test, a crashed test run, or zero tests run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DEBIAN_FRONTEND=noninteractive NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

results=artifacts/test-results
summary() { # summary PASSED FAILED SKIPPED
  echo "$1 passed, $2 failed, $3 skipped"
}

# --- peers -----------------------------------------------------------------------------------
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
# chromium: the admin console's browser tests (Playwright drives Debian's build; its own download is not used).
# rclone: an FTP client of the object-storage interop tests.
for pkg in curl lftp wget tnftp rclone python3-pyftpdlib chromium; do
  case "$pkg" in
    python3-pyftpdlib) dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg") ;;
    *) command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg") ;;
  esac
done
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test.sh: installing missing packages: ${missing[*]}"
  as_root apt-get update
  as_root apt-get install -y --no-install-recommends "${missing[@]}"
fi

# vsftpd, Pure-FTPd and ProFTPD conflict as Debian packages: unpacked side by side instead.
as_root tests/peers/install.sh
# OpenStack Swift with s3api: the S3 store the object-storage tests start on loopback.
as_root tests/peers/s3-swift.sh install
# HAProxy (issue 17): the balancer of the cluster tests, with the shipped docs/haproxy-two-nodes.cfg.
as_root tests/peers/haproxy.sh install
# PostgreSQL 15: the shared state of the cluster tests (each test run starts its own on loopback).
as_root tests/peers/postgres.sh install

node_dir=tests/Ferry.Interop.Tests/node
if [ ! -d "$node_dir/node_modules/basic-ftp" ]; then
  echo "test.sh: installing basic-ftp into $node_dir"
  (cd "$node_dir" && npm ci --no-audit --no-fund)
fi

# --- build -----------------------------------------------------------------------------------
if ! dotnet build Ferry.sln -c Release; then
  echo "test.sh: build failed"
  summary 0 0 0
  exit 1
fi

# --- test ------------------------------------------------------------------------------------
rm -rf "$results"
mkdir -p "$results"
test_status=0
# One dotnet test per project, each with its own TRX file: with Ferry.sln, TRX names carry only a
# one-second timestamp and two projects finishing together overwrite each other.
projects=$(dotnet sln Ferry.sln list | grep -E '^tests/.*\.Tests\.csproj$' || true)
if [ -z "$projects" ]; then echo "test.sh: no test projects in Ferry.sln"; fi
for project in $projects; do
  name=$(basename "$project" .csproj)
  dotnet test "$project" -c Release --no-build \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" \
    --results-directory "$results" || test_status=$?
done

# Sum the <Counters .../> of every TRX file (one per test project).
counter() { # counter NAME FILE
  sed -n "s/.*<Counters[^>]* $1=\"\([0-9]*\)\".*/\1/p" "$2" | head -n1
}
passed=0 failed=0 skipped=0 files=0
shopt -s nullglob
for trx in "$results"/*.trx; do
  files=$((files + 1))
  total=$(counter total "$trx"); executed=$(counter executed "$trx")
  passed=$((passed + $(counter passed "$trx")))
  file_failed=0
  for c in failed error timeout aborted; do
    file_failed=$((file_failed + $(counter "$c" "$trx")))
  done
  # A crashed test host leaves a TRX whose counters show only the tests that finished, all passed,
  # and an outcome other than Completed: the test that crashed it counts as one failure.
  outcome=$(sed -n 's/.*<ResultSummary outcome="\([A-Za-z]*\)".*/\1/p' "$trx" | head -n1)
  if [ "$outcome" != Completed ] && [ "$file_failed" -eq 0 ]; then
    echo "test.sh: $(basename "$trx"): run outcome ${outcome:-unknown} with no failed test recorded (test host crashed?): counted as 1 failed"
    file_failed=1
  fi
  failed=$((failed + file_failed))
  skipped=$((skipped + total - executed))
done

# Name every failed test last, so the tail of a CI log says which ones failed.
for trx in "$results"/*.trx; do
  grep -o '<UnitTestResult [^>]*outcome="\(Failed\|Error\|Timeout\|Aborted\)"[^>]*>' "$trx" \
    | sed -n 's/.*testName="\([^"]*\)".*/test.sh: FAILED \1/p' | sed 's/&quot;/"/g; s/&amp;/\&/g' || true
done

project_count=$(printf '%s\n' $projects | grep -c . || true)
status=0
if [ "$test_status" -ne 0 ]; then
  echo "test.sh: dotnet test exited with $test_status"
  status=1
fi
if [ "$files" -lt "$project_count" ]; then
  echo "test.sh: only $files result files for $project_count test projects (a test host crashed?)"
  status=1
fi
if [ "$failed" -gt 0 ]; then status=1; fi
if [ $((passed + failed)) -eq 0 ]; then
  echo "test.sh: no tests ran"
  status=1
fi
summary "$passed" "$failed" "$skipped"
exit "$status"
