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

/* Layout of struct zp_frame (zpoline.h), lowest address first. */
#define RED_ZONE_SKIP 120	/* 128-byte red zone minus the return-address slot */

/* struct zp_thread (zpoline.h, thread.c): the block at the %gs base. */
#define ZT_STACK_TOP 0
#define ZT_DEPTH 8
#define ZT_APP_FS 16
#define ZT_HOOK_FS 24

/* The register-move save area: 32 x 64 bytes of zmm, 8 mask registers, MXCSR. */
#define VEC_AREA 2176
#define VEC_MXCSR 2112
/* XCR0 / XINUSE bits (SDM Vol. 1, 13.1): AVX = ymm upper halves; AVX-512 =
 * opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7). */
#define XFEATURE_AVX 0x4
#define XFEATURE_OPMASK 0x20
#define XFEATURE_ZMM_HI256 0x40
#define XFEATURE_HI16_ZMM 0x80

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

	/*
	 * Step over the caller's red zone: when there is no hook stack the
	 * frame is pushed right here.
	 */
	leaq	-RED_ZONE_SKIP(%rsp), %rsp

	/*
	 * Move to this thread's hook stack (thread.c), using only %rcx and
	 * %r11, which `syscall` clobbers anyway.  The depth is raised before
	 * the move and lowered after the move back, so a signal handler whose
	 * system call arrives in between, or while the hook runs, sees a depth
	 * above 1 and stays on the stack it is on: the top of the hook stack
	 * may be in use by the call it interrupted.
	 */
	xorl	%r11d, %r11d
	movq	%rsp, %rcx		/* the application's stack pointer */
	cmpb	$0, zp_thread_stacks(%rip)
	je	2f
	rdgsbase %r11
	testq	%r11, %r11
	jz	2f			/* a thread without a block: stay */
	movq	ZT_DEPTH(%r11), %rcx	/* depth + 1, kept in a register: */
	addq	$1, %rcx		/* no reload of the store just made */
	movq	%rcx, ZT_DEPTH(%r11)
	cmpq	$1, %rcx
	movq	%rsp, %rcx		/* (mov leaves the flags alone) */
	jne	2f			/* nested: stay */
	movq	ZT_STACK_TOP(%r11), %rsp
2:	pushq	%rcx			/* zp_frame.app_rsp */
	pushq	%r11			/* zp_frame.thread: whose depth to lower */

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
	 * Under the loader the application has a thread pointer of its own
	 * (its static libc's TCB, Go's TLS): the hook and its libc need the
	 * loader's (errno, the stack-protector canary at %fs:0x28, malloc's
	 * per-thread cache).  Keep the application's in the block and switch;
	 * the way out switches back.  WRFSBASE: no system call.
	 */
	testq	%r11, %r11
	jz	1f
	movq	ZT_HOOK_FS(%r11), %rcx
	testq	%rcx, %rcx
	jz	1f
	rdfsbase %rax
	movq	%rax, ZT_APP_FS(%r11)
	wrfsbase %rcx
1:

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
	/*
	 * Save by state component (SDM Vol. 1, 13.1), only those in use:
	 * registers 0-15 at the width in use (ZMM_Hi256 -> zmm, AVX -> ymm,
	 * else xmm), then zmm16-31 (Hi16_ZMM) and k0-7 (opmask) if in use.
	 * glibc's EVEX string functions use ymm16-31 so that they need no
	 * VZEROUPPER: Hi16_ZMM is in use in most programs, the upper halves
	 * of registers 0-15 seldom are.
	 */
	cmpb	$3, zp_vec_level(%rip)
	jb	.Lsave_low16_ymm
	testl	$XFEATURE_ZMM_HI256, %r12d
	jz	.Lsave_low16_ymm
	.irp	r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu64	%zmm\r, 64*\r(%rsp)
	.endr
	jmp	.Lsave_avx512_rest
.Lsave_low16_ymm:
	cmpb	$2, zp_vec_level(%rip)
	jb	.Lsave_low16_xmm
	testl	$XFEATURE_AVX, %r12d
	jz	.Lsave_low16_xmm
	.irp	r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	%ymm\r, 64*\r(%rsp)
	.endr
	jmp	.Lsave_avx512_rest
.Lsave_low16_xmm:
	.irp	r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	%xmm\r, 64*\r(%rsp)
	.endr
.Lsave_avx512_rest:
	cmpb	$3, zp_vec_level(%rip)
	jb	.Lcall_fast
	testl	$XFEATURE_HI16_ZMM, %r12d
	jz	1f
	.irp	r, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64	%zmm\r, 64*\r(%rsp)
	.endr
1:	testl	$XFEATURE_OPMASK, %r12d
	jz	.Lcall_fast
	.irp	r, 0,1,2,3,4,5,6,7
	kmovq	%k\r, 2048+8*\r(%rsp)
	.endr

