#!/usr/bin/env bash
# Interop test of our client (build/<b>/threshold client) against an
# emulator of the Go original's server (tests/interop/threshold_peer.go,
# -mode server), on the loopback with ports chosen at run time.
#
#   tests/interop/run-gateway.sh <rel|asan>
#
# Backends and visitors are tests/interop/gateway_helper.py (/usr/bin/python3,
# standard library only). Cases, one "RESULT <name> pass|fail" line each:
#   client-hello      the usage example: 16 bytes "Hello ! Hello! \n" through a
#                     PROXY tunnel to a backend answering "asd"; the PROXY
#                     source port equals the visitor's
#   client-bulk       50 concurrent visitors x 1 MiB echoed, SHA-256 equal
#   client-unknown    a visitor for a service the client does not know is
#                     closed, the next visitors still work (FIFO pairing),
#                     the unknown service is logged once
#   client-reconnect  kill -9 the server, restart it on the same port: the
#                     client logs the failure, reconnects (backoff), traffic
#                     flows again
#   client-shutdown   SIGTERM: Connected -> Disconnected -> Closed, exit 0
#                     (ASan: no leak)
# Exit status 0 only if every case passed. Logs: build/interop/logs/gateway-<b>/.
set -u
cd "$(dirname "$0")/../.." || exit 2

b=${1:-}
case "$b" in rel|asan) ;; *) echo "usage: $0 <rel|asan>" >&2; exit 2 ;; esac
cases=(client-hello client-bulk client-unknown client-reconnect client-shutdown)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

bin=build/$b/threshold
peer=build/interop/threshold_peer
helper=tests/interop/gateway_helper.py
py=/usr/bin/python3
logdir=build/interop/logs/gateway-$b
rm -rf "$logdir"
mkdir -p "$logdir" build/interop
declare -A result=()

fail_all() { # reason
  echo "gateway: $1" >&2
  for c in "${cases[@]}"; do echo "RESULT $c fail"; done
  exit 1
}

[ -x "$bin" ] || fail_all "$bin is missing (make $b-all)"
[ -x "$py" ] || fail_all "$py is missing"

# The emulator: GOPATH mode against Debian's packaged yamux, no network.
if [ ! -x "$peer" ] || [ tests/interop/threshold_peer.go -nt "$peer" ]; then
  command -v go >/dev/null || fail_all "go is not installed (golang-go, golang-github-hashicorp-yamux-dev)"
  GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$PWD/build/gocache" GOFLAGS="" GOPROXY=off \
    go build -o "$peer.tmp" tests/interop/threshold_peer.go >"$logdir/go-build.log" 2>&1 \
    && mv "$peer.tmp" "$peer" \
    || { cat "$logdir/go-build.log" >&2; fail_all "building the emulator failed"; }
fi

