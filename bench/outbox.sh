#!/usr/bin/env bash
# What the transactional outbox costs, and how fast events get out: in one run, on one
# machine, against one Postgres and one Redis.
#
#   bench/outbox.sh                   # REPS=3 DURATION=10 CONNS=64 THREADS=2
#   BIN_WITH=... BIN_WITHOUT=... bench/outbox.sh   # reuse two release binaries
#
# For each rep:
#   create, without   POST /v1/todos on the build before the outbox (OLD_REV, default a661bef^)
#   create, with      POST /v1/todos on this build, the worker running in the same process and
#                     publishing every event to a Redis stream
#   create, no worker the same with no worker running: the outbox's write path alone
#   latency           this build under a steady load of STEADY_CONNS connections (default 4):
#                     commit to delivery of each event, from the outbox rows themselves
#                     (delivered_at - recorded_at, both stamped by the writers), p50 and p99;
#                     and the same under the saturating CONNS load of "create, with"
#
# Each side gets a fresh database and the same session lookup in Redis, so the pair differs
# in the outbox and the worker only. Ratios are of medians, "with ÷ without".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=${REPS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
STEADY_CONNS=${STEADY_CONNS:-4}
THREADS=${THREADS:-2}
OLD_REV=${OLD_REV:-a661bef^}
OUT=${OUT:-/tmp/todo-bench/outbox-$(date +%Y%m%d-%H%M%S)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DB=todo_outbox_bench
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
REDIS_URL=redis://127.0.0.1:6379
APP=http://127.0.0.1:8090
CREATE_LUA="$ROOT/bench/wrk/create_todo.lua"

mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }
PID=
stop() { [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=; }
trap 'stop; git -C "$ROOT" worktree remove --force "$OUT/old-src" 2>/dev/null || true' EXIT
command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

if [[ -n ${BIN_WITH:-} && -n ${BIN_WITHOUT:-} ]]; then
  log "using the binaries given: $BIN_WITH and $BIN_WITHOUT"
  cp "$BIN_WITH" "$OUT/backend-with"
  cp "$BIN_WITHOUT" "$OUT/backend-without"
else
  log "building this revision and $OLD_REV (release; the old one reuses the dependencies)"
  (cd "$ROOT" && cargo build --release -q -p backend)
  cp "$TARGET/release/backend" "$OUT/backend-with"
  git -C "$ROOT" worktree add -q --detach "$OUT/old-src" "$OLD_REV"
  (cd "$OUT/old-src" && CARGO_TARGET_DIR=$TARGET cargo build --release -q -p backend)
  cp "$TARGET/release/backend" "$OUT/backend-without"
  # The old checkout's crates share names and versions with ours, and its files are newer:
  # make ours newer again, or the next build here would take the old artifacts for fresh.
  find "$ROOT" -path "$ROOT/target" -prune -o -type f \( -name '*.rs' -o -name '*.proto' -o -name '*.sql' -o -name Cargo.toml \) -exec touch {} +
fi
psql_admin() { psql -h 127.0.0.1 -U postgres -qAt "$@"; }
serve() { # binary, extra env...
  local bin=$1; shift
  psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  DATABASE_URL=$DB_URL "$bin" migrate >>"$OUT/run.log"
  env DATABASE_URL=$DB_URL REDIS_URL=$REDIS_URL "REDIS_KEY_PREFIX=outbox-bench-$(date +%s%N):" \
    RUST_LOG=warn HTTP_ADDR=127.0.0.1:8090 DATABASE_MAX_CONNECTIONS=16 "$@" "$bin" serve >>"$OUT/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf "$APP/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf -XPOST $APP/v1/users -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"bench-password","display_name":"Bench"}' >/dev/null
  TOKEN=$(curl -sf -XPOST $APP/v1/sessions -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}
load() { # rep bench conns
  local line
  line=$(WRK_BEARER=$TOKEN wrk -t"$THREADS" -c"$3" -d"${DURATION}s" --latency -s "$CREATE_LUA" $APP | tee -a "$OUT/wrk.log" | grep '^RESULT')
  python3 - "$1" "$2" "$line" >>"$OUT/results.tsv" <<'PY'
import sys
rep, bench, line = sys.argv[1:]
kv = dict(p.split("=") for p in line.split()[1:])
print("\t".join([rep, bench, kv["rps"], kv["p50_ms"], kv["p99_ms"], kv["non2xx"], kv["sock_err"]]))
PY
  log "rep $1 $2: $line"
}
latency() { # rep bench: commit-to-delivery percentiles of every event of the run, in ms
  # Give the worker a moment to finish the tail of the load.
  for _ in $(seq 100); do
    [[ $(psql_admin -d $DB -c "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0 ]] && break
    sleep 0.1
  done
  psql_admin -d $DB -F $'\t' -c "SELECT '$1', '$2', count(*),
      round((1000 * extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY delivered_at - recorded_at)))::numeric, 2),
      round((1000 * extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY delivered_at - recorded_at)))::numeric, 2),
      count(*) FILTER (WHERE delivered_at IS NULL)
    FROM outbox WHERE kind = 'todo_event'" | tee -a "$OUT/latency.tsv" >&2
}

