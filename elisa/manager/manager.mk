# elisa/manager/ - the ELISA manager and its operator tool, elisactl
# (elisa/manager/README.md); the guest library's negotiation client
# (elisa/guest/negotiate.c) and the VMM's attach through the manager
# (elisa/vmm/vmm_manager.c) are built here too.
#
#   elisa/manager/elisactl        start/stop the manager (a daemon), enable,
#                                 disable, list
#   elisa/manager/mgr_probe       test tool: a guest, a host and hostile peers
#                                 against a running manager (test_manager.sh)
#   tests/unit/test_elisa_manager_state    cmocka: guests, contexts, ports,
#                                 permissions, sessions (ASan+UBSan)
#   tests/unit/test_elisa_manager_link     cmocka: the host link's messages,
#                                 every bad field, mutations, fd passing
#   tests/unit/test_elisa_manager_scrub    cmocka: a freed vmnet port comes
#                                 back clean (rings, header, MAC entries)
#   tests/unit/test_elisa_manager_options  cmocka: `elisactl start` options
#   elisa/manager/test_manager.sh the suite on 127.0.0.1 (ELISA_MANAGER_SUITE)
#
# For programs that call vmm_attach_from_manager (elisa-vmm): link
# $(ELISA_VMM_MANAGER_OBJ) and $(ELISA_VMM_MANAGER_DEPS).  For programs that
# only negotiate (a guest's user space, the netstack backend): link
# $(ELISA_NEGOTIATE_OBJ) and $(ELISA_PROTO_OBJ).
#
# Objects go to elisa/manager/obj/.

