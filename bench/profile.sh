#!/usr/bin/env bash
# Where a request's CPU goes: `perf record` on the release server while wrk drives one
# route, then the hottest functions (self time) and, when inferno is installed, a flame
# graph. Run it before and after a change, to see what the change moved.
#
#   bench/profile.sh                     # cached reads: GET /v1/todos/{id}, cache warm
#   ROUTE=nocache bench/profile.sh       # the same read with the cache off (Postgres)
#   ROUTE=create bench/profile.sh        # POST /v1/todos
#   DURATION=20 CONNS=64 bench/profile.sh
#
# Needs: perf, wrk, the machine's Postgres and Redis. `cargo install inferno` adds the flame
# graph (flame.svg) and the folded stacks. The script builds its own release binary, with
# frame pointers (so perf can walk async stacks cheaply) and line tables, in
# target/profile: the first run takes a full release build, about 12 minutes on 2 cores.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUTE=${ROUTE:-cached}
DURATION=${DURATION:-15}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
OUT=${OUT:-/tmp/todo-profile/$(date +%Y%m%d-%H%M%S)-$ROUTE}
DB=todo_profile
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
PORT=18480
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

command -v perf >/dev/null || { echo "perf is needed: apt-get install linux-perf" >&2; exit 1; }
command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

log "release build with frame pointers and line tables (target/profile)"
(cd "$ROOT" && RUSTFLAGS="-C force-frame-pointers=yes" CARGO_TARGET_DIR="$ROOT/target/profile" \
  CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release -q -p backend)
BIN="$ROOT/target/profile/release/backend"

psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
DATABASE_URL=$DB_URL "$BIN" migrate >"$OUT/migrate.log" 2>&1

cache_ttl=3600
[[ $ROUTE == nocache ]] && cache_ttl=0
env DATABASE_URL=$DB_URL REDIS_URL=redis://127.0.0.1:6379 "REDIS_KEY_PREFIX=profile-$(date +%s):" \
  HTTP_ADDR=127.0.0.1:$PORT CACHE_TTL_SECS=$cache_ttl RUST_LOG=warn DATABASE_MAX_CONNECTIONS=16 \
  LOGIN_LIMIT_PER_EMAIL=0 LOGIN_LIMIT_PER_ADDRESS=0 "$BIN" serve >"$OUT/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done

curl -sf -o /dev/null "$BASE/v1/users" -H 'content-type: application/json' \
  -d '{"email":"profile@example.org","password":"profile-password","display_name":"Profile"}'
token=$(curl -sf "$BASE/v1/sessions" -H 'content-type: application/json' \
  -d '{"email":"profile@example.org","password":"profile-password"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
ids="$OUT/ids.txt"
for n in $(seq 100); do
  curl -sf "$BASE/v1/todos" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"title\":\"Profile $n\",\"tags\":[\"bench\"]}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
done >"$ids"
# Every id read once, so a cached read is a hit from the start.
while read -r id; do curl -sf -o /dev/null -H "authorization: Bearer $token" "$BASE/v1/todos/$id"; done <"$ids"

lua="$ROOT/../shared/bench/wrk/route.lua"
case $ROUTE in
  cached | nocache) args=(-s "$lua" "$BASE" -- byid /v1/todos/ "$ids") ;;
  create) args=(-s "$ROOT/bench/wrk/create_todo.lua" "$BASE") ;;
  *) echo "ROUTE is cached, nocache or create" >&2; exit 1 ;;
esac

log "wrk for ${DURATION}s on $ROUTE, perf recording the server (pid $server)"
perf record -F 999 --call-graph fp -p "$server" -o "$OUT/perf.data" -- sleep "$DURATION" 2>"$OUT/perf.log" &
recorder=$!
WRK_BEARER=$token WRK_THREADS=$THREADS wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "${args[@]}" >"$OUT/wrk.txt"
wait $recorder
grep -E '^RESULT|Requests/sec' "$OUT/wrk.txt" >&2 || true

log "the hottest functions (self time)"
perf report -i "$OUT/perf.data" --no-children --stdio --percent-limit 0.7 -g none \
  --sort dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | sed 's/  */ /g' >"$OUT/top.txt"
head -40 "$OUT/top.txt" >&2
if command -v inferno-collapse-perf >/dev/null; then
  perf script -i "$OUT/perf.data" 2>/dev/null | inferno-collapse-perf --kernel >"$OUT/folded.txt"
  inferno-flamegraph <"$OUT/folded.txt" >"$OUT/flame.svg"
  log "flame graph: $OUT/flame.svg; the share of samples under each part of the stack:"
  python3 "$ROOT/bench/profile_shares.py" "$OUT/folded.txt" | tee "$OUT/shares.txt" >&2
fi
log "everything is in $OUT"
