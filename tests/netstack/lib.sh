# tests/netstack/lib.sh - bash helpers shared by the netstack tests, the demo
# and anything else that runs servers on the user-space stack.
#
#   source tests/netstack/lib.sh      (callers use `set -u`; this file does
#                                      not change shell options)
#
# Rules every helper keeps:
#   - only network namespaces created here (zpt-<pid>-<n>) are deleted, and
#     every one is deleted by the EXIT trap (ns_cleanup);
#   - only processes started through ns_start are ever signalled, by PID;
#   - every wait is bounded (seconds given by the caller or a stated default);
#   - errors are one line on stderr: "<prog>: <what>".
#
# The caller installs the trap with `ns_init` (once, near the top).

NS_ROOT=${NS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NS_PROG=${NS_PROG:-$(basename "$0")}
NS_HOOK=$NS_ROOT/hooklib/libzphook_netstack.so
NS_PRELOAD_LIB=$NS_ROOT/hooklib/libzp_preload.so
NS_ZPRUN=$NS_ROOT/loaders/zprun
NS_PY=/usr/bin/python3          # Debian's python (a pyenv shim is a shell script)
NS_DPDK_RUN=/var/run/dpdk

NS_PIDS=()          # background processes we started (ns_start)
NS_NETNS=()         # network namespaces we created (ns_netns_create)
NS_TMPDIRS=()       # temporary directories we created (ns_tmpdir)
NS_SEQ=0            # per-run counter for unique names
NS_LAST_PID=""      # PID of the last ns_start
NS_DPDK_BEFORE=""   # listing of /var/run/dpdk at ns_init

ns_err() { echo "$NS_PROG: $*" >&2; }

# ns_init: install the cleanup trap and remember what /var/run/dpdk holds now.
ns_init() {
	trap ns_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	NS_DPDK_BEFORE=$(ns_dpdk_listing)
}

# ns_cleanup: stop our processes (TERM, then KILL after 5 s), delete our
# netns and temporary directories.  Safe to call more than once.
ns_cleanup() {
	local pid
	for pid in "${NS_PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${NS_PIDS[@]}"; do
		ns_wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	NS_PIDS=()
	local ns
	for ns in "${NS_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	NS_NETNS=()
	local d
	for d in "${NS_TMPDIRS[@]}"; do
		[ -n "${NS_KEEP_TMP:-}" ] || rm -rf "$d"
	done
	NS_TMPDIRS=()
}

# ns_uid: set NS_UID to a short name unique to this run: <pid>-<counter>.
# (Not through $(...): the counter must advance in this shell.)
NS_UID=""
ns_uid() {
	NS_SEQ=$((NS_SEQ + 1))
	NS_UID="$$-$NS_SEQ"
}

# ns_tmpdir VAR: make a temporary directory, deleted at exit (unless
# NS_KEEP_TMP is set); its path goes into VAR.
ns_tmpdir() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/exitless-ns.XXXXXX") || { ns_err "mktemp failed"; return 1; }
	NS_TMPDIRS+=("$d")
	printf -v "$1" '%s' "$d"
}

# --- network namespaces -------------------------------------------------------

# ns_netns_create VAR: create netns zpt-<pid>-<n> with lo up; name into VAR.
ns_netns_create() {
	local name
	ns_uid
	name="zpt-$NS_UID"
	if ! ip netns add "$name" 2>/dev/null; then
		ns_err "cannot create network namespace $name (ip netns add; needs root)"
		return 1
	fi
	NS_NETNS+=("$name")
	ip -n "$name" link set lo up
	printf -v "$1" '%s' "$name"
}

# ns_netns_delete NAME: delete one of our namespaces now.
ns_netns_delete() {
	local name=$1 keep=() ns
	for ns in "${NS_NETNS[@]}"; do
		if [ "$ns" = "$name" ]; then ip netns del "$ns" 2>/dev/null; else keep+=("$ns"); fi
	done
	NS_NETNS=("${keep[@]}")
}

