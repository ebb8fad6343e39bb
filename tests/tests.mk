# tests/ - every test suite of the kit.
#
#   make test   deps + build + all suites below; exits non-zero if any fails.
#
# Suites (each prints one closing line `<suite>: N passed, M failed`):
#   tests/unit/test_rewrite       cmocka unit tests of the syscall finder
#                                 (zpoline/rewrite.h) on synthetic code
#   tests/unit/test_nsock         cmocka: the socket layer on lwIP over an
#                                 in-process wire (hooklib/netstack/sock.mk)
#   tests/out/test_events         epoll/poll/select/ns_wait logic
#   tests/unit/test_ptrace_marshal  cmocka: the ptrace mechanism's table of
#                                 pointer arguments and its copies
#   netstack/fuzz/fuzz_rx         the receive path under ASan+UBSan: a corpus
#                                 of malformed frames + 1,000,000 mutations
#   tests/unit/test_elf           cmocka: the ELF and #! parsers, the stack
#   tests/unit/test_vmfunc        cmocka: EPT/EPTP/ELISA-context builders
#                                 against hand-checked tables (vmfunc/)
#   loaders/elf/fuzz/fuzz_elf     the ELF/#! parsers under ASan+UBSan:
#                                 real programs as seeds + 1,000,000 mutations
#   loaders/elf/test_zpload.sh    the raw loader (zpload --no-hook) vs execve
#   tests/unit/test_vmnet         cmocka: elisa/vmnet, the switch in shared
#                                 memory, with hostile guests (ASan+UBSan)
#   elisa/vmnet/fuzz/fuzz_vmnet   1,000,000 switch operations, one port hostile
#   tests/unit/test_elisa_proto   cmocka: the manager/guest negotiation protocol
#   elisa/proto/proto_fuzz        its decoder: 1,000,000 mutations, chunked input
#   tests/unit/test_elisa_hc      cmocka: the ELISA hypercalls' argument checks
#                                 and EPT translation (elisa/kvm)
#   make elisa-kvm                the KVM patch applies to linux-source-6.1 and
#                                 kvm.ko/kvm-intel.ko compile (not loadable here)
#   vmfunc/testbed/run.sh         a bare-metal VMX/EPT/VMFUNC testbed booted
#                                 headless in Bochs (Intel CPU model): the
#                                 ELISA round trip, no exits, isolation
#   tests/loaders/run.sh          static, static-pie, dynamic, busybox-static
#                                 and Go programs under zprun --loader:
#                                 counts vs strace -f -c, byte-identical output
#   tests/integration/run.sh      programs under libzpoline + hook libraries,
#                                 compared with ground truth (native runs,
#                                 strace, counts known by construction)
#   loaders/test_zprun.sh, loaders/ptrace/test_zptrace.sh, hooklib/selftest/run.sh
#   tests/mechanisms/run.sh       the count and pass-through hooks behind each
#                                 zprun --mechanism: the same calls, exactly
#   tests/netstack/test_datapath.sh   nsecho over net_tap, net_af_packet, net_memif
#   tests/netstack/test_events.sh     evtest natively, under zpoline, under preload
#   tests/netstack/test_redis.sh      Redis end to end (tap, memif, af_packet,
#                                     bad configurations)
#
# Integration programs and their helper libraries are built into tests/out/
# (ignored by git); the unit test binary sits next to its source.

TEST_OUT := tests/out

# --- unit ---------------------------------------------------------------
# The finder is linked from its object file; libopcodes is the disassembler.
TEST_UNIT_BINS := tests/unit/test_rewrite

tests/unit/test_rewrite: tests/unit/test_rewrite.c zpoline/rewrite.o zpoline/rewrite.h
	$(CC) $(CFLAGS) -o $@ tests/unit/test_rewrite.c zpoline/rewrite.o zpoline/mem.o -Wl,--exclude-libs,ALL -l:libopcodes.a -liberty -lcmocka

# --- integration ---------------------------------------------------------
# One C program per idea; see the comment at the top of each source.
TEST_INTEGRATION_PROGS := getpid_modes redzone vector_state signals enosys jit_getpid \
                          null_call page_zero syscall_mix small_stack
TEST_INTEGRATION_BINS := $(addprefix $(TEST_OUT)/,$(TEST_INTEGRATION_PROGS))
# Shared objects: a library the getpid test dlopen()s, and a hook library
# that deliberately clobbers vector/x87 registers.
# hook_clobber_novector.so is the same hook falsely claiming ZPHOOK_NO_VECTOR
# (a negative control: the vector test must catch it).
TEST_INTEGRATION_LIBS := $(TEST_OUT)/libgetpid_dl.so $(TEST_OUT)/hook_clobber.so $(TEST_OUT)/hook_upstream.so \
                         $(TEST_OUT)/hook_clobber_novector.so

$(TEST_OUT):
	mkdir -p $@

$(TEST_OUT)/getpid_modes: tests/integration/getpid_modes.c tests/integration/testutil.h | $(TEST_OUT)
	$(CC) $(CFLAGS) -pthread -o $@ $< -ldl

$(TEST_OUT)/%: tests/integration/%.c tests/integration/testutil.h | $(TEST_OUT)
	$(CC) $(CFLAGS) -pthread -o $@ $<

