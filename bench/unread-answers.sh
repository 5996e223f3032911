#!/usr/bin/env bash
# Where the answers wait that clients do not read: in the process, where the budget for
# what answers hold (HTTP_MAX_UNSENT_BYTES) counts them, or in the kernel's send buffers,
# where nothing of ours does.
#
# CONNS HTTP/1.1 connections, each with a 4 KiB receive buffer, ask for a GraphQL page of
# 100 todos in four aliases (some 120 KB of JSON) and read none of it. The budget is off
# and the send timeout far off, so nothing is closed. A few seconds later the script
# prints, per binary: what the server says answers hold (`http_unsent_answer_bytes`), what
# the kernel holds queued on the server's sockets (the sum of `ss`'s `wmem_queued`), and
# the process's resident set. Give BASE_BIN to measure another build in the same run.
#
#   bench/unread-answers.sh                      # CONNS=50
#   BIN=... BASE_BIN=... bench/unread-answers.sh
#
# In-memory adapters: what is measured is the listener, whatever stores are behind.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONNS=${CONNS:-50}
PORT=8098
ADDR=127.0.0.1:$PORT
if [[ -z ${BIN:-} ]]; then
  (cd "$ROOT" && cargo build --release -q -p backend)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/backend"
fi
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null || true' EXIT

metric() { curl -sf "http://$ADDR/metrics" | awk -v s="$1" 'index($0, s) == 1 {print $NF}'; }

measure() { # label, binary
  local label=$1 bin=$2
  HTTP_ADDR=$ADDR RUST_LOG=warn HTTP_MAX_UNSENT_BYTES=0 HTTP_SEND_TIMEOUT_SECS=600 \
    "$bin" serve >/dev/null 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf "http://$ADDR/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf -XPOST "http://$ADDR/v1/users" -H 'content-type: application/json' \
    -d '{"email":"unread@example.org","password":"unread-password","display_name":"Unread"}' >/dev/null
  local token title
  token=$(curl -sf -XPOST "http://$ADDR/v1/sessions" -H 'content-type: application/json' \
    -d '{"email":"unread@example.org","password":"unread-password"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
  title=$(printf 'x%.0s' $(seq 200))
  for _ in $(seq 100); do
    curl -sf -XPOST "http://$ADDR/v1/todos" -H 'content-type: application/json' \
      -H "authorization: Bearer $token" -d "{\"title\":\"$title\"}" >/dev/null
  done

  python3 - "$ADDR" "$token" "$CONNS" "$PID" "$label" <<'PY'
import json, os, re, socket, subprocess, sys, time, urllib.request

host, port = sys.argv[1].split(":")
token, conns, pid, label = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]

page = "edges { node { id title status } }"
query = "{ " + " ".join(f"a{i}: todos(first: 100) {{ {page} }}" for i in range(4)) + " }"
body = json.dumps({"query": query}).encode()
request = (f"POST /graphql HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
           f"authorization: Bearer {token}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body

def metric(series):
    text = urllib.request.urlopen(f"http://{host}:{port}/metrics").read().decode()
    for line in text.splitlines():
        if line.startswith(series):
            return float(line.split()[-1])
    raise SystemExit(f"no {series}")

def kernel_queued():
    # wmem_queued of every socket the server accepted on the port.
    out = subprocess.run(["ss", "-tmnH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    return sum(int(w) for w in re.findall(r"\bw(\d+)", out))

def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

sockets = []
for _ in range(conns):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(request)
    sockets.append(sock)
time.sleep(3)
held, queued = metric("http_unsent_answer_bytes"), kernel_queued()
print(f"| {label} | {conns} | {held / 1e6:.1f} MB | {queued / 1e6:.1f} MB | {rss_kib() / 1024:.1f} MiB |")
for sock in sockets:
    sock.close()
PY
  kill $PID; wait $PID 2>/dev/null || true; PID=
}

echo "| build | unread connections | counted by the budget | queued in the kernel | RSS |"
echo "|---|---:|---:|---:|---:|"
[[ -n ${BASE_BIN:-} ]] && measure base "$BASE_BIN"
measure this "$BIN"
