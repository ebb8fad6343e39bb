#!/bin/bash
# test_nginx.sh - end-to-end tests: Debian's unmodified nginx (nginx-light) on
# the user-space TCP/IP stack (lwIP over DPDK memif), reached through the
# zpoline hook and through the LD_PRELOAD front end:
#
#   loaders/zprun [--mechanism preload] --hook netstack -- nginx -c CONF -p DIR
#
#   bash tests/netstack/test_nginx.sh [--kernel] [NAME-SUBSTRING]
#
# nginx runs as one process (daemon off, master_process off), with a
# configuration written into a temporary directory (logs, pid, temp paths
# there too: nothing under /etc/nginx or /var/log is touched), as the memif
# server 10.77.1.1 in a network namespace of our own whose lo is down; every
# client runs under `zprun --hook netstack` as the memif client 10.77.1.2, so
# both ends are in user space and no kernel path exists between them.
#
# Per mechanism (zpoline, preload):
#   - GET / answers 200 with the configured body, byte for byte
#     (http_client.py, under the hook);
#   - keep-alive: 100 requests one after another on one connection, then 100
#     pipelined in one write;
#   - a 1 MiB static file (random bytes) arrives byte-exact, sent by nginx
#     with read + write and with sendfile (from a kernel file to an lwIP
#     socket; under preload through libzp_preload.so's sendfile64, the
#     symbol nginx calls); a 404 for a missing file, and the
#     connection still serves;
#   - 500 connections open at once, each answered;
#   - wrk -t1 -c64 -d2s and wrk -t1 -c1 -d1s (under the hook): requests
#     completed, no socket error, no non-2xx response;
#   - the server is still alive; SIGQUIT (graceful) ends it with exit 0 and
#     its "exit" notice; a restart on the same address serves again and
#     SIGTERM (fast shutdown) ends it with exit 0; no [error], [crit],
#     [alert] or [emerg] in its error log; nothing left in /var/run/dpdk.
#
# --kernel: dry run against the kernel: nginx and every client native, the
# addresses on a veth inside the namespace; only "under the hook" differs.
# NAME-SUBSTRING runs the tests whose names contain it (a leading
# "zpoline" or "preload" runs that mechanism only).  NS_KEEP_TMP=1 keeps the
# logs.  Only namespaces created here are touched (deleted at exit); only
# processes started here are signalled, by PID; every wait is bounded.
#
# Prints `ok - name` / `FAIL - name: why` and closes with
# `nginx: N passed, M failed`; exit status 1 if any failed.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
NS_PROG=test_nginx.sh
# shellcheck source=tests/netstack/lib.sh
source "$HERE/lib.sh"
CLIENT=$HERE/http_client.py
PY=$NS_PY
ZPRUN=$NS_ZPRUN

ns_suite_args 42 "$@"

ns_need_programs nginx wrk ip ss timeout sha256sum nm "$PY" || exit 1
if [ "$MODE" = hook ]; then
	ns_need_hook || exit 1
	if [ ! -f "$NS_PRELOAD_LIB" ]; then
		ns_err "hooklib/libzp_preload.so is not built (run 'make')"
		exit 1
	fi
fi
if [ "$(id -u)" != 0 ]; then
	ns_err "needs root (network namespaces, DPDK, page 0)"
	exit 1
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

ns_init
ns_tmpdir WORK || exit 1

SERVER_ADDR=10.77.1.1
CLIENT_ADDR=10.77.1.2
PORT=8080
MAC_SERVER=02:7a:70:00:00:01
MAC_CLIENT=02:7a:70:00:00:02
BODY='hello from exitless, nginx on lwIP\n'   # as nginx's "return" and --body read it
CMD_TIMEOUT=60

ns_report_init

# write_conf DIR: nginx.conf for one process serving $BODY on / and DIR/www
# under /f/ (with sendfile) and /r/ (read + write), every path it writes
# inside DIR.
write_conf() {
	local d=$1
	mkdir -p "$d/www" "$d/tmp"
	cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $d/error.log info;
pid $d/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    log_not_found off;
    keepalive_requests 1000000;
    sendfile on;
    default_type application/octet-stream;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen $SERVER_ADDR:$PORT;
        location = / { return 200 "$BODY"; }
        location /f/ { alias $d/www/; }
        location /r/ { alias $d/www/; sendfile off; }
    }
}
EOF
}

# start_nginx NETNS DIR LOG MECHANISM-ARGS...: start nginx (under the hook
# in hook mode) as the memif server; SERVER_PID.
start_nginx() {
	local ns=$1 d=$2 log=$3
	shift 3
	if [ "$MODE" = hook ]; then
		ns_start "$log" ip netns exec "$ns" env \
			"ZP_NET_DEV=net_memif0,role=server,socket=$MEMIF_SOCK,mac=$MAC_SERVER" \
			ZP_NET_ADDR=$SERVER_ADDR ZP_NET_MASK=255.255.255.0 \
			"$ZPRUN" "$@" --hook netstack -- nginx -c "$d/nginx.conf" -p "$d"
	else
		ns_start "$log" ip netns exec "$ns" nginx -c "$d/nginx.conf" -p "$d"
	fi
	SERVER_PID=$NS_LAST_PID
}

