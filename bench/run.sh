#!/usr/bin/env bash
# make bench: benchmarks, never run in CI, bounded in time, loopback only.
#
# 1. The yamux engine alone, in memory (build/rel/tools/bench_mux).
# 2. End to end, through several paths measured in the same run with the
#    same load tool (build/rel/tools/load, bench/load.c) and the same
#    backends (load echo-server / sink-server):
#      direct      load -> backend (the ceiling)
#      threshold   load -> threshold server -> tunnel -> threshold client -> backend
#      threshold-tls  the same with UseTls and throwaway certificates (if the
#                  build cannot, the notes under the table say why)
#      haproxy     load -> haproxy (mode tcp) -> backend
#      sshr        load -> sshd (-R listener) -> ssh -N -R -> backend
#    Memory first, path by path, each run on freshly started processes; then
#    every path is started once more and the traffic cases (bulk, rate,
#    latency) run BENCH_REPS times (default 3), interleaved across paths;
#    the table shows medians. A variant of a path (another column) is one
#    more start_<name> function and one more word in BENCH_PATHS.
# 3. Under attack (bench/attack.py, tests/e2e/hostile.py): a freshly started
#    threshold server (plaintext, then TLS) with a tunnel to an echo backend
#    and a client; BENCH_ATTACK_N hostile connections of each kind held a few
#    seconds; the server's RSS and fds before, at the peak and after, whether
#    the management API answered and a good visitor got its echo.
# 4. openssl speed -elapsed -seconds 3 -evp aes-128-gcm (crypto ceiling).
# The table goes to stdout and, between markers, into docs/performance.md.
#
# Knobs (environment): BENCH_REPS=3 BENCH_SECONDS=3 (bulk and rate runs)
# BENCH_LAT_COUNT=20000 BENCH_HOLD="1000 10000" BENCH_MEM_REPS=3
# BENCH_PATHS="direct threshold threshold-tls haproxy sshr"
# BENCH_MUX_SECONDS=2 BENCH_BUDGET_S=780 (paths not started after this many
# seconds are reported as skipped) BENCH_OUT=docs/performance.md
# BENCH_ATTACK=1 (0: the under-attack section is skipped with a note)
# BENCH_ATTACK_N=1000 (hostile connections per kind) BENCH_ATTACK_HOLD=3 (s)
# BENCH_ONLY=attack (run only the under-attack section; in the docs only its
# own markers, bench:attack:begin/end, are replaced)
#
# Every process started here (and its descendants, e.g. sshd's session
# processes) is killed on exit; the temp dir is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${THRESHOLD_BIN:-$ROOT/build/threshold}
LOAD=$ROOT/build/rel/tools/load
MUX=$ROOT/build/rel/tools/bench_mux
REPS=${BENCH_REPS:-3}
SECS=${BENCH_SECONDS:-3}
LAT_COUNT=${BENCH_LAT_COUNT:-20000}
HOLD_COUNTS=${BENCH_HOLD:-1000 10000}
MEM_REPS=${BENCH_MEM_REPS:-3}
PATHS=${BENCH_PATHS:-direct threshold threshold-tls haproxy sshr}
MUX_SECONDS=${BENCH_MUX_SECONDS:-2}
BUDGET=${BENCH_BUDGET_S:-780}
OUT=${BENCH_OUT:-docs/performance.md}
CLK=$(getconf CLK_TCK)
T_START=$SECONDS

work=$(mktemp -d /tmp/threshold-bench.XXXXXX)
pids=()
made_run_sshd=0

# pid and every live descendant of the given pids.
tree() {
	[ $# -gt 0 ] || return 0
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v roots="$*" '
		{ line = $0; pid = $1; sub(/^.*\) /, "", line); split(line, a, " "); par[pid] = a[2] }
		END {
			n = split(roots, r, " ")
			for (i = 1; i <= n; i++) if (r[i] in par) keep[r[i]] = 1
			for (changed = 1; changed; ) {
				changed = 0
				for (p in par) if (!(p in keep) && (par[p] in keep)) { keep[p] = 1; changed = 1 }
			}
			for (p in keep) print p
		}'
}

