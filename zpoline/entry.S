/*
 * entry.S - where every rewritten system call arrives, and the kit's own
 * system call instructions.
 *
 * A rewritten site is `call *%rax` with %rax = the system call number.  The
 * call lands in the trampoline at address %rax (trampoline.c), which hops to
 * a stub that jumps here.  On arrival:
 *
 *     %rax      system call number
 *     %rdi %rsi %rdx %r10 %r8 %r9   its arguments, as for `syscall`
 *     (%rsp)    return address = site + 2
 *
 * `syscall` itself changes only %rax (result), %rcx and %r11, and touches no
 * memory.  A C hook clobbers every caller-saved register, so everything else
 * that C may touch is saved here and restored, and nothing is written into
 * the 120 bytes of the caller's red zone that lie below the return address
 * (the psABI lets leaf code keep data there across a `syscall`).
 */

	.text

/* Layout of struct zp_frame (dispatch.h), lowest address first. */
#define FRAME_QWORDS 13
#define RED_ZONE_SKIP 120	/* 128-byte red zone minus the return-address slot */

/* The register-move save area: 32 x 64 bytes of zmm, 8 mask registers, MXCSR. */
#define VEC_AREA 2176
#define VEC_MXCSR 2112
/* XCR0 / XINUSE bits (SDM Vol. 1, 13.1): AVX = ymm upper halves; AVX-512 =
 * opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7). */
#define XFEATURE_AVX 0x4
#define XFEATURE_AVX512_ALL 0xe0

	.globl	zp_entry
	.type	zp_entry, @function
	.hidden	zp_entry
zp_entry:
	.cfi_startproc
	/*
	 * rt_sigreturn reads the signal frame at the stack pointer the signal
	 * handler returned with, so it must run with the site's %rsp and no
	 * frame of ours: drop the return address and issue it directly.
	 */
	cmpq	$15, %rax
	je	.Lsigreturn

	/* Step over the caller's red zone before pushing anything. */
	leaq	-RED_ZONE_SKIP(%rsp), %rsp

	/*
	 * Save the argument registers (syscall preserves them, C does not),
	 * the number, and the callee-saved registers: the latter are needed
	 * only by the child of clone-with-a-new-stack, which resumes the
	 * application from a copy of this frame (next.c).
	 */
	pushq	%r9
	pushq	%r8
	pushq	%r10
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rax
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15

	movq	%rsp, %rbx		/* %rbx = struct zp_frame * (callee-saved) */

	/*
	 * The hook is C and may use x87/SSE/AVX registers, which `syscall`
	 * preserves.  Unless the hook library declared ZPHOOK_NO_VECTOR, save
	 * them below the frame (see .Lsave_vector).
	 */
	cmpb	$0, zp_vec_save(%rip)
	jne	.Lsave_vector

	andq	$-16, %rsp		/* psABI: 16-byte aligned at the call */
	movq	%rbx, %rdi
	call	zp_dispatch
	jmp	.Lrestore_gprs

