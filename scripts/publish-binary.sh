#!/usr/bin/env bash
# scripts/publish-binary.sh - build PgShift as one self-contained executable for linux-x64: a single file that runs
# without the .NET runtime installed (needs the .NET 10 SDK to build; the runtime pack comes from NuGet).
#
# Usage: bash scripts/publish-binary.sh [OUTPUT_DIR]
#   OUTPUT_DIR   where the executable `pgshift` goes (default <repo>/artifacts/linux-x64)
#
# Copy it anywhere on the PATH, e.g. sudo install -m 755 artifacts/linux-x64/pgshift /usr/local/bin/pgshift

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
OUT=${1:-$ROOT/artifacts/linux-x64}
[ "${1:-}" != "-h" ] && [ "${1:-}" != "--help" ] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }

command -v dotnet >/dev/null 2>&1 || { echo "publish-binary.sh: the .NET SDK is missing: 'dotnet' is not on PATH" >&2; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

COMMIT=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
echo "publish-binary.sh: publishing a self-contained single-file pgshift for linux-x64 (commit $COMMIT) into $OUT" >&2
# Compressed: about half the size. (ReadyToRun would save some start-up CPU, but crossgen of a self-contained
# single file took minutes of a 2-core machine; bench/ measures a ReadyToRun build of its own.)
dotnet publish "$ROOT/src/PgShift.Cli/PgShift.Cli.csproj" -c Release -r linux-x64 --self-contained true -nologo -v quiet \
  -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true \
  -p:DebugType=none "-p:SourceRevisionId=$COMMIT" -o "$OUT"
"$OUT/pgshift" --version
