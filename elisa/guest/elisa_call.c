/* elisa/guest/elisa_call.c - the call side of the guest library
 * (elisa_guest.h): set up a context, keep the current one, and enter the
 * sub context in one of the three modes.
 *
 * Freestanding C11: no libc, no string constants.  Built twice (guest.mk):
 *   - for bare-metal guests (-DELISA_GUEST_BAREMETAL, -ffreestanding
 *     -mno-red-zone -mgeneral-regs-only -fno-pic): the current context is
 *     one plain global, because such a guest has one vCPU per image here
 *     and no thread-local storage (nothing sets up FS.base);
 *   - for user space (-fPIC): the current context is _Thread_local, so
 *     each thread of a process (each with its own vCPU binding, e.g. a
 *     netstack poller per queue) can use its own context.
 */
#include "elisa_guest.h"

#include <stddef.h>

#ifdef ELISA_GUEST_BAREMETAL
static const struct elisa_ctx *elisa_current;
#else
static _Thread_local const struct elisa_ctx *elisa_current;
#endif

#define ELISA_PAGE_MASK 0xfffull

/* A 48-bit canonical address: bits 63..47 all equal (Intel SDM Vol. 1,
 * 3.3.7.1 "Canonical Addressing").  A non-canonical gate address would
 * make the call #GP instead of returning an error. */
static int is_canonical48(uint64_t va)
{
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

static int is_usable_page(uint64_t va)
{
    return va != 0 && (va & ELISA_PAGE_MASK) == 0 && is_canonical48(va);
}

static void ctx_clear(struct elisa_ctx *c)
{
    c->mode = ELISA_MODE_NONE;
    c->gate_va = 0;
    c->doorbell = 0;
    c->local_fn = NULL;
    c->local_env = NULL;
}

int elisa_ctx_vmfunc(struct elisa_ctx *c, uint64_t gate_va)
{
    if (c == NULL || !is_usable_page(gate_va))
        return -1;
    ctx_clear(c);
    c->mode = ELISA_MODE_VMFUNC;
    c->gate_va = gate_va;
    return 0;
}

int elisa_ctx_exit(struct elisa_ctx *c, uint64_t mailbox_va, uint16_t doorbell)
{
    /* Port 0 (the legacy DMA controller on a PC, never a doorbell) means
     * the MMIO doorbell in the page after the mailbox: that page must be
     * canonical too. */
    if (c == NULL || !is_usable_page(mailbox_va))
        return -1;
    if (doorbell == ELISA_DOORBELL_MMIO && !is_usable_page(mailbox_va + ELISA_MB_DOORBELL))
        return -1;
    ctx_clear(c);
    c->mode = ELISA_MODE_EXIT;
    c->gate_va = mailbox_va;
    c->doorbell = doorbell;
    return 0;
}

int elisa_ctx_local(struct elisa_ctx *c, elisa_app_fn fn, const struct elisa_sub_env *env)
{
    if (c == NULL || fn == NULL || env == NULL)
        return -1;
    ctx_clear(c);
    c->mode = ELISA_MODE_LOCAL;
    c->local_fn = fn;
    c->local_env = env;
    return 0;
}

/* VMFUNC: the first byte of the gate block is elisa_gate_call
 * (vmfunc/testbed/gate.S), an ordinary SysV function of (a0, a1) in the
 * default context; everything else happens inside it. */
typedef uint64_t (*elisa_gate_fn)(uint64_t fn, uint64_t arg);

uint64_t elisa_ctx_call(const struct elisa_ctx *c, uint64_t fn, uint64_t arg)
{
    if (c == NULL)
        return ELISA_CALL_ENOCTX;
    switch (c->mode) {
    case ELISA_MODE_VMFUNC:
        return ((elisa_gate_fn)(uintptr_t)c->gate_va)(fn, arg);
    case ELISA_MODE_EXIT:
        return elisa_gate_exit_call(c->gate_va, fn, arg, c->doorbell);
    case ELISA_MODE_LOCAL:
        return c->local_fn(fn, arg, c->local_env);
    case ELISA_MODE_NONE:
    default:
        return ELISA_CALL_ENOCTX;
    }
}

void elisa_set_current(const struct elisa_ctx *c)
{
    elisa_current = c;
}

const struct elisa_ctx *elisa_get_current(void)
{
    return elisa_current;
}

uint64_t elisa_call(uint64_t fn, uint64_t arg)
{
    return elisa_ctx_call(elisa_current, fn, arg);
}
