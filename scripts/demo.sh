#!/usr/bin/env bash
# demo.sh - PgShift on an embedded default, from nothing: starts a PostgreSQL 12 source and a
# PostgreSQL 17 target on free loopback ports in a throwaway folder, loads a small application
# schema, and runs what PgShift can do today against them; then stops and removes the servers.
# Fails loudly (non-zero exit) if any step fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

log() { printf '\n==> %s\n' "$*"; }
command -v dotnet >/dev/null || { echo "demo: the .NET 10 SDK (dotnet) is needed" >&2; exit 2; }

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "demo: no free port found" >&2; exit 2
}

DEMO_DIR=$(mktemp -d /tmp/pgshift-demo.XXXXXX)
chmod 755 "$DEMO_DIR"
export PGSHIFT_TEST_DIR="$DEMO_DIR" PGSHIFT_SERVERS="pg12 pg17"
export PGSHIFT_PG12_PORT=$(free_port) PGSHIFT_PG17_PORT=$(free_port)
cleanup() {
  log "stopping the demo servers and removing $DEMO_DIR"
  bash tests/servers/pg-servers.sh stop || true
  rm -rf "$DEMO_DIR"
}
trap cleanup EXIT

log "starting PostgreSQL 12 (source, port $PGSHIFT_PG12_PORT) and 17 (target, port $PGSHIFT_PG17_PORT)"
bash tests/servers/pg-servers.sh start >/dev/null

log "building pgshift"
dotnet build src/PgShift.Cli -c Release -v quiet -nologo -o "$DEMO_DIR/bin" >/dev/null
PGSHIFT=("dotnet" "$DEMO_DIR/bin/pgshift.dll")

SRC="host=127.0.0.1 port=$PGSHIFT_PG12_PORT user=postgres dbname=shop"
TGT="host=127.0.0.1 port=$PGSHIFT_PG17_PORT user=postgres dbname=shop"
psql_src() { psql -X -q -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$PGSHIFT_PG12_PORT user=postgres dbname=${1:-shop}" "${@:2}"; }

log "loading the demo data set into the source"
psql -X -q -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$PGSHIFT_PG12_PORT user=postgres dbname=postgres" -c "CREATE DATABASE shop"
psql -X -q -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$PGSHIFT_PG17_PORT user=postgres dbname=postgres" -c "CREATE DATABASE shop"
psql_src shop <<'SQL'
CREATE TYPE order_state AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE customers (id bigserial PRIMARY KEY, name text NOT NULL, email text UNIQUE, meta jsonb);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint REFERENCES customers, state order_state NOT NULL DEFAULT 'new',
                     total numeric(12,2), placed_at timestamptz DEFAULT now(), note text)
  PARTITION BY RANGE (id);
ALTER TABLE orders DROP CONSTRAINT orders_pkey;
ALTER TABLE orders ADD PRIMARY KEY (id);
CREATE TABLE orders_1 PARTITION OF orders FOR VALUES FROM (1) TO (50001);
CREATE TABLE orders_2 PARTITION OF orders FOR VALUES FROM (50001) TO (MAXVALUE);
CREATE TABLE events (at timestamptz, payload text);
ALTER TABLE events REPLICA IDENTITY FULL;
INSERT INTO customers (name, email, meta)
  SELECT 'customer ' || g, 'c' || g || '@example.com', jsonb_build_object('tier', g % 3) FROM generate_series(1, 10000) g;
INSERT INTO orders (customer_id, state, total, note)
  SELECT 1 + g % 10000, (ARRAY['new','paid','shipped'])[1 + g % 3]::order_state, g % 997 + 0.99, repeat('x', g % 50)
  FROM generate_series(1, 100000) g;
INSERT INTO events SELECT now(), repeat(md5(g::text), 200) FROM generate_series(1, 500) g;
SQL

log "pgshift precheck"
"${PGSHIFT[@]}" precheck --source "$SRC" --target "$TGT"

log "pgshift migrate --types schema,full (schema, data from one snapshot, then keys and indexes)"
"${PGSHIFT[@]}" migrate --types schema,full --source "$SRC" --target "$TGT"
tables=$(psql -X -At "host=127.0.0.1 port=$PGSHIFT_PG17_PORT user=postgres dbname=shop" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
indexes=$(psql -X -At "host=127.0.0.1 port=$PGSHIFT_PG17_PORT user=postgres dbname=shop" -c "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
[ "$tables" -ge 5 ] && [ "$indexes" -ge 4 ] || { echo "demo: the target lacks tables or indexes ($tables tables, $indexes indexes)" >&2; exit 1; }
log "comparing every table, row for row"
for t in customers orders events; do
  q="SELECT count(*) || ' ' || md5(coalesce(string_agg(r::text, E'\n' ORDER BY r::text COLLATE \"C\"), '')) FROM $t r"
  a=$(psql -X -At "host=127.0.0.1 port=$PGSHIFT_PG12_PORT user=postgres dbname=shop options='-c TimeZone=UTC'" -c "$q")
  b=$(psql -X -At "host=127.0.0.1 port=$PGSHIFT_PG17_PORT user=postgres dbname=shop options='-c TimeZone=UTC'" -c "$q")
  [ "$a" = "$b" ] || { echo "demo: $t differs: source $a, target $b" >&2; exit 1; }
  echo "  $t: ${a%% *} rows, equal"
done

log "next steps"
echo "The change stream (incremental migration), cutover and verify are not built yet in this version of PgShift"
echo "('pgshift migrate' with --types incremental says so). The demo grows with them."
log "demo finished: precheck passed; schema and data migrated ($tables tables, $indexes indexes), every row equal"
