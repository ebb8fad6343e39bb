#!/bin/bash
# tests/netstack/test_datapath.sh - the netstack data path (lwIP over DPDK,
# no socket layer) with netstack/tools/nsecho, over three DPDK devices:
#   1. net_tap        the kernel on the other side of a tap interface
#   2. net_af_packet  the kernel on the other side of a veth pair
#   3. net_memif      two nsecho processes, lwIP on both ends, no kernel
# Everything runs in a network namespace created here (zpt-<pid>) and
# deleted at the end.  Needs root.  Prints `datapath: N passed, M failed`.
set -u
cd "$(dirname "$0")/../.."
NSECHO=netstack/tools/nsecho
NS=zpt-$$
TMP=$(mktemp -d /tmp/zpt-datapath.XXXXXX)
PASS=0
FAIL=0
PIDS=()

ok()   { PASS=$((PASS + 1)); echo "ok   $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }

cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
	echo "datapath: skipped (needs root for network namespaces and tap devices)"
	echo "datapath: 0 passed, 0 failed"
	exit 0
fi
if [ ! -x "$NSECHO" ]; then
	echo "datapath: $NSECHO is missing: run 'make netstack/tools/nsecho'"
	echo "datapath: 0 passed, 1 failed"
	exit 1
fi

# --- helpers (python3: certain to be installed) --------------------------------
cat > "$TMP/echo.py" <<'EOF'
# echo.py ADDR BYTES: TCP echo of BYTES random bytes on port 7, compared byte
# for byte; then one UDP datagram.  Exit 0 if both came back intact.
import os, socket, sys, threading, time
addr, n = sys.argv[1], int(sys.argv[2])
data = os.urandom(n)
s = socket.create_connection((addr, 7), timeout=10)
got = bytearray()
def reader():
    while len(got) < n:
        b = s.recv(65536)
        if not b:
            break
        got.extend(b)
t0 = time.time()
th = threading.Thread(target=reader)
th.start()
s.sendall(data)
th.join(20)
dt = time.time() - t0
s.close()
if bytes(got) != data:
    print("tcp: %d of %d bytes back, %s" % (len(got), n, "differ" if got else "none"))
    sys.exit(1)
print("tcp: %d bytes intact in %.1f ms" % (n, dt * 1e3))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
msg = os.urandom(512)
u.sendto(msg, (addr, 7))
back = u.recvfrom(2048)[0]
if back != msg:
    print("udp: echo differs")
    sys.exit(1)
print("udp: 512 bytes intact")
EOF
cat > "$TMP/ping.py" <<'EOF'
# ping.py ADDR: 3 ICMP echo requests; exit 0 if every one is answered.
import os, socket, struct, sys, time
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
addr = sys.argv[1]
sk = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sk.settimeout(2)
ident = os.getpid() & 0xffff
for seq in range(3):
    payload = b"exitless-ping-%d" % seq
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, seq) + payload
    t0 = time.time()
    sk.sendto(pkt, (addr, 0))
    while True:
        data, src = sk.recvfrom(2048)
        ihl = (data[0] & 15) * 4
        typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if src[0] == addr and typ == 0 and rid == ident and rseq == seq:
            break
    print("icmp: reply %d in %.2f ms" % (seq, (time.time() - t0) * 1e3))
EOF
cat > "$TMP/badsum.py" <<'EOF'
# badsum.py ADDR: a UDP datagram to port 7 with a wrong checksum must not be
# echoed (the stack checks it in software or trusts a device that did).
import socket, struct, sys
addr = sys.argv[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", 0))
u.settimeout(1.5)
port = u.getsockname()[1]
payload = b"bad checksum"
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
raw.sendto(struct.pack("!HHHH", port, 7, 8 + len(payload), 0x1234) + payload, (addr, 0))
try:
    u.recvfrom(2048)
    print("udp: datagram with a bad checksum was echoed")
    sys.exit(1)
except socket.timeout:
    print("udp: bad checksum dropped")
EOF
cat > "$TMP/txoff.py" <<'EOF'
# txoff.py IFACE: turn off transmit checksum offload (ethtool -K IFACE tx off)
# so frames a packet socket reads on the veth peer carry full checksums.
import ctypes, fcntl, socket, struct, sys
SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17
val = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
ifr = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(val))
sk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fcntl.ioctl(sk.fileno(), SIOCETHTOOL, ifr)
EOF

in_ns() { ip netns exec "$NS" "$@"; }

# Start nsecho in the namespace: start_nsecho LOG ENV... -- ARGS...
start_nsecho() {
	local log=$1; shift
	local envs=()
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" ip netns exec "$NS" "$NSECHO" "$@" > "$log" 2>&1 &
	PIDS+=($!)
	LAST_PID=$!
}

