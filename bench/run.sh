#!/usr/bin/env bash
# Load benchmark: this service against the bare axum + sqlx + redis baseline in
# ../shared/bench/baseline, in one run, on one machine, against one Postgres and one Redis.
# Figures are reported as app ÷ baseline ratios of medians, because absolute numbers on a
# shared 2-core VM move by 10-15 % from run to run.
#
# Beside throughput, every run reports the server's own CPU per request: its user + system
# time from /proc/<pid>/stat before and after the run, divided by the requests it answered.
# On 2 shared cores the load generator's CPU distorts throughput (a tonic client costs more
# than wrk), so CPU per request is the figure that says what a deployment pays.
#
#   bench/run.sh                        # REPS=3 DURATION=10 CONNS=64 THREADS=2
#   REPS=5 DURATION=20 bench/run.sh
#
# Pairs (each side does the same I/O: one Redis session lookup, then the read or write):
#   read, cache off   app GET /v1/todos/{id} (CACHE_TTL_SECS=0)  vs  baseline GET /auth/todos/{id}
#   read, cache warm  app GET /v1/todos/{id}                     vs  baseline GET /auth/cached/{id}
#   create            app POST /v1/todos                         vs  baseline POST /todos (no session lookup)
#                     (also at 1 and 4 connections, and each time against the app with group
#                     commit off, DATABASE_GROUP_COMMIT_MAX_BATCH=1: the lever alone)
#   list              app GET /v1/todos?limit=20                 (no baseline route: absolute only)
#   graphql, cache off   GraphQL todo(id)  vs  REST GET /v1/todos/{id} (same app, cache off)
#   graphql, cache warm  GraphQL todo(id)  vs  REST GET /v1/todos/{id} (same app, cache warm)
#   grpc, cache off      gRPC GetTodo      vs  REST GET /v1/todos/{id} (same app, cache off)
#   grpc, cache warm     gRPC GetTodo      vs  REST GET /v1/todos/{id} (same app, cache warm)
#
# gRPC load comes from bench/grpc-load (a tokio/tonic client: ghz is not available here), with
# CONNS calls in flight over CONNS HTTP/2 connections, as wrk has CONNS connections.
#
# Knobs: REPS DURATION CONNS THREADS OUT SHARED_BENCH BASELINE_TEST_BEFORE_ACQUIRE (default 0,
# the pool setting this app uses, so the comparison is of the layers and not of the pool),
# BENCHES (a regex of the bench names to run, default all: BENCHES=create runs the creates).
# Needs: the machine's Postgres (trust or the `bench` role) and Redis; installs wrk if missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
OUT=${OUT:-/tmp/todo-bench/$(date +%Y%m%d-%H%M%S)}
BASELINE_TEST_BEFORE_ACQUIRE=${BASELINE_TEST_BEFORE_ACQUIRE:-0}
BENCHES=${BENCHES:-.}
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=bench PGPASSWORD=bench
APP_DB=todo_bench
APP_DB_URL="postgres://bench:bench@127.0.0.1:5432/$APP_DB"
REDIS_URL=redis://127.0.0.1:6379
APP=http://127.0.0.1:8080          # cache on
APP_NOCACHE=http://127.0.0.1:8081  # cache off
# The same two with Redis client-side caching off (REDIS_CLIENT_CACHE_ENTRIES=0): every
# session and cache read is a round trip to Redis. Only for the lever's own effect.
APP_NOLOCAL=http://127.0.0.1:8082
APP_NOCACHE_NOLOCAL=http://127.0.0.1:8083
APP_NOGROUP=http://127.0.0.1:8084  # group commit off
BASE=http://127.0.0.1:3000
ROUTE_LUA="$SHARED/wrk/route.lua"
CREATE_LUA="$ROOT/bench/wrk/create_todo.lua"
GRAPHQL_LUA="$ROOT/bench/wrk/graphql_todo.lua"

mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

log "services and the baseline's data (100k todos)"
"$SHARED/setup-services.sh" >>"$OUT/run.log" 2>&1