.Lsave_vector:
	/*
	 * Which state components does the application have in use?  XGETBV
	 * with ECX=1 returns XCR0 AND XINUSE (SDM Vol. 1, 13.6).  If the x87
	 * registers (or anything else our moves do not cover) are in use, take
	 * XSAVEC.  Otherwise save just the registers in use with plain moves:
	 * XSAVEC+XRSTOR cost ~155 ns on this kind of machine, the moves ~25.
	 * %r12d keeps the answer across the hook (callee-saved, and restored
	 * from the frame at the end).
	 */
	cmpb	$0, zp_vec_level(%rip)
	je	.Lxsave
	movl	$1, %ecx
	xgetbv
	movl	%eax, %r12d
	testl	zp_vec_slow_bits(%rip), %eax
	jnz	.Lxsave

	subq	$VEC_AREA, %rsp
	andq	$-64, %rsp
	stmxcsr	VEC_MXCSR(%rsp)
	cmpb	$3, zp_vec_level(%rip)
	jb	.Lsave_ymm_or_xmm
	testl	$XFEATURE_AVX512_ALL, %r12d
	jz	.Lsave_ymm_or_xmm
	/* AVX-512 state in use: all 32 zmm registers and the 8 mask registers. */
	vmovdqu64	%zmm0, 0(%rsp)
	vmovdqu64	%zmm1, 64(%rsp)
	vmovdqu64	%zmm2, 128(%rsp)
	vmovdqu64	%zmm3, 192(%rsp)
	vmovdqu64	%zmm4, 256(%rsp)
	vmovdqu64	%zmm5, 320(%rsp)
	vmovdqu64	%zmm6, 384(%rsp)
	vmovdqu64	%zmm7, 448(%rsp)
	vmovdqu64	%zmm8, 512(%rsp)
	vmovdqu64	%zmm9, 576(%rsp)
	vmovdqu64	%zmm10, 640(%rsp)
	vmovdqu64	%zmm11, 704(%rsp)
	vmovdqu64	%zmm12, 768(%rsp)
	vmovdqu64	%zmm13, 832(%rsp)
	vmovdqu64	%zmm14, 896(%rsp)
	vmovdqu64	%zmm15, 960(%rsp)
	vmovdqu64	%zmm16, 1024(%rsp)
	vmovdqu64	%zmm17, 1088(%rsp)
	vmovdqu64	%zmm18, 1152(%rsp)
	vmovdqu64	%zmm19, 1216(%rsp)
	vmovdqu64	%zmm20, 1280(%rsp)
	vmovdqu64	%zmm21, 1344(%rsp)
	vmovdqu64	%zmm22, 1408(%rsp)
	vmovdqu64	%zmm23, 1472(%rsp)
	vmovdqu64	%zmm24, 1536(%rsp)
	vmovdqu64	%zmm25, 1600(%rsp)
	vmovdqu64	%zmm26, 1664(%rsp)
	vmovdqu64	%zmm27, 1728(%rsp)
	vmovdqu64	%zmm28, 1792(%rsp)
	vmovdqu64	%zmm29, 1856(%rsp)
	vmovdqu64	%zmm30, 1920(%rsp)
	vmovdqu64	%zmm31, 1984(%rsp)
	kmovq	%k0, 2048(%rsp)
	kmovq	%k1, 2056(%rsp)
	kmovq	%k2, 2064(%rsp)
	kmovq	%k3, 2072(%rsp)
	kmovq	%k4, 2080(%rsp)
	kmovq	%k5, 2088(%rsp)
	kmovq	%k6, 2096(%rsp)
	kmovq	%k7, 2104(%rsp)
	jmp	.Lcall_fast
.Lsave_ymm_or_xmm:
	cmpb	$2, zp_vec_level(%rip)
	jb	.Lsave_xmm
	testl	$XFEATURE_AVX, %r12d
	jz	.Lsave_xmm
	vmovdqu	%ymm0, 0(%rsp)
	vmovdqu	%ymm1, 64(%rsp)
	vmovdqu	%ymm2, 128(%rsp)
	vmovdqu	%ymm3, 192(%rsp)
	vmovdqu	%ymm4, 256(%rsp)
	vmovdqu	%ymm5, 320(%rsp)
	vmovdqu	%ymm6, 384(%rsp)
	vmovdqu	%ymm7, 448(%rsp)
	vmovdqu	%ymm8, 512(%rsp)
	vmovdqu	%ymm9, 576(%rsp)
	vmovdqu	%ymm10, 640(%rsp)
	vmovdqu	%ymm11, 704(%rsp)
	vmovdqu	%ymm12, 768(%rsp)
	vmovdqu	%ymm13, 832(%rsp)
	vmovdqu	%ymm14, 896(%rsp)
	vmovdqu	%ymm15, 960(%rsp)
	jmp	.Lcall_fast
