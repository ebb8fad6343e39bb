# vmfunc/ - freestanding C library: EPT paging structures, EPTP values and
# the EPTP list, VMX capability checks, ELISA's anywhere page table and
# default/gate/sub contexts, x86-64 guest page tables (vmfunc/README.md).
#
#   vmfunc/libvmfunc.o         every object linked into one relocatable
#                              object (ld -r) with CFLAGS -ffreestanding; the
#                              rule fails if it references any symbol it
#                              does not define (no libc, no compiler helper)
#   vmfunc/libvmfunc-bm.o      the same sources built with the bare-metal
#                              testbed's flags (-mno-red-zone
#                              -mgeneral-regs-only -fno-pic ...), same check
#   tests/unit/test_vmfunc     cmocka unit tests (VMFUNC_TEST_UNITS)
#
# Users outside this file (vmfunc/testbed, a kernel module) compile
# $(VMFUNC_SRC) themselves with their own flags and -Ivmfunc.
VMFUNC_SRC  := vmfunc/ept.c vmfunc/eptp.c vmfunc/caps.c vmfunc/guest_pt.c vmfunc/elisa_ctx.c
VMFUNC_H    := vmfunc/ept.h vmfunc/eptp.h vmfunc/caps.h vmfunc/guest_pt.h vmfunc/elisa_ctx.h \
               vmfunc/vmcs_fields.h
VMFUNC_OBJS := $(VMFUNC_SRC:.c=.o)
# -fno-tree-loop-distribute-patterns: GCC may otherwise turn a fill loop
# into a call to memset, which a freestanding user need not provide.
VMFUNC_CFLAGS := $(CFLAGS) -ffreestanding -fno-tree-loop-distribute-patterns
# The flags of the bare-metal testbed (vmfunc/testbed), checked here too.
VMFUNC_BAREMETAL_CFLAGS := -std=c11 -O2 -Wall -Wextra -Werror -m64 -ffreestanding \
                           -mno-red-zone -mgeneral-regs-only -fno-pic \
                           -fno-stack-protector -fno-tree-loop-distribute-patterns

$(VMFUNC_OBJS): vmfunc/%.o: vmfunc/%.c $(VMFUNC_H)
	$(CC) $(VMFUNC_CFLAGS) -c -o $@ $<

# Freestanding means: nothing undefined once all objects are linked together.
vmfunc/libvmfunc.o: $(VMFUNC_OBJS)
	ld -r -o $@ $(VMFUNC_OBJS)
	@undef=$$(nm -u $@); \
	if [ -n "$$undef" ]; then \
	  echo "vmfunc: the freestanding library references undefined symbols:"; echo "$$undef"; \
	  rm -f $@; exit 1; \
	fi

vmfunc/libvmfunc-bm.o: $(VMFUNC_SRC) $(VMFUNC_H)
	@echo "vmfunc: building $@ with the bare-metal flags"; \
	tmp=$$(mktemp -d); rc=0; \
	for f in $(VMFUNC_SRC); do \
	  $(CC) $(VMFUNC_BAREMETAL_CFLAGS) -c -o "$$tmp/$$(basename $$f .c).o" $$f || rc=1; \
	done; \
	if [ $$rc = 0 ]; then ld -r -o $@ "$$tmp"/*.o || rc=1; fi; \
	rm -rf "$$tmp"; \
	if [ $$rc = 0 ]; then \
	  undef=$$(nm -u $@); \
	  if [ -n "$$undef" ]; then \
	    echo "vmfunc: with the bare-metal flags the library references undefined symbols:"; \
	    echo "$$undef"; rm -f $@; rc=1; \
	  fi; \
	fi; \
	exit $$rc

ALL_TARGETS += vmfunc/libvmfunc.o vmfunc/libvmfunc-bm.o

# --- tests -------------------------------------------------------------------
# The test itself is ordinary user-space C; it links the checked object.
tests/unit/test_vmfunc: tests/unit/test_vmfunc.c vmfunc/libvmfunc.o vmfunc/libvmfunc-bm.o $(VMFUNC_H)
	$(CC) $(CFLAGS) -Ivmfunc -o $@ tests/unit/test_vmfunc.c vmfunc/libvmfunc.o -lcmocka

VMFUNC_TEST_UNITS := tests/unit/test_vmfunc

CLEAN_FILES += vmfunc/libvmfunc.o vmfunc/libvmfunc-bm.o tests/unit/test_vmfunc
