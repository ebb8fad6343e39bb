#!/bin/bash
# elisa/vmm/test_vmm.sh - elisa-vmm on this machine's /dev/kvm: guests that
# exchange frames through vmnet ports over the exit-based ELISA fallback,
# every byte checked, hostile guests, negative controls, the bench.
# Builds nothing (make elisa/vmm/elisa-vmm does).
#
# Each test runs elisa-vmm under `timeout` and judges its exit status and
# its lines (elisa/vmm/README.md explains them).  The VMM itself checks the
# guests' reports against the switch's counters; the tests below also read
# the counters it prints and compare them with the numbers known by
# construction (K frames per pair, one broadcast per other pair).
#
# Closing line: "elisa-vmm: N passed, M failed"; exit status 0 only if
# none failed.  If /dev/kvm does not exist the suite is skipped (exit 0,
# one line saying so).
#
# Environment: FILTER (run only tests whose name contains it),
# VMM_TIMEOUT (seconds per run, default 120), VMM_FRAMES (K, default 2000),
# VMM_OUT (where each run's output is kept, default elisa/vmm/out).
set -u

here=$(cd "$(dirname "$0")" && pwd)
vmm="$here/elisa-vmm"
FILTER="${FILTER:-}"
TIMEOUT="${VMM_TIMEOUT:-120}"
K="${VMM_FRAMES:-2000}"
out="${VMM_OUT:-$here/out}"
# shellcheck source=../../tests/suite_lib.sh
. "$here/../../tests/suite_lib.sh"

closing() { echo "elisa-vmm: $passed passed, $failed failed"; }

if [ ! -e /dev/kvm ]; then
	echo "SKIP all: no /dev/kvm on this machine (elisa-vmm needs KVM)"
	closing
	exit 0
fi
if [ ! -x "$vmm" ] || [ ! -f "$here/guest/guest.bin" ]; then
	fail "build" "$vmm or its guest image missing" "run 'make elisa/vmm/elisa-vmm' first"
	closing
	exit 1
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	fail "kvm-access" "/dev/kvm is not readable and writable by $(id -un)" "run as root or in the kvm group"
	closing
	exit 1
fi
mkdir -p "$out"

# run NAME ARGS...   runs elisa-vmm, output in $out/NAME.log, status in $rc
run() {
	local name=$1
	shift
	log="$out/$name.log"
	timeout "$TIMEOUT" "$vmm" "$@" >"$log" 2>&1
	rc=$?
}

# line PATTERN: the first line of the last run matching an extended regex
line() { grep -E -m1 -- "$1" "$log"; }

# The numbers after "port P: tx T rx R" of guest G's line.
port_tx() { grep -E "^guest $1 \(" "$log" | sed -nE 's/.*port [0-9]+: tx ([0-9]+) .*/\1/p'; }
port_rx() { grep -E "^guest $1 \(" "$log" | sed -nE 's/.*port [0-9]+: tx [0-9]+ rx ([0-9]+) .*/\1/p'; }
port_field() { grep -E "^guest $1 \(" "$log" | sed -nE "s/.* $2 ([0-9]+).*/\\1/p"; }

# pingpong_ok NAME GUESTS FOREIGN: every guest "ok", K frames each, the
# switch's tx = K and rx = K + FOREIGN (other pairs' broadcast first frames).
pingpong_ok() {
	local name=$1 n=$2 foreign=$3 g bad=""
	[ "$rc" = 0 ] || bad="$bad exit status $rc;"
	for ((g = 0; g < n; g++)); do
		line "^guest $g \(.*\): ok: .*checked $K frames" >/dev/null || bad="$bad guest $g not ok;"
		[ "$(port_tx $g)" = "$K" ] || bad="$bad port $g tx '$(port_tx $g)' != $K;"
		[ "$(port_rx $g)" = "$((K + foreign))" ] || bad="$bad port $g rx '$(port_rx $g)' != $((K + foreign));"
	done
	line "^total: $n guests, $((n * K)) frames and [1-9][0-9]* bytes checked, 0 mismatches, 0 lost" >/dev/null ||
		bad="$bad totals line wrong;"
	if [ -z "$bad" ]; then pass "$name"; else fail "$name" "$bad" "all ok, counters exact" "$log"; fi
}

