/*
 * vmfunc/testbed/guest.S - guest code for the VMX bring-up tests.
 *
 * The guest runs in 64-bit mode with the host's page tables, GDT and IDT
 * (vmx.c); every test routine ends with a VMCALL the host recognises by
 * RAX (HC_* in tests.h).  VMCALL in VMX non-root operation always exits
 * (Intel SDM Vol. 3C 26.1.2 "Instructions That Cause VM Exits
 * Unconditionally"), basic exit reason 18 (Appendix C).
 */
#include "hc.h"

        .text
/* guest_vmcall_test: one VMCALL "ping" with a value the host increments,
 * then "done" with the answer in RBX. */
        .globl  guest_vmcall_test
guest_vmcall_test:
        movq    $HC_PING, %rax
        movq    $0x1234, %rbx
        vmcall
        /* The host resumed us after the VMCALL with RBX + 1. */
        movq    $HC_DONE, %rax
        vmcall
        ud2                             /* never resumed after HC_DONE */

/* ---- VMFUNC that must exit (Intel SDM Vol. 3C 26.5.5.2 "General
 * Operation of the VMFUNC Instruction", 26.5.5.3 "EPTP Switching": VM exit
 * with basic reason 59 if EAX names a VM function that is not enabled, if
 * ECX >= 512, or if the list entry ECX is not a valid EPTP).  Each routine
 * does one VMFUNC at a global label so the host can compare the guest RIP
 * of the exit; if the VMFUNC does not exit, HC_DONE reports it. */
        .globl  guest_vmfunc_index_512
        .globl  guest_vmfunc_index_512_site
guest_vmfunc_index_512:
        xorl    %eax, %eax
        movl    $512, %ecx
guest_vmfunc_index_512_site:
        vmfunc
        movq    $HC_DONE, %rax
        movq    $0xBAD, %rbx
        vmcall
        ud2

        .globl  guest_vmfunc_index_empty
        .globl  guest_vmfunc_index_empty_site
guest_vmfunc_index_empty:              /* entry 3 of the list is 0: not a valid EPTP */
        xorl    %eax, %eax
        movl    $3, %ecx
guest_vmfunc_index_empty_site:
        vmfunc
        movq    $HC_DONE, %rax
        movq    $0xBAD, %rbx
        vmcall
        ud2

        .globl  guest_vmfunc_leaf1
        .globl  guest_vmfunc_leaf1_site
guest_vmfunc_leaf1:                    /* VM function 1 is not enabled */
        movl    $1, %eax
        xorl    %ecx, %ecx
guest_vmfunc_leaf1_site:
        vmfunc
        movq    $HC_DONE, %rax
        movq    $0xBAD, %rbx
        vmcall
        ud2

/* ---- entering the gate elsewhere than at its entry ------------------- */
/* (a) A jump from the default context into the gate's middle page: the page
 * is not mapped in the default context, so the instruction fetch causes an
 * EPT violation (exit reason 48, qualification bit 2 "instruction fetch"). */
        .globl  guest_jump_into_middle
guest_jump_into_middle:
        movabsq $elisa_gate_middle, %rax
        jmp     *%rax

/* (b) VMFUNC(0, GATE) from ordinary guest code instead of from the end of
 * the gate's top page: the switch itself succeeds, but the next
 * instruction (at this routine's next RIP) is fetched in the gate context,
 * whose page table (the anywhere root) maps only the gate block and the
 * sub-context pages: a page fault, whose delivery needs the guest's IDT,
 * which is not mapped there either: #PF -> #DF -> triple fault, a VM exit
 * with basic reason 2 (Intel SDM Vol. 3C 26.2 "Other Causes of VM Exits",
 * "Triple fault"). */
        .globl  guest_vmfunc_gate_elsewhere
        .globl  guest_vmfunc_gate_elsewhere_site
guest_vmfunc_gate_elsewhere:
        cli
        xorl    %eax, %eax
        movl    $1, %ecx                /* VMF_CTX_GATE */
guest_vmfunc_gate_elsewhere_site:
        vmfunc
        movq    $HC_DONE, %rax          /* never reached */
        movq    $0xBAD, %rbx
        vmcall
        ud2

/* ---- instruction counts -----------------------------------------------
 * uint64_t guest_count_*(void): the RDTSC difference around one piece of
 * code.  Under Bochs with "clock: sync=none" the time-stamp counter
 * advances by one per instruction (docs/VMFUNC.md), so
 * count(piece) - count(empty) is the number of instructions in the piece.
 * The start value is kept in R12/R13 (callee-saved: the sub function, the
 * gate and the host's exit path preserve them). */
        .macro  COUNT_BEGIN
        pushq   %r12
        pushq   %r13
        rdtsc
        movl    %eax, %r12d
        movl    %edx, %r13d
        .endm
        .macro  COUNT_END
        rdtsc
        shlq    $32, %rdx
        orq     %rdx, %rax
        shlq    $32, %r13
        orq     %r13, %r12
        subq    %r12, %rax
        popq    %r13
        popq    %r12
        ret
        .endm

        .globl  guest_count_empty
guest_count_empty:
        COUNT_BEGIN
        COUNT_END

        .globl  guest_count_nop100
guest_count_nop100:                     /* 100 NOPs: checks one tick per instruction */
        COUNT_BEGIN
        .rept   100
        nop
        .endr
        COUNT_END

        .globl  guest_count_elisa
guest_count_elisa:                      /* CALL elisa_gate_call and everything up to its RET */
        xorl    %edi, %edi
        xorl    %esi, %esi
        COUNT_BEGIN
        call    elisa_gate_call
        COUNT_END

        .globl  guest_count_vmcall
guest_count_vmcall:                     /* MOV $HC_NOP, VMCALL, the host's handling, VMRESUME */
        COUNT_BEGIN
        movl    $HC_NOP, %eax
        vmcall
        COUNT_END

/* uint64_t guest_count_call(uint64_t fn, uint64_t arg, target): the
 * RDTSC difference around CALL target(fn, arg) and everything up to its
 * RET, counted like guest_count_elisa (target = elisa_gate_call) so that
 * the gate and the exit path (target = guest_exit_call) are measured the
 * same way.  The target waits in R11: COUNT_BEGIN uses only RAX, RDX,
 * R12 and R13, and RDI/RSI reach the target untouched. */
        .globl  guest_count_call
guest_count_call:
        movq    %rdx, %r11
        COUNT_BEGIN
        call    *%r11
        COUNT_END

/* ---- the exit-based path into an app ----------------------------------
 * uint64_t guest_exit_call(uint64_t fn, uint64_t arg): what a guest does
 * where VMFUNC is not available (elisa/guest's ELISA_MODE_EXIT, here with
 * a VMCALL): fn and arg stay in RDI and RSI, the VMCALL exits (reason 18),
 * the host calls the same app entry with this vCPU's env and resumes after
 * the VMCALL with the result in RAX. */
        .globl  guest_exit_call
guest_exit_call:
        movl    $HC_APP, %eax
        vmcall
        ret

/* No executable stack wanted (GNU ld warns without this note). */
        .section .note.GNU-stack, "", @progbits
