#!/usr/bin/env bash
# The main job (`make demo`): unmodified Debian redis-server on the kit's
# user-space TCP/IP stack (lwIP over DPDK, reached through the zpoline hook),
# against the same Redis on the kernel's loopback.
#
#   user-space stack:  in a network namespace of our own with lo down (no
#                      kernel path exists between the two ends):
#                        loaders/zprun --hook netstack -- redis-server ...
#                            memif server, 10.77.1.1
#                        loaders/zprun --hook netstack -- redis-benchmark ...
#                            memif client, 10.77.1.2
#   kernel loopback:   redis-server and redis-benchmark natively, 127.0.0.1
#
# redis-benchmark -t set,get -c 50, at -P 1 and -P 16, -n DEMO_REQUESTS
# (default 100000).  Prints one markdown table: requests per second on each
# and the ratio.  Every number is checked: the benchmark exits 0, prints a
# result for SET and GET, the server counted exactly those requests
# (INFO commandstats) and is still alive afterwards, and exits 0 on SIGTERM.
#
# DEMO_DRY_RUN=1: the "user-space" column runs natively in the namespace
# (kernel veth, no hook): a dry run of this script only, labelled as such.
#
# Every wait is bounded; only the processes started here are stopped (by
# PID); the namespace is deleted at exit.  Outputs stay in tests/out/demo/.
set -u

cd "$(dirname "$0")/.."
ROOT=$PWD
NS_PROG=demo
# shellcheck source=tests/netstack/lib.sh
source tests/netstack/lib.sh
OUT=$ROOT/tests/out/demo
N=${DEMO_REQUESTS:-100000}
DRY=${DEMO_DRY_RUN:-0}
PORT=6379

say() { echo "demo: $*"; }
die() { echo "demo: FAILED: $*" >&2; exit 1; }

ns_need_programs redis-server redis-cli redis-benchmark ip ss timeout || exit 1
if [ "$DRY" != 1 ]; then
	ns_need_hook || exit 1
fi
[ "$(id -u)" = 0 ] || die "needs root (a network namespace, DPDK, page 0)"

rm -rf "$OUT"
mkdir -p "$OUT"
ns_init

# --- the two set-ups ------------------------------------------------------------

ns_netns_create NETNS || exit 1
ns_memif_socket MEMIF_SOCK
if [ "$DRY" = 1 ]; then
	ns_veth_pair "$NETNS" zpm0 zpm1 && ip -n "$NETNS" addr add 10.77.1.1/24 dev zpm0 &&
		ip -n "$NETNS" addr add 10.77.1.2/24 dev zpm0 || die "cannot set up the dry-run interfaces"
	USER_SERVER=(ip netns exec "$NETNS")
	USER_CLIENT=(ip netns exec "$NETNS")
	USER_LABEL="DRY RUN: kernel in a netns (DEMO_DRY_RUN=1)"
else
	ip -n "$NETNS" link set lo down
	USER_SERVER=(ip netns exec "$NETNS" env
		"ZP_NET_DEV=net_memif0,role=server,socket=$MEMIF_SOCK,mac=02:7a:70:00:00:01"
		ZP_NET_ADDR=10.77.1.1 ZP_NET_MASK=255.255.255.0 loaders/zprun --hook netstack --)
	USER_CLIENT=(ip netns exec "$NETNS" env
		"ZP_NET_DEV=net_memif0,role=client,socket=$MEMIF_SOCK,mac=02:7a:70:00:00:02"
		ZP_NET_ADDR=10.77.1.2 ZP_NET_MASK=255.255.255.0 loaders/zprun --hook netstack --)
	USER_LABEL="user-space stack (memif, zpoline)"
fi
KERNEL_SERVER=()
KERNEL_CLIENT=()

# start_server LABEL HOST PREFIX...: redis-server through PREFIX bound to HOST;
# waits (bounded) until a client of the same kind answers PING.
SERVER_PID=""
start_server() {
	local label=$1 host=$2
	shift 2
	ns_start "$OUT/redis-$label.log" "$@" redis-server --save '' --appendonly no \
		--protected-mode no --bind "$host" --port "$PORT" --dir "$OUT" --daemonize no
	SERVER_PID=$NS_LAST_PID
}

