#!/usr/bin/env bash
# tests/netstack/test_events.sh - epoll, poll and select over mixed sets
# (a pipe + TCP sockets), run by tests/out/evtest:
#   1. natively, both ends on the kernel: the ground truth;
#   2. under `zprun --hook netstack`: evtest's sockets are lwIP's (net_tap in
#      a network namespace of ours), its peer a native process on the
#      kernel side of the tap;
#   3. the same through `zprun --mechanism preload`.
# Each run prints its own lines; closes with `events: N passed, M failed`.
set -u
cd "$(dirname "$0")/../.."
NS_PROG=events
source tests/netstack/lib.sh

EVTEST=tests/out/evtest
[ -x "$EVTEST" ] || { ns_err "$EVTEST is not built (run 'make')"; exit 1; }
ns_need_hook || exit 1
[ "$(id -u)" = 0 ] || { ns_err "needs root (network namespace, DPDK, page 0)"; exit 1; }
ns_init
ns_tmpdir OUT || exit 1

passed=0 failed=0
result() {  # result NAME STATUS LOG
	if [ "$2" = 0 ]; then
		echo "ok - $1 ($(tail -n 1 "$3"))"; passed=$((passed + 1))
	else
		echo "FAIL - $1: $(ns_describe_status "$2"); $(grep -m3 '^FAIL' "$3" | tr '\n' ' ')$(tail -n 1 "$3")"
		failed=$((failed + 1))
	fi
}

timeout 60 "$EVTEST" >"$OUT/native.log" 2>&1
result native $? "$OUT/native.log"

for mech in zpoline preload; do
	ns_netns_create NETNS || exit 1
	port=$((7700 + passed + failed))
	# The tap appears when the hooked evtest starts its stack; configure the
	# kernel side then, and start the native peer behind it.
	ns_start "$OUT/peer-$mech.log" ip netns exec "$NETNS" "$EVTEST" --server "10.77.3.2:$port"
	PEER=$NS_LAST_PID
	(
		ns_wait_iface "$NETNS" zpe0 20 && ip -n "$NETNS" addr add 10.77.3.2/24 dev zpe0 &&
			ip -n "$NETNS" link set zpe0 up
	) &
	CONF=$!
	timeout 120 ip netns exec "$NETNS" env ZP_NET_DEV=net_tap0,iface=zpe0 ZP_NET_ADDR=10.77.3.1 \
		"$NS_ZPRUN" --mechanism "$mech" --hook netstack -- "$EVTEST" --connect "10.77.3.2:$port" \
		>"$OUT/$mech.log" 2>&1
	result "under the hook ($mech)" $? "$OUT/$mech.log"
	wait "$CONF" 2>/dev/null
	ns_stop "$PEER" TERM 5
	ns_netns_delete "$NETNS"
done
if [ -n "$(ns_dpdk_new)" ]; then
	echo "FAIL - /var/run/dpdk: left behind: $(ns_dpdk_new | tr '\n' ' ')"; failed=$((failed + 1))
fi
echo "events: $passed passed, $failed failed"
[ "$failed" = 0 ]
