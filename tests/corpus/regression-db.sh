#!/usr/bin/env bash
# regression-db.sh - PostgreSQL 15's regression database (what `make installcheck` leaves behind)
# as a schema corpus for PgShift, built from Debian's postgresql-15 source package.
#
# Usage (as root on Debian; see tests/corpus/README.md):
#   tests/corpus/regression-db.sh build    from nothing: deb-src, apt-get source, build deps, configure,
#                                          build src/test/regress, throwaway server, pg_regress
#                                          (installcheck), snapshot of the cluster; leaves it running
#   tests/corpus/regression-db.sh start    (re)create the source server from the cached snapshot
#                                          (runs `build` first when there is no snapshot)
#   tests/corpus/regression-db.sh targets  (re)create empty target servers: PostgreSQL 15 (Debian) and,
#                                          when its binaries are available, PostgreSQL 17 (npm)
#   tests/corpus/regression-db.sh ensure   reuse the servers when all three run, else start + targets
#                                          (what scripts/test.sh runs)
#   tests/corpus/regression-db.sh stop     fast shutdown of all servers this script started
#   tests/corpus/regression-db.sh env      print the connection strings (Npgsql style)
#   tests/corpus/regression-db.sh status   show which servers run
#
# Environment:
#   PGSHIFT_CORPUS_DIR     cache, data directories and logs (default /var/cache/pgshift-corpus)
#   PGSHIFT_CORPUS_PORT    port of the source server (default 26950)
#   PGSHIFT_CORPUS_T15_PORT / PGSHIFT_CORPUS_T17_PORT  target ports (default 26951 / 26952)
#   PGSHIFT_CORPUS_PG17_BIN  bin directory of a PostgreSQL 17 (default: the npm package unpacked by
#                          tests/servers/pg-servers.sh under /var/tmp/pgshift-servers)
#   PGSHIFT_CORPUS_TIMEOUT seconds allowed for each step (default 1800)
#
# Progress and timings go to stderr, each step's output to $PGSHIFT_CORPUS_DIR/logs/<step>.log.
# Ports to avoid: 25412/25415/25417/25425 (tests/servers) and 28000-31900.

set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin          # Debian's server runs the regression
CORPUS_DIR=${PGSHIFT_CORPUS_DIR:-/var/cache/pgshift-corpus}
SRC_PORT=${PGSHIFT_CORPUS_PORT:-26950}
T15_PORT=${PGSHIFT_CORPUS_T15_PORT:-26951}
T17_PORT=${PGSHIFT_CORPUS_T17_PORT:-26952}
PG17_BIN=${PGSHIFT_CORPUS_PG17_BIN:-/var/tmp/pgshift-servers/linux-x64-17.10.0-beta.17/native/bin}
STEP_TIMEOUT=${PGSHIFT_CORPUS_TIMEOUT:-1800}
RUN_USER=postgres
JOBS=2                                            # the CI machine has two cores

SRC_DIR=$CORPUS_DIR/src          # apt-get source unpacks here
LOG_DIR=$CORPUS_DIR/logs
DATA_DIR=$CORPUS_DIR/data        # live data directories (src15, t15, t17)
SNAPSHOT=$CORPUS_DIR/snapshot/src15   # stopped cluster right after the regression run
ENV_FILE=$CORPUS_DIR/servers.env

log() { printf 'regression-db: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for p in "$SRC_PORT" "$T15_PORT" "$T17_PORT"; do
  [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -ge 1024 ] && [ "$p" -lt 32768 ] || die "port $p must be 1024-32767"
  case "$p" in 25412|25415|25417|25425) die "port $p belongs to tests/servers/pg-servers.sh" ;; esac
  if [ "$p" -ge 28000 ] && [ "$p" -le 31900 ]; then die "port $p is in the reserved range 28000-31900"; fi
done

