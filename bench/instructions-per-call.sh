#!/usr/bin/env bash
# Instructions per call: REST GET /v1/todos/{id} against gRPC GetTodo and GraphQL todo(id),
# with the server under valgrind's callgrind, on the in-memory adapters.
#
# CPU time per call (bench/cpu-per-call.sh) is what a deployment pays, but on a shared
# 2-core machine it moves with whatever else runs. The count of instructions the server
# executes per call does not: run it twice and it agrees to within a percent, with a build
# running beside it. It leaves out the kernel's share, and it counts rather than times, so
# use it to compare builds and protocols, and cpu-per-call.sh for the figure itself.
#
#   bench/instructions-per-call.sh                   # the current release build
#   BIN=/tmp/backend-before bench/instructions-per-call.sh
#                                                    # another build, to compare with
#
# It also leaves a callgrind profile of each load in $OUT (callgrind_annotate reads it,
# inclusive of callees with --inclusive=yes), which says where each protocol's
# instructions go. Needs valgrind and wrk (both installed from Debian when missing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
DURATION=${DURATION:-5}
CONNS=${CONNS:-4}
ADDR=127.0.0.1:8091
URL=http://$ADDR
OUT=${OUT:-/tmp/todo-instructions-per-call}
mkdir -p "$OUT"
rm -f "$OUT"/callgrind.out.*

for tool in wrk valgrind; do
  command -v $tool >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $tool >/dev/null
  }
done
(cd "$ROOT" && cargo build --release -q -p backend -p grpc-load)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
BIN=${BIN:-$TARGET/backend}

# Instrumentation off until a load starts: start-up and the setup requests are not counted.
env -u DATABASE_URL -u REDIS_URL HTTP_ADDR=$ADDR RUST_LOG=warn \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out.%p" \
  "$BIN" serve >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -sf $URL/healthz >/dev/null && break; sleep 0.2; done

. "$ROOT/bench/seed-in-memory.sh"
seed_in_memory

measure() { # slug, label, then the load command, which prints a RESULT line with requests=
  local slug=$1 label=$2; shift 2
  local line requests instructions failed
  callgrind_control -i on "$SERVER" >/dev/null 2>&1
  callgrind_control -z "$SERVER" >/dev/null 2>&1
  line=$("$@" | grep '^RESULT')
  callgrind_control -d "$slug" "$SERVER" >/dev/null 2>&1
  callgrind_control -i off "$SERVER" >/dev/null 2>&1
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  # The dump just written: its `totals:` line is the instructions since the zeroing.
  instructions=$(grep -h '^totals:' $(ls -t "$OUT"/callgrind.out.* | head -n 1) | awk '{print $2}')
  failed=$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$line")
  python3 - "$label" "$requests" "$instructions" "$failed" <<'PY'
import sys
label, requests, instructions, failed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"| {label} | {requests:,} | {failed} | {instructions / requests / 1000:,.1f} |")
PY
}

echo "| load | calls | failed | server instructions per call (thousands) |"
echo "|---|---:|---:|---:|"
measure rest "REST GET, wrk, $CONNS connections" \
  env WRK_BEARER="$TOKEN" wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$SHARED/wrk/route.lua" $URL -- byid /v1/todos/ "$OUT/ids.txt"
measure grpc "gRPC GetTodo, $CONNS calls over $CONNS connections" \
  "$TARGET/grpc-load" --url $URL --token "$TOKEN" --ids "$OUT/ids.txt" --concurrency "$CONNS" --connections "$CONNS" --duration "$DURATION"
measure graphql "GraphQL todo(id), wrk, $CONNS connections" \
  env WRK_BEARER="$TOKEN" wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$ROOT/bench/wrk/graphql_todo.lua" $URL -- "$OUT/ids.txt"
