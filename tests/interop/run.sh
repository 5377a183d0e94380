#!/usr/bin/env bash
# Interop test of our yamux engine (src/mux) against the reference Go
# hashicorp/yamux.
#
#   tests/interop/run.sh <rel|asan> [scenario...]
#
# Every scenario runs twice: our C peer (build/<b>/tools/mux_peer) as the
# yamux server with the Go peer (tests/interop/yamux_peer.go, built once into
# build/interop/) as the client, then the roles swapped. The yamux server
# listens on 127.0.0.1 port 0 and hands its port over in a file. Prints one
# line "RESULT <scenario>-<C side role> pass|fail" per run, the reported
# failures and the log tails of each failed run, and exits 0 only if every
# run passed.
#
# Scenarios (each side opens N streams; every payload is SHA-256 verified):
#   bulk          N=64, 8 MiB each way per stream, all at once.
#   halfclose-c   C writes and FINs first, then reads Go's whole answer
#                 (on streams either side opened).
#   halfclose-go  Go writes and closes first; C reads to EOF, then answers
#                 exactly one initial window (Go cannot read after Close) and
#                 FINs; both engines must forget every stream.
#   ping          pings both ways (Go Session.Ping, C mux_ping) while bulk
#                 data flows; C holds its FINs until it has its pongs.
#   goaway        the yamux server sends GoAway(0) once all streams are open;
#                 they finish, and a new open by the client is refused.
#   window        C grants an 8 MiB receive window and consumes nothing until
#                 it holds > 2 MiB on a stream: stalls unless Go honours it.
#   linger        C FINs and releases each stream at once; its engine must
#                 discard and credit Go's 4 MiB answer and forget the stream
#                 at Go's FIN.
# Each run ends with Go's Session.Close() (a half-close here, see
# gracefulConn) and the C peer seeing EOF -> session_closed, with no stream
# left in either engine.
#
# Environment: SEED=N replays a run's payload; PEER_TIMEOUT=S bounds each
# peer (default 100 s); MUX_PEER=path runs another build of the C peer.
# Logs: build/interop/logs/<b>/<scenario>-<role>.{c,go}.log.
set -u
cd "$(dirname "$0")/../.." || exit 2

b=${1:-}
case "$b" in rel|asan) shift ;; *) echo "usage: $0 <rel|asan> [scenario...]" >&2; exit 2 ;; esac
all_scenarios=(bulk halfclose-c halfclose-go ping goaway window linger)
scenarios=("${@:-${all_scenarios[@]}}")
roles=(server client)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

cpeer=${MUX_PEER:-build/$b/tools/mux_peer}
gopeer=build/interop/yamux_peer
logdir=build/interop/logs/$b
mkdir -p "$logdir" build/interop

fail_all() { # reason
  echo "interop: $1" >&2
  for s in "${scenarios[@]}"; do for r in "${roles[@]}"; do echo "RESULT $s-$r fail"; done; done
  exit 1
}

[ -x "$cpeer" ] || fail_all "$cpeer is missing (make $b-all)"

# The Go peer: GOPATH mode against Debian's packaged yamux, no network.
if [ ! -x "$gopeer" ] || [ tests/interop/yamux_peer.go -nt "$gopeer" ]; then
  command -v go >/dev/null || fail_all "go is not installed (golang-go, golang-github-hashicorp-yamux-dev)"
  GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$PWD/build/gocache" GOFLAGS="" GOPROXY=off \
    go build -o "$gopeer.$$.tmp" tests/interop/yamux_peer.go >"$logdir/go-build.log" 2>&1 \
    || { cat "$logdir/go-build.log" >&2; fail_all "building the Go peer failed"; }
  mv "$gopeer.$$.tmp" "$gopeer"
fi

# Sizes per scenario: streams opened by EACH side, bytes per stream and
# direction, extra flags. Both builds use the same sizes (the whole ASan
# run takes about 25 s on two idle cores); PEER_TIMEOUT bounds every run.
MiB=$((1024 * 1024))
params() { # scenario -> "streams bytes extra..."
  case "$1" in
    bulk)         echo "64 $((8 * MiB))" ;;
    halfclose-c)  echo "16 $((4 * MiB))" ;;
    halfclose-go) echo "16 $((4 * MiB))" ;;
    ping)         echo "8 $((16 * MiB)) -pings 20" ;;
    goaway)       echo "16 $((4 * MiB))" ;;
    window)       echo "4 $((8 * MiB)) -window $((8 * MiB))" ;;
    linger)       echo "16 $((4 * MiB))" ;;
  esac
}
PEER_TIMEOUT=${PEER_TIMEOUT:-100}

