# hooklib/netstack/sock.mk - the socket layer's AF_INET sockets on lwIP
# (fd table, TCP/UDP glue, the socket system calls) and its unit test.
# Included by the top-level Makefile after netstack/lwip.mk (needs
# LWIP_SRC, LWIP_LIB, LWIP_STAMP, LWIP_HEADERS).
#
#   NSOCK_OBJS           objects for hooklib/libzphook_netstack.so
#   tests/unit/test_nsock  cmocka tests on lwIP over an in-process wire
#   make test-nsock      build and run that test
#
# lwIP's headers come in with -isystem (its code is not ours to warn about);
# they were checked not to clash with <sys/socket.h>/<netinet/in.h>/
# <netinet/tcp.h>.  No file here includes DPDK headers.

NSOCK_DIR     := hooklib/netstack
NSOCK_SRC     := $(addprefix $(NSOCK_DIR)/,fdtable.c sock_tcp.c sock_udp.c sock_calls.c sock_io.c sock_opts.c)
NSOCK_OBJS    := $(NSOCK_SRC:.c=.o)
NSOCK_HEADERS := $(NSOCK_DIR)/nsock.h $(NSOCK_DIR)/sock.h netstack/stack.h
NSOCK_CFLAGS  := -std=gnu11 -O2 -g -fPIC -fvisibility=hidden -Wall -Wextra -Werror \
                 -D_GNU_SOURCE -Ihooklib -Inetstack/lwip -isystem $(LWIP_SRC)/include

$(NSOCK_OBJS): $(NSOCK_DIR)/%.o: $(NSOCK_DIR)/%.c $(NSOCK_HEADERS) $(LWIP_STAMP) $(LWIP_HEADERS)
	$(CC) $(NSOCK_CFLAGS) -c $< -o $@

NSOCK_TEST := tests/unit/test_nsock

$(NSOCK_TEST): tests/unit/test_nsock.c $(NSOCK_OBJS) $(NSOCK_HEADERS) $(LWIP_LIB) netstack/tcp_isn.o
	$(CC) $(NSOCK_CFLAGS) -pthread -o $@ tests/unit/test_nsock.c $(NSOCK_OBJS) netstack/tcp_isn.o $(LWIP_LIB) -lcmocka

.PHONY: test-nsock
test-nsock: $(NSOCK_TEST)
	$(NSOCK_TEST)

CLEAN_FILES += $(NSOCK_OBJS) $(NSOCK_TEST)
