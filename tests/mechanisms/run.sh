#!/bin/bash
# run.sh - every interception mechanism hooks the same calls.
#
#   bash tests/mechanisms/run.sh [NAME-SUBSTRING]
#   MECHANISMS="sud int3" bash tests/mechanisms/run.sh      a subset
#
# `loaders/zprun --mechanism M` puts the same hook libraries behind six front
# ends: zpoline, int3, sud, seccomp, ptrace (exhaustive: every system call of
# the program) and preload (LD_PRELOAD wrappers of libc functions: only the
# calls made through those functions).  For each mechanism, against ground
# truth:
#   1. the count hook counts exactly N getpid calls made in eleven ways
#      (libc, syscall(2), inline asm, threads, clone, fork, vfork, dlopen,
#      execve...: tests/integration/getpid_modes.c); for preload the ways
#      it cannot see are listed below and must read 0, so the list stays true;
#   2. the count hook agrees with `strace -f -c` on a two-threaded mix of
#      calls and on ls;
#   3. signal handlers that make system calls, rt_sigreturn, SA_RESTART;
#      and what the signal-based mechanisms must get right beyond counting
#      (tests/mechanisms/mech_check.c: fork, vfork, posix_spawn, threads,
#      sigprocmask, full-mask handlers, sigsuspend, sigaltstack, the
#      application's own SIGTRAP/SIGSYS handlers), natively first;
#   4. the pass-through hook changes nothing a program prints or returns
#      (stdout byte for byte, exit status, death by signal);
#   5. Redis under the pass-through hook answers redis-cli exactly;
#   6. mechanism-specific behaviour: seccomp refuses execve in one line.
# The netstack hook under each mechanism is exercised by the server benchmark
# (bench/servers) and by tests/netstack.
#
# Every command runs under `timeout`; only processes started here are killed,
# by PID; network: 127.0.0.1 only.  Prints PASS/FAIL per test and one closing
# line `tests: N passed, M failed`; exit status 1 if any failed.

set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/tests/out
ZPRUN=$ROOT/loaders/zprun
TIMEOUT=${TEST_TIMEOUT:-60}
FILTER=${1:-}
MECHANISMS=${MECHANISMS:-"zpoline int3 sud seccomp ptrace preload"}