# Stop the given pids and their descendants: SIGTERM, then SIGKILL after 5 s.
stop_pids() {
	local all p
	all=$(tree "$@")
	[ -n "$all" ] || return 0
	for p in $all; do kill "$p" 2>/dev/null || true; done
	for _ in $(seq 100); do
		local alive=0
		for p in $all; do [ -e "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.05
	done
	for p in $all; do kill -9 "$p" 2>/dev/null || true; done
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

cleanup() {
	trap - EXIT INT TERM
	[ ${#pids[@]} -gt 0 ] && stop_pids "${pids[@]}"
	rm -rf "$work"
	[ $made_run_sshd = 1 ] && rmdir /run/sshd 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# spawn NAME CMD...: background process, output in $work/NAME.log, pid in LAST_PID.
spawn() {
	local name=$1
	shift
	"$@" >"$work/$name.log" 2>&1 </dev/null &
	LAST_PID=$!
	pids+=("$LAST_PID")
}

# wait_until SECONDS WHAT PID CMD...: poll CMD (bounded); fail at once if PID exits.
wait_until() {
	local limit=$1 what=$2 pid=$3
	shift 3
	local end=$((SECONDS + limit))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		if [ "$pid" != - ] && ! kill -0 "$pid" 2>/dev/null; then
			echo "bench: $what: the process exited" >&2
			return 1
		fi
		if [ $SECONDS -ge $end ]; then
			echo "bench: timed out after ${limit}s waiting for $what" >&2
			return 1
		fi
		sleep 0.05
	done
}

kv() { sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n 1; }
free_port() { "$LOAD" free-port | sed -n 's/^port=//p'; }

rss_kib() { # sum of VmRSS over the trees of the given pids
	local p s=0 v
	for p in $(tree "$@"); do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
cpu_ticks() { # utime + stime over the trees of the given pids
	local p s=0 v
	for p in $(tree "$@"); do
		v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || true)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
fd_count() {
	local p s=0 v
	for p in $(tree "$@"); do
		v=$(ls "/proc/$p/fd" 2>/dev/null | wc -l || true)
		s=$((s + v))
	done
	echo "$s"
}
median() {
	printf '%s\n' "$@" | grep -E '^-?[0-9.]+$' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }' || true
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

declare -A R=()      # R[path.metric] = median
declare -A RAW=()    # RAW[path.metric] = every run's value
declare -A NOTE=()   # NOTE[path] = why (part of) a path is not measured
PROBLEMS=()          # errors seen during the run, for the notes
add_raw() { RAW[$1]="${RAW[$1]:-}${RAW[$1]:+ }$2"; }
problem() { PROBLEMS+=("$*"); echo "bench: $*" >&2; }
note() { NOTE[$1]="${NOTE[$1]:-}${NOTE[$1]:+; }$2"; echo "bench: $1: $2" >&2; }

# run_load OUT ARGS...: the load tool, bounded; exit status kept in LOAD_RC.
run_load() {
	local out=$1
	shift
	LOAD_RC=0
	timeout 300 "$LOAD" "$@" >"$out" 2>"$out.err" || LOAD_RC=$?
}

# ------------------------------------------------------------------ limits

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)

# ------------------------------------------------------------------ paths
# start_<path> sets ECHO_PORT, SINK_PORT (where the load goes), GW (the
# gateway's root pids, whose process trees are measured; empty for direct),
# FDS_PER_CONN (descriptors one tunneled connection costs the busiest single
# gateway process) and BE (backend pids); returns 1 with NOTE set if the
# path cannot run here.

start_backends() {
	spawn "$TAG-echo" "$LOAD" echo-server 0 3600
	local e=$LAST_PID
	spawn "$TAG-sink" "$LOAD" sink-server 0 3600
	local s=$LAST_PID
	BE="$e $s"
	wait_until 10 "echo backend" "$e" grep -q '^ready=1' "$work/$TAG-echo.log" &&
		wait_until 10 "sink backend" "$s" grep -q '^ready=1' "$work/$TAG-sink.log" || return 1
	BE_ECHO=$(kv "$work/$TAG-echo.log" port)
	BE_SINK=$(kv "$work/$TAG-sink.log" port)
}

# The path carries traffic end to end: 101 echoed pings, and 1000 bytes
# counted by the sink (light, so that "idle" memory stays idle).
probe() {
	"$LOAD" latency 127.0.0.1 "$ECHO_PORT" 1 && "$LOAD" bulk 127.0.0.1 "$SINK_PORT" 1 1 1000
}

start_direct() {
	ECHO_PORT=$BE_ECHO SINK_PORT=$BE_SINK GW="" FDS_PER_CONN=1
}

make_certs() { # dir: a CA, a server cert for localhost/127.0.0.1, a client cert "bench"
	local d=$1
	mkdir -p "$d"
	(
		cd "$d"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj /CN=bench-ca -keyout ca.key -out ca.pem
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
			-keyout server.key -out server.csr
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile server.ext -out server.pem
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench@bench.local \
			-keyout client.key -out client.csr
		printf 'extendedKeyUsage=clientAuth\n' >client.ext
		openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile client.ext -out client.pem
	) >"$d/openssl.log" 2>&1
}

start_threshold_common() { # path tls(0|1)
	local p=$1 tls=$2 d=$work/$TAG
	mkdir -p "$d"
	local ctrl mgmt scheme=http tls_server="" tls_client=""
	ctrl=$(free_port) mgmt=$(free_port) ECHO_PORT=$(free_port) SINK_PORT=$(free_port)
	MGMT_CURL=(curl -sf --max-time 5)
	if [ "$tls" = 1 ]; then
		make_certs "$d/pki" || { note "$p" "could not make test certificates: $(tail -n 2 "$d/pki/openssl.log")"; return 1; }
		scheme=https
		MGMT_CURL+=(--cacert "$d/pki/ca.pem" --cert "$d/pki/client.pem" --key "$d/pki/client.key")
		tls_server=", \"CaCertificateFile\": \"$d/pki/ca.pem\", \"ServerTlsKeyFile\": \"$d/pki/server.key\", \"ServerTlsCertificateFile\": \"$d/pki/server.pem\", \"ManagementAddress\": \"127.0.0.1\", \"ManagementClientIds\": [\"bench\"]"
		tls_client=", \"CaCertificateFile\": \"$d/pki/ca.pem\", \"ClientTlsKeyFile\": \"$d/pki/client.key\", \"ClientTlsCertificateFile\": \"$d/pki/client.pem\""
	fi
	MGMT_URL="$scheme://127.0.0.1:$mgmt"
	cat >"$d/server-config.json" <<-JSON
	{ "DebugLog": false, "TunnelControlPort": $ctrl, "ManagementPort": $mgmt,
	  "ListenAddress": "127.0.0.1", "UseTls": $([ "$tls" = 1 ] && echo true || echo false),
	  "MaxVisitorsPerListener": 100000$tls_server }
	JSON
	cat >"$d/client-config.json" <<-JSON
	{ "DebugLog": false, "ClientIdentifier": "bench", "ServerHost": "127.0.0.1",
	  "ServerTunnelControlPort": $ctrl, "UseTls": $([ "$tls" = 1 ] && echo true || echo false),
	  "ServiceToLocalAddrMap": { "echo": "127.0.0.1:$BE_ECHO", "sink": "127.0.0.1:$BE_SINK" }$tls_client }
	JSON
	cat >"$d/tunnels.json" <<-JSON
	[ { "ClientIdentifier": "bench", "ListenPort": $ECHO_PORT, "ListenAddress": "127.0.0.1",
	    "ListenHostnameGlob": "*", "BackEndService": "echo", "HaProxyProxyProtocol": false },
	  { "ClientIdentifier": "bench", "ListenPort": $SINK_PORT, "ListenAddress": "127.0.0.1",
	    "ListenHostnameGlob": "*", "BackEndService": "sink", "HaProxyProxyProtocol": false } ]
	JSON
	spawn "$TAG-server" "$BIN" server -c "$d/server-config.json"
	local srv=$LAST_PID
	if ! wait_until 10 "threshold server /ping" "$srv" "${MGMT_CURL[@]}" "$MGMT_URL/ping"; then
		note "$p" "threshold server did not come up: $(grep -v '^{' "$work/$TAG-server.log" | head -n 3 | tr '\n' ' ')"
		return 1
	fi
	spawn "$TAG-client" "$BIN" client -c "$d/client-config.json"
	local cli=$LAST_PID
	GW="$srv $cli" FDS_PER_CONN=1
	connected() { "${MGMT_CURL[@]}" "$MGMT_URL/clients" | grep -q '"ClientConnected"'; }
	if ! wait_until 15 "threshold client connected" "$cli" connected; then
		note "$p" "threshold client did not connect: $(grep -v '^{' "$work/$TAG-client.log" | tail -n 3 | tr '\n' ' ')"
		return 1
	fi
	local put
	put=$("${MGMT_CURL[@]}" -X PUT -H 'Content-Type: application/json' -d @"$d/tunnels.json" "$MGMT_URL/tunnels") || {
		note "$p" "PUT /tunnels failed: $put"
		return 1
	}
	wait_until 15 "traffic through the threshold tunnel" "$cli" probe || {
		note "$p" "no traffic through the tunnel; server log: $(tail -n 3 "$work/$TAG-server.log" | tr '\n' ' ')"
		return 1
	}
}
start_threshold() { start_threshold_common threshold 0; }
start_threshold-tls() { start_threshold_common threshold-tls 1; }

start_haproxy() {
	local d=$work/$TAG
	mkdir -p "$d"
	command -v haproxy >/dev/null || { note haproxy "haproxy is not installed (scripts/deps.sh bench installs it as root)"; return 1; }
	ECHO_PORT=$(free_port) SINK_PORT=$(free_port)
	# One process holds both sides of every connection: two fds each.
	local maxconn=$(((FD_LIMIT - 200) / 2))
	[ $maxconn -gt 50000 ] && maxconn=50000
	cat >"$d/haproxy.cfg" <<-CFG
	global
	    maxconn $maxconn
	defaults
	    mode tcp
	    maxconn $maxconn
	    timeout connect 5s
	    timeout client 10m
	    timeout server 10m
	listen echo
	    bind 127.0.0.1:$ECHO_PORT
	    server echo 127.0.0.1:$BE_ECHO
	listen sink
	    bind 127.0.0.1:$SINK_PORT
	    server sink 127.0.0.1:$BE_SINK
	CFG
	spawn "$TAG-haproxy" haproxy -db -f "$d/haproxy.cfg"
	GW=$LAST_PID FDS_PER_CONN=2
	wait_until 10 "traffic through haproxy" "$LAST_PID" probe || {
		note haproxy "haproxy did not carry traffic: $(head -n 3 "$work/$TAG-haproxy.log" | tr '\n' ' ')"
		return 1
	}
}

start_sshr() {
	local d=$work/$TAG sshd=/usr/sbin/sshd user
	user=$(id -un)
	[ -x $sshd ] && command -v ssh >/dev/null || { note sshr "sshd or ssh is not installed (scripts/deps.sh bench installs openssh-server as root)"; return 1; }
	mkdir -p "$d"
	chmod 700 "$d"
	ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$d/host_key"
	ssh-keygen -q -t ed25519 -N '' -C bench-user -f "$d/user_key"
	cp "$d/user_key.pub" "$d/authorized_keys"
	chmod 600 "$d/authorized_keys"
	local sshport
	sshport=$(free_port) ECHO_PORT=$(free_port) SINK_PORT=$(free_port)
	# As root, sshd's privilege separation wants its empty directory.
	if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
		mkdir -m 0755 /run/sshd && made_run_sshd=1
	fi
	# Without PAM, sshd refuses accounts whose password is locked ("!" or
	# "*" in /etc/shadow), as most non-root accounts are when they only use
	# keys; a non-root sshd cannot read /etc/shadow anyway, PAM's helper can.
	local use_pam=no
	[ "$(id -u)" = 0 ] || use_pam=yes
	cat >"$d/sshd_config" <<-CFG
	Port $sshport
	ListenAddress 127.0.0.1
	HostKey $d/host_key
	PidFile none
	AuthorizedKeysFile $d/authorized_keys
	StrictModes no
	PubkeyAuthentication yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM $use_pam
	PermitRootLogin prohibit-password
	AllowUsers $user
	AllowTcpForwarding remote
	GatewayPorts no
	X11Forwarding no
	PermitTTY no
	ClientAliveInterval 0
	LogLevel INFO
	CFG
	spawn "$TAG-sshd" $sshd -f "$d/sshd_config" -D -e
	local spid=$LAST_PID
	wait_until 10 "sshd listening" "$spid" grep -q "Server listening on 127.0.0.1 port $sshport" "$work/$TAG-sshd.log" || {
		note sshr "sshd did not start: $(head -n 3 "$work/$TAG-sshd.log" | tr '\n' ' ')"
		return 1
	}
	spawn "$TAG-ssh" ssh -F /dev/null -N -p "$sshport" -i "$d/user_key" -l "$user" \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes \
		-o BatchMode=yes -o ExitOnForwardFailure=yes -o ServerAliveInterval=0 -o LogLevel=ERROR \
		-R "127.0.0.1:$ECHO_PORT:127.0.0.1:$BE_ECHO" -R "127.0.0.1:$SINK_PORT:127.0.0.1:$BE_SINK" 127.0.0.1
	local cpid=$LAST_PID
	GW="$spid $cpid" FDS_PER_CONN=1
	wait_until 20 "traffic through ssh -R" "$cpid" probe || {
		note sshr "ssh -R did not carry traffic: ssh: $(tail -n 3 "$work/$TAG-ssh.log" | tr '\n' ' ') sshd: $(tail -n 3 "$work/$TAG-sshd.log" | tr '\n' ' ')"
		return 1
	}
	SSH_CIPHER=$(ssh -F /dev/null -G 127.0.0.1 2>/dev/null | sed -n 's/^ciphers //p' | cut -d, -f1)
}

# ------------------------------------------------------------------ cases

case_bulk() { # path nconn
	local p=$1 n=$2 f=$work/$1-bulk$2 c0 c1 g by cpu
	c0=$(cpu_ticks $GW)
	run_load "$f" bulk 127.0.0.1 "$SINK_PORT" "$SECS" "$n"
	c1=$(cpu_ticks $GW)
	g=$(kv "$f" gbit_s) by=$(kv "$f" recv_bytes)
	[ "$LOAD_RC" = 0 ] || problem "$p: bulk $n conn: load exit $LOAD_RC: $(head -n 2 "$f.err" | tr '\n' ' ')"
	[ -n "$(kv "$f" gbit_s_basis)" ] && problem "$p: bulk $n conn: sinks did not report their counts; figure from bytes sent"
	[ -n "$g" ] && add_raw "$p.bulk$n" "$g"
	if [ -n "$GW" ] && [ -n "$g" ]; then
		cpu=$(calc %.2f "($c1 - $c0) / $CLK")
		add_raw "$p.cpu$n" "$cpu"
		[ -n "$by" ] && [ "$by" != 0 ] && add_raw "$p.cpugb$n" "$(calc %.3f "($c1 - $c0) / $CLK / ($by / 1e9)")"
	fi
}

case_rate() { # path concurrency
	local p=$1 c=$2 f=$work/$1-rate$2 v e
	run_load "$f" rate 127.0.0.1 "$ECHO_PORT" "$SECS" "$c"
	v=$(kv "$f" conn_per_s) e=$(kv "$f" errors)
	[ -n "$v" ] && add_raw "$p.rate$c" "$v"
	[ -n "$v" ] && add_raw "$p.ratep99_$c" "$(kv "$f" conn_p99_us)"
	[ -n "$v" ] && add_raw "$p.ratep50_$c" "$(kv "$f" conn_p50_us)"
	RAW[$p.rate_err]=$((${RAW[$p.rate_err]:-0} + ${e:-0}))
	if [ "$LOAD_RC" != 0 ]; then
		problem "$p: rate c$c: $e errors (connect $(kv "$f" err_connect), reset $(kv "$f" err_reset), eof $(kv "$f" err_eof), mismatch $(kv "$f" err_mismatch), timeout $(kv "$f" err_timeout)) of $(kv "$f" ok) ok; $(head -n 2 "$f.err" | tr '\n' ' ')"
	fi
}

case_latency() {
	local p=$1 f=$work/$1-lat
	run_load "$f" latency 127.0.0.1 "$ECHO_PORT" "$LAT_COUNT"
	[ "$LOAD_RC" = 0 ] || problem "$p: latency: load exit $LOAD_RC after $(kv "$f" count) pings: $(head -n 2 "$f.err" | tr '\n' ' ')"
	local k
	for k in p50 p99 p999; do
		[ -n "$(kv "$f" ${k}_us)" ] && add_raw "$p.$k" "$(kv "$f" ${k}_us)"
	done
	return 0
}

# Memory, on a freshly started path: RSS of the gateway's processes idle,
# with N idle tunneled connections, and after they are closed.
case_memory() { # path
	local p=$1 n base fd0 hp est failed held dropped
	base=$(rss_kib $GW) fd0=$(fd_count $GW)
	add_raw "$p.rss_idle" "$base"
	for n in $HOLD_COUNTS; do
		local need=$((n * FDS_PER_CONN + 100))
		if [ $need -gt "$FD_LIMIT" ] || [ $((n + 100)) -gt "$FD_LIMIT" ]; then
			case "${NOTE[$p]:-}" in *"$n held"*) ;; *)
				note "$p" "$n held connections not measured: they need about $need descriptors in one process, RLIMIT_NOFILE is $FD_LIMIT here and cannot be raised (hard limit $(ulimit -Hn)$([ "$(id -u)" = 0 ] && echo ', no CAP_SYS_RESOURCE in this container'))" ;;
			esac
			continue
		fi
		spawn "$TAG-hold$n" "$LOAD" hold 127.0.0.1 "$ECHO_PORT" "$n" 600
		hp=$LAST_PID
		if ! wait_until 150 "$n held connections through $p" "$hp" grep -q '^established=' "$work/$TAG-hold$n.log"; then
			problem "$p: hold $n: $(grep -v '^mode\|^conns' "$work/$TAG-hold$n.log" | head -n 4 | tr '\n' ' ')"
			stop_pids "$hp"
			continue
		fi
		est=$(kv "$work/$TAG-hold$n.log" established) failed=$(kv "$work/$TAG-hold$n.log" failed)
		held=$(rss_kib $GW)
		add_raw "$p.setup$n" "$(kv "$work/$TAG-hold$n.log" setup_s)"
		kill -USR1 "$hp" 2>/dev/null || true
		wait "$hp" 2>/dev/null || true
		if [ "$failed" != 0 ]; then
			problem "$p: hold $n: only $est of $n connections established ($(grep '^err_' "$work/$TAG-hold$n.log" | tr '\n' ' ')); $(grep '^load' "$work/$TAG-hold$n.log" | head -n 2 | tr '\n' ' ')"
		else
			add_raw "$p.rss$n" "$held"
			add_raw "$p.kpc$n" "$(calc %.2f "($held - $base) / $n")"
		fi
		dropped=$(kv "$work/$TAG-hold$n.log" dropped)
		[ "${dropped:-0}" = 0 ] || problem "$p: hold $n: $dropped held connections were closed by the path while idle"
		wait_closed "$p" "$fd0" "closing $n held connections"
	done
	# Memory given back? 1 s after the last close (no signal exists for that).
	sleep 1
	held=$(rss_kib $GW)
	add_raw "$p.rss_closed" "$held"
	add_raw "$p.closed_pct" "$(calc %.1f "($held - $base) * 100 / $base")"
}

# The gateway has let go of every connection when its fds are back to idle.
wait_closed() { # path idle-fd-count what
	fds_back() { [ "$(fd_count $GW)" -le $(($1 + 2)) ]; }
	wait_until 60 "$1 to finish $3" - fds_back "$2" ||
		problem "$1: after $3 the gateway still had $(fd_count $GW) fds open (idle: $2) 60 s later"
}

path_label() {
	case $1 in
	direct) echo direct ;; threshold) echo threshold ;; threshold-tls) echo "threshold (TLS)" ;;
	haproxy) echo haproxy ;; sshr) echo "ssh -R" ;; *) echo "$1" ;;
	esac
}

