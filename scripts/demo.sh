#!/usr/bin/env bash
# make demo: the Go original's usage example, end to end, with our binary.
#
# Starts a threshold server, a small backend (the "listener", which prints
# the visitor address it learns from the PROXY header), and a threshold
# client; configures the tunnel with curl -X PUT .../tunnels; sends a
# visitor's message through; prints each step as the original's example
# does; stops everything it started. Plain TCP for now (TLS comes with the
# certificate work). Exit status 0 only if the visitor's bytes arrived and
# the backend saw the visitor's own address.
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
CONTROL=$(pick 9056); MGMT=$(pick 9057); PUBLIC=$(pick 9000); BACKEND=$(pick 9001)

cat > "$work/server-config.json" <<JSON
{
  "DebugLog": false,
  "TunnelControlPort": $CONTROL,
  "ManagementPort": $MGMT,
  "UseTls": false
}
JSON
cat > "$work/client-config.json" <<JSON
{
  "DebugLog": false,
  "ClientIdentifier": "TestClient1",
  "ServerHost": "localhost",
  "ServerTunnelControlPort": $CONTROL,
  "ServerManagementPort": $MGMT,
  "UseTls": false,
  "ServiceToLocalAddrMap": {
    "fooService": "127.0.0.1:$BACKEND"
  }
}
JSON
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

wait_for() { # description, command...
  local what=$1; shift
  for _ in $(seq 1 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "demo: timed out waiting for $what" >&2
  echo "--- server log"; cat "$work/server.log" >&2 || true
  echo "--- client log"; cat "$work/client.log" >&2 || true
  exit 1
}

echo "== starting: threshold server (control :$CONTROL, management :$MGMT)"
"$BIN" server -c "$work/server-config.json" >"$work/server.log" 2>&1 & pids+=($!)
wait_for "the server" curl -sf "http://localhost:$MGMT/ping"

echo "== starting: the backend listener on 127.0.0.1:$BACKEND"
"$PY" -u scripts/demo_peers.py listener "$BACKEND" >"$work/listener.log" 2>&1 & pids+=($!)
wait_for "the listener" grep -q ready "$work/listener.log"

echo "== starting: threshold client TestClient1"
"$BIN" client -c "$work/client-config.json" >"$work/client.log" 2>&1 & pids+=($!)
connected() { curl -sf "http://localhost:$MGMT/clients" | grep -q '"ClientConnected"'; }
wait_for "the client to connect" connected

echo
echo "HTTP GET localhost:$MGMT/clients:"
curl -s "http://localhost:$MGMT/clients"; echo
echo "HTTP PUT localhost:$MGMT/tunnels:"
curl -s -X PUT -H "Content-Type: application/json" -d @"$work/tunnels.json" "http://localhost:$MGMT/tunnels"; echo
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
  echo "demo OK: the backend saw the visitor's own address (source port $sport) through the tunnel."
  echo "--- server log (last lines)"; tail -n 4 "$work/server.log"
  echo "--- client log (last lines)"; tail -n 4 "$work/client.log"
  exit 0
fi
echo "demo FAILED" >&2
echo "--- server log"; cat "$work/server.log" >&2
echo "--- client log"; cat "$work/client.log" >&2
exit 1
