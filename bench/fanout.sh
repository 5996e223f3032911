#!/usr/bin/env bash
# Fan-out latency of live streams, from commit to delivery, for SUBSCRIBERS (default 100)
# `WatchTodos` subscribers of one user, in one run, on one machine, against one Postgres
# and one Redis, beside the plain stack's floor.
#
#   bench/fanout.sh              # REPS=3 DURATION=15 RATE=20 SUBSCRIBERS=100
#   BIN=... FANOUT=... bench/fanout.sh   # reuse release binaries
#
# For each rep:
#   redis floor     bench/grpc-load's `fanout redis`: SUBSCRIBERS clients on a bare Redis
#                   stream (`XREAD BLOCK`, one connection each) and a writer `XADD`ing at
#                   RATE a second; from just before the XADD to each reader
#   app             `fanout app` against `backend serve` with the worker in process, woken
#                   by each commit (LISTEN/NOTIFY; the poll is only the safety net):
#                   CreateTodo at RATE a second, and each event's delivery to each
#                   subscriber timed from the moment its CreateTodo returned (after the
#                   commit)
#
# Figures are medians over the reps; ratios are "app ÷ floor".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=${REPS:-3}
DURATION=${DURATION:-15}
RATE=${RATE:-20}
SUBSCRIBERS=${SUBSCRIBERS:-100}
OUT=${OUT:-/tmp/todo-bench/fanout-$(date +%Y%m%d-%H%M%S)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DB=todo_fanout_bench
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
REDIS_URL=redis://127.0.0.1:6379
APP=http://127.0.0.1:8091

mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }
PID=
stop() { [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=; }
trap stop EXIT

if [[ -n ${BIN:-} && -n ${FANOUT:-} ]]; then
  log "using the binaries given: $BIN and $FANOUT"
else
  log "building the server and the load generator (release)"
  (cd "$ROOT" && cargo build --release -q -p backend -p grpc-load)
  BIN=$TARGET/release/backend FANOUT=$TARGET/release/fanout
fi
psql_admin() { psql -h 127.0.0.1 -U postgres -qAt "$@"; }
serve() { # extra env...
  psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  DATABASE_URL=$DB_URL "$BIN" migrate >>"$OUT/run.log"
  env DATABASE_URL=$DB_URL REDIS_URL=$REDIS_URL "REDIS_KEY_PREFIX=fanout-bench-$(date +%s%N):" \
    RUST_LOG=warn HTTP_ADDR=127.0.0.1:8091 WORKER_IN_PROCESS=true \
    WATCH_MAX_PER_USER="$SUBSCRIBERS" "$@" "$BIN" serve >>"$OUT/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf "$APP/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf -XPOST $APP/v1/users -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"bench-password","display_name":"Bench"}' >/dev/null
  TOKEN=$(curl -sf -XPOST $APP/v1/sessions -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}
record() { # rep bench RESULT-line
  python3 - "$@" >>"$OUT/results.tsv" <<'PY'
import sys
rep, bench, line = sys.argv[1:]
kv = dict(p.split("=") for p in line.split()[1:])
print("\t".join([rep, bench, kv["deliveries"], kv["missing"], kv["p50_ms"], kv["p99_ms"], kv["max_ms"]]))
PY
  log "rep $1 $2: $3"
}
common=(--subscribers "$SUBSCRIBERS" --rate "$RATE" --duration "$DURATION")

printf 'rep\tbench\tdeliveries\tmissing\tp50_ms\tp99_ms\tmax_ms\n' >"$OUT/results.tsv"
for rep in $(seq "$REPS"); do
  record "$rep" redis_floor "$("$FANOUT" redis --redis $REDIS_URL "${common[@]}" | grep '^RESULT')"
  serve
  record "$rep" app "$("$FANOUT" app --url $APP --token "$TOKEN" "${common[@]}" | grep '^RESULT')"
  stop
done

python3 - "$OUT/results.tsv" "$SUBSCRIBERS" "$RATE" <<'PY' | tee "$OUT/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = lambda bench, key: statistics.median(float(r[key]) for r in rows if r["bench"] == bench)
floor50, floor99 = med("redis_floor", "p50_ms"), med("redis_floor", "p99_ms")
print(f"| {sys.argv[2]} subscribers, {sys.argv[3]} writes/s | deliveries | missing | p50 ms | p99 ms | p50 ÷ floor | p99 ÷ floor |")
print("|---|---:|---:|---:|---:|---:|---:|")
for bench, label in [("redis_floor", "bare Redis stream (the floor)"), ("app", "the app, its worker woken by each commit")]:
    sel = [r for r in rows if r["bench"] == bench]
    p50, p99 = med(bench, "p50_ms"), med(bench, "p99_ms")
    print(f"| {label} | {med(bench, 'deliveries'):,.0f} | {sum(int(r['missing']) for r in sel)} | {p50:.1f} | {p99:.1f} | {p50 / floor50:.1f} | {p99 / floor99:.1f} |")
PY
log "results in $OUT"
