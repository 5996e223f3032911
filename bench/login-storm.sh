#!/usr/bin/env bash
# A login flood: 200 connections logging in as fast as they can, against the app with the
# password-hashing bound (the defaults) and, in the same run, with it effectively off
# (2048 slots, a minute's wait). For each, it reports the peak RSS of the process and how
# fast /healthz and an authenticated GET /v1/todos answer during the flood.
#
#   bench/login-storm.sh                 # DURATION=15 CONNS=200
#
# In-memory adapters: the flood is about CPU and memory in the process, not the database.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-15}
CONNS=${CONNS:-200}
OUT=${OUT:-/tmp/todo-bench/storm-$(date +%Y%m%d-%H%M%S)}
ADDR=127.0.0.1:8090
mkdir -p "$OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

(cd "$ROOT" && cargo build --release -q -p backend)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/backend"

kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$2/status"; }

storm() { # label, then env assignments
  local label=$1; shift
  env "$@" HTTP_ADDR=$ADDR RUST_LOG=error "$BIN" serve >"$OUT/$label.log" 2>&1 &
  local pid=$!
  PIDS+=($pid)
  for _ in $(seq 50); do curl -sf "http://$ADDR/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf -XPOST "http://$ADDR/v1/users" -H 'content-type: application/json' \
    -d '{"email":"storm@example.org","password":"storm-password","display_name":"Storm"}' >/dev/null
  local token
  token=$(curl -sf -XPOST "http://$ADDR/v1/sessions" -H 'content-type: application/json' \
    -d '{"email":"storm@example.org","password":"storm-password"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
  local idle_rss
  idle_rss=$(kib VmRSS $pid)

  wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 30s -s "$ROOT/bench/wrk/log_in.lua" "http://$ADDR" >"$OUT/$label.wrk" 2>&1 &
  local wrk_pid=$!
  sleep 2
  # Other routes during the flood: the slowest of 20 answers of each.
  local worst_health=0 worst_list=0 t
  for _ in $(seq 20); do
    t=$(curl -s -o /dev/null -w '%{time_total}' "http://$ADDR/healthz")
    worst_health=$(echo "$t $worst_health" | awk '{print ($1 > $2) ? $1 : $2}')
    t=$(curl -s -o /dev/null -w '%{time_total}' -H "authorization: Bearer $token" "http://$ADDR/v1/todos")
    worst_list=$(echo "$t $worst_list" | awk '{print ($1 > $2) ? $1 : $2}')
    sleep 0.3
  done
  wait $wrk_pid
  local peak_rss
  peak_rss=$(kib VmHWM $pid)
  kill $pid; wait $pid 2>/dev/null || true
  printf '%-10s idle_rss=%sMiB peak_rss=%sMiB worst_healthz=%ss worst_list=%ss %s\n' "$label" \
    $((idle_rss / 1024)) $((peak_rss / 1024)) "$worst_health" "$worst_list" \
    "$(grep RESULT "$OUT/$label.wrk" | sed 's/RESULT //')" | tee -a "$OUT/summary.txt"
}

storm bounded
storm unbounded PASSWORD_HASH_CONCURRENCY=2048 PASSWORD_HASH_MAX_WAIT_MS=60000
echo "raw output in $OUT"