# ns_exec NETNS CMD...: run CMD in NETNS ("" = the current namespace).
# `ip netns exec` execs CMD, so a background ns_exec keeps CMD's PID.
ns_exec() {
	local netns=$1
	shift
	if [ -n "$netns" ]; then ip netns exec "$netns" "$@"; else "$@"; fi
}

# ns_iface_exists NETNS IFACE
ns_iface_exists() { ns_exec "$1" ip link show dev "$2" >/dev/null 2>&1; }

# ns_wait_iface NETNS IFACE SECONDS [PID]: wait until IFACE appears in NETNS;
# gives up early if PID (the process that creates it) has exited.
ns_wait_iface() {
	local netns=$1 iface=$2 secs=$3 pid=${4:-} i
	for ((i = 0; i < secs * 10; i++)); do
		ns_iface_exists "$netns" "$iface" && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			ns_err "interface $iface did not appear: process $pid exited"
			return 1
		fi
		sleep 0.1
	done
	ns_err "interface $iface did not appear in ${netns:-this namespace} within $secs s"
	return 1
}

# ns_wait_iface_gone NETNS IFACE SECONDS
ns_wait_iface_gone() {
	local netns=$1 iface=$2 secs=$3 i
	for ((i = 0; i < secs * 10; i++)); do
		ns_iface_exists "$netns" "$iface" || return 0
		sleep 0.1
	done
	return 1
}

# ns_veth_pair NETNS A B: a veth pair A<->B inside NETNS, both up.
ns_veth_pair() {
	local netns=$1 a=$2 b=$3
	ip -n "$netns" link add "$a" type veth peer name "$b" || { ns_err "cannot create veth $a/$b"; return 1; }
	ip -n "$netns" link set "$a" up && ip -n "$netns" link set "$b" up
}

# ns_tx_csum_off NETNS IFACE: turn off transmit checksum offload (and with it
# TSO) on a kernel interface, as `ethtool -K IFACE tx off` does (ethtool is not
# a dependency: SIOCETHTOOL ETHTOOL_STXCSUM from python).  Needed on a veth
# whose peer is read by AF_PACKET: the kernel hands such frames over with
# the TCP checksum not yet computed (CHECKSUM_PARTIAL).
ns_tx_csum_off() {
	ns_exec "$1" "$NS_PY" - "$2" <<'EOF'
import ctypes, fcntl, socket, struct, sys
SIOCETHTOOL, ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM = 0x8946, 0x16, 0x17
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def call(cmd, data=0):
    val = ctypes.create_string_buffer(struct.pack("II", cmd, data), 8)
    ifr = struct.pack("16sQ16x", sys.argv[1].encode(), ctypes.addressof(val))
    fcntl.ioctl(s, SIOCETHTOOL, ifr)
    return struct.unpack("II", val.raw)[1]
call(ETHTOOL_STXCSUM, 0)
if call(ETHTOOL_GTXCSUM) != 0:
    sys.exit("tx checksum offload still on for " + sys.argv[1])
EOF
}

# --- processes ---------------------------------------------------------------

# ns_start LOGFILE CMD...: start CMD in the background (stdin /dev/null,
# stdout+stderr to LOGFILE), remember its PID (NS_LAST_PID and NS_PIDS).
ns_start() {
	local log=$1
	shift
	# the subshell drops our traps before exec (same PID as CMD)
	( trap - EXIT INT TERM; exec "$@" ) </dev/null >"$log" 2>&1 &
	NS_LAST_PID=$!
	NS_PIDS+=("$NS_LAST_PID")
}

# ns_forget PID: drop PID from NS_PIDS (after it was reaped).
ns_forget() {
	local keep=() p
	for p in "${NS_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	NS_PIDS=("${keep[@]}")
}

# ns_alive PID
ns_alive() { kill -0 "$1" 2>/dev/null; }

# ns_wait_gone PID SECONDS: wait until PID has exited (not reaped).
ns_wait_gone() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		# a zombie child still answers kill -0; look at its state too
		kill -0 "$pid" 2>/dev/null || return 0
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.1
	done
	return 1
}