NSTART=0
start_path() { # path; sets TAG (names this instance's logs and files)
	NSTART=$((NSTART + 1))
	TAG="$1-$NSTART" GW="" BE=""
	start_backends && "start_$1"
}

path_failed() { # path
	[ -n "${NOTE[$1]:-}" ] || note "$1" "could not be started (see above)"
	R[$1.skipped]=1
	stop_pids $GW $BE
}

over_budget() { # path
	[ $((SECONDS - T_START)) -gt "$BUDGET" ] || return 1
	note "$1" "skipped: the run had used its time budget (${BUDGET}s, BENCH_BUDGET_S)"
	R[$1.skipped]=1
}

# Memory, path by path, each run on freshly started processes so that
# earlier traffic's buffers neither hide nor inflate a connection's cost.
measure_memory() { # path
	local p=$1 rep
	[ "$p" != direct ] || return 0
	echo "== memory: $(path_label "$p")" >&2
	over_budget "$p" && return 0
	local before=("${pids[@]}")
	for rep in $(seq "$MEM_REPS"); do
		echo "   run $rep" >&2
		start_path "$p" || { path_failed "$p"; break; }
		case_memory "$p"
		stop_pids $GW $BE
	done
	pids=("${before[@]}")
}

# Traffic: every path is started once and kept up; runs are interleaved
# (run 1 of a case on every path, then run 2, ...) so that other work on
# the machine weighs on all paths alike rather than on one.
declare -A P_ECHO=() P_SINK=() P_GW=() P_BE=() P_FD0=() P_IDLE=() P_TAG=()
use_path() { ECHO_PORT=${P_ECHO[$1]} SINK_PORT=${P_SINK[$1]} GW=${P_GW[$1]} BE=${P_BE[$1]} TAG=${P_TAG[$1]}; }
live_paths() { local p; for p in $PATHS; do [ -n "${R[$p.skipped]:-}" ] || echo "$p"; done; }

