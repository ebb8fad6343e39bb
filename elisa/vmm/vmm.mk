# elisa/vmm/ - elisa-vmm, the kit's minimal VMM for ELISA's exit-based
# fallback on /dev/kvm, and its bare-metal guest image (elisa/vmm/README.md).
#
#   elisa/vmm/elisa-vmm             the VMM (links elisa/vmnet, the app loader
#                                   elisa/apps/app_image.o, the user-space
#                                   guest library for LOCAL-mode timing)
#   elisa/vmm/guest/guest.bin       the guest: freestanding 64-bit code linked
#                                   at 1 MiB (guest.ld), a flat binary; it
#                                   compiles elisa/vmnet/vmnet.c itself and
#                                   links libelisa_guest_bm.a
#   elisa/vmm/test_vmm.sh           the suite (ELISA_VMM_SUITE): pingpong with
#                                   2 and 4 guests, counters, hostile guests,
#                                   a negative control, the bench
#
# Objects go to elisa/vmm/obj/ and elisa/vmm/guest/obj/.

VMM_DIR      := elisa/vmm
VMM_OBJDIR   := $(VMM_DIR)/obj
VMM_BIN      := $(VMM_DIR)/elisa-vmm
VMM_SRCS     := $(addprefix $(VMM_DIR)/,vmm.c kvm_setup.c guest_mem.c host_app.c standalone.c doorbell.c \
                  vcpu_loop.c summary.c bench.c vmfunc_guest.c long_mode.c)
# VMFUNC mode maps the gate block's bytes (vmfunc/testbed/gate.S) into the
# guest: the same object the manager links (elisa/manager/vmfunc_host.mk).
VMM_GATE_OBJ := $(VMM_OBJDIR)/vmfunc_gate.o
# The manager-mode attach (vmm_attach_from_manager, vmm_attach_poll,
# vmm_attach_release) is built by elisa/manager/manager.mk, included before
# this file, as $(ELISA_VMM_MANAGER_OBJ) with $(ELISA_VMM_MANAGER_DEPS).
VMM_MANAGER_LINK := $(ELISA_VMM_MANAGER_OBJ) $(ELISA_VMM_MANAGER_DEPS)
VMM_HDRS     := $(wildcard $(VMM_DIR)/*.h) elisa/apps/app.h elisa/apps/app_image.h $(ELISA_GUEST_H) $(VMNET_H)
VMM_OBJS     := $(patsubst $(VMM_DIR)/%.c,$(VMM_OBJDIR)/%.o,$(VMM_SRCS))

$(VMM_OBJDIR):
	mkdir -p $@

$(VMM_OBJDIR)/%.o: $(VMM_DIR)/%.c $(VMM_HDRS) | $(VMM_OBJDIR)
	$(CC) $(CFLAGS) -pthread -Ielisa/apps -Ielisa/vmnet -c -o $@ $<

$(VMM_GATE_OBJ): vmfunc/testbed/gate.S vmfunc/elisa_ids.h | $(VMM_OBJDIR)
	$(CC) -c -o $@ $<

$(VMM_BIN): $(VMM_OBJS) $(VMM_GATE_OBJ) $(VMNET_OBJS) elisa/apps/app_image.o $(ELISA_GUEST_LIB) $(VMM_MANAGER_LINK) \
            $(VMM_DIR)/guest/guest.bin elisa/apps/nop.so elisa/apps/vmnet.so
	$(CC) $(CFLAGS) -pthread -o $@ $(VMM_OBJS) $(VMM_GATE_OBJ) $(VMNET_OBJS) elisa/apps/app_image.o \
	      $(VMM_MANAGER_LINK) $(ELISA_GUEST_LIB)

# --- the guest image ---------------------------------------------------------
VMM_GUEST_DIR    := $(VMM_DIR)/guest
VMM_GUEST_OBJDIR := $(VMM_GUEST_DIR)/obj
VMM_GUEST_C      := $(addprefix $(VMM_GUEST_DIR)/,main.c io.c string.c frames.c pingpong.c nop_bench.c hostile.c)
VMM_GUEST_OBJS   := $(VMM_GUEST_OBJDIR)/entry.o \
                    $(patsubst $(VMM_GUEST_DIR)/%.c,$(VMM_GUEST_OBJDIR)/%.o,$(VMM_GUEST_C)) \
                    $(VMM_GUEST_OBJDIR)/vmnet.o
VMM_GUEST_HDRS   := $(wildcard $(VMM_GUEST_DIR)/*.h) $(VMM_DIR)/vmm_boot.h $(ELISA_GUEST_H) $(VMNET_H)
VMM_GUEST_CFLAGS := $(ELISA_BM_CFLAGS) -Ielisa/vmnet -Ielisa/guest -Ielisa/apps

$(VMM_GUEST_OBJDIR):
	mkdir -p $@

$(VMM_GUEST_OBJDIR)/%.o: $(VMM_GUEST_DIR)/%.c $(VMM_GUEST_HDRS) | $(VMM_GUEST_OBJDIR)
	$(CC) $(VMM_GUEST_CFLAGS) -c -o $@ $<

$(VMM_GUEST_OBJDIR)/entry.o: $(VMM_GUEST_DIR)/entry.S | $(VMM_GUEST_OBJDIR)
	$(CC) $(ELISA_BM_ASFLAGS) -c -o $@ $<

# The guest's side of the switch: the same source, the guest's flags.
$(VMM_GUEST_OBJDIR)/vmnet.o: $(VMNET_SUB_SRC) $(VMNET_H) | $(VMM_GUEST_OBJDIR)
	$(CC) $(VMM_GUEST_CFLAGS) -c -o $@ $<

$(VMM_GUEST_DIR)/guest.elf: $(VMM_GUEST_OBJS) $(ELISA_GUEST_LIB_BM) $(VMM_GUEST_DIR)/guest.ld
	$(CC) -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments \
	      -Wl,-T,$(VMM_GUEST_DIR)/guest.ld -o $@ $(VMM_GUEST_OBJS) $(ELISA_GUEST_LIB_BM) -lgcc

$(VMM_GUEST_DIR)/guest.bin: $(VMM_GUEST_DIR)/guest.elf
	objcopy -O binary $< $@

ALL_TARGETS += $(VMM_BIN) $(VMM_GUEST_DIR)/guest.bin

ELISA_VMM_SUITE := $(VMM_DIR)/test_vmm.sh

CLEAN_FILES += $(VMM_BIN) $(VMM_GUEST_DIR)/guest.elf $(VMM_GUEST_DIR)/guest.bin $(VMM_OBJDIR)/*.o \
               $(VMM_GUEST_OBJDIR)/*.o