# ns_stop PID [SIGNAL] [SECONDS]: signal one of our processes (default TERM),
# wait (default 15 s), reap it.  Sets NS_STATUS to its exit status ("timeout"
# if it did not exit: it is then killed with KILL).  Returns 0 if it exited
# by itself within the time.
NS_STATUS=""
ns_stop() {
	local pid=$1 sig=${2:-TERM} secs=${3:-15}
	NS_STATUS=""
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null
		NS_STATUS=$?
		ns_forget "$pid"
		return 0
	fi
	kill "-$sig" "$pid" 2>/dev/null
	if ns_wait_gone "$pid" "$secs"; then
		wait "$pid" 2>/dev/null
		NS_STATUS=$?
		ns_forget "$pid"
		return 0
	fi
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	NS_STATUS=timeout
	ns_forget "$pid"
	return 1
}

# ns_reap PID: PID has exited; reap it, NS_STATUS = its exit status.
ns_reap() {
	wait "$1" 2>/dev/null
	NS_STATUS=$?
	ns_forget "$1"
}

# ns_describe_status STATUS: "exit 0", "killed by SIGSEGV" ...
ns_describe_status() {
	local s=$1
	if [ "$s" = timeout ]; then echo "did not exit in time (killed)"
	elif [ "$s" -gt 128 ] 2>/dev/null; then echo "killed by SIG$(kill -l $((s - 128)) 2>/dev/null || echo $((s - 128)))"
	else echo "exit $s"; fi
}

# --- redis -------------------------------------------------------------------

# ns_wait_redis NETNS HOST PORT SECONDS [PID] [CLIENT-PREFIX...]: wait until
# `redis-cli -h HOST -p PORT ping` answers PONG.  The client runs in NETNS,
# through CLIENT-PREFIX if given (e.g. env ... zprun --hook netstack --).
# Gives up early if PID (the server) exited.
ns_wait_redis() {
	local netns=$1 host=$2 port=$3 secs=$4 pid=${5:-}
	shift 5 2>/dev/null || shift $#
	local start=$SECONDS reply
	while [ $((SECONDS - start)) -lt "$secs" ]; do
		reply=$(ns_exec "$netns" timeout 10 "$@" redis-cli -h "$host" -p "$port" ping 2>/dev/null)
		[ "$reply" = PONG ] && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			ns_err "redis at $host:$port: the server (pid $pid) exited before answering PING"
			return 1
		fi
		sleep 0.2
	done
	ns_err "redis at $host:$port did not answer PING within $secs s"
	return 1
}

# --- memif and DPDK's run directory ---------------------------------------

# ns_memif_socket: a per-run unique memif control socket name.  In DPDK 22.11
# net_memif uses an abstract socket by default (socket-abstract=yes): no file
# is created; the name lives in the network namespace of the process.
# ns_memif_socket VAR: the name goes into VAR.
ns_memif_socket() {
	ns_uid
	printf -v "$1" '%s' "/run/exitless-$NS_UID.sock"
}

# ns_memif_listening NETNS SOCKET: the memif server's control socket listens
# (abstract "@SOCKET" or a file SOCKET).
ns_memif_listening() {
	ns_exec "$1" ss -xlnH 2>/dev/null | awk '{print $5}' | grep -qxE "@?$2"
}

# ns_wait_memif NETNS SOCKET SECONDS [PID]
ns_wait_memif() {
	local netns=$1 sock=$2 secs=$3 pid=${4:-} i
	for ((i = 0; i < secs * 10; i++)); do
		ns_memif_listening "$netns" "$sock" && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			ns_err "memif socket $sock: the server (pid $pid) exited before listening"
			return 1
		fi
		sleep 0.1
	done
	ns_err "memif socket $sock not listening within $secs s"
	return 1
}

# ns_dpdk_listing: what /var/run/dpdk holds (recursive, sorted; empty if absent).
ns_dpdk_listing() {
	[ -d "$NS_DPDK_RUN" ] || return 0
	find "$NS_DPDK_RUN" -mindepth 1 2>/dev/null | sort
}

