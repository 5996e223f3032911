#!/usr/bin/env bash
# What tracing costs: the same loads on the build before tracing existed, on this build with
# no OTLP endpoint (tracing off), and on this build exporting every span to an OTLP sink
# (tracing on, bench/grpc-load's `otlp-sink`: a real OTLP/gRPC receiver that counts and
# drops). In one run, on one machine, against one Postgres and one Redis.
#
#   bench/tracing.sh                          # REPS=3 DURATION=10 CONNS=64 THREADS=2
#   BIN_BEFORE=... BIN=... SINK=... bench/tracing.sh   # reuse release binaries
#
# Loads, each side with its own fresh database and the same Redis:
#   read    GET /v1/todos/{id}, cache warm, over 100 todos of one user
#   create  POST /v1/todos
# Ratios are of medians: "off ÷ before" and "on ÷ before".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
OLD_REV=${OLD_REV:-e6967c5}
OUT=${OUT:-/tmp/todo-bench/tracing-$(date +%Y%m%d-%H%M%S)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DB=todo_tracing_bench
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
REDIS_URL=redis://127.0.0.1:6379
APP=http://127.0.0.1:8093
ROUTE_LUA="$SHARED/wrk/route.lua"
CREATE_LUA="$ROOT/bench/wrk/create_todo.lua"

mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }
PID= SINK_PID=
stop() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=
  [[ -n $SINK_PID ]] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null; SINK_PID=
}
trap 'stop; git -C "$ROOT" worktree remove --force "$OUT/old-src" 2>/dev/null || true' EXIT
command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

if [[ -z ${BIN:-} || -z ${SINK:-} ]]; then
  log "building this revision (release)"
  (cd "$ROOT" && cargo build --release -q -p backend -p grpc-load)
  BIN=$TARGET/release/backend SINK=$TARGET/release/otlp-sink
fi
cp "$BIN" "$OUT/backend-now"
if [[ -z ${BIN_BEFORE:-} ]]; then
  log "building $OLD_REV, the revision before tracing (release, its own target dir)"
  git -C "$ROOT" worktree add -q --detach "$OUT/old-src" "$OLD_REV"
  (cd "$OUT/old-src" && CARGO_TARGET_DIR=$OUT/old-target cargo build --release -q -p backend)
  BIN_BEFORE=$OUT/old-target/release/backend
fi
cp "$BIN_BEFORE" "$OUT/backend-before"

psql_admin() { psql -h 127.0.0.1 -U postgres -qAt "$@"; }
serve() { # binary, extra env...
  local bin=$1; shift
  psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  DATABASE_URL=$DB_URL "$bin" migrate >>"$OUT/run.log"
  env DATABASE_URL=$DB_URL REDIS_URL=$REDIS_URL "REDIS_KEY_PREFIX=tracing-bench-$(date +%s%N):" \
    RUST_LOG=info LOG_FORMAT=json HTTP_ADDR=127.0.0.1:8093 WORKER_IN_PROCESS=true \
    LOGIN_LIMIT_PER_EMAIL=0 LOGIN_LIMIT_PER_ADDRESS=0 "$@" "$bin" serve >>"$OUT/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf "$APP/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf -XPOST $APP/v1/users -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"bench-password","display_name":"Bench"}' >/dev/null
  TOKEN=$(curl -sf -XPOST $APP/v1/sessions -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  : >"$OUT/ids.txt"
  for _ in $(seq 100); do
    curl -sf -XPOST $APP/v1/todos -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
      -d '{"title":"read me"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' >>"$OUT/ids.txt"
  done
  # Warm the cache: every id once.
  WRK_BEARER=$TOKEN WRK_THREADS=$THREADS wrk -t"$THREADS" -c8 -d2s -s "$ROUTE_LUA" $APP -- seq /v1/todos/ "$OUT/ids.txt" >/dev/null
}
load() { # rep side bench lua args...
  local rep=$1 side=$2 bench=$3 lua=$4; shift 4
  local line
  line=$(WRK_BEARER=$TOKEN WRK_THREADS=$THREADS wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$lua" $APP -- "$@" | tee -a "$OUT/wrk.log" | grep '^RESULT')
  python3 - "$rep" "$side" "$bench" "$line" >>"$OUT/results.tsv" <<'PY'
import sys
rep, side, bench, line = sys.argv[1:]
kv = dict(p.split("=") for p in line.split()[1:])
print("\t".join([rep, side, bench, kv["rps"], kv["p50_ms"], kv["p99_ms"], kv["non2xx"]]))
PY
  log "rep $rep $side $bench: $line"
}

printf 'rep\tside\tbench\trps\tp50_ms\tp99_ms\tnon2xx\n' >"$OUT/results.tsv"
for rep in $(seq "$REPS"); do
  for side in before off on; do
    case $side in
      before) serve "$OUT/backend-before" ;;
      off) serve "$OUT/backend-now" ;;
      on)
        "$SINK" --addr 127.0.0.1:4319 >>"$OUT/sink.log" 2>&1 &
        SINK_PID=$!
        sleep 0.3
        serve "$OUT/backend-now" OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4319 ;;
    esac
    load "$rep" "$side" read "$ROUTE_LUA" byid /v1/todos/ "$OUT/ids.txt"
    load "$rep" "$side" create "$CREATE_LUA"
    stop
  done
done

python3 - "$OUT/results.tsv" "$OUT/sink.log" <<'PY' | tee "$OUT/summary.md"
import csv, re, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = lambda side, bench, key: statistics.median(float(r[key]) for r in rows if r["side"] == side and r["bench"] == bench)
print("| load | before req/s | off req/s | on req/s | off ÷ before | on ÷ before | p99 ms before / off / on |")
print("|---|---:|---:|---:|---:|---:|---|")
for bench in ["read", "create"]:
    b, f, o = (med(s, bench, "rps") for s in ["before", "off", "on"])
    p = [med(s, bench, "p99_ms") for s in ["before", "off", "on"]]
    print(f"| {bench} | {b:,.0f} | {f:,.0f} | {o:,.0f} | {f / b:.2f} | {o / b:.2f} | {p[0]:.1f} / {p[1]:.1f} / {p[2]:.1f} |")
spans = [int(m) for m in re.findall(r"spans=(\d+)", open(sys.argv[2]).read())]
print(f"\nSpans the sink received, per rep: {spans}")
PY
log "results in $OUT"
