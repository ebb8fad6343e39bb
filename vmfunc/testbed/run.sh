#!/bin/bash
# vmfunc/testbed/run.sh - boot vmfunc/testbed/testbed.iso in Bochs (headless)
# and judge the serial log.  Builds nothing (make vmfunc-testbed does).
#
# Prints every "PASS name ..." / "FAIL name ..." line (and INFO lines) the
# testbed wrote, then one closing line
#   vmfunc-testbed: N passed, M failed
# Exit status: 0 only if Bochs was found, finished within the time limit,
# the log ends with an "END" line, at least one PASS and no FAIL line was seen.
#
# Environment: TESTBED_TIMEOUT (seconds, default 120), TESTBED_OUT (where the
# serial log and Bochs' log are kept, default vmfunc/testbed/out),
# BOCHS (the binary, default bochs), TESTBED_VERBOSE=1 (print the whole log).
set -u

here=$(cd "$(dirname "$0")" && pwd)
iso="$here/testbed.iso"
out="${TESTBED_OUT:-$here/out}"
limit="${TESTBED_TIMEOUT:-120}"
bochs_bin="${BOCHS:-bochs}"

finish() {   # finish PASSED FAILED REASON
    [ -n "$3" ] && echo "vmfunc-testbed: $3"
    echo "vmfunc-testbed: $1 passed, $2 failed"
}

if ! command -v "$bochs_bin" >/dev/null 2>&1; then
    echo "FAIL bochs-missing: '$bochs_bin' not found (apt-get install bochs bochsbios vgabios)"
    finish 0 1 ""
    exit 1
fi
if [ ! -f "$iso" ]; then
    echo "FAIL iso-missing: $iso (run 'make vmfunc-testbed' first)"
    finish 0 1 ""
    exit 1
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
serial="$out/serial.log"
blog="$out/bochs.log"
rm -f "$serial" "$blog" "$out/bochs.stdout"
# Debian's Bochs has its debugger built in and stops before the first
# instruction: "c" continues; "q" quits if the simulation ever returns to
# the debugger prompt.
printf 'c\nq\n' > "$out/debugger.rc"

# Bochs runs in its own process group (setsid) so a timeout can end it and
# everything it started by that group's id, and nothing else.
cd "$out"
TESTBED_ISO="$iso" TESTBED_SERIAL="$serial" TESTBED_LOG="$blog" \
    setsid "$bochs_bin" -q -f "$here/bochsrc" -rc "$out/debugger.rc" \
    </dev/null >"$out/bochs.stdout" 2>&1 &
pid=$!
timed_out=0
deadline=$((SECONDS + limit))
while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        timed_out=1
        kill -TERM -- "-$pid" 2>/dev/null
        sleep 1
        kill -KILL -- "-$pid" 2>/dev/null
        break
    fi
    sleep 0.2
done
wait "$pid" 2>/dev/null
# Bochs always exits with status 1 after the shutdown port: not a verdict.

log=""
[ -f "$serial" ] && log=$(tr -d '\r' < "$serial")
if [ "${TESTBED_VERBOSE:-0}" = 1 ]; then
    printf '%s\n' "$log"
else
    printf '%s\n' "$log" | grep -E '^(PASS|FAIL|INFO) '
fi
passed=$(printf '%s\n' "$log" | grep -c '^PASS ')
failed=$(printf '%s\n' "$log" | grep -c '^FAIL ')
reason=""
if [ "$timed_out" = 1 ]; then
    reason="timeout after ${limit}s (Bochs killed; logs in $out)"
    failed=$((failed + 1))
elif [ "$(printf '%s\n' "$log" | grep -v '^$' | tail -n 1)" != "END" ]; then
    reason="no final END line in $serial (see $blog, $out/bochs.stdout)"
    failed=$((failed + 1))
elif [ "$passed" = 0 ]; then
    reason="no PASS line at all"
    failed=$((failed + 1))
fi
finish "$passed" "$failed" "$reason"
[ "$failed" = 0 ]