printf 'rep\tbench\trps\tp50_ms\tp99_ms\tnon2xx\tsock_err\n' >"$OUT/results.tsv"
printf 'rep\tload\tevents\tp50_ms\tp99_ms\tundelivered\n' >"$OUT/latency.tsv"
for rep in $(seq "$REPS"); do
  serve "$OUT/backend-without"
  load "$rep" create_without "$CONNS"
  stop
  serve "$OUT/backend-with" WORKER_IN_PROCESS=false
  load "$rep" create_with_no_worker "$CONNS"
  stop
  serve "$OUT/backend-with" WORKER_IN_PROCESS=true
  load "$rep" create_with "$CONNS"
  latency "$rep" "saturating, $CONNS connections"
  stop
  serve "$OUT/backend-with" WORKER_IN_PROCESS=true
  load "$rep" steady_with "$STEADY_CONNS"
  latency "$rep" "steady, $STEADY_CONNS connections"
  stop
done

python3 - "$OUT/results.tsv" "$OUT/latency.tsv" <<'PY' | tee "$OUT/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
lat = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
med = lambda bench, key: statistics.median(float(r[key]) for r in rows if r["bench"] == bench)
errs = sum(int(r["non2xx"]) + int(r["sock_err"]) for r in rows)
w, wo = med("create_with", "rps"), med("create_without", "rps")
print("| POST /v1/todos | req/s | p50 ms | p99 ms |")
print("|---|---:|---:|---:|")
for bench, label in [("create_without", "without the outbox"), ("create_with_no_worker", "with the outbox, no worker running (the write path alone)"), ("create_with", "with the outbox and the in-process worker")]:
    print(f"| {label} | {med(bench, 'rps'):,.0f} | {med(bench, 'p50_ms'):.2f} | {med(bench, 'p99_ms'):.2f} |")
nw = med("create_with_no_worker", "rps")
print(f"\nwith ÷ without: **{w / wo:.2f}** (throughput), p99 {med('create_with', 'p99_ms') / med('create_without', 'p99_ms'):.2f}; the write path alone: **{nw / wo:.2f}**, p99 {med('create_with_no_worker', 'p99_ms') / med('create_without', 'p99_ms'):.2f}; errors: {errs}\n")
print("| commit to delivery | events | p50 ms | p99 ms | undelivered |")
print("|---|---:|---:|---:|---:|")
for load in sorted({r["load"] for r in lat}):
    sel = [r for r in lat if r["load"] == load]
    m = lambda k: statistics.median(float(r[k]) for r in sel)
    print(f"| {load} | {m('events'):,.0f} | {m('p50_ms'):.2f} | {m('p99_ms'):.2f} | {sum(int(r['undelivered']) for r in sel)} |")
PY
log "results in $OUT"
