#!/usr/bin/env bash
# What an open connection costs the API process in memory: the resident set of `serve`
# with nothing open, then with CONNS idle HTTP/1.1 connections (each has had one request
# answered, so hyper's buffers are in place), then with CONNS idle HTTP/2 connections
# (preface, settings, one request answered) as well. Each step prints the RSS and what
# one connection added. The deploy manifests size HTTP_MAX_CONNECTIONS against the pod's
# memory limit from these figures.
#
#   bench/connection-memory.sh             # CONNS=2000
#   BIN=... bench/connection-memory.sh     # reuse a built binary
#
# In-memory adapters: a connection's cost is the listener's, whatever stores are behind.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONNS=${CONNS:-2000}
ADDR=127.0.0.1:8096
OUT=${OUT:-/tmp/todo-bench/connection-memory-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
if [[ -z ${BIN:-} ]]; then
  (cd "$ROOT" && cargo build --release -q -p backend)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/backend"
fi
# Two connections' worth of descriptors for the server and the client, with room.
ulimit -n $((CONNS * 2 + 1024))

# No timeout may close a connection while it is counted; the cap must not either.
env HTTP_ADDR=$ADDR RUST_LOG=warn HTTP_MAX_CONNECTIONS=$((CONNS * 2 + 10)) \
  HTTP_IDLE_TIMEOUT_SECS=600 HTTP_KEEPALIVE_INTERVAL_SECS=600 \
  "$BIN" serve >"$OUT/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://$ADDR/healthz" >/dev/null && break; sleep 0.1; done

python3 - "$ADDR" "$CONNS" "$PID" <<'PY' | tee "$OUT/results.txt"
import socket, sys, time

host, port = sys.argv[1].split(":")
conns, pid = int(sys.argv[2]), sys.argv[3]

def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

def settle():
    time.sleep(1.0)
    return rss_kib()

def read_until(sock, done):
    seen = b""
    while not done(seen):
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed a connection the measurement holds")
        seen += chunk
    return seen

def http1():
    sock = socket.create_connection((host, int(port)))
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: bench\r\n\r\n")
    read_until(sock, lambda seen: b"\r\n\r\n" in seen)
    return sock

# GET /healthz as one HEADERS frame (END_STREAM | END_HEADERS, stream 1), HPACK by hand:
# :method GET (static 2), :scheme http (static 6), :path (name 4) "/healthz",
# :authority (name 1) "bench".
BLOCK = b"\x82\x86\x04\x08/healthz\x01\x05bench"
H2 = (
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"                      # SETTINGS
    + len(BLOCK).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x01" + BLOCK
)

def http2():
    sock = socket.create_connection((host, int(port)))
    sock.sendall(H2)
    # The answer's HEADERS frame on stream 1 (type 1) is enough: the request was served.
    read_until(sock, lambda seen: b"\x01\x04\x00\x00\x00\x01" in seen or b"\x01\x05\x00\x00\x00\x01" in seen)
    sock.sendall(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00")         # SETTINGS ack
    return sock

held = []
base = settle()
print(f"nothing open        rss={base / 1024:.1f} MiB")
previous = base
for name, connect in (("HTTP/1.1", http1), ("HTTP/2", http2)):
    held += [connect() for _ in range(conns)]
    now = settle()
    print(f"+{conns} idle {name:8} rss={now / 1024:.1f} MiB   "
          f"{(now - previous) / conns:.1f} KiB per connection")
    previous = now
PY
echo "results in $OUT"
