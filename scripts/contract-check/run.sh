#!/usr/bin/env bash
# Checks the running API against its own contracts with schemathesis, a schema-driven
# fuzzer: the REST API against /openapi.json with every check, and GraphQL against its
# introspected schema. The server is the example on in-memory adapters, started here.
#
#   scripts/contract-check/run.sh            # uses target/debug/backend, building it if needed
#   BIN=target/release/backend scripts/contract-check/run.sh
#   MAX_EXAMPLES=200 scripts/contract-check/run.sh   # a longer run than CI's
#
# It exits non-zero on any failure schemathesis reports, and keeps its reports (with each
# failing request as a curl command) in target/contract-check/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="${VENV:-$target/contract-check/venv}"
out="$target/contract-check"
port="${PORT:-18080}"
base="http://127.0.0.1:$port"

log() { printf '\n--> %s\n' "$*"; }

log "schemathesis (pinned in requirements.txt) in $venv"
mkdir -p "$out"
if ! "$venv/bin/python" -c 'import schemathesis' 2>/dev/null \
  || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi
"$venv/bin/schemathesis" --version

if [[ -z "${BIN:-}" ]]; then
  (cd "$root" && cargo build --quiet --locked -p backend)
  BIN="$target/debug/backend"
fi

log "the example server on in-memory adapters, at $base"
# A server left on the port would be checked instead of this one (ours could not bind).
if curl -fsS -o /dev/null "$base/healthz" 2>/dev/null; then
  echo "something already answers on $base: stop it, or set PORT to a free port" >&2
  exit 1
fi
# The attempt limits are off: they would answer the fuzzer's many logins and
# registrations with 429 before the rules behind them are reached. They have tests of
# their own (bin/tests/across/rate_limits.rs).
env -u DATABASE_URL -u REDIS_URL \
  HTTP_ADDR="127.0.0.1:$port" LOG_FORMAT=json RUST_LOG=warn \
  LOGIN_LIMIT_PER_EMAIL=0 LOGIN_LIMIT_PER_ADDRESS=0 REGISTER_LIMIT_PER_ADDRESS=0 \
  "$BIN" serve >"$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$base/readyz" >/dev/null
kill -0 "$server" 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }

# The account the fuzzer acts as (the dynamic auth in schemathesis.toml logs it in), and
# the one the document's examples name, so that the example login succeeds too.
export CONTRACT_EMAIL="contract@example.org" CONTRACT_PASSWORD="contract-check-password"
register() {
  curl -fsS -o /dev/null -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$2\",\"display_name\":\"$3\"}" "$base/v1/users"
}
register "$CONTRACT_EMAIL" "$CONTRACT_PASSWORD" Contract
register ann@example.org "correct horse battery staple" Ann

log "REST: every check against $base/openapi.json"
"$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
  --checks all \
  ${MAX_EXAMPLES:+--max-examples "$MAX_EXAMPLES"} \
  --report junit --report-dir "$out/rest"


log "GraphQL: the schema at $base/graphql, looking for internal errors"
# Two of schemathesis's checks judge GraphQL by a heuristic that this API's contract does
# not follow: every error with a `path` is a "server error" (not_a_server_error), and every
# error on a valid query is "valid data rejected" (positive_data_acceptance). Here a
# resolver reports `not_found` or `validation_failed` in `errors`, as the GraphQL spec
# intends, with its code in `extensions.code`. graphql_checks.py checks instead what those
# two are meant to find: no 5xx and no error whose code is `internal`. Every other check
# runs.
token=$(curl -fsS -H 'content-type: application/json' \
  -d "{\"email\":\"$CONTRACT_EMAIL\",\"password\":\"$CONTRACT_PASSWORD\"}" "$base/v1/sessions" |
  "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
graphql() {
  PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" \
    "$venv/bin/schemathesis" --config-file "$here/schemathesis-graphql.toml" run "$base/graphql" \
    -H "Authorization: Bearer $token" \
    --checks all --exclude-checks not_a_server_error,positive_data_acceptance \
    ${MAX_EXAMPLES:+--max-examples "$MAX_EXAMPLES"} \
    "$@"
}
# `logOut` ends the token the run uses, so it goes last, on its own.
graphql --exclude-name Mutation.logOut --report junit --report-dir "$out/graphql"
graphql --include-name Mutation.logOut --report junit --report-dir "$out/graphql-logout"
