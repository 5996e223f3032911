#!/usr/bin/env bash
# Runs check.mjs (Swagger UI at /docs, GraphiQL at /graphiql) against a server of its own
# on the in-memory adapters, started here and stopped at the end.
#
#   scripts/browser-check/run-pages.sh
#   BIN=target/release/backend scripts/browser-check/run-pages.sh
#
# Needs Debian's chromium, node and npm; BIN defaults to the debug build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(cd ../.. && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/backend}
[ -x "$BIN" ] || { echo "no binary at $BIN: cargo build -p backend, or set BIN" >&2; exit 2; }
[ -x /usr/bin/chromium ] || { echo "needs /usr/bin/chromium: apt-get install chromium" >&2; exit 2; }

ADDR=127.0.0.1:$((18000 + RANDOM % 2000))
env -u DATABASE_URL -u REDIS_URL HTTP_ADDR=$ADDR RUST_LOG=warn "$BIN" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://$ADDR/readyz" >/dev/null && break; sleep 0.1; done
[ -d node_modules ] || npm ci --no-audit --no-fund --silent
BASE=http://$ADDR node check.mjs
