#!/bin/bash
# elisa/kvm/bochs/run.sh - run the patched KVM (elisa/kvm/) for real, inside
# Bochs' Intel CPU model: boot Debian's 6.1 kernel (the one whose headers
# built kvm.ko) from a GRUB rescue ISO with an initramfs that loads our
# kvm.ko/kvm-intel.ko and runs kvmguest (a minimal VMM: a real-mode guest,
# the ELISA roles and hypercalls, a guest calling through the gate).
#
# Needs: `make elisa-kvm` done; bochs bochsbios vgabios grub-pc-bin
# grub-common xorriso mtools gcc libc6-dev python3 (Debian packages); the
# kernel image package is fetched with `apt-get download` from Debian's
# mirror (the only network use) unless already in $EKB_OUT/debs.
# Not part of `make test`: a run takes 2.5-4 minutes here (2 shared CPUs).
#
# Prints each step with its wall-clock time ("TIME <step> <seconds>"),
# every "EKB ..." line the initramfs and kvmguest wrote, kernel warnings,
# then one closing line
#   elisa-kvm-bochs: N passed, M failed
# Exit status 0 only if Bochs reached "EKB done" within the time limit with
# at least one "ok" line, no "fail" line and no kernel warning after init.
#
# Environment:
#   EKB_OUT      work directory (default build/elisa-kvm-bochs, git-ignored)
#   EKB_TIMEOUT  seconds for the Bochs run (default 1800)
#   EKB_KVM_INTEL_ARGS  kvm-intel module parameters, e.g. "enable_apicv=0"
#   EKB_KVM_DIR  where kvm.ko, kvm-intel.ko and their Module.symvers are
#                (default: build/elisa-kvm/linux-source-6.1/arch/x86/kvm)
#   EKB_MODULES=stock  boot Debian's unpatched kvm.ko/kvm-intel.ko instead
#                (a negative control: elisa-cap and what follows must fail)
#   BOCHS        the Bochs binary (default bochs)
#   EKB_VERBOSE=1  print the whole serial log at the end
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
out="${EKB_OUT:-$top/build/elisa-kvm-bochs}"
limit="${EKB_TIMEOUT:-1800}"
bochs_bin="${BOCHS:-bochs}"
kvmdir="${EKB_KVM_DIR:-$top/build/elisa-kvm/linux-source-6.1/arch/x86/kvm}"

passed=0
failed=0
finish() {   # finish REASON: print the closing line and exit
    [ -n "$1" ] && echo "elisa-kvm-bochs: $1"
    echo "elisa-kvm-bochs: $passed passed, $failed failed"
    [ "$failed" = 0 ] && [ "$passed" -gt 0 ]
    exit
}
die() {      # die MESSAGE: a setup step failed
    failed=$((failed + 1))
    echo "FAIL $1"
    finish ""
}
t_step=$SECONDS
timed() {    # timed STEP: seconds since the previous timed step
    echo "TIME $1 $((SECONDS - t_step)) s"
    t_step=$SECONDS
}

# --- tools and inputs ------------------------------------------------------
for t in "$bochs_bin" grub-mkrescue xorriso mformat gcc python3 dpkg-deb dpkg-query apt-get gzip; do
    command -v "$t" >/dev/null 2>&1 ||
        die "tool-missing: '$t' not found (apt-get install bochs bochsbios vgabios grub-pc-bin grub-common xorriso mtools gcc libc6-dev python3)"
done
for f in kvm.ko kvm-intel.ko Module.symvers; do
    [ -f "$kvmdir/$f" ] || die "modules-missing: $kvmdir/$f (run 'make elisa-kvm' first)"
done
mkdir -p "$out/debs" "$out/obj"
out=$(cd "$out" && pwd)

# The kernel release our modules were built for: vermagic's first word.
kver=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import modcheck; print(modcheck.modinfo(modcheck.sections(sys.argv[2]), "vermagic").split()[0])' "$here" "$kvmdir/kvm.ko") ||
    die "vermagic: cannot read $kvmdir/kvm.ko"
# The package version of the headers that built them = the image's.
kpkgver=$(dpkg-query -W -f='${Version}' "linux-headers-$kver" 2>/dev/null) ||
    die "headers: linux-headers-$kver is not installed (it built kvm.ko? rerun 'make elisa-kvm')"
echo "INFO kernel $kver, package version $kpkgver"

# --- 1. the kernel image package --------------------------------------------
deb="$out/debs/linux-image-${kver}_${kpkgver}_amd64.deb"
if [ ! -f "$deb" ]; then
    (cd "$out/debs" && apt-get download "linux-image-$kver=$kpkgver") >"$out/apt-download.log" 2>&1 ||
        die "kernel-download: apt-get download linux-image-$kver=$kpkgver failed (see $out/apt-download.log)"
