#!/usr/bin/env bash
# Change-data-capture benchmark: PgShift's change stream against PostgreSQL's native logical replication
# and the decoding ceiling, on the same pgbench data in the same run.
#   bench/cdc.sh [PART...]        parts: pgshift native (default: both, pgshift first)
# Database $PGB_DB (default here: cdc, so the full-copy benchmark's "app" is left alone) on the two
# clusters of pg-up.sh: pgbench -i -s SCALE (10) plus cdc_bulk (id int PRIMARY KEY, v int), a narrow
# table for the one big transaction. pgbench_history has no key: pgshift refuses such a table (its
# UPDATEs could not be streamed), so it is given REPLICA IDENTITY FULL (pgbench only inserts into it).
#
# pgshift:
#   setup    pgshift migrate --task $PGSHIFT_TASK (types schema,full,incremental) into an empty target
#            database; once it prints "stream:", pgshift stop.
#   catch-up with the task stopped, pgbench -n -c CLIENTS -j THREADS -t TXN_PER_CLIENT (TPC-B-like:
#            3 UPDATEs + 1 INSERT per transaction) on the source; then pgshift migrate again (it resumes
#            the stream) and time until the target holds every transaction (pgbench_history count, one
#            row per transaction, applied in commit order) and until the task state says caught up
#            (pgshift.tasks.delay_bytes = 0, fresh heartbeat). Changes = n_tup_ins+upd+del on the source.
#   live     pgbench -R LIVE_RATE -T LIVE_SECONDS while the task streams; every SAMPLE_S (0.2 s) from
#            one psql session on the target: PgShift's own delay (pgshift.tasks.delay_seconds/_bytes, which
#            `pgshift status --json` prints, written once a second by the stream's monitor) and the
#            end-to-end age of the newest source transaction visible on the target
#            (clock_timestamp() - max(pgbench_history.mtime); mtime is the source transaction's start);
#            from the source: slot lag bytes (pg_current_wal_lsn - confirmed_flush_lsn).
#   memory   one source transaction inserting BULK_ROWS (5,000,000) rows into cdc_bulk while streaming;
#            the pgshift process's VmRSS/VmHWM sampled every 0.5 s (/proc/PID/status) and GNU time's
#            maximum RSS; time until the target holds the rows; CPU seconds of pgshift, the target backend
#            and the walsender from the INSERT's start until then (native: apply worker and walsender).
#   after each step: exact row counts of every table and pgbench balance sums equal on both sides.
# native:
#   target = pg_dump | pg_restore of the source; publication FOR ALL TABLES; subscription with
#   copy_data = false, enabled = false; slots bench_ceiling_pgoutput and bench_ceiling_td are created
#   before the same catch-up workload; ENABLE and time as above; then the decoding ceiling:
#   pg_recvlogical --start --endpos <LSN after the workload> of each ceiling slot into /dev/null
#   (pgoutput with the same publication, and test_decoding); then the same live run (lag samples as
#   above plus pg_stat_replication.replay_lag) and, with NATIVE_BULK=1, the same big transaction.
# Env: SCALE (10), CLIENTS (4), THREADS (2), TXN_PER_CLIENT (25000), LIVE_RATE (500), LIVE_SECONDS (60),
#      SAMPLE_S (0.2), BULK_ROWS (5000000), NATIVE_BULK (0), CATCHUP_TIMEOUT (900 s), CDC_RELOAD (0),
#      PGSHIFT_BUILD (1: build-pgshift.sh first), PGSHIFT_DLL, PGSHIFT_TASK (cdc).
# Results: RESULT lines (tool=pgshift_catchup, pgshift_live, pgshift_bulk, native_catchup,
#      ceiling_pgoutput, ceiling_test_decoding, native_live, native_bulk) in $PGB_RESULTS/results.txt;
#      logs and raw samples in $PGB_RESULTS/cdc-*.
export PGB_DB=${PGB_DB:-cdc}
export PGSHIFT_TASK=${PGSHIFT_TASK:-cdc}
source "$(dirname "$0")/lib.sh"
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-4}
THREADS=${THREADS:-2}
TXN_PER_CLIENT=${TXN_PER_CLIENT:-25000}
LIVE_RATE=${LIVE_RATE:-500}
LIVE_SECONDS=${LIVE_SECONDS:-60}
SAMPLE_S=${SAMPLE_S:-0.2}
BULK_ROWS=${BULK_ROWS:-5000000}
NATIVE_BULK=${NATIVE_BULK:-0}
CATCHUP_TIMEOUT=${CATCHUP_TIMEOUT:-900}
PARTS=("$@"); [ ${#PARTS[@]} -gt 0 ] || PARTS=(pgshift native)
BATCH=${BATCH:-$(date -u +%Y%m%dT%H%M%SZ)}
PUB=bench_pub SUB=bench_sub
SLOT_PGOUTPUT=bench_ceiling_pgoutput SLOT_TD=bench_ceiling_td
SRC_CONNINFO="host=$PGB_HOST port=$SRC_PORT dbname=$PGB_DB user=$PGB_SUPERUSER"
OUT=$PGB_RESULTS/cdc-$BATCH
PGSHIFT=(dotnet "$PGSHIFT_DLL")
PGS_CONN=(--source "$SRC_URI" --target "$TGT_URI" --task "$PGSHIFT_TASK")

"$BENCH_DIR/pg-up.sh" >/dev/null
mkdir -p "$PGB_WORK" "$PGB_RESULTS"
[ "$(id -u)" = 0 ] && chown "$PGB_OS_USER" "$PGB_WORK"
[ -x "$TIME_BIN" ] || { echo "GNU time ($TIME_BIN) is missing: apt-get install time" >&2; exit 2; }

MIGRATE_PID=""        # the GNU time wrapper of the running pgshift migrate
SAMPLER_PIDS=()
stop_samplers() {
  local p
  for p in "${SAMPLER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  SAMPLER_PIDS=()
}
cleanup_on_exit() {
  stop_samplers
  if [ -n "$MIGRATE_PID" ] && kill -0 "$MIGRATE_PID" 2>/dev/null; then
    "${PGSHIFT[@]}" stop --target "$TGT_URI" --task "$PGSHIFT_TASK" >/dev/null 2>&1 &
    local sp=$! i
    for i in $(seq 1 300); do kill -0 "$MIGRATE_PID" 2>/dev/null || break; sleep 0.1; done
    kill "$sp" 2>/dev/null || true
    if kill -0 "$MIGRATE_PID" 2>/dev/null; then kill -- "$(pgrep -P "$MIGRATE_PID")" "$MIGRATE_PID" 2>/dev/null || true; fi
  fi
}
trap cleanup_on_exit EXIT

# ---------------------------------------------------------------------------------------------- data
loaded=$(psql_src -c "SELECT count(*) FROM pgbench_branches" 2>/dev/null || echo none)
if [ "$loaded" != "$SCALE" ] || [ "${CDC_RELOAD:-0}" = 1 ]; then
  log "loading pgbench scale $SCALE into $PGB_DB (source holds: $loaded)"
  psql -X -q -h "$PGB_HOST" -p "$SRC_PORT" -d postgres -v ON_ERROR_STOP=1 \
    -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $PGB_DB WITH (FORCE)" -c "CREATE DATABASE $PGB_DB"
  pgbench -i -q -s "$SCALE" -h "$PGB_HOST" -p "$SRC_PORT" "$PGB_DB" 2>&1 | tail -n 1 >&2
fi
psql_src -c "SET client_min_messages = warning" \
  -c "ALTER TABLE pgbench_history REPLICA IDENTITY FULL" \
  -c "CREATE TABLE IF NOT EXISTS cdc_bulk (id int PRIMARY KEY, v int NOT NULL)"

if [ "${PGSHIFT_BUILD:-1}" = 1 ] && [[ " ${PARTS[*]} " == *" pgshift "* ]]; then "$BENCH_DIR/build-pgshift.sh" >&2; fi
PGSHIFT_COMMIT=$(cat "$PGSHIFT_OUT/bench-commit.txt" 2>/dev/null || echo unknown)

# ---------------------------------------------------------------------------------------------- helpers
drop_replication_objects() {  # no subscription, publication or slot of ours (or PgShift's) left behind
  psql_tgt -c "SET client_min_messages = warning" -c "DROP SUBSCRIPTION IF EXISTS $SUB" >/dev/null 2>&1 || {
    psql_tgt -c "ALTER SUBSCRIPTION $SUB DISABLE" -c "ALTER SUBSCRIPTION $SUB SET (slot_name = NONE)" -c "DROP SUBSCRIPTION $SUB" >/dev/null 2>&1 || true; }
  psql_src -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active AND database = current_database()" >/dev/null
  local p
  for p in $(psql_src -c "SELECT quote_ident(pubname) FROM pg_publication"); do psql_src -c "DROP PUBLICATION $p"; done
}

prepare_source() {  # empty history and bulk table, vacuumed, checkpointed
  drop_replication_objects
  psql_src -c "TRUNCATE pgbench_history, cdc_bulk" -c "VACUUM ANALYZE" -c "CHECKPOINT"
}

changes_total() {  # rows inserted + updated + deleted in the user tables, per the statistics
  psql_src -c "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables WHERE schemaname = 'public'"
}

# Catch-up workload on the source while nothing is applied; sets TXNS CHANGES LSN1 WAL_BYTES SRC_TPS.
run_workload() {
  local c0 lsn0 out="$OUT-$1-pgbench.log"
  sleep 1; c0=$(changes_total); lsn0=$(psql_src -c "SELECT pg_current_wal_lsn()")
  log "pgbench -n -c $CLIENTS -j $THREADS -t $TXN_PER_CLIENT on the source"
  pgbench -n -c "$CLIENTS" -j "$THREADS" -t "$TXN_PER_CLIENT" -h "$PGB_HOST" -p "$SRC_PORT" "$PGB_DB" >"$out" 2>&1
  sleep 1.5
  LSN1=$(psql_src -c "SELECT pg_current_wal_lsn()")
  CHANGES=$(( $(changes_total) - c0 ))
  TXNS=$(psql_src -c "SELECT count(*) FROM pgbench_history")
  WAL_BYTES=$(psql_src -c "SELECT pg_wal_lsn_diff('$LSN1', '$lsn0')::bigint")
  SRC_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$out" | cut -d. -f1)
  log "workload: txns=$TXNS changes=$CHANGES wal=$(div "$WAL_BYTES" 1048576) MB source_tps=$SRC_TPS end_lsn=$LSN1"
}

# Poll the target every 0.05 s until pgbench_history holds $1 rows; prints the epoch of the first probe that
# saw any new row (above $2) and of the probe that saw them all, as "t_first t_all"; exit 1 on timeout or
# when process $3 (optional) has exited.
wait_rows() {
  local want=$1 base=$2 pid=${3:-} first="" n deadline=$(( $(date +%s) + CATCHUP_TIMEOUT ))
  while :; do
    n=$(psql_tgt -c "SELECT count(*) FROM pgbench_history" 2>/dev/null || echo 0)
    if [ -z "$first" ] && [ "$n" -gt "$base" ]; then first=$(now_s); fi
    if [ "$n" -ge "$want" ]; then echo "${first:-$(now_s)} $(now_s)"; return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then log "process $pid exited before catching up ($n of $want rows)"; return 1; fi
    [ "$(date +%s)" -lt "$deadline" ] || { log "catch-up timed out ($n of $want rows)"; return 1; }
    sleep 0.05
  done
}

wait_flush() {  # $1 slot $2 lsn $3 timeout s: until confirmed_flush_lsn >= lsn
  local deadline=$(( $(date +%s) + $3 ))
  while [ "$(psql_src -c "SELECT coalesce(confirmed_flush_lsn >= '$2', false) FROM pg_replication_slots WHERE slot_name = '$1'")" != t ]; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1; sleep 0.1
  done
}

verify() { verify_pgbench cdc_bulk; }

# CPU seconds (user + system) used so far by each process in $@ (0 for one that is gone), space-separated.
CLK_TCK=$(getconf CLK_TCK)
cpu_s() {
  local p
  for p in "$@"; do
    awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.2f ", ($12 + $13) / hz }' "/proc/$p/stat" 2>/dev/null || printf "0 "
  done
}
# pids of the client and server processes that carry a stream: "client apply_backend walsender"
pgshift_pids() {
  echo "$(dotnet_pid) $(psql_tgt -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgshift apply' AND datname = current_database() LIMIT 1") $(psql_src -c "SELECT pid FROM pg_stat_replication WHERE application_name LIKE 'pgshift%' LIMIT 1")"
}
native_pids() {
  echo "$(psql_tgt -c "SELECT pid FROM pg_stat_subscription WHERE subname = '$SUB' AND relid IS NULL LIMIT 1") $(psql_src -c "SELECT pid FROM pg_stat_replication WHERE application_name = '$SUB' LIMIT 1")"
}
# Machine-wide CPU ticks "busy total" from /proc/stat; busy% between two snapshots (of all cores).
machine_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat; }
busy_pct() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); if (y[2] > x[2]) printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]); else print "nan" }'; }
loadavg1() { cut -d' ' -f1 /proc/loadavg; }