# run_bench LABEL HOST P CLIENT-PREFIX...: SET and GET rps into BENCH_SET/BENCH_GET.
run_bench() {
	local label=$1 host=$2 p=$3 rc
	shift 3
	timeout 300 "$@" redis-benchmark -h "$host" -p "$PORT" -c 50 -P "$p" -n "$N" -t set,get --csv \
		</dev/null >"$OUT/bench-$label-P$p.csv" 2>"$OUT/bench-$label-P$p.err"
	rc=$?
	ns_alive "$SERVER_PID" || die "the $label redis-server died during redis-benchmark -P $p (log: $OUT/redis-$label.log)"
	[ "$rc" = 0 ] || die "redis-benchmark -P $p ($label): $(ns_describe_status $rc); $(tail -n 2 "$OUT/bench-$label-P$p.err" | tr '\n' ' ')"
	BENCH_SET=$(awk -F'"' '$2 == "SET" { print $4 }' "$OUT/bench-$label-P$p.csv")
	BENCH_GET=$(awk -F'"' '$2 == "GET" { print $4 }' "$OUT/bench-$label-P$p.csv")
	[ -n "$BENCH_SET" ] && [ -n "$BENCH_GET" ] ||
		die "redis-benchmark -P $p ($label) printed no SET/GET result (see $OUT/bench-$label-P$p.csv)"
}

# measure LABEL HOST SERVER-PREFIX :: CLIENT-PREFIX: the four numbers for one set-up
declare -A RPS
measure() {
	local label=$1 host=$2
	shift 2
	local -a server=() client=()
	while [ $# -gt 0 ] && [ "$1" != :: ]; do server+=("$1"); shift; done
	shift
	client=("$@")
	say "$label: starting redis-server"
	start_server "$label" "$host" "${server[@]}"
	ns_wait_redis "" "$host" "$PORT" 60 "$SERVER_PID" "${client[@]}" ||
		die "$label: redis-server not answering (log: $OUT/redis-$label.log)"
	local check
	check=$(timeout 30 "${client[@]}" redis-cli -h "$host" -p "$PORT" set demo:check "exitless" 2>&1;
		timeout 30 "${client[@]}" redis-cli -h "$host" -p "$PORT" get demo:check 2>&1)
	[ "$check" = $'OK\nexitless' ] || die "$label: SET/GET round trip gave: $check"
	for p in 1 16; do
		say "$label: redis-benchmark -c 50 -P $p -n $N -t set,get"
		run_bench "$label" "$host" "$p" "${client[@]}"
		RPS[$label,SET,$p]=$BENCH_SET
		RPS[$label,GET,$p]=$BENCH_GET
	done
	# the server saw exactly what was sent: 2 x N of each, plus the check
	local stats calls_set calls_get
	stats=$(timeout 30 "${client[@]}" redis-cli -h "$host" -p "$PORT" info commandstats 2>&1)
	calls_set=$(echo "$stats" | sed -n 's/^cmdstat_set:calls=\([0-9]*\),.*/\1/p')
	calls_get=$(echo "$stats" | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p')
	[ "$calls_set" = $((2 * N + 1)) ] && [ "$calls_get" = $((2 * N + 1)) ] ||
		die "$label: the server counted SET=$calls_set GET=$calls_get, expected $((2 * N + 1)) each"
	ns_stop "$SERVER_PID" TERM 20
	[ "$NS_STATUS" = 0 ] || die "$label: redis-server on SIGTERM: $(ns_describe_status "$NS_STATUS") (log: $OUT/redis-$label.log)"
	say "$label: server counted $calls_set SET and $calls_get GET, exit 0 on SIGTERM"
}

say "redis $(redis-server --version | grep -o 'v=[0-9.]*'), $N requests per run, outputs in tests/out/demo/"
measure kernel 127.0.0.1 "${KERNEL_SERVER[@]}" :: "${KERNEL_CLIENT[@]}"
measure user 10.77.1.1 "${USER_SERVER[@]}" :: "${USER_CLIENT[@]}"
if [ "$DRY" != 1 ] && [ -n "$(ns_dpdk_new)" ]; then
	die "left behind in /var/run/dpdk: $(ns_dpdk_new | tr '\n' ' ')"
fi

# --- the table ----------------------------------------------------------------------
echo
{
	echo "| Command | Pipeline | kernel loopback (req/s) | $USER_LABEL (req/s) | ratio |"
	echo "|---|---:|---:|---:|---:|"
	for t in GET SET; do
		for p in 1 16; do
			awk -v t="$t" -v p="$p" -v k="${RPS[kernel,$t,$p]}" -v u="${RPS[user,$t,$p]}" \
				'BEGIN { printf "| %s | -P %d | %.0f | %.0f | %.2fx |\n", t, p, k, u, u / k }'
		done
	done
} | tee "$OUT/table.md"
echo
say "redis-benchmark -c 50 -n $N; ratio = user-space / kernel; both servers checked (request counts, exit 0)"
