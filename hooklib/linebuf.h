/*
 * linebuf.h - a fixed-capacity text builder on the caller's stack.
 *
 * The trace hook formats one line per system call.  It may be re-entered
 * from a signal handler at any point, so it cannot use a global buffer, nor
 * stdio (whose printf family is not async-signal-safe and may malloc).  A
 * linebuf is a plain array owned by the caller plus a length: every append
 * silently stops at the capacity, and lb_finish() marks a cut line.
 */
#ifndef EXITLESS_LINEBUF_H
#define EXITLESS_LINEBUF_H

#include <stddef.h>

struct linebuf {
	char *buf;
	size_t len;
	size_t cap;        /* bytes usable for text; one more is kept for '\n' */
	int truncated;     /* an append did not fit */
};

void lb_init(struct linebuf *lb, char *storage, size_t size);
void lb_char(struct linebuf *lb, char c);
void lb_str(struct linebuf *lb, const char *s);
void lb_mem(struct linebuf *lb, const char *s, size_t n);
void lb_dec(struct linebuf *lb, long v);
void lb_udec(struct linebuf *lb, unsigned long v);
void lb_hex(struct linebuf *lb, unsigned long v);      /* 0x1f */
void lb_oct(struct linebuf *lb, unsigned long v);      /* 0644 */
/* Pad with spaces up to column COL (for the strace-like " = ret" column). */
void lb_pad_to(struct linebuf *lb, size_t col);
/*
 * Append N bytes as a C string literal the way strace shows data:
 * "abc\n\0\177".  If MORE is set, the data went on beyond N: "..." follows.
 */
void lb_quoted(struct linebuf *lb, const char *s, size_t n, int more);
/* End the line with '\n' (with a "..." note if it was cut); returns length. */
size_t lb_finish(struct linebuf *lb);

#endif