# step NAME CMD... : run CMD with a time limit, output to logs/NAME.log, print the duration
step() {
  local name=$1 t0=$SECONDS rc=0; shift
  mkdir -p "$LOG_DIR"
  log "step $name ..."
  # timeout runs programs, not functions: run the step in a child bash that inherits them all.
  timeout "$STEP_TIMEOUT" bash -c 'set -euo pipefail; "$@"' step "$@" >"$LOG_DIR/$name.log" 2>&1 </dev/null || rc=$?
  log "step $name: $((SECONDS - t0)) s (exit $rc, log $LOG_DIR/$name.log)"
  if [ "$rc" -ne 0 ]; then tail -n 20 "$LOG_DIR/$name.log" >&2; return "$rc"; fi
}

as_user() { (cd / && runuser -u "$RUN_USER" -- "$@"); }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
conn() { printf 'Host=127.0.0.1;Port=%s;Username=postgres;Database=%s\n' "$1" "$2"; }
psql_at() { local port=$1; shift; "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }

# ---------------------------------------------------------------- build steps

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  # No main cluster on 5432 when postgresql-15 gets installed here.
  mkdir -p /etc/postgresql-common/createcluster.d
  printf 'create_main_cluster = false\n' >/etc/postgresql-common/createcluster.d/50-pgshift-no-main-cluster.conf
  # --no-upgrade: never upgrade what is installed (another user's servers may run from it).
  apt-get install -y -q --no-install-recommends --no-upgrade "$@"
}

# A deb-src entry for the same mirror(s) as the existing deb entries.
add_deb_src() {
  local f=/etc/apt/sources.list.d/pgshift-corpus-src.sources
  if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "a deb-src entry exists already"; return 0
  fi
  : >"$f.tmp"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then        # deb822 (bookworm and later)
    sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >>"$f.tmp"
  fi
  if [ -f /etc/apt/sources.list ]; then                         # one-line format
    sed -nE 's/^deb (.*(debian|ubuntu).*)$/\1/p' /etc/apt/sources.list | while read -r line; do
      set -- $line
      printf '\nTypes: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n' "$1" "$2" "${*:3}" >>"$f.tmp"
    done
  fi
  [ -s "$f.tmp" ] || { rm -f "$f.tmp"; echo "no Debian apt source found" >&2; return 1; }
  mv "$f.tmp" "$f"
  cat "$f"
}

