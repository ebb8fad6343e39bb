#!/bin/bash
# run.sh - integration tests of libzpoline and the hook libraries.
#
#   bash tests/integration/run.sh [NAME-SUBSTRING]
#
# Needs `make all` and the test programs (make test builds both).  Every test
# compares with ground truth: a count known by construction, the program's own
# count, strace, or the same command run natively.  Only the program under
# test gets LD_PRELOAD (timeout/env/awk here run natively).  Every command runs
# under `timeout`; every wait loop is bounded; only processes started here are
# ever killed, by PID.  Network: 127.0.0.1 only.
#
# Prints PASS/FAIL per test (failures with observed and expected) and one
# closing line: `tests: N passed, M failed`.  Exit status 1 if any failed.
#
# TEST_XFAIL="name1 name2" marks known, documented failures: they print XFAIL
# (with the details) and do not count as failed; if one passes it prints XPASS.
# Empty by default.

set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/tests/out
ZPOLINE=$ROOT/zpoline/libzpoline.so
HOOK_PASS=$ROOT/hooklib/libzphook_passthrough.so
HOOK_COUNT=$ROOT/hooklib/libzphook_count.so
HOOK_TRACE=$ROOT/hooklib/libzphook_trace.so
HOOK_CLOBBER=$OUT/hook_clobber.so
PY=/usr/bin/python3            # Debian's, not a pyenv shim script
TIMEOUT=${TEST_TIMEOUT:-60}    # seconds per command
FILTER=${1:-}

