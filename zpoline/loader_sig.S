/*
 * loader_sig.S - how the program's signal handlers are entered under the
 * loader (loader_host.c, loader_calls.c: program_sigaction).
 *
 * void zp_loader_sighandler(int sig, siginfo_t *info, void *uc)
 *
 * The kernel delivers a signal with whatever %fs base the thread had.  If
 * the signal interrupted the hook, that is the hook world's TCB, and the
 * program's handler (glibc's errno and canary, Go's g at %fs:-8) would use
 * the wrong thread's data.  The base is not part of the signal frame, so
 * rt_sigreturn would not put it back either.  So: if %fs is the hook
 * world's, load the program's from the block at %gs (thread.c), call the
 * program's handler, and put the hook world's back before returning.  We
 * return with `ret` to the restorer the program registered (SA_RESTORER is
 * passed through), which issues rt_sigreturn as it would natively.
 *
 * A handler that leaves with siglongjmp keeps the program's %fs, which is
 * what it jumps back into; the hook call it abandoned is never resumed.
 */
#define ZT_APP_FS 16
#define ZT_HOOK_FS 24

	.text
	.globl	zp_loader_sighandler
	.hidden	zp_loader_sighandler
	.type	zp_loader_sighandler, @function
zp_loader_sighandler:
	.cfi_startproc
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	subq	$8, %rsp		/* 16-byte aligned at the call below */
	.cfi_adjust_cfa_offset 8
	xorl	%ebx, %ebx		/* %rbx: the %fs base to restore, 0 = none */
	rdgsbase %rax
	testq	%rax, %rax
	jz	1f
	rdfsbase %rcx
	cmpq	ZT_HOOK_FS(%rax), %rcx
	jne	1f
	movq	%rcx, %rbx
	movq	ZT_APP_FS(%rax), %rcx
	wrfsbase %rcx
1:	movslq	%edi, %rax
	leaq	zp_app_handlers(%rip), %rcx
	call	*(%rcx,%rax,8)
	testq	%rbx, %rbx
	jz	2f
	wrfsbase %rbx
2:	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r12
	.cfi_adjust_cfa_offset -8
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	zp_loader_sighandler, .-zp_loader_sighandler

	.section .note.GNU-stack,"",@progbits
