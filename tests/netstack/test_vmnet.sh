#!/bin/bash
# test_vmnet.sh - the netstack's vmnet device (ZP_NET_DEVICE=vmnet): frames
# through a port of an ELISA virtual switch (elisa/vmnet), the switch run by
# the sub-context app elisa/apps/vmnet.so, called in-process (the guest
# library's LOCAL mode) once per burst.  No kernel network at all: the
# processes run in a network namespace of our own whose lo is down.
#
#   bash tests/netstack/test_vmnet.sh [NAME-SUBSTRING]
#
# (a) 2-port regions (netstack/tools/vmnet-region, on /dev/shm): one for the
#     settings checks, a fresh one for nsecho and one for Redis, so each
#     section's counters are its own;
# (b) bad settings: one clear line on stderr, non-zero exit, no hang
#     (redis-server under the hook; the vmfunc mode's gate mapping, port
#     area mapping and fault guard with a fake gate whose VMFUNC raises #UD
#     here);
# (c) DPDK is not initialised with vmnet: no EAL runtime directory, no EAL
#     thread (the same check on a DPDK net_null device sees both: control);
#     while that process holds port 0, a second one on port 0 is refused;
# (d) netstack/tools/nsecho: echo server on port 0, client on port 1, 10 MiB
#     checked byte for byte and 1000 round trips; then the switch's counters
#     against both processes' own (exact for what each sent), no drops,
#     fewer switch calls than frames (batching);
# (e) Debian's redis-server under loaders/zprun --hook netstack on port 0;
#     clients under the hook on port 1: redis-cli SET/GET, redis_client.py
#     (random binary values compared byte for byte), redis-benchmark
#     (-n 20000 -t set,get, -P 1 and -P 16: every request counted by the
#     server), SIGTERM (exit 0); the switch's counters against the server's.
#
# NAME-SUBSTRING selects checks by name; one starting with "nsecho" or
# "redis" runs that section (only those sections start servers).
#
# Only processes started here are signalled (by PID), only the namespace
# and /dev/shm directory made here are deleted; every wait is bounded.
# NS_KEEP_TMP=1 keeps the logs.  Prints `ok - name` / `FAIL - name: why` and
# closes with `netstack-vmnet: N passed, M failed`; exit 1 if any failed.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
NS_PROG=test_vmnet.sh
# shellcheck source=tests/netstack/lib.sh
source "$HERE/lib.sh"
ROOT=$NS_ROOT
ZPRUN=$NS_ZPRUN
PY=$NS_PY
NSECHO=$ROOT/netstack/tools/nsecho
REGION_TOOL=$ROOT/netstack/tools/vmnet-region
APP=$ROOT/elisa/apps/vmnet.so
NOP_APP=$ROOT/elisa/apps/nop.so
CLIENT=$HERE/redis_client.py
FILTER=${1:-}
CMD_TIMEOUT=120
REDIS_PORT=6379
ADDR0=10.79.0.1
ADDR1=10.79.0.2

if [ "${FILTER:-}" = -h ] || [ "${FILTER:-}" = --help ]; then
	sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
fi

closing() { echo "netstack-vmnet: $passed passed, $failed failed"; }
ns_report_init
if [ "$(id -u)" != 0 ]; then
	ns_err "needs root (network namespace, page 0 for zprun)"
	failed=1; closing; exit 1
