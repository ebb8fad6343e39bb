/*
 * syscall_name.h - x86_64 system call number -> name ("openat").
 *
 * The table is generated at build time from the kernel's uapi header
 * (asm/unistd_64.h) by hooklib.mk, so it always matches the installed
 * headers and nobody maintains a list by hand.
 */
#ifndef EXITLESS_SYSCALL_NAME_H
#define EXITLESS_SYSCALL_NAME_H

/* The name, or NULL for a number the headers do not know. */
const char *syscall_name(long nr);

#endif