# wait_ready NETNS: memif listening (hook mode), then GET / answered.
wait_ready() {
	local ns=$1
	if [ "$MODE" = hook ]; then
		ns_wait_memif "$ns" "$MEMIF_SOCK" 30 "$SERVER_PID" 2>"$WORK/ready.err" || return 1
	fi
	timeout 40 "${CSIDE[@]}" "$PY" "$CLIENT" --host $SERVER_ADDR --port $PORT --body "$BODY" \
		--wait-secs 30 wait >"$WORK/ready.out" 2>>"$WORK/ready.err"
}

# check_client NAME LOG ARGS...: http_client.py ARGS through the client side.
check_client() {
	local name=$1 log=$2
	shift 2
	want "$name" || return 0
	local rc
	timeout "$CMD_TIMEOUT" "${CSIDE[@]}" "$PY" "$CLIENT" --host $SERVER_ADDR --port $PORT \
		--body "$BODY" "$@" >"$log" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		ok "$name ($(tail -n 1 "$log" | cut -c1-150))"
	elif [ "$rc" = 124 ]; then
		not_ok "$name" "http_client.py did not finish within $CMD_TIMEOUT s" "$log" "$SERVER_LOG"
	else
		local why
		why=$(grep -m1 'http_client: FAIL' "$log")
		not_ok "$name" "${why:-http_client.py: $(ns_describe_status $rc)}" "$log" "$SERVER_LOG"
	fi
}

# check_wrk NAME CONNS SECS ADDR: wrk through the client side, as ADDR;
# requests done, no socket error, no non-2xx response, the server alive
# afterwards.  Each wrk gets an address of its own: lwIP answers a SYN that
# hits one of its TIME_WAIT connections with an ACK and ignores the RST that
# follows (RFC 1337), where Linux accepts the new connection, so a client
# that reuses a recent 4-tuple cannot connect.  (keepalive_requests keeps
# nginx from closing wrk's connections, which leaves such TIME_WAITs.)
check_wrk() {
	local name=$1 c=$2 secs=$3 addr=$4 log=$WORK/$1.wrk
	want "$name" || return 0
	local rc n cside=("${CSIDE[@]}")
	[ "$MODE" = hook ] && cside=("${CSIDE[@]/#ZP_NET_ADDR=*/ZP_NET_ADDR=$addr}")
	timeout $((secs + 30)) "${cside[@]}" wrk -t1 -c "$c" -d "${secs}s" --latency \
		"http://$SERVER_ADDR:$PORT/" </dev/null >"$log" 2>&1
	rc=$?
	n=$(sed -n 's/^ *\([0-9]\+\) requests in .*/\1/p' "$log")
	if [ "$rc" != 0 ]; then
		not_ok "$name" "wrk: $(ns_describe_status $rc)" "$log" "$SERVER_LOG"
	elif [ -z "$n" ] || [ "$n" = 0 ]; then
		not_ok "$name" "no request completed" "$log"
	elif grep -q 'Socket errors' "$log"; then
		not_ok "$name" "$(grep 'Socket errors' "$log" | sed 's/^ *//')" "$log" "$SERVER_LOG"
	elif grep -q 'Non-2xx' "$log"; then
		not_ok "$name" "$(grep 'Non-2xx' "$log" | sed 's/^ *//')" "$log"
	elif ! ns_alive "$SERVER_PID"; then
		not_ok "$name" "the server died during wrk" "$SERVER_LOG"
	else
		ok "$name ($n requests, $(sed -n 's/^Requests\/sec: *//p' "$log") req/s, 0 errors, all 2xx)"
	fi
}

# check_stop NAME SIGNAL DIR: the server exits 0 within 15 s of SIGNAL, says
# "exit" in its log, no error lines, nothing left in /var/run/dpdk.
check_stop() {
	local name=$1 sig=$2 d=$3
	ns_stop "$SERVER_PID" "$sig" 15
	local st=$NS_STATUS bad
	want "$name" || return 0
	bad=$(grep -E '\[(error|crit|alert|emerg)\]' "$d/error.log" | head -n 3)
	if [ "$st" != 0 ]; then
		not_ok "$name" "after SIG$sig: $(ns_describe_status "$st"), expected exit 0" "$SERVER_LOG" "$d/error.log"
	elif ! grep -q '\[notice\].*: exit$' "$d/error.log"; then
		not_ok "$name" "no 'exit' notice in the error log (not a clean shutdown)" "$d/error.log"
	elif [ -n "$bad" ]; then
		not_ok "$name" "error lines in the log: $bad"
	elif [ -n "$(ns_dpdk_new)" ]; then
		not_ok "$name" "left in /var/run/dpdk: $(ns_dpdk_new | tr '\n' ' ')"
	else
		ok "$name (exit 0, clean log, /var/run/dpdk clean)"
	fi
}