# CPU seconds used between two cpu_s snapshots ($1 and $2, same pids), joined with "/"
cpu_diff() { awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); split(b, y, " "); s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? "/" : "") sprintf("%.1f", y[i] - x[i]); print s }'; }

# "max p50 p90 n" of the numbers in file $1 (blank lines ignored)
stats() {
  grep -E '^-?[0-9.]+$' "$1" | sort -g | awk '{v[NR]=$1} END{ if (NR==0) {print "nan nan nan 0"; exit}
    printf "%s %s %s %d\n", v[NR], v[int((NR+1)/2)], v[int(NR*0.9+0.999)], NR }'
}

# One psql session on the target sampling every SAMPLE_S: "epoch|e2e_age_s|task_delay_s|task_delay_bytes"
# (the task columns empty when there is no pgshift task). Runs until killed.
start_target_sampler() {
  local out=$1 task_cols="NULL, NULL"
  if [ "$(psql_tgt -c "SELECT to_regclass('pgshift.tasks') IS NOT NULL")" = t ]; then
    task_cols="(SELECT delay_seconds FROM pgshift.tasks WHERE name = '$PGSHIFT_TASK'), (SELECT delay_bytes FROM pgshift.tasks WHERE name = '$PGSHIFT_TASK')"
  fi
  printf '%s\n' "SELECT extract(epoch FROM clock_timestamp()), round(extract(epoch FROM clock_timestamp() - (SELECT max(mtime) FROM pgbench_history))::numeric, 4), $task_cols \\watch $SAMPLE_S" |
    psql -X -qAt -F'|' -P pager=off -h "$PGB_HOST" -p "$TGT_PORT" -d "$PGB_DB" >"$out" 2>/dev/null &
  SAMPLER_PIDS+=($!)
}
# Same on the source: "epoch|slot_lag_bytes|replay_lag_s" for slot $2.
start_source_sampler() {
  local out=$1 slot=$2
  printf '%s\n' "SELECT extract(epoch FROM clock_timestamp()), (SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM pg_replication_slots WHERE slot_name = '$slot'), (SELECT coalesce(extract(epoch FROM max(replay_lag)), 0) FROM pg_stat_replication WHERE application_name = '$slot' OR application_name LIKE 'pgshift%') \\watch $SAMPLE_S" |
    psql -X -qAt -F'|' -P pager=off -h "$PGB_HOST" -p "$SRC_PORT" -d "$PGB_DB" >"$out" 2>/dev/null &
  SAMPLER_PIDS+=($!)
}

