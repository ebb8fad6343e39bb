/*
 * safe_read.h - read the application's memory without risking a fault.
 *
 * The trace hook shows what pointer arguments point to (paths, buffers,
 * argv).  The application may pass a bad pointer; the kernel then answers
 * EFAULT, and the hook must not crash where the real call would not.  So
 * every dereference goes through process_vm_readv() on our own process,
 * which copies what is mapped and stops at the first hole.
 */
#ifndef EXITLESS_SAFE_READ_H
#define EXITLESS_SAFE_READ_H

#include <stddef.h>

/* Copy up to N bytes from address SRC; returns how many could be read. */
size_t safe_read(void *dst, unsigned long src, size_t n);

/*
 * Read a NUL-terminated string of at most MAX bytes from SRC into DST
 * (which has room for MAX bytes; the result is not NUL-terminated).
 * Returns its length, or -1 if nothing could be read.  *MORE is set when no
 * NUL was found within MAX bytes.
 */
long safe_read_string(char *dst, unsigned long src, size_t max, int *more);

#endif