fi
ns_need_programs redis-server redis-cli redis-benchmark ip timeout "$PY" || { failed=1; closing; exit 1; }
ns_need_hook || { failed=1; closing; exit 1; }
for f in "$NSECHO" "$REGION_TOOL" "$APP" "$NOP_APP"; do
	[ -e "$f" ] || { ns_err "$f is not built (run 'make netstack-vmnet-test')"; failed=1; closing; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

ns_init
# The region must be plain shared memory: tmpfs.
TMPDIR=/dev/shm ns_tmpdir WORK || { failed=1; closing; exit 1; }
ns_netns_create NS || { failed=1; closing; exit 1; }
ip -n "$NS" link set lo down   # no kernel path between the ends

# venv REGION PORT ADDR: VENV = the environment of a process on PORT of
# REGION (local mode).
VENV=()
venv() {
	VENV=(ZP_NET_DEVICE=vmnet "ZP_VMNET_REGION=$1" "ZP_VMNET_PORT=$2" "ZP_VMNET_APP=$APP"
	      "ZP_NET_ADDR=$3" ZP_NET_MASK=255.255.255.0)
}
# counter NAME LINE: the value of NAME=... in a counters line.
counter() { sed -n "s/.*[ :]$1=\([0-9]*\).*/\1/p" <<<"$2" | head -n 1; }
# port_stats REGION PORT: the switch's counter line of PORT.
port_stats() { "$REGION_TOOL" stats "$1" "$2"; }
# new_region NAME: a fresh 2-port region $WORK/NAME (path on stdout).
new_region() {
	"$REGION_TOOL" create "$WORK/$1" --ports 2 >"$WORK/$1.create.log" 2>&1 && echo "$WORK/$1"
}

# --- (a) the region -------------------------------------------------------------

if ! REGION=$(new_region region-aux); then
	not_ok region-create "vmnet-region create failed" "$WORK/region-aux.create.log"
	closing; exit 1
fi
info=$("$REGION_TOOL" info "$REGION" 2>&1)
if [ "$(grep -c '^port [01]: offset 0x[0-9a-f]* size 0x[0-9a-f]*$' <<<"$info")" = 2 ] &&
	! "$REGION_TOOL" stats "$REGION" | grep -q '=[1-9]'; then
	ok "region-create (2 ports, all counters 0: $(head -n 1 <<<"$info" | cut -d: -f2- | cut -c1-80))"
else
	not_ok region-create "unexpected info/stats: $info"
fi
if "$REGION_TOOL" create "$REGION" --ports 2 >/dev/null 2>"$WORK/recreate.err"; then
	not_ok region-no-overwrite "an existing region was overwritten without --force"
else
	ok "region-no-overwrite ($(cut -c1-100 "$WORK/recreate.err"))"
fi

# --- (b) bad settings -------------------------------------------------------------

# check_bad NAME MUST-MENTION ENV...: redis-server under the hook with ENV must
# exit non-zero within 10 s with exactly one line on stderr mentioning
# MUST-MENTION.
check_bad() {
	local name=$1 mention=$2 rc ms t0
	shift 2
	want "$name" || return 0
	t0=$(date +%s%N)
	timeout 20 ip netns exec "$NS" env ZP_NET_ADDR=$ADDR0 "$@" "$ZPRUN" --hook netstack -- \
		redis-server --save '' --appendonly no --port "$REDIS_PORT" --bind $ADDR0 --dir "$WORK" \
		--daemonize no </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	ns_judge_bad_input "$name" "$rc" "$ms" "$mention" "$WORK/$name.err" "$WORK/$name.out"
}

V0=(ZP_NET_DEVICE=vmnet "ZP_VMNET_REGION=$REGION" ZP_VMNET_PORT=0 "ZP_VMNET_APP=$APP")
head -c 1048576 /dev/zero >"$WORK/zeros"
check_bad config-unknown-device "ZP_NET_DEVICE='nosuch'" ZP_NET_DEVICE=nosuch
check_bad config-no-region ZP_VMNET_REGION ZP_NET_DEVICE=vmnet
check_bad config-not-a-region "not a valid vmnet region" "${V0[@]}" "ZP_VMNET_REGION=$WORK/zeros"
check_bad config-no-port ZP_VMNET_PORT "${V0[@]}" ZP_VMNET_PORT=
check_bad config-port-out-of-range "has ports 0..1" "${V0[@]}" ZP_VMNET_PORT=2
check_bad config-no-app ZP_VMNET_APP "${V0[@]}" ZP_VMNET_APP=
check_bad config-not-an-app "ZP_VMNET_APP=$WORK/zeros" "${V0[@]}" "ZP_VMNET_APP=$WORK/zeros"
check_bad config-wrong-app "not the vmnet app" "${V0[@]}" "ZP_VMNET_APP=$NOP_APP"
check_bad config-multicast-mac "multicast" "${V0[@]}" ZP_NET_MAC=01:00:5e:00:00:01
check_bad config-bad-mode "ZP_ELISA_MODE='nosuch'" "${V0[@]}" ZP_ELISA_MODE=nosuch
# vmfunc mode on a host: the gate address must be mapped; a gate that is
# mapped (from a file, at that address) and whose VMFUNC raises #UD here
# must end in one line, not SIGILL.  The port area comes from the region
# file at port 0's offset, as a guest would map it from /dev/mem.
GATE_VA=0x7e0000000000
AREA0_OFF=$(awk '$1 == "port" && $2 == "0:" { print $4 }' <<<"$info")
printf '\x0f\x01\xd4\xc3' >"$WORK/gate"      # vmfunc; ret
truncate -s 12288 "$WORK/gate"
check_bad config-vmfunc-gate-unmapped "nothing is mapped at ZP_ELISA_GATE" ZP_NET_DEVICE=vmnet \
	ZP_ELISA_MODE=vmfunc ZP_ELISA_GATE=$GATE_VA "ZP_VMNET_AREA=$REGION" "ZP_VMNET_AREA_OFFSET=$AREA0_OFF"
check_bad config-vmfunc-area-offset "not a vmnet port area" ZP_NET_DEVICE=vmnet ZP_ELISA_MODE=vmfunc \
	ZP_ELISA_GATE=$GATE_VA "ZP_ELISA_GATE_FILE=$WORK/gate" "ZP_VMNET_AREA=$REGION" ZP_VMNET_AREA_OFFSET=0
check_bad config-vmfunc-ud-caught "raised #UD" ZP_NET_DEVICE=vmnet ZP_ELISA_MODE=vmfunc \
	ZP_ELISA_GATE=$GATE_VA "ZP_ELISA_GATE_FILE=$WORK/gate" "ZP_VMNET_AREA=$REGION" "ZP_VMNET_AREA_OFFSET=$AREA0_OFF"

# --- (c) no DPDK with vmnet ---------------------------------------------------------------

# dpdk_traces PID: what of DPDK's EAL the process shows (runtime dir, EAL threads).
dpdk_traces() {
	local pid=$1 t out=""
	[ -e "/var/run/dpdk/exitless-$pid" ] && out="runtime dir /var/run/dpdk/exitless-$pid;"
	for t in /proc/"$pid"/task/*/comm; do
		case $(cat "$t" 2>/dev/null) in eal-*|rte_*|telemetry*) out="$out thread $(cat "$t");" ;; esac
	done
	echo "$out"
}
# wait_log LOG TEXT SECONDS PID
wait_log() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		ns_alive "$4" || return 1
		sleep 0.1
	done
	return 1
}

if want no-dpdk; then
	ns_start "$WORK/ctl.log" ip netns exec "$NS" env ZP_NET_DEV=net_null0 ZP_NET_ADDR=$ADDR0 "$NSECHO" 20
	CTL=$NS_LAST_PID
	ctl=""
	wait_log "$WORK/ctl.log" "echo on" 15 "$CTL" && ctl=$(dpdk_traces "$CTL")
	ns_stop "$CTL" TERM 10
	venv "$REGION" 0 $ADDR0
	ns_start "$WORK/nodpdk.log" ip netns exec "$NS" env "${VENV[@]}" "$NSECHO" 20
	P=$NS_LAST_PID
	if ! wait_log "$WORK/nodpdk.log" "echo on" 15 "$P"; then
		not_ok no-dpdk-with-vmnet "nsecho on vmnet did not start" "$WORK/nodpdk.log"
	else
		traces=$(dpdk_traces "$P")
		if [ -z "$ctl" ]; then
			not_ok no-dpdk-with-vmnet "the check saw nothing of DPDK in the DPDK control (net_null0) either" "$WORK/ctl.log"
		elif [ -n "$traces" ]; then
			not_ok no-dpdk-with-vmnet "DPDK traces in the vmnet process: $traces"
		else
			ok "no-dpdk-with-vmnet (none of [$ctl] that the net_null0 control shows; $(head -n 1 "$WORK/nodpdk.log" | cut -c9-70))"
		fi
		# while it holds port 0: a second process on port 0 is refused
		check_bad config-port-in-use "port 0 of ZP_VMNET_REGION=$REGION is in use" "${V0[@]}"
	fi
	ns_stop "$P" TERM 10
fi

# --- (d) nsecho: the data path without sockets ------------------------------------------

if { [ -z "$FILTER" ] || [[ "$FILTER" == nsecho* ]]; } && REGION=$(new_region region-echo); then
	venv "$REGION" 0 $ADDR0
	ns_start "$WORK/echo-server.log" ip netns exec "$NS" env "${VENV[@]}" "$NSECHO" 60
	SRV=$NS_LAST_PID
	if ! wait_log "$WORK/echo-server.log" "echo on" 15 "$SRV"; then
		not_ok nsecho-10MiB "the echo server did not start" "$WORK/echo-server.log"
	else
		venv "$REGION" 1 $ADDR1
		timeout 60 ip netns exec "$NS" env "${VENV[@]}" "$NSECHO" --client $ADDR0 7 10485760 40 \
			>"$WORK/echo-client.log" 2>&1
		rc=$?
		if [ "$rc" = 0 ]; then
			ok "nsecho-10MiB ($(grep -h 'MB/s\|round trips' "$WORK/echo-client.log" | sed 's/nsecho: client: //' | tr '\n' ';' | sed 's/;$//'))"
		else
			not_ok nsecho-10MiB "client: $(ns_describe_status $rc)" "$WORK/echo-client.log" "$WORK/echo-server.log"
		fi
	fi
	ns_stop "$SRV" TERM 10
	st=$NS_STATUS
	if [ "$st" = 0 ]; then
		ok "nsecho-server-sigterm (exit 0)"
	else
		not_ok nsecho-server-sigterm "$(ns_describe_status "$st")" "$WORK/echo-server.log"
	fi

	# The switch's counters against each process's own (nsecho prints
	# them at exit).  What a process sent the switch took, all of it (the
	# device flushes at stop); what the switch delivered the process read,
	# but for frames that came after its last poll (the peer's last ACKs).
	if want nsecho-counters; then
		s0=$(port_stats "$REGION" 0) s1=$(port_stats "$REGION" 1)
		p0=$(grep -h 'tx_calls=' "$WORK/echo-server.log") p1=$(grep -h 'tx_calls=' "$WORK/echo-client.log")
		why=""
		for port in 0 1; do
			if [ "$port" = 0 ]; then s=$s0 p=$p0; else s=$s1 p=$p1; fi
			sw_tx=$(counter tx_frames "$s") sw_rx=$(counter rx_frames "$s")
			pr_tx=$(counter tx_frames "$p") pr_rx=$(counter rx_frames "$p") calls=$(counter tx_calls "$p")
			if [ -z "$pr_tx" ] || [ -z "$sw_tx" ]; then why="$why port $port: counters missing;"; continue; fi
			[ "$sw_tx" = "$pr_tx" ] || why="$why port $port: switch took $sw_tx frames, the process sent $pr_tx;"
			[ $((sw_rx - pr_rx)) -ge 0 ] && [ $((sw_rx - pr_rx)) -le 16 ] ||
				why="$why port $port: switch delivered $sw_rx frames, the process read $pr_rx;"
			[ "$pr_tx" -gt 1000 ] || why="$why port $port: only $pr_tx frames sent;"
			[ "$calls" -lt "$pr_tx" ] || why="$why port $port: $calls switch calls for $pr_tx frames (no batching);"
			grep -q 'drop_[a-z_]*=[1-9]\|err_tx_index=[1-9]' <<<"$s" && why="$why port $port drops: $s;"
		done
		if [ -z "$why" ]; then
			ok "nsecho-counters (port 0: $(counter tx_frames "$s0") frames out in $(counter tx_calls "$p0") calls, $(counter rx_frames "$s0") in; port 1: $(counter tx_frames "$s1") out in $(counter tx_calls "$p1") calls; no drops)"
		else
			not_ok nsecho-counters "$why"
		fi
	fi
fi

# --- (e) Redis ------------------------------------------------------------------------------

SERVER_LOG=$WORK/redis.log
CPREFIX=()   # a client under the hook on port 1: env ... zprun --hook netstack --
CSIDE=()     # the same, in our namespace
# redis_info FIELD: one field of INFO, through the stack.
redis_info() {
	timeout 20 "${CSIDE[@]}" redis-cli -h $ADDR0 -p $REDIS_PORT info all 2>/dev/null |
		tr -d '\r' | sed -n "s/^$1://p"
}

section_redis() {
	local region
	region=$(new_region region-redis) || { not_ok redis-starts "cannot create a region"; return; }
	venv "$region" 1 $ADDR1
	CPREFIX=(env "${VENV[@]}" "$ZPRUN" --hook netstack --)
	CSIDE=(ip netns exec "$NS" "${CPREFIX[@]}")
	mkdir -p "$WORK/rdir"
	venv "$region" 0 $ADDR0
	ns_start "$SERVER_LOG" ip netns exec "$NS" env "${VENV[@]}" ZP_NET_STATS=1 "$ZPRUN" --hook netstack -- \
		redis-server --save '' --appendonly no --protected-mode no --bind $ADDR0 --port $REDIS_PORT \
		--dir "$WORK/rdir" --daemonize no
	SERVER_PID=$NS_LAST_PID
	if ! ns_wait_redis "$NS" $ADDR0 $REDIS_PORT 30 "$SERVER_PID" "${CPREFIX[@]}" 2>"$WORK/redis-start.err"; then
		not_ok redis-starts "$(tail -n 1 "$WORK/redis-start.err")" "$SERVER_LOG"
		ns_stop "$SERVER_PID" TERM 5
		return
	fi
	ok "redis-starts (PING answered by a client under the hook on port 1)"

	if want redis-cli; then
		local value key=zp:vmnet reply
		value="exitless-vmnet-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
		reply=$(timeout 20 "${CSIDE[@]}" redis-cli -h $ADDR0 -p $REDIS_PORT set $key "$value" 2>&1)
		got=$(timeout 20 "${CSIDE[@]}" redis-cli -h $ADDR0 -p $REDIS_PORT --no-raw get $key 2>&1)
		if [ "$reply" = OK ] && [ "$got" = "\"$value\"" ]; then
			ok "redis-cli-set-get (${#value}-byte value read back exactly)"
		else
			not_ok redis-cli-set-get "SET replied '$reply', GET replied '$got', expected \"$value\""
		fi
	fi
	if want redis-values; then
		if timeout "$CMD_TIMEOUT" "${CSIDE[@]}" "$PY" "$CLIENT" --host $ADDR0 --port $REDIS_PORT values \
			>"$WORK/values.log" 2>&1; then
			ok "redis-values ($(tail -n 1 "$WORK/values.log" | cut -c1-120))"
		else
			not_ok redis-values "$(grep -m1 FAIL "$WORK/values.log" || echo "redis_client.py failed")" "$WORK/values.log"
		fi
	fi
	local p
	for p in 1 16; do
		want "redis-benchmark-P$p" || continue
		local before after rc n
		before=$(redis_info total_commands_processed)
		timeout "$CMD_TIMEOUT" "${CSIDE[@]}" redis-benchmark -h $ADDR0 -p $REDIS_PORT -n 20000 -c 50 -P $p \
			-t set,get -q </dev/null >"$WORK/bench-P$p.raw" 2>&1
		rc=$?
		tr '\r' '\n' <"$WORK/bench-P$p.raw" | grep -E '^(SET|GET): .*requests per second' >"$WORK/bench-P$p"
		n=$(wc -l <"$WORK/bench-P$p")
		after=$(redis_info total_commands_processed)
		# 40,000 requests, plus the INFO that reads the count ('after'
		# counts its own INFO; redis-benchmark sends CONFIG GET too)
		if [ "$rc" != 0 ]; then
			not_ok "redis-benchmark-P$p" "redis-benchmark: $(ns_describe_status $rc)" "$WORK/bench-P$p.raw" "$SERVER_LOG"
		elif [ "$n" != 2 ]; then
			not_ok "redis-benchmark-P$p" "$n result lines, expected SET and GET" "$WORK/bench-P$p.raw"
		elif [ -z "$before" ] || [ -z "$after" ] || [ $((after - before)) -lt 40000 ]; then
			not_ok "redis-benchmark-P$p" "the server processed $((${after:-0} - ${before:-0})) commands, expected >= 40000"
		else
			ok "redis-benchmark-P$p (-n 20000 -c 50: $(sed 's/ requests per second.*//' "$WORK/bench-P$p" | tr '\n' ' ' | sed 's/ $//') rps; server counted $((after - before)) commands)"
		fi
	done

	if ! ns_alive "$SERVER_PID"; then
		ns_reap "$SERVER_PID"
		not_ok redis-survived "the server died: $(ns_describe_status "$NS_STATUS")" "$SERVER_LOG"
		return
	fi
	ns_stop "$SERVER_PID" TERM 15
	local st=$NS_STATUS
	if [ "$st" = 0 ] && grep -q 'ready to exit, bye bye' "$SERVER_LOG"; then
		ok "redis-sigterm-exit-0"
	else
		not_ok redis-sigterm-exit-0 "$(ns_describe_status "$st")" "$SERVER_LOG"
	fi

	# The server printed its stack's counters at exit (ZP_NET_STATS=1);
	# port 0 is the server alone, so the switch's counters of port 0 must
	# match it.
	local s p tx rx ptx prx calls why=""
	s=$(port_stats "$region" 0)
	p=$(grep -h '^netstack: .*tx_calls=' "$SERVER_LOG" | tail -n 1)
	tx=$(counter tx_frames "$s") rx=$(counter rx_frames "$s")
	ptx=$(counter tx_frames "$p") prx=$(counter rx_frames "$p") calls=$(counter tx_calls "$p")
	if [ -z "$p" ] || [ -z "$ptx" ]; then
		why="no counters line from the server"
	else
		[ "$tx" = "$ptx" ] || why="$why switch took $tx frames from port 0, the server sent $ptx;"
		[ $((rx - prx)) -ge 0 ] && [ $((rx - prx)) -le 16 ] || why="$why switch delivered $rx frames, the server read $prx;"
		[ "$calls" -lt "$ptx" ] || why="$why $calls calls for $ptx frames;"
		grep -q 'drop_[a-z_]*=[1-9]\|err_tx_index=[1-9]' <<<"$(port_stats "$region" 0; port_stats "$region" 1)" &&
			why="$why drops: $({ port_stats "$region" 0; port_stats "$region" 1; } | grep -o 'drop_[a-z_]*=[1-9][0-9]*' | tr '\n' ' ')"
	fi
	if [ -z "$why" ]; then
		ok "redis-counters (server sent $ptx frames in $calls switch calls, read $prx; switch agrees; no drops)"
	else
		not_ok redis-counters "$why" "$SERVER_LOG"
	fi
}

# A filter that starts with "redis" runs the Redis section (its checks
# that match); any other non-empty filter skips it.
if [ -z "$FILTER" ] || [[ "$FILTER" == redis* ]]; then section_redis; fi

[ "$failed" = 0 ] || echo "failed: ${failed_names[*]}"
closing
[ "$failed" = 0 ]