.Lsave_xmm:
	movdqu	%xmm0, 0(%rsp)
	movdqu	%xmm1, 64(%rsp)
	movdqu	%xmm2, 128(%rsp)
	movdqu	%xmm3, 192(%rsp)
	movdqu	%xmm4, 256(%rsp)
	movdqu	%xmm5, 320(%rsp)
	movdqu	%xmm6, 384(%rsp)
	movdqu	%xmm7, 448(%rsp)
	movdqu	%xmm8, 512(%rsp)
	movdqu	%xmm9, 576(%rsp)
	movdqu	%xmm10, 640(%rsp)
	movdqu	%xmm11, 704(%rsp)
	movdqu	%xmm12, 768(%rsp)
	movdqu	%xmm13, 832(%rsp)
	movdqu	%xmm14, 896(%rsp)
	movdqu	%xmm15, 960(%rsp)

.Lcall_fast:
	movq	%rbx, %rdi
	call	zp_dispatch
	/*
	 * Restore what was saved.  What was not saved was in its initial
	 * state (all zero) for the application, so put it back to zero: VEX
	 * loads of xmm/ymm zero the upper bits, zmm16-31 and k0-7 are
	 * cleared explicitly.  The psABI makes the x87 control word callee-
	 * saved, but a hook may leave x87 status flags or registers behind:
	 * the application had none in use, so reset x87 to its initial state
	 * if the status word shows any trace.
	 */
	movq	%rax, %r13		/* the result; %r13 is restored below */
	/*
	 * LDMXCSR costs ~250 ns here while AVX-512 state is live, so only
	 * write MXCSR back if the hook changed it.
	 */
	stmxcsr	VEC_MXCSR+4(%rsp)
	movl	VEC_MXCSR+4(%rsp), %eax
	cmpl	VEC_MXCSR(%rsp), %eax
	je	2f
	ldmxcsr	VEC_MXCSR(%rsp)
2:	fnstsw	%ax
	testw	$0x38ff, %ax		/* TOP (bits 11-13) or any flag (0-7) */
	jz	1f
	fninit
1:	cmpb	$3, zp_vec_level(%rip)
	jb	.Lrestore_ymm_or_xmm
	testl	$XFEATURE_AVX512_ALL, %r12d
	jz	.Lrestore_ymm_or_xmm_clear_avx512
	vmovdqu64	0(%rsp), %zmm0
	vmovdqu64	64(%rsp), %zmm1
	vmovdqu64	128(%rsp), %zmm2
	vmovdqu64	192(%rsp), %zmm3
	vmovdqu64	256(%rsp), %zmm4
	vmovdqu64	320(%rsp), %zmm5
	vmovdqu64	384(%rsp), %zmm6
	vmovdqu64	448(%rsp), %zmm7
	vmovdqu64	512(%rsp), %zmm8
	vmovdqu64	576(%rsp), %zmm9
	vmovdqu64	640(%rsp), %zmm10
	vmovdqu64	704(%rsp), %zmm11
	vmovdqu64	768(%rsp), %zmm12
	vmovdqu64	832(%rsp), %zmm13
	vmovdqu64	896(%rsp), %zmm14
	vmovdqu64	960(%rsp), %zmm15
	vmovdqu64	1024(%rsp), %zmm16
	vmovdqu64	1088(%rsp), %zmm17
	vmovdqu64	1152(%rsp), %zmm18
	vmovdqu64	1216(%rsp), %zmm19
	vmovdqu64	1280(%rsp), %zmm20
	vmovdqu64	1344(%rsp), %zmm21
	vmovdqu64	1408(%rsp), %zmm22
	vmovdqu64	1472(%rsp), %zmm23
	vmovdqu64	1536(%rsp), %zmm24
	vmovdqu64	1600(%rsp), %zmm25
	vmovdqu64	1664(%rsp), %zmm26
	vmovdqu64	1728(%rsp), %zmm27
	vmovdqu64	1792(%rsp), %zmm28
	vmovdqu64	1856(%rsp), %zmm29
	vmovdqu64	1920(%rsp), %zmm30
	vmovdqu64	1984(%rsp), %zmm31
	kmovq	2048(%rsp), %k0
	kmovq	2056(%rsp), %k1
	kmovq	2064(%rsp), %k2
	kmovq	2072(%rsp), %k3
	kmovq	2080(%rsp), %k4
	kmovq	2088(%rsp), %k5
	kmovq	2096(%rsp), %k6
	kmovq	2104(%rsp), %k7
	jmp	.Lvector_done
