/*
 * null_call.c - a call through a NULL function pointer must not be taken
 * for a system call.
 *
 *   null_call plain    call a NULL function pointer from C
 *   null_call write    the same from assembly with %rax = 1 (write) and
 *                      write's arguments set up: if libzpoline's entry ran
 *                      it as a system call, "SYSCALL RAN" would appear
 *
 * The call happens in a child; the parent prints how the child ended:
 *     child killed by signal <SIG>   or   child exited <STATUS>
 * Natively the child dies of SIGSEGV (nothing at address 0).  Under
 * libzpoline address 0 holds the trampoline; its entry must see that the
 * call did not come from a rewritten site, say so on stderr ("not a
 * rewritten system call site") and stop the child with SIGSEGV.
 */
#include <signal.h>
#include <sys/wait.h>

#include "testutil.h"

void null_call_with_write(void);

__asm__(".text\n"
	".globl null_call_with_write\n"
	".type null_call_with_write, @function\n"
	"null_call_with_write:\n"
	"	mov $1, %eax\n"              /* SYS_write */
	"	mov $1, %edi\n"              /* stdout */
	"	lea syscall_ran_msg(%rip), %rsi\n"
	"	mov $12, %edx\n"
	"	xor %ecx, %ecx\n"
	"	call *%rcx\n"                /* call NULL */
	"	ret\n"
	".size null_call_with_write, .-null_call_with_write\n"
	".section .rodata\n"
	"syscall_ran_msg: .ascii \"SYSCALL RAN\\n\"\n"
	".text\n");

/* volatile: the compiler must not know the pointer is NULL */
static void (*volatile null_fn)(void) = NULL;

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "plain") != 0 && strcmp(argv[1], "write") != 0))
		fail("usage: %s plain|write", argv[0]);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		if (strcmp(argv[1], "plain") == 0)
			null_fn();
		else
			null_call_with_write();
		static const char msg[] = "survived the NULL call\n";
		if (write(1, msg, sizeof(msg) - 1) < 0)
			_exit(3);
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		fail("waitpid");
	if (WIFSIGNALED(status))
		printf("child killed by signal %d\n", WTERMSIG(status));
	else
		printf("child exited %d\n", WEXITSTATUS(status));
	return 0;
}
