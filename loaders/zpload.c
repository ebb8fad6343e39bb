/*
 * zpload - run a program the way execve would, from user space, so that
 * libzpoline (linked in here) can rewrite the program's code before its
 * first instruction runs.
 *
 *   zpload [--no-hook] [--argv0 NAME] [--] PATH [ARG...]
 *
 * PATH is taken literally, relative to the working directory, as execve
 * takes it (no PATH search: zprun resolves names first).  The program gets
 * argv NAME (default PATH) ARG..., zpload's environment, the file
 * descriptors zpload was started with, and an initial stack and auxiliary
 * vector laid out as the kernel's.  "#!" scripts are followed one level,
 * as binfmt_script does; a PT_INTERP interpreter (ld.so) is loaded next to
 * the program and started instead of it, as load_elf_binary does.
 *
 * Every check that can fail is made before anything is mapped, so that an
 * error leaves one line on stderr:
 *   zpload: PATH: <what is wrong>[; <what to do>]
 * and exit status 127 (file or interpreter missing), 126 (cannot be
 * executed) or 2 (usage).
 *
 * --no-hook skips libzpoline entirely: the raw loader, for testing it
 * against execve.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <asm/hwcap2.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/rseq.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "zpload_host.h"
#include "elf/elf_map.h"
#include "elf/elf_parse.h"
#include "elf/jump.h"
#include "elf/script.h"
#include "elf/stack.h"

extern char **environ;

static const char *g_path = "zpload";   /* the PATH named in error lines */

_Noreturn static void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

_Noreturn static void die(int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One write, one line, even if stderr is shared. */
	dprintf(2, "zpload: %s: %s\n", g_path, msg);
	_exit(status);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: zpload [--no-hook] [--argv0 NAME] [--] PATH [ARG...]\n");
}

/* --- opening files as execve does --------------------------------------------- */

struct file {
	const char *path;     /* as given (relative to the working directory) */
	int fd;
	size_t size;
	unsigned char head[SCRIPT_HEAD];   /* the first bytes, as bprm->buf */
	size_t headlen;
	const void *map;      /* the whole file, read-only (ELF files only) */
	struct elf_info info;
	struct elf_mapped m;
};

/*
 * Open f->path for execution.  role is NULL for the program itself, else
 * "interpreter" (the error names the path: the program's own PATH is the
 * one in front).  Checks what open_exec / may_open(MAY_EXEC) check.
 */
static void open_exec(struct file *f, const char *role)
{
	struct stat st;

	f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		int e = errno;
		if (!role && e == ENOENT)
			die(127, "no such file");
		if (role && e == ENOENT)
			die(127, "%s %s is missing", role, f->path);
		if (role)
			die(126, "%s %s: %s", role, f->path, strerror(e));
		if (e == EACCES)
			die(126, "permission denied");
		die(126, "%s", strerror(e));
	}
	if (fstat(f->fd, &st) != 0)
		die(126, "cannot stat %s: %s", f->path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if (role)
			die(126, "%s %s is a directory", role, f->path);
		die(126, "is a directory");
	}
	if (!S_ISREG(st.st_mode)) {
		if (role)
			die(126, "%s %s is not a regular file", role, f->path);
		die(126, "not a regular file");
	}
	/* execve asks for execute permission for the effective ids, and
	 * refuses files on noexec mounts; faccessat(AT_EACCESS) asks the
	 * kernel exactly that (for root: any x bit). */
	if (faccessat(AT_FDCWD, f->path, X_OK, AT_EACCESS) != 0) {
		if (role)
			die(126, "%s %s is not executable (permission denied)", role, f->path);
		die(126, "permission denied (no execute permission, or a noexec mount); chmod +x it?");
	}
	f->size = (size_t)st.st_size;
	ssize_t n = pread(f->fd, f->head, sizeof(f->head), 0);
	if (n < 0)
		die(126, "cannot read %s: %s", f->path, strerror(errno));
	f->headlen = (size_t)n;
}

/* Map the whole file read-only and validate it as an ELF program. */
static void parse_elf(struct file *f, const char *role)
{
	char err[256];

	if (f->headlen < SELFMAG || memcmp(f->head, ELFMAG, SELFMAG) != 0) {
		if (role)
			die(126, "%s %s is not an ELF file", role, f->path);
		die(126, "not an ELF executable or #! script");
	}
	f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, f->fd, 0);
	if (f->map == MAP_FAILED)
		die(126, "cannot map %s: %s", f->path, strerror(errno));
	if (elf_parse(f->map, f->size, &f->info, err, sizeof(err)) != 0) {
		if (role)
			die(126, "%s %s: %s", role, f->path, err);
		die(126, "%s", err);
	}
}

/* --- the process state execve would give --------------------------------------- */

