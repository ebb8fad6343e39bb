/*
 * vmfunc/testbed/boot.S - multiboot (v1) entry of the bare-metal testbed.
 *
 * GRUB's `multiboot` command loads this ELF and jumps to `_start` in 32-bit
 * protected mode, paging off, EAX = 0x2BADB002, EBX = the multiboot
 * information (Multiboot Specification 0.6.96, section 3.2 "Machine state").
 * We build an identity map of the first 4 GiB with 2 MiB pages, load our own
 * GDT (with a 64-bit TSS: VM entry needs a non-null host TR, Intel SDM
 * Vol. 3C 27.2.3 "Checks on Host Segment and Descriptor-Table Registers"),
 * enable long mode and call testbed_main(magic, mbi) in 64-bit mode.
 *
 * Long-mode activation follows Intel SDM Vol. 3A 10.8.5 "Initializing
 * IA-32e Mode": CR4.PAE=1, CR3 = PML4, IA32_EFER.LME=1, then CR0.PG=1,
 * then a far jump to a 64-bit code segment.
 */

#define MB_MAGIC   0x1BADB002
#define MB_FLAGS   0x00000003          /* bit 0: page-aligned modules, bit 1: memory info */

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)   /* checksum: the three fields sum to 0 */

/* ------------------------------------------------------------------ */
        .section .boot32, "ax"
        .code32
        .globl _start
_start:
        cli
        cld
        movl    $boot_stack_top, %esp
        /* Keep the multiboot magic and info pointer for testbed_main. */
        movl    %eax, %edi
        movl    %ebx, %esi

        /* Long mode needs CPUID.80000001H:EDX.LM[29] (Intel SDM Vol. 2A,
         * CPUID "Extended Function CPUID Information"). */
        movl    $0x80000000, %eax
        cpuid
        cmpl    $0x80000001, %eax
        jb      no_long_mode
        movl    $0x80000001, %eax
        cpuid
        btl     $29, %edx
        jnc     no_long_mode

        /* Page tables (4-level paging, Intel SDM Vol. 3A 5.5 "4-Level Paging
         * and 5-Level Paging"): PML4[0] -> PDPT, PDPT[0..3] -> four page
         * directories of 2 MiB pages covering 0-4 GiB.  The tables live in
         * .bss (zeroed by GRUB: it clears the ELF's memsz beyond filesz). */
        movl    $boot_pdpt, %eax
        orl     $0x3, %eax                      /* present | writable */
        movl    %eax, boot_pml4

        movl    $boot_pd, %eax
        orl     $0x3, %eax
        xorl    %ecx, %ecx
1:      movl    %eax, boot_pdpt(,%ecx,8)
        addl    $4096, %eax
        incl    %ecx
        cmpl    $4, %ecx
        jne     1b

        /* 2048 PDEs: physical address i * 2 MiB | PS | RW | P.  Entries in
         * the 0xC0000000-0xFFFFFFFF range (APIC, I/O APIC) get PCD|PWT so
         * MMIO is uncached (Intel SDM Vol. 3A 12.12.3 "Selecting a Memory
         * Type from the PAT" - PAT entry 3 is UC at reset). */
        xorl    %ecx, %ecx
2:      movl    %ecx, %eax
        shll    $21, %eax
        orl     $0x83, %eax                     /* PS | RW | P */
        cmpl    $1536, %ecx
        jb      3f
        orl     $0x18, %eax                     /* PCD | PWT */
3:      movl    %eax, boot_pd(,%ecx,8)
        movl    %ecx, %edx
        shrl    $11, %edx                       /* high 32 bits of the address: 0 below 4 GiB */
        movl    %edx, boot_pd+4(,%ecx,8)
        incl    %ecx
        cmpl    $2048, %ecx
        jne     2b

        movl    %cr4, %eax
        orl     $(1 << 5), %eax                 /* CR4.PAE */
        movl    %eax, %cr4

        movl    $boot_pml4, %eax
        movl    %eax, %cr3

        movl    $0xC0000080, %ecx               /* IA32_EFER */
        rdmsr
        orl     $(1 << 8), %eax                 /* LME */
        wrmsr

        movl    %cr0, %eax
        orl     $0x80000001, %eax               /* PG | PE */
        andl    $~0x60000000, %eax              /* caches on: clear CD and NW */
        movl    %eax, %cr0

        lgdt    gdt_ptr32
        ljmp    $0x08, $long_mode_entry

no_long_mode:
        /* Say so on port 0xE9 and COM1, then ask Bochs to quit. */
        movl    $msg_no_lm, %esi
4:      lodsb
        testb   %al, %al
        jz      5f
        outb    %al, $0xE9
        movw    $0x3F8, %dx
        outb    %al, %dx
        jmp     4b
5:      movl    $msg_shutdown, %esi
        movw    $0x8900, %dx
6:      lodsb
        testb   %al, %al
        jz      7f
        outb    %al, %dx
        jmp     6b
7:      hlt
        jmp     7b

        .section .rodata
msg_no_lm:
        .asciz  "FAIL boot no long mode (CPUID.80000001H:EDX.LM=0)\n"
msg_shutdown:
        .asciz  "Shutdown"

/* The GDT pointer as lgdt sees it from 32-bit code (4-byte base). */
        .align 8
gdt_ptr32:
        .word   gdt_end - gdt - 1
        .long   gdt

/* ------------------------------------------------------------------ */
        .code64
        .text
long_mode_entry:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        xorw    %ax, %ax
        movw    %ax, %fs
        movw    %ax, %gs
        movabsq $boot_stack_top, %rsp
        /* edi = magic, esi = mbi: already the SysV argument registers. */
        movl    %edi, %edi
        movl    %esi, %esi
        call    testbed_main
8:      cli
        hlt
        jmp     8b

/* ------------------------------------------------------------------ */
        .data
        .align 16
        .globl gdt
gdt:
        .quad   0                               /* 0x00 null */
        .quad   0x00AF9A000000FFFF              /* 0x08 64-bit code: L=1, D=0, P, DPL0, exec/read */
        .quad   0x00CF92000000FFFF              /* 0x10 data: 4 GiB, read/write */
        .globl gdt_tss
gdt_tss:
        .quad   0                               /* 0x18 64-bit TSS (16 bytes), filled in by C */
        .quad   0
gdt_end:

        .globl gdt_ptr64
        .align 8
gdt_ptr64:
        .word   gdt_end - gdt - 1
        .quad   gdt

        .bss
        .align 4096
        .globl boot_pml4
boot_pml4:
        .skip   4096
boot_pdpt:
        .skip   4096
boot_pd:
        .skip   4 * 4096
        .align 16
boot_stack:
        .skip   65536
        .globl boot_stack_top
boot_stack_top:

/* No executable stack wanted (GNU ld warns without this note). */
        .section .note.GNU-stack, "", @progbits
