#!/usr/bin/env bash
# The database load of a stack at rest: transactions per second on the app's database
# while `serve` (API only) and one `backend worker` wait with nothing to do, counted from
# pg_stat_database (every statement the app sends at rest is its own transaction).
#
#   bench/idle.sh                  # SECONDS_AT_REST=30
#   BIN=... bench/idle.sh          # reuse a release binary
#
# Two settings: the worker's poll at the old default (WORKER_POLL_INTERVAL_MS=100, before
# the worker was woken by commits), and today's default (a commit wakes it; the poll, 1 s,
# is only the safety net).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AT_REST=${SECONDS_AT_REST:-30}
OUT=${OUT:-/tmp/todo-bench/idle-$(date +%Y%m%d-%H%M%S)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DB=todo_idle_bench
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
REDIS_URL=redis://127.0.0.1:6379

mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }
PIDS=()
stop() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done; PIDS=(); }
trap stop EXIT
if [[ -z ${BIN:-} ]]; then
  (cd "$ROOT" && cargo build --release -q -p backend)
  BIN=$TARGET/release/backend
fi
psql_admin() { psql -h 127.0.0.1 -U postgres -qAt "$@"; }
commits() { psql_admin -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$DB'"; }

printf 'setting\ttx_per_s\n' >"$OUT/results.tsv"
for setting in "old default: poll 100 ms" "default: woken by commits, poll 1 s"; do
  psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  DATABASE_URL=$DB_URL "$BIN" migrate >>"$OUT/run.log"
  poll=()
  [[ $setting == old* ]] && poll=(WORKER_POLL_INTERVAL_MS=100)
  env DATABASE_URL=$DB_URL REDIS_URL=$REDIS_URL RUST_LOG=warn HTTP_ADDR=127.0.0.1:8094 \
    WORKER_IN_PROCESS=false "$BIN" serve >>"$OUT/serve.log" 2>&1 &
  PIDS+=($!)
  env DATABASE_URL=$DB_URL REDIS_URL=$REDIS_URL RUST_LOG=warn WORKER_HTTP_ADDR=127.0.0.1:9194 \
    "${poll[@]}" "$BIN" worker >>"$OUT/worker.log" 2>&1 &
  PIDS+=($!)
  sleep 5 # start-up's own statements are not rest
  before=$(commits)
  sleep "$AT_REST"
  after=$(commits)
  stop
  rate=$(python3 -c "print(round(($after - $before) / $AT_REST, 2))")
  printf '%s\t%s\n' "$setting" "$rate" >>"$OUT/results.tsv"
  log "$setting: $rate transactions/s at rest"
done
log "results in $OUT"
