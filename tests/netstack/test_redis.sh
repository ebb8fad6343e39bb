#!/bin/bash
# test_redis.sh - end-to-end tests: Debian's unmodified redis-server on the
# user-space TCP/IP stack (lwIP over DPDK) through the zpoline hook:
#
#   loaders/zprun --hook netstack -- redis-server ...
#
#   bash tests/netstack/test_redis.sh [--kernel] [NAME-SUBSTRING]
#
# (a) net_tap: in a network namespace of our own, Redis under the hook at
#     10.77.0.1; the tap interface zpt0 appears while it runs and the kernel
#     side gets 10.77.0.2/24 on it.  Kernel clients: redis-cli (transcript
#     compared with native Redis), redis_client.py (random binary values,
#     1,000 connections, vanishing clients, BGSAVE while serving),
#     redis-benchmark.  Then SIGTERM (exit 0, nothing wrong removed) and a
#     restart on the same address.
# (b) net_memif: Redis under the hook as memif server (10.77.1.1), every
#     client under the hook as memif client (10.77.1.2), so both ends are user
#     space; the namespace's lo is down, so no kernel path exists at all.
# (c) net_af_packet over a veth pair (a smaller set).  The kernel side's
#     transmit checksum offload is turned off: AF_PACKET hands such frames
#     over with the TCP checksum not yet filled in (CHECKSUM_PARTIAL).
# (d) bad configurations: one clear line on stderr, non-zero exit, no hang.
#
# NAME-SUBSTRING starting with a section (tap, memif, afpacket, config) runs
# that section only; any other string runs the tests whose names contain it.
# NS_KEEP_TMP=1 keeps the logs (server logs, client output) in /tmp.
#
# --kernel: dry run of this script against the kernel: the same steps and
# checks, with redis-server and every client run natively and the addresses
# put on kernel interfaces; only "under the hook" differs.
#
# Ground truth: replies are compared with a native redis-server's replies to
# the same commands (transcripts) or with the bytes sent (redis_client.py).
# Only namespaces created here are touched (deleted at exit); only processes
# started here are signalled, by PID; every wait is bounded.
#
# Prints `ok - name` / `FAIL - name: why` and closes with
# `netstack: N passed, M failed`; exit status 1 if any failed.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
NS_PROG=test_redis.sh
# shellcheck source=tests/netstack/lib.sh
source "$HERE/lib.sh"
ROOT=$NS_ROOT
CLIENT=$HERE/redis_client.py
PY=$NS_PY
ZPRUN=$NS_ZPRUN

ns_suite_args 37 "$@"

ns_need_programs redis-server redis-cli redis-benchmark ip ss timeout "$PY" || exit 1
if [ "$MODE" = hook ]; then
	ns_need_hook || exit 1
fi
if [ "$(id -u)" != 0 ]; then
	ns_err "needs root (network namespaces, DPDK, page 0)"
	exit 1
fi

# 1,000 client connections and the server's own: raise the open-file limit
# for everything started from here (redis_client.py raises its own too).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

ns_init
ns_tmpdir WORK || exit 1

ns_report_init

# Every redis-server gets these; the address and --dir per run.
redis_args() { # ADDR DIR
	echo "--save '' --appendonly no --protected-mode no --bind $1 --port 6379 --dir $2 --daemonize no"
}
REDIS_PORT=6379
MAC_SERVER=02:7a:70:00:00:01
MAC_CLIENT=02:7a:70:00:00:02
CMD_TIMEOUT=120

# --- the server, by mode ------------------------------------------------------