# ns_dpdk_new: print entries of /var/run/dpdk that were not there at ns_init
# and whose owner is gone (nothing if clean).  The netstack's EAL prefix is
# exitless-<pid>: an entry of a process still running (another test on the
# machine, or ours not yet stopped) is not a leftover; an entry with any
# other name cannot be attributed and is always reported.
ns_dpdk_new() {
	local e top pid
	comm -13 <(printf '%s\n' "$NS_DPDK_BEFORE" | sed '/^$/d') <(ns_dpdk_listing) |
	while IFS= read -r e; do
		top=${e#"$NS_DPDK_RUN"/}
		top=${top%%/*}
		pid=${top#exitless-}
		if [ "$pid" != "$top" ] && [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
			continue
		fi
		echo "$e"
	done
}

# --- the kit ---------------------------------------------------------------------

# ns_need_hook: the netstack hook and zprun are built; else one line, return 1.
ns_need_hook() {
	if [ ! -x "$NS_ZPRUN" ]; then
		ns_err "loaders/zprun is not built (run 'make')"
		return 1
	fi
	if [ ! -f "$NS_HOOK" ]; then
		ns_err "hooklib/libzphook_netstack.so is not built yet (run 'make'; the netstack hook is needed)"
		return 1
	fi
}

# ns_need_programs PROG...: each is on PATH; else one line, return 1.
ns_need_programs() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null || { ns_err "$p not found (run 'make deps')"; return 1; }
	done
}

# ns_suite_args LAST ARGS...: a suite's command line.  Sets MODE (hook, or
# kernel with --kernel) and FILTER (a test-name substring); -h/--help prints
# lines 2..LAST of the calling script's header comment and exits.
ns_suite_args() {
	local last=$1 arg
	shift
	MODE=hook
	FILTER=""
	for arg in "$@"; do
		case $arg in
		--kernel) MODE=kernel ;;
		-h|--help) sed -n "2,${last}p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) FILTER=$arg ;;
		esac
	done
}

# ns_report_init: the counters and reporting functions of a suite (FILTER is
# a test-name substring, may be empty):
#   want NAME            whether NAME is selected by FILTER
#   ok NAME              a passed check
#   not_ok NAME WHY [LOGFILE...]  a failed one, with the last lines of each log
ns_report_init() {
	passed=0
	failed=0
	failed_names=()
}
want() { [ -z "${FILTER:-}" ] || [[ "$1" == *"$FILTER"* ]]; }
ok() {
	passed=$((passed + 1))
	echo "ok - $1"
}
not_ok() {
	local name=$1 why=$2 f
	shift 2
	failed=$((failed + 1))
	failed_names+=("$name")
	echo "FAIL - $name: $why"
	for f in "$@"; do
		[ -s "$f" ] || continue
		echo "    --- last lines of $f:"
		tail -n 12 "$f" | cut -c1-200 | sed 's/^/    | /'
	done
}

# ns_judge_bad_input NAME RC MS MUST-MENTION ERRFILE OUTFILE: the verdict on a
# program started with a bad setting (RC its exit status under `timeout 20`,
# MS how long it ran): it must fail (not hang, not exit 0) within 10 s, with
# exactly one line on stderr, and that line must mention MUST-MENTION.
ns_judge_bad_input() {
	local name=$1 rc=$2 ms=$3 mention=$4 err=$5 out=$6 lines
	lines=$(grep -c . "$err")
	if [ "$rc" = 124 ]; then
		not_ok "$name" "still running after 20 s (hang)" "$err" "$out"
	elif [ "$rc" = 0 ]; then
		not_ok "$name" "exit 0 with a bad setting" "$err" "$out"
	elif [ "$lines" != 1 ]; then
		not_ok "$name" "$lines lines on stderr (exit $rc), expected exactly one" "$err"
	elif ! grep -q -- "$mention" "$err"; then
		not_ok "$name" "stderr does not mention '$mention': $(cat "$err")"
	elif [ "$ms" -ge 10000 ]; then
		not_ok "$name" "took $ms ms (more than 10 s)"
	else
		ok "$name (exit $rc in $ms ms: $(cut -c1-150 "$err"))"
	fi
}
