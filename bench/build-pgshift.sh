#!/usr/bin/env bash
# Build the pgshift executable for the benchmark, outside the repository's own bin/obj folders.
#   bench/build-pgshift.sh
# PGSHIFT_REF=HEAD (default) builds that commit (git archive); PGSHIFT_REF=worktree builds the working
# tree as it is, uncommitted changes included. The copy goes to $PGB_ROOT/pgshift-src and the output to
# $PGSHIFT_OUT (pgshift.dll). Prints "RESULT tool=build-pgshift commit=... status=ok".
source "$(dirname "$0")/lib.sh"
PGSHIFT_REF=${PGSHIFT_REF:-HEAD}
src=$PGB_ROOT/pgshift-src

rm -rf "$src"; mkdir -p "$src" "$PGB_RESULTS"
if [ "$PGSHIFT_REF" = worktree ]; then
  commit="$(git -C "$REPO_DIR" rev-parse --short HEAD)+worktree"
  tar -C "$REPO_DIR" --exclude=.git --exclude=bin --exclude=obj --exclude=TestResults --exclude=bench -cf - . | tar -x -C "$src"
else
  commit=$(git -C "$REPO_DIR" rev-parse --short "$PGSHIFT_REF")
  git -C "$REPO_DIR" archive "$PGSHIFT_REF" | tar -x -C "$src"
fi
log "building pgshift $commit into $PGSHIFT_OUT"
rm -rf "$PGSHIFT_OUT"
# Published ReadyToRun, as a user would install it: less of a short run goes into JIT compiling.
if ! dotnet publish -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true "$src/src/PgShift.Cli" -o "$PGSHIFT_OUT" >"$PGB_RESULTS/build-pgshift.log" 2>&1; then
  tail -n 30 "$PGB_RESULTS/build-pgshift.log" >&2
  echo "RESULT tool=build-pgshift commit=$commit status=fail"; exit 1
fi
echo "$commit" >"$PGSHIFT_OUT/bench-commit.txt"
echo "RESULT tool=build-pgshift commit=$commit out=$PGSHIFT_OUT status=ok"