ELISA_MGR_DIR    := elisa/manager
ELISA_MGR_OBJDIR := $(ELISA_MGR_DIR)/obj
ELISA_MGR_H      := $(wildcard $(ELISA_MGR_DIR)/*.h) $(ELISA_PROTO_H) elisa/guest/negotiate.h \
                    elisa/apps/app.h elisa/apps/app_image.h $(VMNET_H) elisa/vmm/attach.h
ELISA_MGR_SRCS   := $(addprefix $(ELISA_MGR_DIR)/,state.c session.c options.c link_msg.c apps.c \
                      port_scrub.c server.c daemon.c)
ELISA_MGR_OBJS   := $(patsubst $(ELISA_MGR_DIR)/%.c,$(ELISA_MGR_OBJDIR)/%.o,$(ELISA_MGR_SRCS))
ELISA_NEGOTIATE_OBJ    := $(ELISA_MGR_OBJDIR)/negotiate.o
# vmm_manager.c lives with the VMM it serves (elisa/vmm/vmm.mk links the
# object built here).
ELISA_VMM_MANAGER_SRC  := elisa/vmm/vmm_manager.c
ELISA_VMM_MANAGER_OBJ  := $(ELISA_MGR_OBJDIR)/vmm_manager.o
ELISA_VMM_MANAGER_DEPS := $(ELISA_MGR_OBJDIR)/link_msg.o $(ELISA_NEGOTIATE_OBJ) $(ELISA_PROTO_OBJ)
ELISA_CTL        := $(ELISA_MGR_DIR)/elisactl
ELISA_MGR_PROBE  := $(ELISA_MGR_DIR)/mgr_probe
ELISA_MGR_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

$(ELISA_MGR_OBJDIR):
	mkdir -p $@

$(ELISA_MGR_OBJDIR)/%.o: $(ELISA_MGR_DIR)/%.c $(ELISA_MGR_H) | $(ELISA_MGR_OBJDIR)
	$(CC) $(CFLAGS) -c -o $@ $<

$(ELISA_NEGOTIATE_OBJ): elisa/guest/negotiate.c $(ELISA_MGR_H) | $(ELISA_MGR_OBJDIR)
	$(CC) $(CFLAGS) -c -o $@ $<

$(ELISA_VMM_MANAGER_OBJ): $(ELISA_VMM_MANAGER_SRC) $(ELISA_MGR_H) | $(ELISA_MGR_OBJDIR)
	$(CC) $(CFLAGS) -c -o $@ $<

$(ELISA_CTL): $(ELISA_MGR_DIR)/elisactl.c $(ELISA_MGR_OBJS) $(ELISA_NEGOTIATE_OBJ) $(ELISA_PROTO_OBJ) \
              $(VMNET_OBJS) elisa/apps/app_image.o $(ELISA_MGR_H)
	$(CC) $(CFLAGS) -o $@ $(ELISA_MGR_DIR)/elisactl.c $(ELISA_MGR_OBJS) $(ELISA_NEGOTIATE_OBJ) \
	      $(ELISA_PROTO_OBJ) $(VMNET_OBJS) elisa/apps/app_image.o

$(ELISA_MGR_PROBE): $(ELISA_MGR_DIR)/mgr_probe.c $(ELISA_VMM_MANAGER_OBJ) $(ELISA_VMM_MANAGER_DEPS) \
                    $(VMNET_OBJS) elisa/apps/app_image.o $(ELISA_MGR_H)
	$(CC) $(CFLAGS) -o $@ $(ELISA_MGR_DIR)/mgr_probe.c $(ELISA_VMM_MANAGER_OBJ) \
	      $(ELISA_VMM_MANAGER_DEPS) $(VMNET_OBJS) elisa/apps/app_image.o

ALL_TARGETS += $(ELISA_CTL) $(ELISA_MGR_PROBE)

# --- tests ----------------------------------------------------------------------
# The units compile the code under test themselves, with the sanitizers.
tests/unit/test_elisa_manager_state: tests/unit/test_elisa_manager_state.c \
        $(ELISA_MGR_DIR)/state.c $(ELISA_MGR_DIR)/session.c $(ELISA_PROTO_SRC) $(ELISA_MGR_H)
	$(CC) $(CFLAGS) $(ELISA_MGR_SAN) -o $@ tests/unit/test_elisa_manager_state.c \
	      $(ELISA_MGR_DIR)/state.c $(ELISA_MGR_DIR)/session.c $(ELISA_PROTO_SRC) -lcmocka

tests/unit/test_elisa_manager_link: tests/unit/test_elisa_manager_link.c \
        $(ELISA_MGR_DIR)/link_msg.c $(ELISA_PROTO_SRC) $(ELISA_MGR_H)
	$(CC) $(CFLAGS) $(ELISA_MGR_SAN) -o $@ tests/unit/test_elisa_manager_link.c \
	      $(ELISA_MGR_DIR)/link_msg.c $(ELISA_PROTO_SRC) -lcmocka

tests/unit/test_elisa_manager_scrub: tests/unit/test_elisa_manager_scrub.c \
        $(ELISA_MGR_DIR)/port_scrub.c $(VMNET_SRC) $(ELISA_MGR_H)
	$(CC) $(CFLAGS) -fno-tree-loop-distribute-patterns $(ELISA_MGR_SAN) -o $@ \
	      tests/unit/test_elisa_manager_scrub.c $(ELISA_MGR_DIR)/port_scrub.c $(VMNET_SRC) -lcmocka

tests/unit/test_elisa_manager_options: tests/unit/test_elisa_manager_options.c \
        $(ELISA_MGR_DIR)/options.c $(ELISA_MGR_DIR)/link_msg.c elisa/guest/negotiate.c \
        $(ELISA_PROTO_SRC) $(ELISA_MGR_H)
	$(CC) $(CFLAGS) $(ELISA_MGR_SAN) -o $@ tests/unit/test_elisa_manager_options.c \
	      $(ELISA_MGR_DIR)/options.c $(ELISA_MGR_DIR)/link_msg.c elisa/guest/negotiate.c \
	      $(ELISA_PROTO_SRC) -lcmocka

ELISA_MANAGER_TEST_UNITS := tests/unit/test_elisa_manager_state tests/unit/test_elisa_manager_link \
                            tests/unit/test_elisa_manager_scrub tests/unit/test_elisa_manager_options
# Needs: $(ELISA_CTL) $(ELISA_MGR_PROBE) $(ELISA_APPS).
ELISA_MANAGER_SUITE := $(ELISA_MGR_DIR)/test_manager.sh

CLEAN_FILES += $(ELISA_CTL) $(ELISA_MGR_PROBE) $(ELISA_MGR_OBJDIR)/*.o $(ELISA_MANAGER_TEST_UNITS)