# Live run: pgbench at a fixed rate while $1 streams via slot $2; samples every SAMPLE_S. Prints key=value.
live_run() {
  local tool=$1 slot=$2 pids=$3 f="$OUT-$1-live" t0 t1 tps lat cpu0 cpu1 m0 m1 l0 sl
  log "live: pgbench -R $LIVE_RATE -T $LIVE_SECONDS -c $CLIENTS ($tool), sampling every $SAMPLE_S s"
  # warm-up: one transaction so that max(mtime) exists
  pgbench -n -c 1 -t 1 -h "$PGB_HOST" -p "$SRC_PORT" "$PGB_DB" >/dev/null 2>&1
  sleep 2
  t0=$(now_s)
  cpu0=$(cpu_s $pids); m0=$(machine_ticks); l0=$(loadavg1)
  start_target_sampler "$f.target"
  start_source_sampler "$f.source" "$slot"
  pgbench -n -c "$CLIENTS" -j "$THREADS" -R "$LIVE_RATE" -T "$LIVE_SECONDS" -h "$PGB_HOST" -p "$SRC_PORT" "$PGB_DB" >"$f.pgbench.log" 2>&1
  t1=$(now_s)
  cpu1=$(cpu_s $pids); m1=$(machine_ticks)
  stop_samplers
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$f.pgbench.log" | cut -d. -f1)
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$f.pgbench.log")
  sl=$(sed -n 's/^rate limit schedule lag: avg \([0-9.]*\) (max \([0-9.]*\)) ms/\1\/\2/p' "$f.pgbench.log")
  # only samples taken while pgbench ran (the samplers start a moment before it)
  awk -F'|' -v a="$t0" -v b="$t1" '$1 >= a + 1 && $1 <= b' "$f.target" >"$f.target.win"
  awk -F'|' -v a="$t0" -v b="$t1" '$1 >= a + 1 && $1 <= b' "$f.source" >"$f.source.win"
  cut -d'|' -f2 "$f.target.win" >"$f.e2e"; cut -d'|' -f3 "$f.target.win" >"$f.taskdelay"
  cut -d'|' -f2 "$f.source.win" >"$f.slotbytes"; cut -d'|' -f3 "$f.source.win" >"$f.replay"
  local e2e task bytes replay
  e2e=($(stats "$f.e2e")); task=($(stats "$f.taskdelay")); bytes=($(stats "$f.slotbytes")); replay=($(stats "$f.replay"))
  echo "rate=$LIVE_RATE seconds=$LIVE_SECONDS source_tps=$tps latency_ms=$lat samples=${e2e[3]} e2e_s_max=${e2e[0]} e2e_s_p50=${e2e[1]} e2e_s_p90=${e2e[2]} task_delay_s_max=${task[0]} task_delay_s_p50=${task[1]} slot_lag_bytes_max=${bytes[0]} slot_lag_bytes_p50=${bytes[1]} replay_lag_s_max=${replay[0]} replay_lag_s_p50=${replay[1]} cpu_s=$(cpu_diff "$cpu0" "$cpu1") machine_busy_pct=$(busy_pct "$m0" "$m1") load_before=$l0 load_after=$(loadavg1) pgbench_sched_lag_ms_avg/max=$sl"
}