# shellcheck source=tests/suite_lib.sh
. "$ROOT/tests/suite_lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/exitless-it.XXXXXX")
REDIS_PID=""
cleanup() {
	# the only background process this script starts is redis-server
	if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
		kill "$REDIS_PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# --- running ---------------------------------------------------------------

# native CMD...                  run CMD with a time limit
native() { timeout -k 5 "$TIMEOUT" "$@"; }

# hooked HOOK CMD...             run CMD under libzpoline with hook library HOOK;
#                                extra environment: set ZP_ENV="A=1 B=2" before
hooked() {
	local hook=$1
	shift
	# shellcheck disable=SC2086
	timeout -k 5 "$TIMEOUT" env ${ZP_ENV:-} LD_PRELOAD="$ZPOLINE" LIBZPHOOK="$hook" "$@"
}

# --- preconditions --------------------------------------------------------------

for f in "$ZPOLINE" "$HOOK_PASS" "$HOOK_COUNT" "$HOOK_TRACE" "$HOOK_CLOBBER" \
	"$OUT/hook_clobber_novector.so" "$OUT/hook_upstream.so" "$OUT/getpid_modes" "$OUT/libgetpid_dl.so" "$OUT/redzone" "$OUT/vector_state" \
	"$OUT/signals" "$OUT/small_stack" "$OUT/enosys" "$OUT/jit_getpid" "$OUT/null_call" "$OUT/page_zero" "$OUT/syscall_mix"; do
	if [ ! -e "$f" ]; then
		echo "run.sh: missing $f (run 'make test', which builds everything)"
		echo "tests: 0 passed, 1 failed"
		exit 1
	fi
done

# --- 1. getpid counted exactly, for every way of making the call ------------------------

# count_test NAME EXPECTED CMD...   under the count hook, the getpid row must read EXPECTED
count_test() {
	local name=$1 expected=$2
	shift 2
	want "$name" || return 0
	local table=$WORK/count.$RANDOM.txt
	rm -f "$table"
	ZP_ENV="ZP_COUNT_FILE=$table" hooked "$HOOK_COUNT" "$@" >"$WORK/out" 2>"$WORK/err"
	local rc=$?
	if [ "$rc" != 0 ]; then
		fail "$name" "$(describe_rc $rc)" "exit status 0" "$WORK/err"
	elif [ ! -s "$table" ]; then
		fail "$name" "no table in ZP_COUNT_FILE" "a table with a getpid row" "$WORK/err"
	else
		local got
		got=$(calls_in "$table" getpid)
		if [ "$got" = "$expected" ]; then
			pass "$name"
		else
			fail "$name" "getpid calls = $got" "$expected" "$table"
		fi
	fi
}

MODES="libc syscall asm threads clone clone_thread fork vfork vfork_parent dlopen execve"
N=1000

# The programs must be right natively before their counts mean anything.
if want native-getpid-modes; then
	bad=""
	for m in $MODES; do
		native "$OUT/getpid_modes" "$m" 3 >/dev/null 2>"$WORK/err" || bad="$bad $m"
	done
	if [ -z "$bad" ]; then pass native-getpid-modes
	else fail native-getpid-modes "failed natively:$bad" "all modes exit 0" "$WORK/err"; fi
fi

for m in $MODES; do
	count_test "count-getpid-$m-N$N" "$N" "$OUT/getpid_modes" "$m" "$N"
	count_test "count-getpid-$m-N0" 0 "$OUT/getpid_modes" "$m" 0
done

# --- 2. red zone ----------------------------------------------------------------------

if want redzone-selftest; then
	if native "$OUT/redzone" --selftest >/dev/null 2>&1; then pass redzone-selftest
	else fail redzone-selftest "checker missed a clobbered slot" "detected"; fi
fi
# 2 probes x 200 rounds = 400 getpid calls, all of them hooked
count_test redzone-count-hook 400 "$OUT/redzone" 200
if want redzone-passthrough; then
	hooked "$HOOK_PASS" "$OUT/redzone" 200 >/dev/null 2>"$WORK/err"
	rc=$?
	if [ "$rc" = 0 ]; then pass redzone-passthrough
	else fail redzone-passthrough "$(describe_rc $rc)" "red-zone slots intact, exit 0" "$WORK/err"; fi
fi

# --- 3. vector and x87 state -----------------------------------------------------------

if want vector-selftest; then
	if native "$OUT/vector_state" --selftest >/dev/null 2>&1; then pass vector-selftest
	else fail vector-selftest "checker missed a clobbered register" "detected"; fi
fi
# vector_test NAME HOOK [--no-x87]    values survive 200 rounds under HOOK
vector_test() {
	want "$1" || return 0
	ZP_ENV="ZP_COUNT_FILE=$WORK/vec.count ZP_TRACE_FILE=$WORK/vec.trace" \
		hooked "$2" "$OUT/vector_state" 200 ${3:-} >"$WORK/out" 2>"$WORK/err"
	local rc=$?
	if [ "$rc" = 0 ]; then pass "$1 ($(sed 's/^ok vector_state 200: //' "$WORK/out"))"
	else fail "$1" "$(describe_rc $rc)" "all vector/x87 registers intact, exit 0" "$WORK/err"; fi
}
vector_test vector-hook-clobber "$HOOK_CLOBBER"
# Without x87 in use libzpoline saves with register moves, not XSAVEC.
vector_test vector-hook-clobber-moves "$HOOK_CLOBBER" --no-x87
# Negative control: the same hook claiming ZPHOOK_NO_VECTOR gets no saving,
# so its clobbering must be caught (shows this test can fail).
if want vector-negative-control; then
	hooked "$OUT/hook_clobber_novector.so" "$OUT/vector_state" 5 >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" = 1 ] && grep -q "changed across the system call" "$WORK/err"; then
		pass "vector-negative-control ($(grep -c 'changed across' "$WORK/err") clobbers caught)"
	else
		fail vector-negative-control "$(describe_rc $rc): clobbering by a hook that claims ZPHOOK_NO_VECTOR went unnoticed" \
			"exit 1 with 'changed across the system call' (libzpoline skips the save for such hooks)" "$WORK/err"
	fi
fi
vector_test vector-hook-passthrough "$HOOK_PASS"
vector_test vector-hook-count "$HOOK_COUNT"
vector_test vector-hook-trace "$HOOK_TRACE"
# count and trace run libc's AVX/EVEX string functions but never x87: with
# --no-x87 every call takes the register-move path.
vector_test vector-hook-count-moves "$HOOK_COUNT" --no-x87
vector_test vector-hook-trace-moves "$HOOK_TRACE" --no-x87

# --- 4. signals -------------------------------------------------------------------------

if want signals-native; then
	native "$OUT/signals" 2000 >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" = 0 ]; then pass signals-native
	else fail signals-native "$(describe_rc $rc)" "exit 0 (the test itself is broken)" "$WORK/err"; fi
fi
if want signals-count; then
	table=$WORK/signals.count
	ZP_ENV="ZP_COUNT_FILE=$table" hooked "$HOOK_COUNT" "$OUT/signals" 20000 >"$WORK/out" 2>"$WORK/err"
	rc=$?
	expected=$(sed -n 's/^getpid_calls=//p' "$WORK/out")
	if [ "$rc" != 0 ]; then
		fail signals-count "$(describe_rc $rc)" "exit 0" "$WORK/err"
	elif [ ! -s "$table" ]; then
		fail signals-count "no table in ZP_COUNT_FILE" "a table" "$WORK/err"
	else
		got=$(calls_in "$table" getpid)
		if [ "$got" = "$expected" ]; then pass "signals-count ($got getpid, main + handlers)"
		else fail signals-count "getpid calls = $got" "$expected (main + handlers, counted by the program)" "$WORK/err"; fi
	fi
fi
if want signals-passthrough; then
	hooked "$HOOK_PASS" "$OUT/signals" 20000 >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" = 0 ]; then pass signals-passthrough
	else fail signals-passthrough "$(describe_rc $rc)" "exit 0" "$WORK/err"; fi
fi

# Small stacks: the hook runs on its own stack (zpoline/thread.c), so calls
# from a tight sigaltstack handler and a 2 KiB coroutine stack are fine even
# under the trace hook (printf).  ZP_HOOK_STACK=0 puts the hook back on the
# application's stack: the same run must then die on the guard page, or
# this test proves nothing.
count_test small-stack-count 200 "$OUT/small_stack" 100
if want small-stack-trace; then
	hooked "$HOOK_TRACE" "$OUT/small_stack" 100 >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q '^getpid_calls=200$' "$WORK/out"; then pass small-stack-trace
	else fail small-stack-trace "$(describe_rc $rc)" "exit 0, getpid_calls=200" "$WORK/err"; fi
fi
if want small-stack-negative-control; then
	ZP_ENV="ZP_HOOK_STACK=0" hooked "$HOOK_TRACE" "$OUT/small_stack" 100 >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" -gt 128 ]; then pass "small-stack-negative-control (hook on the application's stack: $(describe_rc $rc))"
	else fail small-stack-negative-control "$(describe_rc $rc)" "death by a signal (the guard page)" "$WORK/err"; fi
fi

# --- 5. unknown system call numbers ------------------------------------------------------

# Every number that starts a full jump slot of page 0 (0..4090) reaches the
# hook, and the kernel answers as it would natively.
for nr in 335 511 512 1000 2047 4090; do
	name="enosys-syscall($nr)"
	want "$name" || continue
	native "$OUT/enosys" "$nr" >"$WORK/native" 2>&1
	hooked "$HOOK_PASS" "$OUT/enosys" "$nr" >"$WORK/hooked" 2>"$WORK/err"
	if cmp -s "$WORK/native" "$WORK/hooked"; then pass "$name"
	else fail "$name" "$(tr '\n' ' ' <"$WORK/hooked")" "$(tr '\n' ' ' <"$WORK/native")(as natively)" "$WORK/err"; fi
done
# The documented limit (zpoline/trampoline.c): `call *%rax` with a number past
# the last slot (4091..4095: a hlt; >= 4096: unmapped) faults.  It must fault
# with SIGSEGV, never hang or run something else.  (The enosys program makes
# the call in a child and reports how the child ended.)
for nr in 4091 4095 4096 100000 -1; do
	name="beyond-page0-faults($nr)"
	want "$name" || continue
	hooked "$HOOK_PASS" "$OUT/enosys" "$nr" >"$WORK/hooked" 2>"$WORK/err"
	if grep -q "killed by signal 11" "$WORK/hooked"; then pass "$name"
	else fail "$name" "$(tr '\n' ' ' <"$WORK/hooked")" "the call killed by SIGSEGV (documented limit)" "$WORK/err"; fi
done

# --- 6. a NULL function call is not a system call -----------------------------------------

for how in plain write; do
	name="null-call-$how"
	want "$name" || continue
	hooked "$HOOK_PASS" "$OUT/null_call" "$how" >"$WORK/out" 2>"$WORK/err"
	out=$(tr '\n' ' ' <"$WORK/out")
	if grep -q "SYSCALL RAN\|survived" "$WORK/out"; then
		fail "$name" "$out" "the call is stopped before any system call runs"
	elif ! grep -q "not a rewritten system call site" "$WORK/err"; then
		fail "$name" "stderr without the phrase; stdout: $out" \
			"stderr contains 'not a rewritten system call site'" "$WORK/err"
	elif ! grep -q "^child killed by signal 11$" "$WORK/out"; then
		fail "$name" "$out" "child killed by signal 11 (SIGSEGV)" "$WORK/err"
	else
		pass "$name"
	fi
done

# --- 7. page 0 --------------------------------------------------------------------------

if want page-zero; then
	hooked "$HOOK_PASS" "$OUT/page_zero" >"$WORK/out" 2>"$WORK/err"
	mapping=$(sed -n 's/^mapping //p' "$WORK/out")
	wr=$(sed -n 's/^write //p' "$WORK/out")
	rd=$(sed -n 's/^read //p' "$WORK/out")
	if [ -z "$mapping" ] || [ "$mapping" = none ]; then
		fail page-zero-mapped "no mapping at address 0" "the trampoline mapped at 0" "$WORK/err"
	else
		pass "page-zero-mapped ($mapping)"
		if [[ "$mapping" == *w* ]]; then
			fail page-zero-not-writable "permissions $mapping" "no w after set-up"
		else pass page-zero-not-writable; fi
		if [ "$wr" = "signal 11" ]; then pass page-zero-write-faults
		else fail page-zero-write-faults "write to address 0: $wr" "signal 11"; fi
		if grep -qw pku /proc/cpuinfo && grep -qw ospke /proc/cpuinfo; then
			if [ "$rd" = "signal 11" ]; then pass page-zero-read-faults-pku
			else fail page-zero-read-faults-pku "read of address 0: $rd (perms $mapping)" \
				"signal 11 (execute-only page, the CPU has pku/ospke)"; fi
		else
			echo "SKIP page-zero-read-faults-pku (no pku/ospke in /proc/cpuinfo)"
		fi
	fi
fi

# --- 8. address-space limit -------------------------------------------------------------------

if want ulimit-v; then
	table=$WORK/ulimit.count
	(ulimit -v 4000000 && ZP_ENV="ZP_COUNT_FILE=$table" hooked "$HOOK_COUNT" \
		"$OUT/getpid_modes" threads 100) >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" != 0 ]; then
		fail ulimit-v "$(describe_rc $rc) under ulimit -v 4000000" "exit 0" "$WORK/err"
	elif [ "$(calls_in "$table" getpid)" != 100 ]; then
		fail ulimit-v "getpid calls = $(calls_in "$table" getpid)" "100" "$WORK/err"
	else
		pass ulimit-v
	fi
fi

# --- 9. real programs: byte-identical output under the pass-through hook -------------------------

# same_as_native NAME HOOK CMD...   stdout, stderr and exit status equal to a native run
# (SAME_STDOUT_ONLY=1: compare stdout and status only, for hooks that print to stderr)
same_as_native() {
	local name=$1 hook=$2
	shift 2
	want "$name" || return 0
	native "$@" >"$WORK/n.out" 2>"$WORK/n.err"
	local nrc=$?
	hooked "$hook" "$@" >"$WORK/h.out" 2>"$WORK/h.err"
	local hrc=$?
	if [ "$nrc" != "$hrc" ]; then
		fail "$name" "$(describe_rc $hrc)" "$(describe_rc $nrc) (as natively)" "$WORK/h.err"
	elif ! cmp -s "$WORK/n.out" "$WORK/h.out"; then
		diff "$WORK/n.out" "$WORK/h.out" | head -n 20 >"$WORK/diff"
		fail "$name" "stdout differs ($(wc -c <"$WORK/h.out") bytes vs $(wc -c <"$WORK/n.out"))" \
			"byte-identical stdout" "$WORK/diff"
	elif [ "${SAME_STDOUT_ONLY:-0}" != 1 ] && ! cmp -s "$WORK/n.err" "$WORK/h.err"; then
		diff "$WORK/n.err" "$WORK/h.err" | head -n 20 >"$WORK/diff"
		fail "$name" "stderr differs" "byte-identical stderr" "$WORK/diff"
	else
		pass "$name"
	fi
}

PYSCRIPT='
import sys, os, json, ssl, socket, hashlib
d = sys.argv[1]
p = os.path.join(d, "data.json")
with open(p, "w") as f:
    json.dump({"a": [1, 2, 3], "b": "exitless"}, f, sort_keys=True)
with open(p) as f:
    data = json.load(f)
print(json.dumps(data, sort_keys=True))
print(hashlib.sha256(open(p, "rb").read()).hexdigest())
print(sorted(os.listdir(d)))
os.unlink(p)
print(ssl.OPENSSL_VERSION.split()[0], ssl.HAS_TLSv1_3)
ctx = ssl.create_default_context()
print(ctx.verify_mode == ssl.CERT_REQUIRED)
a, b = socket.socketpair()
a.sendall(b"ping" * 1000)
got = b""
while len(got) < 4000:
    got += b.recv(65536)
print(len(got), got[:8])
print(socket.getaddrinfo("127.0.0.1", 80, socket.AF_INET, socket.SOCK_STREAM)[0][4])
print(os.getpid() > 0, os.getppid() > 0)
sys.stderr.write("done\n")
sys.exit(3)
'
mkdir -p "$WORK/py"

real_programs() {
	local tag=$1 hook=$2
	same_as_native "$tag-ls-l-usr-bin" "$hook" ls -l /usr/bin
	same_as_native "$tag-sh-pipeline-ls-sort-head" "$hook" sh -c 'ls /usr/lib | sort | head -50'
	same_as_native "$tag-sh-echo-grep-c" "$hook" sh -c 'echo x | grep -c x'
	same_as_native "$tag-sh-failing-command" "$hook" sh -c 'ls /nonexistent-exitless-dir'
	same_as_native "$tag-sh-exit-42" "$hook" sh -c 'echo out; echo err >&2; exit 42'
	same_as_native "$tag-python3-io-json-ssl-socket" "$hook" "$PY" -c "$PYSCRIPT" "$WORK/py"
	same_as_native "$tag-getent-hosts-localhost" "$hook" getent hosts localhost
}
real_programs passthrough "$HOOK_PASS"
# The count and trace hooks write to stderr unless given a file: compare stdout.
SAME_STDOUT_ONLY=1 ZP_ENV="ZP_COUNT_FILE=$WORK/real.count" real_programs count "$HOOK_COUNT"
SAME_STDOUT_ONLY=1 ZP_ENV="ZP_TRACE_FILE=$WORK/real.trace" real_programs trace "$HOOK_TRACE"
if want trace-pipeline-traced; then
	# a traced pipeline really is traced, children and execve'd programs too
	ZP_ENV="ZP_TRACE_FILE=$WORK/pipe.trace" hooked "$HOOK_TRACE" \
		sh -c 'ls /usr/lib | sort | head -5' >/dev/null 2>"$WORK/err"
	n=$(grep -c 'getdents64(' "$WORK/pipe.trace" 2>/dev/null)
	e=$(grep -c 'execve(' "$WORK/pipe.trace" 2>/dev/null)
	if [ "${n:-0}" -ge 1 ] && [ "${e:-0}" -ge 3 ]; then
		pass "trace-pipeline-traced ($(wc -l <"$WORK/pipe.trace") lines)"
	else
		fail trace-pipeline-traced "${n:-0} getdents64 lines, ${e:-0} execve lines" \
			"ls's getdents64 and >= 3 execve (ls, sort, head) in ZP_TRACE_FILE" "$WORK/err"
	fi
fi

# --- 10. redis-server + redis-cli ----------------------------------------------------------

# A port nobody listens on (127.0.0.1); bounded number of tries.
free_port() {
	local port
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# redis_session MODE TRANSCRIPT   MODE native|hooked: start a server, run a fixed
# list of client commands, shut it down; the transcript gets replies + status
redis_session() {
	local mode=$1 transcript=$2 port
	port=$(free_port) || { echo "no free port" >"$transcript"; return 1; }
	local run=native
	[ "$mode" = hooked ] && run="hooked $HOOK_PASS"
	$run redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		>"$WORK/redis.$mode.log" 2>&1 &
	REDIS_PID=$!
	local up=0
	for _ in $(seq 1 100); do     # up to ~10 s
		if [ "$(native redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then up=1; break; fi
		sleep 0.1
	done
	: >"$transcript"
	if [ "$up" = 1 ]; then
		{
			$run redis-cli -p "$port" set greeting "hello exitless"
			$run redis-cli -p "$port" get greeting
			$run redis-cli -p "$port" incr counter
			$run redis-cli -p "$port" incr counter
			$run redis-cli -p "$port" incrby counter 40
			$run redis-cli -p "$port" get counter
			$run redis-cli -p "$port" rpush list a b c
			$run redis-cli -p "$port" lrange list 0 -1
			$run redis-cli -p "$port" dbsize
			$run redis-cli -p "$port" get missing
			$run redis-cli -p "$port" shutdown nosave
		} >>"$transcript" 2>&1
	else
		echo "server did not answer PING" >>"$transcript"
	fi
	local gone=0
	for _ in $(seq 1 100); do
		if ! kill -0 "$REDIS_PID" 2>/dev/null; then gone=1; break; fi
		sleep 0.1
	done
	if [ "$gone" = 0 ]; then
		kill "$REDIS_PID" 2>/dev/null
		echo "server did not exit after shutdown" >>"$transcript"
	fi
	wait "$REDIS_PID"
	echo "server exit status $?" >>"$transcript"
	REDIS_PID=""
}

if want redis; then
	redis_session native "$WORK/redis.native"
	redis_session hooked "$WORK/redis.hooked"
	if ! grep -q "^hello exitless$" "$WORK/redis.native"; then
		fail redis-native "$(tr '\n' ' ' <"$WORK/redis.native")" "a working native session" "$WORK/redis.native.log"
	elif cmp -s "$WORK/redis.native" "$WORK/redis.hooked"; then
		pass "redis-server+redis-cli-passthrough"
	else
		fail "redis-server+redis-cli-passthrough" "$(tr '\n' ' ' <"$WORK/redis.hooked")" \
			"$(tr '\n' ' ' <"$WORK/redis.native")" "$WORK/redis.hooked.log"
	fi
fi

# --- 11. the trace hook ---------------------------------------------------------------------

if want trace-stderr; then
	hooked "$HOOK_TRACE" "$OUT/getpid_modes" libc 3 >"$WORK/out" 2>"$WORK/err"
	rc=$?
	n=$(grep -c 'getpid(' "$WORK/err")
	if [ "$rc" = 0 ] && [ "$n" -ge 3 ]; then pass "trace-stderr ($n getpid lines)"
	else fail trace-stderr "$(describe_rc $rc), $n lines with 'getpid('" "exit 0, >= 3 lines" "$WORK/err"; fi
fi
if want trace-file; then
	ZP_ENV="ZP_TRACE_FILE=$WORK/trace.txt" hooked "$HOOK_TRACE" "$OUT/getpid_modes" fork 3 \
		>"$WORK/out" 2>"$WORK/err"
	rc=$?
	n=$(grep -c 'getpid(' "$WORK/trace.txt" 2>/dev/null)
	if [ "$rc" = 0 ] && [ "${n:-0}" -ge 3 ] && ! grep -q 'getpid(' "$WORK/err"; then
		pass "trace-file ($n getpid lines, children included)"
	else
		fail trace-file "$(describe_rc $rc), ${n:-0} getpid lines in ZP_TRACE_FILE" \
			"exit 0, >= 3 lines in the file, none on stderr" "$WORK/err"
	fi
fi
SAME_STDOUT_ONLY=1 same_as_native trace-sh-pipeline-stdout "$HOOK_TRACE" sh -c 'ls /usr/lib | sort | head -50'

# --- 12. strace cross-check ------------------------------------------------------------------

# strace_vs_count NAME SYSCALLS CMD...  strace -f -c (native run) and the count hook
# must report the same number of calls for each of SYSCALLS
strace_vs_count() {
	local name=$1 calls=$2
	shift 2
	want "$name" || return 0
	native strace -f -c -o "$WORK/strace.txt" "$@" >/dev/null 2>"$WORK/err"
	ZP_ENV="ZP_COUNT_FILE=$WORK/sc.count" hooked "$HOOK_COUNT" "$@" >/dev/null 2>>"$WORK/err"
	local rc=$?
	local bad="" want_s got_s
	[ "$rc" = 0 ] || bad=" hooked run: $(describe_rc $rc);"
	for s in $calls; do
		want_s=$(calls_in "$WORK/strace.txt" "$s")
		got_s=$(calls_in "$WORK/sc.count" "$s")
		[ "$want_s" = "$got_s" ] || bad="$bad $s: count hook $got_s, strace $want_s;"
	done
	if [ -z "$bad" ]; then pass "$name"
	else fail "$name" "$bad" "equal counts" "$WORK/err"; fi
	rm -f "$WORK/sc.count"
}
if command -v strace >/dev/null; then
	strace_vs_count strace-vs-count-syscall_mix "getpid getppid write lseek dup" \
		"$OUT/syscall_mix" 300
	strace_vs_count strace-vs-count-ls "write getdents64" ls -l /usr/bin
	strace_vs_count strace-vs-count-fork-getpid "getpid" "$OUT/getpid_modes" fork 99

	# strace watching a program under the pass-through hook (which makes no
	# calls of its own): the kernel sees exactly the application's getpid
	# calls, no more (none lost, none doubled), and ptrace copes with it
	if want strace-of-hooked-run; then
		native strace -f -c -o "$WORK/so.strace" env LD_PRELOAD="$ZPOLINE" \
			LIBZPHOOK="$HOOK_PASS" "$OUT/getpid_modes" threads 250 >/dev/null 2>"$WORK/err"
		rc=$?
		a=$(calls_in "$WORK/so.strace" getpid)
		if [ "$rc" = 0 ] && [ "$a" = 250 ]; then pass strace-of-hooked-run
		else fail strace-of-hooked-run "$(describe_rc $rc), strace saw $a getpid" "exit 0, 250" "$WORK/err"; fi
	fi
else
	echo "SKIP strace cross-checks (no strace)"
fi

# --- 13. code written at run time, and the ZP_SUD=1 catch-all ---------------------------------
# jit_getpid writes a syscall into an already executable page.  Without the
# catch-all those calls are not hooked (documented); with ZP_SUD=1 the first
# traps, the site is rewritten, and the count hook must see every call, and
# none of the hook's own calls.

for sud in 0 1; do
	name="jit-code-sud$sud"
	want "$name" || continue
	table=$WORK/jit$sud.count
	rm -f "$table"
	ZP_ENV="ZP_COUNT_FILE=$table ZP_SUD=$sud" hooked "$HOOK_COUNT" "$OUT/jit_getpid" 1000 >"$WORK/out" 2>"$WORK/err"
	rc=$?
	expected=0
	[ "$sud" = 1 ] && expected=1000
	got=$(calls_in "$table" getpid)
	if [ "$rc" != 0 ]; then fail "$name" "$(describe_rc $rc)" "exit 0" "$WORK/err"
	elif [ "$got" = "$expected" ]; then pass "$name ($got of 1000 JIT getpid hooked)"
	else fail "$name" "getpid calls = $got" "$expected" "$WORK/err"; fi
done

# --- 14. a hook library built for upstream zpoline runs unchanged -----------------------------

for mode in libc threads fork; do
	name="upstream-abi-hook-$mode"
	want "$name" || continue
	hooked "$OUT/hook_upstream.so" "$OUT/getpid_modes" "$mode" 700 >"$WORK/out" 2>"$WORK/err"
	rc=$?
	# fork: each process has its own counter (upstream hooks share nothing);
	# the parent's line comes last and counts only its own calls, so sum all.
	got=$(sed -n 's/^upstream-hook getpid=//p' "$WORK/err" | awk '{ s += $1 } END { print s + 0 }')
	if [ "$rc" != 0 ]; then fail "$name" "$(describe_rc $rc)" "exit 0" "$WORK/err"
	elif [ "$got" = 700 ]; then pass "$name ($got getpid via __hook_init)"
	else fail "$name" "getpid calls = $got" "700" "$WORK/err"; fi
done

# --- summary ------------------------------------------------------------------------------------

finish
