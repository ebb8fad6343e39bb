# netstack/vmnet.mk - the netstack's vmnet device (ZP_NET_DEVICE=vmnet):
# the stack's frames through one port of an ELISA virtual switch
# (elisa/vmnet), transmitted with one elisa_call per burst.  Included after
# elisa/*.mk (it compiles their sources) and after netstack/netstack.mk,
# which puts NETSTACK_VMNET_OBJS into NETSTACK_OBJS (so nsecho and
# hooklib/libzphook_netstack.so carry the device).
#
#   netstack/vmnet_port.o, vmnet_attach.o   the device and how it attaches
#                                 (local / vmfunc / exit: netstack/vmnet_attach.h)
#   build/netstack-vmnet/libelisa_pic.a   elisa/vmnet/vmnet.c, vmnet_err.c,
#                                 elisa/apps/app_image.c, elisa/guest/elisa_call.c
#                                 and gate_exit.S, compiled -fPIC
#                                 -fvisibility=hidden; an archive, so that the
#                                 hook library's --exclude-libs,ALL hides the
#                                 assembly's global symbol too
#   netstack/tools/vmnet-region   make / inspect a region file
#                                 (create FILE --ports N, info, stats)
#   make netstack-vmnet-test      tests/netstack/test_vmnet.sh (root: netns):
#                                 nsecho and Redis over a 2-port region in
#                                 local mode
#
# The sub-context app the device loads in local mode is elisa/apps/vmnet.so
# (elisa/apps/apps.mk); the test builds it.

NETSTACK_VMNET_BUILD := build/netstack-vmnet
NETSTACK_VMNET_INC   := -Inetstack -Ielisa/vmnet -Ielisa/apps -Ielisa/guest
NETSTACK_VMNET_H     := netstack/port.h netstack/port_devices.h netstack/vmnet_attach.h \
                        $(VMNET_H) $(ELISA_APP_H) $(ELISA_GUEST_H)
# The same flags as the owners' user-space builds, plus -fPIC and hidden
# symbols; vmnet.c keeps its no-memcpy/no-jump-table flags (VMNET_CFLAGS).
NETSTACK_VMNET_PIC   := -fPIC -fvisibility=hidden

netstack/vmnet_port.o netstack/vmnet_attach.o: netstack/%.o: netstack/%.c $(NETSTACK_VMNET_H)
	$(CC) $(CFLAGS) $(NETSTACK_VMNET_PIC) $(NETSTACK_VMNET_INC) -c $< -o $@

$(NETSTACK_VMNET_BUILD)/vmnet.o $(NETSTACK_VMNET_BUILD)/vmnet_err.o: $(NETSTACK_VMNET_BUILD)/%.o: elisa/vmnet/%.c $(VMNET_H)
	@mkdir -p $(dir $@)
	$(CC) $(VMNET_CFLAGS) $(NETSTACK_VMNET_PIC) -c $< -o $@

$(NETSTACK_VMNET_BUILD)/app_image.o: elisa/apps/app_image.c $(ELISA_APP_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(NETSTACK_VMNET_PIC) -c $< -o $@

$(NETSTACK_VMNET_BUILD)/elisa_call.o: elisa/guest/elisa_call.c $(ELISA_GUEST_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -ffreestanding $(NETSTACK_VMNET_PIC) -c $< -o $@

$(NETSTACK_VMNET_BUILD)/gate_exit.o: elisa/guest/gate_exit.S
	@mkdir -p $(dir $@)
	$(CC) -fPIC -c $< -o $@

NETSTACK_VMNET_ELISA_OBJS := $(addprefix $(NETSTACK_VMNET_BUILD)/,vmnet.o vmnet_err.o app_image.o elisa_call.o gate_exit.o)

$(NETSTACK_VMNET_BUILD)/libelisa_pic.a: $(NETSTACK_VMNET_ELISA_OBJS)
	rm -f $@ && ar rcs $@ $^

CLEAN_FILES += $(NETSTACK_VMNET_ELISA_OBJS)

# --- the region tool ------------------------------------------------------------
NETSTACK_VMNET_REGION := netstack/tools/vmnet-region

$(NETSTACK_VMNET_REGION): netstack/tools/vmnet_region.c $(VMNET_OBJS) $(VMNET_H)
	$(CC) $(CFLAGS) -Ielisa/vmnet -o $@ netstack/tools/vmnet_region.c $(VMNET_OBJS)

ALL_TARGETS += $(NETSTACK_VMNET_REGION)
CLEAN_FILES += $(NETSTACK_VMNET_REGION)

# --- the test ---------------------------------------------------------------------
# For `make test`: tests/tests.mk sets TEST_OTHER_SUITES after this file is
# read, so the suite is named here for tests/netstack/netstack.mk to add.
NETSTACK_VMNET_SUITE := tests/netstack/test_vmnet.sh

.PHONY: netstack-vmnet-test
netstack-vmnet-test: $(NSECHO) $(NETSTACK_VMNET_REGION) hooklib/libzphook_netstack.so loaders/zprun \
                     elisa/apps/vmnet.so elisa/apps/nop.so
	bash tests/netstack/test_vmnet.sh
