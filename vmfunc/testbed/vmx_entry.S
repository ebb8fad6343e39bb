/*
 * vmfunc/testbed/vmx_entry.S - enter the guest, come back on a VM exit.
 *
 *   int vmx_enter(struct guest_regs *regs, int launched);
 *
 * Loads the guest's general registers from *regs (RSP, RIP and RFLAGS come
 * from the VMCS guest-state area, Intel SDM Vol. 3C 25.4.1 "Guest Register
 * State"), then VMLAUNCH (launched == 0) or VMRESUME.  A VM exit loads the
 * host state (Intel SDM Vol. 3C 28.5 "Loading Host State"): RSP = the value
 * written to HOST_RSP below and RIP = vmx_exit_stub, with every general
 * register other than RSP still holding the guest's value.  The stub saves
 * them into *regs and returns 0.
 *
 * If VMLAUNCH/VMRESUME fails as an instruction it falls through with
 * RFLAGS.CF = 1 (VMfailInvalid) or RFLAGS.ZF = 1 (VMfailValid, error number
 * in the VM-instruction error field) (Intel SDM Vol. 3C 31.2 "Conventions",
 * 31.4 "VM Instruction Error Numbers"); we return 1 or 2.
 *
 * struct guest_regs (vmx.h): rax rbx rcx rdx rsi rdi rbp r8 ... r15, 8 bytes
 * each, in that order.
 */
#define R_RAX   0
#define R_RBX   8
#define R_RCX   16
#define R_RDX   24
#define R_RSI   32
#define R_RDI   40
#define R_RBP   48
#define R_R8    56
#define R_R9    64
#define R_R10   72
#define R_R11   80
#define R_R12   88
#define R_R13   96
#define R_R14   104
#define R_R15   112

#define VMCS_HOST_RSP 0x6C14            /* Intel SDM Vol. 3C Appendix B.4.4 */

        .text
        .globl  vmx_enter
vmx_enter:
        /* Callee-saved registers of the SysV ABI: the guest will clobber them. */
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        pushq   %rdi                    /* regs, found again at 8(%rsp) on exit */
        pushq   %rsi                    /* launched flag, at 0(%rsp) */

        /* HOST_RSP = this RSP, so the exit stub finds the two words above. */
        movq    $VMCS_HOST_RSP, %rax
        vmwrite %rsp, %rax

        /* Guest registers; rdi (the pointer) last. */
        movq    R_RAX(%rdi), %rax
        movq    R_RBX(%rdi), %rbx
        movq    R_RCX(%rdi), %rcx
        movq    R_RDX(%rdi), %rdx
        movq    R_RSI(%rdi), %rsi
        movq    R_RBP(%rdi), %rbp
        movq    R_R8(%rdi), %r8
        movq    R_R9(%rdi), %r9
        movq    R_R10(%rdi), %r10
        movq    R_R11(%rdi), %r11
        movq    R_R12(%rdi), %r12
        movq    R_R13(%rdi), %r13
        movq    R_R14(%rdi), %r14
        movq    R_R15(%rdi), %r15
        movq    R_RDI(%rdi), %rdi

        /* CMP changes only the host's RFLAGS; the guest's come from the VMCS. */
        cmpq    $0, (%rsp)
        jne     1f
        vmlaunch
        jmp     2f
1:      vmresume
2:
        /* Still here: the instruction failed.  Keep CF/ZF, restore, return. */
        pushfq
        popq    %rax
        addq    $16, %rsp                       /* launched flag, regs */
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        testq   $1, %rax                        /* CF: VMfailInvalid */
        jnz     3f
        movl    $2, %eax                        /* ZF: VMfailValid */
        ret
3:      movl    $1, %eax
        ret

        .globl  vmx_exit_stub
vmx_exit_stub:
        /* RSP = HOST_RSP: 0(%rsp) launched flag, 8(%rsp) regs. */
        pushq   %rdi                            /* guest rdi */
        movq    16(%rsp), %rdi                  /* regs */
        movq    %rax, R_RAX(%rdi)
        movq    %rbx, R_RBX(%rdi)
        movq    %rcx, R_RCX(%rdi)
        movq    %rdx, R_RDX(%rdi)
        movq    %rsi, R_RSI(%rdi)
        movq    %rbp, R_RBP(%rdi)
        movq    %r8, R_R8(%rdi)
        movq    %r9, R_R9(%rdi)
        movq    %r10, R_R10(%rdi)
        movq    %r11, R_R11(%rdi)
        movq    %r12, R_R12(%rdi)
        movq    %r13, R_R13(%rdi)
        movq    %r14, R_R14(%rdi)
        movq    %r15, R_R15(%rdi)
        popq    %rax
        movq    %rax, R_RDI(%rdi)
        addq    $16, %rsp                       /* launched flag, regs */
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        xorl    %eax, %eax
        ret

/* No executable stack wanted (GNU ld warns without this note). */
        .section .note.GNU-stack, "", @progbits
