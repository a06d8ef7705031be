#!/usr/bin/env bash
# demo.sh - PgShift end to end on an embedded default, from nothing: starts a PostgreSQL 12 source and a
# PostgreSQL 17 target on free loopback ports in a throwaway folder, loads a schema with every kind of object
# and data (a large table, TOASTed values, a table without a key, partitions), starts a write workload on the
# source, runs precheck, migrate (schema, full copy, change stream) with its live display, waits until the
# task is not delayed, stops the writes, cuts over (which verifies), prints a summary, and removes it all.
# Fails loudly (non-zero exit) if any step fails. DEMO_ROWS sets the size of the large table (default 1,000,000).
# DEMO_FALLBACK=1 adds the way back: the cutover prepares it (--reverse), the workload then writes to the target,
# 'pgshift migrate --reverse' streams those writes back to the source, and 'pgshift fallback' switches back (verified).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ROWS=${DEMO_ROWS:-1000000}
DOCS=${DEMO_DOCS:-3000}

log() { printf '\n==> %s\n' "$*"; }
die() { printf '\ndemo FAILED: %s\n' "$*" >&2; exit 1; }
command -v dotnet >/dev/null || { echo "demo: the .NET 10 SDK (dotnet) is needed" >&2; exit 2; }

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 5000))  # below the ephemeral port range (32768+), which clients use
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "demo: no free port found" >&2; exit 2
}

DEMO_DIR=$(mktemp -d /tmp/pgshift-demo.XXXXXX)
chmod 755 "$DEMO_DIR"
export PGSHIFT_TEST_DIR="$DEMO_DIR" PGSHIFT_SERVERS="pg12 pg17"
export PGSHIFT_PG12_PORT=${DEMO_PG12_PORT:-$(free_port)} PGSHIFT_PG17_PORT=${DEMO_PG17_PORT:-$(free_port)}
FALLBACK=${DEMO_FALLBACK:-0}
MIGRATE_PID="" WRITES_PID=""
cleanup() {
  [ -n "$WRITES_PID" ] && kill "$WRITES_PID" 2>/dev/null || true
  [ -n "$MIGRATE_PID" ] && kill "$MIGRATE_PID" 2>/dev/null || true
  [ -n "${REVERSE_PID:-}" ] && kill "$REVERSE_PID" 2>/dev/null || true
  log "stopping the demo servers and removing $DEMO_DIR"
  bash tests/servers/pg-servers.sh stop || true
  rm -rf "$DEMO_DIR"
}
trap cleanup EXIT

log "starting PostgreSQL 12 (source, port $PGSHIFT_PG12_PORT) and 17 (target, port $PGSHIFT_PG17_PORT)"
bash tests/servers/pg-servers.sh start >/dev/null

log "building pgshift"
dotnet build src/PgShift.Cli -c Release -v quiet -nologo -o "$DEMO_DIR/bin" >/dev/null
pgshift() { dotnet "$DEMO_DIR/bin/pgshift.dll" "$@"; }

SRC="host=127.0.0.1 port=$PGSHIFT_PG12_PORT user=postgres dbname=shop"
TGT="host=127.0.0.1 port=$PGSHIFT_PG17_PORT user=postgres dbname=shop"
psql_on() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
ARGS=(--source "$SRC" --target "$TGT" --task shop)

log "loading the demo data set into the source ($ROWS page views, $DOCS TOASTed documents, the rich schema fixture)"
psql_on "host=127.0.0.1 port=$PGSHIFT_PG12_PORT user=postgres dbname=postgres" -c "CREATE DATABASE shop"
psql_on "host=127.0.0.1 port=$PGSHIFT_PG17_PORT user=postgres dbname=postgres" -c "CREATE DATABASE shop"
for port in "$PGSHIFT_PG12_PORT" "$PGSHIFT_PG17_PORT"; do
  psql_on "host=127.0.0.1 port=$port user=postgres dbname=postgres" \
    -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgshift_fixture_reader') THEN CREATE ROLE pgshift_fixture_reader NOLOGIN; END IF; END\$\$"
done
psql_on "$SRC" -f tests/PgShift.IntegrationTests/Schema/Fixtures/rich_schema.sql >/dev/null
psql_on "$SRC" -v rows="$ROWS" -v docs="$DOCS" -f scripts/demo/data.sql >/dev/null

# write_workload SERVER STOPFILE: the live writes, in the background, until STOPFILE exists.
write_workload() {
  ( end=$((SECONDS + 600)); while [ ! -f "$2" ] && [ $SECONDS -lt $end ]; do
      psql_on "$1" -f scripts/demo/writes.sql >/dev/null 2>&1 || true; sleep 0.05; done ) &
  WRITES_PID=$!
}
log "starting a write workload on the source"
write_workload "$SRC" "$DEMO_DIR/stop-writes"

