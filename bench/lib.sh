# shellcheck shell=bash
# Common settings for the bench/ scripts. Every value can be overridden from the environment.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

PGB_BIN=${PGB_BIN:-/usr/lib/postgresql/15/bin}           # PostgreSQL 15 server + client binaries
PGB_ROOT=${PGB_ROOT:-/tmp/pgshift-bench}                 # data dirs, sockets, logs, pgshift build
PGB_WORK=${PGB_WORK:-$PGB_ROOT/work}                     # dump dirs, pgcopydb work dirs, counts
PGB_RESULTS=${PGB_RESULTS:-$PGB_ROOT/results}            # raw logs + RESULT lines
SRC_PORT=${SRC_PORT:-29415}   # below 32768: the ports above are where client sockets live
TGT_PORT=${TGT_PORT:-29416}
PGB_HOST=${PGB_HOST:-127.0.0.1}                          # loopback only
PGB_DB=${PGB_DB:-app}
PGB_SUPERUSER=${PGB_SUPERUSER:-postgres}
PGB_OS_USER=${PGB_OS_USER:-postgres}                     # OS user that owns the clusters when run as root
PGCOPYDB=${PGCOPYDB:-pgcopydb}
PGSHIFT_OUT=${PGSHIFT_OUT:-$PGB_ROOT/pgshift-out}        # where build-pgshift.sh puts pgshift.dll
PGSHIFT_DLL=${PGSHIFT_DLL:-$PGSHIFT_OUT/pgshift.dll}
PGSHIFT_TASK=${PGSHIFT_TASK:-bench}
TIME_BIN=${TIME_BIN:-/usr/bin/time}                      # GNU time, for peak RSS (apt package "time")

export PATH="$PGB_BIN:$PATH"
export PGUSER=$PGB_SUPERUSER PGHOST=$PGB_HOST
unset PGPASSWORD PGDATABASE PGPORT PGSERVICE || true

SRC_DATA=$PGB_ROOT/source
TGT_DATA=$PGB_ROOT/target
SRC_URI="postgresql://$PGB_SUPERUSER@$PGB_HOST:$SRC_PORT/$PGB_DB"
TGT_URI="postgresql://$PGB_SUPERUSER@$PGB_HOST:$TGT_PORT/$PGB_DB"

# Run a command as the cluster owner (postgres when we are root, else ourselves).
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PGB_OS_USER" -- env PATH="$PATH" "$@"; else "$@"; fi
}

# psql helpers: -X (no psqlrc), stop on error, unaligned tuples-only output.
psql_src() { psql -X -v ON_ERROR_STOP=1 -qAt -h "$PGB_HOST" -p "$SRC_PORT" -d "${DB:-$PGB_DB}" "$@"; }
psql_tgt() { psql -X -v ON_ERROR_STOP=1 -qAt -h "$PGB_HOST" -p "$TGT_PORT" -d "${DB:-$PGB_DB}" "$@"; }

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.1f", a/b; else print "nan"}'; }

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Echo a RESULT line and append it to the results file.
result() {
  mkdir -p "$PGB_RESULTS"
  local line="RESULT $* date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "$line"
  echo "$line" >>"$PGB_RESULTS/results.txt"
}

# Recreate an empty database on the target cluster and checkpoint, so runs start alike.
reset_target_db() {
  psql -X -q -h "$PGB_HOST" -p "$TGT_PORT" -d postgres -v ON_ERROR_STOP=1 \
    -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $PGB_DB WITH (FORCE)" -c "CREATE DATABASE $PGB_DB" -c "CHECKPOINT"
}

# User tables of the source, as quoted schema.table, excluding PgShift's own state schema.
src_tables() {
  psql_src -c "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables
               WHERE schemaname <> 'pgshift' ORDER BY ${1:-1}"
}

# Source database size in bytes and the exact row count of every user table.
src_db_bytes() { psql_src -c "SELECT pg_database_size(current_database())"; }
src_total_rows() {
  local total=0 t n
  for t in $(src_tables); do
    n=$(psql_src -c "SELECT count(*) FROM $t"); total=$((total + n))
  done
  echo "$total"
}
# Table-by-table "name count" for source or target (used to verify copies); a table missing on the
# target is listed with count "missing".
table_counts() {
  local side=$1 t
  for t in $(src_tables); do
    if [ "$side" = src ]; then echo "$t $(psql_src -c "SELECT count(*) FROM $t")";
    else echo "$t $(psql_tgt -c "SELECT count(*) FROM $t" 2>/dev/null || echo missing)"; fi
  done
}

# Indexes and constraints outside the system schemas and PgShift's state schema, one per line, by
# table and definition (names may differ between tools; definitions must not).
SQL_INDEXES="SELECT format('%s.%s %s', schemaname, tablename, regexp_replace(indexdef, '^CREATE (UNIQUE )?INDEX \S+ ON ', 'CREATE \1INDEX ON ')) FROM pg_indexes
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'pgshift') ORDER BY 1"
SQL_CONSTRAINTS="SELECT format('%s %s %s', c.conrelid::regclass, c.contype, pg_get_constraintdef(c.oid)) FROM pg_constraint c
             JOIN pg_namespace n ON n.oid = c.connamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift') ORDER BY 1"
# Sequence values ("name last_value is_called") outside the system and state schemas.
SQL_SEQUENCES="SELECT format('%s %s', schemaname || '.' || sequencename, coalesce(last_value::text, 'null')) FROM pg_sequences
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'pgshift') ORDER BY 1"

# Exact row count per table and the pgbench balance sums, with those of the bulk table $1 (id, v), on both sides:
# "ok" or "fail" (differences on stderr).
verify_pgbench() {
  local q="SELECT string_agg(x, ' ' ORDER BY x) FROM (
      SELECT 'accounts=' || count(*) || '/' || sum(abalance) AS x FROM pgbench_accounts
      UNION ALL SELECT 'tellers=' || count(*) || '/' || sum(tbalance) FROM pgbench_tellers
      UNION ALL SELECT 'branches=' || count(*) || '/' || sum(bbalance) FROM pgbench_branches
      UNION ALL SELECT 'history=' || count(*) || '/' || coalesce(sum(delta), 0) FROM pgbench_history
      UNION ALL SELECT 'bulk=' || count(*) || '/' || coalesce(sum(v::bigint), 0) FROM $1) s"
  local a b; a=$(psql_src -c "$q"); b=$(psql_tgt -c "$q" 2>&1 || true)
  if [ "$a" = "$b" ]; then echo ok; else log "VERIFY FAILED: source [$a] target [$b]"; echo fail; fi
}