$(TEST_OUT)/libgetpid_dl.so: tests/integration/getpid_dl.c | $(TEST_OUT)
	$(CC) $(CFLAGS) $(SO_FLAGS) -o $@ $<

$(TEST_OUT)/hook_clobber.so: tests/integration/hook_clobber.c hooklib/zphook.h | $(TEST_OUT)
	$(CC) $(CFLAGS) $(SO_FLAGS) -Ihooklib -o $@ $<

# Built as an upstream zpoline hook would be: no exitless header at all.
$(TEST_OUT)/hook_upstream.so: tests/integration/hook_upstream.c | $(TEST_OUT)
	$(CC) $(CFLAGS) $(SO_FLAGS) -o $@ $<

$(TEST_OUT)/hook_clobber_novector.so: tests/integration/hook_clobber.c hooklib/zphook.h | $(TEST_OUT)
	$(CC) $(CFLAGS) $(SO_FLAGS) -Ihooklib -DHOOK_CLAIMS_NO_VECTOR -o $@ $<

# The signal-based mechanisms' checks beyond counting (tests/mechanisms/run.sh).
$(TEST_OUT)/mech_check: tests/mechanisms/mech_check.c | $(TEST_OUT)
	$(CC) $(CFLAGS) -pthread -o $@ $<

TEST_TARGETS := $(TEST_UNIT_BINS) $(TEST_INTEGRATION_BINS) $(TEST_INTEGRATION_LIBS) \
                $(TEST_OUT)/mech_check
CLEAN_FILES += $(TEST_TARGETS)

# Suites other parts keep next to their code.  Unit tests and the fuzz
# driver are programs; the rest are scripts.  The netstack suites need root
# (network namespaces, DPDK, page 0), as `make test` does anyway.
TEST_OTHER_UNITS  := tests/unit/test_nsock tests/out/test_events tests/unit/test_ptrace_marshal \
                     $(ELF_TEST_UNITS) $(VMFUNC_TEST_UNITS) $(VMNET_TEST_UNITS) \
                     $(ELISA_PROTO_TEST_UNITS) $(ELISA_HC_TEST_UNITS) $(ELISA_APPS_TEST_UNITS) \
                     $(ELISA_GUEST_TEST_UNITS) $(ELISA_MANAGER_TEST_UNITS) $(ELISA_VMFUNC_HOST_TEST_UNITS)
TEST_OTHER_SUITES := loaders/test_zprun.sh $(ELF_TEST_SUITES) loaders/ptrace/test_zptrace.sh hooklib/selftest/run.sh \
                     tests/mechanisms/run.sh \
                     tests/netstack/test_datapath.sh tests/netstack/test_events.sh \
                     tests/netstack/test_redis.sh $(VMFUNC_TESTBED_SUITE) $(ELISA_VMM_SUITE) \
                     $(ELISA_MANAGER_SUITE) $(ELISA_VMFUNC_HOST_SUITE)

# Every suite runs even if an earlier one failed; the exit status says
# whether all passed.
test: deps all $(TEST_TARGETS) $(TEST_OTHER_UNITS) $(NETSTACK_FUZZ) $(ELF_FUZZ) $(VMNET_FUZZ) $(ELISA_PROTO_FUZZ) \
      $(ELISA_APPS_FUZZ) tests/out/evtest $(VMFUNC_TESTBED_ISO)
	@rc=0; \
	echo "== unit: tests/unit/test_rewrite"; \
	tests/unit/test_rewrite || rc=1; \
	for unit in $(TEST_OTHER_UNITS); do \
	  echo "== unit: $$unit"; $$unit || rc=1; \
	done; \
	echo "== fuzz: $(NETSTACK_FUZZ) $(NETSTACK_FUZZ_ARGS)"; \
	$(NETSTACK_FUZZ) $(NETSTACK_FUZZ_ARGS) || rc=1; \
	echo "== fuzz: $(ELF_FUZZ) $(ELF_FUZZ_ARGS)"; \
	$(ELF_FUZZ) $(ELF_FUZZ_ARGS) || rc=1; \
	echo "== fuzz: $(VMNET_FUZZ) $(VMNET_FUZZ_ARGS)"; \
	$(VMNET_FUZZ) $(VMNET_FUZZ_ARGS) || rc=1; \
	echo "== fuzz: $(ELISA_PROTO_FUZZ) $(ELISA_PROTO_FUZZ_ARGS)"; \
	$(ELISA_PROTO_FUZZ) $(ELISA_PROTO_FUZZ_ARGS) || rc=1; \
	echo "== fuzz: $(ELISA_APPS_FUZZ) $(ELISA_APPS_FUZZ_ARGS)"; \
	$(ELISA_APPS_FUZZ) $(ELISA_APPS_FUZZ_ARGS) || rc=1; \
	echo "== compile check: make elisa-kvm (the ELISA KVM patch on linux-source-6.1)"; \
	$(MAKE) -s --no-print-directory elisa-kvm || rc=1; \
	echo "== integration: tests/integration/run.sh"; \
	bash tests/integration/run.sh || rc=1; \
	for suite in $(TEST_OTHER_SUITES); do \
	  echo "== $$suite"; bash $$suite || rc=1; \
	done; \
	if [ $$rc = 0 ]; then echo "make test: all suites passed"; \
	else echo "make test: FAILED"; fi; \
	exit $$rc