fi
[ -f "$deb" ] || die "kernel-download: $deb not there after apt-get download"
img="$out/image"
if [ ! -f "$img/.from" ] || [ "$(cat "$img/.from")" != "$(basename "$deb")" ]; then
    rm -rf "$img"
    mkdir -p "$img"
    dpkg-deb -x "$deb" "$img" || die "kernel-extract: dpkg-deb -x $deb failed"
    basename "$deb" > "$img/.from"
fi
vmlinuz="$img/boot/vmlinuz-$kver"
kmods="$img/lib/modules/$kver/kernel"
[ -f "$vmlinuz" ] && [ -f "$kmods/virt/lib/irqbypass.ko" ] ||
    die "kernel-extract: $vmlinuz or irqbypass.ko missing in the package"
timed kernel-package

python3 "$here/modcheck.py" "$kmods" "/usr/src/linux-headers-$kver/Module.symvers" \
    "$kvmdir/Module.symvers" "$kvmdir/kvm.ko" "$kvmdir/kvm-intel.ko" "$kmods/virt/lib/irqbypass.ko" ||
    die "modcheck: the kernel would refuse our modules (see above)"
passed=$((passed + 1))
echo "PASS modcheck"

# --- 2. kvmguest and the initramfs ------------------------------------------
# Static (the initramfs has no libc); the vmfunc/ builders and the gate
# are compiled in with the project's flags.
gcc -std=c11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -static \
    -I"$top/vmfunc" -I"$top/elisa/kvm" -I"$here" -o "$out/obj/kvmguest" \
    "$here/kvmguest.c" "$here/kvmvm.c" "$here/guest_code.S" "$top/vmfunc/testbed/gate.S" \
    "$top/vmfunc/ept.c" "$top/vmfunc/eptp.c" "$top/vmfunc/guest_pt.c" "$top/vmfunc/elisa_ctx.c" ||
    die "kvmguest-build: gcc failed"

busybox="${EKB_BUSYBOX:-$top/build/busybox-static/bin/busybox}"
if [ ! -x "$busybox" ]; then
    # Debian's busybox-static, unpacked (not installed) next to the kernel.
    bbdeb=$(ls "$out"/debs/busybox-static_*.deb 2>/dev/null | head -n 1)
    if [ -z "$bbdeb" ]; then
        (cd "$out/debs" && apt-get download busybox-static) >>"$out/apt-download.log" 2>&1 ||
            die "busybox: apt-get download busybox-static failed (see $out/apt-download.log)"
        bbdeb=$(ls "$out"/debs/busybox-static_*.deb | head -n 1)
    fi
    rm -rf "$out/busybox-static"
    dpkg-deb -x "$bbdeb" "$out/busybox-static" || die "busybox: dpkg-deb -x $bbdeb failed"
    busybox="$out/busybox-static/bin/busybox"
fi

root="$out/rootfs"
rm -rf "$root"
mkdir -p "$root/bin" "$root/lib/modules"
cp "$busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
chmod 755 "$root/init"
cp "$out/obj/kvmguest" "$root/kvmguest"
# Debug info off our modules: 21 MB less to unpack in Bochs.  (Their
# missing signature taints the kernel either way: Debian's kernel does not
# enforce signatures without Secure Boot.)  irqbypass.ko stays as shipped.
if [ "${EKB_MODULES:-patched}" = stock ]; then
    # The negative control: Debian's own modules, without ELISA.
    cp "$kmods/arch/x86/kvm/kvm.ko" "$kmods/arch/x86/kvm/kvm-intel.ko" "$root/lib/modules/"
    echo "INFO EKB_MODULES=stock: Debian's unpatched kvm.ko/kvm-intel.ko (the ELISA checks must fail)"
else
    strip --strip-debug -o "$root/lib/modules/kvm.ko" "$kvmdir/kvm.ko"
    strip --strip-debug -o "$root/lib/modules/kvm-intel.ko" "$kvmdir/kvm-intel.ko"
