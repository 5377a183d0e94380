#!/usr/bin/env bash
# make demo: the Go original's usage example, end to end, with our binary,
# over TLS with client certificates.
#
# Makes a CA, a server certificate (localhost, 127.0.0.1), TestClient1's
# certificate, an admin certificate and matching configs with
# `threshold certs` (a temp dir; the same step a user takes), starts the
# server with its config unchanged, a small backend (the "listener", which
# prints the visitor address it learns from the PROXY header) and the client
# (its config plus the one service of the example); lists the clients and
# configures the tunnel with curl --cacert/--cert/--key as an admin would;
# sends a visitor's message through; prints each step as the original's
# example does; stops everything it started. Exit status 0 only if the
# visitor's bytes arrived and the backend saw the visitor's own address.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${THRESHOLD_BIN:-$PWD/build/threshold}
PY=$(command -v python3)
work=$(mktemp -d /tmp/threshold-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The example's ports when free, otherwise free ones.
pick() {
  "$PY" - "$1" <<'PY'
import socket, sys
want = int(sys.argv[1])
for p in (want, 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(s.getsockname()[1]); break
    except OSError:
        pass
    finally:
        s.close()
PY
}
PORT=$(pick 9056); PUBLIC=$(pick 9000); BACKEND=$(pick 9001)
PKI=$work/pki

echo "== making certificates: threshold certs --dir \$work/pki --server-name localhost --server-ip 127.0.0.1 --client TestClient1 --port $PORT"
"$BIN" certs --dir "$PKI" --server-name localhost --server-ip 127.0.0.1 --client TestClient1 --port "$PORT" \
  >"$work/certs.log"
sed -n "s|^wrote $PKI/|   |p" "$work/certs.log"
# The client's config as made, plus the example's one service.
"$PY" - "$PKI/client-TestClient1-config.json" "$work/client-config.json" "$BACKEND" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["ServiceToLocalAddrMap"] = {"fooService": "127.0.0.1:" + sys.argv[3]}
json.dump(cfg, open(sys.argv[2], "w"), indent=2)
PY
cat > "$work/tunnels.json" <<JSON
[
  {
    "ClientIdentifier": "TestClient1",
    "ListenPort": $PUBLIC,
    "ListenAddress": "127.0.0.1",
    "ListenHostnameGlob": "*",
    "BackEndService": "fooService",
    "HaProxyProxyProtocol": true
  }
]
JSON
# Management calls as an admin makes them.
admin_curl() {
  curl --cacert "$PKI/ca.crt" --cert "$PKI/admin@example.com+chain.crt" --key "$PKI/admin@example.com.key" "$@"
}

wait_for() { # description, command...
  local what=$1; shift
  for _ in $(seq 1 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "demo: timed out waiting for $what" >&2
  echo "--- server log"; cat "$work/server.log" >&2 || true
  echo "--- client log"; cat "$work/client.log" >&2 || true
  exit 1
}

echo "== starting: threshold server (TLS, clients and management on :$PORT)"
"$BIN" server -c "$PKI/server-config.json" >"$work/server.log" 2>&1 & pids+=($!)
wait_for "the server" admin_curl -sf "https://localhost:$PORT/ping"

echo "== starting: the backend listener on 127.0.0.1:$BACKEND"
"$PY" -u scripts/demo_peers.py listener "$BACKEND" >"$work/listener.log" 2>&1 & pids+=($!)
wait_for "the listener" grep -q ready "$work/listener.log"

echo "== starting: threshold client TestClient1 (TLS, certificate TestClient1@example.com)"
"$BIN" client -c "$work/client-config.json" >"$work/client.log" 2>&1 & pids+=($!)
connected() { admin_curl -sf "https://localhost:$PORT/clients" | grep -q '"ClientConnected"'; }
wait_for "the client to connect" connected

echo
echo "HTTP GET localhost:$PORT/clients:"
admin_curl -s "https://localhost:$PORT/clients"; echo
echo "HTTP PUT localhost:$PORT/tunnels:"
admin_curl -s -X PUT -H "Content-Type: application/json" -d @"$work/tunnels.json" "https://localhost:$PORT/tunnels"; echo
grep -o 'now listening on .*' "$work/server.log" | sed 's/^/(server) /' || true

sender_out=$("$PY" -u scripts/demo_peers.py sender "$PUBLIC") || true
# Give the listener's prints a moment to land (bounded).
for _ in $(seq 1 100); do grep -q 'conn.Close' "$work/listener.log" && break; sleep 0.05; done
printf '%s\n' "$sender_out" | sed -n '1,2p'
grep -v ready "$work/listener.log"
printf '%s\n' "$sender_out" | sed -n '3,$p'

echo
sport=$(printf '%s\n' "$sender_out" | sed -n 's/^Sender: I am dialing .* from .*:\([0-9]*\)$/\1/p')
seen=$(sed -n 's/^Listener: Someone connected from: .*:\([0-9]*\)$/\1/p' "$work/listener.log")
if printf '%s\n' "$sender_out" | grep -q 'Response from listener was: asd' && [ -n "$sport" ] && [ "$sport" = "$seen" ]; then
  echo "demo OK: the backend saw the visitor's own address (source port $sport) through the TLS tunnel."
  grep -o 'TLSv1\.[0-9] with .*' "$work/client.log" | head -n 1 | sed 's/^/(client) /' || true
  echo "--- server log (last lines)"; tail -n 4 "$work/server.log"
  echo "--- client log (last lines)"; tail -n 4 "$work/client.log"
  exit 0
fi
echo "demo FAILED" >&2
echo "--- server log"; cat "$work/server.log" >&2
echo "--- client log"; cat "$work/client.log" >&2
exit 1
