/*
 * elisa/kvm/bochs/guest_code.S - code that kvmguest copies into its KVM
 * guests.  It is data for the host process (section .rodata): never run
 * there.  Two blobs:
 *
 *   guest_code_start..end  copied to EKB_CODE_GPA of every VM; kvmguest
 *       enters at one of the routines below by setting RIP (and the
 *       registers they read) with KVM_SET_REGS.  Each one ends with
 *       OUT to EKB_PORT_REPORT (a KVM_EXIT_IO: kvmguest reads the
 *       registers) and HLT (KVM_EXIT_HLT: no in-kernel irqchip).
 *   sub_code_start..end    the "app" of the sub context, copied to the
 *       manager's page that the sub context maps at EKB_SUB_CODE_VA.
 *
 * All position-independent: copied, they run at other addresses than
 * they were linked at.
 */
#include "layout.h"

        .section .rodata.ekb_guest, "a"
        .balign 64
        .globl  guest_code_start, guest_code_end
        .globl  guest_real, guest_hcall, guest_gate_loop, guest_vmcall_loop, guest_spin_loop
guest_code_start:

/* Real mode (16-bit, what a vCPU starts in): the smallest guest there is.
 * KVM runs it with "unrestricted guest" (SDM Vol. 3C 25.6.2, secondary
 * control bit 7), which Bochs' VMX offers. */
        .code16
guest_real:
        movb    $0x42, %al
        outb    %al, $EKB_PORT_REPORT
        hlt

/* 64-bit mode, CPL 0 (ELISA's hypercalls want both, elisa/kvm/README.md):
 * one VMCALL with the registers kvmguest set (RAX = number, RBX, RCX, RDX,
 * RSI = arguments); kvmguest reads the results at the OUT. */
        .code64
        .balign 16
guest_hcall:
        vmcall
        outb    %al, $EKB_PORT_REPORT
        hlt

/* R12 calls through the gate: elisa_gate_call(a0 = R12 (counting down),
 * a1 = R12 + 0x1000) at R15 (the gate VA).  RBP = the last result, R13/R14
 * = TSC before/after.  The gate preserves RBX, RBP, R12-R15 (SysV
 * callee-saved, gate.S). */
        .balign 16
guest_gate_loop:
        lfence
        rdtsc
        shlq    $32, %rdx
        orq     %rdx, %rax
        movq    %rax, %r13
1:      movq    %r12, %rdi
        leaq    0x1000(%r12), %rsi
        call    *%r15
        movq    %rax, %rbp
        decq    %r12
        jnz     1b
        lfence
        rdtsc
        shlq    $32, %rdx
        orq     %rdx, %rax
        movq    %rax, %r14
        outb    %al, $EKB_PORT_REPORT
        hlt

/* R12 ELISA QUERY hypercalls (a VM exit and KVM's handler each): the
 * exit-based round trip that the gate avoids.  R13/R14 = TSC, RBP = the
 * last RAX (0 if they all succeeded... the last one, at least). */
        .balign 16
guest_vmcall_loop:
        lfence
        rdtsc
        shlq    $32, %rdx
        orq     %rdx, %rax
        movq    %rax, %r13
1:      movl    $0x454c0000, %eax       /* ELISA_HC_QUERY, elisa_hc_check.h */
        xorl    %ebx, %ebx
        xorl    %ecx, %ecx
        xorl    %edx, %edx
        xorl    %esi, %esi
        vmcall
        movq    %rax, %rbp
        decq    %r12
        jnz     1b
        lfence
        rdtsc
        shlq    $32, %rdx
        orq     %rdx, %rax
        movq    %rax, %r14
        outb    %al, $EKB_PORT_REPORT
        hlt
/* R12 iterations of two instructions (DEC, JNZ), timed like the loops
 * above: what one TSC tick is worth in instructions (on Bochs with
 * "clock: sync=none" the TSC follows the instruction count). */
        .balign 16
guest_spin_loop:
        lfence
        rdtsc
        shlq    $32, %rdx
        orq     %rdx, %rax
        movq    %rax, %r13
1:      decq    %r12
        jnz     1b
        lfence
        rdtsc
        shlq    $32, %rdx
        orq     %rdx, %rax
        movq    %rax, %r14
        outb    %al, $EKB_PORT_REPORT
        hlt
guest_code_end:

/*
 * uint64_t sub_entry(uint64_t a0, uint64_t a1): runs in the SUB context,
 * called by the gate's middle page on the sub stack with IF = 0.  It may
 * touch only what that context maps: its own page, the shared page and
 * its stack (the CALL that got here pushed the return address there).
 * It leaves evidence in the shared page, which lives in the MANAGER's RAM
 * (kvmguest reads it there): a1, a call count, a0.  Returns a0 ^ magic so
 * the caller can tell the sub function ran, not something else.
 */
        .balign 64
        .globl  sub_code_start, sub_code_end
sub_code_start:
        movabsq $EKB_SHARED_VA, %rax
        movq    %rsi, EKB_SHARED_LAST_A1(%rax)
        addq    $1, EKB_SHARED_CALLS(%rax)
        movq    %rdi, EKB_SHARED_LAST_A0(%rax)
        movabsq $EKB_SUB_MAGIC, %rax
        xorq    %rdi, %rax
        ret
sub_code_end:

        .section .note.GNU-stack, "", @progbits
