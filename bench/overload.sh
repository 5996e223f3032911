#!/usr/bin/env bash
# Load shedding under overload: POST /v1/todos from far more connections than the server
# has database connections, with HTTP_MAX_IN_FLIGHT off and on, in one run against one
# Postgres and one Redis.
#
#   bench/overload.sh            # REPS=2 DURATION=10 CONNS=512 LIMIT=64 THREADS=2
#   BIN=... bench/overload.sh    # reuse a release binary
#
# Off, every request queues (for a pool connection) and waits its turn; on, past LIMIT in
# flight the server answers 503 `overloaded` at once. The table gives, per setting, the
# creates per second, the share shed, and the latency over all responses.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=${REPS:-2}
DURATION=${DURATION:-10}
CONNS=${CONNS:-512}
LIMIT=${LIMIT:-64}
THREADS=${THREADS:-2}
OUT=${OUT:-/tmp/todo-bench/overload-$(date +%Y%m%d-%H%M%S)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DB=todo_overload_bench
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
APP=http://127.0.0.1:8092

mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }
PID=
stop() { [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=; }
trap stop EXIT
command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
ulimit -n 65536 2>/dev/null || true

if [[ -z ${BIN:-} ]]; then
  (cd "$ROOT" && cargo build --release -q -p backend)
  BIN=$TARGET/release/backend
fi
psql_admin() { psql -h 127.0.0.1 -U postgres -qAt "$@"; }
serve() { # HTTP_MAX_IN_FLIGHT
  psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  DATABASE_URL=$DB_URL "$BIN" migrate >>"$OUT/run.log"
  env DATABASE_URL=$DB_URL REDIS_URL=redis://127.0.0.1:6379 "REDIS_KEY_PREFIX=overload-bench-$(date +%s%N):" \
    RUST_LOG=warn HTTP_ADDR=127.0.0.1:8092 DATABASE_MAX_CONNECTIONS=16 HTTP_MAX_IN_FLIGHT="$1" \
    "$BIN" serve >>"$OUT/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf "$APP/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf -XPOST $APP/v1/users -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"bench-password","display_name":"Bench"}' >/dev/null
  TOKEN=$(curl -sf -XPOST $APP/v1/sessions -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}

printf 'rep\tlimit\trps\tok_rps\tshed\tp50_ms\tp99_ms\tmax_ms\tsock_err\n' >"$OUT/results.tsv"
for rep in $(seq "$REPS"); do
  for limit in 0 "$LIMIT"; do
    serve "$limit"
    line=$(WRK_BEARER=$TOKEN wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$ROOT/bench/wrk/create_todo.lua" $APP | tee -a "$OUT/wrk.log" | grep '^RESULT')
    python3 - "$rep" "$limit" "$DURATION" "$line" >>"$OUT/results.tsv" <<'PY'
import sys
rep, limit, secs, line = sys.argv[1:]
kv = dict(p.split("=") for p in line.split()[1:])
n, bad = int(kv["requests"]), int(kv["non2xx"])
print("\t".join([rep, limit, kv["rps"], f"{(n - bad) / float(secs):.1f}", f"{bad / max(n, 1):.3f}", kv["p50_ms"], kv["p99_ms"], kv["max_ms"], kv["sock_err"]]))
PY
    log "rep $rep HTTP_MAX_IN_FLIGHT=$limit: $line"
    stop
  done
done

python3 - "$OUT/results.tsv" "$CONNS" <<'PY' | tee "$OUT/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
limits = sorted({r["limit"] for r in rows}, key=int)
med = lambda limit, key: statistics.median(float(r[key]) for r in rows if r["limit"] == limit)
print(f"| POST /v1/todos, {sys.argv[2]} connections | responses/s | 201/s | shed (503) | p50 ms | p99 ms | max ms |")
print("|---|---:|---:|---:|---:|---:|---:|")
for limit in limits:
    label = "HTTP_MAX_IN_FLIGHT=0 (off: every request queues)" if limit == "0" else f"HTTP_MAX_IN_FLIGHT={limit}"
    print(f"| {label} | {med(limit, 'rps'):,.0f} | {med(limit, 'ok_rps'):,.0f} | {100 * med(limit, 'shed'):.0f} % | {med(limit, 'p50_ms'):.1f} | {med(limit, 'p99_ms'):.1f} | {med(limit, 'max_ms'):.0f} |")
PY
log "results in $OUT"