tmp=$(mktemp -d)
pids=()
# kill_tree pid signal: the process's children (and theirs), then itself.
kill_tree() {
  local c
  for c in $(pgrep -P "$1"); do kill_tree "$c" "$2"; done
  kill "-$2" "$1" 2>/dev/null
}
# Everything started here goes. TERM goes to the programs themselves, not
# only to the timeout(1) around them (see client-shutdown below), then KILL
# for whatever is left after 5 s.
cleanup() {
  local p alive
  for p in "${pids[@]}"; do kill_tree "$p" TERM; done
  for _ in $(seq 1 100); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.05
  done
  for p in "${pids[@]}"; do kill_tree "$p" KILL; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

wait_file() { # file pid -> 0 once the file is non-empty, 1 if pid died / 10 s
  local i
  for i in $(seq 1 200); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

wait_count() { # file pattern count seconds -> 0 once grep -c reaches count
  local i n
  for i in $(seq 1 $(($4 * 20))); do
    n=$(grep -c -- "$2" "$1" 2>/dev/null)
    [ "${n:-0}" -ge "$3" ] && return 0
    sleep 0.05
  done
  return 1
}

port_of() { awk -v k="$1" '$1 == k {print $2}' "$tmp/peer.ports"; }

pass() { result[$1]=pass; echo "RESULT $1 pass"; }
fail() { # case reason
  result[$1]=fail
  echo "RESULT $1 fail"
  echo "  $1: $2"
}

# ---- backends ----
timeout -k 5 600 "$py" "$helper" backend --mode echo --portfile "$tmp/echo.port" >"$logdir/echo.log" 2>&1 &
pids+=("$!"); wait_file "$tmp/echo.port" $! || fail_all "echo backend did not start"
timeout -k 5 600 "$py" "$helper" backend --mode asd --portfile "$tmp/asd.port" --log "$tmp/asd.log" \
  >"$logdir/asd-backend.log" 2>&1 &
pids+=("$!"); wait_file "$tmp/asd.port" $! || fail_all "asd backend did not start"
touch "$tmp/asd.log"

# ---- the emulated Go server ----
peer_pid=
peer_runs=0
start_peer() { # [control address]
  peer_runs=$((peer_runs + 1))
  rm -f "$tmp/peer.ports"
  timeout -k 5 600 "$peer" -mode server -listen "${1:-127.0.0.1:0}" -portfile "$tmp/peer.ports" \
    -tunnel 127.0.0.1:0=fooService,proxy -tunnel 127.0.0.1:0=echo -tunnel 127.0.0.1:0=nosuch \
    >"$logdir/peer$peer_runs.out" 2>"$logdir/peer$peer_runs.err" &
  peer_pid=$!
  pids+=("$peer_pid")
  wait_file "$tmp/peer.ports" $peer_pid
}
start_peer || fail_all "the emulator did not start"
control=$(port_of control)

cat >"$tmp/client.json" <<EOF
{
  "ClientIdentifier": "TestClient1",
  "ServerAddr": "127.0.0.1:$control",
  "ServiceToLocalAddrMap": {
    "fooService": "127.0.0.1:$(cat "$tmp/asd.port")",
    "echo": "127.0.0.1:$(cat "$tmp/echo.port")"
  },
  "ConnectTimeoutSeconds": 5,
  "DialTimeoutSeconds": 5
}
EOF
cp "$tmp/client.json" "$logdir/client.json"
clog="$logdir/client.log"
timeout -k 5 600 "$bin" client -c "$tmp/client.json" >"$clog" 2>&1 &
client_pid=$!
pids+=("$client_pid")

if ! wait_count "$logdir/peer1.out" "^CONNECTED TestClient1" 1 20; then
  echo "---- client log"; tail -n 40 "$clog"
  echo "---- emulator"; tail -n 20 "$logdir/peer1.out" "$logdir/peer1.err"
  fail_all "the client did not connect"
fi
# Our CONNECT as the Go server's parser saw it.
grep -q 'CONNECT id=TestClient1 header=X-Threshold-Identifier features="server-open, half-close, deferred-ack" useragent="threshold/' \
  "$logdir/peer1.out" || echo "  note: unexpected CONNECT line: $(grep '^CONNECT' "$logdir/peer1.out")"

# ---- cases ----
run_helper() { # log-name args...
  local name=$1; shift
  timeout 120 "$py" "$helper" "$@" >"$logdir/$name.log" 2>&1
}

# (a) the usage example
if run_helper hello hello --port "$(port_of tunnel0)" --log "$tmp/asd.log"; then
  pass client-hello
else
  fail client-hello "$(tail -n 5 "$logdir/hello.log")"
fi

# (b) 50 concurrent visitors x 1 MiB
if run_helper bulk bulk --port "$(port_of tunnel1)" --n 50 --size $((1024 * 1024)); then
  pass client-bulk
else
  fail client-bulk "$(tail -n 12 "$logdir/bulk.log")"
fi

# (c) unknown service, twice, each followed by a working visitor
ok=1; why=
for i in 1 2; do
  run_helper unknown$i unknown --port "$(port_of tunnel2)" || { ok=0; why="unknown visitor $i: $(tail -n 3 "$logdir/unknown$i.log")"; }
  run_helper after-unknown$i bulk --port "$(port_of tunnel1)" --n 3 --size 65536 \
    || { ok=0; why="visitor after unknown $i: $(tail -n 5 "$logdir/after-unknown$i.log")"; }
done
n=$(grep -c 'service "nosuch" is not in ServiceToLocalAddrMap' "$clog")
[ "$n" -eq 1 ] || { ok=0; why="${why:+$why; }unknown service logged $n times (want 1)"; }
if [ $ok -eq 1 ]; then pass client-unknown; else fail client-unknown "$why"; fi

# (d) kill -9 the server; the client fails at least one attempt while it is
# down, then reconnects to the restarted server on the same port.
ok=1; why=
# The emulator itself, not the timeout(1) around it.
# (bash reports the job's "Killed" on the shell's own stderr: muted.)
exec 3>&2 2>/dev/null
kill -9 "$(port_of pid)"
wait "$peer_pid"
exec 2>&3 3>&-
wait_count "$clog" "ClientConnected->ClientDisconnected" 1 10 \
  || { ok=0; why="no ClientDisconnected after the kill"; }
wait_count "$clog" "connecting to 127.0.0.1:$control failed" 1 10 \
  || { ok=0; why="${why:+$why; }no failed attempt logged while the server was down"; }
if start_peer "127.0.0.1:$control"; then
  if wait_count "$logdir/peer2.out" "^CONNECTED TestClient1" 1 20; then
    run_helper reconnect-bulk bulk --port "$(port_of tunnel1)" --n 10 --size $((256 * 1024)) \
      || { ok=0; why="${why:+$why; }traffic after reconnect: $(tail -n 5 "$logdir/reconnect-bulk.log")"; }
    run_helper reconnect-hello hello --port "$(port_of tunnel0)" --log "$tmp/asd.log" \
      || { ok=0; why="${why:+$why; }hello after reconnect: $(tail -n 3 "$logdir/reconnect-hello.log")"; }
  else
    ok=0; why="${why:+$why; }the client did not reconnect"
  fi
else
  ok=0; why="${why:+$why; }the emulator did not restart on port $control"
fi
if [ $ok -eq 1 ]; then pass client-reconnect; else fail client-reconnect "$why"; fi

# (e) graceful shutdown. SIGTERM goes to the client itself, not through
# timeout(1): timeout follows the signal with SIGCONT, which can cancel the
# SIGSTOP of LeakSanitizer's exit-time stop-the-world and hang the ASan build.
cpid=$(pgrep -P "$client_pid" | head -n 1)
kill -TERM "${cpid:-$client_pid}"
rc=0
for _ in $(seq 1 200); do kill -0 "$client_pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$client_pid" 2>/dev/null; then
  fail client-shutdown "still running 10 s after SIGTERM"
  kill_tree "$client_pid" KILL
else
  wait "$client_pid"; rc=$?
  if [ $rc -eq 0 ] && grep -q "ClientConnected->ClientDisconnected (client stopped)" "$clog" &&
     grep -q "ClientDisconnected->ClientClosed" "$clog"; then
    pass client-shutdown
  else
    fail client-shutdown "exit status $rc$(grep -q ClientClosed "$clog" || echo ', no ClientClosed')"
  fi
fi

failed=0
for c in "${cases[@]}"; do [ "${result[$c]:-fail}" = pass ] || failed=1; done
if [ $failed -ne 0 ]; then
  echo "---- client log ($clog), last 60 lines"
  tail -n 60 "$clog" | sed 's/^/  | /'
  for f in "$logdir"/peer*.out "$logdir"/peer*.err; do
    echo "---- $f, last 15 lines"; tail -n 15 "$f" | sed 's/^/  | /'
  done
fi
exit $failed
