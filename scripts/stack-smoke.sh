#!/usr/bin/env bash
# The whole stack of docker-compose.yml, built and run for real, then checked from outside:
#
#   1. builds the image and brings the stack up (Postgres, Redis, migrate, api, worker),
#      and waits until the API and the worker report healthy;
#   2. runs the README's curl walkthrough (the "Try it" block, taken from README.md itself);
#   3. sends one gRPC call (ListTodos, as raw gRPC frames over h2c with curl) and one GraphQL
#      query, and checks that each returns the todo the walkthrough created;
#   4. creates a todo due today and waits until the worker's reminder reaches the log
#      notifier (the worker runs with REMINDER_WINDOW_MINUTES=1440, so today's deadline is
#      always inside the window, and its schedule ticks every minute);
#   5. stops the API with SIGTERM and checks it exits 0, then brings the stack down.
#
#   scripts/stack-smoke.sh
#
# Needs Docker with Compose (v2 plugin, or docker-compose 1.29) and the base images. On a
# machine that reaches no registry, build stand-ins first:
# ../shared/containers/build-image-stand-ins.sh. Postgres and Redis are published on
# POSTGRES_PORT and REDIS_PORT (default 55432 and 56379 here, so that they do not collide
# with servers already on this machine); the API on 127.0.0.1:${API_PORT:-8080}.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export POSTGRES_PORT=${POSTGRES_PORT:-55432} REDIS_PORT=${REDIS_PORT:-56379} API_PORT=${API_PORT:-8080}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-todo-smoke}
API=http://127.0.0.1:$API_PORT

if docker compose version >/dev/null 2>&1; then
  compose() { docker compose "$@"; }
elif command -v docker-compose >/dev/null; then
  compose() { docker-compose "$@"; }
else
  echo "stack-smoke: neither 'docker compose' nor 'docker-compose' is installed" >&2
  exit 1
fi

started=$(date +%s)
log() { printf '[%3ss] %s\n' "$(($(date +%s) - started))" "$*" >&2; }
fail() {
  log "FAILED: $*"
  compose logs --no-color --tail=50 >&2 || true
  exit 1
}
# The worker's reminder window, for this run only (an override file, so the stack file
# stays what a developer runs).
override=$(mktemp --suffix=.yml)
cat >"$override" <<'EOF'
services:
  worker:
    environment:
      REMINDER_WINDOW_MINUTES: "1440"
EOF
down() {
  compose -f docker-compose.yml -f "$override" down -v --remove-orphans >/dev/null 2>&1 || true
  rm -f "$override"
}
trap down EXIT
stack() { compose -f docker-compose.yml -f "$override" "$@"; }

log "building the image"
stack build
log "bringing the stack up"
stack up -d
for _ in $(seq 120); do
  curl -sf "$API/readyz" >/dev/null 2>&1 && break
  sleep 1
done
curl -sf "$API/readyz" >/dev/null || fail "the API never became ready"
migrate_exit=$(docker inspect -f '{{.State.ExitCode}}' "$(stack ps -a -q migrate)")
[ "$migrate_exit" = 0 ] || fail "migrate exited $migrate_exit"
log "ready; migrate exited 0"
for service in api worker; do
  for _ in $(seq 60); do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$(stack ps -a -q $service)")
    [ "$health" = healthy ] && break
    sleep 1
  done
  [ "$health" = healthy ] || fail "$service is $health, not healthy"
done
log "api and worker report healthy (backend probe)"

log "the README's walkthrough"
walkthrough=$(awk '/^Try it:/ {found = 1; next} found && /^```sh/ {inside = 1; next} inside && /^```/ {exit} inside {print}' README.md)
[ -n "$walkthrough" ] || fail "no 'Try it' block in README.md"
out=$(bash -euo pipefail -c "$walkthrough
echo
echo \"TOKEN=\$TOKEN\"" 2>&1) || fail "the walkthrough failed: $out"
printf '%s\n' "$out" | grep -v '^TOKEN=' | sed 's/^/    /' >&2
TOKEN=$(printf '%s\n' "$out" | sed -n 's/^TOKEN=//p')
[ -n "$TOKEN" ] || fail "the walkthrough logged no one in"
printf '%s' "$out" | grep -q '"title":"Try the API"' || fail "the walkthrough's todo is not listed"

log "one gRPC call: todo.v1.TodoService/ListTodos"
# An empty ListTodosRequest in one gRPC frame: no compression, length 0.
grpc=$(printf '\0\0\0\0\0' | curl -s --http2-prior-knowledge -X POST \
  -H 'content-type: application/grpc' -H 'te: trailers' -H "authorization: Bearer $TOKEN" \
  --data-binary @- "$API/todo.v1.TodoService/ListTodos" | tr -c '[:print:]' '.')
printf '%s' "$grpc" | grep -q 'Try the API' || fail "ListTodos did not return the todo: $grpc"

log "one GraphQL query"
graphql=$(curl -sf -XPOST "$API/graphql" -H 'content-type: application/json' \
  -H "authorization: Bearer $TOKEN" -d '{"query":"{ todos(first: 5) { edges { node { title tags } } } }"}')
printf '%s' "$graphql" | grep -q '"title":"Try the API"' || fail "todos did not return the todo: $graphql"

log "a todo due today, and its reminder"
today=$(date -u +%F)
curl -sf -XPOST "$API/v1/todos" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"title\":\"Due today\",\"due_date\":\"$today\"}" >/dev/null || fail "cannot create the todo due today"
reminded=
for _ in $(seq 90); do # the schedule ticks at the start of every minute
  if stack logs --no-color worker 2>/dev/null | grep -q 'reminder: a todo falls due soon'; then
    reminded=yes
    break
  fi
  sleep 2
done
[ -n "$reminded" ] || fail "no reminder reached the log notifier"
stack logs --no-color worker | grep 'reminder: a todo falls due soon' | tail -1 | sed 's/^/    /' >&2

log "SIGTERM to the API: it drains and exits 0"
stack stop -t 30 api >/dev/null
api_exit=$(docker inspect -f '{{.State.ExitCode}}' "$(stack ps -a -q api)")
[ "$api_exit" = 0 ] || fail "the API exited $api_exit after SIGTERM"

log "passed; bringing the stack down"
