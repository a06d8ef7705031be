#!/usr/bin/env bash
# The full-copy benchmark: PgShift against the tools users would pick instead, on the same data.
#   bench/full-copy.sh SCALE [METHOD...]      (default methods: pgshift pg_dump pgcopydb copy_binary)
# Starts the two PostgreSQL 15 clusters (pg-up.sh) if they are not running, loads pgbench data at SCALE
# plus the wide TOASTed table (load.sh) unless the source already holds that scale, builds pgshift
# (build-pgshift.sh), then copies database $PGB_DB from the source to an empty target database with
# each method, RUNS times, and prints a markdown summary (summarize.py).
# Methods:
#   pgshift       pgshift migrate --types "$PGSHIFT_TYPES" --jobs JOBS: schema + data + post-data
#   pg_dump       pg_dump -Fd -j JOBS (default compression) then pg_restore -j JOBS
#   pg_dump_z0    same with pg_dump -Z 0 (no compression)
#   pgcopydb      pgcopydb clone --table-jobs JOBS --index-jobs JOBS
#   copy_binary   data only: COPY (FORMAT binary) TO STDOUT | COPY FROM STDIN per table, JOBS tables
#                 at a time, into the pre-data schema (no indexes, PK, FK); schema time not counted.
#                 The physical limit of the data phase.
# Env: RUNS (2), JOBS (2), PGSHIFT_TYPES (schema,full), PGSHIFT_ARGS (more pgshift options), PGB_RELOAD=1 (reload even when the scale matches), PGSHIFT_BUILD=0 (use the
# pgshift.dll already in $PGSHIFT_OUT, or PGSHIFT_DLL), PGSHIFT_REF (see build-pgshift.sh),
# PGB_DOWN=1 (stop the clusters at the end). Results: $PGB_RESULTS (default /tmp/pgshift-bench/results).
source "$(dirname "$0")/lib.sh"
SCALE=${1:?usage: bench/full-copy.sh SCALE [METHOD...]}
shift
RUNS=${RUNS:-2}
JOBS=${JOBS:-2}
METHODS=("$@"); [ ${#METHODS[@]} -gt 0 ] || METHODS=(pgshift pg_dump pgcopydb copy_binary)
BATCH=${BATCH:-$(date -u +%Y%m%dT%H%M%SZ)}
SAMPLE_INTERVAL=${SAMPLE_INTERVAL:-0.25}
PGSHIFT_TYPES=${PGSHIFT_TYPES:-schema,full}   # what the pgshift method migrates
read -r -a PGSHIFT_EXTRA <<<"${PGSHIFT_ARGS:-}"  # more pgshift options, e.g. "--split-threshold-mb 256"

"$BENCH_DIR/pg-up.sh" >/dev/null
mkdir -p "$PGB_WORK" "$PGB_RESULTS"
[ "$(id -u)" = 0 ] && chown "$PGB_OS_USER" "$PGB_WORK"

loaded_scale=$(psql_src -c "SELECT count(*) FROM pgbench_branches" 2>/dev/null || echo none)
if [ "$loaded_scale" != "$SCALE" ] || [ "${PGB_RELOAD:-0}" = 1 ]; then
  log "loading scale $SCALE (source holds: $loaded_scale)"
  "$BENCH_DIR/load.sh" "$SCALE"
fi

for m in "${METHODS[@]}"; do
  case $m in
    pgshift)
      if [ "${PGSHIFT_BUILD:-1}" = 1 ]; then "$BENCH_DIR/build-pgshift.sh"; fi
      [ -f "$PGSHIFT_DLL" ] || { echo "no $PGSHIFT_DLL: run bench/build-pgshift.sh" >&2; exit 2; }
      ;;
    pgcopydb) command -v "$PGCOPYDB" >/dev/null || { echo "pgcopydb is missing: apt-get install pgcopydb" >&2; exit 2; } ;;
  esac
done
[ -x "$TIME_BIN" ] || { echo "GNU time ($TIME_BIN) is missing: apt-get install time" >&2; exit 2; }
PGSHIFT_COMMIT=$(cat "$PGSHIFT_OUT/bench-commit.txt" 2>/dev/null || echo unknown)

DB_BYTES=$(src_db_bytes)
DB_MB=$(div "$DB_BYTES" 1048576)
log "source $PGB_DB: $DB_MB MB, counting rows"
table_counts src >"$PGB_WORK/src-counts.txt"
ROWS=$(awk '{s+=$2} END{print s}' "$PGB_WORK/src-counts.txt")
psql_src -c "$SQL_INDEXES" >"$PGB_WORK/src-indexes.txt"
psql_src -c "$SQL_CONSTRAINTS" >"$PGB_WORK/src-constraints.txt"
psql_src -c "$SQL_SEQUENCES" >"$PGB_WORK/src-sequences.txt"
SRC_INDEXES=$(wc -l <"$PGB_WORK/src-indexes.txt")
SRC_CONS=$(wc -l <"$PGB_WORK/src-constraints.txt")
log "source rows=$ROWS indexes=$SRC_INDEXES constraints=$SRC_CONS batch=$BATCH"

