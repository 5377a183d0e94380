#!/usr/bin/env bash
# bench/tls_handshakes.sh: the TLS figures of issue 4, loopback only,
# bounded in time (about 30 s with the defaults). Never run by make check.
#
# 1. Handshake rate, server side: TLSB_CLIENTS parallel
#    `openssl s_time -new` clients (each a full TLS handshake with a client
#    certificate, then close) against `threshold server` for TLSB_SECONDS,
#    once with the ECDSA P-256 server key `threshold certs` makes and once
#    with an RSA-2048 key (the original's fixtures are RSA). Reported:
#    handshakes/s the server completed (its debug log counts them), and the
#    server's CPU time per handshake (utime+stime from /proc), which gives
#    the rate one core could sustain whatever the clients cost.
# 2. Memory of an idle session: a fresh server; TLSB_SESSIONS clients (a
#    small Python driver speaking the Go client's bytes: CONNECT, yamux
#    stream 1, controlHandshake) open sessions, each with its own
#    certificate, in two halves; KiB per session = the server's RSS growth
#    over the second half / its size. The same with UseTls false, for the
#    TLS share.
#
# Knobs: TLSB_SECONDS=5 TLSB_CLIENTS=2 TLSB_SESSIONS=400
# THRESHOLD_BIN (default build/rel/threshold).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${THRESHOLD_BIN:-$PWD/build/rel/threshold}
SECS=${TLSB_SECONDS:-5}
NCLI=${TLSB_CLIENTS:-2}
NSESS=${TLSB_SESSIONS:-400}
PY=$(command -v python3)
CLK=$(getconf CLK_TCK)
[ -x "$BIN" ] || { echo "tls_handshakes: build first ($BIN)" >&2; exit 2; }