/* The loader's own auxiliary vector, as the kernel wrote it (/proc/self/auxv
 * is the kernel's saved copy, so nothing the C library skips is lost).
 * Without /proc: the types known today, through getauxval.  Returns the
 * number of pairs. */
static size_t own_auxv(uint64_t *v, size_t cap)
{
	size_t n = 0;
	int fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t got = 0, r;
		char *p = (char *)v;
		while ((size_t)got < cap * 16 && (r = read(fd, p + got, cap * 16 - (size_t)got)) > 0)
			got += r;
		close(fd);
		n = (size_t)(got > 0 ? got : 0) / 16;
		for (size_t i = 0; i < n; i++)
			if (v[2 * i] == AT_NULL)
				return i;
		if (n > 0)
			return n;
	}
	static const unsigned long types[] = {
		AT_SYSINFO_EHDR, AT_MINSIGSTKSZ, AT_HWCAP, AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT,
		AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE,
		AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_PLATFORM, 27 /* AT_RSEQ_FEATURE_SIZE */,
		28 /* AT_RSEQ_ALIGN */,
	};
	n = 0;
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]) && n < cap; k++) {
		errno = 0;
		unsigned long val = getauxval(types[k]);
		if (val == 0 && errno == ENOENT)
			continue;
		v[2 * n] = types[k];
		v[2 * n + 1] = val;
		n++;
	}
	return n;
}

/* Does the kernel randomize this process's layout (ASLR)? */
static int randomizing(void)
{
	char c = '2';
	int fd = open("/proc/sys/kernel/randomize_va_space", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '2';
		close(fd);
	}
	return c != '0' && !(personality(0xffffffff) & ADDR_NO_RANDOMIZE);
}

static uint64_t random_u64(void)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		die(126, "getrandom: %s", strerror(errno));
	return r;
}

/*
 * Where a position-independent program goes: load_elf_binary puts one with
 * an interpreter at ELF_ET_DYN_BASE (2/3 of the 47-bit space) plus up to
 * 2^28 random pages, away from the mmap area, so that its program break
 * has room to grow.  zpload does the same for static-pie programs too (the
 * kernel maps those in the mmap area but then moves their break to
 * ELF_ET_DYN_BASE; here the break must follow the program).
 */
static uint64_t dyn_hint(int aslr)
{
	uint64_t base = (ELF_USER_TOP / 3 * 2) & ~(ELF_PAGE - 1);

	if (aslr)
		base += (random_u64() & ((1ull << 28) - 1)) * ELF_PAGE;
	return base;
}

/* glibc 2.35+ registered an rseq area for this thread in zpload's TLS; the
 * program's libc registers its own, which the kernel refuses (EBUSY) while
 * one is registered.  Unregistering gives it the state after execve. */
static void rseq_unregister(void)
{
	if (__rseq_size == 0)
		return;   /* not registered (glibc.pthread.rseq=0, or no kernel support) */
	uint64_t tp;
	__asm__("movq %%fs:0, %0" : "=r"(tp));   /* the TCB's self pointer */
	void *area = (char *)tp + __rseq_offset;
	/* The length must be the registered one: __rseq_size is it for glibc
	 * 2.35-2.39; later glibc registers at least 32 bytes. */
	unsigned sizes[] = { __rseq_size, 32 };
	for (size_t i = 0; i < 2; i++)
		if (syscall(SYS_rseq, area, sizes[i], RSEQ_FLAG_UNREGISTER, RSEQ_SIG) == 0)
			return;
	die(126, "cannot unregister zpload's rseq area: %s", strerror(errno));
}

/*
 * Tell the kernel where the new program's arguments, environment, stack,
 * code, data and program break are, and its auxv: what /proc/self/cmdline,
 * /proc/self/environ, /proc/self/auxv, /proc/self/stat and the [stack] and
 * [heap] names in /proc/self/maps show, and where brk() starts.
 * PR_SET_MM_MAP needs no privilege (only changing /proc/self/exe would).
 * Best effort: without CONFIG_CHECKPOINT_RESTORE those keep showing zpload.
 */