wait_port() { # file pid -> port on stdout
  for _ in $(seq 1 200); do
    [ -s "$1" ] && { cat "$1"; return 0; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

run_one() { # scenario cside-role
  local sc=$1 role=$2 name="$1-$2" seed
  local clog="$logdir/$name.c.log" glog="$logdir/$name.go.log"
  local tmp; tmp=$(mktemp -d)
  seed=${SEED:-$(( ($(date +%s%N) / 1000) % 4000000000 + 1 ))}
  # shellcheck disable=SC2046
  set -- $(params "$sc")
  local n=$1 bytes=$2; shift 2
  local common=(-scenario "$sc" -streams "$n" -bytes "$bytes" -seed "$seed" -timeout "${PEER_TIMEOUT}s" "$@")
  local t0 cpid gpid port crc grc
  t0=$(date +%s.%N)
  if [ "$role" = server ]; then
    timeout $((PEER_TIMEOUT + 20)) "$cpeer" -role server -listen 127.0.0.1:0 -portfile "$tmp/port" "${common[@]}" \
      >"$clog" 2>&1 & cpid=$!
    if port=$(wait_port "$tmp/port" $cpid); then
      timeout $((PEER_TIMEOUT + 20)) "$gopeer" -role client -connect "127.0.0.1:$port" "${common[@]}" \
        >"$glog" 2>&1 & gpid=$!
    else
      echo "no port from the C peer" >"$glog"; gpid=
    fi
  else
    timeout $((PEER_TIMEOUT + 20)) "$gopeer" -role server -listen 127.0.0.1:0 -portfile "$tmp/port" "${common[@]}" \
      >"$glog" 2>&1 & gpid=$!
    if port=$(wait_port "$tmp/port" $gpid); then
      timeout $((PEER_TIMEOUT + 20)) "$cpeer" -role client -connect "127.0.0.1:$port" "${common[@]}" \
        >"$clog" 2>&1 & cpid=$!
    else
      echo "no port from the Go peer" >"$clog"; cpid=
    fi
  fi
  crc=1; grc=1
  if [ -n "$cpid" ] && [ -n "$gpid" ]; then
    # Whichever ends first: if it failed, give the other one a few seconds
    # to notice, then stop it rather than wait for its timeout (only the
    # pids started here; timeout(1) passes the TERM on to the peer).
    local first rc other
    wait -n -p first "$cpid" "$gpid"; rc=$?
    if [ "$first" = "$cpid" ]; then crc=$rc; other=$gpid; else grc=$rc; other=$cpid; fi
    if [ $rc -ne 0 ]; then
      for _ in $(seq 1 50); do kill -0 "$other" 2>/dev/null || break; sleep 0.1; done
      kill "$other" 2>/dev/null
    fi
    wait "$other"; rc=$?
    if [ "$other" = "$cpid" ]; then crc=$rc; else grc=$rc; fi
  else
    [ -n "$cpid" ] && { wait "$cpid"; crc=$?; }
    [ -n "$gpid" ] && { wait "$gpid"; grc=$?; }
  fi
  rm -rf "$tmp"
  local dt; dt=$(echo "$(date +%s.%N) - $t0" | bc)
  if [ $crc -eq 0 ] && [ $grc -eq 0 ] && grep -q 'OK scenario' "$clog" && grep -q 'OK scenario' "$glog"; then
    printf 'RESULT %s pass\n' "$name"
    printf '  %s: %.2fs (seed %s, %s x %s bytes each way per side)\n' "$name" "$dt" "$seed" "$n" "$bytes"
    return 0
  fi
  printf 'RESULT %s fail\n' "$name"
  printf '  %s: C peer exit %s, Go peer exit %s after %.2fs (seed %s)\n' "$name" "$crc" "$grc" "$dt" "$seed"
  echo "  ---- failures reported"
  grep -a -h -m 20 -E 'FAIL|CHECK FAILED|ERROR|Sanitizer|runtime error|panic' "$clog" "$glog" | sed 's/^/  | /'
  echo "  ---- C peer ($clog), last 120 lines"
  tail -n 120 "$clog" | sed 's/^/  | /'
  echo "  ---- Go peer ($glog), last 60 lines"
  tail -n 60 "$glog" | sed 's/^/  | /'
  return 1
}

failed=0
start=$(date +%s.%N)
for sc in "${scenarios[@]}"; do
  if [ -z "$(params "$sc")" ]; then echo "RESULT $sc fail"; echo "  unknown scenario $sc"; failed=1; continue; fi
  for r in "${roles[@]}"; do run_one "$sc" "$r" || failed=1; done
done
printf 'interop %s: %.1fs total\n' "$b" "$(echo "$(date +%s.%N) - $start" | bc)"
exit $failed
