/*
 * count.h - the counters of libzphook_count.so (an `strace -c` table).
 *
 * One set of counters serves a whole process tree: the first (root)
 * process creates a small file in /dev/shm and maps it MAP_SHARED; fork
 * children inherit the mapping, executed children find the file through the
 * exported variable ZP_COUNT_SHM and map it too.  Counters are updated with
 * relaxed atomic adds only, so threads, processes and signal handlers that
 * re-enter the hook never need a lock.  The root prints the table when it
 * calls exit_group.
 */
#ifndef EXITLESS_COUNT_H
#define EXITLESS_COUNT_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

/* Numbers 0..511 have their own slot; all others share the last one. */
#define COUNT_NR_LIMIT 512
#define COUNT_OTHER_SLOT COUNT_NR_LIMIT
#define COUNT_SLOTS (COUNT_NR_LIMIT + 1)

#define COUNT_MAGIC 0x7a70636f756e7431ull      /* "zpcount1" */

struct count_slot {
	_Atomic uint64_t calls;
	_Atomic uint64_t errors;       /* returned -errno */
	_Atomic uint64_t nsec;         /* time spent in the call, CLOCK_MONOTONIC */
};

struct count_shared {
	uint64_t magic;
	int32_t root_pid;              /* the process that prints the table */
	int32_t reserved;
	struct count_slot slot[COUNT_SLOTS];
};

/* Slot of system call number NR. */
static inline unsigned count_slot_of(long nr)
{
	return nr >= 0 && nr < COUNT_NR_LIMIT ? (unsigned)nr : COUNT_OTHER_SLOT;
}

/*
 * count_shared.c: create the shared counters (root) or map the root's.
 * *IS_ROOT tells whether this process prints the table.  On any failure the
 * counters are private to the process; NULL only if even that fails.
 */
struct count_shared *count_shared_attach(const char *inherited_path, char *path_out,
					 size_t path_size, int *is_root);

/* count_table.c: write the strace -c table of COUNTERS to FD. */
void count_table_write(int fd, const struct count_shared *counters);

#endif
