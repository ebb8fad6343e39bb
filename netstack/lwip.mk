# netstack/lwip.mk - lwIP's core, compiled from Debian's lwip source package
# with exitless's own netstack/lwip/lwipopts.h, into build/lwip/liblwipcore.a.
#
# The source is fetched at build time into build/lwip/src (see
# netstack/fetch_lwip.sh) and never committed.  It is compiled with -fPIC
# because it ends up inside hooklib/libzphook_netstack.so, and without -Werror
# because it is not our code.  Our include directory comes first, so lwIP
# finds our lwipopts.h and arch/cc.h.

LWIP_DIR     := build/lwip
LWIP_SRC     := $(LWIP_DIR)/src/src
LWIP_STAMP   := $(LWIP_DIR)/src/src/core/tcp.c
LWIP_LIB     := $(LWIP_DIR)/liblwipcore.a
LWIP_INCLUDE := -Inetstack/lwip -I$(LWIP_SRC)/include
LWIP_CFLAGS  := -std=gnu11 -O2 -g -fPIC -fvisibility=hidden -Wall $(LWIP_INCLUDE)
LWIP_HEADERS := netstack/lwip/lwipopts.h netstack/lwip/arch/cc.h netstack/lwip/lwip_hooks.h

# The part of lwIP's core a NO_SYS=1, IPv4-only raw-API stack needs.
LWIP_CORE := core/init core/def core/inet_chksum core/ip core/mem core/memp core/netif \
             core/pbuf core/tcp core/tcp_in core/tcp_out core/timeouts core/udp core/raw \
             core/stats core/sys core/ipv4/etharp core/ipv4/icmp core/ipv4/ip4 \
             core/ipv4/ip4_addr core/ipv4/ip4_frag netif/ethernet
LWIP_OBJS := $(addprefix $(LWIP_DIR)/obj/,$(addsuffix .o,$(LWIP_CORE)))

$(LWIP_STAMP): netstack/fetch_lwip.sh
	bash netstack/fetch_lwip.sh $(LWIP_DIR)
	touch $@

$(LWIP_DIR)/obj/%.o: $(LWIP_STAMP) $(LWIP_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(LWIP_CFLAGS) -c $(LWIP_SRC)/$*.c -o $@

$(LWIP_LIB): $(LWIP_OBJS)
	rm -f $@
	ar rcs $@ $^

.PHONY: lwip
lwip: $(LWIP_LIB)