# Check that the target holds the same rows per table and, unless data-only, the same indexes and
# constraints (by table and definition). Prints "verify=... indexes=n/N constraints=n/N sequences=...".
verify() {
  local method=$1 data_only=${2:-0} status=ok ni nc seq
  table_counts tgt >"$PGB_WORK/tgt-counts.txt"
  if ! diff -q "$PGB_WORK/src-counts.txt" "$PGB_WORK/tgt-counts.txt" >/dev/null; then
    log "VERIFY FAILED ($method): row counts differ (source < > target)"
    diff "$PGB_WORK/src-counts.txt" "$PGB_WORK/tgt-counts.txt" >&2 || true
    status=rows_differ
  fi
  psql_tgt -c "$SQL_INDEXES" >"$PGB_WORK/tgt-indexes.txt"
  psql_tgt -c "$SQL_CONSTRAINTS" >"$PGB_WORK/tgt-constraints.txt"
  psql_tgt -c "$SQL_SEQUENCES" >"$PGB_WORK/tgt-sequences.txt"
  ni=$(wc -l <"$PGB_WORK/tgt-indexes.txt"); nc=$(wc -l <"$PGB_WORK/tgt-constraints.txt")
  if [ "$data_only" = 0 ]; then
    if ! diff -q "$PGB_WORK/src-indexes.txt" "$PGB_WORK/tgt-indexes.txt" >/dev/null ||
       ! diff -q "$PGB_WORK/src-constraints.txt" "$PGB_WORK/tgt-constraints.txt" >/dev/null; then
      log "VERIFY FAILED ($method): indexes $ni/$SRC_INDEXES constraints $nc/$SRC_CONS (source < > target)"
      diff "$PGB_WORK/src-indexes.txt" "$PGB_WORK/tgt-indexes.txt" >&2 || true
      diff "$PGB_WORK/src-constraints.txt" "$PGB_WORK/tgt-constraints.txt" >&2 || true
      [ "$status" = ok ] && status=keys_differ
    fi
  fi
  # Sequence values: informational (pg_dump and pgcopydb copy them; a data-only copy does not).
  if diff -q "$PGB_WORK/src-sequences.txt" "$PGB_WORK/tgt-sequences.txt" >/dev/null; then seq=same; else seq=differ; fi
  echo "verify=$status indexes=$ni/$SRC_INDEXES constraints=$nc/$SRC_CONS sequences=$seq"
}

# Drop replication slots and publications on the source (a run must not inherit an earlier one's, and
# an inactive logical slot holds WAL). Prints what it found, e.g. "slot:pgshift_bench,pub:pgshift_bench".
cleanup_source() {
  local found
  found=$(psql_src -c "SELECT string_agg(x, ',') FROM (
            SELECT 'slot:' || slot_name AS x FROM pg_replication_slots
            UNION ALL SELECT 'pub:' || pubname FROM pg_publication
            UNION ALL SELECT 'schema:' || nspname FROM pg_namespace WHERE nspname = 'pgshift') s")
  psql_src -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active" >/dev/null
  for p in $(psql_src -c "SELECT quote_ident(pubname) FROM pg_publication"); do psql_src -c "DROP PUBLICATION $p"; done
  echo "${found:-none}"
}