measure_traffic() {
	local p rep
	for p in $(live_paths); do
		echo "== traffic: starting $(path_label "$p")" >&2
		over_budget "$p" && continue
		start_path "$p" || { path_failed "$p"; continue; }
		P_ECHO[$p]=$ECHO_PORT P_SINK[$p]=$SINK_PORT P_GW[$p]=$GW P_BE[$p]=$BE P_TAG[$p]=$TAG
		if [ -n "$GW" ]; then P_IDLE[$p]=$(rss_kib $GW) P_FD0[$p]=$(fd_count $GW); fi
	done
	for rep in $(seq "$REPS"); do
		echo "   bulk, run $rep" >&2
		for p in $(live_paths); do use_path "$p"; case_bulk "$p" 1; case_bulk "$p" 8; done
	done
	for rep in $(seq "$REPS"); do
		echo "   rate, run $rep" >&2
		for p in $(live_paths); do use_path "$p"; case_rate "$p" 1; case_rate "$p" 50; done
	done
	for rep in $(seq "$REPS"); do
		echo "   latency, run $rep" >&2
		for p in $(live_paths); do use_path "$p"; case_latency "$p"; done
	done
	for p in $(live_paths); do
		use_path "$p"
		[ -n "$GW" ] || continue
		wait_closed "$p" "${P_FD0[$p]}" "the traffic runs"
	done
	# Memory given back after traffic: 1 s later (no signal exists for that).
	sleep 1
	for p in $(live_paths); do
		use_path "$p"
		[ -n "$GW" ] || continue
		local after
		after=$(rss_kib $GW)
		add_raw "$p.rss_load" "$after"
		add_raw "$p.load_pct" "$(calc %.1f "($after - ${P_IDLE[$p]}) * 100 / ${P_IDLE[$p]}")"
	done
	for p in $(live_paths); do
		use_path "$p"
		stop_pids $GW $BE
	done
}

