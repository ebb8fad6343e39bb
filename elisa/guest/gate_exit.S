/*
 * elisa/guest/gate_exit.S - the exit-based fallback gate (ELISA_MODE_EXIT
 * of elisa_guest.h): what a guest does instead of the VMFUNC gate
 * (vmfunc/testbed/gate.S) on a host without VMFUNC, such as this
 * machine's /dev/kvm.
 *
 *   uint64_t elisa_gate_exit_call(uint64_t mailbox_va, uint64_t fn,
 *                                 uint64_t arg, uint64_t doorbell);
 *
 * SysV ABI: RDI mailbox, RSI fn, RDX arg, RCX doorbell (port, 0 = MMIO).  Clobbers
 * only caller-saved registers (RAX, RCX, RDX, R8).  Mailbox page layout
 * (elisa_guest.h, the ELISA_MB_* offsets): +0 fn, +8 arg, +16 result,
 * +24 sequence, +32 ack.
 *
 * The steps: store fn and arg, store sequence + 1, then ring the doorbell
 * with the new sequence's low 32 bits - a VM exit either way:
 *   doorbell == 0 (ELISA_DOORBELL_MMIO): a 32-bit store to mailbox + 4096,
 *       the gate block's second page, where the host put no memory: the
 *       access faults in the EPT (or, on PVM, the shadow page table), KVM
 *       finds no memory slot, decodes the MOV and returns KVM_EXIT_MMIO
 *       (address, length, data) to the VMM;
 *   doorbell == a port: `outl %eax, %dx`, returned as KVM_EXIT_IO (port,
 *       size, data).
 * The VMM (elisa/vmm) checks the sequence, runs the app's entry(fn, arg,
 * env) in its own address space, writes the result and then ack =
 * sequence into the mailbox, and resumes the vCPU after the doorbell
 * instruction.  We then require ack == our sequence: if the host did not
 * run this very call (a VMM that does not serve the doorbell, a stale
 * mailbox) the result slot means nothing and we return ELISA_CALL_ENOHOST
 * (-112, -EHOSTDOWN) instead.
 *
 * Why not VMCALL:
 *   - KVM handles VMCALL inside the kernel (kvm_emulate_hypercall): an
 *     unknown hypercall number gets -KVM_ENOSYS in RAX and never reaches
 *     the VMM in user space, so a VMCALL doorbell would need a kernel
 *     patch.  An access to a guest-physical address without a memory slot,
 *     or an OUT to a port nobody in the kernel claims, is delivered to user
 *     space as KVM_EXIT_MMIO / KVM_EXIT_IO on any KVM (KVM_RUN's
 *     documented exits), with the data in struct kvm_run.
 *   - On this machine's /dev/kvm (PVM, a paravirtual KVM) a VMCALL test
 *     hung outright (docs: REFERENCE.md).
 *   - Under VMX an OUT exits when "unconditional I/O exiting" or the I/O
 *     bitmap says so (Intel SDM Vol. 3C, 26.1.3 "Instructions That Cause
 *     VM Exits Conditionally"); KVM sets every port to exit.  An MMIO
 *     store exits as an EPT violation (Vol. 3C, 29.3.3.2 "EPT Violations").
 * Why MMIO is the default: PVM runs guest code at CPL 3 natively but
 * emulates supervisor code instruction by instruction (~1000x slower, see
 * elisa/vmm/README.md), and it refuses OUT at CPL 3 (#GP) even with
 * RFLAGS.IOPL = 3; a store works at any CPL.  A port doorbell saves KVM
 * the instruction decode where port I/O is allowed.
 *
 * What the exit costs: the whole way out and back in, VM exit, KVM's exit
 * handling (for MMIO: a page walk and the instruction's decode), the
 * return of the KVM_RUN ioctl to the VMM thread, the VMM's dispatch and
 * the app, a new KVM_RUN ioctl and VM entry: microseconds on this machine
 * (numbers: `elisa-vmm --bench nop`, elisa/vmm/README.md), against ~0.2 us
 * for the published VMFUNC round trip.
 *
 * Ordering: the mailbox stores come before the doorbell in program order,
 * and x86 neither reorders stores with other stores nor lets reads or
 * writes pass an I/O instruction (Intel SDM Vol. 3A, 9.2.2 "Memory
 * Ordering in P6 and More Recent Processor Families"; section numbers here
 * are those of the 2023 editions, as in docs/VMFUNC.md).  Besides, the VMM
 * reads the mailbox after the exit in the thread that ran this vCPU, and
 * as this is assembly, no compiler can move the stores.
 *
 * Reentrancy: one call at a time per mailbox.  The mailbox belongs to one
 * vCPU; an interrupt handler that called this gate on the same vCPU
 * between our stores and our doorbell would make our doorbell carry a
 * sequence the host has already served, and elisa-vmm stops the VM for
 * that.  A guest kernel must not call it from interrupt context (or must
 * call it with interrupts off); the kit's bare-metal guests run with
 * RFLAGS.IF = 0.  This code executes no privileged instruction: with the
 * MMIO doorbell mapped into a process, or ioperm() on the port, it also
 * works in a guest's user space.
 */

#define ELISA_MB_FN     0
#define ELISA_MB_ARG    8
#define ELISA_MB_RESULT 16
#define ELISA_MB_SEQ    24
#define ELISA_MB_ACK    32
#define ELISA_MB_DOORBELL 4096

        .text
        .globl  elisa_gate_exit_call
        .type   elisa_gate_exit_call, @function
        .balign 16
elisa_gate_exit_call:
        movq    %rsi, ELISA_MB_FN(%rdi)
        movq    %rdx, ELISA_MB_ARG(%rdi)
        movq    ELISA_MB_SEQ(%rdi), %r8
        incq    %r8
        movq    %r8, ELISA_MB_SEQ(%rdi)  /* the call's sequence, stored last */
        movl    %r8d, %eax              /* doorbell data: the sequence's low half */
        testw   %cx, %cx
        jnz     2f
        movl    %eax, ELISA_MB_DOORBELL(%rdi)   /* MMIO doorbell: VM exit */
        jmp     3f
2:      movl    %ecx, %edx              /* DX: the port (OUT takes it nowhere else) */
        outl    %eax, %dx               /* port doorbell: VM exit */
        /* Back in the guest: the host has written result, then ack. */
3:      cmpq    ELISA_MB_ACK(%rdi), %r8
        jne     1f
        movq    ELISA_MB_RESULT(%rdi), %rax
        ret
1:      movq    $-112, %rax             /* ELISA_CALL_ENOHOST: this call did not run */
        ret
        .size   elisa_gate_exit_call, . - elisa_gate_exit_call

/* No executable stack wanted (GNU ld warns without this note). */
        .section .note.GNU-stack, "", @progbits
