#!/usr/bin/env bash
# scripts/install.sh - build PgShift as a .NET tool package in a local feed and install it, so that `pgshift` is a
# command on the PATH (needs the .NET 10 SDK; the packages it builds with come from NuGet).
#
# Usage: bash scripts/install.sh [--tool-path DIR]
#   (default)        dotnet tool install --global: the command goes to ~/.dotnet/tools
#   --tool-path DIR  install into DIR instead (dotnet tool install --tool-path DIR)
#
# Environment:
#   PGSHIFT_FEED     the local feed the package is written to (default <repo>/artifacts/feed)
#
# An installed PgShift is replaced. `pgshift --version` prints the version and the commit it was built from.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
FEED=${PGSHIFT_FEED:-$ROOT/artifacts/feed}
PACKAGE=PgShift.Cli
TOOL_PATH=

while [ $# -gt 0 ]; do
  case "$1" in
    --tool-path) [ $# -ge 2 ] || { echo "install.sh: --tool-path needs a directory" >&2; exit 2; }
                 TOOL_PATH=$2; shift 2 ;;
    --tool-path=*) TOOL_PATH=${1#--tool-path=}; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (usage: bash scripts/install.sh [--tool-path DIR])" >&2; exit 2 ;;
  esac
done

say() { printf 'install.sh: %s\n' "$*" >&2; }
command -v dotnet >/dev/null 2>&1 || { say "ERROR: the .NET SDK is missing: 'dotnet' is not on PATH (install the .NET 10 SDK)"; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# The commit goes into the version that `pgshift --version` prints.
COMMIT=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
VERSION=$(dotnet msbuild "$ROOT/src/PgShift.Cli/PgShift.Cli.csproj" -getProperty:Version)
mkdir -p "$FEED"
say "packing $PACKAGE $VERSION (commit $COMMIT) into the local feed $FEED"
dotnet pack "$ROOT/src/PgShift.Cli/PgShift.Cli.csproj" -c Release -o "$FEED" -nologo -v quiet "-p:SourceRevisionId=$COMMIT"

if [ -n "$TOOL_PATH" ]; then
  WHERE=(--tool-path "$TOOL_PATH"); BIN=$TOOL_PATH
else
  WHERE=(--global); BIN=${DOTNET_CLI_HOME:-$HOME}/.dotnet/tools
fi
# A package rebuilt under the same version must not be taken from NuGet's cache of the last one.
rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}/$(echo "$PACKAGE" | tr '[:upper:]' '[:lower:]')/$VERSION"
if dotnet tool list "${WHERE[@]}" 2>/dev/null | grep -qi "^$PACKAGE "; then
  dotnet tool uninstall "${WHERE[@]}" "$PACKAGE" >/dev/null
fi
say "dotnet tool install ${WHERE[*]} $PACKAGE --version $VERSION --add-source $FEED"
dotnet tool install "${WHERE[@]}" "$PACKAGE" --version "$VERSION" --add-source "$FEED"

"$BIN/pgshift" --version
case ":$PATH:" in
  *":$BIN:"*) say "pgshift is on the PATH: try 'pgshift --help'" ;;
  *) say "add $BIN to the PATH to run 'pgshift' by name, e.g. in ~/.bashrc or ~/.profile:"
     say "  export PATH=\"\$PATH:$BIN\"" ;;
esac