.Lrestore_ymm_or_xmm_clear_avx512:
	vpxord	%zmm16, %zmm16, %zmm16
	vpxord	%zmm17, %zmm17, %zmm17
	vpxord	%zmm18, %zmm18, %zmm18
	vpxord	%zmm19, %zmm19, %zmm19
	vpxord	%zmm20, %zmm20, %zmm20
	vpxord	%zmm21, %zmm21, %zmm21
	vpxord	%zmm22, %zmm22, %zmm22
	vpxord	%zmm23, %zmm23, %zmm23
	vpxord	%zmm24, %zmm24, %zmm24
	vpxord	%zmm25, %zmm25, %zmm25
	vpxord	%zmm26, %zmm26, %zmm26
	vpxord	%zmm27, %zmm27, %zmm27
	vpxord	%zmm28, %zmm28, %zmm28
	vpxord	%zmm29, %zmm29, %zmm29
	vpxord	%zmm30, %zmm30, %zmm30
	vpxord	%zmm31, %zmm31, %zmm31
	kxorq	%k0, %k0, %k0
	kxorq	%k1, %k1, %k1
	kxorq	%k2, %k2, %k2
	kxorq	%k3, %k3, %k3
	kxorq	%k4, %k4, %k4
	kxorq	%k5, %k5, %k5
	kxorq	%k6, %k6, %k6
	kxorq	%k7, %k7, %k7
.Lrestore_ymm_or_xmm:
	cmpb	$2, zp_vec_level(%rip)
	jb	.Lrestore_sse
	testl	$XFEATURE_AVX, %r12d
	jz	.Lrestore_xmm_vex
	vmovdqu	0(%rsp), %ymm0
	vmovdqu	64(%rsp), %ymm1
	vmovdqu	128(%rsp), %ymm2
	vmovdqu	192(%rsp), %ymm3
	vmovdqu	256(%rsp), %ymm4
	vmovdqu	320(%rsp), %ymm5
	vmovdqu	384(%rsp), %ymm6
	vmovdqu	448(%rsp), %ymm7
	vmovdqu	512(%rsp), %ymm8
	vmovdqu	576(%rsp), %ymm9
	vmovdqu	640(%rsp), %ymm10
	vmovdqu	704(%rsp), %ymm11
	vmovdqu	768(%rsp), %ymm12
	vmovdqu	832(%rsp), %ymm13
	vmovdqu	896(%rsp), %ymm14
	vmovdqu	960(%rsp), %ymm15
	jmp	.Lvector_done
.Lrestore_xmm_vex:
	vmovdqu	0(%rsp), %xmm0
	vmovdqu	64(%rsp), %xmm1
	vmovdqu	128(%rsp), %xmm2
	vmovdqu	192(%rsp), %xmm3
	vmovdqu	256(%rsp), %xmm4
	vmovdqu	320(%rsp), %xmm5
	vmovdqu	384(%rsp), %xmm6
	vmovdqu	448(%rsp), %xmm7
	vmovdqu	512(%rsp), %xmm8
	vmovdqu	576(%rsp), %xmm9
	vmovdqu	640(%rsp), %xmm10
	vmovdqu	704(%rsp), %xmm11
	vmovdqu	768(%rsp), %xmm12
	vmovdqu	832(%rsp), %xmm13
	vmovdqu	896(%rsp), %xmm14
	vmovdqu	960(%rsp), %xmm15
	jmp	.Lvector_done