static void set_mm_map(const struct file *prog, const struct stack_layout *st,
                       const struct stack_spec *spec, uint64_t brk, uint64_t *auxv, size_t auxv_words)
{
	struct prctl_mm_map mm;
	const struct elf_info *in = &prog->info;
	uint64_t bias = prog->m.bias;
	uint64_t start_code = UINT64_MAX, end_code = 0, start_data = 0, end_data = 0;

	/* load_elf_binary's bookkeeping of the same names. */
	for (size_t k = 0; k < in->nload; k++) {
		const struct elf_seg *s = &in->load[k];
		if ((s->flags & PF_X) && s->vaddr < start_code)
			start_code = s->vaddr;
		if (start_data < s->vaddr)
			start_data = s->vaddr;
		if ((s->flags & PF_X) && end_code < s->vaddr + s->filesz)
			end_code = s->vaddr + s->filesz;
		if (end_data < s->vaddr + s->filesz)
			end_data = s->vaddr + s->filesz;
	}
	uint64_t s = st->strings;
	for (size_t i = 0; i < spec->argc; i++)
		s += strlen(spec->argv[i]) + 1;
	uint64_t arg_end = s;
	for (size_t i = 0; i < spec->envc; i++)
		s += strlen(spec->envp[i]) + 1;

	memset(&mm, 0, sizeof(mm));
	mm.start_code = bias + start_code;
	mm.end_code = bias + end_code;
	mm.start_data = bias + start_data;
	mm.end_data = bias + end_data;
	mm.start_brk = brk;
	mm.brk = brk;
	mm.start_stack = st->sp;
	mm.arg_start = st->strings;
	mm.arg_end = arg_end;
	mm.env_start = arg_end;
	mm.env_end = s;
	mm.auxv = (__u64 *)auxv;
	mm.auxv_size = (__u32)(auxv_words * sizeof(uint64_t));
	mm.exe_fd = (__u32)-1;
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&mm, sizeof(mm), 0) != 0) {
		/* An auxv longer than the kernel keeps (it copied ours from its
		 * own, so unlikely): try once more without it. */
		mm.auxv = NULL;
		mm.auxv_size = 0;
		(void)prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&mm, sizeof(mm), 0);
	}
}

static char *abs_path(const char *path)
{
	char *r = realpath(path, NULL);

	if (!r)
		die(126, "cannot resolve %s: %s", path, strerror(errno));
	return r;
}