# section MECH: every check on nginx reached through MECH.
section() {
	local mech=$1 p ns d
	p=$mech
	[ "$MODE" = kernel ] && p=kernel-$mech
	ns_netns_create ns || { not_ok "$p-setup" "cannot create a namespace"; return; }
	d=$WORK/$mech
	write_conf "$d"
	head -c 1048576 /dev/urandom >"$d/www/blob"
	local sha
	sha=$(sha256sum "$d/www/blob" | cut -d' ' -f1)
	ns_memif_socket MEMIF_SOCK
	if [ "$MODE" = hook ]; then
		ip -n "$ns" link set lo down   # no kernel path between the ends
		CSIDE=(ip netns exec "$ns" env "ZP_NET_DEV=net_memif0,role=client,socket=$MEMIF_SOCK,mac=$MAC_CLIENT"
			ZP_NET_ADDR=$CLIENT_ADDR ZP_NET_MASK=255.255.255.0 "$ZPRUN" --hook netstack --)
	else
		ns_veth_pair "$ns" zpm0 zpm1 && ip -n "$ns" addr add $SERVER_ADDR/24 dev zpm0 &&
			ip -n "$ns" addr add $CLIENT_ADDR/24 dev zpm0 ||
			{ not_ok "$p-setup" "cannot make the kernel stand-in interface"; return; }
		CSIDE=(ip netns exec "$ns")
	fi
	local margs=()
	[ "$mech" = preload ] && margs=(--mechanism preload)

	SERVER_LOG=$WORK/$mech-nginx.log
	start_nginx "$ns" "$d" "$SERVER_LOG" "${margs[@]}"
	if ! wait_ready "$ns"; then
		not_ok "$p-server-starts" "$(tail -n 1 "$WORK/ready.err")" "$SERVER_LOG" "$d/error.log"
		ns_stop "$SERVER_PID" TERM 5
		ns_netns_delete "$ns"
		return
	fi
	ok "$p-server-starts (GET / answered through the client side)"
	check_client "$p-body-exact" "$WORK/$p-body.log" body
	check_client "$p-keepalive" "$WORK/$p-keepalive.log" --requests 100 keepalive
	check_client "$p-file-1MiB" "$WORK/$p-file.log" --path /r/blob --sha256 "$sha" file
	# nginx calls sendfile64: under preload that symbol is one of the wrappers
	check_client "$p-sendfile-1MiB" "$WORK/$p-sendfile.log" --path /f/blob --sha256 "$sha" file
	check_client "$p-404" "$WORK/$p-404.log" notfound
	check_client "$p-500-connections" "$WORK/$p-conns.log" --conns 500 conns
	check_wrk "$p-wrk-c64" 64 2 10.77.1.3
	# one connection: wrk's event loop has 10 + 3 x connections slots, so
	# this also checks that the stack's own fds leave the low numbers free
	check_wrk "$p-wrk-c1" 1 1 10.77.1.4
	if ! ns_alive "$SERVER_PID"; then
		ns_reap "$SERVER_PID"
		not_ok "$p-server-survived" "the server died: $(ns_describe_status "$NS_STATUS")" "$SERVER_LOG"
		ns_netns_delete "$ns"
		return
	fi
	check_stop "$p-sigquit-exit-0" QUIT "$d"

	# restart on the same address, then the fast shutdown
	: >"$d/error.log"
	SERVER_LOG=$WORK/$mech-nginx-2.log
	start_nginx "$ns" "$d" "$SERVER_LOG" "${margs[@]}"
	if ! wait_ready "$ns"; then
		not_ok "$p-restart" "$(tail -n 1 "$WORK/ready.err")" "$SERVER_LOG" "$d/error.log"
		ns_stop "$SERVER_PID" TERM 5
	else
		want "$p-restart" && ok "$p-restart (same address, GET / answered)"
		check_stop "$p-sigterm-exit-0" TERM "$d"
	fi
	ns_netns_delete "$ns"
}

echo "nginx tests ($MODE mode: nginx $( [ "$MODE" = hook ] && echo "under zprun --hook netstack, memif" || echo "natively, dry run"); $(nginx -v 2>&1))"
T0=$SECONDS
for mech in zpoline preload; do
	if [ -z "$FILTER" ] || [[ "$FILTER" == "$mech"* ]] || ! [[ "$FILTER" =~ ^(zpoline|preload) ]]; then
		section "$mech"
	fi
done
if [ -z "$(ns_dpdk_new)" ]; then
	ok "dpdk-run-dir-clean (nothing new in $NS_DPDK_RUN)"
else
	not_ok dpdk-run-dir-clean "left in $NS_DPDK_RUN: $(ns_dpdk_new | tr '\n' ' ')"
fi
[ "$failed" = 0 ] || echo "failed: ${failed_names[*]}"
echo "nginx: $passed passed, $failed failed ($((SECONDS - T0)) s)"
[ "$failed" = 0 ]
