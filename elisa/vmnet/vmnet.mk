# elisa/vmnet/ - virtual-switch ports in shared memory: the region layout,
# the rings and the learning switch that runs in ELISA's sub context
# (elisa/vmnet/README.md).
#
#   elisa/vmnet/vmnet.o, vmnet_err.o   user-space objects (CFLAGS + -ffreestanding)
#   elisa/vmnet/vmnet-bm.o             vmnet.c built with the sub context's flags
#                                      (-mno-red-zone -mgeneral-regs-only -fno-pic
#                                      ...); the rule fails if it references an
#                                      undefined symbol, has any .data, .bss or
#                                      .rodata, or a stack frame over 256 bytes
#   tests/unit/test_vmnet              cmocka unit tests, built with ASan+UBSan
#                                      (VMNET_TEST_UNITS)
#   elisa/vmnet/fuzz/fuzz_vmnet        deterministic fuzz driver, ASan+UBSan
#                                      (VMNET_FUZZ, run with VMNET_FUZZ_ARGS;
#                                      `make vmnet-fuzz-run`)
#
# Users that build for the sub context (the testbed, the manager's loader)
# compile $(VMNET_SUB_SRC) themselves with their own flags and -Ielisa/vmnet.
VMNET_SUB_SRC := elisa/vmnet/vmnet.c
VMNET_SRC     := elisa/vmnet/vmnet.c elisa/vmnet/vmnet_err.c
VMNET_H       := elisa/vmnet/vmnet.h
VMNET_OBJS    := $(VMNET_SRC:.c=.o)
# -fno-tree-loop-distribute-patterns: GCC may otherwise turn a copy or fill
# loop into a call to memcpy/memset, which the sub context does not have.
# -fno-jump-tables: a switch must not become a table in .rodata.
VMNET_CFLAGS  := $(CFLAGS) -ffreestanding -fno-tree-loop-distribute-patterns -fno-jump-tables
VMNET_BAREMETAL_CFLAGS := -std=c11 -O2 -Wall -Wextra -Werror -m64 -ffreestanding \
                          -mno-red-zone -mgeneral-regs-only -fno-pic -fno-stack-protector \
                          -fno-tree-loop-distribute-patterns -fno-jump-tables
VMNET_STACK_MAX := 256
VMNET_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

$(VMNET_OBJS): elisa/vmnet/%.o: elisa/vmnet/%.c $(VMNET_H)
	$(CC) $(VMNET_CFLAGS) -c -o $@ $<

# The sub-context build and its three checks (see the header comment).
elisa/vmnet/vmnet-bm.o: $(VMNET_SUB_SRC) $(VMNET_H)
	@echo "vmnet: building $@ with the sub context's flags"; \
	tmp=$$(mktemp -d); rc=0; \
	$(CC) $(VMNET_BAREMETAL_CFLAGS) -fstack-usage -c -o "$$tmp/vmnet.o" $(VMNET_SUB_SRC) || rc=1; \
	if [ $$rc = 0 ]; then \
	  undef=$$(nm -u "$$tmp/vmnet.o"); \
	  if [ -n "$$undef" ]; then \
	    echo "vmnet: the sub-context object references undefined symbols:"; echo "$$undef"; rc=1; \
	  fi; \
	  data=$$(objdump -h "$$tmp/vmnet.o" | awk '$$2 ~ /^\.(data|bss|rodata)/ && $$3 !~ /^0+$$/ { print $$2 }'); \
	  if [ -n "$$data" ]; then \
	    echo "vmnet: the sub-context object has data the sub context would not map: $$data"; rc=1; \
	  fi; \
	  big=$$(awk -F'\t' '$$2 > $(VMNET_STACK_MAX) || $$3 !~ /^static/' "$$tmp/vmnet.su"); \
	  if [ -n "$$big" ]; then \
	    echo "vmnet: stack frames over $(VMNET_STACK_MAX) bytes or dynamic:"; echo "$$big"; rc=1; \
	  fi; \
	fi; \
	if [ $$rc = 0 ]; then cp "$$tmp/vmnet.o" $@; fi; \
	rm -rf "$$tmp"; exit $$rc

ALL_TARGETS += $(VMNET_OBJS) elisa/vmnet/vmnet-bm.o

# --- tests -------------------------------------------------------------------
# The unit test compiles the library itself with the sanitizers, so an
# out-of-bounds access of the switch is reported, not just the test's.
tests/unit/test_vmnet: tests/unit/test_vmnet.c $(VMNET_SRC) $(VMNET_H) elisa/vmnet/vmnet-bm.o
	$(CC) $(CFLAGS) -fno-tree-loop-distribute-patterns $(VMNET_SAN) -Ielisa/vmnet -o $@ \
	      tests/unit/test_vmnet.c $(VMNET_SRC) -lcmocka -pthread

VMNET_TEST_UNITS := tests/unit/test_vmnet

VMNET_FUZZ      := elisa/vmnet/fuzz/fuzz_vmnet
VMNET_FUZZ_ARGS ?= 1000000 1 20

$(VMNET_FUZZ): elisa/vmnet/fuzz/fuzz_vmnet.c $(VMNET_SRC) $(VMNET_H) elisa/vmnet/vmnet-bm.o
	$(CC) $(CFLAGS) -O1 $(VMNET_SAN) -Ielisa/vmnet -o $@ elisa/vmnet/fuzz/fuzz_vmnet.c $(VMNET_SRC)

.PHONY: vmnet-fuzz-run
vmnet-fuzz-run: $(VMNET_FUZZ)
	$(VMNET_FUZZ) $(VMNET_FUZZ_ARGS)

CLEAN_FILES += $(VMNET_OBJS) elisa/vmnet/vmnet-bm.o tests/unit/test_vmnet $(VMNET_FUZZ)
