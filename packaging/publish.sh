#!/usr/bin/env bash
# Builds the release artefacts of `ferry`:
#   artifacts/publish/linux-x64/ferry, artifacts/publish/linux-arm64/ferry
#       self-contained executables (no .NET needed on the host), Native AOT: machine code compiled
#       ahead of time, no JIT at run time. The client commands are short processes, and under
#       ReadyToRun a 1,001-file mirror still spent 2.3-2.8x the CPU of the AOT build in JIT and
#       type loading (docs/benchmarks.md, "Client CPU per mirror"); `ferry serve` under AOT against
#       JIT is in the same section. 33 MB against ReadyToRun's 150 MB single file.
#       linux-arm64 on an x64 host needs a cross linker and the target's C runtime (Debian:
#       apt-get install clang gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu); without them the
#       script builds that RID as a ReadyToRun single file and says so. --ready-to-run builds every
#       RID that way (the artefact shipped before AOT, for comparisons).
#       ReadyToRun single files are not compressed (EnableCompressionInSingleFile): a compressed
#       bundle is inflated into memory on every start, 1.3 s of CPU and 160 MB of RSS more per process.
#   artifacts/packages/Ferry.Cli.<version>.nupkg
#       the .NET tool package, framework-dependent (needs the .NET 10 runtime):
#       dotnet tool install -g Ferry.Cli --add-source artifacts/packages
# Usage: packaging/publish.sh [--no-pack] [--ready-to-run] [RID...]   (default: linux-x64 linux-arm64;
# --no-pack: no tool package, as bench/mirror.sh publishes the executable it times)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

pack=1 r2r_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-pack) pack=0 ;;
    --ready-to-run) r2r_only=1 ;;
    -*) echo "publish.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
rids=("$@")
if [ "${#rids[@]}" -eq 0 ]; then rids=(linux-x64 linux-arm64); fi

case "$(uname -m)" in
  x86_64) host_rid=linux-x64 ;;
  aarch64) host_rid=linux-arm64 ;;
  *) host_rid=unknown ;;
esac

# Why a RID cannot be built with Native AOT here (empty: it can). AOT links with the host's C
# toolchain (clang or gcc); another architecture needs a linker and C runtime for that target.
aot_missing() { # aot_missing RID
  local rid=$1
  if ! command -v clang >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
    echo "no C compiler/linker (apt-get install clang)"; return
  fi
  [ "$rid" = "$host_rid" ] && return
  case "$rid/$host_rid" in
    linux-arm64/linux-x64)
      # clang --target=aarch64-linux-gnu finds Debian's cross gcc installation (crt files, libgcc)
      # and links with its binutils; the ILCompiler package brings the target's runtime libraries.
      command -v clang >/dev/null 2>&1 || { echo "no clang to cross-link (apt-get install clang)"; return; }
      command -v aarch64-linux-gnu-ld >/dev/null 2>&1 && command -v aarch64-linux-gnu-objcopy >/dev/null 2>&1 \
        || { echo "no aarch64 binutils (apt-get install binutils-aarch64-linux-gnu)"; return; }
      [ -f /usr/aarch64-linux-gnu/lib/libc.so ] && ls /usr/lib/gcc-cross/aarch64-linux-gnu/*/crtbegin.o >/dev/null 2>&1 \
        || { echo "no arm64 C runtime (apt-get install gcc-aarch64-linux-gnu)"; return; }
      ;;
    *) echo "no cross toolchain known for $rid on $host_rid" ;;
  esac
}

for rid in "${rids[@]}"; do
  out="artifacts/publish/$rid"
  rm -rf "$out"
  why=""
  if [ "$r2r_only" -eq 1 ]; then why="--ready-to-run"; else why=$(aot_missing "$rid"); fi
  if [ -z "$why" ]; then
    cross=()
    # The host's objcopy does not know the other architecture's ELF (used when symbols are stripped).
    if [ "$rid" = linux-arm64 ] && [ "$host_rid" = linux-x64 ]; then cross=(-p:ObjCopyName=aarch64-linux-gnu-objcopy); fi
    dotnet publish src/Ferry.Cli -c Release -r "$rid" --self-contained true \
      -p:PublishAot=true -p:DebugType=none -p:PackAsTool=false "${cross[@]}" \
      -o "$out"
    echo "publish.sh: $out/ferry ($(du -h "$out/ferry" | cut -f1), Native AOT)"
  else
    dotnet publish src/Ferry.Cli -c Release -r "$rid" --self-contained true \
      -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true \
      -p:EnableCompressionInSingleFile=false -p:DebugType=none -p:PackAsTool=false \
      -p:PublishReadyToRun=true \
      -o "$out"
    echo "publish.sh: $out/ferry ($(du -h "$out/ferry" | cut -f1), ReadyToRun single file, not Native AOT: $why)"
  fi
done

if [ "$pack" -eq 1 ]; then
  dotnet pack src/Ferry.Cli -c Release
  ls -1 artifacts/packages/*.nupkg
fi
