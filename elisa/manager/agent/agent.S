/*
 * elisa/manager/agent/agent.S - the manager VM's "hypercall agent": the
 * only code that runs in the manager VM (elisa/manager/host_vmfunc.c is its
 * VMM).  It waits for a command in the mailbox page, executes VMCALL with
 * the registers given, stores the results and rings a port-I/O doorbell so
 * that the manager's KVM_RUN returns.  Mailbox layout and memory map:
 * agent_abi.h.
 *
 * Why it exists and why it runs as it does:
 *   - VMCALL is a VMX non-root instruction (Intel SDM Vol. 2B, "VMCALL -
 *     Call to VM Monitor"; Vol. 3C 26.1.3 / 27.1.3 "Instructions That
 *     Cause VM Exits Unconditionally"): only a vCPU can execute it, never
 *     the manager process.
 *   - The ELISA hypercall ABI (elisa/kvm/README.md, elisa_hc_check.h)
 *     accepts calls only from CPL 0 in 64-bit mode, as KVM does for its
 *     own hypercalls (it reads CPL from SS.DPL and the mode from CS.L and
 *     EFER.LMA); and the 64-bit registers carry the arguments.  The
 *     manager starts this vCPU directly in 64-bit mode at CPL 0 through
 *     KVM_SET_SREGS (no boot code), with IF = 0 and no IDT: any exception
 *     becomes a triple fault, KVM_EXIT_SHUTDOWN, which the manager reports.
 *   - The doorbell is OUT, not VMCALL or HLT: an OUT to a port no
 *     in-kernel device claims always exits to user space (KVM_EXIT_IO).
 *
 * Freestanding, position-dependent (linked at ELISA_AGENT_CODE_GPA by
 * agent.ld), no stack used, no data of its own: everything is in
 * registers and the mailbox.  Registers: R15 = mailbox, R14 = the seq being
 * served.
 */
#include "agent_abi.h"

        .code64
        .section .text.agent, "ax"
        .globl  agent_start
agent_start:
        movabsq $ELISA_AGENT_MAILBOX_GPA, %r15
        xorl    %r14d, %r14d            /* done_seq 0: "ready" */
        jmp     ring

serve:
        movq    ELISA_AGENT_MB_SEQ(%r15), %r14
        movq    ELISA_AGENT_MB_KIND(%r15), %r8
        cmpq    $ELISA_AGENT_VMCALL, %r8
        je      do_vmcall
        cmpq    $ELISA_AGENT_ECHO, %r8
        je      do_echo
        jmp     refuse

do_vmcall:
        movq    ELISA_AGENT_MB_RAX(%r15), %rax
        /* Only ELISA's numbers: RAX >> 8 == 0x454c00 (agent_abi.h). */
        movq    %rax, %r9
        shrq    $8, %r9
        cmpq    $ELISA_AGENT_HC_PREFIX, %r9
        jne     refuse
        movq    ELISA_AGENT_MB_RBX(%r15), %rbx
        movq    ELISA_AGENT_MB_RCX(%r15), %rcx
        movq    ELISA_AGENT_MB_RDX(%r15), %rdx
        movq    ELISA_AGENT_MB_RSI(%r15), %rsi
        /* 0F 01 C1.  The patched KVM handles it and resumes here with RAX
         * = 0 or -ELISA_E_*; QUERY also sets RBX, RCX, RDX, RSI. */
        vmcall
        jmp     store

do_echo:
        movq    ELISA_AGENT_MB_RAX(%r15), %rax
        movq    ELISA_AGENT_MB_RBX(%r15), %rbx
        movq    ELISA_AGENT_MB_RCX(%r15), %rcx
        movq    ELISA_AGENT_MB_RDX(%r15), %rdx
        movq    ELISA_AGENT_MB_RSI(%r15), %rsi

store:
        movq    %rax, ELISA_AGENT_MB_OUT_RAX(%r15)
        movq    %rbx, ELISA_AGENT_MB_OUT_RBX(%r15)
        movq    %rcx, ELISA_AGENT_MB_OUT_RCX(%r15)
        movq    %rdx, ELISA_AGENT_MB_OUT_RDX(%r15)
        movq    %rsi, ELISA_AGENT_MB_OUT_RSI(%r15)
        movq    $ELISA_AGENT_RAN, ELISA_AGENT_MB_STATUS(%r15)
        jmp     done

refuse:
        xorl    %eax, %eax
        movq    %rax, ELISA_AGENT_MB_OUT_RAX(%r15)
        movq    %rax, ELISA_AGENT_MB_OUT_RBX(%r15)
        movq    %rax, ELISA_AGENT_MB_OUT_RCX(%r15)
        movq    %rax, ELISA_AGENT_MB_OUT_RDX(%r15)
        movq    %rax, ELISA_AGENT_MB_OUT_RSI(%r15)
        movq    $ELISA_AGENT_REFUSED, ELISA_AGENT_MB_STATUS(%r15)

done:
        /* done_seq last: the manager trusts the results only when it
         * matches (one vCPU, and the manager reads only after the exit, so
         * program order is all that is needed). */
        movq    %r14, ELISA_AGENT_MB_DONE(%r15)

ring:
        movl    %r14d, %eax
        movl    $ELISA_AGENT_PORT, %edx
        outl    %eax, %dx               /* KVM_EXIT_IO: the manager reads the mailbox */
        jmp     serve                   /* re-entered: a new command is there */

        .section .note.GNU-stack, "", @progbits
