#!/usr/bin/env bash
# elisa/manager/test_vmfunc_host.sh - the manager's VMFUNC host kind, as far
# as it runs without VMX (elisa/manager/README.md, "Host kind vmfunc"):
#   - the unit test (contexts walked and translated by elisa/kvm's checks,
#     mailbox encoding, the agent on this /dev/kvm, the capability line);
#   - the agent image: freestanding (no undefined symbol), the VMCALL
#     sequence present, linked at the manager VM's agent address;
#   - `elisactl start --host vmfunc` on a KVM without ELISA: the one line,
#     exit status 1, nothing left behind (no socket, pid file or process);
#   - elisa-vmm against a `--host vmfunc --no-manager-vm` manager: the guest
#     negotiates VMFUNC, attaches, gets VMFUNC_INFO over the host link, and
#     stops at the guest role step with the capability line (exit status
#     2); the manager logs the QUERY and frees the port afterwards.
# Needs: make elisa/manager/elisactl elisa/apps/nop.so elisa/apps/vmnet.so
#        tests/unit/test_elisa_vmfunc_host elisa/vmm/elisa-vmm
# Usage: elisa/manager/test_vmfunc_host.sh [FILTER]
# Closing line: "elisa-vmfunc-host: N passed, M failed" (exit 1 on failure).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
FILTER=${1:-}
TIMEOUT=${ELISA_VMFUNC_HOST_TIMEOUT:-60}
source "$root/tests/suite_lib.sh"

CTL=$root/elisa/manager/elisactl
UNIT=$root/tests/unit/test_elisa_vmfunc_host
ELF=$root/elisa/manager/agent/agent.elf
BIN=$root/elisa/manager/agent/agent.bin
NOP=$root/elisa/apps/nop.so
VMNET=$root/elisa/apps/vmnet.so
VMM=$root/elisa/vmm/elisa-vmm
for f in "$CTL" "$UNIT" "$ELF" "$BIN" "$NOP" "$VMNET" "$VMM"; do
	if [ ! -e "$f" ]; then
		echo "missing $f: make elisa/manager/elisactl elisa/apps/nop.so elisa/apps/vmnet.so tests/unit/test_elisa_vmfunc_host elisa/vmm/elisa-vmm"
		echo "elisa-vmfunc-host: 0 passed, 1 failed"
		exit 1
	fi