# wait_for SECONDS COMMAND...: poll every 0.1 s, bounded.
wait_for() {
	local n=$(($1 * 10)); shift
	for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

# Stop an nsecho with SIGTERM; it must exit 0 within 5 s.
stop_nsecho() {
	local pid=$1 name=$2 rc
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		fail "$name: nsecho did not stop on SIGTERM"
		return
	fi
	wait "$pid"; rc=$?
	[ "$rc" = 0 ] && ok "$name: nsecho stopped cleanly on SIGTERM" || fail "$name: nsecho exited $rc"
}

# EAL's runtime directories of processes we started must be gone.
check_runtime_dirs() {
	local left=""
	for p in "$@"; do
		[ -e "/var/run/dpdk/exitless-$p" ] && left="$left exitless-$p"
	done
	[ -z "$left" ] && ok "$NAME: nothing left in /var/run/dpdk" || fail "$NAME: left in /var/run/dpdk:$left"
}

ip netns add "$NS" || { echo "datapath: cannot create netns $NS"; echo "datapath: 0 passed, 1 failed"; exit 1; }
in_ns ip link set lo up

# --- 1. net_tap ------------------------------------------------------------------
NAME=tap
start_nsecho "$TMP/tap.log" ZP_NET_DEV=net_tap0,iface=zpt0 ZP_NET_ADDR=10.77.0.1 -- 60
TAP_PID=$LAST_PID
if wait_for 10 in_ns ip link show zpt0; then
	in_ns ip addr add 10.77.0.2/24 dev zpt0
	in_ns ip link set zpt0 up
	if wait_for 5 in_ns timeout 2 python3 "$TMP/ping.py" 10.77.0.1; then
		ok "tap: ICMP echo"
	else
		fail "tap: ICMP echo"
	fi
	out=$(in_ns timeout 30 python3 "$TMP/echo.py" 10.77.0.1 1000 2>&1) && ok "tap: TCP 1000 B + UDP echo" || fail "tap: small echo: $out"
	out=$(in_ns timeout 30 python3 "$TMP/echo.py" 10.77.0.1 1048576 2>&1) && ok "tap: TCP 1 MiB echo (${out%%$'\n'*})" || fail "tap: 1 MiB echo: $out"
	out=$(in_ns timeout 10 python3 "$TMP/badsum.py" 10.77.0.1 2>&1) && ok "tap: UDP with a bad checksum not echoed" || fail "tap: $out"
else
	fail "tap: zpt0 did not appear within 10 s: $(head -c 300 "$TMP/tap.log")"
fi
stop_nsecho "$TAP_PID" tap
grep -q 'udp_chkerr=[1-9]' "$TMP/tap.log" && ok "tap: the bad checksum was counted" \
	|| fail "tap: no UDP checksum error counted: $(grep frames "$TMP/tap.log")"
check_runtime_dirs "$TAP_PID"

# --- 2. net_af_packet over a veth pair ----------------------------------------------
NAME=af_packet
in_ns ip link add zpa0 type veth peer name zpa1
in_ns ip link set zpa0 up
in_ns ip addr add 10.77.1.2/24 dev zpa1
in_ns ip link set zpa1 up
# The kernel leaves checksums to the "hardware" on veth; a packet socket
# would then read partial checksums.  DPDK's af_packet does not look at
# the packet socket's TP_STATUS_CSUMNOTREADY, so ask for full checksums.
in_ns python3 "$TMP/txoff.py" zpa1 || fail "af_packet: cannot turn off tx checksum offload on zpa1"
start_nsecho "$TMP/afp.log" ZP_NET_DEV=net_af_packet0,iface=zpa0 ZP_NET_ADDR=10.77.1.1 -- 60
AFP_PID=$LAST_PID
if wait_for 10 grep -q "echo on" "$TMP/afp.log"; then
	out=$(wait_for 5 in_ns timeout 2 python3 "$TMP/ping.py" 10.77.1.1) && ok "af_packet: ICMP echo" || fail "af_packet: ICMP echo"
	out=$(in_ns timeout 30 python3 "$TMP/echo.py" 10.77.1.1 1048576 2>&1) && ok "af_packet: TCP 1 MiB + UDP echo (${out%%$'\n'*})" || fail "af_packet: echo: $out"
else
	fail "af_packet: nsecho did not start: $(head -c 300 "$TMP/afp.log")"
fi
stop_nsecho "$AFP_PID" af_packet
check_runtime_dirs "$AFP_PID"

# --- 3. net_memif: lwIP on both ends ------------------------------------------------
NAME=memif
SOCK=/run/exitless-datapath-$$.sock   # abstract by default: no file
start_nsecho "$TMP/memif-server.log" ZP_NET_DEV=net_memif0,role=server,socket=$SOCK ZP_NET_ADDR=10.78.0.1 -- 60
SRV_PID=$LAST_PID
if wait_for 10 grep -q "echo on" "$TMP/memif-server.log"; then
	start_nsecho "$TMP/memif-client.log" ZP_NET_DEV=net_memif0,role=client,socket=$SOCK ZP_NET_ADDR=10.78.0.2 -- \
		--client 10.78.0.1 7 10485760 30
	CLI_PID=$LAST_PID
	for _ in $(seq 400); do kill -0 "$CLI_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$CLI_PID" 2>/dev/null; then
		kill -KILL "$CLI_PID"
		fail "memif: client still running after 40 s"
	else
		wait "$CLI_PID"; rc=$?
		if [ "$rc" = 0 ]; then
			ok "memif: TCP 10 MiB echo between two lwIP stacks"
			grep 'nsecho: client: [0-9].*\(MB/s\|round trips\)' "$TMP/memif-client.log" | sed 's/^/     /'
		else
			fail "memif: client exited $rc: $(grep -v '^nsecho: net_memif' "$TMP/memif-client.log" | head -c 400)"
		fi
	fi
	check_runtime_dirs "$CLI_PID"
else
	fail "memif: server did not start: $(head -c 300 "$TMP/memif-server.log")"
fi
stop_nsecho "$SRV_PID" memif
check_runtime_dirs "$SRV_PID"

echo "datapath: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
