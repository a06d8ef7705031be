#!/usr/bin/env bash
# tests/torture/run.sh - PgShift's torture harness: seeded workloads on a real source while the real pgshift process
# is killed with SIGKILL in every phase and servers restart; every round ends with a cutover and a comparison of
# source and target by digests of the harness's own. See tests/torture/README.md.
#
# Usage: bash tests/torture/run.sh [harness options]     e.g. --rounds 40 --seed 7 (--help lists them all)
#
# It builds pgshift and the harness (Release), starts PostgreSQL 12, 15 and 17 test servers in a folder of their
# own, runs the rounds, and stops the servers. Environment:
#   PGSHIFT_TEST_DIR      where the servers live (default /tmp/pgshift-torture)
#   PGSHIFT_PG12_PORT, PGSHIFT_PG15_PORT, PGSHIFT_PG17_PORT   (default 26412, 26415, 26417)
#   PGSHIFT_TORTURE_REUSE_SERVERS=1   use servers already started with that environment; neither start nor stop them
#
# Exit status: 0 when every round ended equal, 1 when a round differed or failed (its seed and the command that
# replays it are printed), 2 when the harness could not run.

set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT" || exit 2
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export PGSHIFT_TEST_DIR=${PGSHIFT_TEST_DIR:-/tmp/pgshift-torture}
export PGSHIFT_PG12_PORT=${PGSHIFT_PG12_PORT:-26412}
export PGSHIFT_PG15_PORT=${PGSHIFT_PG15_PORT:-26415}
export PGSHIFT_PG17_PORT=${PGSHIFT_PG17_PORT:-26417}
SERVERS="$ROOT/tests/servers/pg-servers.sh"
HARNESS="$ROOT/tests/PgShift.Torture/bin/Release/net10.0/PgShift.Torture.dll"

say() { printf 'torture: %s\n' "$*" >&2; }

say "dotnet build -c Release tests/PgShift.Torture (with pgshift)"
dotnet build -c Release tests/PgShift.Torture -nologo -v q >&2 || { say "ERROR: build failed"; exit 2; }

if [ "${PGSHIFT_TORTURE_REUSE_SERVERS:-0}" != 1 ]; then
  say "starting pg12, pg15, pg17 in $PGSHIFT_TEST_DIR (ports $PGSHIFT_PG12_PORT, $PGSHIFT_PG15_PORT, $PGSHIFT_PG17_PORT)"
  PGSHIFT_SERVERS="pg12 pg15 pg17" bash "$SERVERS" start >/dev/null || { say "ERROR: the servers did not start"; exit 2; }
  trap 'PGSHIFT_SERVERS="pg12 pg15 pg17" bash "$SERVERS" stop >/dev/null 2>&1' EXIT
fi

dotnet "$HARNESS" "$@"
