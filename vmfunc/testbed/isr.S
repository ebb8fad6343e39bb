/*
 * vmfunc/testbed/isr.S - interrupt/exception entry stubs.
 *
 * One stub per vector 0-255.  The CPU pushes an error code only for some
 * exceptions (Intel SDM Vol. 3A 7.3 "Sources of Interrupts", table
 * "Protected-Mode Exceptions and Interrupts", column "Error Code"): 8, 10-14,
 * 17, 21, 29, 30.  The stubs of the others push a 0 so the frame has one
 * shape.  The 64-bit frame the CPU builds is described in Intel SDM Vol. 3A
 * 7.14.2 "64-Bit Mode Stack Frame".
 */
        .text

        .macro  ISR_NOERR n
        .align  16
isr_\n:
        pushq   $0
        pushq   $\n
        jmp     isr_common
        .endm

        .macro  ISR_ERR n
        .align  16
isr_\n:
        pushq   $\n
        jmp     isr_common
        .endm

        .macro  ISR n
        .if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
        ISR_ERR \n
        .else
        ISR_NOERR \n
        .endif
        .endm

        .macro  ISR_ADDR n
        .quad   isr_\n
        .endm

/* .altmacro makes %i expand to the value of i inside the macro argument. */
        .altmacro
        .set    i, 0
        .rept   256
        ISR     %i
        .set    i, i + 1
        .endr

/* Save every general register, call tb_trap(frame), restore, iretq.  The
 * layout matches struct trap_frame in idt.h.  tb_trap is plain C compiled
 * with -mgeneral-regs-only, so no vector state needs saving. */
isr_common:
        pushq   %rax
        pushq   %rbx
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %rbp
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    %rsp, %rdi
        /* Align the stack to 16 bytes for the C call (SysV ABI); rbx is
         * callee-saved, so it keeps the old rsp across the call. */
        movq    %rsp, %rbx
        andq    $-16, %rsp
        call    tb_trap
        movq    %rbx, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rbp
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rbx
        popq    %rax
        addq    $16, %rsp               /* vector and error code */
        iretq

/* The table of stub addresses that idt.c installs. */
        .section .rodata
        .align  8
        .globl  isr_table
isr_table:
        .set    i, 0
        .rept   256
        ISR_ADDR %i
        .set    i, i + 1
        .endr
        .noaltmacro

/* No executable stack wanted (GNU ld warns without this note). */
        .section .note.GNU-stack, "", @progbits