# Threshold's own complaints during the run (all its logs), then medians.
summarise() {
	local p l f n k
	for p in $PATHS; do
		if [ "${p#threshold}" != "$p" ]; then
			for l in server client; do
				n=0
				for f in "$work/$p"-*-"$l.log"; do
					[ -f "$f" ] || continue
					n=$((n + $(grep -ciE 'error|warn' "$f" || true)))
				done
				[ "$n" = 0 ] || problem "$p: the $l logged $n error/warning lines; most frequent: $(cat "$work/$p"-*-"$l.log" | grep -iE 'error|warn' | sed 's/^[0-9T:.-]*Z //' | sort | uniq -c | sort -rn | head -n 3 | sed 's/^ *//' | tr '\n' '|')"
			done
		fi
	done
	for k in "${!RAW[@]}"; do
		if [ "${k##*.}" = rate_err ]; then R[$k]=${RAW[$k]}; else R[$k]=$(median ${RAW[$k]}); fi
	done
}

# ------------------------------------------------------------------ under attack
# Each layout on a freshly started path (start_threshold_common: control
# port, separate management port, tunnels to the echo and sink backends,
# a connected client); bench/attack.py holds BENCH_ATTACK_N connections of
# each hostile kind against it and measures the server. Plaintext: every
# kind that needs no TLS; TLS: idle and half-sent ClientHellos (the others
# need a handshake first). The tables land in ATTACK_MD.

ATTACK_N=${BENCH_ATTACK_N:-1000}
ATTACK_HOLD=${BENCH_ATTACK_HOLD:-3}
ATTACK_MD=""
attack_kinds() { # path
	case $1 in
	threshold) echo none,idle,slow_head,big_body,ping_no_read,syn_no_read,visitors_idle ;;
	threshold-tls) echo none,idle,half_tls ;;
	esac
}

