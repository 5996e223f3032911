# Sourced by the in-memory benchmarks (cpu-per-call.sh, instructions-per-call.sh): with the
# server at $URL up, registers one user, sets TOKEN to a session of theirs, and writes the
# ids of 100 todos of theirs to $OUT/ids.txt, one per line, for the loads to read.
seed_in_memory() {
  curl -sf -XPOST "$URL/v1/users" -H 'content-type: application/json' \
    -d '{"email":"cpu@example.org","password":"cpu-password","display_name":"Cpu"}' >/dev/null
  TOKEN=$(curl -sf -XPOST "$URL/v1/sessions" -H 'content-type: application/json' \
    -d '{"email":"cpu@example.org","password":"cpu-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  : >"$OUT/ids.txt"
  local n
  for n in $(seq 100); do
    curl -sf -XPOST "$URL/v1/todos" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
      -d "{\"title\":\"cpu $n\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' >>"$OUT/ids.txt"
  done
}
