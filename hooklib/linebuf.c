/*
 * linebuf.c - see linebuf.h.  No libc calls: safe in a signal handler and
 * on any thread.
 */
#include "linebuf.h"

/* Room kept at the end for the " ...\n" mark of a cut line. */
#define LB_TAIL_RESERVE 5

void lb_init(struct linebuf *lb, char *storage, size_t size)
{
	lb->buf = storage;
	lb->len = 0;
	lb->cap = size > LB_TAIL_RESERVE ? size - LB_TAIL_RESERVE : 0;
	lb->truncated = 0;
}

void lb_char(struct linebuf *lb, char c)
{
	if (lb->len < lb->cap)
		lb->buf[lb->len++] = c;
	else
		lb->truncated = 1;
}

void lb_mem(struct linebuf *lb, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		lb_char(lb, s[i]);
}

void lb_str(struct linebuf *lb, const char *s)
{
	while (*s)
		lb_char(lb, *s++);
}

/* Digits of V in BASE, most significant first. */
static void lb_unsigned_base(struct linebuf *lb, unsigned long v, unsigned base)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		lb_char(lb, digits[--n]);
}

void lb_udec(struct linebuf *lb, unsigned long v)
{
	lb_unsigned_base(lb, v, 10);
}

void lb_dec(struct linebuf *lb, long v)
{
	if (v < 0) {
		lb_char(lb, '-');
		/* Negate in unsigned arithmetic: LONG_MIN has no positive twin. */
		lb_unsigned_base(lb, 0ul - (unsigned long)v, 10);
	} else {
		lb_unsigned_base(lb, (unsigned long)v, 10);
	}
}

void lb_hex(struct linebuf *lb, unsigned long v)
{
	lb_str(lb, "0x");
	lb_unsigned_base(lb, v, 16);
}

void lb_oct(struct linebuf *lb, unsigned long v)
{
	lb_char(lb, '0');
	if (v)
		lb_unsigned_base(lb, v, 8);
}

void lb_pad_to(struct linebuf *lb, size_t col)
{
	while (lb->len < col && lb->len < lb->cap)
		lb_char(lb, ' ');
}

static int is_octal_digit(char c)
{
	return c >= '0' && c <= '7';
}

void lb_quoted(struct linebuf *lb, const char *s, size_t n, int more)
{
	lb_char(lb, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':  lb_str(lb, "\\\""); continue;
		case '\\': lb_str(lb, "\\\\"); continue;
		case '\n': lb_str(lb, "\\n"); continue;
		case '\t': lb_str(lb, "\\t"); continue;
		case '\r': lb_str(lb, "\\r"); continue;
		case '\v': lb_str(lb, "\\v"); continue;
		case '\f': lb_str(lb, "\\f"); continue;
		}
		if (c >= 0x20 && c < 0x7f) {
			lb_char(lb, (char)c);
			continue;
		}
		/*
		 * Octal escape, short when possible like strace ("\0", "\177");
		 * three digits when the next byte is an octal digit, or it
		 * would be read as part of the escape.
		 */
		lb_char(lb, '\\');
		if (i + 1 < n && is_octal_digit(s[i + 1])) {
			lb_char(lb, (char)('0' + (c >> 6)));
			lb_char(lb, (char)('0' + ((c >> 3) & 7)));
			lb_char(lb, (char)('0' + (c & 7)));
		} else {
			lb_unsigned_base(lb, c, 8);
		}
	}
	lb_char(lb, '"');
	if (more)
		lb_str(lb, "...");
}

size_t lb_finish(struct linebuf *lb)
{
	/* The reserve past cap always has room for this tail. */
	if (lb->truncated) {
		lb->buf[lb->len++] = ' ';
		lb->buf[lb->len++] = '.';
		lb->buf[lb->len++] = '.';
		lb->buf[lb->len++] = '.';
	}
	lb->buf[lb->len++] = '\n';
	return lb->len;
}
