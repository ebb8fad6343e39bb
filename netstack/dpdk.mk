# netstack/dpdk.mk - how netstack compiles against and links DPDK 22.11
# (Debian's libdpdk-dev).
#
# Compiling: pkg-config's flags with -I turned into -isystem, so DPDK's own
# header warnings do not trip our -Werror.  Only netstack/dpdk_port.c uses
# them.  Evaluated lazily (=): libdpdk-dev may be installed by `make deps`
# after this file is read.
DPDK_CFLAGS = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags libdpdk 2>/dev/null))

# Linking: statically, only the libraries we need, so the hook library is
# self-contained and EAL does not load its 128 plugin drivers (~46 MB RSS):
# a static EAL never loads plugins.  `pkg-config --static libdpdk` cannot be
# used (it drags in -lsystemd and every driver's dependencies).
#
# Drivers register themselves from constructors that nothing references:
# they need --whole-archive.  The drivers kept: the vdev bus, memif (two
# DPDK processes back to back), tap (a kernel interface), af_packet (an
# existing kernel interface, e.g. a veth), ring/null (tests), and the ring
# mempool handler (the default one every pktmbuf pool uses).
#
# The .a files are PIC with general-dynamic TLS (checked with readelf -r:
# R_X86_64_TLSGD only), so they link into a shared object that works under
# dlmopen(LM_ID_NEWLM) without needing static TLS space.
# Link with -Wl,--exclude-libs,ALL so none of DPDK's symbols is exported.
DPDK_LIBDIR  := /usr/lib/x86_64-linux-gnu
DPDK_DRIVERS := bus_vdev net_memif net_tap net_af_packet net_ring net_null mempool_ring
DPDK_CORE    := gso ethdev net mbuf mempool ring meter hash rcu pci eal telemetry kvargs
NETSTACK_LDLIBS := -Wl,--whole-archive $(foreach l,$(DPDK_DRIVERS),$(DPDK_LIBDIR)/librte_$(l).a) \
                   -Wl,--no-whole-archive $(foreach l,$(DPDK_CORE),$(DPDK_LIBDIR)/librte_$(l).a) \
                   -lnuma -lbsd -pthread -ldl -lm
