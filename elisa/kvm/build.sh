#!/bin/bash
# elisa/kvm/build.sh - build ELISA's kvm.ko and kvm-intel.ko, compile only.
#
# Extracts arch/x86/kvm and virt/kvm of Debian's linux-source-6.1 into
# build/elisa-kvm/ (git-ignored: no kernel source is ever committed),
# applies elisa/kvm/elisa-kvm-6.1.patch, copies ELISA's own files into
# arch/x86/kvm/vmx/, and builds that one directory out of tree against the
# installed linux-headers of the same version.  Prints the .ko paths and
# the time taken.  A second run reuses the tree when the patch and source
# version are unchanged and rebuilds only what changed.
#
# Environment: ELISA_KVM_OUT (default build/elisa-kvm), ELISA_KVM_HEADERS
# (a /usr/src/linux-headers-*-amd64 directory), ELISA_KVM_JOBS.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${ELISA_KVM_OUT:-$root/build/elisa-kvm}
patchfile=$here/elisa-kvm-6.1.patch
tarball=/usr/src/linux-source-6.1.tar.xz
srcdir=linux-source-6.1
own_files=("$here/elisa_hc_check.c" "$here/elisa_hc_check.h" "$here/src/elisa.c" "$here/src/elisa.h")
start=$(date +%s)

die() { echo "elisa-kvm: $*" >&2; exit 1; }

# --- packages -----------------------------------------------------------------
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
src_ver=$(pkgver linux-source-6.1)
[ -n "$src_ver" ] && [ -f "$tarball" ] ||
    die "linux-source-6.1 is not installed; run make deps (or apt-get install linux-source-6.1 linux-headers-amd64)"
for tool in gcc make xz patch tar; do
    command -v "$tool" >/dev/null || die "$tool is missing; run make deps"
done

# Headers of exactly the source's version (module symbol versions and
# struct layouts must match the kernel the modules are loaded into).
headers=${ELISA_KVM_HEADERS:-}
if [ -z "$headers" ]; then
    for d in /usr/src/linux-headers-6.1.*-amd64; do
        [ -d "$d" ] || continue
        pkg=$(basename "$d")
        [ "$(pkgver "$pkg")" = "$src_ver" ] && headers=$d
    done
fi
[ -n "$headers" ] && [ -f "$headers/Makefile" ] ||
    die "no linux-headers-6.1.*-amd64 of version $src_ver (linux-source-6.1's); run make deps (or apt-get install linux-headers-amd64)"
kver=$(basename "$headers" | sed 's/^linux-headers-//')

# --- tree ------------------------------------------------------------------------
tree=$out/$srcdir
kvmdir=$tree/arch/x86/kvm
stamp_want="$src_ver $(sha256sum "$patchfile" | cut -d' ' -f1)"
stamp_have=$(cat "$out/.stamp" 2>/dev/null || true)
if [ "$stamp_want" != "$stamp_have" ] || [ ! -d "$kvmdir" ]; then
    rm -rf "$out"
    mkdir -p "$out"
    echo "elisa-kvm: extracting arch/x86/kvm and virt/kvm of linux-source-6.1 $src_ver"
    tar -xf "$tarball" -C "$out" "$srcdir/arch/x86/kvm" "$srcdir/virt/kvm" ||
        die "cannot extract $tarball"
    if ! msg=$(patch -d "$tree" -p1 --forward --batch --fuzz=0 --dry-run < "$patchfile" 2>&1); then
        die "elisa-kvm-6.1.patch does not apply to linux-source-6.1 $src_ver: $(echo "$msg" | grep -m1 -iE 'fail|reject|malformed|can.t' || echo "$msg" | head -1)"
    fi
    patch -d "$tree" -p1 --forward --batch --fuzz=0 --quiet < "$patchfile"
    # Out of tree, $(srctree) is the headers package, which has neither
    # virt/kvm nor arch/x86/kvm: point the Makefile at this tree instead.
    # trace.h includes itself as "../../arch/x86/kvm/trace.h" from
    # <trace/define_trace.h>; -I virt/kvm makes that path resolve here.
    sed -i -e 's|\$(srctree)/virt/kvm/Makefile.kvm|$(src)/../../../virt/kvm/Makefile.kvm|' \
           -e 's|-I \$(srctree)/arch/x86/kvm|-I $(src) -I $(src)/../../../virt/kvm|' \
        "$kvmdir/Makefile"
    grep -q 'I $(src) -I $(src)/../../../virt/kvm' "$kvmdir/Makefile" ||
        die "unexpected arch/x86/kvm/Makefile in linux-source-6.1 $src_ver (out-of-tree fixup failed)"
    echo "$stamp_want" > "$out/.stamp"
fi
# ELISA's own files: copied on every run, only when changed (keeps make incremental).
for f in "${own_files[@]}"; do
    cmp -s "$f" "$kvmdir/vmx/$(basename "$f")" || cp "$f" "$kvmdir/vmx/"
done

# A self-contained patch (hooks + ELISA's files) for a whole-kernel build.
{
    cat "$patchfile"
    for f in "${own_files[@]}"; do
        b=$(basename "$f")
        n=$(wc -l < "$f")
        printf -- '--- /dev/null\n+++ b/arch/x86/kvm/vmx/%s\n@@ -0,0 +1,%d @@\n' "$b" "$n"
        sed 's/^/+/' "$f"
    done
} > "$out/elisa-kvm-6.1-full.patch"

# --- build ----------------------------------------------------------------------
# Only this directory; kvm-amd is left out (CONFIG_KVM_AMD=): ELISA is VMX only.
jobs=${ELISA_KVM_JOBS:-$(nproc)}
log=$out/build.log
echo "elisa-kvm: building kvm.ko and kvm-intel.ko against $headers ($jobs jobs)"
if ! make -C "$headers" M="$kvmdir" CONFIG_KVM_AMD= -j"$jobs" modules > "$log" 2>&1; then
    grep -m5 -E 'error|Error' "$log" >&2 || tail -5 "$log" >&2
    die "build failed; full log: $log"
fi
for ko in kvm.ko kvm-intel.ko; do
    [ -f "$kvmdir/$ko" ] || die "build finished without $ko; log: $log"
done
end=$(date +%s)
echo "elisa-kvm: kernel $kver, linux-source-6.1 $src_ver, $((end - start)) s"
echo "elisa-kvm: $kvmdir/kvm.ko"
echo "elisa-kvm: $kvmdir/kvm-intel.ko"
echo "elisa-kvm: full patch: $out/elisa-kvm-6.1-full.patch"
