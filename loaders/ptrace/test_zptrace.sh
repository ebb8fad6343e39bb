#!/bin/bash
# test_zptrace.sh - zptrace (the ptrace mechanism) against ground truth:
#   - exit statuses: the program's own, death by signal, 126/127/2;
#   - the count hook under zptrace equals `strace -f -c` (syscall_mix with
#     two threads; sh -c with a pipeline: vfork/clone, wait4, execve) and
#     numbers known by construction (getpid_modes: threads, clone, fork,
#     vfork, execve ...);
#   - the signals stress program (handlers, SA_RESTART, EINTR) exact;
#   - pass-through with real programs (ls, python3 threads + subprocess).
#
#   bash loaders/ptrace/test_zptrace.sh     (after make all tests/out/...)
#
# Every run is bounded by timeout; nothing is left running.  Prints
# `ok - name` / `FAIL - name: why` and `zptrace: N passed, M failed`.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ZPT=$ROOT/loaders/zptrace
OUT=$ROOT/tests/out
COUNT=$ROOT/hooklib/libzphook_count.so
WORK=$(mktemp -d /tmp/zptrace-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "FAIL - $1: $2"; failed=$((failed + 1)); }

# status NAME EXPECTED CMD...: the exit status of CMD under zptrace
status() {
	local name=$1 want=$2
	shift 2
	timeout 30 "$ZPT" "$@" >/dev/null 2>"$WORK/err"
	local got=$?
	if [ "$got" = "$want" ]; then ok "$name"; else not_ok "$name" "status $got, expected $want ($(head -c 200 "$WORK/err"))"; fi
}

# calls FILE NAME: the count of syscall NAME in an strace -c style table
calls() { awk -v s="$2" '$NF == s { print ($5 ~ /^[0-9]+$/ && NF == 6) ? $4 : $4 }' "$1" | head -n 1; }

# counted NAME CMD...: the count hook's table of CMD under zptrace in $WORK/count
counted() {
	local name=$1
	shift
	rm -f "$WORK/count"
	if ! LIBZPHOOK=$COUNT ZP_COUNT_FILE=$WORK/count timeout 60 "$ZPT" "$@" >"$WORK/out" 2>"$WORK/err"; then
		not_ok "$name" "exit status $? ($(head -c 200 "$WORK/err"))"
		return 1
	fi
}

# versus_strace NAME "SYSCALLS" CMD...: count hook rows equal strace -f -c rows
versus_strace() {
	local name=$1 list=$2
	shift 2
	counted "$name" "$@" || return
	timeout 60 strace -f -c -o "$WORK/strace" "$@" >/dev/null 2>&1
	local s bad=""
	for s in $list; do
		[ "$(calls "$WORK/count" "$s")" = "$(calls "$WORK/strace" "$s")" ] ||
			bad="$bad $s=$(calls "$WORK/count" "$s")/$(calls "$WORK/strace" "$s")"
	done
	if [ -z "$bad" ]; then ok "$name"; else not_ok "$name" "zptrace/strace:$bad"; fi
}

command -v strace >/dev/null || { echo "zptrace: strace missing (make deps)"; exit 1; }
[ -x "$ZPT" ] || { echo "zptrace: build it first (make all)"; exit 1; }

status exit-status-0 0 true
status exit-status-7 7 sh -c 'exit 7'
status killed-by-sigterm 143 sh -c 'kill -TERM $$'
status not-found 127 no-such-program-zptrace
status no-program 2
LIBZPHOOK=/nonexistent.so timeout 10 "$ZPT" true 2>/dev/null
[ $? = 126 ] && ok hook-not-loadable || not_ok hook-not-loadable "status not 126"

versus_strace count-vs-strace-syscall_mix "getpid getppid write lseek dup" "$OUT/syscall_mix" 300
versus_strace count-vs-strace-sh-pipeline "execve write read close wait4 clone openat" \
	/bin/sh -c 'echo hi; ls / | wc -l'

for m in libc threads clone clone_thread fork vfork vfork_parent execve; do
	if counted "count-getpid-$m" "$OUT/getpid_modes" "$m" 500; then
		got=$(calls "$WORK/count" getpid)
		[ "$got" = 500 ] && ok "count-getpid-$m" || not_ok "count-getpid-$m" "getpid calls = ${got:-0}, expected 500"
	fi
done

if counted count-signals "$OUT/signals" 1000; then
	want=$(sed -n 's/^getpid_calls=//p' "$WORK/out")
	got=$(calls "$WORK/count" getpid)
	[ -n "$want" ] && [ "$got" = "$want" ] && ok count-signals || not_ok count-signals "getpid $got, program says $want"
fi

if timeout 30 "$ZPT" ls -la /usr/bin >"$WORK/ls1" 2>&1 && ls -la /usr/bin >"$WORK/ls2" 2>&1 && cmp -s "$WORK/ls1" "$WORK/ls2"; then
	ok pass-through-ls
else
	not_ok pass-through-ls "output differs from native"
fi
got=$(timeout 30 "$ZPT" python3 -c '
import threading, subprocess
out = []
ts = [threading.Thread(target=lambda i=i: out.append(i)) for i in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sum(out), subprocess.run(["sh", "-c", "exit 3"]).returncode)' 2>&1)
[ "$got" = "28 3" ] && ok pass-through-python || not_ok pass-through-python "got '$got'"

echo "zptrace: $passed passed, $failed failed"
[ "$failed" = 0 ]
