/*
 * trace_format.h - strace-like text for one system call.
 *
 *   openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC)
 *   read(3, "root:x:0:0:root:/root:/bin/bash\n"..., 4096)
 *   = -1 ENOENT (No such file or directory)
 *
 * Arguments of the common calls are decoded from a table of argument kinds
 * (trace_format.c); any other call shows its six arguments in hex.
 */
#ifndef EXITLESS_TRACE_FORMAT_H
#define EXITLESS_TRACE_FORMAT_H

#include "linebuf.h"

/*
 * Append "name(arguments)".  RETURNED tells whether RET holds the result:
 * buffers the call fills (read, getcwd, pipe ...) are shown only after a
 * successful return, otherwise as a bare pointer.
 */
void trace_format_call(struct linebuf *lb, long nr, const long args[6], long ret, int returned);

/* Append "<... execve resumed>)", the head of the line of a call that came back. */
void trace_format_resumed(struct linebuf *lb, long nr);

/* Append " = 3", " = 0x7f..." or " = -1 ENOENT (No such file or directory)". */
void trace_format_result(struct linebuf *lb, long nr, long ret);

/* How a call ends, for the hook to know when to print its line. */
enum trace_call_end {
	TRACE_RETURNS,        /* print after the call */
	TRACE_NEVER_RETURNS,  /* exit, exit_group, rt_sigreturn: print "= ?" before */
	TRACE_RETURNS_ON_ERROR, /* execve: "<unfinished ...>" before, the error after */
};
enum trace_call_end trace_call_end(long nr);

/* A fork-like call (fork, vfork, clone, clone3): its child sees 0. */
int trace_is_fork_like(long nr);

#endif