measure_attack() {
	if [ "${BENCH_ATTACK:-1}" = 0 ]; then
		echo "bench: under attack: skipped (BENCH_ATTACK=0)" >&2
		ATTACK_MD="Not run (BENCH_ATTACK=0)."
		return 0
	fi
	local p before srv ctrl d md log0 log1 rc tls_args
	echo "== under attack: $ATTACK_N hostile connections per kind, held ${ATTACK_HOLD} s; fd limit $FD_LIMIT"
	if [ $((ATTACK_N + 200)) -gt "$FD_LIMIT" ]; then
		ATTACK_MD+="RLIMIT_NOFILE is $FD_LIMIT here: $ATTACK_N connections per kind need about $((ATTACK_N + 200)) descriptors in the attacker and in the server; expect refusals."$'\n\n'
	fi
	for p in threshold threshold-tls; do
		before=("${pids[@]}")
		echo "   $(path_label "$p")" >&2
		if ! start_path "$p"; then
			ATTACK_MD+="**$(path_label "$p")**: not measured: ${NOTE[$p]:-could not be started}"$'\n\n'
			stop_pids $GW $BE
			pids=("${before[@]}")
			continue
		fi
		d=$work/$TAG
		srv=${GW%% *}
		ctrl=$(sed -n 's/.*"TunnelControlPort": *\([0-9]*\).*/\1/p' "$d/server-config.json")
		tls_args=()
		[ "$p" = threshold-tls ] && tls_args=(--ca "$d/pki/ca.pem" --cert "$d/pki/client.pem" --key "$d/pki/client.key")
		md=$work/$TAG-attack.md
		log0=$(stat -c %s "$work/$TAG-server.log")
		rc=0
		timeout 900 python3 "$ROOT/bench/attack.py" --pid "$srv" --control-port "$ctrl" \
			--tunnel-port "$ECHO_PORT" --mgmt-url "$MGMT_URL" "${tls_args[@]}" -n "$ATTACK_N" \
			--hold "$ATTACK_HOLD" --kinds "$(attack_kinds "$p")" --markdown "$md" || rc=$?
		log1=$(stat -c %s "$work/$TAG-server.log")
		ATTACK_MD+="**$(path_label "$p")** (control port $ctrl, the attackers' target; visitors_idle and the good visitor: tunnel port $ECHO_PORT; management API $MGMT_URL/ping):"$'\n\n'
		if [ -s "$md" ]; then
			ATTACK_MD+="$(cat "$md")"$'\n\n'
		else
			ATTACK_MD+="no table: bench/attack.py exited with status $rc"$'\n\n'
			problem "under attack: $p: bench/attack.py exited with status $rc"
		fi
		ATTACK_MD+="Server log during the attack: $(((log1 - log0) / 1024)) KiB, $(tail -c +$((log0 + 1)) "$work/$TAG-server.log" | grep -ciE 'error|warn' || true) error/warning lines$(kill -0 "$srv" 2>/dev/null || echo '; the server exited')."$'\n\n'
		stop_pids $GW $BE
		pids=("${before[@]}")
	done
}

