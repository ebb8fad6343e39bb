/* syscall_name.c - see syscall_name.h. */
#include <stddef.h>

#include "syscall_name.h"

static const char *const syscall_names[] = {
	/* Lines "[0] = "read"," made from asm/unistd_64.h by hooklib.mk. */
#include "syscall_names.gen.h"
};

const char *syscall_name(long nr)
{
	if (nr < 0 || (unsigned long)nr >= sizeof(syscall_names) / sizeof(syscall_names[0]))
		return NULL;
	return syscall_names[nr];     /* NULL in the holes of the table */
}