# start_redis NETNS DEV ADDR DIR LOG: start redis-server (under the hook with
# ZP_NET_DEV=DEV, ZP_NET_ADDR=ADDR in hook mode; natively in kernel mode);
# PID in SERVER_PID.
SERVER_PID=""
start_redis() {
	local netns=$1 dev=$2 addr=$3 dir=$4 log=$5
	local -a redis=(redis-server --save '' --appendonly no --protected-mode no
		--bind "$addr" --port "$REDIS_PORT" --dir "$dir" --daemonize no)
	if [ "$MODE" = hook ]; then
		ns_start "$log" ip netns exec "$netns" env ZP_NET_DEV="$dev" ZP_NET_ADDR="$addr" \
			ZP_NET_MASK=255.255.255.0 "$ZPRUN" --hook netstack -- "${redis[@]}"
	else
		ns_start "$log" ip netns exec "$netns" "${redis[@]}"
	fi
	SERVER_PID=$NS_LAST_PID
}

MEMIF_SOCK=""

# --- ground truth: a fixed redis-cli session, first against native Redis -----

# cli_session PREFIX...: the session's replies on stdout (PREFIX runs
# redis-cli, e.g. `ip netns exec NS [env ... zprun --hook netstack --]`); -h is
# taken from SESSION_HOST.
SESSION_HOST=127.0.0.1
cli_session() {
	local -a c=("$@" redis-cli -h "$SESSION_HOST" -p "$REDIS_PORT")
	local cmd
	while IFS= read -r cmd; do
		# shellcheck disable=SC2086
		timeout 20 "${c[@]}" $cmd 2>&1
		echo "status $?"
	done <<'EOF'
ping
set zp:greeting hello-exitless
get zp:greeting
incr zp:counter
incrby zp:counter 41
get zp:counter
rpush zp:list a b c
lrange zp:list 0 -1
hset zp:hash f1 v1 f2 v2
hgetall zp:hash
append zp:greeting !!
strlen zp:greeting
get zp:missing
del zp:greeting zp:counter zp:list zp:hash
exists zp:greeting
EOF
}

ns_netns_create REFNS || exit 1
mkdir -p "$WORK/ref"
ns_start "$WORK/ref.log" ip netns exec "$REFNS" redis-server --save '' --appendonly no \
	--bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK/ref" --daemonize no
REF_PID=$NS_LAST_PID
if ! ns_wait_redis "$REFNS" 127.0.0.1 "$REDIS_PORT" 15 "$REF_PID"; then
	ns_err "native reference Redis did not start; see $WORK/ref.log"
	exit 1
fi
SESSION_HOST=127.0.0.1
cli_session ip netns exec "$REFNS" >"$WORK/ref.transcript"
ns_stop "$REF_PID"
ns_netns_delete "$REFNS"
if ! grep -qx hello-exitless "$WORK/ref.transcript"; then
	ns_err "native reference session failed: $(tr '\n' ' ' <"$WORK/ref.transcript")"
	exit 1
fi

# check_transcript NAME PREFIX...: run the session through PREFIX, compare.
check_transcript() {
	local name=$1
	shift
	want "$name" || return 0
	cli_session "$@" >"$WORK/$name.transcript"
	if cmp -s "$WORK/ref.transcript" "$WORK/$name.transcript"; then
		ok "$name ($(grep -vc '^status' "$WORK/ref.transcript") replies as native Redis)"
	else
		diff "$WORK/ref.transcript" "$WORK/$name.transcript" | head -n 12 >"$WORK/$name.diff"
		not_ok "$name" "replies differ from native Redis (< native, > here)" "$WORK/$name.diff"
	fi
}

