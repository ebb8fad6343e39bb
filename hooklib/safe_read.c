/* safe_read.c - see safe_read.h. */
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "safe_read.h"

size_t safe_read(void *dst, unsigned long src, size_t n)
{
	if (src == 0 || n == 0)
		return 0;

	struct iovec local = { .iov_base = dst, .iov_len = n };
	struct iovec remote = { .iov_base = (void *)src, .iov_len = n };
	/*
	 * getpid() on every call rather than a cached value: after fork the
	 * cached pid would be the parent's, and we would silently read the
	 * parent's memory.  Tracing is not the fast path.
	 */
	ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	return got > 0 ? (size_t)got : 0;
}

long safe_read_string(char *dst, unsigned long src, size_t max, int *more)
{
	/*
	 * One read of MAX bytes; a string that ends just before an unmapped
	 * page comes back as a partial read, which is enough.
	 */
	size_t got = safe_read(dst, src, max);
	*more = 0;
	if (got == 0)
		return -1;

	const char *nul = memchr(dst, '\0', got);
	if (nul)
		return nul - dst;
	*more = 1;       /* cut at MAX, or the mapping ended without a NUL */
	return (long)got;
}
