/*
 * script.h - the "#!" line of an interpreter script, parsed as the kernel's
 * binfmt_script does.
 */
#ifndef EXITLESS_ELF_SCRIPT_H
#define EXITLESS_ELF_SCRIPT_H

#include <stddef.h>

/* The kernel reads this much of a file to decide what it is
 * (BINPRM_BUF_SIZE); a "#!" line must end within it. */
#define SCRIPT_HEAD 256

struct script_line {
	char name[SCRIPT_HEAD];   /* the interpreter path */
	char arg[SCRIPT_HEAD];    /* its one optional argument (may hold spaces) */
	int has_arg;
};

/*
 * head: the first len bytes of the file (at most SCRIPT_HEAD are looked at).
 * Returns 1 if it is not a "#!" script, 0 with *out filled, or -1 with a
 * phrase in err (the kernel's ENOEXEC cases: no interpreter named, a line
 * that does not end within the first 256 bytes).
 */
int script_parse(const void *head, size_t len, struct script_line *out, char *err, size_t errlen);

#endif
