/*
 * vmnet_attach.h - how a process finds its ELISA vmnet port (elisa/vmnet)
 * and the way into the sub context that runs the switch, from the
 * application's environment.  Used by netstack/vmnet_port.c (the vmnet
 * device, ZP_NET_DEVICE=vmnet).
 *
 * Two views of the same memory, as in ELISA: the "guest" side (this
 * process's data path) touches only its own port area, through
 * vmnet_guest_put/get; the switch (elisa/apps/vmnet.so, run in the sub
 * context) sees the whole region and is reached only through
 * elisa_ctx_call(ELISA_VMNET_TX).
 *
 * ZP_ELISA_MODE picks how (default local):
 *
 *   local    no VM: the app runs in this process (elisa/guest LOCAL mode),
 *            on a region file that several processes map (one per port).
 *              ZP_VMNET_REGION  the whole region, a file made by
 *                               netstack/tools/vmnet-region create
 *              ZP_VMNET_PORT    this process's port number
 *              ZP_VMNET_APP     the vmnet app, elisa/apps/vmnet.so (loaded
 *                               with elisa_app_load + elisa_app_map_exec)
 *            The app's env is { the region's mapping, its size, the port }.
 *            The port area is mapped a second time from the same file at
 *            the port's offset: the data path uses only that view.  The
 *            port is locked (an OFD lock on its first byte in the file)
 *            while attached: a second process on the same port is refused
 *            (its rings have one writer per side).
 *
 *   vmfunc   in an ELISA guest: the manager mapped the 12 KiB gate and
 *            this port's area; calls cross with VMFUNC, no VM exit.
 *              ZP_ELISA_GATE         the gate's virtual address (page-aligned)
 *              ZP_ELISA_GATE_FILE    optional: map the gate there from this
 *                                    file (e.g. /dev/mem, a UIO map) at
 *              ZP_ELISA_GATE_OFFSET  this offset (default 0); without
 *                                    ZP_ELISA_GATE_FILE the gate must
 *                                    already be mapped at ZP_ELISA_GATE
 *              ZP_VMNET_AREA         the file holding this port's area
 *              ZP_VMNET_AREA_OFFSET  its offset in that file (default 0)
 *
 *   exit     in a guest without VMFUNC (elisa/vmm's exit-based fallback):
 *            one VM exit per call through a mailbox page and a doorbell.
 *              ZP_ELISA_MAILBOX         the file holding the mailbox page
 *              ZP_ELISA_MAILBOX_OFFSET  its offset (default 0)
 *              ZP_ELISA_DOORBELL        the I/O port (ioperm: needs root)
 *              ZP_VMNET_AREA, ZP_VMNET_AREA_OFFSET  as for vmfunc
 *
 * In vmfunc and exit mode the port number is read from the area itself
 * (the manager wrote it there); the switch takes it from the sub
 * context's env, never from the guest.
 *
 * Numbers are decimal or 0x-hexadecimal.  Offsets must be page-aligned.
 */
#ifndef EXITLESS_NETSTACK_VMNET_ATTACH_H
#define EXITLESS_NETSTACK_VMNET_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#include "elisa_guest.h"
#include "vmnet.h"

struct ns_vmnet_attach {
	enum elisa_mode mode;
	struct vmnet_guest_port gp;     /* this port's area, validated */
	uint32_t port;                  /* its number (the MAC is derived from it) */
	struct elisa_ctx ctx;           /* elisa_ctx_call(&ctx, ELISA_VMNET_TX, 0) */
	struct elisa_sub_env env;       /* local: what the app is given */
	/* local: the whole region (the switch's view), for its counters */
	void *region;
	uint64_t region_size;
	int region_fd;                  /* local: holds the port's lock; -1 if none */
	/* mappings to undo at detach */
	void *area_map;
	size_t area_map_len;
	void *app_map;
	size_t app_map_len;
	void *gate_map;                 /* only if mapped here (ZP_ELISA_GATE_FILE) */
	void *mailbox_map;
	char describe[16];              /* "vmnet-local" ...: ns_port_info.driver */
};

/*
 * Attach from the environment (see above).  A is filled in place and must
 * not move afterwards (ctx points at A->env).  Returns 0, or -1 with one
 * line in ERR naming the setting at fault and what to do; nothing stays
 * mapped then.
 */
int ns_vmnet_attach(const char *(*getenv_fn)(const char *), struct ns_vmnet_attach *a,
                    char *err, size_t errlen);

/* The switch's counters of this port (local mode only: elsewhere the
 * guest cannot see switch memory).  0, or -1 if not available. */
int ns_vmnet_switch_stats(const struct ns_vmnet_attach *a, struct vmnet_port_stats *out);

/* Unmap everything ns_vmnet_attach mapped. */
void ns_vmnet_detach(struct ns_vmnet_attach *a);

#endif
