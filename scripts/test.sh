#!/usr/bin/env bash
# scripts/test.sh - PgShift's single test command: build, start the test PostgreSQL servers,
# run every test project, print one summary line "N passed, N failed[, N skipped]".
#
# Usage: bash scripts/test.sh [--filter EXPR]
#   --filter EXPR   passed to `dotnet test --filter` (e.g. FullyQualifiedName~Selection)
#
# Environment:
#   PGSHIFT_TEST_RESULTS   where the .trx files go (default <repo>/TestResults, git-ignored)
#   PGSHIFT_KEEP_SERVERS=1 leave the PostgreSQL servers running afterwards, with their data directories
#                          (without it they are stopped and their data directories removed)
#   plus the variables of tests/servers/pg-servers.sh (ports, PGSHIFT_TEST_DIR, ...)
#
# Exit status 0 only when the build succeeded, at least one test ran and none failed.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1

FILTER=()
while [ $# -gt 0 ]; do
  case "$1" in
    --filter) [ $# -ge 2 ] || { echo "test.sh: --filter needs an expression" >&2; exit 2; }
              FILTER=(--filter "$2"); shift 2 ;;
    --filter=*) FILTER=(--filter "${1#--filter=}"); shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument '$1' (usage: bash scripts/test.sh [--filter EXPR])" >&2; exit 2 ;;
  esac
done

say() { printf 'test.sh: %s\n' "$*" >&2; }
fail_summary() {   # fail_summary MESSAGE : report a failure before any test could run
  say "ERROR: $*"
  echo "0 passed, 1 failed"
  exit 1
}

command -v dotnet >/dev/null 2>&1 \
  || fail_summary "the .NET SDK is missing: 'dotnet' is not on PATH (install the .NET 10 SDK)"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

SERVERS="$ROOT/tests/servers/pg-servers.sh"
cleanup() {
  if [ "${PGSHIFT_KEEP_SERVERS:-0}" = 1 ]; then
    say "leaving the PostgreSQL servers running (PGSHIFT_KEEP_SERVERS=1)"
  else
    bash "$SERVERS" clean >/dev/null 2>&1 || say "warning: stopping the PostgreSQL servers or removing their data directories failed"
    if [ "${CORPUS_STARTED:-0}" = 1 ]; then
      bash "$CORPUS" stop >/dev/null 2>&1 || say "warning: stopping the regression database corpus failed"
    fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting the PostgreSQL test servers"
ENV_LINES=$(bash "$SERVERS" start) || fail_summary "could not start the PostgreSQL test servers"
# Values contain ';': read KEY=VALUE lines instead of sourcing them.
while IFS= read -r line; do
  case "$line" in
    PGSHIFT_*=*) export "${line%%=*}=${line#*=}"; say "${line%%=*}=${line#*=}" ;;
  esac
done <<<"$ENV_LINES"

# PostgreSQL's regression database, the schema corpus (built once from Debian's source package, then cached).
CORPUS="$ROOT/tests/corpus/regression-db.sh"
CORPUS_STARTED=0
if bash "$CORPUS" status >/dev/null 2>&1; then
  say "the regression database corpus runs already: reused"
else
  CORPUS_STARTED=1
fi
say "starting the regression database corpus (tests/corpus/regression-db.sh ensure; the first build takes a few minutes)"
if CORPUS_LINES=$(bash "$CORPUS" ensure); then
  while IFS= read -r line; do
    case "$line" in
      PGSHIFT_CORPUS_*=*) export "${line%%=*}=${line#*=}"; say "${line%%=*}=${line#*=}" ;;
    esac
  done <<<"$CORPUS_LINES"
else
  say "warning: the regression database corpus could not be started (logs in ${PGSHIFT_CORPUS_DIR:-/var/cache/pgshift-corpus}/logs); its tests will fail"
fi

say "dotnet build PgShift.slnx -c Release"
if ! dotnet build PgShift.slnx -c Release -nologo; then
  fail_summary "build failed"
fi

RESULTS=${PGSHIFT_TEST_RESULTS:-$ROOT/TestResults}
rm -rf "$RESULTS"
mkdir -p "$RESULTS"