.Lcall_fast:
	movq	%rbx, %rdi
	call	zp_dispatch
	/*
	 * Restore what was saved.  What was not saved was in its initial
	 * state (all zero) for the application, so put it back to zero.  The
	 * psABI makes the x87 control word callee-saved, but a hook may leave
	 * x87 status flags or registers behind: the application had none in
	 * use, so reset x87 to its initial state if the status word shows any
	 * trace.
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
1:	cmpb	$2, zp_vec_level(%rip)
	jb	.Lrestore_low16_xmm
	/*
	 * The hook's code (libc's AVX/EVEX functions, DPDK) may leave the
	 * upper halves of registers 0-15 dirty.  Returning to an application
	 * that runs legacy SSE code with dirty upper state costs it on every
	 * SSE instruction afterwards (a false dependency or a state
	 * transition, Intel optimization manual, "Mixing AVX code with SSE
	 * code"); restoring all of zmm0-15 at full width did the same.
	 * VZEROUPPER puts the upper halves back to their initial, clean state;
	 * then only the widths the application had in use are reloaded.
	 */
	vzeroupper
	cmpb	$3, zp_vec_level(%rip)
	jb	.Lrestore_low16_ymm
	testl	$XFEATURE_ZMM_HI256, %r12d
	jz	.Lrestore_low16_ymm
	.irp	r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu64	64*\r(%rsp), %zmm\r
	.endr
	jmp	.Lrestore_avx512_rest
.Lrestore_low16_ymm:
	testl	$XFEATURE_AVX, %r12d
	jz	.Lrestore_low16_xmm
	.irp	r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	64*\r(%rsp), %ymm\r
	.endr
	jmp	.Lrestore_avx512_rest
.Lrestore_low16_xmm:
	/* Legacy SSE loads leave the (clean, zero) upper halves alone. */
	.irp	r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	64*\r(%rsp), %xmm\r
	.endr
.Lrestore_avx512_rest:
	cmpb	$3, zp_vec_level(%rip)
	jb	.Lvector_done
	testl	$XFEATURE_HI16_ZMM, %r12d
	jz	1f
	.irp	r, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64	64*\r(%rsp), %zmm\r
	.endr
	jmp	2f
1:	/* EVEX.128 zeroing clears the whole register (up to 512 bits). */
	.irp	r, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vpxord	%xmm\r, %xmm\r, %xmm\r
	.endr
2:	testl	$XFEATURE_OPMASK, %r12d
	jz	3f
	.irp	r, 0,1,2,3,4,5,6,7
	kmovq	2048+8*\r(%rsp), %k\r
	.endr
	jmp	.Lvector_done
3:	.irp	r, 0,1,2,3,4,5,6,7
	kxorq	%k\r, %k\r, %k\r
	.endr
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
	/* The application's thread pointer back (loader). */
	movq	104(%rbx), %r11		/* zp_frame.thread (offset 13 * 8) */
	testq	%r11, %r11
	jz	1f
	cmpq	$0, ZT_HOOK_FS(%r11)
	je	1f
	movq	ZT_APP_FS(%r11), %rcx
	wrfsbase %rcx
1:	popq	%r15
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
	popq	%r11			/* zp_frame.thread */
	popq	%rsp			/* back on the application's stack */
	testq	%r11, %r11
	jz	1f
	subq	$1, ZT_DEPTH(%r11)
1:	leaq	RED_ZONE_SKIP(%rsp), %rsp
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
 * clone or clone3 whose child starts on a new stack, in every mechanism.
 * The caller (next.c, or signext.c for the signal-based mechanisms) has
 * already written a struct zp_child_frame at the child's initial stack
 * pointer: every general register the application had at its system call
 * (argument and callee-saved ones: the kernel would have preserved them all
 * for the child), a ZP_CHILD_* word and the address the application's own
 * `syscall` would have returned to.  The parent simply returns.  The child
 * has none of the hook's (or the signal handler's) frames - they live on
 * the parent's stack - so it runs its per-thread set-up in C, pops the
 * application's registers from that copy and returns straight to the site
 * with %rax = 0 and %rsp = the stack the application asked for, as if
 * `syscall` had run in place.  Upstream zpoline pushes only the return
 * address, so its child resumes with the hook's registers (Go's runtime
 * keeps its thread start function in %r12 and reads %r9 across clone).
 */
#define CHILD_FRAME_FLAGS 96	/* 12 registers, then flags, thread, ret */
#define CHILD_FRAME_THREAD 104

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
	movq	CHILD_FRAME_FLAGS(%rsp), %rdi
	movq	CHILD_FRAME_THREAD(%rsp), %rsi
	movq	%rsp, %rbx		/* popped from the frame below anyway */
	andq	$-16, %rsp
	call	zp_child_frame_started
	movq	%rbx, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%r10
	popq	%r8
	popq	%r9
	addq	$16, %rsp		/* flags, thread */
	xorl	%eax, %eax		/* the child's result */
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
