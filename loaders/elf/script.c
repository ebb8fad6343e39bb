/*
 * script.c - the "#!" line, as fs/binfmt_script.c's load_script parses it:
 * the interpreter name runs to the first space, tab or NUL; everything
 * after the following blanks, up to the end of the line less trailing
 * blanks, is ONE argument (spaces included).  The line must end within the
 * first 256 bytes unless the interpreter name itself is complete there.
 * Copying the kernel's pointer walk keeps the odd cases (NUL bytes, a line
 * without newline) the same.
 */
#include "script.h"

#include <stdio.h>
#include <string.h>

static int spacetab(char c)
{
	return c == ' ' || c == '\t';
}

static const char *next_non_spacetab(const char *first, const char *last)
{
	for (; first <= last; first++)
		if (!spacetab(*first))
			return first;
	return NULL;
}

static const char *next_terminator(const char *first, const char *last)
{
	for (; first <= last; first++)
		if (spacetab(*first) || !*first)
			return first;
	return NULL;
}

/* The kernel's strnchr: stops at a NUL as well. */
static const char *strnchr_k(const char *s, size_t count, char c)
{
	for (; count-- && *s != '\0'; ++s)
		if (*s == c)
			return s;
	return NULL;
}

int script_parse(const void *head, size_t len, struct script_line *out, char *err, size_t errlen)
{
	/* bprm->buf: zeroed, then filled with as much of the file as there is. */
	char buf[SCRIPT_HEAD];

	memset(out, 0, sizeof(*out));
	memset(buf, 0, sizeof(buf));
	memcpy(buf, head, len < sizeof(buf) ? len : sizeof(buf));
	if (buf[0] != '#' || buf[1] != '!')
		return 1;

	const char *buf_end = buf + sizeof(buf) - 1;
	const char *i_end = strnchr_k(buf, sizeof(buf), '\n');
	if (!i_end) {
		i_end = next_non_spacetab(buf + 2, buf_end);
		if (!i_end) {
			snprintf(err, errlen, "the #! line names no interpreter");
			return -1;
		}
		/* No later blank or NUL: the name itself may be cut off. */
		if (!next_terminator(i_end, buf_end)) {
			snprintf(err, errlen, "the #! line is longer than %d bytes", SCRIPT_HEAD - 1);
			return -1;
		}
		i_end = buf_end;
	}
	while (spacetab(i_end[-1]))
		i_end--;

	const char *i_name = next_non_spacetab(buf + 2, i_end);
	if (!i_name || i_name == i_end) {
		snprintf(err, errlen, "the #! line names no interpreter");
		return -1;
	}
	const char *i_arg = NULL;
	const char *i_sep = next_terminator(i_name, i_end);
	if (i_sep && *i_sep != '\0')
		i_arg = next_non_spacetab(i_sep, i_end);

	buf[i_end - buf] = '\0';
	if (i_arg)
		buf[i_sep - buf] = '\0';
	/* "#!" then a NUL: the kernel goes on and fails to open "" (ENOENT);
	 * the line names no interpreter, which is the clearer thing to say. */
	if (*i_name == '\0') {
		snprintf(err, errlen, "the #! line names no interpreter");
		return -1;
	}
	/* Both strings end within buf: i_end <= buf_end was just cleared. */
	strcpy(out->name, i_name);
	if (i_arg) {
		strcpy(out->arg, i_arg);
		out->has_arg = 1;
	}
	return 0;
}
