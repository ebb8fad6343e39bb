#!/bin/bash
# elisa/manager/test_manager.sh - the ELISA manager end to end on
# 127.0.0.1: elisactl start/stop, guests negotiating through the guest
# library (elisa/guest/negotiate.c), hosts attaching through the host link
# (elisa/vmm/vmm_manager.c), and hostile peers.  Builds nothing: needs
# elisa/manager/elisactl, elisa/manager/mgr_probe, elisa/apps/nop.so and
# vmnet.so (make elisa/manager/elisactl elisa/manager/mgr_probe
# elisa/apps/nop.so elisa/apps/vmnet.so).
#
#   elisa/manager/test_manager.sh [FILTER]   run the checks whose name has FILTER
#
# Environment: ELISA_CTL, ELISA_PROBE (other builds of the two tools, e.g.
# with sanitizers), ELISA_MANAGER_TIMEOUT (seconds per command, default
# 20), ELISA_MANAGER_KEEP=1 (keep the work directory with the managers'
# logs).
#
# The managers listen on 127.0.0.1 port 0 (the kernel picks a free port,
# elisactl prints it) with their link socket in a fresh directory under
# /tmp.  Every wait is bounded; the only processes ended are the probes
# this script started (by their PIDs) and the managers it started (by
# `elisactl stop`, which signals the pid that holds the manager's pid-file
# lock).  Closing line: "elisa-manager: N passed, M failed".
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CTL=${ELISA_CTL:-$root/elisa/manager/elisactl}
PROBE=${ELISA_PROBE:-$root/elisa/manager/mgr_probe}
NOP=$root/elisa/apps/nop.so
VMNET=$root/elisa/apps/vmnet.so
FILTER=${1:-}
TIMEOUT=${ELISA_MANAGER_TIMEOUT:-20}
# The vmnet port area of slots=256, slot-size=2048: a header page and two
# rings of 256 x 2048 bytes.
AREA=$((4096 + 2 * 256 * 2048))

source "$root/tests/suite_lib.sh"

for f in "$CTL" "$PROBE" "$NOP" "$VMNET"; do
    if [ ! -x "$f" ] && [ ! -f "$f" ]; then
        echo "FAIL setup: $f is missing (make elisa/manager/elisactl elisa/manager/mgr_probe elisa/apps/nop.so elisa/apps/vmnet.so)"
        echo "elisa-manager: 0 passed, 1 failed"
        exit 1
    fi
done

work=$(mktemp -d /tmp/elisa-manager-test.XXXXXX)
bg_pids=()
links=()

