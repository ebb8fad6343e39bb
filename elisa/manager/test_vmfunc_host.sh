#!/usr/bin/env bash
# elisa/manager/test_vmfunc_host.sh - the manager's VMFUNC host kind, as far
# as it runs without VMX (elisa/manager/VMFUNC_HOST.md):
#   - the unit test (contexts walked and translated by elisa/kvm's checks,
#     mailbox encoding, the agent on this /dev/kvm, the capability line);
#   - the agent image: freestanding (no undefined symbol), the VMCALL
#     sequence present, linked at the manager VM's agent address;
#   - `elisactl start --host vmfunc` on a KVM without ELISA: the one line,
#     exit status 1, nothing left behind (no socket, pid file or process).
# Needs: make elisa/manager/elisactl elisa/apps/nop.so tests/unit/test_elisa_vmfunc_host
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
for f in "$CTL" "$UNIT" "$ELF" "$BIN" "$NOP"; do
	if [ ! -e "$f" ]; then
		echo "missing $f: make elisa/manager/elisactl elisa/apps/nop.so tests/unit/test_elisa_vmfunc_host"
		echo "elisa-vmfunc-host: 0 passed, 1 failed"
		exit 1
	fi
done
work=$(mktemp -d /tmp/elisa-vmfunc-host.XXXXXX)
trap 'rm -rf "$work"' EXIT

# --- the unit test ---------------------------------------------------------------
if want unit; then
	timeout "$TIMEOUT" "$UNIT" >"$work/unit.out" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -q "PASSED  \] 10 test(s)" "$work/unit.out"; then
		pass "unit (10 cmocka tests)"
	else
		fail "unit (10 cmocka tests)" "$(describe_rc $rc)" "exit status 0, 10 passed" "$work/unit.out"
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

echo "elisa-vmfunc-host: $passed passed, $failed failed"
[ "$failed" = 0 ]
