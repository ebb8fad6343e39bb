# hooklib/netstack/netstack.mk - libzphook_netstack.so: unmodified programs
# on lwIP over DPDK (`loaders/zprun --hook netstack -- prog`).
#
#   NSHOOK_OBJS    the hook's own objects: zphook_init and the dispatch
#                  (netstack_hook.c), blocking waits (wait.c), epoll
#                  (epoll.c), poll/select (poll_select.c)
#   hooklib/libzphook_netstack.so   those + the socket layer ($(NSOCK_OBJS),
#                  hooklib/netstack/sock.mk) + the stack ($(NETSTACK_OBJS),
#                  netstack/netstack.mk) + lwIP ($(LWIP_LIB)) + DPDK
#                  ($(NETSTACK_LDLIBS)), in one self-contained object
#
# Needs netstack/netstack.mk and hooklib/netstack/sock.mk included before it.
#
# -z defs: an undefined symbol is a link error, not a failure at dlmopen.
# --exclude-libs,ALL: nothing from lwIP's and DPDK's archives is exported;
# with -fvisibility=hidden only zphook_init remains visible.

NSHOOK_SRC  := hooklib/netstack/netstack_hook.c hooklib/netstack/wait.c \
               hooklib/netstack/epoll.c hooklib/netstack/poll_select.c
NSHOOK_OBJS := $(NSHOOK_SRC:.c=.o)
NSHOOK_H    := hooklib/zphook.h hooklib/netstack/nsock.h hooklib/netstack/events.h netstack/stack.h
NSHOOK_CFLAGS := $(CFLAGS) -std=gnu11 -fPIC -fvisibility=hidden \
                 -Ihooklib -Ihooklib/netstack -Inetstack

$(NSHOOK_OBJS): hooklib/netstack/%.o: hooklib/netstack/%.c $(NSHOOK_H)
	$(CC) $(NSHOOK_CFLAGS) -c $< -o $@

hooklib/libzphook_netstack.so: $(NSHOOK_OBJS) $(NSOCK_OBJS) $(NETSTACK_OBJS) $(LWIP_LIB)
	$(CC) -shared -fPIC -Wl,-z,defs -Wl,-z,now -Wl,--exclude-libs,ALL -o $@ \
	      $(NSHOOK_OBJS) $(NSOCK_OBJS) $(NETSTACK_OBJS) $(LWIP_LIB) $(NETSTACK_LDLIBS)

ALL_TARGETS += hooklib/libzphook_netstack.so

# --- tests of the waiting side -------------------------------------------------
#   tests/out/test_events   tests/netstack/test_events.c: epoll/poll/select/
#                           ns_wait over a fake socket layer (no lwIP, no
#                           device): interest lists, triggers, timeouts, wake-ups
#   tests/out/evtest        tests/netstack/evtest.c: the same semantics over a
#                           pipe + real TCP sockets; natively the ground truth,
#                           under the hook (--connect to a native peer) the check
#   make test-netstack-events   build both, run test_events and evtest natively
NSHOOK_EVENTS_SRC := hooklib/netstack/epoll.c hooklib/netstack/wait.c hooklib/netstack/poll_select.c
NSHOOK_TESTS := tests/out/test_events tests/out/evtest

tests/out/test_events: tests/netstack/test_events.c $(NSHOOK_EVENTS_SRC) $(NSHOOK_H)
	@mkdir -p tests/out
	$(CC) $(CFLAGS) -std=gnu11 -Ihooklib -Ihooklib/netstack -Inetstack -pthread -o $@ \
	      tests/netstack/test_events.c $(NSHOOK_EVENTS_SRC)

tests/out/evtest: tests/netstack/evtest.c
	@mkdir -p tests/out
	$(CC) $(CFLAGS) -std=gnu11 -pthread -o $@ $<

.PHONY: test-netstack-events
test-netstack-events: $(NSHOOK_TESTS)
	tests/out/test_events
	tests/out/evtest

CLEAN_FILES += $(NSHOOK_OBJS) $(NSHOOK_TESTS)