# --- usage and setup errors: one line, exit status 2 -------------------------
if want usage; then
	bad=""
	for args in "--guests 9" "--guests 2 --hostile 5:txidx" "--hostile 1:nosuch" "--ring 48" \
	            "--window 64 --ring 64" "--bench ping" "--frames" "--cpl 1" "--link /tmp/x" \
	            "--image /nonexistent/guest.bin" "--image /dev/null" "--app /nonexistent.so"; do
		# shellcheck disable=SC2086 # the arguments are word lists
		run usage $args
		n=$(wc -l <"$log")
		if [ "$rc" != 2 ] || [ "$n" != 1 ] || ! grep -q '^elisa-vmm: ' "$log"; then
			bad="$bad [$args: status $rc, $n lines: $(head -c 120 "$log")]"
		fi
	done
	if [ -z "$bad" ]; then pass "usage: bad arguments give one line and status 2"; else
		fail "usage" "$bad" "status 2 and one 'elisa-vmm: ...' line each"; fi
fi

# --- pingpong -----------------------------------------------------------------
if want pingpong-2; then
	run pingpong-2 --guests 2 --frames "$K"
	pingpong_ok "pingpong-2: 2 guests, $K frames each way, every byte checked" 2 0
fi
if want pingpong-4; then
	run pingpong-4 --guests 4 --frames "$K"
	pingpong_ok "pingpong-4: 4 guests (2 pairs), $K frames each way" 4 1
fi
if want pingpong-8; then
	K_SAVE=$K
	K=500
	run pingpong-8 --guests 8 --frames "$K" --seed 7
	pingpong_ok "pingpong-8: 8 guests (4 pairs), $K frames each way, another seed" 8 3
	K=$K_SAVE
fi
if want pingpong-port; then
	# The port doorbell needs port I/O at the guest's CPL: CPL 0, where PVM
	# emulates the guest's code, hence few frames.
	K_SAVE=$K
	K=10
	run pingpong-port --guests 2 --frames "$K" --cpl 0 --doorbell port
	pingpong_ok "pingpong-port: the port-I/O doorbell at CPL 0, $K frames" 2 0
	K=$K_SAVE
fi

# --- hostile guests that stay within their own memory: must complete -----------
# Guests 0 and 1 are a pair; guest 2 misbehaves.  The pair must be unaffected.
hostile_complete() {   # KIND FIELD VALUE DESCRIPTION
	local kind=$1 field=$2 value=$3 what=$4 bad=""
	run "hostile-$kind" --guests 3 --hostile "2:$kind" --frames 500
	[ "$rc" = 0 ] || bad="$bad exit status $rc;"
	line "^guest 0 \(sender to guest 1\): ok: " >/dev/null || bad="$bad guest 0 not ok;"
	line "^guest 1 \(echoer for guest 0\): ok: " >/dev/null || bad="$bad guest 1 not ok;"
	line "^guest 2 \(hostile $kind\): ok: " >/dev/null || bad="$bad guest 2 not ok;"
	[ "$(port_tx 2)" = 0 ] || bad="$bad port 2 sent frames;"
	if [ -n "$field" ]; then
		[ "$(port_field 2 "$field")" = "$value" ] || bad="$bad $field '$(port_field 2 "$field")' != $value;"
	fi
	if [ -z "$bad" ]; then pass "hostile-$kind: $what"; else fail "hostile-$kind" "$bad" "$what" "$log"; fi
}
want hostile-txidx && hostile_complete txidx err_tx_index 1 \
	"garbage TX index: the app answers VMNET_ECORRUPT, err_tx_index 1, the pair unaffected"
want hostile-slotlen && hostile_complete slotlen drop_tx_len 2 \
	"two TX slots of impossible length: both dropped (drop_tx_len 2), nothing delivered"
if want hostile-badfn; then
	hostile_complete badfn "" "" "unknown app functions: ELISA_APP_ENOFN (-38) each time"
	n=$(grep -c 'hostile: call of an unknown function returned 0xffffffffffffffda' "$log")
	[ "$n" = 3 ] || fail "hostile-badfn (answers)" "$n ENOFN answers" "3"
fi

# --- hostile guests that break the exit protocol: stopped alone -------------------
hostile_stopped() {   # KIND REGEX DESCRIPTION [ARGS...]
	local kind=$1 re=$2 what=$3 bad=""
	shift 3
	run "hostile-$kind" --guests 3 --hostile "2:$kind" --frames 500 "$@"
	[ "$rc" = 1 ] || bad="$bad exit status $rc (want 1: a VM was stopped);"
	line "^guest 0 \(sender to guest 1\): ok: " >/dev/null || bad="$bad guest 0 not ok;"
	line "^guest 1 \(echoer for guest 0\): ok: " >/dev/null || bad="$bad guest 1 not ok;"
	line "^guest 2 \(hostile $kind\): stopped as it should be: .*$re" >/dev/null || bad="$bad no stop line for guest 2;"
	line "0 mismatches, 0 lost" >/dev/null || bad="$bad the pair lost or garbled frames;"
	if [ -z "$bad" ]; then pass "hostile-$kind: $what"; else fail "hostile-$kind" "$bad" "$what" "$log"; fi
}
want hostile-badseq && hostile_stopped badseq "doorbell with mailbox sequence 0 .*expected sequence 1" \
	"a doorbell with a stale sequence stops that VM only"
