# suite_lib.sh - what the shell test suites share: reporting and reading
# count tables.  Source it after setting FILTER (a name substring, may be
# empty), TIMEOUT and TEST_XFAIL (optional); it starts the counters.
#
# TEST_XFAIL="name1 name2" marks known, documented failures: they print XFAIL
# (with the details) and do not count as failed; if one passes it prints XPASS.

passed=0
failed=0
xfailed=0
failed_names=()
XFAIL=" ${TEST_XFAIL:-} "

# --- reporting -------------------------------------------------------------

want() { [ -z "$FILTER" ] || [[ "$1" == *"$FILTER"* ]]; }

is_xfail() { [[ "$XFAIL" == *" ${1%% (*} "* ]]; }

pass() {
	passed=$((passed + 1))
	if is_xfail "$1"; then echo "XPASS $1 (listed in TEST_XFAIL)"; else echo "PASS $1"; fi
}

# fail NAME OBSERVED EXPECTED [FILE-WITH-DETAILS]
fail() {
	if is_xfail "$1"; then
		xfailed=$((xfailed + 1))
		echo "XFAIL $1 (known failure, listed in TEST_XFAIL)"
	else
		failed=$((failed + 1))
		failed_names+=("$1")
		echo "FAIL $1"
	fi
	echo "     observed: $2"
	echo "     expected: $3"
	if [ -n "${4:-}" ] && [ -s "$4" ]; then
		echo "     --- last lines of $(basename "$4"):"
		tail -n 8 "$4" | sed 's/^/     | /'
	fi
}

# Describe an exit status the way a person reads it.
describe_rc() {
	local rc=$1
	if [ "$rc" = 124 ]; then echo "timed out after ${TIMEOUT}s"
	elif [ "$rc" -gt 128 ]; then echo "killed by signal $((rc - 128)) (status $rc)"
	else echo "exit status $rc"
	fi
}

# calls_in TABLE SYSCALL         the `calls` column of SYSCALL's row in an
#                                strace -c style table (0 if no row)
calls_in() {
	if [ ! -s "$1" ]; then echo "no-table"; return; fi
	awk -v name="$2" '$NF == name && $1 ~ /^[0-9.]+$/ { sum += $4 } END { print sum + 0 }' "$1"
}

# finish         the closing lines; the exit status says whether all passed
finish() {
	if [ "$failed" != 0 ]; then
		echo "failed: ${failed_names[*]}"
	fi
	if [ "$xfailed" != 0 ]; then
		echo "known failures (TEST_XFAIL, not counted): $xfailed"
	fi
	echo "tests: $passed passed, $failed failed"
	[ "$failed" = 0 ]
}