work=$(mktemp -d /tmp/threshold-tlsbench.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

PORT=$(free_port)
PKI=$work/pki
clients=(--client bench)
for i in $(seq 1 "$NSESS"); do clients+=(--client "s$i"); done
"$BIN" certs --dir "$PKI" --server-name localhost --server-ip 127.0.0.1 --port "$PORT" --no-admin \
  "${clients[@]}" >/dev/null
# The RSA-2048 server key, signed by the same CA.
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$PKI/rsa.key" -out "$work/rsa.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$work/rsa.ext"
openssl x509 -req -in "$work/rsa.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial 7 -days 2 \
  -extfile "$work/rsa.ext" -out "$work/rsa.crt" 2>/dev/null
cat "$work/rsa.crt" "$PKI/ca.crt" >"$PKI/rsa+chain.crt"

# start_server NAME TLS(true|false) KEY CHAIN DEBUG(true|false): pid in SRV
start_server() {
  local name=$1 tls=$2 key=$3 chain=$4 debug=$5
  PORT=$(free_port)
  cat >"$work/$name.json" <<JSON
{ "DebugLog": $debug, "ListenPort": $PORT, "ListenAddress": "127.0.0.1", "Domain": "example.com",
  "UseTls": $tls, "CaCertificateFilesGlob": "$PKI/ca.crt", "ServerTlsKeyFile": "$key",
  "ServerTlsCertificateFile": "$chain", "ManagementClientIds": [] }
JSON
  "$BIN" server -c "$work/$name.json" >"$work/$name.log" 2>&1 &
  SRV=$!
  pids+=("$SRV")
  for _ in $(seq 1 200); do
    grep -q 'listening for clients' "$work/$name.log" && return 0
    kill -0 "$SRV" 2>/dev/null || break
    sleep 0.05
  done
  echo "tls_handshakes: the server did not start:" >&2
  cat "$work/$name.log" >&2
  exit 1
}

stop_server() {
  kill "$SRV" 2>/dev/null || true
  wait "$SRV" 2>/dev/null || true
}

# ---- 1. handshake rate ----
rate() { # label key chain
  start_server "hs-$1" true "$2" "$3" true
  local c0 t0 t1 c1 n cpu_ms
  c0=$(ticks "$SRV")
  t0=$(date +%s.%N)
  local sp=()
  for i in $(seq 1 "$NCLI"); do
    timeout $((SECS + 30)) openssl s_time -connect "127.0.0.1:$PORT" -new -time "$SECS" \
      -cert "$PKI/bench@example.com+chain.crt" -key "$PKI/bench@example.com.key" -CAfile "$PKI/ca.crt" \
      >"$work/stime-$1-$i.log" 2>&1 &
    sp+=($!)
  done
  for p in "${sp[@]}"; do wait "$p" || true; done
  t1=$(date +%s.%N)
  c1=$(ticks "$SRV")
  sleep 0.2
  n=$(grep -c 'TLS from ' "$work/hs-$1.log" || true)
  local failed
  failed=$(grep -c 'TLS handshake failed' "$work/hs-$1.log" || true)
  stop_server
  cpu_ms=$(awk -v a="$c0" -v b="$c1" -v k="$CLK" -v n="$n" 'BEGIN { if (n) printf "%.3f", (b - a) * 1000 / k / n; else print "n/a" }')
  local wall per_s per_core
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  per_s=$(awk -v n="$n" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
  per_core=$(awk -v m="$cpu_ms" 'BEGIN { if (m + 0 > 0) printf "%.0f", 1000 / m; else print "n/a" }')
  printf '  %-22s %6d handshakes in %5ss = %6s/s; server CPU %s ms each (one core: ~%s/s); failed: %s\n' \
    "$1 server key:" "$n" "$wall" "$per_s" "$cpu_ms" "$per_core" "$failed"
}

echo "== TLS handshakes, server side: $NCLI x openssl s_time -new for ${SECS}s, TLS 1.3, client certificate (ECDSA P-256)"
echo "   machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1); $(openssl version)"
rate "ECDSA P-256" "$PKI/server.key" "$PKI/server+chain.crt"
rate "RSA-2048" "$PKI/rsa.key" "$PKI/rsa+chain.crt"

# ---- 2. idle session memory ----
cat >"$work/sessions.py" <<'PY'
"""Opens idle control sessions as a Go client would, in two halves, and
prints the server's RSS before, between and after (KiB)."""
import socket, ssl, struct, sys, time

port, server_pid, n, tls, pki = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]


def rss():
    with open(f"/proc/{server_pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def read_until(s, pred, buf=b""):
    while not pred(buf):
        d = s.recv(65536)
        if not d:
            raise RuntimeError(f"closed; got {buf!r}")
        buf += d
    return buf


def session(i):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    if tls:
        ctx = ssl.create_default_context(cafile=f"{pki}/ca.crt")
        ctx.load_cert_chain(f"{pki}/s{i}@example.com+chain.crt", f"{pki}/s{i}@example.com.key")
        s = ctx.wrap_socket(s, server_hostname="localhost")
    s.sendall(f"CONNECT /_controlPath/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Threshold-ClientId: s{i}\r\n\r\n".encode())
    head = read_until(s, lambda b: b"\n\n" in b or b"\r\n\r\n" in b)
    if b"200 Connected to Tunnel" not in head:
        raise RuntimeError(f"session {i}: {head[:200]!r}")
    rest = head.split(b"\n\n", 1)[1] if b"\n\n" in head else head.split(b"\r\n\r\n", 1)[1]
    # yamux: SYN for stream 1 (window update), then the handshake string.
    s.sendall(struct.pack(">BBHII", 0, 1, 1, 1, 0) + struct.pack(">BBHII", 0, 0, 0, 1, 16) + b"controlHandshake")
    read_until(s, lambda b: b"controlOk" in b, rest)
    return s


def open_range(a, b):
    return [session(i) for i in range(a, b)]


half = n // 2
time.sleep(0.3)
r0 = rss()
first = open_range(1, half + 1)
time.sleep(0.5)
r1 = rss()
second = open_range(half + 1, n + 1)
time.sleep(0.5)
r2 = rss()
print(f"rss0={r0} rss1={r1} rss2={r2} half={n - half} per_session_kib={(r2 - r1) / (n - half):.2f}")
for s in first + second:
    s.close()
PY

echo
echo "== idle sessions: server RSS growth over $((NSESS - NSESS / 2)) sessions (after $((NSESS / 2)) already open)"
for mode in tls plain; do
  if [ $mode = tls ]; then t=true; else t=false; fi
  start_server "idle-$mode" "$t" "$PKI/server.key" "$PKI/server+chain.crt" false
  out=$(timeout 120 "$PY" "$work/sessions.py" "$PORT" "$SRV" "$NSESS" $([ $mode = tls ] && echo 1 || echo 0) "$PKI") || {
    echo "tls_handshakes: the session driver failed: $out" >&2
    tail -n 5 "$work/idle-$mode.log" >&2
    stop_server
    exit 1
  }
  stop_server
  per=$(sed -n 's/.*per_session_kib=\([0-9.]*\).*/\1/p' <<<"$out")
  printf '  %-6s %s KiB per idle session  (%s)\n' "$mode:" "$per" "$out"
done