# Sample what the target's client backends are running, every SAMPLE_INTERVAL s, into $1: one line per
# sample ("epoch|-|-") and one per active statement ("epoch|pid|statement, first 120 characters").
sample_target() {
  local out=$1
  while :; do
    psql -X -qAt -F'|' -h "$PGB_HOST" -p "$TGT_PORT" -d postgres -c "
      SELECT extract(epoch FROM now()), '-', '-'
      UNION ALL
      SELECT extract(epoch FROM now()), pid::text, left(regexp_replace(query, '\s+', ' ', 'g'), 120)
      FROM pg_stat_activity WHERE datname = '$PGB_DB' AND state = 'active' AND backend_type = 'client backend'" >>"$out" 2>/dev/null || true
    sleep "$SAMPLE_INTERVAL"
  done
}
# From the samples and the start/end epochs: seconds before the first COPY (schema), from the first to
# the last COPY (data), after the last COPY (post-data), and seconds with ANALYZE/VACUUM running.
phases() {
  awk -F'|' -v t0="$2" -v t2="$3" -v iv="$SAMPLE_INTERVAL" '
    $3 ~ /^ *[Cc][Oo][Pp][Yy] / { if (first == "") first = $1; last = $1 }
    tolower($3) ~ /^ *(analyze|vacuum)/ { if (!($1 in m)) { m[$1] = 1; maint += iv } }
    END { if (first == "") { printf "pre_s=n/a copy_s=n/a post_s=n/a maint_s=%.1f", maint; exit }
          printf "pre_s=%.1f copy_s=%.1f post_s=%.1f maint_s=%.1f", first - t0, last - first, t2 - last, maint }' "$1"
}
# The statements that the target spent the most sampled time on (seconds = samples x interval), and the
# timeline: per second since the start, how many backends ran COPY, CREATE/ALTER, ANALYZE/VACUUM, other.
trace_report() {
  local samples=$1 t0=$2
  echo "# statements by sampled time on the target (s, statement)"
  awk -F'|' -v iv="$SAMPLE_INTERVAL" '$2 != "-" { s = $3; sub(/ (FROM STDIN|TO STDOUT).*/, " ...", s); t[s] += iv }
    END { for (s in t) printf "%6.2f  %s\n", t[s], s }' "$samples" | sort -rn | head -n 25
  echo "# timeline: second since start, then average active backends: copy ddl maint other"
  awk -F'|' -v t0="$t0" -v iv="$SAMPLE_INTERVAL" '
    { sec = int($1 - t0); if ($2 == "-") { n[sec]++; next }
      q = tolower($3); sub(/^ +/, "", q)
      if (q ~ /^copy /) c[sec]++; else if (q ~ /^(create|alter) /) d[sec]++; else if (q ~ /^(analyze|vacuum)/) a[sec]++; else o[sec]++
      if (sec > max) max = sec }
    END { for (s = 0; s <= max; s++) if (n[s]) printf "%4d  %.1f %.1f %.1f %.1f\n", s, c[s]/n[s], d[s]/n[s], a[s]/n[s], o[s]/n[s] }' "$samples"
}

peak_rss_mb() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }

copy_one_table() {  # $1 = qualified table name; pipes binary COPY from source to target
  set -o pipefail
  psql -X -qAt -v ON_ERROR_STOP=1 -h "$PGB_HOST" -p "$SRC_PORT" -d "$PGB_DB" -c "COPY $1 TO STDOUT (FORMAT binary)" |
    psql -X -qAt -v ON_ERROR_STOP=1 -h "$PGB_HOST" -p "$TGT_PORT" -d "$PGB_DB" -c "COPY $1 FROM STDIN (FORMAT binary)"
}