done
work=$(mktemp -d /tmp/elisa-vmfunc-host.XXXXXX)
mgr_link=""
cleanup() {
	# Only the manager this suite started, through its own pid file.
	[ -n "$mgr_link" ] && timeout 10 "$CTL" stop --link "$mgr_link" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

# --- the unit test ---------------------------------------------------------------
if want unit; then
	timeout "$TIMEOUT" "$UNIT" >"$work/unit.out" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -q "PASSED  \] 11 test(s)" "$work/unit.out"; then
		pass "unit (11 cmocka tests, one of them the install sequencing against a recorder, not a hypercall)"
	else
		fail "unit (11 cmocka tests)" "$(describe_rc $rc)" "exit status 0, 11 passed" "$work/unit.out"
	fi
	# The agent really ran on this KVM (not skipped): say so, or why not.
	if grep -q "^agent: " "$work/unit.out"; then
		pass "unit-agent-ran-on-kvm ($(grep '^agent: ' "$work/unit.out"))"
	else
		fail "unit-agent-ran-on-kvm" "$(grep -m1 'skipped' "$work/unit.out")" "the agent's ECHO run on /dev/kvm" "$work/unit.out"
	fi
fi

# --- the agent image -----------------------------------------------------------------
if want agent; then
	undef=$(nm -u "$ELF")
	if [ -z "$undef" ]; then pass "agent-no-undefined-symbols"; else
		fail "agent-no-undefined-symbols" "$undef" "nothing"; fi
	hex=$(od -An -tx1 -v "$BIN" | tr -d '\n')
	if [[ "$hex" == *" 0f 01 c1"* ]]; then pass "agent-has-vmcall"; else
		fail "agent-has-vmcall" "no 0f 01 c1" "VMCALL in agent.bin"; fi
	# The ELISA-range check before it: cmp $0x454c00 (49 81 f9 00 4c 45 00).
	if [[ "$hex" == *" 49 81 f9 00 4c 45 00"* ]]; then pass "agent-checks-elisa-range"; else
		fail "agent-checks-elisa-range" "no cmp \$0x454c00,%r9" "the range check"; fi
	start=$(nm "$ELF" | awk '$3 == "agent_start" { print $1 }')
	if [ "$start" = "0000000000100000" ]; then pass "agent-linked-at-1MiB"; else
		fail "agent-linked-at-1MiB" "agent_start at $start" "0x100000 (ELISA_AGENT_CODE_GPA)"; fi
	if objdump -d "$ELF" | grep -q -E "\s(call|push|pop)"; then
		fail "agent-uses-no-stack" "$(objdump -d "$ELF" | grep -m1 -E '\s(call|push|pop)')" "no stack use"
	else pass "agent-uses-no-stack"; fi
fi

# --- elisactl start --host vmfunc --------------------------------------------------------
if want ctl; then
	line="elisactl: this host's KVM has no ELISA capability (KVM_CHECK_EXTENSION 0x454c = 0): install the elisa-kvm modules on an Intel host with VMFUNC (elisa/kvm/README.md), or use --host exit"
	timeout "$TIMEOUT" "$CTL" start --link "$work/m/x.sock" --listen 127.0.0.1:0 --host vmfunc \
		--app nop="$NOP" >"$work/ctl.out" 2>"$work/ctl.err"
	rc=$?
	if [ "$rc" = 1 ]; then pass "ctl-vmfunc-rc-1"; else
		fail "ctl-vmfunc-rc-1" "$(describe_rc $rc)" "exit status 1" "$work/ctl.err"; fi
	if [ "$(wc -l <"$work/ctl.err")" = 1 ] && [ "$(cat "$work/ctl.err")" = "$line" ] && [ ! -s "$work/ctl.out" ]; then
		pass "ctl-vmfunc-one-line"
	else
		fail "ctl-vmfunc-one-line" "$(head -c 300 "$work/ctl.err")" "$line"
	fi
	if [ ! -e "$work/m/x.sock" ] && [ ! -e "$work/m/x.sock.pid" ]; then pass "ctl-vmfunc-leaves-nothing"; else
		fail "ctl-vmfunc-leaves-nothing" "$(ls "$work/m")" "no socket, no pid file"; fi
fi

# --- elisa-vmm in VMFUNC mode: as far as this KVM lets it go ------------------------------
if want vmm; then
	mgr_link=$work/v/elisa.sock
	timeout "$TIMEOUT" "$CTL" start --link "$mgr_link" --listen 127.0.0.1:0 --host vmfunc --no-manager-vm \
		--elisa-id 200 --app vmnet="$VMNET" >"$work/vstart.out" 2>&1
	rc=$?
	port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$work/vstart.out")
	if [ "$rc" = 0 ] && [ -n "$port" ]; then pass "vmm-manager-no-vm-starts"; else
		fail "vmm-manager-no-vm-starts" "$(describe_rc $rc)" "a ready line" "$work/vstart.out"; fi
	addr=127.0.0.1:${port:-0}
	timeout "$TIMEOUT" "$CTL" enable g1 --manager "$addr" >/dev/null 2>&1
	timeout "$TIMEOUT" "$CTL" enable g2 --manager "$addr" >/dev/null 2>&1
	timeout "$TIMEOUT" "$VMM" --manager "$addr" --link "$mgr_link" --guest-name g1,g2 --ring 256 --timeout 20 \
		>"$work/vmm.out" 2>"$work/vmm.err"
	rc=$?
	role_line="elisa-vmm: guest g1: this host's KVM has no ELISA capability (KVM_CHECK_EXTENSION 0x454c = 0): install the elisa-kvm modules on an Intel host with VMFUNC (elisa/kvm/README.md), or start the manager with --host exit"
	if [ "$rc" = 2 ]; then pass "vmm-vmfunc-rc-2"; else
		fail "vmm-vmfunc-rc-2" "$(describe_rc $rc)" "exit status 2 (setup failed)" "$work/vmm.err"; fi
	if [ "$(wc -l <"$work/vmm.err")" = 1 ] && [ "$(cat "$work/vmm.err")" = "$role_line" ]; then
		pass "vmm-vmfunc-stops-at-role-step (one line)"
	else
		fail "vmm-vmfunc-stops-at-role-step" "$(head -c 300 "$work/vmm.err")" "$role_line"
	fi
	# It got that far through the host link: the manager answered its
	# VMFUNC_QUERY with the ids the role would have used.
	sleep 0.3
	log=$mgr_link.log
	if grep -q "VMFUNC_QUERY guest id 1 vCPU 0: KVM ids manager 200, guest 201" "$log"; then
		pass "vmm-vmfunc-query-answered (ids 200/201)"
	else
		fail "vmm-vmfunc-query-answered" "$(grep -m1 VMFUNC "$log")" "VMFUNC_QUERY ... manager 200, guest 201" "$log"
	fi
	if grep -q "vmnet port 0 freed and scrubbed" "$log"; then pass "vmm-vmfunc-port-released"; else
		fail "vmm-vmfunc-port-released" "no free line" "port 0 freed when elisa-vmm exits" "$log"; fi
	timeout "$TIMEOUT" "$CTL" stop --link "$mgr_link" >"$work/vstop.out" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then pass "vmm-manager-stops"; mgr_link=""; else
		fail "vmm-manager-stops" "$(describe_rc $rc)" "stopped" "$work/vstop.out"; fi
fi

echo "elisa-vmfunc-host: $passed passed, $failed failed"
[ "$failed" = 0 ]
