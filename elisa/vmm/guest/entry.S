/*
 * elisa/vmm/guest/entry.S - the first instructions of the bare-metal guest.
 *
 * elisa-vmm loads the flat image at ELISA_VMM_IMAGE_GPA and starts the
 * vCPU here already in 64-bit mode, at CPL 3 by default (it set CR0/CR4/
 * EFER, the GDT, the segments and the page tables through KVM_SET_SREGS,
 * see elisa/vmm/guest_mem.c), with
 *   RIP = the image's first byte (this section comes first, guest.ld),
 *   RSP = the end of RAM (16-byte aligned),
 *   RDI = the boot-info page (struct elisa_vmm_boot),
 *   RFLAGS: IF = 0, IOPL = 3; there is no IDT at all (IDTR.limit = 0), so
 *   any exception ends in a triple fault, which the VMM reports
 *   (KVM_EXIT_SHUTDOWN) instead of running a half-broken guest.
 */
        .section .text.entry, "ax"
        .globl  _start
_start:
        /* .bss is not in the flat image: clear it (RAM is zero at start,
         * but the image must not depend on what the VMM happens to do). */
        movq    %rdi, %rbx
        leaq    __bss_start(%rip), %rdi
        leaq    __bss_end(%rip), %rcx
        subq    %rdi, %rcx
        xorl    %eax, %eax
        cld
        rep stosb
        movq    %rbx, %rdi
        call    guest_main
        /* guest_main ends with CONTROL DONE, where the VMM ends the VM, so
         * this is never reached.  If it were: #UD with no IDT, a triple
         * fault the VMM reports (HLT would be a #GP at CPL 3 anyway). */
        ud2

        .section .note.GNU-stack, "", @progbits
