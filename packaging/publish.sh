#!/usr/bin/env bash
# Builds the release artefacts of `ferry`:
#   artifacts/publish/linux-x64/ferry, artifacts/publish/linux-arm64/ferry
#       self-contained single-file executables (no .NET needed on the host), ReadyToRun: the
#       client commands are short processes, and JIT-compiling them cost a quarter of their CPU time.
#       Not compressed (EnableCompressionInSingleFile): a compressed bundle is inflated into memory
#       on every start, 1.3 s of CPU and 160 MB of RSS more per process (`ferry --version`: 1.42 s
#       against 0.14 s, docs/benchmarks.md), for a file half the size (69 MB against 150 MB).
#   artifacts/packages/Ferry.Cli.<version>.nupkg
#       the .NET tool package: dotnet tool install -g Ferry.Cli --add-source artifacts/packages
# Usage: packaging/publish.sh [--no-pack] [RID...]   (default: linux-x64 linux-arm64; --no-pack: no
# tool package, as bench/mirror.sh publishes the executable it times)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

pack=1
if [ "${1:-}" = --no-pack ]; then pack=0; shift; fi
rids=("$@")
if [ "${#rids[@]}" -eq 0 ]; then rids=(linux-x64 linux-arm64); fi

for rid in "${rids[@]}"; do
  out="artifacts/publish/$rid"
  rm -rf "$out"
  dotnet publish src/Ferry.Cli -c Release -r "$rid" --self-contained true \
    -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true \
    -p:EnableCompressionInSingleFile=false -p:DebugType=none -p:PackAsTool=false \
    -p:PublishReadyToRun=true \
    -o "$out"
  echo "publish.sh: $out/ferry ($(du -h "$out/ferry" | cut -f1))"
done

if [ "$pack" -eq 1 ]; then
  dotnet pack src/Ferry.Cli -c Release
  ls -1 artifacts/packages/*.nupkg
fi
