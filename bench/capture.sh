#!/usr/bin/env bash
# Capture during the copy: the WAL the source keeps while PgShift copies, and the time from the end of the copy
# to "not delayed", for PgShift before (the code that reads its slot only after the copy) and after (the slot read
# and staged on the target from the first second), against native logical replication replaying the same backlog
# and the pgoutput decoding ceiling; plus PgShift's peak memory with a 1,000,000-row transaction staged.
#   bench/capture.sh [PART...]     parts: before after native memory startup replay (default: all but replay, in that order)
#
# Database $PGB_DB (default here: cap) on the clusters of pg-up.sh: pgbench -i -s SCALE (pgbench_history given
# REPLICA IDENTITY FULL, as in cdc.sh) plus cap_bulk (id int PRIMARY KEY, v int).
#
# before / after: pgshift migrate (schema, copy, stream) into an empty target database, the copy slowed to
#   COPY_RATE (--max-copy-rate) so that it lasts minutes; once the task's slot exists, pgbench -R RATE writes
#   until the copy and post-data are done (the task enters its stream phase), then stops. Every second: the
#   slot's retained WAL on the source (pg_current_wal_lsn() - confirmed_flush_lsn, the curve), the task's
#   phase, delay and staged changes. Times from the end of the copy (phase leaves copy/post-data) until the
#   target holds every pgbench transaction (rows_s) and until the task's state says not delayed (state_s:
#   delay under a second and 16 MB, heartbeat fresh). "before" runs the build of $BEFORE_REF (default main),
#   "after" that of $AFTER_REF (default HEAD).
# native: the target = pg_dump | pg_restore; publication FOR ALL TABLES, subscription copy_data = false,
#   enabled = false (its slot exists from then on), a pgoutput slot for the ceiling; pgbench -R RATE for as
#   long as PgShift's copy lasted in "after" (or NATIVE_SECONDS); then ENABLE, timed until the target holds every
#   transaction: native's replay of the same backlog after its copy. Then the ceiling: pg_recvlogical --start
#   --endpos <LSN after the workload> of the pgoutput slot into /dev/null.
# memory: "after"'s build, no pgbench; once staging runs, one source transaction inserts BULK_ROWS rows into
#   cap_bulk; peak RSS of the pgshift process (VmHWM) once they are staged, once they are applied (during the copy,
#   since cap_bulk is copied at once, or after it: applied_in_phase), and once the stream runs; GNU time's maximum.
# replay: the staged replay alone, on one backlog for both builds. Once: the copy and pgbench as in "after" (build of
#   AFTER_REF) but pgbench stopped when the copy ends (post-data leaves staging time to take every transaction), the
#   process killed with SIGKILL at its log line "Applying N changes ... staged", the target database kept as a template. Then REPLAY_RUNS (3) times for each of BEFORE_REF and AFTER_REF, alternating: the target
#   database made again from the template, `pgshift migrate` resumed, the replay's seconds read from its log line
#   "Applied the changes staged during the copy (N in X s ...)", and the target checked against the source.
# After each part: exact row counts and balance sums, both sides.
#
# Env: SCALE (10), RATE (500 TPS), CLIENTS (2), COPY_RATE (800kB), BULK_ROWS (1000000), NATIVE_SECONDS (from
# "after"), BEFORE_REF (main), AFTER_REF (HEAD), TIMEOUT (900). Results: $PGB_RESULTS/results.txt (RESULT lines),
# curves in $PGB_RESULTS/capture-<batch>-<part>.samples ("epoch|retained_bytes|phase|delay_s|delay_bytes|fresh|staged").
PGB_DB=${PGB_DB:-cap}
source "$(dirname "$0")/lib.sh"
SCALE=${SCALE:-10}
RATE=${RATE:-500}
CLIENTS=${CLIENTS:-2}
COPY_RATE=${COPY_RATE:-800kB}
BULK_ROWS=${BULK_ROWS:-1000000}
BEFORE_REF=${BEFORE_REF:-main}
AFTER_REF=${AFTER_REF:-HEAD}
TIMEOUT=${TIMEOUT:-900}
PGSHIFT_TASK=cap
SLOT=pgshift_$PGSHIFT_TASK
PUB=cap_pub SUB=cap_sub SLOT_CEILING=cap_ceiling
BATCH=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$PGB_RESULTS/capture-$BATCH
PARTS=("$@"); [ ${#PARTS[@]} -gt 0 ] || PARTS=(before after native memory startup)
REPLAY_RUNS=${REPLAY_RUNS:-3}
mkdir -p "$PGB_RESULTS" "$PGB_WORK"
SRC_CONNINFO="host=$PGB_HOST port=$SRC_PORT dbname=$PGB_DB user=$PGB_SUPERUSER"

"$BENCH_DIR/pg-up.sh"
for p in "${PARTS[@]}"; do
  case $p in
    before|after|memory|startup|replay)
      refs=("$AFTER_REF"); [ "$p" = before ] && refs=("$BEFORE_REF"); [ "$p" = startup ] || [ "$p" = replay ] && refs=("$BEFORE_REF" "$AFTER_REF")
      for ref in "${refs[@]}"; do
      out=$PGB_ROOT/pgshift-$ref
      if [ ! -s "$out/pgshift.dll" ] || { [ "${PGSHIFT_BUILD:-1}" = 1 ] && [ ! -e "$out/.built-$BATCH" ]; }; then
        PGSHIFT_REF=$ref PGSHIFT_OUT=$out "$BENCH_DIR/build-pgshift.sh" >&2 && touch "$out/.built-$BATCH"
      fi
      done ;;
  esac
done

verify() { verify_pgbench cap_bulk; }

prepare_source() {
  psql -X -q -h "$PGB_HOST" -p "$SRC_PORT" -d postgres -c "SET client_min_messages = warning" \
    -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$PGB_DB'" \
    -c "DROP DATABASE IF EXISTS $PGB_DB WITH (FORCE)" -c "CREATE DATABASE $PGB_DB" >/dev/null
  pgbench -i -q -s "$SCALE" -h "$PGB_HOST" -p "$SRC_PORT" "$PGB_DB" >/dev/null 2>&1
  psql_src -c "ALTER TABLE pgbench_history REPLICA IDENTITY FULL" -c "CREATE TABLE cap_bulk (id int PRIMARY KEY, v int)" -c "VACUUM ANALYZE" -c "CHECKPOINT"
}

# Every second into $1: epoch|retained bytes of $2 (empty before the slot exists)|phase|delay_s|delay_bytes|fresh|staged
SAMPLER=""
start_sampler() {
  local out=$1 slot=$2
  ( while true; do
      r=$(psql_src -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM pg_replication_slots WHERE slot_name = '$slot'" 2>/dev/null || true)
      t=$(psql_tgt -F'|' -c "SELECT phase, delay_seconds, delay_bytes, coalesce(stream_heartbeat > now() - interval '3 seconds', false), staged_changes FROM pgshift.tasks WHERE name = '$PGSHIFT_TASK'" 2>/dev/null || true)
      echo "$(now_s)|$r|$t"
      sleep 1
    done ) >"$out" &
  SAMPLER=$!
}
stop_sampler() { [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""; }
state() { psql_tgt -c "SELECT $1 FROM pgshift.tasks WHERE name = '$PGSHIFT_TASK'" 2>/dev/null || true; }
not_delayed() { state "coalesce(stream_heartbeat > now() - interval '3 seconds' AND delay_seconds < 1 AND delay_bytes < 16777216, false)"; }
history_equal() { [ "$(psql_tgt -c "SELECT count(*) FROM pgbench_history" 2>/dev/null || echo -1)" = "$1" ]; }
curve_stats() {  # max and median retained MB of the samples with a value, and their count
  cut -d'|' -f2 "$1" | grep -E '^[0-9]+$' | sort -n | awk '{v[NR]=$1} END { if (NR == 0) { print "nan nan 0"; exit } printf "%.1f %.1f %d\n", v[NR] / 1048576, v[int((NR + 1) / 2)] / 1048576, NR }'
}

pgshift_part() {  # $1 before|after
  local part=$1 ref dll logf t0 t_slot t_copy_end t_rows="" t_state="" pgb rc hist
  ref=$BEFORE_REF; [ "$part" = before ] || ref=$AFTER_REF
  dll=$PGB_ROOT/pgshift-$ref/pgshift.dll; logf=$OUT-$part
  log "=== pgshift $part ($ref, $(cat "$PGB_ROOT/pgshift-$ref/bench-commit.txt"))"
  prepare_source; reset_target_db
  t0=$(now_s)
  "$TIME_BIN" -v -o "$logf.time" dotnet "$dll" migrate --source "$SRC_URI" --target "$TGT_URI" --task "$PGSHIFT_TASK" --jobs 2 \
    --max-copy-rate "$COPY_RATE" --verbose >"$logf.log" 2>&1 &
  local mig=$!
  start_sampler "$logf.samples" "$SLOT"
  until [ "$(psql_src -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = 1 ]; do
    kill -0 $mig 2>/dev/null || { log "migrate exited: $(tail -n 5 "$logf.log")"; stop_sampler; return 1; }; sleep 0.2
  done
  t_slot=$(now_s)
  pgbench -n -c "$CLIENTS" -j "$CLIENTS" -R "$RATE" -T 100000 -h "$PGB_HOST" -p "$SRC_PORT" "$PGB_DB" >"$logf.pgbench.log" 2>&1 &
  pgb=$!
  until [ "$(state phase)" = stream ] || [ "$(state phase)" = cutover ]; do
    kill -0 $mig 2>/dev/null || { log "migrate exited: $(tail -n 5 "$logf.log")"; kill -TERM $pgb; stop_sampler; return 1; }; sleep 0.1
  done
  t_copy_end=$(now_s)
  kill -TERM $pgb; wait $pgb || true
  hist=$(psql_src -c "SELECT count(*) FROM pgbench_history")
  log "copy and post-data done after $(elapsed "$t_slot" "$t_copy_end") s of writes ($hist transactions); waiting for the stream"
  local deadline=$(( $(date +%s) + TIMEOUT ))
  while [ -z "$t_rows" ] || [ -z "$t_state" ]; do
    [ -z "$t_rows" ] && history_equal "$hist" && t_rows=$(now_s)
    [ -z "$t_state" ] && [ -n "$t_rows" ] && [ "$(not_delayed)" = t ] && t_state=$(now_s)
    [ "$(date +%s)" -lt "$deadline" ] && kill -0 $mig 2>/dev/null || break
    sleep 0.05
  done
  sleep 2; stop_sampler
  dotnet "$dll" stop --target "$TGT_URI" --task "$PGSHIFT_TASK" >/dev/null 2>&1 || true
  rc=0; wait $mig || rc=$?
  local c; c=($(curve_stats "$logf.samples"))
  local rss; rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$logf.time")
  echo "$(elapsed "$t_slot" "$t_copy_end")" >"$OUT-copy-seconds"
  result "tool=capture_pgshift_$part batch=$BATCH scale=$SCALE rate=$RATE copy_rate=$COPY_RATE copy_s=$(elapsed "$t0" "$t_copy_end") writes_s=$(elapsed "$t_slot" "$t_copy_end") txns=$hist retained_mb_max=${c[0]} retained_mb_p50=${c[1]} samples=${c[2]} rows_s=$([ -n "$t_rows" ] && elapsed "$t_copy_end" "$t_rows" || echo nan) not_delayed_s=$([ -n "$t_state" ] && elapsed "$t_copy_end" "$t_state" || echo nan) max_rss_mb=$rss migrate_exit=$rc verify=$(verify) commit=$(cat "$PGB_ROOT/pgshift-$ref/bench-commit.txt") samples_file=$(basename "$logf.samples")"
  psql_src -c "SELECT pg_drop_replication_slot('$SLOT')" -c "DROP PUBLICATION IF EXISTS pgshift_$PGSHIFT_TASK" >/dev/null 2>&1 || true
}

native_part() {
  local seconds t0 t1 lsn hist dir="$PGB_WORK/cap-dump"
  seconds=${NATIVE_SECONDS:-$(cat "$OUT-copy-seconds" 2>/dev/null || echo 120)}
  log "=== native: the same writes for ${seconds}s, then replayed"
  prepare_source; reset_target_db
  rm -rf "$dir"; pg_dump -h "$PGB_HOST" -p "$SRC_PORT" -Fd -j 2 -Z 0 -f "$dir" "$PGB_DB"; pg_restore -h "$PGB_HOST" -p "$TGT_PORT" -j 2 -d "$PGB_DB" "$dir"; rm -rf "$dir"
  # No VACUUM: like a copy of its own (and like PgShift's), the restored tables have their hint bits still to set.
  psql_tgt -c "CHECKPOINT"
  psql_src -c "CREATE PUBLICATION $PUB FOR ALL TABLES"
  psql_tgt -c "CREATE SUBSCRIPTION $SUB CONNECTION '$SRC_CONNINFO' PUBLICATION $PUB WITH (copy_data = false, enabled = false)"
  psql_src -c "SELECT pg_create_logical_replication_slot('$SLOT_CEILING', 'pgoutput')" >/dev/null
  start_sampler "$OUT-native.samples" "$SUB"
  pgbench -n -c "$CLIENTS" -j "$CLIENTS" -R "$RATE" -T "${seconds%.*}" -h "$PGB_HOST" -p "$SRC_PORT" "$PGB_DB" >"$OUT-native.pgbench.log" 2>&1
  hist=$(psql_src -c "SELECT count(*) FROM pgbench_history"); lsn=$(psql_src -c "SELECT pg_current_wal_lsn()")
  t0=$(now_s)
  psql_tgt -c "ALTER SUBSCRIPTION $SUB ENABLE"
  until history_equal "$hist"; do sleep 0.05; done
  t1=$(now_s); stop_sampler
  local c; c=($(curve_stats "$OUT-native.samples"))
  result "tool=capture_native batch=$BATCH scale=$SCALE rate=$RATE writes_s=$seconds txns=$hist retained_mb_max=${c[0]} replay_s=$(elapsed "$t0" "$t1") verify=$(verify)"
  local r0 r1 rc=0
  r0=$(now_s)
  pg_recvlogical -h "$PGB_HOST" -p "$SRC_PORT" -d "$PGB_DB" --slot "$SLOT_CEILING" --start --endpos "$lsn" --no-loop -F 0 \
    -o proto_version=1 -o "publication_names=$PUB" -f /dev/null 2>"$OUT-ceiling.log" || rc=$?
  r1=$(now_s)
  result "tool=capture_ceiling_pgoutput batch=$BATCH scale=$SCALE txns=$hist seconds=$(elapsed "$r0" "$r1") exit=$rc"
  psql_tgt -c "DROP SUBSCRIPTION $SUB" >/dev/null
  psql_src -c "SELECT pg_drop_replication_slot('$SLOT_CEILING')" -c "DROP PUBLICATION $PUB" >/dev/null
}

memory_part() {
  local dll=$PGB_ROOT/pgshift-$AFTER_REF/pgshift.dll logf=$OUT-memory pid hwm staged rc
  log "=== memory: a $BULK_ROWS-row transaction staged during the copy"
  prepare_source; reset_target_db
  "$TIME_BIN" -v -o "$logf.time" dotnet "$dll" migrate --source "$SRC_URI" --target "$TGT_URI" --task "$PGSHIFT_TASK" --jobs 2 \
    --max-copy-rate "$COPY_RATE" --verbose >"$logf.log" 2>&1 &
  local mig=$!
  until grep -q "Staging the changes" "$logf.log"; do kill -0 $mig 2>/dev/null || { log "migrate exited: $(tail -n 5 "$logf.log")"; return 1; }; sleep 0.2; done
  psql_src -c "INSERT INTO cap_bulk SELECT g, g FROM generate_series(1, $BULK_ROWS) g"
  until [ "$(state staged_changes)" -ge "$BULK_ROWS" ] 2>/dev/null; do kill -0 $mig 2>/dev/null || break; sleep 0.5; done
  staged=$(state staged_changes)
  pid=$(pgrep -P $mig | head -n 1)
  hwm=$(awk '/^VmHWM/ {print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || echo nan)
  local t0; t0=$(now_s)
  until [ "$(psql_tgt -c "SELECT count(*) FROM cap_bulk" 2>/dev/null || echo 0)" = "$BULK_ROWS" ]; do kill -0 $mig 2>/dev/null || break; sleep 0.5; done
  local applied_s; applied_s=$(elapsed "$t0" "$(now_s)")
  local applied_in; applied_in=$(state phase)
  hwm_applied=$(awk '/^VmHWM/ {print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || echo nan)
  # The bulk table is copied at once, so its rows may be applied while the other tables still copy: the task is
  # stopped once its copy is over and the stream runs (the peak then covers the copy and the replay too).
  local deadline=$(( $(date +%s) + TIMEOUT ))
  until [ "$(state phase)" = stream ] && [ "$(not_delayed)" = t ]; do
    [ "$(date +%s)" -lt "$deadline" ] && kill -0 $mig 2>/dev/null || break; sleep 0.5
  done
  local hwm_end; hwm_end=$(awk '/^VmHWM/ {print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || echo nan)
  dotnet "$dll" stop --target "$TGT_URI" --task "$PGSHIFT_TASK" >/dev/null 2>&1 || true
  rc=0; wait $mig || rc=$?
  result "tool=capture_memory batch=$BATCH rows=$BULK_ROWS staged=$staged vmhwm_staged_mb=$hwm vmhwm_after_apply_mb=$hwm_applied applied_in_phase=$applied_in vmhwm_streaming_mb=$hwm_end time_max_rss_mb=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$logf.time") staged_to_applied_s=$applied_s migrate_exit=$rc verify=$(verify) commit=$(cat "$PGB_ROOT/pgshift-$AFTER_REF/bench-commit.txt")"
  psql_src -c "SELECT pg_drop_replication_slot('$SLOT')" -c "DROP PUBLICATION IF EXISTS pgshift_$PGSHIFT_TASK" >/dev/null 2>&1 || true
}

# startup: the start of a resumed stream, for the builds of BEFORE_REF and AFTER_REF: a task streaming (no pgbench),
# killed with SIGKILL; one row inserted on the source; pgshift migrate started again and timed until the target
# holds the row (process start, resume checks, the slot's first change applied). STARTUP_RUNS (3) each.
startup_part() {
  local ref dll logf mig t0 t1 i
  for ref in "$BEFORE_REF" "$AFTER_REF"; do
    dll=$PGB_ROOT/pgshift-$ref/pgshift.dll; logf=$OUT-startup-$ref
    prepare_source; reset_target_db
    dotnet "$dll" migrate --source "$SRC_URI" --target "$TGT_URI" --task "$PGSHIFT_TASK" --jobs 2 >"$logf.log" 2>&1 &
    mig=$!
    until [ "$(state phase)" = stream ] && [ "$(state "stream_heartbeat > now() - interval '2 seconds'")" = t ]; do sleep 0.2; done
    for i in $(seq 1 "${STARTUP_RUNS:-3}"); do
      sleep 1
      kill -9 "$(pgrep -P $mig | head -n 1)" $mig 2>/dev/null || true; wait $mig 2>/dev/null || true
      psql_src -c "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($i, 1, $i, $i, now())"
      sleep 1
      t0=$(now_s)
      dotnet "$dll" migrate --source "$SRC_URI" --target "$TGT_URI" --task "$PGSHIFT_TASK" --jobs 2 --verbose >>"$logf.log" 2>&1 &
      mig=$!
      until [ "$(psql_tgt -c "SELECT count(*) FROM pgbench_history" 2>/dev/null)" = "$i" ]; do sleep 0.02; done
      t1=$(now_s)
      result "tool=capture_startup batch=$BATCH ref=$ref run=$i start_to_first_change_s=$(elapsed "$t0" "$t1") commit=$(cat "$PGB_ROOT/pgshift-$ref/bench-commit.txt")"
    done
    dotnet "$dll" stop --target "$TGT_URI" --task "$PGSHIFT_TASK" >/dev/null 2>&1 || true; wait $mig || true
    psql_src -c "SELECT pg_drop_replication_slot('$SLOT')" -c "DROP PUBLICATION IF EXISTS pgshift_$PGSHIFT_TASK" >/dev/null 2>&1 || true
  done
}

replay_part() {
  local dll=$PGB_ROOT/pgshift-$AFTER_REF/pgshift.dll logf=$OUT-replay mig pgb ref i t
  log "=== replay: one staged backlog, applied by $BEFORE_REF and $AFTER_REF"
  prepare_source; reset_target_db
  dotnet "$dll" migrate --source "$SRC_URI" --target "$TGT_URI" --task "$PGSHIFT_TASK" --jobs 2 --max-copy-rate "$COPY_RATE" --verbose >"$logf.log" 2>&1 &
  mig=$!
  until [ "$(psql_src -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = 1 ]; do sleep 0.2; done
  pgbench -n -c "$CLIENTS" -j "$CLIENTS" -R "$RATE" -T 100000 -h "$PGB_HOST" -p "$SRC_PORT" "$PGB_DB" >"$logf.pgbench.log" 2>&1 &
  pgb=$!
  # pgbench stops when the copy ends: post-data gives staging time to take every transaction, so that each replay of
  # the template finds them all staged (the slot's later changes would be acknowledged by the first replay's stream).
  until [ "$(state phase)" = post-data ] || [ "$(state phase)" = stream ]; do kill -0 $mig 2>/dev/null || { log "migrate exited: $(tail -n 5 "$logf.log")"; kill -TERM $pgb; return 1; }; sleep 0.1; done
  kill -TERM $pgb; wait $pgb 2>/dev/null || true
  until grep -q "Applying .* staged" "$logf.log"; do kill -0 $mig 2>/dev/null || { log "migrate exited: $(tail -n 5 "$logf.log")"; return 1; }; sleep 0.02; done
  kill -9 $mig; wait $mig 2>/dev/null || true
  local staged txns; staged=$(state staged_changes); txns=$(psql_src -c "SELECT count(*) FROM pgbench_history")
  psql -X -q -h "$PGB_HOST" -p "$TGT_PORT" -d postgres -c "DROP DATABASE IF EXISTS ${PGB_DB}_staged" -c "CREATE DATABASE ${PGB_DB}_staged TEMPLATE $PGB_DB"
  for i in $(seq 1 "$REPLAY_RUNS"); do
    for ref in "$BEFORE_REF" "$AFTER_REF"; do
      psql -X -q -h "$PGB_HOST" -p "$TGT_PORT" -d postgres -c "DROP DATABASE $PGB_DB WITH (FORCE)" -c "CREATE DATABASE $PGB_DB TEMPLATE ${PGB_DB}_staged" -c "CHECKPOINT"
      dotnet "$PGB_ROOT/pgshift-$ref/pgshift.dll" migrate --source "$SRC_URI" --target "$TGT_URI" --task "$PGSHIFT_TASK" --jobs 2 --verbose >"$logf-$ref-$i.log" 2>&1 &
      mig=$!
      until grep -q "Streaming changes" "$logf-$ref-$i.log"; do kill -0 $mig 2>/dev/null || break; sleep 0.05; done
      for t in $(seq 1 600); do history_equal "$txns" && break; kill -0 $mig 2>/dev/null || break; sleep 0.1; done
      dotnet "$PGB_ROOT/pgshift-$ref/pgshift.dll" stop --target "$TGT_URI" --task "$PGSHIFT_TASK" >/dev/null 2>&1 || true
      wait $mig || true
      t=$(sed -n 's/.*Applied the changes staged during the copy ([0-9]* in \([0-9.]*\)s.*/\1/p' "$logf-$ref-$i.log")
      result "tool=capture_replay batch=$BATCH ref=$ref run=$i staged_changes=$staged txns=$txns replay_s=${t:-nan} load1=$(cut -d' ' -f1 /proc/loadavg) verify=$(verify) commit=$(cat "$PGB_ROOT/pgshift-$ref/bench-commit.txt")"
    done
  done
  psql -X -q -h "$PGB_HOST" -p "$TGT_PORT" -d postgres -c "DROP DATABASE ${PGB_DB}_staged"
  psql_src -c "SELECT pg_drop_replication_slot('$SLOT')" -c "DROP PUBLICATION IF EXISTS pgshift_$PGSHIFT_TASK" >/dev/null 2>&1 || true
}

for p in "${PARTS[@]}"; do
  case $p in before|after) pgshift_part "$p" ;; native) native_part ;; memory) memory_part ;; startup) startup_part ;; replay) replay_part ;; *) echo "unknown part $p" >&2; exit 2 ;; esac
done
log "RESULT lines: grep batch=$BATCH $PGB_RESULTS/results.txt"
