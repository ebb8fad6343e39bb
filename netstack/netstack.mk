# netstack/ - the user-space TCP/IP stack: lwIP's core over one network
# device, chosen at run time (ZP_NET_DEVICE=dpdk, the default, or vmnet).
#
#   NETSTACK_OBJS     our objects (-fPIC): the stack, lwIP's netif, the device
#                     selection (port_select.c) and both devices: DPDK and
#                     the ELISA vmnet port (NETSTACK_VMNET_OBJS, rules in
#                     netstack/vmnet.mk)
#   NETSTACK_LDLIBS   how to link DPDK into an executable or shared object
#                     (netstack/dpdk.mk); link $(LWIP_LIB) before it
#   netstack/tools/nsecho      TCP+UDP echo on port 7 (and --client mode) on
#                              the raw API: the data path without sockets
#   netstack/fuzz/fuzz_rx      deterministic fuzz driver of the receive path
#                              (gcc, ASan+UBSan); `make netstack-fuzz-run`
#   netstack/fuzz/fuzz_rx_libfuzzer   the same target for libFuzzer (clang)
#   make netstack-test         tests/netstack/test_datapath.sh (root, netns)
include netstack/lwip.mk
include netstack/dpdk.mk

NETSTACK_H := netstack/port.h netstack/port_devices.h netstack/stack.h netstack/netif_port.h $(LWIP_HEADERS)
# Our code: -Werror; lwIP's headers through -isystem (their warnings are not ours).
NETSTACK_INC    := -Inetstack -Inetstack/lwip -isystem $(LWIP_SRC)/include
NETSTACK_CFLAGS := $(CFLAGS) -std=gnu11 -fPIC -fvisibility=hidden $(NETSTACK_INC)

# The vmnet device: our two files and an archive of the ELISA code they run
# on (the switch's guest side, the app loader, the guest library), compiled
# again -fPIC into build/netstack-vmnet/ because it ends up inside
# libzphook_netstack.so, whose --exclude-libs,ALL then hides it.  Named here
# because the rules that link NETSTACK_OBJS are read before
# netstack/vmnet.mk (which has their rules).
NETSTACK_VMNET_OBJS := netstack/vmnet_port.o netstack/vmnet_attach.o build/netstack-vmnet/libelisa_pic.a

NETSTACK_OBJS := netstack/stack.o netstack/netif_port.o netstack/tcp_isn.o netstack/port_select.o \
                 netstack/dpdk_port.o $(NETSTACK_VMNET_OBJS)

netstack/stack.o netstack/netif_port.o netstack/tcp_isn.o: netstack/%.o: netstack/%.c $(NETSTACK_H) $(LWIP_STAMP)
	$(CC) $(NETSTACK_CFLAGS) -c $< -o $@

# Neither DPDK nor lwIP: only the device tables.
netstack/port_select.o: netstack/port_select.c netstack/port.h netstack/port_devices.h
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -Inetstack -c $< -o $@

# The only DPDK file: no lwIP includes.
netstack/dpdk_port.o: netstack/dpdk_port.c netstack/port.h netstack/port_devices.h netstack/stack.h
	$(CC) $(CFLAGS) -std=gnu11 -fPIC -fvisibility=hidden -Inetstack $(DPDK_CFLAGS) -c $< -o $@

# --- nsecho ----------------------------------------------------------------
NSECHO := netstack/tools/nsecho
$(NSECHO): netstack/tools/nsecho.c $(NETSTACK_OBJS) $(LWIP_LIB) $(NETSTACK_H)
	$(CC) $(NETSTACK_CFLAGS) -o $@ $< $(NETSTACK_OBJS) $(LWIP_LIB) $(NETSTACK_LDLIBS)


ALL_TARGETS += $(NSECHO)
CLEAN_FILES += $(NETSTACK_OBJS)

# --- fuzz harness of the receive path ------------------------------------------
# fuzz_rx.c (the harness) + port_mem.c (port.h in memory) + our netif and
# stack code + lwIP, all compiled with the sanitizers (lwIP too, so its own
# faults are caught; its objects go to build/lwip/{asan,libfuzzer}).
#   netstack/fuzz/fuzz_rx             gcc, ASan+UBSan, deterministic driver
#   netstack/fuzz/fuzz_rx_libfuzzer   clang, libFuzzer+ASan (needs clang)
#   make netstack-fuzz-run            runs the deterministic driver (~15 s)
NETSTACK_FUZZ      := netstack/fuzz/fuzz_rx
NETSTACK_LIBFUZZER := netstack/fuzz/fuzz_rx_libfuzzer
NETSTACK_FUZZ_SRC  := netstack/fuzz/fuzz_rx.c netstack/fuzz/port_mem.c netstack/netif_port.c netstack/stack.c \
                      netstack/tcp_isn.c
NETSTACK_FUZZ_H    := netstack/fuzz/fuzz_rx.h netstack/fuzz/port_mem.h $(NETSTACK_H) tests/fuzz_driver.h
NETSTACK_FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
NETSTACK_FUZZ_ARGS ?= 1000000 1 15

LWIP_ASAN_OBJS := $(addprefix $(LWIP_DIR)/asan/,$(addsuffix .o,$(LWIP_CORE)))
LWIP_LIBFUZZER_OBJS := $(addprefix $(LWIP_DIR)/libfuzzer/,$(addsuffix .o,$(LWIP_CORE)))

$(LWIP_DIR)/asan/%.o: $(LWIP_STAMP) $(LWIP_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -w $(NETSTACK_FUZZ_SAN) $(LWIP_INCLUDE) -c $(LWIP_SRC)/$*.c -o $@

$(LWIP_DIR)/libfuzzer/%.o: $(LWIP_STAMP) $(LWIP_HEADERS)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -O1 -g -w -fsanitize=fuzzer-no-link,address $(LWIP_INCLUDE) -c $(LWIP_SRC)/$*.c -o $@

$(NETSTACK_FUZZ): netstack/fuzz/fuzz_main.c $(NETSTACK_FUZZ_SRC) $(NETSTACK_FUZZ_H) $(LWIP_ASAN_OBJS)
	$(CC) $(CFLAGS) -std=gnu11 -O1 $(NETSTACK_FUZZ_SAN) $(NETSTACK_INC) -Inetstack/fuzz -o $@ \
	      netstack/fuzz/fuzz_main.c $(NETSTACK_FUZZ_SRC) $(LWIP_ASAN_OBJS) -pthread

$(NETSTACK_LIBFUZZER): netstack/fuzz/fuzz_libfuzzer.c $(NETSTACK_FUZZ_SRC) $(NETSTACK_FUZZ_H) $(LWIP_LIBFUZZER_OBJS)
	clang $(CFLAGS) -std=gnu11 -O1 -fsanitize=fuzzer,address $(NETSTACK_INC) -Inetstack/fuzz -o $@ \
	      netstack/fuzz/fuzz_libfuzzer.c $(NETSTACK_FUZZ_SRC) $(LWIP_LIBFUZZER_OBJS) -pthread

.PHONY: netstack-fuzz-run netstack-libfuzzer netstack-test
netstack-fuzz-run: $(NETSTACK_FUZZ)
	$(NETSTACK_FUZZ) $(NETSTACK_FUZZ_ARGS)

netstack-libfuzzer: $(NETSTACK_LIBFUZZER)

# The data path over net_tap, net_af_packet and net_memif (root: netns).
netstack-test: $(NSECHO)
	bash tests/netstack/test_datapath.sh

CLEAN_FILES += $(NETSTACK_FUZZ) $(NETSTACK_LIBFUZZER)