# shellcheck source=tests/suite_lib.sh
. "$ROOT/tests/suite_lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/exitless-mech.XXXXXX")
REDIS_PID=""
cleanup() {
	if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
		kill "$REDIS_PID" 2>/dev/null
		wait "$REDIS_PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

native() { timeout -k 5 "$TIMEOUT" "$@"; }
# under MECH HOOK CMD...   CMD through zprun; extra environment in ZP_ENV="A=1 B=2"
under() {
	local mech=$1 hook=$2
	shift 2
	# shellcheck disable=SC2086
	timeout -k 5 "$TIMEOUT" env ${ZP_ENV:-} "$ZPRUN" --mechanism "$mech" --hook "$hook" -- "$@"
}

needed=("$ROOT/loaders/zptrace")
[[ " $MECHANISMS " == *" ptrace "* ]] || needed=()
for f in "${needed[@]}" "$ZPRUN" "$ROOT/zpoline/libzpoline.so" "$ROOT/hooklib/libzp_preload.so" \
	"$ROOT/hooklib/libzphook_count.so" "$ROOT/hooklib/libzphook_passthrough.so" \
	"$OUT/getpid_modes" "$OUT/syscall_mix" "$OUT/signals" "$OUT/mech_check"; do
	if [ ! -e "$f" ]; then
		echo "run.sh: missing $f (run 'make test', which builds everything)"
		echo "tests: 0 passed, 1 failed"
		exit 1
	fi
done

# --- what LD_PRELOAD cannot see --------------------------------------------------
# libzp_preload.so wraps libc's getpid, so getpid() from the program (and its
# threads and fork children) is seen; these ways of calling are not, and the
# count must read 0 (if one starts being seen, update hooklib/preload/preload.c's
# list and this one):
#   syscall       syscall(2) is libc's own `syscall` instruction, not getpid()
#   asm           an inline `syscall` instruction in the program
#   clone         the child of a raw clone(2) calls syscall(SYS_getpid)
#   clone_thread  likewise, for a CLONE_THREAD child
#   dlopen        an inline `syscall` in a library loaded later
#   execve        the program re-executes itself with an empty environment:
#                 LD_PRELOAD is gone (zpoline carries it; preload cannot), so
#                 the new image has no hook and no table is written at all
PRELOAD_MISSES=" syscall asm clone clone_thread dlopen execve "
# seccomp: a filter outlives execve and would kill the new program at its
# first system call, so that mechanism refuses execve (section 6).
SECCOMP_MISSES=" execve "

MODES="libc syscall asm threads clone clone_thread fork vfork vfork_parent dlopen execve"
N=200

# --- 1. getpid counted exactly, every way of calling ---------------------------------

for mech in $MECHANISMS; do
	for m in $MODES; do
		name="$mech-count-getpid-$m"
		want "$name" || continue
		expected=$N
		[ "$mech" = preload ] && [[ "$PRELOAD_MISSES" == *" $m "* ]] && expected=0
		[ "$mech" = preload ] && [ "$m" = execve ] && expected=no-table
		if [ "$mech" = seccomp ] && [[ "$SECCOMP_MISSES" == *" $m "* ]]; then
			continue
		fi
		table=$WORK/count.txt
		rm -f "$table"
		ZP_ENV="ZP_COUNT_FILE=$table" under "$mech" count "$OUT/getpid_modes" "$m" "$N" \
			>"$WORK/out" 2>"$WORK/err"
		rc=$?
		got=$(calls_in "$table" getpid)
		if [ "$rc" != 0 ]; then fail "$name" "$(describe_rc $rc)" "exit 0" "$WORK/err"
		elif [ "$got" = "$expected" ]; then pass "$name ($got)"
		else fail "$name" "getpid calls = $got" "$expected" "$table"; fi
	done
done

# --- 2. the count hook agrees with strace ------------------------------------------------

# strace_vs_count MECH NAME SYSCALLS CMD...
strace_vs_count() {
	local mech=$1 name=$2 calls=$3
	shift 3
	want "$name" || return 0
	native strace -f -c -o "$WORK/strace.txt" "$@" >/dev/null 2>"$WORK/err"
	rm -f "$WORK/sc.count"
	ZP_ENV="ZP_COUNT_FILE=$WORK/sc.count" under "$mech" count "$@" >/dev/null 2>>"$WORK/err"
	local rc=$? bad="" want_s got_s
	[ "$rc" = 0 ] || bad=" hooked run: $(describe_rc $rc);"
	for s in $calls; do
		want_s=$(calls_in "$WORK/strace.txt" "$s")
		got_s=$(calls_in "$WORK/sc.count" "$s")
		[ "$want_s" = "$got_s" ] || bad="$bad $s: count hook $got_s, strace $want_s;"
	done
	if [ -z "$bad" ]; then pass "$name"; else fail "$name" "$bad" "equal counts" "$WORK/err"; fi
}

if command -v strace >/dev/null; then
	for mech in $MECHANISMS; do
		# preload sees getpid, getppid, write and dup (wrapped) but not lseek.
		mix="getpid getppid write lseek dup"
		[ "$mech" = preload ] && mix="getpid getppid write dup"
		strace_vs_count "$mech" "$mech-strace-vs-count-syscall_mix" "$mix" "$OUT/syscall_mix" 300
		# ls writes through stdio, which calls libc's internal write: preload misses it.
		[ "$mech" = preload ] || \
			strace_vs_count "$mech" "$mech-strace-vs-count-ls" "write getdents64" ls -l /usr/bin
	done
else
	echo "SKIP strace cross-checks (no strace)"
fi

# --- 3. signal handlers making system calls -------------------------------------------------

for mech in $MECHANISMS; do
	name="$mech-signals-count"
	want "$name" || continue
	[ "$mech" = preload ] && continue  # the program's handlers call getpid(): nothing special
	table=$WORK/signals.count
	rm -f "$table"
	iters=5000
	[ "$mech" = ptrace ] && iters=1000
	ZP_ENV="ZP_COUNT_FILE=$table" under "$mech" count "$OUT/signals" $iters >"$WORK/out" 2>"$WORK/err"
	rc=$?
	expected=$(sed -n 's/^getpid_calls=//p' "$WORK/out")
	got=$(calls_in "$table" getpid)
	if [ "$rc" != 0 ]; then fail "$name" "$(describe_rc $rc)" "exit 0" "$WORK/err"
	elif [ -n "$expected" ] && [ "$got" = "$expected" ]; then pass "$name ($got getpid, main + handlers)"
	else fail "$name" "getpid calls = $got" "${expected:-?} (counted by the program)" "$WORK/err"; fi
done

if want mech-check-native; then
	native "$OUT/mech_check" >"$WORK/out" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then pass mech-check-native
	else fail mech-check-native "$(describe_rc $rc)" "exit 0 (the checks themselves are wrong)" "$WORK/out"; fi
fi
for mech in $MECHANISMS; do
	case $mech in zpoline|int3|sud|seccomp) ;; *) continue ;; esac
	for hook in passthrough count; do
		name="$mech-mech-check-$hook"
		want "$name" || continue
		ZP_ENV="ZP_COUNT_FILE=$WORK/mc.count" under "$mech" "$hook" "$OUT/mech_check" >"$WORK/out" 2>&1
		rc=$?
		if [ "$rc" = 0 ] && grep -q '^mech_check: ok' "$WORK/out"; then pass "$name"
		else fail "$name" "$(describe_rc $rc)" "exit 0, mech_check: ok" "$WORK/out"; fi
	done