.Lrestore_sse:
	movdqu	0(%rsp), %xmm0
	movdqu	64(%rsp), %xmm1
	movdqu	128(%rsp), %xmm2
	movdqu	192(%rsp), %xmm3
	movdqu	256(%rsp), %xmm4
	movdqu	320(%rsp), %xmm5
	movdqu	384(%rsp), %xmm6
	movdqu	448(%rsp), %xmm7
	movdqu	512(%rsp), %xmm8
	movdqu	576(%rsp), %xmm9
	movdqu	640(%rsp), %xmm10
	movdqu	704(%rsp), %xmm11
	movdqu	768(%rsp), %xmm12
	movdqu	832(%rsp), %xmm13
	movdqu	896(%rsp), %xmm14
	movdqu	960(%rsp), %xmm15
.Lvector_done:
	movq	%r13, %rax
	jmp	.Lrestore_gprs

.Lxsave:
	subq	zp_vec_size(%rip), %rsp
	andq	$-64, %rsp		/* XSAVE area must be 64-byte aligned */
	/*
	 * XRSTOR faults unless bytes 8..63 of the XSAVE header are zero
	 * (SDM Vol. 1, 13.4.2); XSAVE/XSAVEC write only the first 16.
	 * General-purpose stores: no vector register is saved yet.
	 */
	movq	$0, 512+8(%rsp)
	movq	$0, 512+16(%rsp)
	movq	$0, 512+24(%rsp)
	movq	$0, 512+32(%rsp)
	movq	$0, 512+40(%rsp)
	movq	$0, 512+48(%rsp)
	movq	$0, 512+56(%rsp)
	movl	zp_vec_mask(%rip), %eax
	movl	zp_vec_mask+4(%rip), %edx
	cmpb	$0, zp_vec_compact(%rip)
	je	1f
	xsavec64 (%rsp)
	jmp	2f
1:	xsave64	(%rsp)
2:	movq	%rbx, %rdi
	call	zp_dispatch
	movq	%rax, %r12		/* result; %r12 is restored below */
	movl	zp_vec_mask(%rip), %eax
	movl	zp_vec_mask+4(%rip), %edx
	xrstor64 (%rsp)
	movq	%r12, %rax

.Lrestore_gprs:
	movq	%rbx, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	addq	$8, %rsp		/* the saved number: %rax holds the result */
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%r10
	popq	%r8
	popq	%r9
	leaq	RED_ZONE_SKIP(%rsp), %rsp
	ret

.Lsigreturn:
	addq	$8, %rsp
	jmp	zp_sigreturn_site
	.cfi_endproc
	.size	zp_entry, .-zp_entry

/*
 * long zp_raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
 *
 * The kit's own system call: moves the C arguments into the kernel's
 * registers and executes `syscall`.  This instruction lies in libzpoline's
 * text, which the rewriter never touches, so it always reaches the kernel.
 */
	.globl	zp_raw_syscall
	.type	zp_raw_syscall, @function
	.hidden	zp_raw_syscall
zp_raw_syscall:
	.cfi_startproc
	movq	%rdi, %rax
	movq	%rsi, %rdi
	movq	%rdx, %rsi
	movq	%rcx, %rdx
	movq	%r8, %r10
	movq	%r9, %r8
	movq	8(%rsp), %r9
	syscall
	ret
	.cfi_endproc
	.size	zp_raw_syscall, .-zp_raw_syscall

/*
 * The restorer of our own signal handlers (SIGTRAP, SIGSYS), installed with
 * the raw rt_sigaction: glibc's restorer is rewritten code (and outside the
 * range Syscall User Dispatch allows).
 */
	.globl	zp_signal_restorer
	.hidden	zp_signal_restorer
	.type	zp_signal_restorer, @function
zp_signal_restorer:
	movq	$15, %rax		/* rt_sigreturn */
	syscall
	ud2
	.size	zp_signal_restorer, .-zp_signal_restorer

/* rt_sigreturn, on the stack the signal handler returned with. */
	.globl	zp_sigreturn_site
	.hidden	zp_sigreturn_site