log "building the app and the baseline (release)"
(cd "$ROOT" && cargo build --release -q -p backend -p grpc-load)
# The shared folder is read-only: build a copy, with a target directory that survives reruns.
rm -rf /tmp/todo-bench-baseline && cp -r "$SHARED/baseline" /tmp/todo-bench-baseline
(cd /tmp/todo-bench-baseline && CARGO_TARGET_DIR=/tmp/todo-bench-baseline-target cargo build --release -q)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/backend"
GRPC_LOAD="${CARGO_TARGET_DIR:-$ROOT/target}/release/grpc-load"

log "the app's database: migrated, 100k todos, 100 of them the bench user's"
# As the postgres superuser over the local socket (su keeps our PG* variables, so drop them).
su postgres -c "env -u PGUSER -u PGPASSWORD -u PGHOST -u PGPORT psql -qc 'DROP DATABASE IF EXISTS $APP_DB WITH (FORCE)' -c 'CREATE DATABASE $APP_DB OWNER bench'" >/dev/null
DATABASE_URL=$APP_DB_URL "$BIN" migrate >>"$OUT/run.log"

rss() { # name pid: the process's resident memory now and at its peak, in MB
  awk -v name="$1" '/^VmRSS/{now=$2} /^VmHWM/{peak=$2} END{printf "%s\t%.1f\t%.1f\n", name, now/1024, peak/1024}' "/proc/$2/status" >>"$OUT/rss.tsv"
}
clean_posts() {
  psql -d $APP_DB -qc "DELETE FROM todos WHERE title LIKE 'bench-post%'" -c "DELETE FROM outbox" -c "VACUUM ANALYZE todos, outbox" >/dev/null
  psql -d bench -qc "DELETE FROM todos WHERE title LIKE 'bench-post%'" -c "VACUUM ANALYZE todos" >/dev/null
}
declare -A PID_OF # base URL -> the pid of the server answering it, for its CPU time
start() { # name url, then env assignments for the process (env execs it: one pid)
  local name=$1 url=$2; shift 2
  env "$@" >"$OUT/$name.log" 2>&1 &
  PIDS+=($!)
  PID_OF[$url]=$!
}
# A key prefix of this run's own: a cache entry left by an earlier run would describe a todo
# of the database that run dropped.
app_env=(DATABASE_URL=$APP_DB_URL REDIS_URL=$REDIS_URL "REDIS_KEY_PREFIX=bench-app-$(date +%s):" RUST_LOG=warn DATABASE_MAX_CONNECTIONS=16)
start app $APP "${app_env[@]}" HTTP_ADDR=127.0.0.1:8080 CACHE_TTL_SECS=3600 "$BIN" serve
APP_PID=${PIDS[-1]}
start app-nocache $APP_NOCACHE "${app_env[@]}" HTTP_ADDR=127.0.0.1:8081 CACHE_TTL_SECS=0 "$BIN" serve
start app-nolocal $APP_NOLOCAL "${app_env[@]}" HTTP_ADDR=127.0.0.1:8082 CACHE_TTL_SECS=3600 REDIS_CLIENT_CACHE_ENTRIES=0 "$BIN" serve
start app-nocache-nolocal $APP_NOCACHE_NOLOCAL "${app_env[@]}" HTTP_ADDR=127.0.0.1:8083 CACHE_TTL_SECS=0 REDIS_CLIENT_CACHE_ENTRIES=0 "$BIN" serve
start baseline $BASE BIND=127.0.0.1:3000 DATABASE_URL=postgres://bench:bench@127.0.0.1:5432/bench REDIS_URL=$REDIS_URL \
  DB_POOL=16 DB_TEST_BEFORE_ACQUIRE=$BASELINE_TEST_BEFORE_ACQUIRE /tmp/todo-bench-baseline-target/release/baseline
for url in $APP $APP_NOCACHE $APP_NOLOCAL $APP_NOCACHE_NOLOCAL $BASE; do
  for _ in $(seq 50); do curl -sf "$url/healthz" >/dev/null 2>&1 || curl -sf "$url/plain" >/dev/null 2>&1 && break; sleep 0.2; done
done

