/*
 * vmfunc/testbed/gate.S - the ELISA gate block: 12 KiB of code, three pages,
 * that take a guest from its default EPT context through the gate context
 * into the sub context, call one host-approved function there, and bring it
 * back (ELISA, ASPLOS 2023, section 4.2; the contexts are built by
 * vmfunc/elisa_ctx.h: indexes DEFAULT 0, GATE 1, SUB 2 of the EPTP list).
 *
 * Written to be reused as is by elisa/ (a guest kernel module or a
 * bare-metal guest): it depends on nothing but these symbols, and on the
 * host having mapped the three pages at the same guest-virtual address in
 * all three contexts as elisa_ctx.h describes:
 *
 *   uint64_t elisa_gate_call(uint64_t a0, uint64_t a1);
 *       SysV ABI.  Runs sub_entry(a0, a1, sub_env) in the sub context and
 *       returns its result.  Callee-saved registers are preserved;
 *       RFLAGS.IF is restored to the caller's value on return.
 *   elisa_gate_top / _middle / _bottom    the three page-aligned pages
 *   elisa_gate_sub_entry (8 bytes, in the middle page)
 *       the sub-context address of the app's entry,
 *       uint64_t entry(uint64_t fn, uint64_t arg,
 *                      const struct elisa_sub_env *env)   (elisa/apps/app.h);
 *   elisa_gate_sub_stack (8 bytes, in the middle page)
 *       the sub-context address of the top of a stack (16-byte aligned)
 *       mapped read/write in the sub context;
 *   elisa_gate_sub_env (8 bytes, in the middle page)
 *       the sub-context address of this vCPU's struct elisa_sub_env (where
 *       the shared region is, which port is the caller's), in sub-context
 *       private data; passed to the entry as its third argument (RDX).
 * The variables live in the middle page, which the guest cannot read or
 * write (it is empty in the default context and read/execute elsewhere):
 * only the host fills them in, through the page's host-physical address.
 * So the guest chooses fn and arg, never the code, the stack or the env.
 *
 * The path, page by page (VMFUNC leaf 0 = EPTP switching, EAX = 0, ECX =
 * EPTP-list index: Intel SDM Vol. 3C 26.5.5.3 "EPTP Switching"; the
 * instruction loads the new EPTP and execution continues at the next RIP
 * in the new context, no VM exit):
 *
 *   top page (default context): save registers and RFLAGS, CLI (from here
 *       on no interrupt may arrive: the gate and sub contexts do not map the
 *       guest's IDT), VMFUNC(0, GATE) as the last 3 bytes of the page.
 *   middle page (empty in default; mapped in the gate and sub contexts):
 *       the next instruction is fetched in the GATE context from the first
 *       byte of this page.  CLI again (the gate itself guarantees IF = 0,
 *       whatever path led here), VMFUNC(0, SUB); switch to the sub stack;
 *       load the env pointer; call sub_entry; back to the guest's stack;
 *       VMFUNC(0, DEFAULT) as the last 3 bytes of the page.
 *   bottom page (default context): the next instruction is fetched in the
 *       DEFAULT context from the first byte of this page: restore RFLAGS
 *       (and so IF) and registers, return the result.
 *
 * Registers across the VMFUNCs: EAX and ECX carry the VMFUNC operands, so
 * the result travels in RDX; the guest's RSP waits in RBX, which the sub
 * function preserves (SysV callee-saved).  The guest's stack is never
 * touched in the gate or sub context (it is not mapped there).
 */

/* EPTP-list indexes, shared with the context builders. */
#include "../elisa_ids.h"
#define ELISA_CTX_DEFAULT VMF_CTX_DEFAULT
#define ELISA_CTX_GATE    VMF_CTX_GATE
#define ELISA_CTX_SUB     VMF_CTX_SUB

#define PAGE 4096

        .section .elisa_gate, "ax"
        .balign PAGE

/* ---------------------------------------------------------------- top */
        .globl  elisa_gate_top
        .globl  elisa_gate_call
elisa_gate_top:
elisa_gate_call:
        pushq   %rbp
        pushq   %rbx
        pushfq                          /* the caller's IF, restored in the bottom page */
        cli
        movq    %rsp, %rbx              /* the guest's stack, found again before returning */
        xorl    %eax, %eax              /* VM function 0: EPTP switching */
        movl    $ELISA_CTX_GATE, %ecx
        jmp     elisa_gate_top_vmfunc
        /* Fill to the last 3 bytes with int3 (never executed). */
        .org    elisa_gate_top + PAGE - 3, 0xCC
        .globl  elisa_gate_top_vmfunc
elisa_gate_top_vmfunc:
        vmfunc                          /* 0F 01 D4; next fetch: middle page, GATE context */

/* ------------------------------------------------------------- middle */
        .globl  elisa_gate_middle
elisa_gate_middle:
        cli
        xorl    %eax, %eax
        movl    $ELISA_CTX_SUB, %ecx
        vmfunc                          /* -> SUB context; this page is mapped there too */
        movq    elisa_gate_sub_stack(%rip), %rsp
        /* The third argument, loaded here in the sub context (RDX was free:
         * the result travels in it only after the call). */
        movq    elisa_gate_sub_env(%rip), %rdx
        call    *elisa_gate_sub_entry(%rip)    /* RDI, RSI: the caller's fn and arg */
        movq    %rax, %rdx
        movq    %rbx, %rsp
        xorl    %eax, %eax
        movl    $ELISA_CTX_DEFAULT, %ecx
        jmp     elisa_gate_middle_vmfunc

        .balign 8
        .globl  elisa_gate_sub_entry
        .globl  elisa_gate_sub_stack
        .globl  elisa_gate_sub_env
elisa_gate_sub_entry:
        .quad   0
elisa_gate_sub_stack:
        .quad   0
elisa_gate_sub_env:
        .quad   0

        .org    elisa_gate_middle + PAGE - 3, 0xCC
        .globl  elisa_gate_middle_vmfunc
elisa_gate_middle_vmfunc:
        vmfunc                          /* next fetch: bottom page, DEFAULT context */

/* ------------------------------------------------------------- bottom */
        .globl  elisa_gate_bottom
elisa_gate_bottom:
        movq    %rdx, %rax
        popfq                           /* IF as the caller had it */
        popq    %rbx
        popq    %rbp
        ret
        .org    elisa_gate_bottom + PAGE, 0xCC
        .globl  elisa_gate_end
elisa_gate_end:

/* No executable stack wanted (GNU ld warns without this note). */
        .section .note.GNU-stack, "", @progbits