static void unmap_file(struct file *f)
{
	if (f->map && f->map != MAP_FAILED)
		munmap((void *)f->map, f->size);
	f->map = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

#define AUXV_MAX 64   /* pairs; the kernel keeps at most ~26 */

int main(int argc, char **argv)
{
	int hook = 1;
	const char *argv0 = NULL;
	int i = 1;

	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "--no-hook") == 0) {
			hook = 0;
		} else if (strcmp(argv[i], "--argv0") == 0) {
			if (i + 1 >= argc) {
				dprintf(2, "zpload: --argv0 needs a NAME; usage: zpload [--no-hook] "
				        "[--argv0 NAME] [--] PATH [ARG...]\n");
				return 2;
			}
			argv0 = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			dprintf(2, "zpload: unknown option %s; usage: zpload [--no-hook] "
			        "[--argv0 NAME] [--] PATH [ARG...]\n", argv[i]);
			return 2;
		} else {
			break;
		}
	}
	if (i >= argc) {
		dprintf(2, "zpload: no program named; usage: zpload [--no-hook] [--argv0 NAME] "
		        "[--] PATH [ARG...]\n");
		return 2;
	}
	const char *path = argv[i];
	char **args = argv + i + 1;   /* ARG... */
	size_t nargs = (size_t)(argc - i - 1);
	g_path = path;

	/* 1. The program, or the interpreter of a "#!" script. */
	struct file prog = { .path = path, .fd = -1 }, interp = { .fd = -1 };
	struct script_line script;
	char err[256];
	int is_script = 0;
	open_exec(&prog, NULL);
	int sr = script_parse(prog.head, prog.headlen, &script, err, sizeof(err));
	if (sr < 0)
		die(126, "%s", err);
	if (sr == 0) {
		/* binfmt_script: the script file is not needed any more; its
		 * interpreter is the program, and the script's path its
		 * argument. */
		is_script = 1;
		close(prog.fd);
		prog = (struct file){ .path = script.name, .fd = -1 };
		open_exec(&prog, "interpreter");
		struct script_line again;
		if (script_parse(prog.head, prog.headlen, &again, err, sizeof(err)) != 1)
			die(126, "interpreter %s is itself a script; zpload follows one level of #!",
			    script.name);
	}
	parse_elf(&prog, is_script ? "interpreter" : NULL);

	/* 2. Its ELF interpreter (ld.so).  The kernel ignores the
	 * interpreter's own PT_INTERP, and so does this. */
	char interp_path[ELF_MAX_INTERP];
	int has_interp = prog.info.interp != NULL;
	if (has_interp) {
		memcpy(interp_path, prog.info.interp, prog.info.interp_len + 1);
		interp.path = interp_path;
		open_exec(&interp, "interpreter");
		struct script_line sl;
		if (script_parse(interp.head, interp.headlen, &sl, err, sizeof(err)) != 1)
			die(126, "interpreter %s is a script, not an ELF file", interp_path);
		parse_elf(&interp, "interpreter");
	}

	/* 3. Everything else that can fail, before mapping anything. */
	uint64_t own[2 * AUXV_MAX];
	size_t nown = own_auxv(own, AUXV_MAX);
	char *exe_path = abs_path(prog.path);
	char *loader_path = abs_path("/proc/self/exe");
	const char *platform = (const char *)getauxval(AT_PLATFORM);
	if (!platform)
		platform = "x86_64";
	int aslr = randomizing();
	uint64_t fs_base = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) ? 0 : ELF_JUMP_KEEP_FS;

	/* The target's argv: [interp, optarg, PATH] for a script (the kernel
	 * drops argv[0]), else [NAME or PATH]; then ARG... */
	size_t tcount = 0;
	char **targv = calloc(nargs + 4, sizeof(char *));
	if (!targv)
		die(126, "out of memory");
	if (is_script) {
		targv[tcount++] = script.name;
		if (script.has_arg)
			targv[tcount++] = script.arg;
		targv[tcount++] = (char *)path;
	} else {
		targv[tcount++] = (char *)(argv0 ? argv0 : path);
	}
	for (size_t k = 0; k < nargs; k++)
		targv[tcount++] = args[k];

	/* 4. libzpoline first: it maps page 0, which must not be taken. */
	if (hook)
		zp_loader_init();

	/* 5. Map the program and its interpreter (ET_DYN interpreters go
	 * wherever the kernel puts them, like load_elf_interp's). */
	uint64_t hint = prog.info.type == ET_DYN ? dyn_hint(aslr) : 0;
	if (elf_map(prog.fd, &prog.info, hint, &prog.m, err, sizeof(err)) != 0)
		die(126, "%s", err);
	if (has_interp && elf_map(interp.fd, &interp.info, 0, &interp.m, err, sizeof(err)) != 0)
		die(126, "interpreter %s: %s", interp_path, err);

	if (hook) {
		struct file *imgs[2] = { &prog, has_interp ? &interp : NULL };
		for (int k = 0; k < 2; k++) {
			if (!imgs[k])
				continue;
			const struct elf_info *in = &imgs[k]->info;
			for (size_t s = 0; s < in->nload; s++)
				if ((in->load[s].flags & PF_X) &&
				    zp_loader_rewrite(imgs[k]->m.bias + in->load[s].vaddr, in->load[s].memsz) < 0)
					die(126, "cannot rewrite the system calls of %s (segment %zu); "
					    "it would run unhooked", imgs[k]->path, s);
		}
	}
	uint64_t brk = prog.m.end;
	if (hook)
		zp_loader_set_program(exe_path, brk, loader_path);

	/* 6. The initial stack. */
	size_t stack_size;
	void *stack = stack_map(&stack_size, prog.info.has_gnu_stack && (prog.info.stack_flags & PF_X));
	if (!stack)
		die(126, "cannot map a stack: %s", strerror(errno));
	struct stack_target t = {
		.phdr = prog.m.phdr,
		.phent = sizeof(Elf64_Phdr),
		.phnum = prog.info.phnum,
		.base = has_interp ? interp.m.bias : 0,   /* load_elf_interp's load_addr */
		.entry = prog.m.entry,
	};
	uint64_t auxv[2 * AUXV_MAX];
	long naux = stack_auxv(own, nown, &t, auxv, AUXV_MAX - 1);
	if (naux < 0)
		die(126, "auxiliary vector too long");
	size_t envc = 0;
	while (environ && environ[envc])
		envc++;
	struct stack_spec spec = {
		.argv = targv,
		.argc = tcount,
		.envp = environ,
		.envc = envc,
		.execfn = path,   /* bprm->exec: the script's path for a script */
		.platform = platform,
		.auxv = auxv,
		.auxc = (size_t)naux,
		.pad = aslr ? (size_t)(random_u64() % 8192) : 0,
	};
	if (getrandom(spec.random, sizeof(spec.random), 0) != sizeof(spec.random))
		die(126, "getrandom: %s", strerror(errno));
	struct stack_layout layout;
	if (stack_build(stack, stack_size, &spec, &layout) != 0)
		die(126, "arguments and environment do not fit in the stack (%zu bytes)", stack_size);

	/* 7. The process as execve leaves it: the kernel's view of it, no
	 * file of ours open, no rseq area, the program's name. */
	set_mm_map(&prog, &layout, &spec, brk, (uint64_t *)layout.auxv,
	           2 * ((size_t)naux + 1));
	unmap_file(&prog);
	unmap_file(&interp);
	const char *base = strrchr(path, '/');
	prctl(PR_SET_NAME, (unsigned long)(base ? base + 1 : path), 0, 0, 0);
	rseq_unregister();

	uint64_t entry = has_interp ? interp.m.entry : prog.m.entry;
	if (hook)
		zp_loader_enter_target();
	elf_jump(entry, layout.sp, fs_base);
}
