#!/usr/bin/env bash
# The main job for now (`make demo`): a real program under the count hook.
#
# Starts Debian's redis-server on 127.0.0.1 under
#   loaders/zprun --hook count
# drives it with a few redis-cli commands and redis-benchmark, shuts it down
# with `redis-cli shutdown nosave`, and shows the count hook's strace -c style
# table (written at exit to ZP_COUNT_FILE).  For comparison the same benchmark
# is run against a native redis-server first.
#
# Every wait is bounded; only the redis-server PIDs started here are stopped.
# Outputs stay in tests/out/demo/.  Exits non-zero if any step fails.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/tests/out/demo
BENCH_REQUESTS=${DEMO_REQUESTS:-20000}

say() { echo "demo: $*"; }
die() { echo "demo: FAILED: $*" >&2; exit 1; }

for file in loaders/zprun zpoline/libzpoline.so hooklib/libzphook_count.so; do
	[ -e "$file" ] || die "$file is not built (run 'make')"
done
for program in redis-server redis-cli redis-benchmark; do
	command -v "$program" >/dev/null || die "$program not found (run 'make deps')"
done

rm -rf "$OUT"
mkdir -p "$OUT"

# A free TCP port on 127.0.0.1, from 7000 up: a connect that fails means free.
port_is_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=""
for candidate in $(seq 7000 7099); do
	if ! port_is_busy "$candidate"; then PORT=$candidate; break; fi
done
[ -n "$PORT" ] || die "no free port in 7000-7099"

cli() { timeout 10 redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }

server_pid=""
# On any exit, stop a server this script started and has not reaped yet (an
# unreaped child keeps its PID, so this cannot hit another process).
stop_our_server() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill "$server_pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
}
trap stop_our_server EXIT

# start_server LABEL CMD...: start redis-server through CMD, wait (at most
# 30 s: rewriting a large program takes seconds) until it answers PING.
start_server() {
	local label=$1; shift
	"$@" redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize no --dir "$OUT" --logfile "$OUT/redis-$label.log" \
		>"$OUT/redis-$label.out" 2>&1 </dev/null &
	server_pid=$!
	for _ in $(seq 300); do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			wait "$server_pid" && status=0 || status=$?
			server_pid=""
			tail -n 5 "$OUT/redis-$label.out" "$OUT/redis-$label.log" >&2 2>/dev/null || true
			die "redis-server ($label) exited with status $status before answering"
		fi
		[ "$(cli ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	die "redis-server ($label) did not answer PING within 30 s"
}

# stop_server LABEL: `shutdown nosave`, wait (at most 10 s) and check the
# server's own exit status.
stop_server() {
	local label=$1 status
	cli shutdown nosave >/dev/null 2>&1 || true   # the connection drops: expected
	for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$server_pid" 2>/dev/null && die "redis-server ($label) did not exit within 10 s of shutdown"
	wait "$server_pid" && status=0 || status=$?
	server_pid=""
	[ "$status" = 0 ] || die "redis-server ($label) exited with status $status"
	say "redis-server ($label) shut down, exit status 0"
}

benchmark() {
	local label=$1 status
	timeout 120 redis-benchmark -h 127.0.0.1 -p "$PORT" -q -n "$BENCH_REQUESTS" -t set,get \
		</dev/null >"$OUT/benchmark-$label.raw" 2>&1 && status=0 || status=$?
	[ "$status" = 0 ] || die "redis-benchmark ($label) failed with status $status"
	# -q rewrites its progress line with \r; keep the final result lines.
	tr '\r' '\n' <"$OUT/benchmark-$label.raw" | grep -E '^(SET|GET):.*requests per second' \
		| sed "s/^/  $label: /" | tee -a "$OUT/benchmark.txt" || die "no result from redis-benchmark ($label)"
}

say "redis $(redis-server --version | grep -o 'v=[0-9.]*'), port $PORT, outputs in tests/out/demo/"

say "1. native redis-server, for comparison"
start_server native env
benchmark native
stop_server native

say "2. redis-server under: loaders/zprun --hook count"
export ZP_COUNT_FILE=$OUT/count.txt
start_server count loaders/zprun --hook count --
unset ZP_COUNT_FILE
say "redis-cli commands:"
{
	echo "  SET demo:greeting hello   -> $(cli set demo:greeting hello)"
	echo "  GET demo:greeting         -> $(cli get demo:greeting)"
	echo "  INCR demo:counter (x3)    -> $(cli incr demo:counter >/dev/null; cli incr demo:counter >/dev/null; cli incr demo:counter)"
	echo "  DBSIZE                    -> $(cli dbsize)"
} | tee "$OUT/cli.txt"
[ "$(cli get demo:greeting)" = hello ] || die "GET did not return what SET stored"
benchmark "zpoline+count"
stop_server count

say "system calls of redis-server, as counted by the count hook:"
if [ -s "$OUT/count.txt" ]; then
	cat "$OUT/count.txt"
elif [ -s "$OUT/redis-count.out" ]; then
	# A count hook that ignores ZP_COUNT_FILE prints the table on stderr.
	cat "$OUT/redis-count.out"
else
	die "the count hook wrote no summary (neither $OUT/count.txt nor redis-server's stderr)"
fi
say "done"
