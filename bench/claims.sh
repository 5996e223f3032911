#!/usr/bin/env bash
# What the worker's wake-up costs with several workers: claims per event, and commit to
# delivery, for WORKERS (default 2) `backend worker` processes on one Postgres and Redis.
#
#   bench/claims.sh                  # REPS=3 DURATION=10 RATE=20 CONNS=16 WORKERS=2
#   BIN=... bench/claims.sh          # reuse a release binary
#
# For each rep, against a fresh database, with the API (`serve`, no worker in it) and the
# workers as separate processes:
#   trickle   one create at a time, RATE a second: every commit wakes every worker
#   load      wrk with CONNS connections creating as fast as they can: commits arrive
#             while the workers deliver, and their signals fold into one claim per batch
# Claims come from the workers' own `job_claims_total{cause,found}`, summed over all of
# them; latency from the outbox rows (delivered_at - recorded_at, both stamped by the
# writers), p50 and p99.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=${REPS:-3}
DURATION=${DURATION:-10}
RATE=${RATE:-20}
CONNS=${CONNS:-16}
WORKERS=${WORKERS:-2}
OUT=${OUT:-/tmp/todo-bench/claims-$(date +%Y%m%d-%H%M%S)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DB=todo_claims_bench
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
REDIS_URL=redis://127.0.0.1:6379
APP=http://127.0.0.1:8092
CREATE_LUA="$ROOT/bench/wrk/create_todo.lua"

mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }
PIDS=()
stop() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done; PIDS=(); }
trap stop EXIT
command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

if [[ -z ${BIN:-} ]]; then
  log "building the server (release)"
  (cd "$ROOT" && cargo build --release -q -p backend)
  BIN=$TARGET/release/backend
fi
psql_admin() { psql -h 127.0.0.1 -U postgres -qAt "$@"; }
start() {
  psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  DATABASE_URL=$DB_URL "$BIN" migrate >>"$OUT/run.log"
  local prefix="claims-bench-$(date +%s%N):"
  env DATABASE_URL=$DB_URL REDIS_URL=$REDIS_URL REDIS_KEY_PREFIX="$prefix" RUST_LOG=warn \
    HTTP_ADDR=127.0.0.1:8092 WORKER_IN_PROCESS=false "$BIN" serve >>"$OUT/serve.log" 2>&1 &
  PIDS+=($!)
  for n in $(seq "$WORKERS"); do
    env DATABASE_URL=$DB_URL REDIS_URL=$REDIS_URL REDIS_KEY_PREFIX="$prefix" RUST_LOG=warn \
      WORKER_HTTP_ADDR=127.0.0.1:$((9190 + n)) "$BIN" worker >>"$OUT/worker-$n.log" 2>&1 &
    PIDS+=($!)
  done
  for _ in $(seq 100); do curl -sf "$APP/healthz" >/dev/null && break; sleep 0.1; done
  for n in $(seq "$WORKERS"); do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((9190 + n))/healthz" >/dev/null && break; sleep 0.1; done
  done
  curl -sf -XPOST $APP/v1/users -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"bench-password","display_name":"Bench"}' >/dev/null
  TOKEN=$(curl -sf -XPOST $APP/v1/sessions -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}
drained() {
  for _ in $(seq 300); do
    [[ $(psql_admin -d $DB -c "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0 ]] && return
    sleep 0.1
  done
  log "the backlog did not drain within 30 s"
}
record() { # rep bench
  drained
  sleep 1.5 # every worker has had its signal and made its claim
  local scrape=""
  for n in $(seq "$WORKERS"); do
    scrape+=$(curl -sf "http://127.0.0.1:$((9190 + n))/metrics" | grep '^job_claims_total')$'\n'
  done
  local latency
  latency=$(psql_admin -d $DB -c "SELECT count(*), \
      round((1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - recorded_at)))::numeric, 1), \
      round((1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - recorded_at)))::numeric, 1) \
      FROM outbox WHERE kind = 'todo_event'")
  python3 - "$1" "$2" "$latency" "$scrape" >>"$OUT/results.tsv" <<'PY'
import re, sys
rep, bench, latency, scrape = sys.argv[1:]
events, p50, p99 = latency.split("|")
claims = {}
for cause, found, n in re.findall(r'job_claims_total\{cause="(\w+)",found="(\w+)"\} (\d+)', scrape):
    claims[(cause, found)] = claims.get((cause, found), 0) + int(n)
total = sum(claims.values())
empty = sum(n for (c, f), n in claims.items() if f == "empty")
signal = sum(n for (c, f), n in claims.items() if c == "signal")
poll = sum(n for (c, f), n in claims.items() if c == "poll")
print("\t".join(map(str, [rep, bench, events, total, empty, signal, poll, p50, p99])))
PY
  log "rep $1 $2: $(tail -n 1 "$OUT/results.tsv")"
}

printf 'rep\tbench\tevents\tclaims\tempty\tsignal\tpoll\tp50_ms\tp99_ms\n' >"$OUT/results.tsv"
for rep in $(seq "$REPS"); do
  start
  end=$((SECONDS + DURATION))
  while ((SECONDS < end)); do
    curl -sf -o /dev/null -XPOST $APP/v1/todos -H "authorization: Bearer $TOKEN" \
      -H 'content-type: application/json' -d '{"title":"trickle"}'
    sleep "$(python3 -c "print(1 / $RATE)")"
  done
  record "$rep" trickle
  stop

  start
  WRK_BEARER=$TOKEN wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$CREATE_LUA" $APP >>"$OUT/wrk.log"
  record "$rep" load
  stop
done

python3 - "$OUT/results.tsv" "$WORKERS" <<'PY' | tee "$OUT/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"| {sys.argv[2]} workers | events | claims | claims per event | empty claims | by signal | by poll | p50 ms | p99 ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for bench in ["trickle", "load"]:
    sel = [r for r in rows if r["bench"] == bench]
    med = lambda key: statistics.median(float(r[key]) for r in sel)
    per = statistics.median(float(r["claims"]) / float(r["events"]) for r in sel)
    print(f"| {bench} | {med('events'):,.0f} | {med('claims'):,.0f} | {per:.2f} | {med('empty'):,.0f} | {med('signal'):,.0f} | {med('poll'):,.0f} | {med('p50_ms'):.1f} | {med('p99_ms'):.1f} |")
PY
log "results in $OUT"
