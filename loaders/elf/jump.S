/*
 * jump.S - hand the CPU to a freshly loaded program in the state execve
 * leaves it (start_thread: every general register 0, %rsp at argc).
 *
 *   _Noreturn void elf_jump(uint64_t entry, uint64_t sp, uint64_t fs_base);
 *
 * fs_base (uint64_t)-1 leaves %fs alone: without FSGSBASE (AT_HWCAP2 bit 1)
 * WRFSBASE faults, and the caller's C code must keep its own thread pointer
 * until here anyway (stack protector, errno), so it cannot be cleared from C.
 * The new program's libc (ld.so, or a static binary's start code) sets its
 * own thread pointer before it uses one.
 */
	.text
	.globl	elf_jump
	.type	elf_jump, @function
elf_jump:
	.cfi_startproc
	cmpq	$-1, %rdx
	je	1f
	wrfsbase %rdx
1:
	/* The program's stack from here on.  The entry address is parked two
	 * words below argc (free space: the ABI gives the program nothing
	 * below %rsp), so that every register can be cleared before the jump
	 * reads it back; the word in between takes the flags below. */
	movq	%rsi, %rsp
	movq	%rdi, -16(%rsp)

	/* A fresh x87/SSE control state, as a new process gets: no pending
	 * exceptions, default precision and rounding, MXCSR 0x1f80.  The
	 * AVX upper halves are left as they are (VZEROUPPER needs AVX and
	 * nothing may assume their contents at entry). */
	fninit
	ldmxcsr	mxcsr_default(%rip)
	pxor	%xmm0, %xmm0
	pxor	%xmm1, %xmm1
	pxor	%xmm2, %xmm2
	pxor	%xmm3, %xmm3
	pxor	%xmm4, %xmm4
	pxor	%xmm5, %xmm5
	pxor	%xmm6, %xmm6
	pxor	%xmm7, %xmm7
	pxor	%xmm8, %xmm8
	pxor	%xmm9, %xmm9
	pxor	%xmm10, %xmm10
	pxor	%xmm11, %xmm11
	pxor	%xmm12, %xmm12
	pxor	%xmm13, %xmm13
	pxor	%xmm14, %xmm14
	pxor	%xmm15, %xmm15

	/* Zero every general register.  %rdx matters by ABI: a non-zero
	 * value is a function the program's start code registers with
	 * atexit (the kernel passes 0; ld.so passes its _dl_fini).  The rest
	 * so that no loader pointer leaks into the program's initial state. */
	xorl	%eax, %eax
	xorl	%ebx, %ebx
	xorl	%ecx, %ecx
	xorl	%edx, %edx
	xorl	%esi, %esi
	xorl	%edi, %edi
	xorl	%ebp, %ebp      /* also the ABI's "outermost frame" marker */
	xorl	%r8d, %r8d
	xorl	%r9d, %r9d
	xorl	%r10d, %r10d
	xorl	%r11d, %r11d
	xorl	%r12d, %r12d
	xorl	%r13d, %r13d
	xorl	%r14d, %r14d
	xorl	%r15d, %r15d

	/* Flags as after execve: the xors above set ZF and PF; POPFQ of 0
	 * clears them and DF (the ABI requires DF clear at entry), AC and TF.
	 * IF and IOPL are not the user's to change and stay as they are.
	 * The push lands on the word below %rsp and the pop restores %rsp. */
	pushq	$0
	popfq

	/* The jump reads the entry through %rsp, the one register that must
	 * hold a value anyway. */
	jmp	*-16(%rsp)
	.cfi_endproc
	.size	elf_jump, .-elf_jump

	.section .rodata
	.balign	4
mxcsr_default:
	.long	0x1f80

	.section .note.GNU-stack, "", @progbits
