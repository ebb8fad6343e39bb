/*
 * zpload_host.h - what the ELF loader (loaders/zpload.c) asks of libzpoline
 * (zpoline/loader_host.c), which is linked into zpload itself.
 *
 * In zpload the loader's own code and its libc are the "hook world": they are
 * never rewritten, and the hook library runs on them.  Only the target
 * program's code (and what it maps executable later, e.g. the libraries its
 * ld.so loads) is rewritten.  The order is:
 *
 *   zp_loader_init();                     before mapping anything
 *   ... map the target and its interpreter ...
 *   zp_loader_rewrite(start, len);        each executable PT_LOAD segment
 *   zp_loader_set_program(...);
 *   ... build the initial stack ...
 *   zp_loader_enter_target();             the last C call before the jump
 *   elf_jump(entry, sp, 0);               thread pointer 0, as after execve
 */
#ifndef EXITLESS_ZPLOAD_HOST_H
#define EXITLESS_ZPLOAD_HOST_H

#include <stdint.h>

/*
 * Set up libzpoline in this process as the loader's host: check the
 * mechanism (zpoline only), map the trampoline at address 0, load the hook
 * library named by LIBZPHOOK, give the calling thread its hook stack.  On
 * failure prints one line and exits with status 126.
 */
void zp_loader_init(void);

/* Rewrite the system call instructions in [start, start + len) (the target's
 * code, mapped but not yet run).  Returns the number of sites, or -1. */
long zp_loader_rewrite(uint64_t start, uint64_t len);

/*
 * What the target is, for the calls libzpoline answers on its behalf:
 * exe_path (absolute) is what /proc/self/exe means to it; brk_start is where
 * its program break starts (the page after its highest segment); loader_path
 * (absolute) is zpload itself, through which execve of further programs goes.
 */
void zp_loader_set_program(const char *exe_path, uint64_t brk_start, const char *loader_path);

/* From the next instruction on this thread runs the target: its hooked calls
 * switch the thread pointer to the loader's own while the hook runs. */
void zp_loader_enter_target(void);

#endif