# VmRSS/VmHWM of the dotnet child of the GNU time wrapper $1, every 0.5 s into $2 ("epoch rss_kb hwm_kb"),
# until the process exits; sets MEM_PID.
MEM_PID=""
start_mem_sampler() {
  local parent=$1 out=$2
  ( pid=""
    for _ in $(seq 1 100); do pid=$(pgrep -P "$parent" | head -n 1 || true); [ -n "$pid" ] && break; sleep 0.05; done
    [ -n "$pid" ] || exit 0
    while kill -0 "$pid" 2>/dev/null; do
      awk -v t="$(date +%s.%N)" '/^VmRSS/ {r=$2} /^VmHWM/ {h=$2} END {print t, r, h}' "/proc/$pid/status" 2>/dev/null || true
      sleep 0.5
    done ) >"$out" &
  MEM_PID=$!
}

# ---------------------------------------------------------------------------------------------- pgshift
pgshift_status_json() { "${PGSHIFT[@]}" status --target "$TGT_URI" --task "$PGSHIFT_TASK" --json 2>&1 | tr -d '\n' | tr -s ' '; }

start_migrate() {  # $1 log: pgshift migrate under GNU time, in the background; sets MIGRATE_PID
  "$TIME_BIN" -v -o "$1.time" "${PGSHIFT[@]}" migrate "${PGS_CONN[@]}" --jobs 2 >"$1" 2>&1 &
  MIGRATE_PID=$!
}
dotnet_pid() { pgrep -P "$MIGRATE_PID" | head -n 1; }
wait_stream_phase() {  # $1 log: until pgshift prints "stream:" (or exits)
  local deadline=$(( $(date +%s) + CATCHUP_TIMEOUT ))
  until grep -q '^stream:' "$1"; do
    kill -0 "$MIGRATE_PID" 2>/dev/null || { log "pgshift migrate exited before streaming: $(tail -n 5 "$1")"; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { log "pgshift migrate did not reach the stream"; return 1; }
    sleep 0.2
  done
}
stop_migrate() {  # pgshift stop, then wait for the migrate process; sets STOP_RC to its exit code
  local out
  STOP_RC=0
  out=$("${PGSHIFT[@]}" stop --target "$TGT_URI" --task "$PGSHIFT_TASK" 2>&1) || log "pgshift stop failed: $out"
  log "pgshift stop: $out"
  wait "$MIGRATE_PID" || STOP_RC=$?
  MIGRATE_PID=""
}
task_caught_up() {  # the task state says: no delay, heartbeat fresh
  psql_tgt -c "SELECT coalesce(delay_bytes = 0 AND stream_heartbeat > now() - interval '5 seconds', false) FROM pgshift.tasks WHERE name = '$PGSHIFT_TASK'"
}
wait_task_caught_up() {  # $1 timeout s
  local deadline=$(( $(date +%s) + $1 ))
  until [ "$(task_caught_up)" = t ]; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    kill -0 "$MIGRATE_PID" 2>/dev/null || return 1
    sleep 0.05
  done
}

pgshift_part() {
  local logf="$OUT-pgshift" rc t0 t_first t_all t_state="" r1 r2
  log "=== pgshift (commit $PGSHIFT_COMMIT)"
  prepare_source
  reset_target_db
  log "pgshift migrate (schema, full copy, stream), then stop"
  t0=$(now_s)
  start_migrate "$logf-setup.log"
  if ! wait_stream_phase "$logf-setup.log"; then
    result "tool=pgshift_catchup batch=$BATCH scale=$SCALE status=failed step=setup commit=$PGSHIFT_COMMIT log=$(basename "$logf-setup.log")"
    return 0
  fi
  log "setup reached the stream after $(elapsed "$t0" "$(now_s)") s"
  sleep 2
  stop_migrate
  log "setup: migrate exit $STOP_RC; $(grep -E '^(Task|Schema|Copied|copy)' "$logf-setup.log" | tr '\n' ' ' | cut -c1-300)"
  log "setup verify: $(verify)"

  # (a) catch-up
  run_workload pgshift
  t0=$(now_s)
  start_migrate "$logf-catchup.log"
  start_mem_sampler "$MIGRATE_PID" "$logf.mem"
  local dpid=""
  if read -r t_first t_all < <(wait_rows "$TXNS" 0 "$MIGRATE_PID"); then
    local pids cpu; pids=$(pgshift_pids); cpu=$(cpu_s $pids)
    if wait_task_caught_up 120; then t_state=$(now_s); fi
    dpid=$(dotnet_pid)
    local applied st
    st=$(pgshift_status_json); applied=$(echo "$st" | grep -o '"changesApplied": *[0-9]*' | grep -o '[0-9]*$' || echo nan)
    echo "$st" >"$logf-catchup.status.json"
    local secs apply_s
    secs=$(elapsed "$t0" "$t_all"); apply_s=$(elapsed "$t_first" "$t_all")
    result "tool=pgshift_catchup batch=$BATCH scale=$SCALE seconds=$secs changes=$CHANGES changes_per_s=$(div "$CHANGES" "$secs" | cut -d. -f1) startup_s=$(elapsed "$t0" "$t_first") apply_s=$apply_s apply_changes_per_s=$(div "$CHANGES" "$apply_s" | cut -d. -f1) txns=$TXNS txns_per_s=$(div "$TXNS" "$secs" | cut -d. -f1) wal_mb=$(div "$WAL_BYTES" 1048576) source_tps=$SRC_TPS state_caught_up_s=$([ -n "$t_state" ] && elapsed "$t0" "$t_state" || echo nan) changes_applied_reported=$applied cpu_s_client/apply/walsender=$(cpu_diff "0 0 0" "$cpu") verify=$(verify) commit=$PGSHIFT_COMMIT"
  else
    result "tool=pgshift_catchup batch=$BATCH scale=$SCALE status=failed step=catchup seconds=$(elapsed "$t0" "$(now_s)") applied_txns=$(psql_tgt -c "SELECT count(*) FROM pgbench_history") of_txns=$TXNS commit=$PGSHIFT_COMMIT log=$(basename "$logf-catchup.log")"
    if [ -n "$MIGRATE_PID" ] && kill -0 "$MIGRATE_PID" 2>/dev/null; then stop_migrate; fi
    return 0
  fi

  # (b) live delay
  local live h
  live=$(live_run pgshift "$(TaskSlot)" "$(pgshift_pids)")
  h=$(psql_src -c "SELECT count(*) FROM pgbench_history")
  read -r _ _ < <(wait_rows "$h" 0 "$MIGRATE_PID") || true
  result "tool=pgshift_live batch=$BATCH scale=$SCALE $live verify=$(verify) commit=$PGSHIFT_COMMIT"
  pgshift_status_json >"$logf-live.status.json"

  # (c) one big transaction
  local hwm0 tb0 tb1 tb2 bulk_ok=yes
  hwm0=$(awk '/^VmHWM/ {print int($2/1024)}' "/proc/$dpid/status" 2>/dev/null || echo nan)
  log "bulk: INSERT INTO cdc_bulk SELECT g, g FROM generate_series(1, $BULK_ROWS) g (one transaction); pgshift HWM before: $hwm0 MB"
  local bpids bcpu0 bcpu1; bpids=$(pgshift_pids); bcpu0=$(cpu_s $bpids)
  tb0=$(now_s)
  psql_src -c "INSERT INTO cdc_bulk SELECT g, g FROM generate_series(1, $BULK_ROWS) g"
  tb1=$(now_s)
  local deadline=$(( $(date +%s) + CATCHUP_TIMEOUT ))
  while [ "$(psql_tgt -c "SELECT count(*) >= $BULK_ROWS FROM cdc_bulk")" != t ]; do
    if ! kill -0 "$MIGRATE_PID" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then bulk_ok=no; break; fi
    sleep 0.5
  done
  tb2=$(now_s); bcpu1=$(cpu_s $bpids)
  local hwm rss_max
  hwm=$(awk '/^VmHWM/ {print int($2/1024)}' "/proc/$dpid/status" 2>/dev/null || echo nan)
  rss_max=$(awk 'BEGIN{m=0} {if ($2 > m) m = $2} END {print int(m/1024)}' "$logf.mem" 2>/dev/null || echo nan)
  wait_task_caught_up 60 || true
  pgshift_status_json >"$logf-bulk.status.json"
  stop_migrate; rc=$STOP_RC
  wait "$MEM_PID" 2>/dev/null || true; MEM_PID=""
  local time_rss; time_rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$logf-catchup.log.time")
  result "tool=pgshift_bulk batch=$BATCH scale=$SCALE rows=$BULK_ROWS applied=$bulk_ok source_insert_s=$(elapsed "$tb0" "$tb1") apply_after_commit_s=$(elapsed "$tb1" "$tb2") rows_per_s=$(div "$BULK_ROWS" "$(elapsed "$tb1" "$tb2")" | cut -d. -f1) cpu_s_client/apply/walsender=$(cpu_diff "$bcpu0" "$bcpu1") vmhwm_before_mb=$hwm0 vmhwm_mb=$hwm rss_sampled_max_mb=$rss_max time_max_rss_mb=$time_rss migrate_exit=$rc verify=$(verify) commit=$PGSHIFT_COMMIT log=$(basename "$logf-catchup.log")"
  drop_replication_objects
}
TaskSlot() { echo "pgshift_$PGSHIFT_TASK"; }

# ---------------------------------------------------------------------------------------------- native
native_part() {
  local t0 t_first t_all t_flush=""
  log "=== native logical replication"
  prepare_source
  reset_target_db
  local dir="$PGB_WORK/cdc-dump"; rm -rf "$dir"
  pg_dump -h "$PGB_HOST" -p "$SRC_PORT" -Fd -j 2 -Z 0 -f "$dir" "$PGB_DB"
  pg_restore -h "$PGB_HOST" -p "$TGT_PORT" -j 2 -d "$PGB_DB" "$dir"
  rm -rf "$dir"
  psql_tgt -c "VACUUM ANALYZE" -c "CHECKPOINT"
  psql_src -c "CREATE PUBLICATION $PUB FOR ALL TABLES"
  psql_tgt -c "CREATE SUBSCRIPTION $SUB CONNECTION '$SRC_CONNINFO' PUBLICATION $PUB WITH (copy_data = false, enabled = false)"
  psql_src -c "SELECT pg_create_logical_replication_slot('$SLOT_PGOUTPUT', 'pgoutput')" -c "SELECT pg_create_logical_replication_slot('$SLOT_TD', 'test_decoding')" >/dev/null
  run_workload native
  t0=$(now_s)
  psql_tgt -c "ALTER SUBSCRIPTION $SUB ENABLE"
  if read -r t_first t_all < <(wait_rows "$TXNS" 0); then
    local npids cpu; npids=$(native_pids); cpu=$(cpu_s $npids)
    wait_flush "$SUB" "$LSN1" 120 && t_flush=$(now_s)
    local secs apply_s
    secs=$(elapsed "$t0" "$t_all"); apply_s=$(elapsed "$t_first" "$t_all")
    result "tool=native_catchup batch=$BATCH scale=$SCALE seconds=$secs changes=$CHANGES changes_per_s=$(div "$CHANGES" "$secs" | cut -d. -f1) startup_s=$(elapsed "$t0" "$t_first") apply_s=$apply_s apply_changes_per_s=$(div "$CHANGES" "$apply_s" | cut -d. -f1) txns=$TXNS txns_per_s=$(div "$TXNS" "$secs" | cut -d. -f1) wal_mb=$(div "$WAL_BYTES" 1048576) source_tps=$SRC_TPS flush_s=$([ -n "$t_flush" ] && elapsed "$t0" "$t_flush" || echo nan) cpu_s_apply/walsender=$(cpu_diff "0 0" "$cpu") verify=$(verify)"
  else
    result "tool=native_catchup batch=$BATCH scale=$SCALE status=failed"
  fi

  # decoding ceiling: the same changes from slots created before the workload, into /dev/null
  local s c0 c1 rc
  for s in "$SLOT_PGOUTPUT" "$SLOT_TD"; do
    local opts=()
    [ "$s" = "$SLOT_PGOUTPUT" ] && opts=(-o proto_version=1 -o "publication_names=$PUB")
    c0=$(now_s); rc=0
    pg_recvlogical -h "$PGB_HOST" -p "$SRC_PORT" -d "$PGB_DB" --slot "$s" --start --endpos "$LSN1" --no-loop -F 0 "${opts[@]}" -f /dev/null 2>"$OUT-$s.log" || rc=$?
    c1=$(now_s)
    local secs; secs=$(elapsed "$c0" "$c1")
    result "tool=ceiling_$([ "$s" = "$SLOT_TD" ] && echo test_decoding || echo pgoutput) batch=$BATCH scale=$SCALE seconds=$secs changes=$CHANGES changes_per_s=$(div "$CHANGES" "$secs" | cut -d. -f1) wal_mb=$(div "$WAL_BYTES" 1048576) exit=$rc"
    psql_src -c "SELECT pg_drop_replication_slot('$s')" >/dev/null
  done

  local live h
  live=$(live_run native "$SUB" "$(native_pids)")
  h=$(psql_src -c "SELECT count(*) FROM pgbench_history")
  read -r _ _ < <(wait_rows "$h" 0) || true
  result "tool=native_live batch=$BATCH scale=$SCALE $live verify=$(verify)"

  if [ "$NATIVE_BULK" = 1 ]; then
    local tb0 tb1 tb2 bpids bcpu0
    bpids=$(native_pids); bcpu0=$(cpu_s $bpids)
    tb0=$(now_s)
    psql_src -c "INSERT INTO cdc_bulk SELECT g, g FROM generate_series(1, $BULK_ROWS) g"
    tb1=$(now_s)
    until [ "$(psql_tgt -c "SELECT count(*) >= $BULK_ROWS FROM cdc_bulk")" = t ]; do sleep 0.5; done
    tb2=$(now_s)
    result "tool=native_bulk batch=$BATCH scale=$SCALE rows=$BULK_ROWS source_insert_s=$(elapsed "$tb0" "$tb1") apply_after_commit_s=$(elapsed "$tb1" "$tb2") rows_per_s=$(div "$BULK_ROWS" "$(elapsed "$tb1" "$tb2")" | cut -d. -f1) cpu_s_apply/walsender=$(cpu_diff "$bcpu0" "$(cpu_s $bpids)") verify=$(verify)"
  fi
  drop_replication_objects
}

for p in "${PARTS[@]}"; do
  case $p in pgshift) pgshift_part ;; native) native_part ;; *) echo "unknown part $p" >&2; exit 2 ;; esac
done
log "RESULT lines: grep batch=$BATCH $PGB_RESULTS/results.txt"