# The app with group commit off runs only for the creates of each rep: a sixth pool of 16
# connections held open through the rep would leave pgbench's anchor (16 clients) over
# Postgres' default max_connections of 100.
nogroup_up() {
  start app-nogroup $APP_NOGROUP "${app_env[@]}" HTTP_ADDR=127.0.0.1:8084 CACHE_TTL_SECS=3600 DATABASE_GROUP_COMMIT_MAX_BATCH=1 "$BIN" serve
  for _ in $(seq 50); do curl -sf "$APP_NOGROUP/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
}
nogroup_down() {
  kill "${PID_OF[$APP_NOGROUP]}"
  wait "${PID_OF[$APP_NOGROUP]}" 2>/dev/null || true
}

printf 'when\trss_mb\tpeak_mb\n' >"$OUT/rss.tsv"
rss "idle, just started" "$APP_PID"
curl -sf -XPOST $APP/v1/users -H 'content-type: application/json' \
  -d '{"email":"bench@example.org","password":"bench-password","display_name":"Bench"}' >/dev/null
TOKEN=$(curl -sf -XPOST $APP/v1/sessions -H 'content-type: application/json' \
  -d '{"email":"bench@example.org","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
rss "right after a registration and a login (argon2id's 19 MiB buffer)" "$APP_PID"
psql -d $APP_DB -q -v ON_ERROR_STOP=1 <<'SQL' >>"$OUT/run.log"
INSERT INTO users (id, email, display_name, password_hash, role, created_at)
SELECT md5('filler' || n)::uuid, 'filler' || n || '@bench.local', 'Filler', 'x', 'member', now()
FROM generate_series(1, 999) n;
INSERT INTO todos (id, owner_id, title, tags, version, created_at, updated_at)
SELECT md5('todo' || n)::uuid,
       CASE WHEN n % 1000 = 1 THEN (SELECT id FROM users WHERE email = 'bench@example.org')
            ELSE md5('filler' || (n % 999 + 1))::uuid END,
       'Todo number ' || n, ARRAY['bench'], 1, now(), now()
FROM generate_series(1, 100000) n;
VACUUM ANALYZE;
SQL
APP_IDS=$OUT/app-ids.txt BASE_IDS=$OUT/baseline-ids.txt
# Rows a create run left behind (a run that was stopped before its clean-up) are not read:
# the clean-up of this run would delete them between reps, and their reads would be 404s.
clean_posts
psql -d $APP_DB -Atc "SELECT t.id FROM todos t JOIN users u ON u.id = t.owner_id WHERE u.email = 'bench@example.org' AND t.title NOT LIKE 'bench-post%'" >"$APP_IDS"
psql -d bench -Atc "SELECT id FROM todos WHERE owner_id = md5('owner1')::uuid AND title NOT LIKE 'bench-post%'" >"$BASE_IDS"
log "$(wc -l <"$APP_IDS") app ids, $(wc -l <"$BASE_IDS") baseline ids"

printf 'rep\tbench\ttarget\trps\tp50_ms\tp99_ms\tnon2xx\tsock_err\tcpu_us\n' >"$OUT/results.tsv"
# The same single-row insert straight into each database (pgbench, no HTTP): what the app's
# richer schema (foreign key, GIN index on tags, two list indexes) costs by itself.
schema_anchor() { # rep
  [[ insert_sql =~ $BENCHES ]] || return 0
  local rep=$1 base app
  base=$(pgbench -n -M prepared -c 16 -j 2 -T "$DURATION" -d bench -f "$SHARED/pgbench/insert.sql" 2>/dev/null | awk '/^tps/{print $3}')
  app=$(pgbench -n -M prepared -c 16 -j 2 -T "$DURATION" -d $APP_DB -f "$ROOT/bench/pgbench/insert_todo.sql" 2>/dev/null | awk '/^tps/{print $3}')
  printf '%s\tinsert_sql\tbaseline\t%s\t0\t0\t0\t0\t0\n%s\tinsert_sql\tapp\t%s\t0\t0\t0\t0\t0\n' "$rep" "$base" "$rep" "$app" >>"$OUT/results.tsv"
  log "rep $rep pgbench insert: baseline schema $base tps, app schema $app tps"
  clean_posts
  # The create lever alone: the todo and its outbox event as a transaction (four round
  # trips) and as one statement (the app's write path), on the app's schema.
  local tx cte
  tx=$(pgbench -n -M prepared -c 16 -j 2 -T "$DURATION" -d $APP_DB -f "$ROOT/bench/pgbench/insert_todo_tx.sql" 2>/dev/null | awk '/^tps/{print $3}')
  clean_posts
  cte=$(pgbench -n -M prepared -c 16 -j 2 -T "$DURATION" -d $APP_DB -f "$ROOT/bench/pgbench/insert_todo_cte.sql" 2>/dev/null | awk '/^tps/{print $3}')
  clean_posts
  printf '%s\twrite_path\ttransaction\t%s\t0\t0\t0\t0\t0\n%s\twrite_path\tstatement\t%s\t0\t0\t0\t0\t0\n' "$rep" "$tx" "$rep" "$cte" >>"$OUT/results.tsv"
  log "rep $rep pgbench todo + event: transaction $tx tps, one statement $cte tps"
}
statement_anchor() { # rep connections
  [[ "create_c$2" =~ $BENCHES ]] || return 0
  local rep=$1 conns=$2 base app
  base=$(pgbench -n -M prepared -c "$conns" -j 1 -T "$DURATION" -d bench -f "$SHARED/pgbench/insert.sql" 2>/dev/null | awk '/^tps/{print $3}')
  app=$(pgbench -n -M prepared -c "$conns" -j 1 -T "$DURATION" -d $APP_DB -f "$ROOT/bench/pgbench/insert_todo_cte.sql" 2>/dev/null | awk '/^tps/{print $3}')
  clean_posts
  printf '%s\tstatement_c%s\tbaseline\t%s\t0\t0\t0\t0\t0\n%s\tstatement_c%s\tapp\t%s\t0\t0\t0\t0\t0\n' "$rep" "$conns" "$base" "$rep" "$conns" "$app" >>"$OUT/results.tsv"
  log "rep $rep pgbench at $conns connections: the bare insert $base tps, our todo + event $app tps"
}
TICK=$(getconf CLK_TCK)
cpu_ticks() { # url: the user + system CPU time, in clock ticks, of the server answering it
  awk '{print $14 + $15}' "/proc/${PID_OF[$1]}/stat"
}
record() { # rep bench target line ticks: one row of results.tsv from a RESULT line and the
  # server's CPU ticks over the run
  python3 - "$@" "$TICK" "$DURATION" >>"$OUT/results.tsv" <<'PY'
import sys
rep, bench, target, line, ticks, tick, duration = sys.argv[1:]
kv = dict(p.split("=") for p in line.split()[1:])
# wrk's scripts count the requests; grpc-load gives the rate over its whole duration.
requests = float(kv.get("requests") or float(kv["rps"]) * float(duration))
cpu_us = int(ticks) / int(tick) * 1e6 / requests if requests else 0
print("\t".join([rep, bench, target, kv["rps"], kv["p50_ms"], kv["p99_ms"], kv["non2xx"], kv["sock_err"], f"{cpu_us:.1f}"]))
PY
  log "rep $1 $2 $3: $4 (server CPU ticks $5)"
}
run() { # rep bench target url bearer lua args... (RUN_CONNS=n run ...: n connections, not CONNS)
  local rep=$1 bench=$2 target=$3 url=$4 bearer=$5 lua=$6; shift 6
  [[ $bench =~ $BENCHES ]] || return 0
  local line before after conns=${RUN_CONNS:-$CONNS}
  local threads=$((THREADS < conns ? THREADS : conns)) # wrk wants a connection per thread
  before=$(cpu_ticks "$url")
  line=$(WRK_BEARER=$bearer WRK_THREADS=$threads wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency -s "$lua" "$url" -- "$@" | tee -a "$OUT/wrk.log" | grep '^RESULT')
  after=$(cpu_ticks "$url")
  record "$rep" "$bench" "$target" "$line" $((after - before))
}
run_grpc() { # rep bench url
  local rep=$1 bench=$2 url=$3 line before after
  [[ $bench =~ $BENCHES ]] || return 0
  before=$(cpu_ticks "$url")
  line=$("$GRPC_LOAD" --url "$url" --token "$TOKEN" --ids "$APP_IDS" --concurrency "$CONNS" \
    --connections "$CONNS" --duration "$DURATION" | tee -a "$OUT/grpc.log" | grep '^RESULT')
  after=$(cpu_ticks "$url")
  record "$rep" "$bench" grpc "$line" $((after - before))
}

sleep 10
rss "idle again: the seeding and 10 s after the login" "$APP_PID"
log "warming both caches through their own miss paths"
WRK_BEARER=$TOKEN WRK_THREADS=$THREADS wrk -t"$THREADS" -c8 -d3s -s "$ROUTE_LUA" $APP -- seq /v1/todos/ "$APP_IDS" >/dev/null
WRK_BEARER=bench-token WRK_THREADS=$THREADS wrk -t"$THREADS" -c8 -d3s -s "$ROUTE_LUA" $BASE -- seq /auth/cached/ "$BASE_IDS" >/dev/null

for rep in $(seq "$REPS"); do
  run "$rep" read_nocache baseline $BASE bench-token "$ROUTE_LUA" byid /auth/todos/ "$BASE_IDS"
  run "$rep" read_nocache app $APP_NOCACHE "$TOKEN" "$ROUTE_LUA" byid /v1/todos/ "$APP_IDS"
  run "$rep" read_cached baseline $BASE bench-token "$ROUTE_LUA" byid /auth/cached/ "$BASE_IDS"
  run "$rep" read_cached app $APP "$TOKEN" "$ROUTE_LUA" byid /v1/todos/ "$APP_IDS"
  rss "right after the cached reads of rep $rep" "$APP_PID"
  # The client-side caching lever alone: the same reads with it off, against the same
  # baseline routes, in the same rep.
  run "$rep" read_nocache_nolocal baseline $BASE bench-token "$ROUTE_LUA" byid /auth/todos/ "$BASE_IDS"
  run "$rep" read_nocache_nolocal app $APP_NOCACHE_NOLOCAL "$TOKEN" "$ROUTE_LUA" byid /v1/todos/ "$APP_IDS"
  run "$rep" read_cached_nolocal baseline $BASE bench-token "$ROUTE_LUA" byid /auth/cached/ "$BASE_IDS"
  run "$rep" read_cached_nolocal app $APP_NOLOCAL "$TOKEN" "$ROUTE_LUA" byid /v1/todos/ "$APP_IDS"
  [[ "create create_c1 create_c4" =~ $BENCHES ]] && nogroup_up
  run "$rep" create baseline $BASE "" "$ROUTE_LUA" post /todos
  clean_posts
  run "$rep" create app $APP "$TOKEN" "$CREATE_LUA"
  clean_posts
  run "$rep" create app_nogroup $APP_NOGROUP "$TOKEN" "$CREATE_LUA"
  clean_posts
  # Group commit must not cost a client that is alone, or nearly.
  for conns in 1 4; do
    RUN_CONNS=$conns run "$rep" "create_c$conns" baseline $BASE "" "$ROUTE_LUA" post /todos
    clean_posts
    RUN_CONNS=$conns run "$rep" "create_c$conns" app $APP "$TOKEN" "$CREATE_LUA"
    clean_posts
    RUN_CONNS=$conns run "$rep" "create_c$conns" app_nogroup $APP_NOGROUP "$TOKEN" "$CREATE_LUA"
    clean_posts
  done
  [[ "create create_c1 create_c4" =~ $BENCHES ]] && nogroup_down
  # The same creates' statements straight into each database, at the same connections
  # (pgbench, no HTTP): how much of the gap at low concurrency is the database's, for the
  # bare server's one row against our todo and its event (after the group commit-off app
  # is gone, to keep within Postgres' connection limit).
  for conns in 1 4; do
    statement_anchor "$rep" "$conns"
  done
  run "$rep" create_nolocal baseline $BASE "" "$ROUTE_LUA" post /todos
  clean_posts
  run "$rep" create_nolocal app $APP_NOLOCAL "$TOKEN" "$CREATE_LUA"
  clean_posts
  run "$rep" list app $APP "$TOKEN" "$ROUTE_LUA" plain "/v1/todos?limit=20"
  # GraphQL against REST on the same app, the REST side measured again in the same rep.
  run "$rep" graphql_nocache rest $APP_NOCACHE "$TOKEN" "$ROUTE_LUA" byid /v1/todos/ "$APP_IDS"
  run "$rep" graphql_nocache graphql $APP_NOCACHE "$TOKEN" "$GRAPHQL_LUA" "$APP_IDS"
  run "$rep" graphql_cached rest $APP "$TOKEN" "$ROUTE_LUA" byid /v1/todos/ "$APP_IDS"
  run "$rep" graphql_cached graphql $APP "$TOKEN" "$GRAPHQL_LUA" "$APP_IDS"
  # gRPC against REST on the same app, likewise.
  run "$rep" grpc_nocache rest $APP_NOCACHE "$TOKEN" "$ROUTE_LUA" byid /v1/todos/ "$APP_IDS"
  run_grpc "$rep" grpc_nocache $APP_NOCACHE
  run "$rep" grpc_cached rest $APP "$TOKEN" "$ROUTE_LUA" byid /v1/todos/ "$APP_IDS"
  run_grpc "$rep" grpc_cached $APP
  schema_anchor "$rep"
done

python3 - "$OUT/results.tsv" "$CONNS" <<'PY' | tee "$OUT/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def med(bench, target, key):
    vals = [float(r[key]) for r in rows if r["bench"] == bench and r["target"] == target]
    return statistics.median(vals) if vals else None
errors = sum(int(r["non2xx"]) + int(r["sock_err"]) for r in rows)
def errs(bench):
    return sum(int(r["non2xx"]) + int(r["sock_err"]) for r in rows if r["bench"] == bench)
def cpu_ratio(bench, ours, theirs):
    # The server CPU per request of `ours` over `theirs`, rep by rep (each pair is measured
    # in the same rep), then the median of those ratios.
    by_rep = {}
    for r in rows:
        if r["bench"] == bench and r["target"] in (ours, theirs):
            by_rep.setdefault(r["rep"], {})[r["target"]] = float(r["cpu_us"])
    ratios = [v[ours] / v[theirs] for v in by_rep.values() if v.get(ours) and v.get(theirs)]
    return statistics.median(ratios) if ratios else None
def cpu_cells(bench, ours, theirs):
    a, b = med(bench, ours, "cpu_us"), med(bench, theirs, "cpu_us")
    ratio = cpu_ratio(bench, ours, theirs)
    return f"{a:.1f} | {b:.1f} | **{ratio:.2f}**" if ratio else f"{a or 0:.1f} | – | n/a"
print("| pair | app req/s | baseline req/s | app ÷ baseline | app p99 ms | baseline p99 ms | p99 app ÷ baseline | app CPU µs/req | baseline CPU µs/req | CPU app ÷ baseline | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for bench, label in [("read_nocache", "GET /v1/todos/{id}, cache off"), ("read_cached", "GET /v1/todos/{id}, cache warm"), ("create", "POST /v1/todos"), ("read_nocache_nolocal", "the same, client-side caching off: cache off"), ("read_cached_nolocal", "the same, client-side caching off: cache warm"), ("create_nolocal", "the same, client-side caching off: POST /v1/todos"), ("insert_sql", "the insert alone, pgbench (schema cost)"), ("list", "GET /v1/todos?limit=20")]:
    a, b = med(bench, "app", "rps"), med(bench, "baseline", "rps")
    if a is None:
        continue  # not run (BENCHES)
    ap, bp = med(bench, "app", "p99_ms"), med(bench, "baseline", "p99_ms")
    ratio = f"{a / b:.2f}" if b else "n/a"
    p99 = f"{ap / bp:.2f}" if bp else "n/a"  # pgbench rows carry no p99 (0): shown as n/a
    cpu = cpu_cells(bench, "app", "baseline") if bench != "insert_sql" else "– | – | n/a"
    row = f"| {label} | {a:,.0f} | {b:,.0f} | **{ratio}** | {ap:.2f} | {bp:.2f} | {p99} | {cpu} | {errs(bench)} |" if b else f"| {label} | {a:,.0f} | – | {ratio} | {ap:.2f} | – | {p99} | {cpu} | {errs(bench)} |"
    print(row)
print()
print("| POST /v1/todos by connections | app req/s | baseline req/s | app ÷ baseline (target ≥ 1.0) | app p99 ms | baseline p99 ms | p99 app ÷ baseline (target ≤ 1.5) | group commit off req/s | on ÷ off | p99 on ÷ off | the statements alone, pgbench: ours ÷ bare | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for bench, label in [("create_c1", "1 connection"), ("create_c4", "4 connections"), ("create", f"{sys.argv[2]} connections")]:
    a, b, o = (med(bench, t, "rps") for t in ("app", "baseline", "app_nogroup"))
    ap, bp, op = (med(bench, t, "p99_ms") for t in ("app", "baseline", "app_nogroup"))
    statement = bench.replace("create", "statement")
    sa, sb = med(statement, "app", "rps"), med(statement, "baseline", "rps")
    alone = f"{sa / sb:.2f}" if sa and sb else "–"
    if a and b and o:
        print(f"| {label} | {a:,.0f} | {b:,.0f} | **{a / b:.2f}** | {ap:.2f} | {bp:.2f} | **{ap / bp:.2f}** | {o:,.0f} | **{a / o:.2f}** | {ap / op:.2f} | {alone} | {errs(bench)} |")
if med("graphql_nocache", "graphql", "rps") or med("graphql_cached", "graphql", "rps"):
    print()
    print("| GraphQL against REST, same app | GraphQL req/s | REST req/s | GraphQL ÷ REST | GraphQL p99 ms | REST p99 ms | p99 GraphQL ÷ REST | GraphQL CPU µs/req | REST CPU µs/req | CPU GraphQL ÷ REST (target ≤ 1.3) | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for bench, label in [("graphql_nocache", "todo(id) vs GET /v1/todos/{id}, cache off"), ("graphql_cached", "todo(id) vs GET /v1/todos/{id}, cache warm")]:
    g, r = med(bench, "graphql", "rps"), med(bench, "rest", "rps")
    gp, rp = med(bench, "graphql", "p99_ms"), med(bench, "rest", "p99_ms")
    if g and r:
        print(f"| {label} | {g:,.0f} | {r:,.0f} | **{g / r:.2f}** | {gp:.2f} | {rp:.2f} | {gp / rp:.2f} | {cpu_cells(bench, 'graphql', 'rest')} | {errs(bench)} |")
if med("grpc_nocache", "grpc", "rps") or med("grpc_cached", "grpc", "rps"):
    print()
    print("| gRPC against REST, same app | gRPC req/s | REST req/s | gRPC ÷ REST | gRPC p99 ms | REST p99 ms | p99 gRPC ÷ REST | gRPC CPU µs/call | REST CPU µs/req | CPU gRPC ÷ REST (target ≤ 0.85) | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for bench, label in [("grpc_nocache", "GetTodo vs GET /v1/todos/{id}, cache off"), ("grpc_cached", "GetTodo vs GET /v1/todos/{id}, cache warm")]:
    g, r = med(bench, "grpc", "rps"), med(bench, "rest", "rps")
    gp, rp = med(bench, "grpc", "p99_ms"), med(bench, "rest", "p99_ms")
    if g and r:
        print(f"| {label} | {g:,.0f} | {r:,.0f} | **{g / r:.2f}** | {gp:.2f} | {rp:.2f} | {gp / rp:.2f} | {cpu_cells(bench, 'grpc', 'rest')} | {errs(bench)} |")
tx, one = med("write_path", "transaction", "rps"), med("write_path", "statement", "rps")
if tx and one:
    print()
    print("| write path, pgbench on the app's schema | tps |")
    print("|---|---:|")
    print(f"| todo + outbox event as a transaction (BEGIN, 2 INSERTs, COMMIT) | {tx:,.0f} |")
    print(f"| todo + outbox event as one statement (two CTEs) | {one:,.0f} |")
    print(f"| one statement ÷ transaction | **{one / tx:.2f}** |")
print(f"\nmedians of {len({r['rep'] for r in rows})} reps; non-2xx + socket errors across all runs: {errors}")
if errors:
    print("WARNING: some requests failed; the figures of the rows with errors are not valid")
    sys.exit(1)
PY
rss "after the load" "$APP_PID"
printf '\nResident memory of the app on :8080 (MB): now, and the peak so far\n\n' | tee -a "$OUT/summary.md"
column -t -s $'\t' "$OUT/rss.tsv" | tee -a "$OUT/summary.md"
log "results in $OUT"