done

# --- 4. the pass-through hook changes nothing ---------------------------------------------------

# same_as_native MECH NAME CMD...   stdout, stderr and exit status equal a native run
same_as_native() {
	local mech=$1 name=$2
	shift 2
	want "$name" || return 0
	native "$@" >"$WORK/n.out" 2>"$WORK/n.err"
	local nrc=$?
	under "$mech" passthrough "$@" >"$WORK/h.out" 2>"$WORK/h.err"
	local hrc=$?
	if [ "$nrc" != "$hrc" ]; then
		fail "$name" "$(describe_rc $hrc)" "$(describe_rc $nrc) as natively" "$WORK/h.err"
	elif ! cmp -s "$WORK/n.out" "$WORK/h.out"; then
		fail "$name" "stdout differs ($(wc -c <"$WORK/h.out") bytes)" \
			"the native $(wc -c <"$WORK/n.out") bytes" "$WORK/h.err"
	elif ! cmp -s "$WORK/n.err" "$WORK/h.err"; then
		fail "$name" "stderr differs" "the native stderr" "$WORK/h.err"
	else
		pass "$name"
	fi
}

for mech in $MECHANISMS; do
	same_as_native "$mech" "$mech-ls" ls -la /usr/lib
	# a pipeline forks and executes ls, sort and head: not under seccomp (section 6)
	[ "$mech" = seccomp ] || \
		same_as_native "$mech" "$mech-sh-pipeline" sh -c 'ls /usr/bin | sort -r | head -40; echo done'
	same_as_native "$mech" "$mech-sh-builtins" sh -c 'for i in 1 2 3; do echo "line $i"; done; read -r x </etc/hostname; echo "${#x}"'
	# Debian's python3 itself, not a version manager's shim script (which would execute it)
	same_as_native "$mech" "$mech-python" /usr/bin/python3 -c 'import os, json; print(json.dumps(sorted(os.listdir("/etc"))[:20]))'
	same_as_native "$mech" "$mech-exit-status" sh -c 'echo out; echo err >&2; exit 7'
	same_as_native "$mech" "$mech-killed-by-signal" sh -c 'kill -TERM $$'
done

# --- 5. Redis under the pass-through hook ------------------------------------------------------

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PY=/usr/bin/python3

if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
	for mech in $MECHANISMS; do
		name="$mech-redis-passthrough"
		want "$name" || continue
		port=$(free_port)
		"$ZPRUN" --mechanism "$mech" --hook passthrough -- redis-server --port "$port" \
			--bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.out" 2>&1 &
		REDIS_PID=$!
		up=""
		for _ in $(seq 1 100); do  # up to 10 s
			if native redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then up=1; break; fi
			kill -0 "$REDIS_PID" 2>/dev/null || break
			sleep 0.1
		done
		value=$(head -c 3000 /dev/urandom | base64 -w0)
		got=""
		if [ -n "$up" ]; then
			native redis-cli -p "$port" set k "$value" >/dev/null
			native redis-cli -p "$port" incrby counter 42 >/dev/null
			got="$(native redis-cli -p "$port" get k)|$(native redis-cli -p "$port" get counter)"
		fi
		kill "$REDIS_PID" 2>/dev/null
		wait "$REDIS_PID"
		rc=$?
		REDIS_PID=""
		if [ -z "$up" ]; then fail "$name" "no PONG within 10 s" "redis answers" "$WORK/redis.out"
		elif [ "$got" != "$value|42" ]; then fail "$name" "values differ" "the values set" "$WORK/redis.out"
		elif [ "$rc" != 0 ]; then fail "$name" "after SIGTERM: $(describe_rc $rc)" "exit 0" "$WORK/redis.out"
		else pass "$name"; fi
	done
else
	echo "SKIP redis tests (no redis-server/redis-cli)"
fi

# --- 6. mechanism-specific behaviour ---------------------------------------------------------------

if [[ " $MECHANISMS " == *" seccomp "* ]] && want seccomp-execve-refused; then
	under seccomp passthrough sh -c 'exec /bin/true' >"$WORK/out" 2>"$WORK/err"
	rc=$?
	lines=$(grep -c 'seccomp' "$WORK/err")
	if [ "$rc" != 0 ] && [ "$lines" = 1 ] && grep -q 'execve.*refused' "$WORK/err"; then
		pass "seccomp-execve-refused (one line, $(describe_rc $rc))"
	else
		fail seccomp-execve-refused "$(describe_rc $rc), $lines seccomp lines on stderr" \
			"non-zero exit and one line saying execve is refused" "$WORK/err"
	fi
fi

finish
