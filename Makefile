# exitless - one plain top-level Makefile.
#
# Each part keeps its rules in <folder>/<folder>.mk, included below; every
# path in them is relative to this directory.  Outputs are built next to
# their sources (zpoline/libzpoline.so, hooklib/libzphook_*.so,
# loaders/zprun), so the commands in README.md work from a checkout.
#
#   make          build everything
#   make deps     install the Debian packages the kit needs (idempotent)
#   make test     deps + build + every test suite
#   make demo     deps + build + the main job
#   make bench    deps + build + benchmarks (tables in docs/BENCHMARKS.md)

CC       := gcc
CFLAGS   := -std=c11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE
SO_FLAGS := -fPIC -shared

# Debian packages: the compiler and kernel headers, the disassembler
# (libopcodes, linked statically, and the libiberty it needs), cmocka, and the
# real programs that tests and benchmarks run (golang-go builds the Go test
# program; Bochs, an Intel CPU model with VMX, EPT and VMFUNC, runs the
# vmfunc testbed, booted from a GRUB image that grub-mkrescue, xorriso and
# mtools make), and Debian's linux-source-6.1 with matching headers for the
# compile check of the ELISA KVM patch (make elisa-kvm).  `make deps`
# installs only what is missing.
DEB_PACKAGES := gcc make libc6-dev linux-libc-dev binutils-dev libiberty-dev libcmocka-dev \
                python3 redis-server redis-tools nginx-light wrk strace gnuplot-nox \
                dpkg-dev libdpdk-dev pkg-config iproute2 golang-go \
                bochs bochsbios vgabios grub-pc-bin grub-common xorriso mtools \
                linux-source-6.1 linux-headers-amd64 libelf-dev xz-utils patch

.PHONY: all deps test demo bench clean
all:

include zpoline/zpoline.mk
include hooklib/hooklib.mk
include netstack/netstack.mk
include hooklib/netstack/sock.mk
include hooklib/netstack/netstack.mk
include hooklib/preload/preload.mk
include loaders/loaders.mk
include loaders/elf/elf.mk
include vmfunc/vmfunc.mk
include vmfunc/testbed/testbed.mk
include elisa/vmnet/vmnet.mk
include elisa/proto/proto.mk
include elisa/kvm/kvm.mk
include elisa/apps/apps.mk
include elisa/guest/guest.mk
include elisa/manager/manager.mk
include elisa/vmm/vmm.mk
include elisa/manager/vmfunc_host.mk
include netstack/vmnet.mk
include tests/tests.mk
include tests/netstack/netstack.mk
include tests/loaders/loaders_tests.mk
include bench/bench.mk

all: $(ALL_TARGETS)

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all present"; \
	elif [ "$$(id -u)" != 0 ]; then echo "deps: missing:$$missing; run 'make deps' as root (or apt-get install$$missing)"; exit 1; \
	else echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(MAKE) -s --no-print-directory $(LOADER_BUSYBOX)

demo: deps all
	@bash tests/demo.sh

clean:
	rm -f $(ALL_TARGETS) $(CLEAN_FILES)
	find . -name '*.o' -delete