fi
cp "$kmods/virt/lib/irqbypass.ko" "$root/lib/modules/"
[ -n "${EKB_KVM_INTEL_ARGS:-}" ] && printf '%s\n' "$EKB_KVM_INTEL_ARGS" > "$root/kvm-intel.args"
(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$out/initrd.gz" ||
    die "initramfs: cpio/gzip failed"

iso_dir="$out/iso"
rm -rf "$iso_dir"
mkdir -p "$iso_dir/boot/grub"
cp "$vmlinuz" "$iso_dir/boot/vmlinuz"
cp "$out/initrd.gz" "$iso_dir/boot/initrd.gz"
cp "$here/grub.cfg" "$iso_dir/boot/grub/grub.cfg"
grub-mkrescue -o "$out/boot.iso" "$iso_dir" >"$out/grub-mkrescue.log" 2>&1 ||
    die "iso: grub-mkrescue failed (see $out/grub-mkrescue.log)"
timed build

# --- 3. boot in Bochs ----------------------------------------------------------
run="$out/run"
mkdir -p "$run"
serial="$run/serial.log"
rm -f "$serial" "$run/bochs.log" "$run/bochs.stdout"
: > "$serial"
printf 'c\nq\n' > "$run/debugger.rc"    # Debian's Bochs starts in its debugger
cd "$run"
EKB_ISO="$out/boot.iso" EKB_SERIAL="$serial" EKB_LOG="$run/bochs.log" \
    setsid "$bochs_bin" -q -f "$here/bochsrc" -rc "$run/debugger.rc" \
    </dev/null >"$run/bochs.stdout" 2>&1 &
pid=$!
t0=$SECONDS
# Milestones: the first serial line matching each, stamped with the wall
# time since Bochs started.
names=(kernel-start init insmod-done kvmguest-done done)
patterns=('Linux version' '^EKB init ' '^EKB insmod info' '^EKB kvmguest info exit' '^EKB done')
declare -A seen
end_reason=""
deadline=$((t0 + limit))
while :; do
    log=$(tr -d '\r' < "$serial")
    for i in "${!names[@]}"; do
        n=${names[$i]}
        if [ -z "${seen[$n]:-}" ] && printf '%s\n' "$log" | grep -qE "${patterns[$i]}"; then
            seen[$n]=$((SECONDS - t0))
            echo "TIME $n $((SECONDS - t0)) s after Bochs started"
        fi
    done
    if ! kill -0 "$pid" 2>/dev/null; then
        end_reason="bochs-exited"
        break
    fi
    if printf '%s\n' "$log" | grep -q 'Kernel panic'; then
        end_reason="kernel-panic"
        break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        end_reason="timeout"
        break
    fi
    sleep 1
done
# Bochs exits by itself at the ACPI power-off; otherwise end its group.
if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null
    sleep 1
    kill -KILL -- "-$pid" 2>/dev/null
fi
wait "$pid" 2>/dev/null
echo "TIME bochs-total $((SECONDS - t0)) s ($end_reason)"
# Bochs prints its instruction count when it stops: "(0).[6847022323] ...".
insns=$(grep -oE '^\(0\)\.\[[0-9]+\]' "$run/bochs.stdout" | tail -n 1 | tr -dc 0-9)
if [ -n "$insns" ]; then
    insns=$((10#$insns))
    echo "INFO Bochs executed $insns instructions, $((insns / ((SECONDS - t0) > 0 ? (SECONDS - t0) : 1) / 1000000)) M/s"
fi
# What Bochs itself saw: failing VMFUNCs (it logs no successful one) and
# EPT violations in the sub-context range (GPA 0x40000000.., layout.h),
# which only kvmguest's fault-in-context check should cause.
grep -E 'VMFUNC|EPT violation for guest paddr 0x00004' "$run/bochs.log" 2>/dev/null |
    sed 's/^/INFO bochs.log: /' | head -n 10

# --- verdict --------------------------------------------------------------------
log=$(tr -d '\r' < "$serial")
[ "${EKB_VERBOSE:-0}" = 1 ] && printf '%s\n' "$log"
printf '%s\n' "$log" | grep -E '^EKB '
passed=$((passed + $(printf '%s\n' "$log" | grep -cE '^EKB [^ ]+ ok')))
failed=$((failed + $(printf '%s\n' "$log" | grep -cE '^EKB [^ ]+ fail')))
# Kernel warnings after init started are ours (KVM's); the one before,
# "XSAVE consistency problem", is Bochs' CPUID for this model.
warn=$(printf '%s\n' "$log" | sed -n '/Run \/init/,$p' | grep -E 'WARNING:|BUG:|Oops|general protection|Kernel panic|Call Trace')
if [ -n "$warn" ]; then
    failed=$((failed + 1))
    echo "FAIL kernel-warning: the kernel complained after init started:"
    printf '%s\n' "$warn" | head -n 20 | sed 's/^/     | /'
fi
reason=""
case "$end_reason" in
    timeout) reason="timeout after ${limit}s (Bochs killed; logs in $run)"; failed=$((failed + 1)) ;;
    kernel-panic) reason="kernel panic (see $serial)"; failed=$((failed + 1)) ;;
esac
if [ -z "$reason" ] && [ -z "${seen[done]:-}" ]; then
    reason="no 'EKB done' line in $serial (see $run/bochs.log, $run/bochs.stdout)"
    failed=$((failed + 1))
fi
finish "$reason"