run_method() {
  local method=$1 run=$2 t0 t1 t2 extra="" status="" data_only=0 logf rc=0 leftovers sampler samples
  logf="$PGB_RESULTS/full-copy-$method-s$SCALE-$BATCH-r$run.log"
  reset_target_db
  cleanup_source >/dev/null
  psql_src -c "CHECKPOINT"
  # The 1-minute load average before the run: other work on the machine makes a run slower.
  local load_before; load_before=$(cut -d' ' -f1 /proc/loadavg)
  samples="$PGB_WORK/samples-$method.txt"; : >"$samples"
  sample_target "$samples" & sampler=$!
  case $method in
    pgshift)
      local timef="$PGB_WORK/pgshift-time.txt"
      t0=$(now_s)
      "$TIME_BIN" -v -o "$timef" dotnet "$PGSHIFT_DLL" migrate --types "$PGSHIFT_TYPES" --jobs "$JOBS" --task "$PGSHIFT_TASK" \
        --source "$SRC_URI" --target "$TGT_URI" "${PGSHIFT_EXTRA[@]}" >"$logf" 2>&1 || rc=$?
      t2=$(now_s)
      leftovers=$(cleanup_source)
      # PgShift's own account of its data phase ("Data of task T: ... in 4.0 s (97.1 MB/s).").
      local own_data_s
      own_data_s=$(grep -oP '^Data of task .* in \K[0-9.]+(?= s)' "$logf" | tail -n 1 || true)
      extra="exit=$rc own_data_s=${own_data_s:-n/a} peak_rss_mb=$(peak_rss_mb "$timef") cpu_user_s=$(awk -F': ' '/User time/{print $2}' "$timef") commit=$PGSHIFT_COMMIT args=$(printf '%s' "${PGSHIFT_ARGS:-none}" | tr ' ' ',') source_leftovers=$leftovers"
      if [ "$rc" != 0 ]; then
        log "pgshift exited $rc: $(grep -m1 -i 'error' "$logf" || tail -n 1 "$logf")"
        if grep -q 'not built yet' "$logf"; then status="verify=not_built"; fi
      fi
      log "pgshift said: $(tail -n 1 "$logf")" ;;
    pg_dump|pg_dump_z0)
      local dir="$PGB_WORK/dump" z=() r1=0 r2=0
      [ "$method" = pg_dump_z0 ] && z=(-Z 0)
      rm -rf "$dir"
      t0=$(now_s)
      "$TIME_BIN" -v -o "$PGB_WORK/dump-time.txt" pg_dump -h "$PGB_HOST" -p "$SRC_PORT" -Fd -j "$JOBS" "${z[@]}" -f "$dir" "$PGB_DB" >"$logf" 2>&1 || r1=$?
      t1=$(now_s)
      "$TIME_BIN" -v -o "$PGB_WORK/restore-time.txt" pg_restore -h "$PGB_HOST" -p "$TGT_PORT" -j "$JOBS" -d "$PGB_DB" "$dir" >>"$logf" 2>&1 || r2=$?
      t2=$(now_s)
      rc=$((r1 + r2))
      extra="exit=$rc dump_seconds=$(elapsed "$t0" "$t1") restore_seconds=$(elapsed "$t1" "$t2") dump_mb=$(div "$(du -sb "$dir" | cut -f1)" 1048576) peak_rss_mb=$(peak_rss_mb "$PGB_WORK/dump-time.txt")/$(peak_rss_mb "$PGB_WORK/restore-time.txt")"
      rm -rf "$dir" ;;
    pgcopydb)
      local dir="$PGB_WORK/pgcopydb"
      rm -rf "$dir"
      t0=$(now_s)
      PGCOPYDB_SOURCE_PGURI="$SRC_URI" PGCOPYDB_TARGET_PGURI="$TGT_URI" \
        "$TIME_BIN" -v -o "$PGB_WORK/pgcopydb-time.txt" "$PGCOPYDB" clone --table-jobs "$JOBS" --index-jobs "$JOBS" --dir "$dir" >"$logf" 2>&1 || rc=$?
      t2=$(now_s)
      extra="exit=$rc peak_rss_mb=$(peak_rss_mb "$PGB_WORK/pgcopydb-time.txt")"
      rm -rf "$dir" ;;
    copy_binary)
      data_only=1
      local ts tables pids=() rcdir="$PGB_WORK/rc" i=0
      ts=$(now_s)
      pg_dump -h "$PGB_HOST" -p "$SRC_PORT" --section=pre-data "$PGB_DB" | psql_tgt >"$logf" 2>&1
      extra="schema_seconds=$(elapsed "$ts" "$(now_s)")"
      tables=$(src_tables "pg_table_size(relid) DESC")
      rm -rf "$rcdir"; mkdir -p "$rcdir"
      t0=$(now_s)
      for t in $tables; do
        while [ "$(jobs -rp | wc -l)" -ge "$((JOBS + 1))" ]; do wait -n || true; done   # +1: the sampler
        i=$((i + 1))
        ( copy_one_table "$t" >>"$logf" 2>&1; echo $? >"$rcdir/$i" ) &
        pids+=($!)
      done
      wait "${pids[@]}" || true
      t2=$(now_s)
      if grep -qv '^0$' "$rcdir"/*; then log "copy_binary: a table copy failed, see $logf"; rc=1; fi
      extra="exit=$rc $extra" ;;
    *) kill "$sampler"; echo "unknown method $method" >&2; exit 2 ;;
  esac
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  if [ -z "$status" ]; then status=$(verify "$method" "$data_only"); fi
  local secs tgt_bytes
  secs=$(elapsed "$t0" "$t2")
  tgt_bytes=$(psql_tgt -c "SELECT pg_database_size(current_database())")
  trace_report "$samples" "$t0" >"${logf%.log}.trace.txt"
  result "tool=$method scale=$SCALE run=$run batch=$BATCH seconds=$secs mb_per_s=$(div "$DB_MB" "$secs") rows_per_s=$(div "$ROWS" "$secs" | cut -d. -f1) db_mb=$DB_MB rows=$ROWS target_db_mb=$(div "$tgt_bytes" 1048576) jobs=$JOBS load_before=$load_before load_after=$(cut -d' ' -f1 /proc/loadavg) $status $(phases "$samples" "$t0" "$t2") $extra log=$logf"
}

for run in $(seq 1 "$RUNS"); do
  for m in "${METHODS[@]}"; do
    log "=== $m run $run"
    run_method "$m" "$run"
  done
done

python3 "$BENCH_DIR/summarize.py" --batch "$BATCH" "$PGB_RESULTS/results.txt" | tee "$PGB_RESULTS/summary-s$SCALE-$BATCH.md"
log "results: $PGB_RESULTS/results.txt, summary: $PGB_RESULTS/summary-s$SCALE-$BATCH.md, tool logs: $PGB_RESULTS/full-copy-*-$BATCH-*.log"
if [ "${PGB_DOWN:-0}" = 1 ]; then "$BENCH_DIR/pg-down.sh"; fi
