#!/usr/bin/env bash
# Builds the release artefacts of `ferry`:
#   artifacts/publish/linux-x64/ferry, artifacts/publish/linux-arm64/ferry
#       self-contained single-file executables (no .NET needed on the host), ReadyToRun: the
#       client commands are short processes, and JIT-compiling them cost a quarter of their CPU time
#   artifacts/packages/Ferry.Cli.<version>.nupkg
#       the .NET tool package: dotnet tool install -g Ferry.Cli --add-source artifacts/packages
# Usage: packaging/publish.sh [RID...]   (default: linux-x64 linux-arm64)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

rids=("$@")
if [ "${#rids[@]}" -eq 0 ]; then rids=(linux-x64 linux-arm64); fi

for rid in "${rids[@]}"; do
  out="artifacts/publish/$rid"
  rm -rf "$out"
  dotnet publish src/Ferry.Cli -c Release -r "$rid" --self-contained true \
    -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true \
    -p:EnableCompressionInSingleFile=true -p:DebugType=none -p:PackAsTool=false \
    -p:PublishReadyToRun=true \
    -o "$out"
  echo "publish.sh: $out/ferry ($(du -h "$out/ferry" | cut -f1))"
done

dotnet pack src/Ferry.Cli -c Release
ls -1 artifacts/packages/*.nupkg
