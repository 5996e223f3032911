#!/usr/bin/env bash
# Clients that ask for large answers and read them a window at a time: what they make the
# process hold, with the budget for what answers hold (HTTP_MAX_UNSENT_BYTES) off and at
# its default, in the same run.
#
# Each of CONNS HTTP/2 connections opens STREAMS GraphQL requests for a page of 100 todos
# in four aliases (some 120 KB of JSON each; the default complexity allows no more),
# with a stream window of 16 KiB, then grants each stream 16 KiB more every TRICKLE
# seconds: always inside the send timeout, never done. Meanwhile a client that reads asks
# for the same answer every second, as a user would. For each run it prints the resident
# set (at the start, its peak, and a second before the clients let go), what the server
# says answers hold then, the connections it closed for the budget, and how the reading
# client fared.
#
#   bench/slow-readers.sh        # CONNS=8 STREAMS=100 TRICKLE=10 DURATION=40
#   BIN=... bench/slow-readers.sh
#
# In-memory adapters: what is measured is the listener's memory, whatever stores are behind.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONNS=${CONNS:-8}
STREAMS=${STREAMS:-100}
TRICKLE=${TRICKLE:-10}
DURATION=${DURATION:-40}
ADDR=127.0.0.1:8097
OUT=${OUT:-/tmp/todo-bench/slow-readers-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
if [[ -z ${BIN:-} ]]; then
  (cd "$ROOT" && cargo build --release -q -p backend)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/backend"
fi
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null || true' EXIT

kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$2/status"; }
metric() { curl -sf "http://$ADDR/metrics" | awk -v s="$1" 'index($0, s) == 1 {print $NF}'; }

run() { # label, then env assignments
  local label=$1; shift
  env "$@" HTTP_ADDR=$ADDR RUST_LOG=warn "$BIN" serve >"$OUT/$label.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf "http://$ADDR/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf -XPOST "http://$ADDR/v1/users" -H 'content-type: application/json' \
    -d '{"email":"slow@example.org","password":"slow-password","display_name":"Slow"}' >/dev/null
  local token
  token=$(curl -sf -XPOST "http://$ADDR/v1/sessions" -H 'content-type: application/json' \
    -d '{"email":"slow@example.org","password":"slow-password"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
  local title
  title=$(printf 'x%.0s' $(seq 200))
  for _ in $(seq 100); do
    curl -sf -XPOST "http://$ADDR/v1/todos" -H 'content-type: application/json' \
      -H "authorization: Bearer $token" -d "{\"title\":\"$title\"}" >/dev/null
  done
  local start_rss
  start_rss=$(kib VmRSS $PID)

  python3 - "$ADDR" "$token" "$CONNS" "$STREAMS" "$TRICKLE" "$DURATION" "$PID" <<'PY' >"$OUT/$label.clients"
import json, socket, sys, threading, time, urllib.request

host, port = sys.argv[1].split(":")
token, conns, streams = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
trickle, duration, pid = float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]

page = "edges { node { id title status } }"
query = "{ " + " ".join(f"a{i}: todos(first: 100) {{ {page} }}" for i in range(4)) + " }"
body = json.dumps({"query": query}).encode()

def hpack_string(raw):
    # HPACK string literal, not Huffman-coded, its length a 7-bit prefixed integer.
    length, out = len(raw), bytearray()
    if length < 127:
        out.append(length)
    else:
        out.append(127)
        length -= 127
        while length >= 128:
            out.append(length % 128 + 128)
            length //= 128
        out.append(length)
    return bytes(out) + raw

def literal(name, value):
    # A literal header field without indexing, with a literal name.
    return b"\x00" + hpack_string(name) + hpack_string(value)

def frame(kind, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload

# :method POST (static 3), :scheme http (static 6), :path (name 4), :authority (name 1).
block = (b"\x83\x86\x04" + hpack_string(b"/graphql") + b"\x01" + hpack_string(b"bench")
         + literal(b"content-type", b"application/json")
         + literal(b"authorization", f"Bearer {token}".encode()))

closed_by_server = 0
received = 0
lock = threading.Lock()

def slow_client():
    global closed_by_server, received
    sock = socket.create_connection((host, int(port)))
    # SETTINGS: INITIAL_WINDOW_SIZE (4) = 16 KiB for every stream.
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                 + frame(4, 0, 0, (4).to_bytes(2, "big") + (16384).to_bytes(4, "big")))
    ids = [1 + 2 * i for i in range(streams)]
    for stream in ids:
        sock.sendall(frame(1, 4, stream, block) + frame(0, 1, stream, body))
    done = threading.Event()

    def read():
        global closed_by_server, received
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                if not done.is_set():
                    with lock:
                        closed_by_server += 1
                done.set()
                return
            with lock:
                received += len(chunk)

    threading.Thread(target=read, daemon=True).start()
    end = time.time() + duration
    while not done.wait(trickle) and time.time() < end:
        try:
            # SETTINGS ack is not needed for the server to send; window updates are.
            sock.sendall(b"".join(frame(8, 0, s, (16384).to_bytes(4, "big")) for s in ids)
                         + frame(8, 0, 0, (16384 * len(ids)).to_bytes(4, "big")))
        except OSError:
            break
    done.set()
    sock.close()

def reader(results):
    # A client that reads: the same answer, once a second, over HTTP/1.1.
    end = time.time() + duration
    while time.time() < end:
        request = urllib.request.Request(
            f"http://{host}:{port}/graphql", data=body,
            headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
        started = time.time()
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                size = len(answer.read())
            results.append((True, time.time() - started, size))
        except Exception:
            results.append((False, time.time() - started, 0))
        time.sleep(1)

late = {}

def sample():
    # A second before the clients let go: what the process and its answers hold.
    time.sleep(duration - 1)
    with open(f"/proc/{pid}/status") as status:
        late["rss"] = next(int(l.split()[1]) for l in status if l.startswith("VmRSS:")) // 1024
    metrics = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10).read().decode()
    late["held"] = next(l.split()[-1] for l in metrics.splitlines()
                        if l.startswith("http_unsent_answer_bytes "))

threading.Thread(target=sample, daemon=True).start()
threads = [threading.Thread(target=slow_client) for _ in range(conns)]
for thread in threads:
    thread.start()
results = []
reading = threading.Thread(target=reader, args=(results,))
reading.start()
for thread in threads:
    thread.join()
reading.join()
ok = [r for r in results if r[0]]
print(f"late_rss={late.get('rss')}MiB late_held={late.get('held')} "
      f"slow_connections_closed_by_server={closed_by_server}/{conns} "
      f"slow_bytes_received={received / 1e6:.1f}MB "
      f"reader_answers={len(ok)}/{len(results)} "
      f"reader_worst={max((r[1] for r in ok), default=0):.2f}s "
      f"answer_bytes={ok[0][2] if ok else 0}")
PY
  local peak_rss closed
  peak_rss=$(kib VmHWM $PID)
  closed=$(metric 'http_connections_closed_total{reason="unsent_budget"}')
  kill $PID; wait $PID 2>/dev/null || true
  PID=
  printf '%-8s start_rss=%sMiB peak_rss=%sMiB closed_for_budget=%s %s\n' \
    "$label" $((start_rss / 1024)) $((peak_rss / 1024)) "$closed" \
    "$(cat "$OUT/$label.clients")" | tee -a "$OUT/summary.txt"
}

run no-limit HTTP_MAX_UNSENT_BYTES=0
run default
echo "results in $OUT"