log "pgshift precheck"
pgshift precheck "${ARGS[@]}" || die "the precheck failed"

log "pgshift migrate (schema, full copy, change stream), in the background"
STARTED=$SECONDS
pgshift migrate "${ARGS[@]}" &
MIGRATE_PID=$!

# Wait for the stream to be caught up with the live writes.
for _ in $(seq 1 600); do
  kill -0 "$MIGRATE_PID" 2>/dev/null || die "pgshift migrate ended early"
  if pgshift status --target "$TGT" --task shop --json 2>/dev/null | grep -q '"notDelayed": true'; then break; fi
  sleep 1
done
pgshift status --target "$TGT" --task shop --json | grep -q '"notDelayed": true' || die "the stream did not catch up"
sleep 3
log "the target is not delayed; status from another shell:"
pgshift status --target "$TGT" --task shop
DELAY=$(pgshift status --target "$TGT" --task shop --json | sed -n 's/.*"delaySeconds": \([0-9.]*\).*/\1/p' | head -1)

log "stopping the writes, then pgshift cutover (waits for zero delay, syncs sequences, verifies)"
touch "$DEMO_DIR/stop-writes"; wait "$WRITES_PID" || true; WRITES_PID=""
REVERSE=()
[ "$FALLBACK" = 1 ] && REVERSE=(--reverse)
pgshift cutover "${REVERSE[@]}" "${ARGS[@]}" | tee "$DEMO_DIR/cutover.log" || die "the cutover or its verification failed"
wait "$MIGRATE_PID" || die "pgshift migrate did not finish cleanly"; MIGRATE_PID=""
grep -q "^Verify: equal" "$DEMO_DIR/cutover.log" || die "verify did not report equal"

if [ "$FALLBACK" = 1 ]; then
  log "the way back: the application writes to the target now; pgshift migrate --reverse streams it back to the source"
  write_workload "$TGT" "$DEMO_DIR/stop-target-writes"
  pgshift migrate --reverse "${ARGS[@]}" &
  REVERSE_PID=$!
  sleep 5
  for _ in $(seq 1 300); do
    kill -0 "$REVERSE_PID" 2>/dev/null || die "pgshift migrate --reverse ended early"
    if pgshift status --reverse "${ARGS[@]}" --json 2>/dev/null | grep -q '"notDelayed": true'; then break; fi
    sleep 1
  done
  pgshift status --reverse "${ARGS[@]}"
  log "stopping the target's writes, then pgshift fallback --fence (waits for zero delay, syncs sequences back, verifies)"
  touch "$DEMO_DIR/stop-target-writes"; wait "$WRITES_PID" || true; WRITES_PID=""
  pgshift fallback --fence "${ARGS[@]}" | tee "$DEMO_DIR/fallback.log" || die "the fallback or its verification failed"
  wait "$REVERSE_PID" || die "pgshift migrate --reverse did not finish cleanly"; REVERSE_PID=""
  grep -q "^Verify: equal" "$DEMO_DIR/fallback.log" || die "verify after the fallback did not report equal"
fi

log "pgshift cleanup"
pgshift cleanup "${ARGS[@]}"

ROWS_COPIED=$(pgshift status --target "$TGT" --task shop --json | sed -n 's/.*"rowsCopied": \([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s+0}')
BYTES_COPIED=$(pgshift status --target "$TGT" --task shop --json | sed -n 's/.*"bytesCopied": \([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s+0}')
CHANGES=$(pgshift status --target "$TGT" --task shop --json | sed -n 's/.*"changesApplied": \([0-9]*\).*/\1/p' | head -1)
log "summary"
printf '  copied:     %s rows, %s MB\n' "$ROWS_COPIED" "$((BYTES_COPIED / 1048576))"
printf '  streamed:   %s changes while the writes ran\n' "${CHANGES:-0}"
printf '  delay:      %s s when the writes stopped\n' "${DELAY:-0}"
printf '  total time: %s s (precheck to cleanup)\n' "$((SECONDS - STARTED))"
printf '  verify:     %s\n' "$(grep '^Verify:' "$DEMO_DIR/cutover.log")"
[ "$FALLBACK" = 1 ] && printf '  fallback:   %s\n' "$(grep '^Verify:' "$DEMO_DIR/fallback.log")"
log "demo finished: migrated with live writes, cut over, verified equal"
[ "$FALLBACK" = 1 ] && log "and back: the target's writes streamed to the source, fallen back, verified equal"
true
