/* elisa/manager/agent/agent_abi.h - the manager VM: its physical memory map
 * and the mailbox through which the manager process (the VMM of that VM,
 * elisa/manager/host_vmfunc.c) makes the bare-metal "hypercall agent"
 * (agent.S) issue ELISA hypercalls.  Shared by the agent (assembly: only
 * #defines below the C guard's reach) and by the manager (C).
 *
 * Why an agent at all: the patched KVM (elisa/kvm/README.md) accepts the
 * manager hypercalls only as VMCALL executed by a vCPU of a VM whose VMM
 * gave it the manager role, at CPL 0 in 64-bit mode.  A user process cannot
 * execute VMCALL (it is not in VMX non-root operation), so the manager
 * process runs a tiny VM and asks its one vCPU to do it.
 *
 * One command at a time, no concurrency: the manager writes a command only
 * while the vCPU is stopped outside KVM_RUN, and reads the results only
 * after the agent's doorbell made KVM_RUN return.
 *
 *   manager                                  agent (vCPU, CPL 0, 64-bit)
 *   KVM_RUN                          ->      OUT port, done_seq (0: ready)
 *   (KVM_EXIT_IO) write cmd, seq+1
 *   KVM_RUN                          ->      read cmd; VMCALL (or echo);
 *                                            store status, out_*, done_seq;
 *                                            OUT port, done_seq
 *   (KVM_EXIT_IO) check done_seq, read out_*
 *
 * Mailbox layout (little-endian u64 at ELISA_AGENT_MAILBOX_GPA + offset):
 *   +0   seq        manager: this command's number (previous + 1)
 *   +8   kind       ELISA_AGENT_VMCALL or ELISA_AGENT_ECHO
 *   +16  rax .. +48 rsi   the registers VMCALL gets (RAX, RBX, RCX, RDX, RSI)
 *   +56  done_seq   agent: the seq whose results follow
 *   +64  status     agent: ELISA_AGENT_RAN or ELISA_AGENT_REFUSED
 *   +72  out_rax .. +104 out_rsi   the registers after VMCALL (QUERY
 *                   returns RBX..RSI too), or the inputs echoed
 * The doorbell is a 32-bit OUT to ELISA_AGENT_PORT carrying done_seq's low
 * 32 bits (KVM_EXIT_IO in the manager).
 */
#ifndef ELISA_MANAGER_AGENT_ABI_H
#define ELISA_MANAGER_AGENT_ABI_H

/* ---- the manager VM's physical memory (manager GPAs) ---------------------
 * Slot 0, the agent's 64 KiB at 1 MiB (page 0 is left out so that a stray
 * NULL access in the agent is an exit, not a silent read):           */
#define ELISA_AGENT_BASE_GPA     0x100000
#define ELISA_AGENT_SIZE         0x10000
#define ELISA_AGENT_CODE_GPA     0x100000   /* agent.bin, at most 16 KiB */
#define ELISA_AGENT_CODE_MAX     0x4000
#define ELISA_AGENT_PML4_GPA     0x104000   /* long-mode page tables: identity */
#define ELISA_AGENT_PDPT_GPA     0x105000   /* map of the first 1 GiB in 2 MiB */
#define ELISA_AGENT_PD_GPA       0x106000   /* pages (only the agent touches it) */
#define ELISA_AGENT_GDT_GPA      0x107000
#define ELISA_AGENT_MAILBOX_GPA  0x108000
#define ELISA_AGENT_STACK_TOP    0x110000   /* unused by agent.S; RSP for safety */
/* Slot 1, the page pool (EPT tables, gate copies, app copies, sub stacks,
 * env pages, the anywhere page tables) at 1 GiB; slots 2.. the apps'
 * shared regions, one per GiB from 4 GiB.  All of it is the manager VM's
 * ordinary RAM, as MAP_CTX's ownership check demands. */
#define ELISA_AGENT_POOL_GPA     0x40000000
#define ELISA_AGENT_REGION_GPA   0x100000000
#define ELISA_AGENT_REGION_STEP  0x40000000

/* The doorbell port: "EL", outside every PC device's range. */
#define ELISA_AGENT_PORT         0x454c

/* Mailbox offsets (bytes). */
#define ELISA_AGENT_MB_SEQ       0
#define ELISA_AGENT_MB_KIND      8
#define ELISA_AGENT_MB_RAX       16
#define ELISA_AGENT_MB_RBX       24
#define ELISA_AGENT_MB_RCX       32
#define ELISA_AGENT_MB_RDX       40
#define ELISA_AGENT_MB_RSI       48
#define ELISA_AGENT_MB_DONE      56
#define ELISA_AGENT_MB_STATUS    64
#define ELISA_AGENT_MB_OUT_RAX   72
#define ELISA_AGENT_MB_OUT_RBX   80
#define ELISA_AGENT_MB_OUT_RCX   88
#define ELISA_AGENT_MB_OUT_RDX   96
#define ELISA_AGENT_MB_OUT_RSI   104

/* Command kinds. */
#define ELISA_AGENT_VMCALL       1   /* execute VMCALL with the registers */
#define ELISA_AGENT_ECHO         2   /* no VMCALL: copy the inputs to the outputs
                                        (proves the VM, the mailbox and the
                                        doorbell on a KVM without ELISA) */
/* Status. */
#define ELISA_AGENT_RAN          0
#define ELISA_AGENT_REFUSED      1   /* unknown kind, or RAX outside ELISA's range */

/* The agent executes VMCALL only for RAX in 0x454c0000..0x454c00ff
 * (elisa_hc_check.h ELISA_HC_BASE..ELISA_HC_LAST): RAX >> 8 must equal
 * this.  So the manager cannot be tricked into issuing one of KVM's own
 * hypercalls (KVM_HC_*), whatever a bug in it writes. */
#define ELISA_AGENT_HC_PREFIX    0x454c00

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

struct elisa_agent_cmd {
    uint64_t kind;
    uint64_t reg[5];          /* RAX, RBX, RCX, RDX, RSI */
};

struct elisa_agent_result {
    uint64_t status;
    uint64_t reg[5];          /* RAX, RBX, RCX, RDX, RSI after the call */
};

/* The rule the agent applies (agent.S), for the manager's side of it. */
static inline bool elisa_agent_cmd_valid(const struct elisa_agent_cmd *c)
{
    if (c->kind == ELISA_AGENT_ECHO)
        return true;
    return c->kind == ELISA_AGENT_VMCALL && (c->reg[0] >> 8) == ELISA_AGENT_HC_PREFIX;
}

/* Write command SEQ into the mailbox page MB (ELISA_AGENT_MAILBOX_GPA's
 * bytes), and read the agent's answer: 0, or -1 if the mailbox does not
 * hold the answer to SEQ (the agent did not run it). */
void elisa_agent_mb_write(volatile uint64_t *mb, uint64_t seq, const struct elisa_agent_cmd *c);
int elisa_agent_mb_read(const volatile uint64_t *mb, uint64_t seq, struct elisa_agent_result *r);
#endif

#endif
