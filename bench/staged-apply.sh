#!/usr/bin/env bash
# Set-based apply of staged changes on the target, measured in SQL alone: how long server-side statements over a
# relational staging table take to apply TXNS pgbench transactions (3 updates + 1 insert each), to compare with the
# client-side replay that PgShift runs (`Applied the changes staged during the copy (N in X s, Y s of them applying)`
# in bench/capture.sh's logs). Runs in database capset on the target cluster of pg-up.sh.
#   bench/staged-apply.sh [TXNS]      (default 50000)
# The staged changes are generated as the stream would carry them: each transaction's new row values (a row update
# carries the whole new row), in commit order. The server-side apply: per table, the last value of each key
# (DISTINCT ON (key) ... ORDER BY key, seq DESC) in one UPDATE ... FROM; the inserts in one INSERT ... SELECT ...
# ORDER BY seq. Tables made by pgbench -i without its VACUUM, so hint bits are still to set, as after a copy.
PGB_DB=capset
source "$(dirname "$0")/lib.sh"
TXNS=${1:-50000}
psql -X -q -h "$PGB_HOST" -p "$TGT_PORT" -d postgres -c "DROP DATABASE IF EXISTS capset WITH (FORCE)" -c "CREATE DATABASE capset"
pgbench -i -q -I dtgp -s 10 -h "$PGB_HOST" -p "$TGT_PORT" capset >/dev/null 2>&1
psql_tgt -c "CHECKPOINT" -c "CREATE UNLOGGED TABLE st AS
  SELECT g AS seq, 1 + (hashint4(g) & 2147483647) % 1000000 AS aid, 1 + (hashint4(g + 7) & 2147483647) % 100 AS tid,
         1 + (hashint4(g + 13) & 2147483647) % 10 AS bid, (hashint4(g + 29) % 5000) AS delta FROM generate_series(1, $TXNS) g" \
  -c "CREATE TABLE st2 AS SELECT seq, aid, tid, bid, delta,
        sum(delta) OVER (PARTITION BY aid ORDER BY seq) AS abal, sum(delta) OVER (PARTITION BY tid ORDER BY seq) AS tbal,
        sum(delta) OVER (PARTITION BY bid ORDER BY seq) AS bbal FROM st" -c "ANALYZE st2" -c "CHECKPOINT"
t0=$(now_s)
psql_tgt -c "BEGIN" \
  -c "UPDATE pgbench_accounts a SET abalance = s.abal FROM (SELECT DISTINCT ON (aid) aid, abal FROM st2 ORDER BY aid, seq DESC) s WHERE a.aid = s.aid" \
  -c "UPDATE pgbench_tellers t SET tbalance = s.tbal FROM (SELECT DISTINCT ON (tid) tid, tbal FROM st2 ORDER BY tid, seq DESC) s WHERE t.tid = s.tid" \
  -c "UPDATE pgbench_branches b SET bbalance = s.bbal FROM (SELECT DISTINCT ON (bid) bid, bbal FROM st2 ORDER BY bid, seq DESC) s WHERE b.bid = s.bid" \
  -c "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) SELECT tid, bid, aid, delta, now() FROM st2 ORDER BY seq" \
  -c "COMMIT"
t1=$(now_s)
result "tool=staged_apply_server_side txns=$TXNS changes=$((TXNS * 4)) seconds=$(elapsed "$t0" "$t1") changes_per_s=$(div $((TXNS * 4)) "$(elapsed "$t0" "$t1")" | cut -d. -f1)"
psql -X -q -h "$PGB_HOST" -p "$TGT_PORT" -d postgres -c "DROP DATABASE capset WITH (FORCE)"