want hostile-baddev && hostile_stopped baddev "GPA 0xd0000800.*serves nothing" \
	"a store to an unserved device register stops that VM only"
want hostile-mmio && hostile_stopped mmio "write of 4 bytes \(0xdeadbeef\) at GPA 0x80000000" \
	"a store to a GPA with no memory stops that VM only"
want hostile-fault && hostile_stopped fault "triple fault" \
	"an exception (no IDT: triple fault) stops that VM only"
want hostile-badport && hostile_stopped badport "IN/OUT instruction.*CPL 3|port 0x3f8" \
	"an OUT to an unserved port stops that VM only"
want hostile-spin && hostile_stopped spin "time limit ran out" \
	"a guest that never exits is stopped by the watchdog (--timeout 3)" --timeout 3

# --- negative controls: the checks must catch a broken guest ----------------------
if want negative-corrupt; then
	run negative-corrupt --guests 2 --frames 500 --corrupt 0:100
	if [ "$rc" = 1 ] && line "^guest 1: frame 100: byte [0-9]+ is " >/dev/null &&
		line "^guest 1 \(echoer for guest 0\): FAILED: 1 mismatching frames" >/dev/null; then
		pass "negative-corrupt: one flipped byte in frame 100 is found by the receiver"
	else
		fail "negative-corrupt" "status $rc" "status 1 and a mismatch at frame 100" "$log"
	fi
fi
if want negative-drop; then
	run negative-drop --guests 2 --frames 500 --drop 1:300 --yield-limit 2000
	if [ "$rc" = 1 ] && line "^guest 0 \(sender to guest 1\): FAILED: .*1 frames lost" >/dev/null; then
		pass "negative-drop: a reply never sent is counted as lost (bounded wait)"
	else
		fail "negative-drop" "status $rc" "status 1 and 1 frame lost" "$log"
	fi
fi
if want negative-image; then
	head -c 4096 /dev/zero | tr '\0' '\377' >"$out/bad-image.bin"   # 0xff...: an invalid opcode
	run negative-image --guests 2 --frames 10 --image "$out/bad-image.bin" --timeout 5
	if [ "$rc" = 1 ] && line "^guest 0 .*FAILED: .*VM stopped" >/dev/null &&
		line "^guest 1 .*FAILED: .*VM stopped" >/dev/null; then
		pass "negative-image: a guest image of garbage is stopped with an error, the VMM survives"
	else
		fail "negative-image" "status $rc" "status 1, both VMs stopped" "$log"
	fi
fi

# --- the bench ------------------------------------------------------------------
# bench_ns REGEX: the number before " ns per" on the matching line
bench_ns() { line "$1" | sed -nE 's/.*: ([0-9.]+) ns per .*/\1/p'; }
if want bench-mmio; then
	run bench-mmio --bench nop --calls 20000 --local-calls 1000000
	call=$(bench_ns "round trip"); bare=$(bench_ns "bare MMIO exit"); local=$(bench_ns "LOCAL-mode")
	if [ "$rc" = 0 ] && [ -n "$call" ] && [ -n "$bare" ] && [ -n "$local" ] &&
		awk -v c="$call" -v l="$local" 'BEGIN { exit !(c > 0 && l > 0 && l < c) }'; then
		pass "bench-mmio: 20000 nop echoes checked; round trip $call ns, bare MMIO exit $bare ns, LOCAL $local ns"
	else
		fail "bench-mmio" "status $rc, call '$call' bare '$bare' local '$local'" "status 0 and three numbers" "$log"
	fi
fi
if want bench-port; then
	run bench-port --bench nop --calls 5000 --local-calls 0 --cpl 0 --doorbell port
	call=$(bench_ns "round trip"); bare=$(bench_ns "bare port-I/O exit")
	if [ "$rc" = 0 ] && [ -n "$call" ] && [ -n "$bare" ]; then
		pass "bench-port: 5000 nop echoes at CPL 0 over the port doorbell; round trip $call ns, bare port-I/O exit $bare ns"
	else
		fail "bench-port" "status $rc, call '$call' bare '$bare'" "status 0 and two numbers" "$log"
	fi
fi

if [ "$failed" != 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
closing
[ "$failed" = 0 ]
