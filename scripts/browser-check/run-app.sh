#!/usr/bin/env bash
# Runs app.mjs, the example app's browser tests, on a database of its own: created here,
# migrated with the binary under test, and dropped at the end.
#
#   TEST_DATABASE_URL=postgres://… TEST_REDIS_URL=redis://… scripts/browser-check/run-app.sh
#   BIN=target/release/backend SCREENSHOT=$PWD/docs/src/images/app.png scripts/browser-check/run-app.sh
#
# Needs Debian's chromium, node and npm, and psql; BIN defaults to the debug build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(cd ../.. && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/backend}
SERVER_URL=${TEST_DATABASE_URL:-${DATABASE_URL:-}}
REDIS=${TEST_REDIS_URL:-${REDIS_URL:-}}
if [ -z "$SERVER_URL" ] || [ -z "$REDIS" ]; then
  echo "set TEST_DATABASE_URL and TEST_REDIS_URL (a Postgres role that may create databases, and Redis)" >&2
  exit 2
fi
[ -x "$BIN" ] || { echo "no binary at $BIN: cargo build -p backend, or set BIN" >&2; exit 2; }
[ -x /usr/bin/chromium ] || { echo "needs /usr/bin/chromium: apt-get install chromium" >&2; exit 2; }

DB=browser_app_$$
psql "$SERVER_URL" -qc "CREATE DATABASE $DB"
trap 'psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true' EXIT
URL=${SERVER_URL%/*}/$DB
DATABASE_URL=$URL "$BIN" migrate >/dev/null
[ -d node_modules ] || npm ci --no-audit --no-fund --silent
BIN=$BIN DATABASE_URL=$URL REDIS_URL=$REDIS node app.mjs