say "dotnet test PgShift.slnx -c Release --no-build ${FILTER[*]}"
TEST_LOG="$RESULTS/dotnet-test.log"
# Progress while the tests run: the console logger names each finished test; a passed one only counts (a line
# "test.sh: N passed, N failed so far" every 10 tests or 30 s), everything else (failures with their messages,
# each assembly's summary) shows as dotnet test prints it. The whole output is in $TEST_LOG.
progress() {   # a bash loop, not awk: mawk reads a pipe in blocks, and the count would come minutes late
  local passed=0 failed=0 skipped=0 since=0 start=$SECONDS last=$SECONDS line
  report() { printf 'test.sh: %d passed, %d failed, %d skipped so far (%ds)\n' "$passed" "$failed" "$skipped" $((SECONDS - start)) >&2; last=$SECONDS; since=0; }
  while IFS= read -r line; do
    if [[ $line =~ ^[[:space:]]+Passed[[:space:]][^[:space:]] ]]; then
      passed=$((passed + 1)); since=$((since + 1))
      if [ "$since" -ge 10 ] || [ $((SECONDS - last)) -ge 30 ]; then report; fi
      continue
    elif [[ $line =~ ^[[:space:]]+Failed[[:space:]][^[:space:]] ]]; then
      failed=$((failed + 1)); report
    elif [[ $line =~ ^[[:space:]]+Skipped[[:space:]][^[:space:]] ]]; then
      skipped=$((skipped + 1))
    fi
    printf '%s\n' "$line"
  done
}
dotnet test PgShift.slnx -c Release --no-build --nologo --logger "console;verbosity=normal" \
  --logger trx --results-directory "$RESULTS" "${FILTER[@]}" 2>&1 | tee "$TEST_LOG" | progress
test_rc=${PIPESTATUS[0]}

# Sum the <Counters .../> of every .trx file: failed = failed + error + timeout + aborted,
# skipped = total - executed (VSTest records xunit's skipped tests as not executed).
trx_count() {   # trx_count ATTRIBUTE : sum of that Counters attribute over all trx files
  local attr=$1
  find "$RESULTS" -name '*.trx' -type f -print0 \
    | xargs -0 -r grep -ho "<Counters [^>]*" \
    | grep -o " $attr=\"[0-9]*\"" \
    | grep -o '[0-9][0-9]*' \
    | awk '{ s += $1 } END { print s + 0 }'
}
trx_files=$(find "$RESULTS" -name '*.trx' -type f | wc -l)
passed=$(trx_count passed)
failed=$(( $(trx_count failed) + $(trx_count error) + $(trx_count timeout) + $(trx_count aborted) ))
skipped=$(( $(trx_count total) - $(trx_count executed) ))

# Each test assembly should have left one trx file (the default names are per second, so two
# assemblies finishing at once could in principle collide). If any is missing, count from the
# per-assembly console summaries ("Passed!  - Failed: 0, Passed: 5, Skipped: 0, Total: 5") instead.
assemblies=$(grep -c '^Test run for ' "$TEST_LOG" || true)
if [ "$trx_files" -lt "$assemblies" ]; then
  say "warning: $assemblies test assemblies ran but only $trx_files trx file(s) were written; counting from the console summaries"
  read -r passed failed skipped < <(grep -E '^(Passed|Failed)! +- +Failed: ' "$TEST_LOG" | awk '
    { for (i = 1; i <= NF; i++) { v = $(i + 1); gsub(/[^0-9]/, "", v)
        if ($i == "Failed:") f += v; else if ($i == "Passed:") p += v; else if ($i == "Skipped:") s += v } }
    END { print p + 0, f + 0, s + 0 }')
fi

if [ "$test_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  say "ERROR: dotnet test exited with $test_rc but no failed test was recorded (build of a test project missing, or a crashed test host?); counting it as one failure"
  failed=1
fi
if [ $((passed + failed)) -eq 0 ]; then
  say "ERROR: no test ran"
fi

summary="$passed passed, $failed failed"
if [ "$skipped" -gt 0 ]; then summary="$summary, $skipped skipped"; fi
say "results: $RESULTS ($trx_files trx file(s))"
echo "$summary"

[ "$failed" -eq 0 ] && [ $((passed + failed)) -gt 0 ]
