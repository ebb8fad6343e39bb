# elisa/guest/ - the guest library's call side (elisa_guest.h): contexts,
# elisa_call, and the exit-based fallback gate (gate_exit.S).  The
# negotiation half (negotiate.*) has its own rules.
#
#   elisa/guest/libelisa_guest.a      user space (-fPIC): the current context
#                                     is per thread (_Thread_local)
#   elisa/guest/libelisa_guest_bm.a   bare-metal guests (elisa/vmm/guest/):
#                                     -ffreestanding -mno-red-zone
#                                     -mgeneral-regs-only -fno-pic, one global
#                                     current context; the rule fails if the
#                                     objects reference any symbol outside
#                                     the library
#   tests/unit/test_elisa_call        cmocka: the three modes in user space,
#                                     the fallback gate against a host played
#                                     by a SIGSEGV handler (ELISA_GUEST_TEST_UNITS)
#
# Objects go to elisa/guest/obj/ and elisa/guest/obj-bm/.

ELISA_GUEST_DIR  := elisa/guest
ELISA_GUEST_H    := $(ELISA_GUEST_DIR)/elisa_guest.h elisa/apps/app.h
ELISA_GUEST_SRCS := $(ELISA_GUEST_DIR)/elisa_call.c $(ELISA_GUEST_DIR)/gate_exit.S
ELISA_GUEST_LIB    := $(ELISA_GUEST_DIR)/libelisa_guest.a
ELISA_GUEST_LIB_BM := $(ELISA_GUEST_DIR)/libelisa_guest_bm.a

# The bare-metal flags, shared with the guest images of elisa/vmm/guest/
# (the same ones the vmfunc testbed uses): no red zone because an exception
# or the gate may push on the stack below RSP, no SSE because nobody saves
# vector state, no PIC because the image is linked at a fixed address.
ELISA_BM_CFLAGS  := -std=c11 -O2 -g -Wall -Wextra -Werror -m64 -ffreestanding -mno-red-zone \
                    -mgeneral-regs-only -fno-pic -fno-pie -fno-stack-protector \
                    -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns -nostdlib
ELISA_BM_ASFLAGS := -m64 -fno-pic -fno-pie

$(ELISA_GUEST_DIR)/obj $(ELISA_GUEST_DIR)/obj-bm:
	mkdir -p $@

$(ELISA_GUEST_DIR)/obj/elisa_call.o: $(ELISA_GUEST_DIR)/elisa_call.c $(ELISA_GUEST_H) | $(ELISA_GUEST_DIR)/obj
	$(CC) $(CFLAGS) -ffreestanding -fPIC -c -o $@ $<
$(ELISA_GUEST_DIR)/obj/gate_exit.o: $(ELISA_GUEST_DIR)/gate_exit.S | $(ELISA_GUEST_DIR)/obj
	$(CC) -fPIC -c -o $@ $<

$(ELISA_GUEST_DIR)/obj-bm/elisa_call.o: $(ELISA_GUEST_DIR)/elisa_call.c $(ELISA_GUEST_H) | $(ELISA_GUEST_DIR)/obj-bm
	$(CC) $(ELISA_BM_CFLAGS) -DELISA_GUEST_BAREMETAL -c -o $@ $<
$(ELISA_GUEST_DIR)/obj-bm/gate_exit.o: $(ELISA_GUEST_DIR)/gate_exit.S | $(ELISA_GUEST_DIR)/obj-bm
	$(CC) $(ELISA_BM_ASFLAGS) -c -o $@ $<

$(ELISA_GUEST_LIB): $(ELISA_GUEST_DIR)/obj/elisa_call.o $(ELISA_GUEST_DIR)/obj/gate_exit.o
	rm -f $@ && ar rcs $@ $^

# A bare-metal guest has nothing but what it links: any undefined symbol
# other than the library's own (memcpy from a struct copy, a TLS helper,
# __stack_chk_fail) would fail only at the guest's link, far from here.
$(ELISA_GUEST_LIB_BM): $(ELISA_GUEST_DIR)/obj-bm/elisa_call.o $(ELISA_GUEST_DIR)/obj-bm/gate_exit.o
	@undef=$$(nm -u $^ | awk 'NF == 2 && $$2 != "elisa_gate_exit_call" { print $$2 }'); \
	if [ -n "$$undef" ]; then echo "elisa/guest: the bare-metal objects need symbols no guest provides: $$undef"; exit 1; fi
	rm -f $@ && ar rcs $@ $^

ALL_TARGETS += $(ELISA_GUEST_LIB) $(ELISA_GUEST_LIB_BM)

# --- tests -------------------------------------------------------------------
tests/unit/test_elisa_call: tests/unit/test_elisa_call.c $(ELISA_GUEST_LIB) $(ELISA_GUEST_H)
	$(CC) $(CFLAGS) -Ielisa/guest -Ielisa/apps -pthread -o $@ tests/unit/test_elisa_call.c \
	      $(ELISA_GUEST_LIB) -lcmocka

ELISA_GUEST_TEST_UNITS := tests/unit/test_elisa_call

CLEAN_FILES += $(ELISA_GUEST_LIB) $(ELISA_GUEST_LIB_BM) tests/unit/test_elisa_call \
               $(ELISA_GUEST_DIR)/obj/*.o $(ELISA_GUEST_DIR)/obj-bm/*.o
