#!/usr/bin/env bash
# Keeps the guide's tutorial true: applies its patch series (docs/src/tutorial/*.patch, the
# steps of "Adding a field end to end") in order to a scratch copy of this checkout, then
# runs the tests of every crate the steps touch. A patch that no longer applies, or a step
# whose tests fail, fails the run.
#
#   scripts/tutorial-check/run.sh
#
# The copy takes the working tree as it is (tracked and new files, uncommitted changes
# included), so a change can be checked before it is committed. The copy and its build
# directory live under the checkout's target directory (CARGO_TARGET_DIR, if set).
#
# When a change elsewhere makes a patch stop applying, rebuild the series: apply the
# patches that still apply on a branch (`git am docs/src/tutorial/*.patch`), redo the one
# that failed, commit each step, and write them out again with
# `git format-patch --zero-commit --no-signature -o docs/src/tutorial main..`.
# The chapter (docs/src/tutorial.md) walks through the same steps.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
log() { printf '[tutorial-check] %s\n' "$*" >&2; }

shopt -s nullglob
patches=("$ROOT"/docs/src/tutorial/*.patch)
if [ ${#patches[@]} -eq 0 ]; then
  log "no patches in docs/src/tutorial: the tutorial has nothing to check"
  exit 1
fi

mkdir -p "$TARGET"
SCRATCH=$(mktemp -d "$TARGET/tutorial-check.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

log "copying the working tree to $SCRATCH"
git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
  | tar -C "$ROOT" --null --no-recursion --ignore-failed-read -T - -cf - \
  | tar -xf - -C "$SCRATCH"

cd "$SCRATCH"
# The copy is a repository of its own. Without one, git would find the checkout's (when the
# copy lies under its target/) and, from that subdirectory, skip every path of the patch
# without an error: a check that applies nothing and passes.
git init -q
for patch in "${patches[@]}"; do
  log "applying $(basename "$patch")"
  if ! report=$(git apply --verbose --whitespace=error-all "$patch" 2>&1); then
    printf '%s\n' "$report" >&2
    log "$(basename "$patch") no longer applies: rebuild the series (see the top of this script)"
    exit 1
  fi
  if grep -q '^Skipped patch' <<<"$report" || ! grep -q '^Applied patch' <<<"$report"; then
    printf '%s\n' "$report" >&2
    log "$(basename "$patch") was not applied to every file it changes"
    exit 1
  fi
done

# Every crate a step touches. The binary's tests are limited to the suites the steps
# change (per protocol, across the protocols, the worker); the hostile and operations
# suites do not build todos.
#
# The copy builds into a target directory of its own. Cargo names a workspace crate's
# artifacts by its path within the workspace, so the copy's crates would overwrite the
# checkout's in a shared one; and a build script's output (the gRPC code generated from the
# patched .proto) would then look fresh to the checkout's next build, which fails. Kept
# between runs, so only the first is a cold build.
export CARGO_TARGET_DIR=$TARGET/tutorial-check-target
log "testing the crates the steps touch"
cargo test --locked \
  -p domain -p application \
  -p driven-records -p driven-memory -p driven-postgres -p contract-tests \
  -p driving-rest -p driving-graphql -p driving-grpc
cargo test --locked -p backend --test rest --test graphql --test grpc --test across --test worker
log "every step applies, and the tests pass with the priority in place"
