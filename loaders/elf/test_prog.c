/*
 * test_prog.c - the program loaders/elf/test_zpload.sh runs natively and
 * under `zpload --no-hook`, built dynamic, -static and -static-pie.  Every
 * line it prints must be the same both ways.
 *
 *   test_prog hello ARGS...   argv, one environment variable, exit 3
 *   test_prog aux             the initial stack and auxv as execve leaves
 *                             them: each check prints "NAME ok" or what is
 *                             wrong (the values themselves differ per run)
 *   test_prog fds             the open file descriptors
 *   test_prog brk             the program break grows and shrinks
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/rseq.h>
#include <unistd.h>

extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));
extern void _start(void);

static int base_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, "ld-linux"))
		*(uintptr_t *)data = info->dlpi_addr;
	return 0;
}

/* The /proc/self/maps line holding addr: its start and its name. */
static int map_of(uintptr_t addr, uintptr_t *start, char *name, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		int off = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &off) < 2)
			continue;
		if (addr >= lo && addr < hi) {
			*start = lo;
			snprintf(name, len, "%s", line + off);
			name[strcspn(name, "\n")] = '\0';
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/* The permissions of the mapping holding addr ("rw-p"; PT_GNU_STACK). */
static const char *stack_perms(uintptr_t addr)
{
	static char perms[8] = "?";
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi)
			break;
	}
	if (f)
		fclose(f);
	return perms;
}

static void check(const char *name, int ok, const char *detail)
{
	if (ok)
		printf("%s ok\n", name);
	else
		printf("%s BAD %s\n", name, detail);
}

static int aux(int argc, char **argv, char **envp)
{
	char d[256];
	char **e = envp;
	while (*e)
		e++;
	const ElfW(auxv_t) *av = (const ElfW(auxv_t) *)(e + 1);
	uintptr_t v[64] = { 0 };
	int have[64] = { 0 };

	/* The types, in the order the stack has them. */
	printf("types");
	size_t n = 0;
	for (; av[n].a_type != AT_NULL; n++) {
		printf(" %lu", (unsigned long)av[n].a_type);
		if (av[n].a_type < 64) {
			v[av[n].a_type] = av[n].a_un.a_val;
			have[av[n].a_type] = 1;
		}
	}
	printf("\n");

	/* /proc/self/auxv: the kernel's copy, the same pairs. */
	FILE *f = fopen("/proc/self/auxv", "r");
	ElfW(auxv_t) kv[64];
	size_t kn = f ? fread(kv, sizeof(kv[0]), 64, f) : 0;
	if (f)
		fclose(f);
	int same = kn > n && memcmp(kv, av, (n + 1) * sizeof(kv[0])) == 0;
	check("proc_auxv", same, "/proc/self/auxv differs from the stack's auxv");

	/* The program's own headers and entry. */
	uintptr_t phdr = (uintptr_t)&__ehdr_start + __ehdr_start.e_phoff;
	snprintf(d, sizeof(d), "AT_PHDR %#lx, headers at %#lx", v[AT_PHDR], phdr);
	check("phdr", v[AT_PHDR] == phdr, d);
	check("phent", v[AT_PHENT] == sizeof(ElfW(Phdr)), "AT_PHENT");
	check("phnum", v[AT_PHNUM] == __ehdr_start.e_phnum, "AT_PHNUM");
	snprintf(d, sizeof(d), "AT_ENTRY %#lx, _start at %#lx", v[AT_ENTRY], (uintptr_t)_start);
	check("entry", v[AT_ENTRY] == (uintptr_t)_start, d);
	uintptr_t ldso = 0;
	dl_iterate_phdr(base_cb, &ldso);
	snprintf(d, sizeof(d), "AT_BASE %#lx, ld.so at %#lx", v[AT_BASE], ldso);
	check("base", have[AT_BASE] && v[AT_BASE] == ldso, d);
	check("flags", have[AT_FLAGS] && v[AT_FLAGS] == 0, "AT_FLAGS");
	check("pagesz", v[AT_PAGESZ] == 4096, "AT_PAGESZ");
	check("ids", v[AT_UID] == getuid() && v[AT_EUID] == geteuid() && v[AT_GID] == getgid() &&
	      v[AT_EGID] == getegid() && have[AT_SECURE] && v[AT_SECURE] == 0, "AT_UID..AT_SECURE");
	uintptr_t start;
	char name[256];
	int vdso = have[AT_SYSINFO_EHDR] && map_of(v[AT_SYSINFO_EHDR], &start, name, sizeof(name)) &&
	           start == v[AT_SYSINFO_EHDR] && strcmp(name, "[vdso]") == 0;
	check("vdso", vdso, "AT_SYSINFO_EHDR is not the [vdso] mapping");

	/* The stack: argc at a 16-byte aligned %rsp, the strings contiguous
	 * and in order up to 8 bytes below the (page-aligned) top. */
	check("sp_aligned", ((uintptr_t)argv - 8) % 16 == 0, "argc is not 16-byte aligned");
	const char *s = argv[0];
	int contiguous = 1;
	for (int i = 0; i < argc; i++) {
		contiguous &= argv[i] == s;
		s += strlen(s) + 1;
	}
	for (char **p = envp; *p; p++) {
		contiguous &= *p == s;
		s += strlen(s) + 1;
	}
	const char *execfn = (const char *)v[AT_EXECFN];
	contiguous &= execfn == s;
	s += strlen(s) + 1;
	contiguous &= ((uintptr_t)s + 8) % 4096 == 0 && *(const uint64_t *)s == 0;
	check("strings", contiguous, "argv/env/execfn strings not laid out as the kernel's");
	printf("execfn %s\n", execfn ? execfn : "(none)");
	const char *rnd = (const char *)v[AT_RANDOM], *plat = (const char *)v[AT_PLATFORM];
	check("random", rnd && rnd > (char *)argv && rnd + 16 <= argv[0] &&
	      plat == rnd + 16, "AT_RANDOM not just below AT_PLATFORM");
	printf("platform %s\n", plat ? plat : "(none)");
	check("stack_label", map_of((uintptr_t)argv, &start, name, sizeof(name)) &&
	      strcmp(name, "[stack]") == 0, "the stack is not [stack] in /proc/self/maps");
	printf("stack_perms %s\n", stack_perms((uintptr_t)argv));

	/* What the kernel shows about the process. */
	char buf[4096];
	f = fopen("/proc/self/cmdline", "r");
	size_t len = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = '|';
	buf[len] = '\0';
	printf("cmdline %s\n", buf);
	f = fopen("/proc/self/comm", "r");
	if (f && fgets(buf, sizeof(buf), f))
		printf("comm %s", buf);
	if (f)
		fclose(f);
	/* The program's libc registered its rseq area (zpload released its own). */
	printf("rseq %s\n", __rseq_size > 0 ? "registered" : "not registered");
	return 0;
}

