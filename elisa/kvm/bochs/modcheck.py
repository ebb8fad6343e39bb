#!/usr/bin/env python3
"""elisa/kvm/bochs/modcheck.py - will the kernel accept our modules?

Before a boot in Bochs that takes minutes, check offline what the kernel
checks at insmod (kernel/module/version.c, kernel/module/main.c):

  * vermagic: the ".modinfo" string "vermagic=" must equal the kernel's
    (release, SMP, preempt model, mod_unload, modversions);
  * modversions: every symbol a module imports carries a CRC in its
    "__versions" section (an array of struct modversion_info: a 64-bit CRC
    then a 56-byte NUL-padded name); the kernel refuses the module
    ("disagrees about version of symbol") when a CRC differs from the
    exporter's.

Usage: modcheck.py KERNEL_MODULE_DIR SYMVERS OUR_SYMVERS MODULE.ko...
  KERNEL_MODULE_DIR  lib/modules/<release>/kernel of the extracted image
  SYMVERS            Module.symvers of the linux-headers package that
                     matches the image (vmlinux's exports)
  OUR_SYMVERS        Module.symvers of our build (our kvm.ko's exports,
                     which kvm-intel.ko imports)
Each import is compared with every source that knows the symbol: the stock
modules' own imports (kvm.ko, kvm-intel.ko, irqbypass.ko of the image: the
CRCs the real kernel accepted when it was built), SYMVERS and OUR_SYMVERS.
Prints one line per module and exits 1 on any mismatch or unknown symbol.
"""
import os
import struct
import sys


def sections(path):
    """{name: bytes} of an ELF64 little-endian relocatable object."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    hdrs = []
    for i in range(shnum):
        name, _type, _flags, _addr, off, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + i * shentsize)
        hdrs.append((name, off, size))
    _, stroff, strsize = hdrs[shstrndx]
    strtab = data[stroff:stroff + strsize]
    out = {}
    for name, off, size in hdrs:
        end = strtab.index(b"\0", name)
        out[strtab[name:end].decode()] = data[off:off + size]
    return out


def versions(secs):
    """{symbol: crc} of a module's __versions section."""
    raw = secs.get("__versions", b"")
    out = {}
    for i in range(0, len(raw), 64):
        crc, = struct.unpack_from("<Q", raw, i)
        name = raw[i + 8:i + 64].split(b"\0", 1)[0].decode()
        out[name] = crc & 0xFFFFFFFF
    return out


def modinfo(secs, key):
    for item in secs.get(".modinfo", b"").split(b"\0"):
        if item.startswith(key.encode() + b"="):
            return item.split(b"=", 1)[1].decode()
    return None


def symvers(path):
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 2:
                out[parts[1]] = int(parts[0], 16)
    return out


def main(argv):
    if len(argv) < 5:
        print("usage: modcheck.py KERNEL_MODULE_DIR SYMVERS OUR_SYMVERS MODULE.ko...")
        return 2
    kdir, sv_path, our_sv_path, mods = argv[1], argv[2], argv[3], argv[4:]
    stock_paths = [os.path.join(kdir, p) for p in
                   ("arch/x86/kvm/kvm.ko", "arch/x86/kvm/kvm-intel.ko", "virt/lib/irqbypass.ko")]
    sources = []
    for p in stock_paths:
        if not os.path.isfile(p):
            print(f"modcheck: {p} missing: extract the linux-image package first")
            return 1
        sources.append((os.path.basename(p) + " (stock)", versions(sections(p))))
    stock_magic = modinfo(sections(stock_paths[0]), "vermagic")
    sources.append(("Module.symvers (headers)", symvers(sv_path)))
    sources.append(("Module.symvers (our build)", symvers(our_sv_path)))

    bad = 0
    for m in mods:
        secs = sections(m)
        magic = modinfo(secs, "vermagic")
        imports = versions(secs)
        problems = []
        if magic != stock_magic:
            problems.append(f"vermagic '{magic}' != kernel's '{stock_magic}'")
        checked = 0
        for sym, crc in sorted(imports.items()):
            known = [(n, v[sym]) for n, v in sources if sym in v]
            if not known:
                problems.append(f"{sym}: no exporter knows it")
                continue
            for n, c in known:
                if c != crc:
                    problems.append(f"{sym}: CRC {crc:#010x}, {n} says {c:#010x}")
            checked += 1
        name = os.path.basename(m)
        if problems:
            bad += 1
            print(f"modcheck: {name}: FAIL: " + "; ".join(problems[:5]) +
                  (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
        else:
            print(f"modcheck: {name}: vermagic '{magic.strip()}' matches, "
                  f"{checked} imported symbol CRCs match")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