# check_client NAME LOG PREFIX... :: ARGS: redis_client.py ARGS through PREFIX.
check_client() {
	local name=$1 log=$2
	shift 2
	want "$name" || return 0
	local -a prefix=()
	while [ $# -gt 0 ] && [ "$1" != :: ]; do prefix+=("$1"); shift; done
	shift
	local t0=$SECONDS rc
	timeout "$CMD_TIMEOUT" "${prefix[@]}" "$PY" "$CLIENT" "$@" >"$log" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		ok "$name ($(tail -n 1 "$log" | cut -c1-160))"
	elif [ "$rc" = 124 ]; then
		not_ok "$name" "redis_client.py did not finish within $CMD_TIMEOUT s" "$log" "$SERVER_LOG"
	else
		local why
		why=$(grep -m1 'redis_client: FAIL' "$log")
		not_ok "$name" "${why:-redis_client.py: $(ns_describe_status $rc)}" "$log" "$SERVER_LOG"
	fi
}

# check_benchmark NAME LOG PREFIX... :: ARGS: redis-benchmark; exit 0 and one
# result line per test asked for.
BENCH_TESTS=set,get,incr,lpush,lpop,sadd,hset,mset
check_benchmark() {
	local name=$1 log=$2
	shift 2
	want "$name" || return 0
	local -a prefix=()
	while [ $# -gt 0 ] && [ "$1" != :: ]; do prefix+=("$1"); shift; done
	shift
	local rc n want_n
	timeout "$CMD_TIMEOUT" "${prefix[@]}" redis-benchmark "$@" -t "$BENCH_TESTS" -q \
		</dev/null >"$log.raw" 2>&1
	rc=$?
	tr '\r' '\n' <"$log.raw" | grep -E 'requests per second' >"$log"
	n=$(wc -l <"$log")
	want_n=$(echo "$BENCH_TESTS" | tr ',' '\n' | wc -l)
	if [ "$rc" != 0 ]; then
		not_ok "$name" "redis-benchmark: $(ns_describe_status $rc)" "$log.raw" "$SERVER_LOG"
	elif [ "$n" != "$want_n" ]; then
		not_ok "$name" "$n result lines, expected $want_n" "$log.raw"
	elif ! ns_alive "$SERVER_PID"; then
		not_ok "$name" "the server died during the benchmark" "$SERVER_LOG"
	else
		ok "$name ($(grep -E '^(SET|GET):' "$log" | sed 's/ requests per second.*//' | tr '\n' ' '| sed 's/ $//'))"
	fi
}

# dir_digest DIR: name + checksum of every file in DIR (what a stop must keep).
dir_digest() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }

# check_stop NAME NETNS GONE-CHECK...: SIGTERM the server: exit 0 within 15 s,
# its --dir untouched, nothing new in /var/run/dpdk, GONE-CHECK (a command
# that must succeed once the device is released) true.
check_stop() {
	local name=$1 dir=$2
	shift 2
	local before after
	before=$(dir_digest "$dir")
	ns_stop "$SERVER_PID" TERM 15
	local st=$NS_STATUS
	after=$(dir_digest "$dir")
	want "$name" || return 0
	if [ "$st" != 0 ]; then
		not_ok "$name" "after SIGTERM: $(ns_describe_status "$st"), expected exit 0" "$SERVER_LOG"
	elif [ "$before" != "$after" ]; then
		not_ok "$name" "the server's --dir changed at exit: before [$before] after [$after]"
	elif ! grep -q 'ready to exit, bye bye' "$SERVER_LOG"; then
		not_ok "$name" "no 'ready to exit, bye bye' in the server's log (not a clean shutdown)" "$SERVER_LOG"
	elif [ $# -gt 0 ] && ! "$@"; then
		not_ok "$name" "after exit: $*: failed" "$SERVER_LOG"
	elif [ -n "$(ns_dpdk_new)" ]; then
		not_ok "$name" "left in /var/run/dpdk: $(ns_dpdk_new | tr '\n' ' ')"
	else
		ok "$name (exit 0, --dir intact, /var/run/dpdk clean)"
	fi
}

# server_suite NAME HOST DIR START GONE ERRFILE BENCH_OPTS CLIENT...: the
# checks tap and memif share, on the server START started (CLIENT... is how
# a client reaches it): redis-cli against the native transcript, exited
# clients gone, redis-benchmark, random values, 1,000 connections,
# vanishing clients, BGSAVE while serving, SIGTERM (exit 0), restart on the
# same address, SIGTERM again.
server_suite() {
	local p=$1 host=$2 dir=$3 start=$4 gone=$5 errfile=$6 bench_opts=$7
	shift 7
	local side=("$@")
	SESSION_HOST=$host
	check_transcript "$p-redis-cli" "${side[@]}"
	# the redis-cli processes above exited without closing their sockets
	# (the kernel closes them at exit): the server must see them all gone
	check_client "$p-exited-clients-closed" "$WORK/$p-alone.log" "${side[@]}" :: --host "$host" alone
	# shellcheck disable=SC2086  # bench_opts: words on purpose
	check_benchmark "$p-redis-benchmark" "$WORK/$p-bench" "${side[@]}" :: \
		-h "$host" -p "$REDIS_PORT" -n 20000 $bench_opts
	check_client "$p-random-values" "$WORK/$p-values.log" "${side[@]}" :: --host "$host" values
	check_client "$p-1000-connections" "$WORK/$p-conns.log" "${side[@]}" :: --host "$host" conns --conns 1000
	check_client "$p-vanishing-clients" "$WORK/$p-vanish.log" "${side[@]}" :: --host "$host" vanish
	check_client "$p-bgsave-while-serving" "$WORK/$p-bgsave.log" "${side[@]}" :: \
		--host "$host" --rdb-dir "$dir" bgsave
	if ! ns_alive "$SERVER_PID"; then
		ns_reap "$SERVER_PID"
		not_ok "$p-server-survived" "the server died: $(ns_describe_status "$NS_STATUS")" "$SERVER_LOG"
		return
	fi
	check_stop "$p-sigterm-exit-0" "$dir" "$gone"

	SERVER_LOG=$WORK/$p-redis-2.log
	if ! "$start"; then
		not_ok "$p-restart" "$(tail -n 1 "$errfile")" "$SERVER_LOG"
		ns_stop "$SERVER_PID" TERM 5
		return
	fi
	ok "$p-restart (same address, PING answered)"
	check_transcript "$p-restart-redis-cli" "${side[@]}"
	check_stop "$p-restart-sigterm-exit-0" "$dir" "$gone"
}

# --- (a) net_tap ------------------------------------------------------------------

section_tap() {
	local ns dir
	ns_netns_create ns || { not_ok tap-setup "cannot create a namespace"; return; }
	dir=$WORK/tap
	mkdir -p "$dir"
	SERVER_LOG=$WORK/tap-redis.log
	local kside=(ip netns exec "$ns")
	if [ "$MODE" = kernel ]; then
		# stand-in for the tap: a kernel interface with the server's address
		ns_veth_pair "$ns" zpt0 zpk0 && ip -n "$ns" addr add 10.77.0.1/24 dev zpt0 ||
			{ not_ok tap-setup "cannot make the kernel stand-in interface"; return; }
	fi

	# start_tap: start the server, wait for zpt0, give the kernel side its address
	start_tap() {
		start_redis "$ns" net_tap0,iface=zpt0 10.77.0.1 "$dir" "$SERVER_LOG"
		ns_wait_iface "$ns" zpt0 30 "$SERVER_PID" 2>"$WORK/tap.err" || return 1
		ip -n "$ns" addr replace 10.77.0.2/24 dev zpt0 2>>"$WORK/tap.err" || return 1
		ip -n "$ns" link set zpt0 up 2>>"$WORK/tap.err" || return 1
		ns_wait_redis "$ns" 10.77.0.1 "$REDIS_PORT" 30 "$SERVER_PID" 2>>"$WORK/tap.err"
	}
	tap_gone() {
		[ "$MODE" = kernel ] && return 0
		ns_wait_iface_gone "$ns" zpt0 5
	}

	if ! start_tap; then
		not_ok tap-server-starts "$(tail -n 1 "$WORK/tap.err")" "$SERVER_LOG"
		ns_stop "$SERVER_PID" TERM 5
		return
	fi
	ok "tap-server-starts (zpt0 appeared, PING answered)"
	server_suite tap 10.77.0.1 "$dir" start_tap tap_gone "$WORK/tap.err" "" "${kside[@]}"
	ns_netns_delete "$ns"
}

# --- (b) net_memif: both ends in user space ------------------------------------

section_memif() {
	local ns dir
	ns_netns_create ns || { not_ok memif-setup "cannot create a namespace"; return; }
	dir=$WORK/memif
	mkdir -p "$dir"
	ns_memif_socket MEMIF_SOCK
	if [ "$MODE" = hook ]; then
		# no kernel path between the two ends: lo down, no other interface
		ip -n "$ns" link set lo down
	else
		ns_veth_pair "$ns" zpm0 zpm1 && ip -n "$ns" addr add 10.77.1.1/24 dev zpm0 &&
			ip -n "$ns" addr add 10.77.1.2/24 dev zpm0 ||
			{ not_ok memif-setup "cannot make the kernel stand-in interface"; return; }
	fi
	# every client: under the hook as the memif client, 10.77.1.2 (hook mode)
	local client=()
	[ "$MODE" = hook ] && client=(env "ZP_NET_DEV=net_memif0,role=client,socket=$MEMIF_SOCK,mac=$MAC_CLIENT"
		ZP_NET_ADDR=10.77.1.2 ZP_NET_MASK=255.255.255.0 "$ZPRUN" --hook netstack --)
	local cside=(ip netns exec "$ns" "${client[@]}")

	start_memif() {
		start_redis "$ns" "net_memif0,role=server,socket=$MEMIF_SOCK,mac=$MAC_SERVER" 10.77.1.1 \
			"$dir" "$SERVER_LOG"
		if [ "$MODE" = hook ]; then
			ns_wait_memif "$ns" "$MEMIF_SOCK" 30 "$SERVER_PID" 2>"$WORK/memif.err" || return 1
		fi
		ns_wait_redis "$ns" 10.77.1.1 "$REDIS_PORT" 60 "$SERVER_PID" "${client[@]}" 2>>"$WORK/memif.err"
	}
	memif_gone() {
		[ "$MODE" = kernel ] && return 0
		! ns_memif_listening "$ns" "$MEMIF_SOCK"
	}

	SERVER_LOG=$WORK/memif-redis.log
	if ! start_memif; then
		not_ok memif-server-starts "$(tail -n 1 "$WORK/memif.err")" "$SERVER_LOG"
		ns_stop "$SERVER_PID" TERM 5
		return
	fi
	ok "memif-server-starts (control socket listening, PING answered by a memif client)"
	server_suite memif 10.77.1.1 "$dir" start_memif memif_gone "$WORK/memif.err" "-c 50" "${cside[@]}"
	ns_netns_delete "$ns"
}

# --- (c) net_af_packet over a veth pair -----------------------------------------

section_af_packet() {
	local ns dir
	ns_netns_create ns || { not_ok afpacket-setup "cannot create a namespace"; return; }
	dir=$WORK/afp
	mkdir -p "$dir"
	SERVER_LOG=$WORK/afp-redis.log
	# zpv0: the server's side (DPDK reads it with AF_PACKET; no kernel address
	# in hook mode); zpv1: the kernel's side, 10.77.2.2/24.
	if ! { ns_veth_pair "$ns" zpv0 zpv1 && ip -n "$ns" addr add 10.77.2.2/24 dev zpv1 &&
		ns_tx_csum_off "$ns" zpv1; } 2>"$WORK/afp.err"; then
		not_ok afpacket-setup "$(tail -n 1 "$WORK/afp.err")"
		return
	fi
	[ "$MODE" = kernel ] && ip -n "$ns" addr add 10.77.2.1/24 dev zpv0
	start_redis "$ns" net_af_packet0,iface=zpv0 10.77.2.1 "$dir" "$SERVER_LOG"
	if ! ns_wait_redis "$ns" 10.77.2.1 "$REDIS_PORT" 30 "$SERVER_PID" 2>"$WORK/afp.err"; then
		not_ok afpacket-server-starts "$(tail -n 1 "$WORK/afp.err")" "$SERVER_LOG"
		ns_stop "$SERVER_PID" TERM 5
		return
	fi
	ok "afpacket-server-starts (PING answered over the veth pair)"
	SESSION_HOST=10.77.2.1
	check_transcript afpacket-redis-cli ip netns exec "$ns"
	check_client afpacket-random-values "$WORK/afp-values.log" ip netns exec "$ns" :: \
		--host 10.77.2.1 values --values 60
	check_stop afpacket-sigterm-exit-0 "$dir"
	ns_netns_delete "$ns"
}

# --- (d) bad configurations ----------------------------------------------------------

# check_bad_config NAME MUST-MENTION ENV...: redis-server under the hook with
# ENV must exit non-zero within 10 s with exactly one line on stderr that
# mentions MUST-MENTION.
check_bad_config() {
	local name=$1 mention=$2
	shift 2
	want "$name" || return 0
	local ns
	ns_netns_create ns || { not_ok "$name" "cannot create a namespace"; return; }
	local t0 rc ms
	t0=$(date +%s%N)
	timeout 20 ip netns exec "$ns" env -u ZP_NET_ADDR -u ZP_NET_DEV -u ZP_DPDK_ARGS "$@" \
		"$ZPRUN" --hook netstack -- redis-server --save '' --appendonly no --port "$REDIS_PORT" \
		--bind 10.77.9.1 --dir "$WORK" --daemonize no \
		</dev/null >"$WORK/$name.out" 2>"$WORK/$name.err"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	ns_judge_bad_input "$name" "$rc" "$ms" "$mention" "$WORK/$name.err" "$WORK/$name.out"
	ns_netns_delete "$ns"
}

section_bad_config() {
	check_bad_config config-no-device ZP_NET_DEV ZP_NET_ADDR=10.77.9.1
	check_bad_config config-no-address ZP_NET_ADDR ZP_NET_DEV=net_tap0,iface=zpbad0
	check_bad_config config-bad-address ZP_NET_ADDR ZP_NET_DEV=net_tap0,iface=zpbad0 \
		ZP_NET_ADDR=10.77.300.1
	check_bad_config config-vdev-cannot-start net_af_packet0 \
		ZP_NET_DEV=net_af_packet0,iface=zpnone0 ZP_NET_ADDR=10.77.9.1
	check_bad_config config-unknown-driver net_nosuch0 \
		ZP_NET_DEV=net_nosuch0 ZP_NET_ADDR=10.77.9.1
}

# --- main -----------------------------------------------------------------------------

echo "netstack tests ($MODE mode: redis-server $( [ "$MODE" = hook ] && echo "under zprun --hook netstack" || echo "natively, dry run"))"
T0=$SECONDS
# A filter starting with a section's name runs that section only; any other
# filter runs every section and only the tests whose names contain it.
section_wanted() {
	[ -z "$FILTER" ] || [[ "$FILTER" == "$1"* ]] || ! [[ "$FILTER" =~ ^(tap|memif|afpacket|config) ]]
}
if section_wanted tap; then section_tap; fi
if section_wanted memif; then section_memif; fi
if section_wanted afpacket; then section_af_packet; fi
if ! section_wanted config; then
	:
elif [ "$MODE" = hook ]; then
	section_bad_config
else
	echo "skip - config-* (only under the hook)"
fi
if [ -z "$(ns_dpdk_new)" ]; then
	ok "dpdk-run-dir-clean (nothing new in $NS_DPDK_RUN)"
else
	not_ok dpdk-run-dir-clean "left in $NS_DPDK_RUN: $(ns_dpdk_new | tr '\n' ' ')"
fi
[ "$failed" = 0 ] || echo "failed: ${failed_names[*]}"
echo "netstack: $passed passed, $failed failed ($((SECONDS - T0)) s)"
[ "$failed" = 0 ]
