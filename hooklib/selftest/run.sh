#!/bin/sh
# hooklib/selftest/run.sh - check the three hook libraries without libzpoline.
#
# hooktest (hooktest.c) loads a library with dlmopen, gives it a stand-in
# API and sends a known script of system calls through the hook, so the
# expected counts and trace lines are exact.  Run from anywhere after
# `make hooklib/selftest/hooktest hooklib/libzphook_{passthrough,trace,count}.so`;
# exits non-zero on the first failure.
set -eu

HOOKLIB=$(cd "$(dirname "$0")/.." && pwd)
HOOKTEST=$HOOKLIB/selftest/hooktest
OUT=$(mktemp -d /tmp/hooklib-selftest.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
# The variables our libraries carry to children must not leak in from outside.
unset ZP_TRACE_FD ZP_TRACE_ID ZP_TRACE_FILE ZP_COUNT_SHM ZP_COUNT_FILE || true

failures=0
passes=0
check() {        # check DESCRIPTION COMMAND...
	desc=$1; shift
	if "$@"; then echo "ok   $desc"; passes=$((passes + 1)); else echo "FAIL $desc"; failures=$((failures + 1)); fi
}

# The calls column of the row named $2 in table file $1 ("" if absent).
calls_of() { awk -v n="$2" '$NF == n { print $4 }' "$1"; }
# The errors column of that row (0 when blank, as strace leaves it).
errors_of() { awk -v n="$2" '$NF == n { print (NF == 6 ? $5 : 0) }' "$1"; }

# --- passthrough ---
check "passthrough: results and ZPHOOK_NO_VECTOR" \
	"$HOOKTEST" "$HOOKLIB/libzphook_passthrough.so" passthrough

# --- count: threads, fork children, an executed child ---
ZP_COUNT_FILE=$OUT/count.txt "$HOOKTEST" "$HOOKLIB/libzphook_count.so" calls >/dev/null 2>"$OUT/count.err" &
root_pid=$!
wait $root_pid
T=$OUT/count.txt
check "count: table written"            test -s "$T"
check "count: getpid 121 (root+fork+exec children)" test "$(calls_of "$T" getpid)" = 121
check "count: getuid 4000 (4 threads)"  test "$(calls_of "$T" getuid)" = 4000
check "count: fork 2 (child side not counted)" test "$(calls_of "$T" fork)" = 2
check "count: execve 2, 1 error"        test "$(calls_of "$T" execve)/$(errors_of "$T" execve)" = 2/1
check "count: exit_group 3"             test "$(calls_of "$T" exit_group)" = 3
check "count: openat 3, 2 errors"       test "$(calls_of "$T" openat)/$(errors_of "$T" openat)" = 3/2
check "count: out-of-range bucket"      test "$(calls_of "$T" syscall_other)" = 1
check "count: header like strace -c" \
	grep -qx '% time     seconds  usecs/call     calls    errors syscall' "$T"
check "count: total = sum of calls" \
	awk '$NF == "total" { t = $4 } $1 ~ /^[0-9.]+$/ && $NF != "total" { s += $4 } END { exit !(t == s && t > 0) }' "$T"
check "count: sorted by time" \
	awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { if (seen && $2 > last) bad = 1; last = $2; seen = 1 } END { exit bad }' "$T"
check "count: shared file removed" test ! -e /dev/shm/zpcount.$root_pid

# --- count: the root itself executes a new image ---
ZP_COUNT_FILE=$OUT/rootexec.txt "$HOOKTEST" "$HOOKLIB/libzphook_count.so" rootexec >/dev/null 2>&1
check "count: root after its own execve prints getpid 105" \
	test "$(calls_of "$OUT/rootexec.txt" getpid)" = 105

# --- count: to stderr when ZP_COUNT_FILE is unset ---
"$HOOKTEST" "$HOOKLIB/libzphook_count.so" rootexec >/dev/null 2>"$OUT/count-stderr.txt"
check "count: table on stderr" test "$(calls_of "$OUT/count-stderr.txt" getpid)" = 105

# --- trace ---
ZP_TRACE_FILE=$OUT/trace.txt "$HOOKTEST" "$HOOKLIB/libzphook_trace.so" calls >/dev/null 2>"$OUT/trace.err"
L=$OUT/trace.txt
# Lines pad " = " to column 40, which depends on the tid's width: squeeze it.
sed 's/  *= / = /' "$L" >"$OUT/trace.squeezed"
has() { grep -qF -- "$1" "$OUT/trace.squeezed"; }
check "trace: every line is [tid] name(...)" sh -c "! grep -qv '^\[[0-9]*\] [a-z_0-9<]' '$L'"
check "trace: openat ENOENT" has 'openat(AT_FDCWD, "/nonexistent/zp", O_RDONLY) = -1 ENOENT (No such file or directory)'
check "trace: write data"    has 'write(1, "hello\n", 6) = 6'
check "trace: close EBADF"   has 'close(-1) = -1 EBADF (Bad file descriptor)'
check "trace: bad pointer shown, no crash" has 'openat(AT_FDCWD, 0x10, O_RDONLY) = -1 EFAULT (Bad address)'
check "trace: mmap flags"    has 'PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x'
check "trace: pipe2 fds"     grep -q 'pipe2(\[[0-9]*, [0-9]*\], O_CLOEXEC) *= 0' "$L"
check "trace: socket"        has 'socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0) = '
check "trace: wait status"   has '[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]'
check "trace: execve argv"   has '["hooktest", "'
check "trace: failed execve resumed" has '<... execve resumed>) = -1 ENOENT'
check "trace: exit_group before the call" has 'exit_group(0) = ?'
check "trace: exec child writes to the same file (121 getpid lines)" \
	test "$(grep -c '] getpid() ' "$L")" = 121
alarms=$(sed -n 's/^hooktest: \([0-9]*\) alarms.*/\1/p' "$OUT/trace.err")
check "trace: signal handlers' lines whole ($alarms)" \
	test "$(grep -c '] getppid() ' "$L")" = "$alarms"
check "trace: 4000 getuid lines from threads" test "$(grep -c '] getuid() ' "$L")" = 4000

# --- trace: stderr by default ---
"$HOOKTEST" "$HOOKLIB/libzphook_trace.so" rootexec >/dev/null 2>"$OUT/trace-stderr.txt"
check "trace: on stderr, across the root's execve" \
	test "$(grep -c '] getpid() ' "$OUT/trace-stderr.txt")" = 105

echo "hooklib: $passes passed, $failures failed"
exit $((failures != 0))
