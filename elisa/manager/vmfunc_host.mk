# elisa/manager/vmfunc_host.mk - `elisactl start --host vmfunc`: the manager
# VM, its hypercall agent, the GATE/SUB contexts (elisa/manager/README.md, "Host kind vmfunc").
# Include after elisa/vmm/vmm.mk (it needs manager.mk's variables and
# vmfunc.mk's libvmfunc.o).
#
#   elisa/manager/agent/agent.bin   the agent: freestanding 64-bit code linked
#                                   at 1 MiB (agent.ld), a flat binary; the rule
#                                   fails if it has undefined symbols, lacks
#                                   the VMCALL (0f 01 c1) or exceeds 16 KiB
#   tests/unit/test_elisa_vmfunc_host   cmocka: contexts walked, translated by
#                                   elisa/kvm's checks, mailbox encoding, the
#                                   agent run on /dev/kvm (ECHO) when it can
#   elisa/manager/test_vmfunc_host.sh   the suite (ELISA_VMFUNC_HOST_SUITE)
#
# elisactl gets host_vmfunc.o etc. by appending to ELISA_MGR_OBJS (its link
# recipe expands that variable late) and by an extra prerequisite line.

HV_DIR       := elisa/manager
HV_AGENT_DIR := $(HV_DIR)/agent
HV_AGENT_BIN := $(HV_AGENT_DIR)/agent.bin
HV_AGENT_ELF := $(HV_AGENT_DIR)/agent.elf
HV_OBJDIR    := $(HV_DIR)/obj
HV_H         := $(HV_DIR)/host_vmfunc.h $(HV_DIR)/vmfunc_installs.h $(HV_AGENT_DIR)/agent_abi.h $(VMFUNC_H) \
                $(ELISA_HC_H) elisa/apps/app.h $(HV_DIR)/state.h
HV_OWN_OBJS  := $(HV_OBJDIR)/host_vmfunc.o $(HV_OBJDIR)/host_vmfunc_ctx.o $(HV_OBJDIR)/vmfunc_installs.o \
                $(HV_OBJDIR)/long_mode.o $(HV_OBJDIR)/agent_blob.o \
                $(HV_OBJDIR)/vmfunc_gate.o $(HV_OBJDIR)/elisa_hc_check.o
HV_OBJS      := $(HV_OWN_OBJS) vmfunc/libvmfunc.o

$(HV_AGENT_ELF): $(HV_AGENT_DIR)/agent.S $(HV_AGENT_DIR)/agent_abi.h $(HV_AGENT_DIR)/agent.ld
	$(CC) -c -o $(HV_AGENT_DIR)/agent.o $(HV_AGENT_DIR)/agent.S
	ld -nostdlib -static -T $(HV_AGENT_DIR)/agent.ld -o $@ $(HV_AGENT_DIR)/agent.o
	@rm -f $(HV_AGENT_DIR)/agent.o

$(HV_AGENT_BIN): $(HV_AGENT_ELF)
	objcopy -O binary $< $@
	@undef=$$(nm -u $<); if [ -n "$$undef" ]; then \
	  echo "agent: undefined symbols: $$undef"; rm -f $@; exit 1; fi; \
	if ! od -An -tx1 -v $@ | tr -d '\n' | grep -q ' 0f 01 c1'; then \
	  echo "agent: no VMCALL (0f 01 c1) in $@"; rm -f $@; exit 1; fi; \
	size=$$(stat -c %s $@); if [ "$$size" -gt 16384 ]; then \
	  echo "agent: $@ is $$size bytes, more than 16 KiB"; rm -f $@; exit 1; fi

$(HV_OBJDIR)/agent_blob.o: $(HV_AGENT_DIR)/agent_blob.S $(HV_AGENT_BIN) | $(ELISA_MGR_OBJDIR)
	$(CC) -c -Wa,-I,$(HV_AGENT_DIR) -o $@ $<

# The gate block's bytes (copied into the manager VM's pool, never run here).
$(HV_OBJDIR)/vmfunc_gate.o: vmfunc/testbed/gate.S vmfunc/elisa_ids.h | $(ELISA_MGR_OBJDIR)
	$(CC) -c -o $@ $<

# The 64-bit vCPU setup shared with elisa-vmm (elisa/vmm/long_mode.h).
$(HV_OBJDIR)/long_mode.o: elisa/vmm/long_mode.c elisa/vmm/long_mode.h | $(ELISA_MGR_OBJDIR)
	$(CC) $(CFLAGS) -c -o $@ $<

$(HV_OBJDIR)/host_vmfunc.o: elisa/vmm/long_mode.h

# elisa/kvm's checks: the same translation the host runs on MAP_CTX (the
# unit test uses it on the contexts).
$(HV_OBJDIR)/elisa_hc_check.o: $(ELISA_HC_SRC) $(ELISA_HC_H) | $(ELISA_MGR_OBJDIR)
	$(CC) $(CFLAGS) -ffreestanding -c -o $@ $<

$(HV_OBJDIR)/host_vmfunc.o $(HV_OBJDIR)/host_vmfunc_ctx.o $(HV_OBJDIR)/vmfunc_installs.o: $(HV_H)

ELISA_MGR_OBJS += $(HV_OBJS)
$(ELISA_CTL): $(HV_OBJS)

tests/unit/test_elisa_vmfunc_host: tests/unit/test_elisa_vmfunc_host.c $(HV_OBJS) $(HV_H)
	$(CC) $(CFLAGS) -o $@ tests/unit/test_elisa_vmfunc_host.c $(HV_OBJS) -lcmocka

ELISA_VMFUNC_HOST_TEST_UNITS := tests/unit/test_elisa_vmfunc_host
# Needs: $(ELISA_CTL) elisa/apps/nop.so $(ELISA_VMFUNC_HOST_TEST_UNITS).
ELISA_VMFUNC_HOST_SUITE := $(HV_DIR)/test_vmfunc_host.sh

ALL_TARGETS += $(HV_AGENT_BIN)
CLEAN_FILES += $(HV_AGENT_BIN) $(HV_AGENT_ELF) $(HV_OWN_OBJS) $(ELISA_VMFUNC_HOST_TEST_UNITS)