static int fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int self = dirfd(d);

	printf("fds");
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) != self)
			printf(" %s", de->d_name);
	printf("\n");
	closedir(d);
	return 0;
}

static int brk_test(void)
{
	/* Where the break starts differs (the kernel puts a static-pie
	 * program's at ELF_ET_DYN_BASE, far from the program); that it grows
	 * and holds memory is what programs need. */
	char *b0 = sbrk(0);
	char *p = sbrk(1 << 20);
	int grew = p == b0 && sbrk(0) == b0 + (1 << 20);
	if (grew)
		memset(p, 1, 1 << 20);
	/* Give it back before anything (printf's buffer) mallocs after it. */
	int shrank = grew && sbrk(-(1 << 20)) == b0 + (1 << 20) && sbrk(0) == b0;
	check("brk_grow", grew, "sbrk(1 MiB) failed");
	check("brk_shrink", shrank, "sbrk(-1 MiB) failed");
	for (int i = 0; i < 10000; i++)
		free(malloc(100 + i));
	printf("malloc ok\n");
	return 0;
}

int main(int argc, char **argv, char **envp)
{
	if (argc >= 2 && strcmp(argv[1], "hello") == 0) {
		printf("argc %d\n", argc);
		for (int i = 0; i < argc; i++)
			printf("argv[%d] %s\n", i, argv[i]);
		const char *z = getenv("ZPL_VAR");
		printf("ZPL_VAR %s\n", z ? z : "(unset)");
		return 3;
	}
	if (argc >= 2 && strcmp(argv[1], "aux") == 0)
		return aux(argc, argv, envp);
	if (argc >= 2 && strcmp(argv[1], "fds") == 0)
		return fds();
	if (argc >= 2 && strcmp(argv[1], "brk") == 0)
		return brk_test();
	fprintf(stderr, "usage: test_prog hello|aux|fds|brk\n");
	return 2;
}
