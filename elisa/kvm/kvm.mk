# elisa/kvm/ - ELISA's host part: a patch to Debian 12's KVM (linux-source-6.1)
# and the plain-C argument checks it shares with a unit test (elisa/kvm/README.md).
#
#   make elisa-kvm              extract, patch and build kvm.ko + kvm-intel.ko
#                               out of tree in build/elisa-kvm/ (compile only;
#                               loading them needs an Intel host with VMFUNC)
#   tests/unit/test_elisa_hc    cmocka tests of elisa_hc_check.c (ELISA_HC_TEST_UNITS)
#
# ELISA_KVM_PACKAGES: what build.sh needs (the top Makefile's DEB_PACKAGES
# lists them too, so `make deps` installs them).  linux-headers-amd64 pulls the headers of the current 6.1
# ABI, the same version as linux-source-6.1; build.sh insists on that match.
ELISA_KVM_PACKAGES := linux-source-6.1 linux-headers-amd64 gcc make libc6-dev libelf-dev \
                      xz-utils patch
ELISA_HC_SRC := elisa/kvm/elisa_hc_check.c
ELISA_HC_H   := elisa/kvm/elisa_hc_check.h

.PHONY: elisa-kvm
elisa-kvm:
	@elisa/kvm/build.sh

# The checks are built as the kernel builds them: no libc in the file itself
# (-ffreestanding), and -Wdeclaration-after-statement as in Kbuild.
tests/unit/test_elisa_hc: tests/unit/test_elisa_hc.c $(ELISA_HC_SRC) $(ELISA_HC_H)
	$(CC) $(CFLAGS) -ffreestanding -Wdeclaration-after-statement -c -o tests/unit/elisa_hc_check.o $(ELISA_HC_SRC)
	$(CC) $(CFLAGS) -Ielisa/kvm -o $@ tests/unit/test_elisa_hc.c tests/unit/elisa_hc_check.o -lcmocka
	@rm -f tests/unit/elisa_hc_check.o

ELISA_HC_TEST_UNITS := tests/unit/test_elisa_hc

CLEAN_FILES += tests/unit/test_elisa_hc

# The stretch run: Debian's kernel booted in Bochs' Intel CPU model with the
# patched kvm.ko/kvm-intel.ko, a manager VM installing contexts with the
# ELISA hypercalls and a guest calling through the gate (elisa/kvm/bochs/,
# 2.5-4 min; not part of make test).
.PHONY: elisa-kvm-bochs
elisa-kvm-bochs: elisa-kvm
	elisa/kvm/bochs/run.sh
