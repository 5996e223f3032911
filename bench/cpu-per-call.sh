#!/usr/bin/env bash
# Server CPU per call: REST GET /v1/todos/{id} against gRPC GetTodo and GraphQL todo(id), on the in-memory
# adapters (no Postgres, no Redis), so that what is measured is the protocol stack alone.
#
# Throughput on a 2-core machine is shared between the server and its load generator, and
# wrk (C, one request per connection) costs far less than a tonic client does. So besides
# req/s this reads the server's own CPU time from /proc before and after each run and reports
# CPU microseconds per call: the server's cost, whoever drives it.
#
#   bench/cpu-per-call.sh            # DURATION=10 CONNS=64
#   PERF=1 bench/cpu-per-call.sh     # and a flat profile of each load (needs perf): the
#                                    # server's CPU by crate, and its hottest functions
#   BIN=/tmp/backend-before bench/cpu-per-call.sh
#                                    # another build of the server (a copy of an earlier
#                                    # target/release/backend), to compare a change with
#                                    # what was there before it, run by run
#
# The release binary keeps its symbols, so a flat profile (self time per function) needs no
# special build; bench/profile.sh builds with frame pointers for whole call stacks.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
ADDR=127.0.0.1:8090
URL=http://$ADDR
OUT=${OUT:-/tmp/todo-cpu-per-call}
mkdir -p "$OUT"

command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
(cd "$ROOT" && cargo build --release -q -p backend -p grpc-load)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"

BIN=${BIN:-$TARGET/backend}
env -u DATABASE_URL -u REDIS_URL HTTP_ADDR=$ADDR RUST_LOG=warn "$BIN" serve >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf $URL/healthz >/dev/null && break; sleep 0.2; done

. "$ROOT/bench/seed-in-memory.sh"
seed_in_memory

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
TICK=$(getconf CLK_TCK)
PERF=${PERF:-}
measure() { # label, then the load command, which prints a RESULT line
  local label=$1; shift
  local before after line rps slug perf_pid=
  slug=$(tr -c 'a-zA-Z0-9' '-' <<<"$label" | tr -s '-' | sed 's/-$//')
  if [ -n "$PERF" ]; then
    perf record -q -F 999 -p "$SERVER" -o "$OUT/$slug.perf" 2>/dev/null &
    perf_pid=$!
  fi
  before=$(cpu_ticks)
  line=$("$@" | grep '^RESULT')
  after=$(cpu_ticks)
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    perf report -i "$OUT/$slug.perf" --no-children --sort symbol --stdio 2>/dev/null \
      | grep -E '^ +[0-9.]+%' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' \
      >"$OUT/$slug.symbols.txt" || true
  fi
  rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")
  python3 - "$label" "$before" "$after" "$TICK" "$rps" "$DURATION" "$line" <<'PY'
import sys
label, before, after, tick, rps, duration, line = sys.argv[1:]
calls = float(rps) * float(duration)
cpu_us = (int(after) - int(before)) / int(tick) * 1e6
p99 = [kv.split("=")[1] for kv in line.split() if kv.startswith("p99_ms=")][0]
print(f"| {label} | {float(rps):,.0f} | {p99} | {cpu_us / calls:.1f} |")
PY
}

echo "| load | req/s | p99 ms | server CPU µs per call |"
echo "|---|---:|---:|---:|"
for rep in 1 2; do
  measure "REST GET, wrk, $CONNS connections (rep $rep)" \
    env WRK_BEARER="$TOKEN" wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$SHARED/wrk/route.lua" $URL -- byid /v1/todos/ "$OUT/ids.txt"
  measure "gRPC GetTodo, $CONNS calls over $CONNS connections (rep $rep)" \
    "$TARGET/grpc-load" --url $URL --token "$TOKEN" --ids "$OUT/ids.txt" --concurrency "$CONNS" --connections "$CONNS" --duration "$DURATION"
  measure "gRPC GetTodo, $CONNS calls over 4 connections (rep $rep)" \
    "$TARGET/grpc-load" --url $URL --token "$TOKEN" --ids "$OUT/ids.txt" --concurrency "$CONNS" --connections 4 --duration "$DURATION"
  measure "GraphQL todo(id), wrk, $CONNS connections (rep $rep)" \
    env WRK_BEARER="$TOKEN" wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$ROOT/bench/wrk/graphql_todo.lua" $URL -- "$OUT/ids.txt"
done

if [ -n "$PERF" ]; then
  # Self time by crate (the first path segment of each symbol), per load: where each
  # protocol's CPU goes. The hottest functions are in $OUT/*.symbols.txt.
  python3 - "$OUT" <<'PY'
import collections, glob, os, re, sys
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*rep-1.symbols.txt"))):
    by_crate = collections.Counter()
    for line in open(path):
        m = re.match(r"\s+([0-9.]+)%\s+\[[.k]\]\s+(.*)", line)
        if not m:
            continue
        share, symbol = float(m.group(1)), m.group(2).strip()
        symbol = re.sub(r"^<", "", symbol)
        crate = re.split(r"::|<| ", symbol)[0] or symbol
        if m.group(0).find("[k]") >= 0:
            crate = "kernel"
        elif crate.startswith(("_mi_", "mi_")):
            crate = "allocator (mimalloc)"
        elif crate == "T":
            crate = "generic impls (<T as …>)"
        elif crate.startswith(("__mem", "mem")):
            crate = "memcpy/memmove (libc)"
        by_crate[crate] += share
    name = os.path.basename(path).replace(".symbols.txt", "")
    top = ", ".join(f"{crate} {share:.1f}%" for crate, share in by_crate.most_common(12))
    print(f"- {name}: {top}")
PY
fi
