/* elisa/guest/elisa_guest.h - the guest library's call side: how code in a
 * guest enters its sub context.  Freestanding (builds for the kit's
 * bare-metal guests and for user space).
 *
 * Three ways in, same API:
 *   ELISA_MODE_VMFUNC  the 12 KiB gate the manager mapped at gate_va: a call
 *                      to gate_va runs the app in the sub context, no exit.
 *   ELISA_MODE_EXIT    hosts without VMFUNC: the fallback gate (gate_exit.S)
 *                      writes fn/arg into the mailbox page at gate_va and
 *                      rings the doorbell (a store to the gate block's
 *                      second page, which has no memory behind it: an MMIO
 *                      exit; or an OUT to an I/O port); the host
 *                      (elisa/vmm) runs the app on its side and writes the
 *                      result back; one VM exit per call.
 *   ELISA_MODE_LOCAL   no VM at all: the app is called in-process (tests,
 *                      development, the netstack backend run on a host).
 *
 * Mailbox page layout (ELISA_MODE_EXIT), little-endian u64s at gate_va:
 *   +0 fn, +8 arg, +16 result (written by the host), +24 sequence (the
 *   guest increments it before each doorbell; the host echoes it to +32
 *   when it has written the result: a check that the call really ran).
 *   The doorbell carries the new sequence's low 32 bits, either
 *     - doorbell == ELISA_DOORBELL_MMIO (0): a 32-bit store to
 *       gate_va + ELISA_MB_DOORBELL, the second page of the 12 KiB gate
 *       block, where the host maps no memory (KVM_EXIT_MMIO).  Works from
 *       any privilege level, so also where port I/O is refused (this
 *       machine's PVM refuses OUT at CPL 3 whatever RFLAGS.IOPL says);
 *     - doorbell = a port number: a 32-bit OUT to that port (KVM_EXIT_IO).
 *   The host refuses (and elisa/vmm stops the VM for) a doorbell whose
 *   sequence is not the previous one plus 1.
 */
#ifndef ELISA_GUEST_H
#define ELISA_GUEST_H

#include <stdint.h>
#include "../apps/app.h"

enum elisa_mode {
    ELISA_MODE_NONE   = 0,
    ELISA_MODE_VMFUNC = 1,
    ELISA_MODE_EXIT   = 2,
    ELISA_MODE_LOCAL  = 3,
};

#define ELISA_MB_FN     0
#define ELISA_MB_ARG    8
#define ELISA_MB_RESULT 16
#define ELISA_MB_SEQ    24
#define ELISA_MB_ACK    32
#define ELISA_MB_SIZE   40      /* bytes of the page the protocol uses */
#define ELISA_MB_DOORBELL 4096  /* the MMIO doorbell: gate_va + 4 KiB */

#define ELISA_DOORBELL_MMIO 0   /* elisa_ctx.doorbell: ring by MMIO, not a port */

/* Results that do not come from the app (-errno style, like
 * ELISA_APP_ENOFN; apps must not return these two values as results):
 *   ENOCTX   elisa_call with no current context, or a context whose mode
 *            is not one of the three (nothing was called);
 *   ENOHOST  EXIT mode: the doorbell came back but the host did not
 *            acknowledge this sequence (the call did not run). */
#define ELISA_CALL_ENOCTX  ((uint64_t)-107)   /* -ENOTCONN */
#define ELISA_CALL_ENOHOST ((uint64_t)-112)   /* -EHOSTDOWN */

struct elisa_ctx {
    enum elisa_mode mode;
    uint64_t gate_va;          /* VMFUNC: the gate block; EXIT: the mailbox page */
    uint16_t doorbell;         /* EXIT: the I/O port, or ELISA_DOORBELL_MMIO */
    elisa_app_fn local_fn;     /* LOCAL: the app's entry, mapped in this process */
    const struct elisa_sub_env *local_env;
};

/* Set up a context (return 0, or -1 if an argument is impossible: NULL c,
 * a gate/mailbox address that is 0, not page aligned or not canonical
 * (with an MMIO doorbell: nor the page after it), a NULL local function or
 * environment). */
int elisa_ctx_vmfunc(struct elisa_ctx *c, uint64_t gate_va);
int elisa_ctx_exit(struct elisa_ctx *c, uint64_t mailbox_va, uint16_t doorbell);
int elisa_ctx_local(struct elisa_ctx *c, elisa_app_fn fn, const struct elisa_sub_env *env);

/* Enter the sub context of c, run the app's fn with arg, return its result
 * (or ELISA_CALL_ENOCTX / ELISA_CALL_ENOHOST, see above). */
uint64_t elisa_ctx_call(const struct elisa_ctx *c, uint64_t fn, uint64_t arg);

/* The current context of this vCPU (bare metal: one global; user space:
 * per thread) and the call through it: elisa_call(fn, args) of the issue.
 * The context is not copied: it must stay valid while it is current.
 * elisa_set_current(NULL) clears it. */
void elisa_set_current(const struct elisa_ctx *c);
const struct elisa_ctx *elisa_get_current(void);
uint64_t elisa_call(uint64_t fn, uint64_t arg);

/* The fallback gate itself (gate_exit.S), for callers that manage the
 * mailbox themselves (elisa_ctx_call uses it in EXIT mode).  mailbox must
 * be the mapped mailbox page, doorbell the port (low 16 bits used) or
 * ELISA_DOORBELL_MMIO. */
uint64_t elisa_gate_exit_call(uint64_t mailbox_va, uint64_t fn, uint64_t arg, uint64_t doorbell);

#endif