cleanup() {
    for p in "${bg_pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${bg_pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    for l in "${links[@]}"; do
        [ -e "$l.pid" ] && timeout 10 "$CTL" stop --link "$l" >/dev/null 2>&1
    done
    if [ -n "${ELISA_MANAGER_KEEP:-}" ]; then
        echo "kept $work (ELISA_MANAGER_KEEP)"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# check NAME COMMAND...: PASS if the command succeeds.  The commands below
# are small greps over what the probes and elisactl printed.
check() {
    local name=$1
    shift
    want "$name" || return 0
    if "$@" >"$work/check.out" 2>&1; then
        pass "$name"
    else
        fail "$name" "$(tail -n 3 "$work/check.out" | tr '\n' ' ')" "see the test" "$last_out"
    fi
}
last_out=/dev/null

# has FILE REGEX: FILE has a line matching REGEX (extended).
has() {
    if grep -Eq -- "$2" "$1"; then return 0; fi
    echo "no line matching /$2/ in $1:"
    sed 's/^/  | /' "$1" | tail -n 8
    return 1
}
hasnt() {
    if ! grep -Eq -- "$2" "$1"; then return 0; fi
    echo "unexpected line /$2/ in $1:"
    grep -E -- "$2" "$1" | sed 's/^/  | /'
    return 1
}

# wait_for FILE REGEX [SECONDS]: until FILE has such a line (bounded).
wait_for() {
    local deadline=$((SECONDS + ${3:-10}))
    while [ "$SECONDS" -lt "$deadline" ]; do
        grep -Eq -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# run OUTFILE CMD...: run bounded, stdout+stderr to OUTFILE, status in $rc.
run() {
    local out=$1
    shift
    timeout "$TIMEOUT" "$@" >"$out" 2>&1
    rc=$?
    last_out=$out
    echo "rc=$rc" >>"$out"
}

# bg OUTFILE CMD...: start a probe in the background, remember its PID.
bg() {
    local out=$1
    shift
    timeout "$TIMEOUT" "$@" >"$out" 2>&1 &
    bg_pids+=("$!")
    last_pid=$!
}

# start_manager LINK EXTRA...: start a daemon on a free port; sets ADDR.
start_manager() {
    local link=$1
    shift
    links+=("$link")
    run "$work/start.out" "$CTL" start --listen 127.0.0.1:0 --link "$link" --msg-timeout-ms 1500 "$@"
    local port
    port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$work/start.out")
    ADDR=127.0.0.1:${port:-0}
    export ELISA_MANAGER=$ADDR
}

# list_has REGEX: elisactl list has a line matching REGEX (spaces squeezed).
list_has() {
    timeout "$TIMEOUT" "$CTL" list --manager "$ADDR" 2>&1 | tr -s ' ' >"$work/list.out"
    has "$work/list.out" "$1"
}
list_hasnt() {
    timeout "$TIMEOUT" "$CTL" list --manager "$ADDR" 2>&1 | tr -s ' ' >"$work/list.out"
    hasnt "$work/list.out" "$1"
}

# guest_id NAME: the id the manager gave a guest, from a LIST line.
guest_id() {
    timeout "$TIMEOUT" "$CTL" list --manager "$ADDR" 2>/dev/null | awk -v g="$1" '$2 == g { print $1; exit }'
}

L1=$work/a/elisa.sock
# The first manager rings by port (the second one keeps the default, the
# MMIO doorbell).
start_manager "$L1" --app nop="$NOP" --app vmnet="$VMNET",ports=2 --doorbell 0x5e1a
A=$ADDR

# --- start, stop, double start --------------------------------------------------------------
check start-ready-line has "$work/start.out" "^elisactl: manager elisa-manager \(pid [0-9]+\) on 127\.0\.0\.1:[1-9][0-9]*, host link $L1"
check start-rc has "$work/start.out" "^rc=0$"
mgr_pid=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' "$work/start.out")
check pid-file-is-the-manager test "$(cat "$L1.pid" 2>/dev/null)" = "$mgr_pid"
check manager-runs kill -0 "$mgr_pid"
check link-socket-0600 test "$(stat -c %a "$L1" 2>/dev/null)" = 600
check link-dir-0700 test "$(stat -c %a "$(dirname "$L1")" 2>/dev/null)" = 700
run "$work/start2.out" "$CTL" start --listen 127.0.0.1:0 --link "$L1" --app nop="$NOP"
check double-start-refused has "$work/start2.out" "^elisactl: a manager is already running on $L1 \(pid $mgr_pid\); stop it with 'elisactl stop --link $L1'$"
check double-start-rc has "$work/start2.out" "^rc=1$"
check first-still-serves list_has "^GUEST-ID"
run "$work/list0.out" "$CTL" list
check list-empty has "$work/list0.out" "^\(no contexts\)$"

# --- negotiation ------------------------------------------------------------------------------
run "$work/deny.out" "$PROBE" negotiate "$A" g1 0 0:vmnet:0
check negotiate-before-enable-denied has "$work/deny.out" "^NEG_ERR vcpu=0 code=6 .*guest g1 is not enabled; run 'elisactl enable g1'$"
run "$work/en.out" "$CTL" enable g1
check enable has "$work/en.out" "^elisactl: enabled g1 \(all vCPUs\)$"

bg "$work/g1.out" "$PROBE" negotiate "$A" g1 15000 0:vmnet:0 1:nop:0
g1_pid=$last_pid
wait_for "$work/g1.out" "^OK vcpu=1 "
last_out=$work/g1.out
check negotiate-ok-vmnet-fields has "$work/g1.out" "^OK vcpu=0 mode=2 doorbell=0x5e1a gate_gpa=0xc0000000 gate_gva=0xc0000000 idx=0,0,0 entry=[0-9]+ shared_gpa=0xc0200000 shared_size=$AREA$"
check negotiate-ok-nop-fields has "$work/g1.out" "^OK vcpu=1 mode=2 doorbell=0x5e1a gate_gpa=0xc0004000 gate_gva=0xc0004000 idx=0,0,0 entry=[0-9]+ shared_gpa=0x0 shared_size=0$"
check negotiate-version-2 has "$work/g1.out" "^HELLO guest_id=[1-9][0-9]* version=2 manager=elisa-manager$"
check list-shows-vmnet list_has "^[0-9]+ g1 0 NEGOTIATED vmnet 0xc0000000 0xc0200000 $AREA$"
check list-shows-nop list_has "^[0-9]+ g1 1 NEGOTIATED nop 0xc0004000 - 0$"
G1=$(guest_id g1)

run "$work/busy.out" "$PROBE" negotiate "$A" g1 0 0:nop:0
check busy-vcpu has "$work/busy.out" "^NEG_ERR vcpu=0 code=4 .*vCPU 0 of guest g1 already has a negotiated vmnet context$"
run "$work/noapp.out" "$PROBE" negotiate "$A" g1 0 5:bogus:0
check unknown-app has "$work/noapp.out" "^NEG_ERR vcpu=5 code=1 .*no app \"bogus\" on this manager$"
run "$work/small.out" "$PROBE" negotiate "$A" g1 0 6:vmnet:4096
check shared-size-does-not-fit has "$work/small.out" "^NEG_ERR vcpu=6 code=2 .*app vmnet needs $AREA bytes of shared memory, more than the 4096 asked for$"
run "$work/bigvcpu.out" "$PROBE" negotiate "$A" g1 0 64:nop:0
check vcpu-over-limit has "$work/bigvcpu.out" "^NEG_ERR vcpu=64 code=3 "
run "$work/v1.out" "$PROBE" v1-negotiate "$A" g1 7 nop
check v1-guest-gets-version-1 has "$work/v1.out" "^v1 hello: HELLO_OK version 1 "
check v1-guest-told-no-vmfunc has "$work/v1.out" "^v1 negotiate: NEGOTIATE_ERR 5 this host has no VMFUNC; its exit-based fallback needs protocol version 2"
check v1-reply-at-version-1 has "$work/v1.out" "^v1 negotiate: reply version 1$"

# Ports: vmnet has 2; g1 holds port 0, g2 takes port 1, g3 finds none.
"$CTL" enable g2 >/dev/null 2>&1
"$CTL" enable g3 >/dev/null 2>&1
bg "$work/g2.out" "$PROBE" negotiate "$A" g2 15000 0:vmnet:0
g2_pid=$last_pid
wait_for "$work/g2.out" "^(OK|NEG_ERR|FAIL)"
run "$work/g3a.out" "$PROBE" negotiate "$A" g3 0 0:vmnet:0
check ports-exhausted has "$work/g3a.out" "^NEG_ERR vcpu=0 code=2 .*all 2 ports of vmnet are in use$"
kill "$g2_pid" 2>/dev/null
wait "$g2_pid" 2>/dev/null
wait_for "$L1.log" "vmnet port 1 freed and scrubbed" 5
check disconnect-releases-context list_hasnt " g2 "
run "$work/g3b.out" "$PROBE" negotiate "$A" g3 0 0:vmnet:0
check disconnect-frees-the-port has "$work/g3b.out" "^OK vcpu=0 .*shared_size=$AREA$"

# --- the host link ------------------------------------------------------------------------------
"$CTL" enable g4 >/dev/null 2>&1
bg "$work/g4.out" "$PROBE" attach "$A" "$L1" g4 0 vmnet 0 "$VMNET" 15000
g4_pid=$last_pid
wait_for "$work/g4.out" "^(rx-pending|ATTACH-FAIL|SETUP-FAIL)"
last_out=$work/g4.out
check attach-vmnet has "$work/g4.out" "^ATTACH OK guest_id=[0-9]+ vcpu=0 mode=2 doorbell=0x5e1a gate_gpa=0xc0000000 shared_gpa=0xc0200000 shared_size=$AREA region_size=[0-9]+ guest_off=0x[0-9a-f]+ env_arg=1 app=vmnet app_size=[0-9]+ entry=[0-9]+$"
check attach-image-is-the-app has "$work/g4.out" "^image: equals $VMNET "
check attach-image-sealed has "$work/g4.out" "^image write: refused$"
check attach-region-validates has "$work/g4.out" "^region: vmnet_check ok, port 1 at 0x[0-9a-f]+ matches, guest_open ok$"
check list-enabled-after-attach list_has "^[0-9]+ g4 0 ENABLED vmnet "
G4=$(guest_id g4)
run "$work/busyattach.out" "$PROBE" raw-attach "$L1" "$G4" 0
check attach-twice-busy has "$work/busyattach.out" "^raw-attach: ERROR 15 vCPU 0 of guest g4 is already attached by a host$"
run "$work/nonneg.out" "$PROBE" raw-attach "$L1" "$G1" 7
check attach-not-negotiated has "$work/nonneg.out" "^raw-attach: ERROR 14 vCPU 7 of guest g1 is not negotiated"
run "$work/noguest.out" "$PROBE" raw-attach "$L1" 99999 0
check attach-unknown-guest has "$work/noguest.out" "^raw-attach: ERROR 14 no guest with id 99999"
run "$work/nopattach.out" "$PROBE" attach "$A" "$L1" g4 1 nop 0 "$NOP" 0
check attach-nop-runs-manager-image has "$work/nopattach.out" "^nop echo: 0xfeedbeef$"
check attach-nop-image has "$work/nopattach.out" "^image: equals $NOP "
"$CTL" disable g4 >/dev/null 2>&1
wait_for "$work/g4.out" "^DETACHED" 5
check disable-detaches-the-host has "$work/g4.out" "^DETACHED manager detached guest id $G4 vCPU 0: the operator disabled this vCPU$"

# DISABLE of a negotiated (held) vCPU: listed DISABLED, attach refused,
# enable brings it back.
"$CTL" disable g1 --vcpu 0 >"$work/dis.out" 2>&1
check disable-vcpu has "$work/dis.out" "^elisactl: disabled g1 vCPU 0$"
check list-shows-disabled list_has "^$G1 g1 0 DISABLED vmnet "
check other-vcpu-untouched list_has "^$G1 g1 1 NEGOTIATED nop "
run "$work/disattach.out" "$PROBE" raw-attach "$L1" "$G1" 0
check attach-of-disabled-refused has "$work/disattach.out" "^raw-attach: ERROR 13 vCPU 0 of guest g1 is disabled"
run "$work/disneg.out" "$PROBE" negotiate "$A" g1 0 9:nop:0
check other-vcpus-still-negotiate has "$work/disneg.out" "^OK vcpu=9 "
"$CTL" enable g1 --vcpu 0 >/dev/null 2>&1
check enable-restores-negotiated list_has "^$G1 g1 0 NEGOTIATED vmnet "
run "$work/reattach.out" "$PROBE" raw-attach "$L1" "$G1" 0
check attach-after-reenable has "$work/reattach.out" "^raw-attach: ATTACH_OK with 2 fds$"

# --- hostile peers: each gets an ERROR or a close, and the manager goes on ------------------------
run "$work/garbage.out" "$PROBE" garbage "$A"
check garbage-error-and-close has "$work/garbage.out" "^garbage: ERROR 1 bad magic"
check garbage-closed has "$work/garbage.out" "^garbage: then closed$"
run "$work/oversize.out" "$PROBE" oversize "$A"
check oversize-length-refused-at-header has "$work/oversize.out" "^oversize: ERROR 5 length over the limit: HELLO length 4294967295 \(limit 70\)"
check oversize-closed has "$work/oversize.out" "^oversize: then closed$"
run "$work/ver.out" "$PROBE" hello "$A" guest future 3 4
check no-common-version has "$work/ver.out" "^hello: ERROR 2 no common version: the peer speaks 3..4, this manager 1..2$"
run "$work/greq.out" "$PROBE" guest-requests "$A" g1
check guest-may-not-list has "$work/greq.out" "^LIST: ERROR 13 "
check guest-may-not-enable has "$work/greq.out" "^ENABLE self: ERROR 13 only the operator enables guests"
check guest-may-not-disable-others has "$work/greq.out" "^DISABLE other: ERROR 13 a guest may disable only itself$"
check manager-only-message-refused has "$work/greq.out" "^NEGOTIATE_OK: ERROR 12 NEGOTIATE_OK is a message only the manager sends$"
run "$work/slow.out" "$PROBE" slowloris "$A" 6000
check slowloris-before-hello-dropped has "$work/slow.out" "^slowloris: (closed|reset) after (1[5-9]|[2-5][0-9])[0-9]{2} ms"
run "$work/slow2.out" "$PROBE" slowloris "$A" 6000 hello
check slowloris-message-dropped has "$work/slow2.out" "^slowloris: ERROR 12 no complete message within 1500 ms; closing$"
run "$work/pipe.out" "$PROBE" pipeline "$A" 20000
check pipelined-requests-all-answered has "$work/pipe.out" "^pipeline: 20000 of 20000 LIST_OK, in order "
run "$work/noread.out" "$PROBE" noreader "$A" 100000 3000
check peer-not-reading-dropped has "$work/noread.out" "^noreader: sent [0-9]+ of 100000, then [0-9]{1,5} replies and (closed|reset)$"
check peer-not-reading-logged has "$L1.log" "closed \(it did not read its replies in time\)$"
run "$work/flood.out" "$PROBE" flood "$A" 200 300
check flood-200-connections-answered has "$work/flood.out" "^flood: 200 connections: ok=[0-9]+ busy=[0-9]+ closed=0 other=0 unanswered=0 refused=0$"
check flood-over-limit-get-busy has "$work/flood.out" "busy=([1-9][0-9]*) "
run "$work/linkbad.out" "$PROBE" link-garbage "$L1"
check link-short-packet has "$work/linkbad.out" "^short packet: ERROR 10 link message: 3 bytes, shorter than the 12-byte header$"
check link-bad-magic has "$work/linkbad.out" "^bad magic: ERROR 10 link message: bad magic"
check link-bad-version has "$work/linkbad.out" "^bad version: ERROR 10 link message: version 2, this side speaks 1$"
check link-bad-length has "$work/linkbad.out" "^wrong length: ERROR 10 link message: ATTACH length 9"
check link-bad-field has "$work/linkbad.out" "^guest id 0: ERROR 10 link message: ATTACH guest_id is 0$"
check link-wrong-direction has "$work/linkbad.out" "^DETACH to the manager: ERROR 12 only ATTACH, VMFUNC_QUERY and VMFUNC_INSTALL go to the manager$"
check still-serving-after-abuse list_has "^$G1 g1 1 NEGOTIATED nop "
check manager-alive-after-abuse kill -0 "$mgr_pid"

# --- elisactl's own errors ------------------------------------------------------------------------
run "$work/e1.out" "$CTL" enable "bad name"
check ctl-bad-guest-name has "$work/e1.out" "^elisactl: guest \"bad name\": names use 1..63 of A-Z a-z 0-9 \. _ - \(see 'elisactl help'\)$"
check ctl-bad-guest-name-rc has "$work/e1.out" "^rc=2$"
run "$work/e2.out" "$CTL" frob
check ctl-unknown-command has "$work/e2.out" "^elisactl: unknown command \"frob\" \(see 'elisactl help'\)$"
run "$work/e3.out" "$CTL" disable nobody
check ctl-disable-unknown-guest has "$work/e3.out" "^elisactl: disable nobody: no guest \"nobody\" on this manager$"
run "$work/e4.out" "$CTL" start --link "$work/x.sock"
check ctl-start-needs-an-app has "$work/e4.out" "^elisactl: start: no app; give at least one, e.g. --app nop=elisa/apps/nop.so$"
run "$work/e5.out" "$CTL" start --link "$work/x.sock" --host vmfunc --app nop="$NOP"
check ctl-vmfunc-host-says-why has "$work/e5.out" "^elisactl: this host's KVM has no ELISA capability \(KVM_CHECK_EXTENSION 0x454c = 0\): install the elisa-kvm modules on an Intel host with VMFUNC \(elisa/kvm/README.md\), or use --host exit$"
check ctl-vmfunc-host-rc has "$work/e5.out" "^rc=1$"
run "$work/e6.out" "$CTL" start --link "$work/x.sock" --app vmnet="$NOP"
check ctl-app-name-must-match-file has "$work/e6.out" "the file is app \"nop\"; the name must match the file"
run "$work/e7.out" "$CTL" start --listen "$A" --link "$work/y/elisa.sock" --app nop="$NOP"
check ctl-port-in-use has "$work/e7.out" "^elisactl: cannot listen on $A: Address already in use; is another manager running\? pick a port with --listen$"
run "$work/e8.out" "$CTL" stop --link "$work/none.sock"
check ctl-stop-nothing-running has "$work/e8.out" "^elisactl: no manager running on $work/none.sock"
run "$work/e9.out" "$CTL" start --link "$work/z.sock" --app nop=/nonexistent/nop.so
check ctl-missing-app-file has "$work/e9.out" "^elisactl: --app nop=/nonexistent/nop.so: "
check ctl-missing-app-file-rc has "$work/e9.out" "^rc=1$"

# --- stop -----------------------------------------------------------------------------------------
"$CTL" enable g5 >/dev/null 2>&1
bg "$work/g5.out" "$PROBE" attach "$A" "$L1" g5 0 nop 0 "$NOP" 15000
wait_for "$work/g5.out" "^(nop echo|ATTACH-FAIL|SETUP-FAIL)"
run "$work/stop.out" "$CTL" stop --link "$L1"
check stop has "$work/stop.out" "^elisactl: manager \(pid $mgr_pid\) on $L1 stopped$"
# Ended: no such process, or a zombie that its new parent (PID 1, since the
# daemon's parent exited at start) has not reaped yet.
gone() {
    ! kill -0 "$1" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
check stop-ends-the-process gone "$mgr_pid"
check stop-removes-socket-and-pid-file bash -c "[ ! -e '$L1' ] && [ ! -e '$L1.pid' ]"
wait_for "$work/g5.out" "^DETACHED" 5
check stop-detaches-hosts has "$work/g5.out" "^DETACHED manager detached guest id [0-9]+ vCPU 0: the manager is stopping$"
run "$work/gone.out" "$CTL" list --manager "$A"
check ctl-no-manager has "$work/gone.out" "^elisactl: no manager at $A: start it with 'elisactl start \.\.\.'$"
check ctl-no-manager-rc has "$work/gone.out" "^rc=1$"
kill "$g1_pid" 2>/dev/null

# --- a port freed by one guest comes clean to the next --------------------------------------------
# This time in the foreground: it prints its line, then logs to stderr.
L2=$work/b/elisa.sock
links+=("$L2")
mkdir -p "$work/b"
bg "$work/fg.out" "$CTL" start --foreground --listen 127.0.0.1:0 --link "$L2" --msg-timeout-ms 1500 \
    --app vmnet="$VMNET",ports=2
wait_for "$work/fg.out" "^elisactl: manager " 10
ADDR=127.0.0.1:$(sed -n 's/^elisactl: .* on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$work/fg.out")
export ELISA_MANAGER=$ADDR
last_out=$work/fg.out
check foreground-start has "$work/fg.out" "^elisactl: manager elisa-manager \(pid [0-9]+\) on 127\.0\.0\.1:[1-9][0-9]*, host link $L2, log stderr$"
for g in s1 s2 s3; do "$CTL" enable $g >/dev/null 2>&1; done
bg "$work/s1.out" "$PROBE" attach "$ADDR" "$L2" s1 0 vmnet 0 "$VMNET" 15000
s1_pid=$last_pid
wait_for "$work/s1.out" "^(rx-pending|ATTACH-FAIL|SETUP-FAIL)"
bg "$work/s2.out" "$PROBE" attach "$ADDR" "$L2" s2 0 vmnet 0 "$VMNET" 15000 3
s2_pid=$last_pid
wait_for "$work/s2.out" "^vmnet TX"
wait_for "$work/s1.out" "^rx-pending=3$" 5
last_out=$work/s1.out
check frames-reach-the-other-port has "$work/s1.out" "^rx-pending=3$"
check default-doorbell-is-mmio has "$work/s1.out" "^ATTACH OK .* mode=2 doorbell=0x0 "
s1_port=$(sed -n 's/.* env_arg=\([0-9]*\) .*/\1/p' "$work/s1.out")
kill "$s1_pid" 2>/dev/null
wait "$s1_pid" 2>/dev/null
for _ in $(seq 100); do list_hasnt " s1 " >/dev/null 2>&1 && break; sleep 0.05; done
run "$work/s3.out" "$PROBE" attach "$ADDR" "$L2" s3 0 vmnet 0 "$VMNET" 0
check next-owner-gets-the-same-port has "$work/s3.out" " env_arg=$s1_port "
check next-owner-finds-no-old-frames has "$work/s3.out" "^rx-pending=0$"
check scrubbed-region-still-valid has "$work/s3.out" "^region: vmnet_check ok, port $s1_port at 0x[0-9a-f]+ matches, guest_open ok$"
# --- the real exit-based VMM through this manager (when it is built and
# /dev/kvm can be opened): two guests negotiate and attach through the
# manager and switch frames through its vmnet region. --------------------------
VMM=$root/elisa/vmm/elisa-vmm
kill "$s2_pid" 2>/dev/null   # both vmnet ports free again
wait "$s2_pid" 2>/dev/null
for _ in $(seq 100); do list_hasnt " s2 " >/dev/null 2>&1 && break; sleep 0.05; done
if want vmm-through-manager; then
    if [ -x "$VMM" ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
        run "$work/vmm0.out" "$VMM" --manager "$ADDR" --link "$L2" --guest-name vm-a,vm-b --frames 50 \
            --ring 64 --timeout 30
        check vmm-refused-before-enable has "$work/vmm0.out" "guest vm-a: manager at $ADDR refused vCPU 0 of vm-a: guest vm-a is not enabled; run 'elisactl enable vm-a'"
        "$CTL" enable vm-a >/dev/null 2>&1
        "$CTL" enable vm-b >/dev/null 2>&1
        # No --ring and no --shared-size: the VMM takes the geometry the
        # manager chose (docs/ELISA.md's command line).
        run "$work/vmm.out" "$VMM" --manager "$ADDR" --link "$L2" --guest-name vm-a,vm-b --frames 50 \
            --timeout 30
        check vmm-through-manager has "$work/vmm.out" "^elisa-vmm: all guests passed$"
        check vmm-frames-checked has "$work/vmm.out" "^total: 2 guests, 100 frames and [0-9]+ bytes checked, 0 mismatches, 0 lost"
    else
        echo "SKIP vmm-through-manager ($VMM not built or /dev/kvm not usable)"
    fi
fi

run "$work/stop2.out" "$CTL" stop --link "$L2"
check foreground-stop has "$work/stop2.out" "^elisactl: manager \(pid [0-9]+\) on $L2 stopped$"

if [ "$failed" != 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "elisa-manager: $passed passed, $failed failed"
[ "$failed" = 0 ]