# The newest version first; a mirror may lack one version's source (bookworm-security did: 404),
# so fall back to the next. Any 15.x serves: regress.so only needs the same major (ABI) as the server.
fetch_source() {
  local v ok=0
  rm -rf "$SRC_DIR.tmp" && mkdir -p "$SRC_DIR.tmp"
  for v in $(apt-cache showsrc "postgresql-$PG_MAJOR" | sed -n 's/^Version: //p' | sort -rV | uniq); do
    echo "== apt-get source postgresql-$PG_MAJOR=$v"
    if (cd "$SRC_DIR.tmp" && apt-get source -q "postgresql-$PG_MAJOR=$v"); then ok=1; break; fi
    rm -rf "${SRC_DIR:?}.tmp"/* 
  done
  [ "$ok" = 1 ] || return 1
  rm -rf "$SRC_DIR" && mv "$SRC_DIR.tmp" "$SRC_DIR"
}

src_tree() { find "$SRC_DIR" -mindepth 1 -maxdepth 1 -type d -name "postgresql-$PG_MAJOR-*" 2>/dev/null | head -n1; }

# Only what src/test/regress needs: pg_regress, regress.so, refint.so, autoinc.so.
# No readline, zlib or ICU: the server that runs the tests is Debian's own.
configure_tree() {
  local t; t=$(src_tree)
  cd "$t" && ./configure --prefix="/usr/lib/postgresql/$PG_MAJOR" --without-readline --without-zlib --without-icu
}
build_regress() {
  local t; t=$(src_tree)
  make -C "$t/src/test/regress" -j"$JOBS" all
}

# ---------------------------------------------------------------- servers

# init_server NAME BINDIR PORT : fresh data directory
init_server() {
  local name=$1 bindir=$2 port=$3 d=$DATA_DIR/$1
  stop_server "$name"
  port_in_use "$port" && die "port $port on 127.0.0.1 is in use"
  rm -rf "$d" && mkdir -p "$d" && chown "$RUN_USER": "$d" && chmod 700 "$d"
  as_user "$bindir/initdb" -D "$d" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  configure_server "$name" "$bindir" "$port"
}

configure_server() {
  local name=$1 bindir=$2 port=$3 d=$DATA_DIR/$1
  sed -i '/^# ---- regression-db.sh/,$d' "$d/postgresql.conf"
  cat >>"$d/postgresql.conf" <<EOF
# ---- regression-db.sh ----
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$d'
max_connections = 100
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  printf 'BINDIR=%s\nPORT=%s\n' "$bindir" "$port" >"$d/regression-db.env"
  chown "$RUN_USER": "$d/postgresql.conf" "$d/regression-db.env"
}

start_server() {
  local name=$1 d=$DATA_DIR/$1 bindir
  bindir=$(sed -n 's/^BINDIR=//p' "$d/regression-db.env")
  touch "$LOG_DIR/server-$name.log" && chown "$RUN_USER": "$LOG_DIR/server-$name.log"
  as_user "$bindir/pg_ctl" -D "$d" -l "$LOG_DIR/server-$name.log" -w -t 120 start >/dev/null \
    || { tail -n 20 "$LOG_DIR/server-$name.log" >&2; die "server $name did not start"; }
}

stop_server() {
  local name=$1 d=$DATA_DIR/$1 bindir
  [ -f "$d/postmaster.pid" ] && [ -f "$d/regression-db.env" ] || return 0
  bindir=$(sed -n 's/^BINDIR=//p' "$d/regression-db.env")
  as_user "$bindir/pg_ctl" -D "$d" -m fast -w -t 60 status >/dev/null 2>&1 || return 0
  as_user "$bindir/pg_ctl" -D "$d" -m fast -w -t 60 stop >/dev/null
  log "stopped $name"
}

# The regression suite, as `make installcheck` runs it (same options), against the server on SRC_PORT.
# Individual test failures are expected (Debian's server, other locale): only the database matters.
run_regress() {
  local r; r="$(src_tree)/src/test/regress"
  chown -R "$RUN_USER": "$r"       # the server writes COPY output into results/, reads data/
  as_user bash -c "cd '$r' && ./pg_regress --inputdir=. --bindir='$PG_BIN' --dlpath=. \
      --max-concurrent-tests=20 --host=127.0.0.1 --port=$SRC_PORT --user=postgres \
      --schedule=./parallel_schedule" || echo "pg_regress exit $? (test failures are fine)"
  psql_at "$SRC_PORT" -d regression -Atc "select 'regression database: ' || count(*) || ' relations' from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname not in ('pg_catalog','information_schema','pg_toast')"
}

snapshot() {
  stop_server src15
  rm -rf "$SNAPSHOT" && mkdir -p "$(dirname "$SNAPSHOT")"
  cp -a "$DATA_DIR/src15" "$SNAPSHOT"
  rm -f "$SNAPSHOT/postmaster.pid"
}

restore_snapshot() {
  stop_server src15
  rm -rf "$DATA_DIR/src15" && mkdir -p "$DATA_DIR"
  cp -a "$SNAPSHOT" "$DATA_DIR/src15"
  configure_server src15 "$PG_BIN" "$SRC_PORT"    # the port may differ from the build's
}

write_env() {
  local n port
  : >"$ENV_FILE"
  for n in src15 t15 t17; do
    [ -f "$DATA_DIR/$n/regression-db.env" ] || continue
    port=$(sed -n 's/^PORT=//p' "$DATA_DIR/$n/regression-db.env")
    case $n in
      src15) printf 'PGSHIFT_CORPUS_SOURCE=%s\n' "$(conn "$port" regression)" ;;
      t15) printf 'PGSHIFT_CORPUS_TARGET15=%s\n' "$(conn "$port" postgres)" ;;
      t17) printf 'PGSHIFT_CORPUS_TARGET17=%s\n' "$(conn "$port" postgres)" ;;
    esac >>"$ENV_FILE"
  done
}

# ---------------------------------------------------------------- commands

cmd_build() {
  local t0=$SECONDS
  [ "$(id -u)" -eq 0 ] || die "build needs root (apt-get)"
  mkdir -p "$CORPUS_DIR" "$LOG_DIR" && chmod 755 "$CORPUS_DIR"
  if [ -z "$(src_tree)" ]; then
    step deb-src add_deb_src
    step apt-update apt-get update -q
    local pkgs=(dpkg-dev build-essential perl)
    [ -x "$PG_BIN/postgres" ] || pkgs+=("postgresql-$PG_MAJOR")
    [ -x "$PG_BIN/psql" ] || pkgs+=("postgresql-client-$PG_MAJOR")
    step deps apt_install "${pkgs[@]}"
    step apt-source fetch_source
  else
    log "source tree cached: $(src_tree)"
  fi
  [ -n "$(src_tree)" ] || die "apt-get source left no postgresql-$PG_MAJOR-* directory"
  [ -f "$(src_tree)/config.status" ] || step configure configure_tree
  step build build_regress
  chmod -R a+rX "$SRC_DIR"
  step initdb init_server src15 "$PG_BIN" "$SRC_PORT"
  step start-src start_server src15
  step installcheck run_regress
  grep -E '^(regression database|pg_regress exit)' "$LOG_DIR/installcheck.log" >&2 || true
  grep -E 'tests (passed|failed)|failed \(ignoring|of [0-9]+ tests' "$LOG_DIR/installcheck.log" >&2 || true
  step snapshot snapshot
  step start-src start_server src15
  write_env
  log "build done in $((SECONDS - t0)) s"
  cat "$ENV_FILE"
}

cmd_start() {
  local t0=$SECONDS
  mkdir -p "$LOG_DIR"
  if [ ! -f "$SNAPSHOT/PG_VERSION" ]; then log "no snapshot yet: building"; cmd_build; return; fi
  step restore restore_snapshot
  step start-src start_server src15
  write_env
  log "start done in $((SECONDS - t0)) s"
  cat "$ENV_FILE"
}

cmd_targets() {
  local t0=$SECONDS
  mkdir -p "$LOG_DIR"
  step init-t15 init_server t15 "$PG_BIN" "$T15_PORT"
  step start-t15 start_server t15
  if [ -x "$PG17_BIN/postgres" ]; then
    step init-t17 init_server t17 "$PG17_BIN" "$T17_PORT"
    step start-t17 start_server t17
  else
    log "no PostgreSQL 17 binaries at $PG17_BIN (run tests/servers/pg-servers.sh start once): skipping t17"
  fi
  write_env
  log "targets done in $((SECONDS - t0)) s"
  cat "$ENV_FILE"
}

cmd_stop() { local n; for n in src15 t15 t17; do stop_server "$n"; done; }

# ensure: keep the servers that run (another test run may be using them), start what is missing
cmd_ensure() {
  if cmd_status >/dev/null 2>&1; then
    log "source and targets already running: reused"
    write_env
    cat "$ENV_FILE"
    return
  fi
  cmd_start >/dev/null
  cmd_targets
}

cmd_status() {
  local n d rc=0
  for n in src15 t15 t17; do
    d=$DATA_DIR/$n
    if [ -f "$d/regression-db.env" ] && as_user "$(sed -n 's/^BINDIR=//p' "$d/regression-db.env")/pg_ctl" -D "$d" status >/dev/null 2>&1; then
      printf '%s running on port %s\n' "$n" "$(sed -n 's/^PORT=//p' "$d/regression-db.env")"
    else
      printf '%s not running\n' "$n"; rc=3
    fi
  done
  return $rc
}

export -f $(compgen -A function)
export PG_MAJOR PG_BIN CORPUS_DIR SRC_PORT T15_PORT T17_PORT PG17_BIN RUN_USER JOBS SRC_DIR LOG_DIR DATA_DIR SNAPSHOT ENV_FILE

case "${1:-}" in
  build) cmd_build ;;
  start) cmd_start ;;
  targets) cmd_targets ;;
  stop) cmd_stop ;;
  ensure) cmd_ensure ;;
  env) [ -f "$ENV_FILE" ] && cat "$ENV_FILE" ;;
  status) cmd_status ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