attack_doc() {
	cat <<-EOF
	### Under attack

	\`bench/attack.py\` (hostile connections from \`tests/e2e/hostile.py\`, one
	process, one selector loop) against a freshly started server with a
	connected client and a tunnel to an echo backend: $ATTACK_N connections of
	each kind, held ${ATTACK_HOLD} s after they connected (longer while the
	probes still run). Kinds: **idle** (connect, send nothing), **slow_head**
	(a request head, one byte every 2 s, never finished), **big_body**
	(\`PUT /tunnels\` with a 1 MiB body sent as fast as the server takes it),
	**ping_no_read** / **syn_no_read** (\`CONNECT /_controlPath/\` with an id of
	its own, then 10,000 yamux pings / 1,000 SYN window updates for new
	streams each, never reading), **visitors_idle**
	(idle connections to the public tunnel port), **half_tls** (half a real
	ClientHello), **none** (a baseline row without attackers). N held = open at
	the end of the hold; refused = connect failed or reset, closed = the
	server closed in order; MiB sent = what the server took from the attackers.
	RSS and fds are the server's alone (VmRSS,
	/proc/PID/fd); *after* = once its fds are back (at most 10 s), plus 1 s.
	Admin = \`GET /ping\` answered 200, 20 requests, 4 at a time, 1 s timeout
	each; good visitor = connect to the tunnel port, send a line, get the echo
	(3 tries, 2 s each).

	$ATTACK_MD
	EOF
}

# ------------------------------------------------------------------ report

fmt_num() { # value decimals
	[ -n "$1" ] || { echo "n/m"; return; }
	calc "%.${2}f" "$1"
}
ratio() { # a b
	[ -n "$1" ] && [ -n "$2" ] && awk "BEGIN { exit !($2 != 0) }" || { echo ""; return; }
	awk "BEGIN { r = $1 / $2; printf(r < 0.1 ? \"%.2gx\" : \"%.2fx\", r) }"
}

# rows: key|label|decimals|gateway-only
ROWS=(
	"bulk1|bulk, 1 connection (Gbit/s)|2|0"
	"bulk8|bulk, 8 connections (Gbit/s)|2|0"
	"cpu1|gateway CPU s during bulk 1 conn (${SECS} s run)|2|1"
	"cpugb1|gateway CPU s per GB, 1 conn|3|1"
	"cpu8|gateway CPU s during bulk 8 conns (${SECS} s run)|2|1"
	"cpugb8|gateway CPU s per GB, 8 conns|3|1"
	"rate1|connections/s, concurrency 1|0|0"
	"rate50|connections/s, concurrency 50|0|0"
	"ratep50_1|connect+echo+close p50 at concurrency 1 (µs)|0|0"
	"ratep99_50|connect+echo+close p99 at concurrency 50 (µs)|0|0"
	"rate_err|connection errors (all rate runs)|0|0"
	"p50|latency 64 B round trip p50 (µs)|1|0"
	"p99|latency p99 (µs)|1|0"
	"p999|latency p99.9 (µs)|1|0"
	"rss_idle|RSS idle, fresh start (KiB)|0|1"
)
for n in $HOLD_COUNTS; do
	ROWS+=("setup$n|time to open $n held connections (s)|2|1"
		"rss$n|RSS with $n held connections (KiB)|0|1"
		"kpc$n|KiB per held connection, $n|2|1")
done
ROWS+=("rss_closed|RSS 1 s after the held connections closed (KiB)|0|1"
	"closed_pct|  change vs idle (%)|1|1"
	"rss_load|RSS 1 s after the bulk/rate/latency runs (KiB)|0|1"
	"load_pct|  change vs idle before those runs (%)|1|1")

# Ratio columns: numerator/denominator paths, shown when both were measured.
RATIOS="threshold/direct threshold/sshr threshold/haproxy threshold-tls/sshr threshold-tls/haproxy"

table() {
	local cols=() rats=() p q x
	for p in $PATHS; do cols+=("$p"); done
	for x in $RATIOS; do
		p=${x%/*} q=${x#*/}
		case " $PATHS " in *" $p "*) ;; *) continue ;; esac
		case " $PATHS " in *" $q "*) ;; *) continue ;; esac
		[ -z "${R[$p.skipped]:-}" ] && [ -z "${R[$q.skipped]:-}" ] && rats+=("$x")
	done
	local head="| metric |" sep="|---|" row
	for p in "${cols[@]}"; do head+=" $(path_label "$p") |"; sep+="---:|"; done
	for x in "${rats[@]}"; do head+=" $(path_label "${x%/*}") / $(path_label "${x#*/}") |"; sep+="---:|"; done
	echo "$head"
	echo "$sep"
	local r key label dec gwonly
	for r in "${ROWS[@]}"; do
		IFS='|' read -r key label dec gwonly <<<"$r"
		row="| $label |"
		for p in "${cols[@]}"; do
			if [ -n "${R[$p.skipped]:-}" ]; then
				row+=" n/m |"
			elif [ "$gwonly" = 1 ] && [ "$p" = direct ]; then
				row+=" — |"
			else
				row+=" $(fmt_num "${R[$p.$key]:-}" "$dec") |"
			fi
		done
		for x in "${rats[@]}"; do
			case $key in
			closed_pct | load_pct | rate_err) row+=" |" ;;
			*) row+=" $(ratio "${R[${x%/*}.$key]:-}" "${R[${x#*/}.$key]:-}") |" ;;
			esac
		done
		echo "$row"
	done
}

# ------------------------------------------------------------------ run

if [ "${BENCH_ONLY:-}" = attack ]; then
	[ -x "$LOAD" ] && [ -x "$BIN" ] || {
		echo "bench: build first (make bench builds $LOAD and $BIN)" >&2
		exit 2
	}
	measure_attack
	printf '\n%s\n' "$ATTACK_MD"
	printf '%s\n' "<!-- bench:attack:begin -->" "$(attack_doc)" "" "- command: \`BENCH_ONLY=attack${BENCH_ATTACK_N:+ BENCH_ATTACK_N=$BENCH_ATTACK_N}${BENCH_ATTACK_HOLD:+ BENCH_ATTACK_HOLD=$BENCH_ATTACK_HOLD} bench/run.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC'), $((SECONDS - T_START)) s; $("$BIN" version 2>&1 | head -n 1); git $(git rev-parse --short HEAD 2>/dev/null || echo unknown))" "<!-- bench:attack:end -->" >"$work/attack.md"
	mkdir -p "$(dirname "$OUT")"
	if [ -f "$OUT" ] && grep -q '^<!-- bench:attack:begin -->$' "$OUT" && grep -q '^<!-- bench:attack:end -->$' "$OUT"; then
		awk -v gen="$work/attack.md" '
			/^<!-- bench:attack:begin -->$/ { while ((getline l < gen) > 0) print l; skip = 1; next }
			/^<!-- bench:attack:end -->$/ { skip = 0; next }
			!skip { print }' "$OUT" >"$work/out.md"
	elif [ -f "$OUT" ] && grep -q '^<!-- bench:end -->$' "$OUT"; then
		awk -v gen="$work/attack.md" '
			/^<!-- bench:end -->$/ { while ((getline l < gen) > 0) print l; print ""; }
			{ print }' "$OUT" >"$work/out.md"
	else
		{ [ -f "$OUT" ] && cat "$OUT" && echo; cat "$work/attack.md"; } >"$work/out.md"
	fi
	cat "$work/out.md" >"$OUT"
	echo "bench: wrote the under-attack section of $OUT"
	exit 0
fi

[ -x "$LOAD" ] && [ -x "$MUX" ] && [ -x "$BIN" ] || {
	echo "bench: build first (make bench builds $LOAD, $MUX and $BIN)" >&2
	exit 2
}
CPU_MODEL=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
MACHINE="${CPU_MODEL:-unknown CPU}, $(nproc) cores, Linux $(uname -r), $(awk '/^MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)"
V_THRESHOLD=$("$BIN" version 2>&1 | head -n 1)
V_HAPROXY=$(haproxy -v 2>/dev/null | head -n 1 || echo "haproxy: not installed")
V_SSH=$(ssh -V 2>&1 | head -n 1 || echo "ssh: not installed")
V_OPENSSL=$(openssl version 2>/dev/null || echo "openssl: not installed")
# The binary's own version string is fixed when main.o was last built.
V_TREE="git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git status --porcelain --untracked-files=no -- src 2>/dev/null | grep -q . && echo ', with uncommitted changes in src/' || true)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
CMD="make bench"
for v in BENCH_REPS BENCH_SECONDS BENCH_LAT_COUNT BENCH_HOLD BENCH_MEM_REPS BENCH_PATHS BENCH_MUX_SECONDS BENCH_BUDGET_S BENCH_ATTACK BENCH_ATTACK_N BENCH_ATTACK_HOLD; do
	[ -n "${!v:-}" ] && CMD="$v=\"${!v}\" $CMD"
done

echo "== yamux engine, two engines back to back in memory (build/rel/tools/bench_mux)"
echo "machine: $MACHINE"
MUX_OUT=$("$MUX" "$MUX_SECONDS" 2>&1) || problem "bench_mux exited with an error"
echo "$MUX_OUT"

echo
echo "== crypto ceiling: openssl speed -elapsed -seconds 3 -evp aes-128-gcm"
SPEED=$(timeout 120 openssl speed -elapsed -seconds 3 -evp aes-128-gcm 2>/dev/null | awk '/^AES-128-GCM/ { v = $NF } END { sub(/k$/, "", v); print v }' || true)
if [ -n "$SPEED" ]; then
	CRYPTO="AES-128-GCM on one core at 16 KiB blocks: $(calc %.2f "$SPEED * 1000 / 1e9") GB/s ($(calc %.1f "$SPEED * 8000 / 1e9") Gbit/s)"
else
	CRYPTO="not measured: openssl speed gave no AES-128-GCM line"
fi
echo "$CRYPTO"

echo
echo "== end to end: $PATHS; $REPS runs each, median; bulk/rate ${SECS} s, latency $LAT_COUNT pings, held: $HOLD_COUNTS; fd limit $FD_LIMIT"
for p in $PATHS; do
	measure_memory "$p"
done
measure_traffic
summarise
TABLE=$(table)
echo
echo "$TABLE"
echo
NOTES=""
for p in $PATHS; do
	[ -n "${NOTE[$p]:-}" ] && NOTES+="- $(path_label "$p"): ${NOTE[$p]}"$'\n'
done
for x in "${PROBLEMS[@]}"; do NOTES+="- $x"$'\n'; done
[ -n "$NOTES" ] && printf 'Not measured / problems:\n%s' "$NOTES"
RAWS=""
for p in $PATHS; do
	for r in "${ROWS[@]}"; do
		key=${r%%|*}
		[ -n "${RAW[$p.$key]:-}" ] && [ "$key" != rate_err ] && RAWS+="$(path_label "$p") $key: ${RAW[$p.$key]}"$'\n'
	done
done
ELAPSED=$((SECONDS - T_START))
echo "bench: end-to-end run took ${ELAPSED}s"
echo
measure_attack
echo "$ATTACK_MD"
ATTACK_DOC=$(attack_doc)

# ------------------------------------------------------------------ docs

GEN=$(
	cat <<-EOF
	## Latest \`make bench\` run

	Written by bench/run.sh; everything between the bench markers is
	replaced by the next run.

	### Run

	- command: \`$CMD\` (bench/run.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), ${ELAPSED} s)
	- machine: $MACHINE
	- versions: $V_THRESHOLD; $V_HAPROXY; $V_SSH; $V_OPENSSL
	- source tree: $V_TREE
	- RLIMIT_NOFILE: $FD_LIMIT (hard $(ulimit -Hn)); running as $(id -un);
	  load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)
	  (other work on the machine shows up here and in the spread of "Every run")

	### Engine benchmark (bench_mux)

	The yamux engine alone: two engines back to back in memory, no sockets
	(\`build/rel/tools/bench_mux $MUX_SECONDS\`).

	\`\`\`
	$MUX_OUT
	\`\`\`

	### End to end

	Every path is measured in the same run with the same load tool
	(\`build/rel/tools/load\`, bench/load.c) against the same kind of backend
	(\`load echo-server\` / \`load sink-server\`), all on 127.0.0.1, all
	processes sharing the machine's $(nproc) cores. Each figure is the median of
	$REPS runs, interleaved across paths (run 1 of a case on every path, then
	run 2, ...) so that other work on the machine weighs on all of them alike;
	memory: $MEM_REPS run$([ "$MEM_REPS" = 1 ] || echo s) per path, each on freshly started processes.

	- **direct**: load tool to the backend (the ceiling).
	- **threshold**: \`threshold server\` and \`threshold client\` on loopback,
	  plain TCP (\`UseTls: false\`), a tunnel per backend set with
	  \`curl -X PUT /tunnels\`, no PROXY header.
	- **threshold (TLS)**: the same with \`UseTls: true\` and test certificates.
	- **haproxy**: Debian's haproxy, \`mode tcp\`, one \`listen\` per backend,
	  default threading.
	- **ssh -R**: a throwaway sshd on a high loopback port, throwaway ed25519
	  keys, \`ssh -N -R\` (cipher: ${SSH_CIPHER:-default}).

	Metrics: **bulk** = \`load bulk\` for ${SECS} s, bytes counted by the sink
	(it reports its count after the half-close; the clock stops when the last
	count arrives). **CPU** = utime+stime from /proc/<pid>/stat of the
	gateway's processes (threshold: server + client; haproxy; sshd with its
	session processes + ssh) over the bulk run. **connections/s** = \`load rate\`:
	connect, send 64 B, read the 64 B echo, close, for ${SECS} s. **latency** =
	\`load latency\`: $LAT_COUNT 64 B ping-pongs on one connection (after 100
	warm-up). **memory** = VmRSS of the gateway's processes (threshold:
	server and client together): idle, then with N idle connections held by \`load hold\`
	(each proven through the path with a 1-byte echo; KiB per connection =
	(RSS held - RSS idle) / N), then 1 s after the held connections were
	closed and the gateway's descriptors were back to their idle count. The
	traffic runs use another start of every path; RSS is taken again 1 s
	after they end, against that start's idle RSS.
	A ratio column "A / B" is path A's figure divided by path B's (for latency, CPU
	and memory lower is better).

	$TABLE

	<!-- bench:attack:begin -->
	$ATTACK_DOC
	<!-- bench:attack:end -->

	Crypto ceiling (\`openssl speed -elapsed -seconds 3 -evp aes-128-gcm\`):
	$CRYPTO.
	EOF
	if [ -n "$NOTES" ]; then
		printf '\n#### Not measured, errors and problems seen in this run\n\n%s' "$NOTES"
	fi
	printf '\n#### Every run\n\n```\n%s```\n' "$RAWS"
)
# Only the part between the markers is ours: a file without them keeps
# everything it has and gets the markers appended.
mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$GEN" >"$work/gen.md"
if [ -f "$OUT" ] && grep -q '^<!-- bench:begin -->$' "$OUT" && grep -q '^<!-- bench:end -->$' "$OUT"; then
	awk -v gen="$work/gen.md" '
		/^<!-- bench:begin -->$/ { print; while ((getline l < gen) > 0) print l; skip = 1; next }
		/^<!-- bench:end -->$/ { skip = 0 }
		!skip { print }' "$OUT" >"$work/out.md"
	cat "$work/out.md" >"$OUT"
elif [ -f "$OUT" ]; then
	{
		echo
		echo "<!-- bench:begin -->"
		cat "$work/gen.md"
		echo "<!-- bench:end -->"
	} >>"$OUT"
else
	{
		echo "# Performance"
		echo
		echo "<!-- bench:begin -->"
		cat "$work/gen.md"
		echo "<!-- bench:end -->"
	} >"$OUT"
fi
echo "bench: wrote $OUT"
