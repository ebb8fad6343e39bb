/*
 * count_table.c - the summary table, in the format of `strace -c`:
 *
 * % time     seconds  usecs/call     calls    errors syscall
 * ------ ----------- ----------- --------- --------- ----------------
 *  75.07    0.001400         466         3         1 wait4
 *   0.00    0.000000           0         1           getpid
 * ------ ----------- ----------- --------- --------- ----------------
 * 100.00    0.001865           5       354        57 total
 *
 * Rows are sorted by time, then by calls, then by name.  The errors column
 * is blank when there are none (as in strace), so parse a row by its first
 * four fields and its last one: `awk '$NF == "getpid" { print $4 }'`.
 * Runs once, at exit, so it may use stdio and malloc freely.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "count.h"
#include "syscall_name.h"

struct row {
	char name[32];
	uint64_t calls;
	uint64_t errors;
	uint64_t nsec;
};

static int by_time_then_calls(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;

	if (a->nsec != b->nsec)
		return a->nsec > b->nsec ? -1 : 1;
	if (a->calls != b->calls)
		return a->calls > b->calls ? -1 : 1;
	return strcmp(a->name, b->name);
}

static void slot_name(unsigned slot, char *out, size_t size)
{
	const char *name = slot == COUNT_OTHER_SLOT ? NULL : syscall_name((long)slot);

	if (name)
		snprintf(out, size, "%s", name);
	else if (slot == COUNT_OTHER_SLOT)
		snprintf(out, size, "syscall_other");   /* numbers < 0 or >= 512 */
	else
		snprintf(out, size, "syscall_%u", slot);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* The errors column: blank when zero, like strace. */
static void errors_text(uint64_t errors, char *out, size_t size)
{
	if (errors)
		snprintf(out, size, "%llu", (unsigned long long)errors);
	else
		out[0] = '\0';
}

static size_t append_row(char *buf, size_t at, size_t size, const char *name, uint64_t calls,
			 uint64_t errors, uint64_t nsec, uint64_t total_nsec)
{
	char errs[24];
	double percent = total_nsec ? 100.0 * (double)nsec / (double)total_nsec : 0.0;
	unsigned long long usecs_per_call = calls ? nsec / calls / 1000 : 0;

	errors_text(errors, errs, sizeof(errs));
	int n = snprintf(buf + at, size - at, "%6.2f %11.6f %11llu %9llu %9s %s\n",
			 percent, (double)nsec / 1e9, usecs_per_call,
			 (unsigned long long)calls, errs, name);
	return n > 0 && (size_t)n < size - at ? at + (size_t)n : at;
}

void count_table_write(int fd, const struct count_shared *counters)
{
	static const char header[] =
		"% time     seconds  usecs/call     calls    errors syscall\n";
	static const char rule[] =
		"------ ----------- ----------- --------- --------- ----------------\n";
	/* 80 bytes a row is plenty: name <= 31, numbers bounded by the formats. */
	size_t size = (COUNT_SLOTS + 4) * 96;
	struct row *rows = malloc(COUNT_SLOTS * sizeof(*rows));
	char *buf = malloc(size);
	if (!rows || !buf) {
		free(rows);
		free(buf);
		return;
	}

	unsigned nrows = 0;
	uint64_t total_calls = 0, total_errors = 0, total_nsec = 0;
	for (unsigned s = 0; s < COUNT_SLOTS; s++) {
		const struct count_slot *slot = &counters->slot[s];
		uint64_t calls = atomic_load_explicit(&slot->calls, memory_order_relaxed);
		if (calls == 0)
			continue;
		struct row *r = &rows[nrows++];
		slot_name(s, r->name, sizeof(r->name));
		r->calls = calls;
		r->errors = atomic_load_explicit(&slot->errors, memory_order_relaxed);
		r->nsec = atomic_load_explicit(&slot->nsec, memory_order_relaxed);
		total_calls += r->calls;
		total_errors += r->errors;
		total_nsec += r->nsec;
	}
	qsort(rows, nrows, sizeof(*rows), by_time_then_calls);

	size_t at = 0;
	memcpy(buf + at, header, sizeof(header) - 1);
	at += sizeof(header) - 1;
	memcpy(buf + at, rule, sizeof(rule) - 1);
	at += sizeof(rule) - 1;
	for (unsigned i = 0; i < nrows; i++)
		at = append_row(buf, at, size, rows[i].name, rows[i].calls, rows[i].errors,
				rows[i].nsec, total_nsec);
	memcpy(buf + at, rule, sizeof(rule) - 1);
	at += sizeof(rule) - 1;
	at = append_row(buf, at, size, "total", total_calls, total_errors, total_nsec, total_nsec);

	write_all(fd, buf, at);
	free(rows);
	free(buf);
}
