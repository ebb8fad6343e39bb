/*
 * count_shared.c - the file of counters shared by a process tree.
 *
 * A file in /dev/shm rather than a memfd: a process started by execve
 * must find the counters by name, and a path is a name that survives exec
 * without relying on a descriptor the application might close.
 *
 * A root that dies without calling exit_group (a fatal signal) leaves its
 * file behind; the next root removes the files of roots that no longer
 * exist, so they do not pile up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "count.h"

static struct count_shared *map_counters(int fd)
{
	void *p = mmap(NULL, sizeof(struct count_shared), PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Counters for this process alone, when sharing is impossible. */
static struct count_shared *private_counters(void)
{
	void *p = mmap(NULL, sizeof(struct count_shared), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	struct count_shared *c = p;
	c->magic = COUNT_MAGIC;
	c->root_pid = getpid();
	return c;
}

/* Map the counters a root process published at PATH. */
static struct count_shared *open_existing(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;

	struct count_shared *c = NULL;
	off_t size = lseek(fd, 0, SEEK_END);
	if (size == (off_t)sizeof(struct count_shared))
		c = map_counters(fd);
	close(fd);
	if (c && c->magic != COUNT_MAGIC) {
		munmap(c, sizeof(*c));
		c = NULL;
	}
	return c;
}

/* Remove DIR/zpcount.<pid> files whose root process is gone. */
static void remove_stale_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *entry;

	if (!d)
		return;
	while ((entry = readdir(d)) != NULL) {
		char *end;
		if (strncmp(entry->d_name, "zpcount.", 8) != 0)
			continue;
		long pid = strtol(entry->d_name + 8, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		if (kill((pid_t)pid, 0) == -1 && errno == ESRCH) {
			char path[sizeof(entry->d_name) + 16];
			snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

/* Create PATH for a new tree of processes with this one as the root. */
static struct count_shared *create_new(char *path, size_t path_size)
{
	static const char *const dirs[] = { "/dev/shm", "/tmp" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		remove_stale_files(dirs[i]);
		snprintf(path, path_size, "%s/zpcount.%d", dirs[i], (int)getpid());
		/* A file of a dead run with our recycled pid: it is stale. */
		unlink(path);
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			continue;
		struct count_shared *c = NULL;
		if (ftruncate(fd, sizeof(struct count_shared)) == 0)
			c = map_counters(fd);       /* a new file reads as zeros */
		close(fd);
		if (c) {
			c->root_pid = getpid();
			c->magic = COUNT_MAGIC;
			return c;
		}
		unlink(path);
	}
	path[0] = '\0';
	return NULL;
}

struct count_shared *count_shared_attach(const char *inherited_path, char *path_out,
					 size_t path_size, int *is_root)
{
	struct count_shared *c;

	path_out[0] = '\0';
	if (inherited_path && *inherited_path) {
		/* A process of an existing tree, forked then executed. */
		c = open_existing(inherited_path);
		if (c) {
			snprintf(path_out, path_size, "%s", inherited_path);
			/* The root itself, after an execve of its own. */
			*is_root = c->root_pid == getpid();
			return c;
		}
		/*
		 * The root has already exited and removed the file (a process
		 * left running in the background): count privately, print nothing.
		 */
		*is_root = 0;
		return private_counters();
	}

	*is_root = 1;
	c = create_new(path_out, path_size);
	return c ? c : private_counters();
}