zp_sigreturn_site:
	syscall
	ud2				/* rt_sigreturn does not return */

/*
 * long zp_clone_newstack(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
 *
 * clone or clone3 whose child starts on a new stack.  The caller (next.c)
 * has already written a struct zp_child_frame at the child's initial stack
 * pointer: the application's callee-saved registers, %rdi, %rsi and the
 * return address of the site.  The parent simply returns.  The child has
 * none of the hook's frames (they live on the parent's stack), so it pops
 * the application's registers from that copy and returns straight to the
 * site with %rax = 0 and %rsp = the stack the application asked for, as if
 * `syscall` had run in place.
 */
	.globl	zp_clone_newstack
	.type	zp_clone_newstack, @function
	.hidden	zp_clone_newstack
zp_clone_newstack:
	.cfi_startproc
	movq	%rdi, %rax
	movq	%rsi, %rdi
	movq	%rdx, %rsi
	movq	%rcx, %rdx
	movq	%r8, %r10
	movq	%r9, %r8
	movq	8(%rsp), %r9
	syscall
	testq	%rax, %rax
	jz	1f
	ret
1:	/* child: %rsp points at struct zp_child_frame */
	.cfi_undefined rip
	/*
	 * Per-thread set-up (sud.c), in C: keep the argument registers the
	 * kernel preserved for the child (Go's runtime reads %r9 here).
	 */
	movq	%rsp, %rbx		/* popped from the frame below anyway */
	andq	$-16, %rsp
	pushq	%rdx
	pushq	%r10
	pushq	%r8
	pushq	%r9
	call	zp_child_started
	popq	%r9
	popq	%r8
	popq	%r10
	popq	%rdx
	movq	%rbx, %rsp
	xorl	%eax, %eax		/* the child's result */
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	popq	%rdi
	popq	%rsi
	ret
	.cfi_endproc
	.size	zp_clone_newstack, .-zp_clone_newstack

/*
 * long zp_vfork_shared_stack(long nr, long a1, long a2, long a3, long a4,
 *                            long a5, void *save, void *top)
 *
 * vfork, or clone(CLONE_VM) without a new stack: the child runs on the
 * parent's stack while the parent sleeps.  The child returns through the
 * hook's frames and on into the application, which calls further (execve
 * comes back through the hook), overwriting the frames the parent will
 * return through when it wakes.  So: copy [%rsp, top) - every frame from
 * here up to the application's stack pointer at the site - to `save`
 * before the call, and in the parent copy it back before using the stack
 * again.  The child (rax == 0) just returns.
 */
	.globl	zp_vfork_shared_stack
	.type	zp_vfork_shared_stack, @function
	.hidden	zp_vfork_shared_stack
zp_vfork_shared_stack:
	.cfi_startproc
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	movq	%rdi, %rax		/* nr */
	movq	%rsi, %r11		/* a1 */
	movq	%rdx, %r12		/* a2 */
	movq	%rcx, %r13		/* a3 */
	movq	%r8, %r10		/* a4 */
	movq	%r9, %r8		/* a5 */
	movq	40(%rsp), %rbx		/* save (7th argument, after 4 pushes) */
	movq	48(%rsp), %rbp		/* top */
	movq	%rsp, %rsi
	movq	%rbx, %rdi
	movq	%rbp, %rcx
	subq	%rsp, %rcx
	rep movsb			/* save = [rsp, top) */
	movq	%r11, %rdi
	movq	%r12, %rsi
	movq	%r13, %rdx
	syscall
	testq	%rax, %rax
	jz	1f
	/* parent (or failure): nothing below here is trusted until restored */
	movq	%rax, %r11
	movq	%rbx, %rsi
	movq	%rsp, %rdi
	movq	%rbp, %rcx
	subq	%rsp, %rcx
	rep movsb
	movq	%r11, %rax
1:	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret
	.cfi_endproc
	.size	zp_vfork_shared_stack, .-zp_vfork_shared_stack

	.section .note.GNU-stack,"",@progbits
