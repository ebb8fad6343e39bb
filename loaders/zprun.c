/*
 * zprun - run a program with every system call routed through a zpoline hook.
 *
 *   zprun [--hook NAME|PATH] [--mechanism NAME] [--loader] [--verbose] [--] prog args...
 *
 * zprun does not hook anything itself.  It prepares the environment that
 * libzpoline.so needs and then replaces itself with the program (execvp), so
 * the program keeps zprun's PID and its exit status reaches the caller
 * unchanged:
 *
 *   LD_PRELOAD   <kit>/zpoline/libzpoline.so, prepended to any existing value
 *                (--mechanism preload: <kit>/hooklib/libzp_preload.so instead;
 *                --mechanism ptrace: not set)
 *   ZP_MECHANISM int3, sud or seccomp for those mechanisms (libzpoline reads it)
 *
 * Under the loader (--loader, or by itself for a statically linked program)
 * zprun execs <kit>/loaders/zpload instead, which has libzpoline built in:
 * LD_PRELOAD is not set, and zpload maps the program (and its ld.so) and
 * rewrites them before their first instruction (loaders/zpload.c).
 *   LIBZPHOOK    absolute path of the hook library (only with --hook)
 *   ZP_VERBOSE   1 (only with --verbose)
 *
 * Mechanisms (how system calls reach the hook), the front ends that the
 * benchmarks compare; the hook library is the same for all of them:
 *   zpoline   (default) every syscall instruction rewritten into a call
 *   preload   libc's socket/epoll/poll/select/read/write functions replaced
 *             through LD_PRELOAD (the minimum-overhead comparison case; it
 *             sees only those calls; see hooklib/preload/preload.c)
 *   int3      the sites zpoline finds become int3 traps (SIGTRAP handler)
 *   sud       Syscall User Dispatch: every call traps (SIGSYS handler)
 *   seccomp   a seccomp filter returning SECCOMP_RET_TRAP (SIGSYS handler)
 *   ptrace    <kit>/loaders/zptrace traces the program and runs the hook in
 *             the tracer (zprun execs zptrace instead of the program, so the
 *             program is zptrace's child; the exit status is still its own)
 *
 * The libraries are found relative to zprun's own executable, so a checkout
 * works from anywhere without installation:
 *
 *   <dir of zprun>/../zpoline/libzpoline.so
 *   <dir of zprun>/../hooklib/libzphook_NAME.so
 *   <dir of zprun>/../hooklib/libzp_preload.so   (--mechanism preload)
 *   <dir of zprun>/zptrace                      (--mechanism ptrace)
 *
 * Before exec'ing, zprun checks that this process may map virtual page 0
 * (where libzpoline puts its trampoline; only the zpoline mechanism needs
 * it).  If it may not, it says why and what to do in one line, instead of
 * letting libzpoline fail inside the program.
 *
 * Exit status: the program's own; 2 for bad usage, an unknown hook or
 * mechanism; 126 when
 * page 0 cannot be mapped, the kit is incomplete or the program cannot be
 * executed; 127 when the program is not found (as a shell does).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf/elf_parse.h"

enum {
	EXIT_USAGE = 2,          /* bad command line, unknown hook */
	EXIT_CANNOT_RUN = 126,   /* page 0, missing kit library, exec refused */
	EXIT_NOT_FOUND = 127,    /* program not found, like a shell */
};

/* Linux capability number of CAP_SYS_RAWIO: it lets a process map below
 * vm.mmap_min_addr.  Spelled out to avoid depending on libcap headers. */
#define CAP_SYS_RAWIO_BIT 17

/* Hook library NAME is <kit>/hooklib/HOOK_PREFIX NAME HOOK_SUFFIX. */
#define HOOK_PREFIX "libzphook_"
#define HOOK_SUFFIX ".so"

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

/*
 * Options live in one table so later issues can add theirs (--mechanism,
 * --loader) by adding a row and a case in apply_option().  Rows with
 * implemented == false are listed in --help as planned and rejected cleanly.
 */
enum option_id {
	OPT_HELP,
	OPT_HOOK,
	OPT_VERBOSE,
	OPT_MECHANISM,
	OPT_LOADER,
};

struct option_row {
	enum option_id id;
	const char *long_name;   /* without the leading "--" */
	const char *short_name;  /* e.g. "-h", or NULL */
	const char *arg_name;    /* NULL if the option takes no argument */
	bool implemented;
	const char *help;
};

static const struct option_row option_table[] = {
	{ OPT_HOOK, "hook", NULL, "NAME|PATH", true,
	  "hook library: a NAME in <kit>/hooklib/libzphook_NAME.so, or a PATH\n"
	  "                        (contains '/' or ends in .so). Default: no hook\n"
	  "                        (plain pass-through; an inherited LIBZPHOOK is kept)" },
	{ OPT_VERBOSE, "verbose", "-v", NULL, true,
	  "print what zprun sets up; set ZP_VERBOSE=1 for libzpoline" },
	{ OPT_HELP, "help", "-h", NULL, true,
	  "show this help and exit" },
	{ OPT_MECHANISM, "mechanism", NULL, "NAME", true,
	  "how system calls reach the hook:\n"
	  "                          zpoline  every syscall instruction rewritten (default)\n"
	  "                          preload  libc's socket/epoll/poll/read/write... replaced\n"
	  "                                   by LD_PRELOAD (not exhaustive: the minimum-\n"
	  "                                   overhead comparison case)\n"
	  "                          int3     the same sites as zpoline, as int3 traps\n"
	  "                          sud      Syscall User Dispatch (SIGSYS per call)\n"
	  "                          seccomp  seccomp SECCOMP_RET_TRAP (SIGSYS per call;\n"
	  "                                   the program cannot execve)\n"
	  "                          ptrace   a tracer runs the hook (loaders/zptrace)" },
	{ OPT_LOADER, "loader", NULL, NULL, true,
	  "start the program through the ELF loader (loaders/zpload), which\n"
	  "                        rewrites it, and ld.so, before their first instruction.\n"
	  "                        Chosen by itself for statically linked programs,\n"
	  "                        which LD_PRELOAD cannot reach (zpoline mechanism)" },
};
#define OPTION_COUNT (sizeof option_table / sizeof option_table[0])

enum mechanism {
	MECH_ZPOLINE,            /* libzpoline.so: every syscall instruction */
	MECH_PRELOAD,            /* libzp_preload.so: libc's functions */
	MECH_INT3,               /* libzpoline.so, ZP_MECHANISM=int3 */
	MECH_SUD,                /* libzpoline.so, ZP_MECHANISM=sud */
	MECH_SECCOMP,            /* libzpoline.so, ZP_MECHANISM=seccomp */
	MECH_PTRACE,             /* loaders/zptrace runs the hook */
};

/* The names --mechanism accepts, in enum order; also ZP_MECHANISM's values
 * for the libzpoline-based ones. */
static const char *const mechanism_names[] = { "zpoline", "preload", "int3", "sud", "seccomp",
					       "ptrace" };
#define MECHANISM_COUNT (sizeof mechanism_names / sizeof mechanism_names[0])

struct settings {
	const char *hook;        /* as given on the command line, or NULL */
	enum mechanism mechanism;
	bool verbose;
	bool loader;             /* --loader */
	char **program_argv;     /* points into argv: prog args... NULL */
};

static void print_help(FILE *out)
{
	fprintf(out,
		"Usage: zprun [OPTIONS] [--] PROGRAM [ARGS...]\n"
		"Run PROGRAM with every system call routed through libzpoline.so and,\n"
		"optionally, a hook library. The exit status is PROGRAM's own.\n"
		"\nOptions:\n");
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct option_row *row = &option_table[i];
		char left[64];
		snprintf(left, sizeof left, "%s%s--%s%s%s",
			 row->short_name ? row->short_name : "",
			 row->short_name ? ", " : "    ",
			 row->long_name,
			 row->arg_name ? " " : "",
			 row->arg_name ? row->arg_name : "");
		fprintf(out, "  %-20s  %s\n", left, row->help);
	}
	fprintf(out,
		"\nExamples:\n"
		"  zprun --hook count -- redis-server --port 7000 --save ''\n"
		"  zprun --hook trace -- ls /\n"
		"  zprun --mechanism preload --hook netstack -- redis-server --save ''\n"
		"  zprun --mechanism sud --hook count -- ls /\n"
		"  zprun --loader --hook count -- ls /     (ld.so's own calls counted too)\n"
		"\nExit status: PROGRAM's; 2 bad usage, unknown hook or mechanism; 126 page 0 cannot be\n"
		"mapped, kit library missing or PROGRAM not executable; 127 PROGRAM not found.\n");
}

static void usage_error(const char *fmt, const char *what)
{
	fputs("zprun: ", stderr);
	fprintf(stderr, fmt, what);
	fputs(" (try 'zprun --help')\n", stderr);
	exit(EXIT_USAGE);
}

/* Find the table row for ARG ("--name", "--name=value" or a short name).
 * *inline_value gets the part after '=' if there is one. */
static const struct option_row *find_option(const char *arg, const char **inline_value)
{
	*inline_value = NULL;
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct option_row *row = &option_table[i];
		if (row->short_name && strcmp(arg, row->short_name) == 0)
			return row;
		if (strncmp(arg, "--", 2) != 0)
			continue;
		size_t len = strlen(row->long_name);
		if (strncmp(arg + 2, row->long_name, len) != 0)
			continue;
		if (arg[2 + len] == '\0')
			return row;
		if (arg[2 + len] == '=') {
			*inline_value = arg + 2 + len + 1;
			return row;
		}
	}
	return NULL;
}

/* One line naming the mechanisms there are, exit 2. */
static _Noreturn void report_unknown_mechanism(const char *name)
{
	fprintf(stderr, "zprun: unknown mechanism '%s'; available:", name);
	for (size_t i = 0; i < MECHANISM_COUNT; i++)
		fprintf(stderr, " %s", mechanism_names[i]);
	fputs(" (try 'zprun --help')\n", stderr);
	exit(EXIT_USAGE);
}

static enum mechanism parse_mechanism(const char *name)
{
	for (size_t i = 0; i < MECHANISM_COUNT; i++)
		if (strcmp(name, mechanism_names[i]) == 0)
			return (enum mechanism)i;
	report_unknown_mechanism(name);
}

static void apply_option(struct settings *settings, const struct option_row *row, const char *value)
{
	if (!row->implemented)
		usage_error("--%s is not implemented yet", row->long_name);
	switch (row->id) {
	case OPT_HELP:
		print_help(stdout);
		exit(0);
	case OPT_HOOK:
		if (value[0] == '\0')
			usage_error("%s needs a hook name or path", "--hook");
		settings->hook = value;
		break;
	case OPT_VERBOSE:
		settings->verbose = true;
		break;
	case OPT_MECHANISM:
		settings->mechanism = parse_mechanism(value);
		break;
	case OPT_LOADER:
		settings->loader = true;
		break;
	}
}

/* Options stop at "--" or at the first argument that is not an option, so
 * "zprun ls -l" passes -l to ls. */
static struct settings parse_command_line(int argc, char **argv)
{
	struct settings settings = { 0 };
	int i = 1;
	while (i < argc) {
		const char *arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break;
		const char *value;
		const struct option_row *row = find_option(arg, &value);
		if (row == NULL)
			usage_error("unknown option '%s'", arg);
		if (row->arg_name == NULL && value != NULL)
			usage_error("--%s takes no argument", row->long_name);
		if (row->arg_name != NULL && value == NULL) {
			if (i + 1 >= argc)
				usage_error("--%s needs an argument", row->long_name);
			value = argv[++i];
		}
		apply_option(&settings, row, value);
		i++;
	}
	if (i >= argc)
		usage_error("%s", "no program given");
	settings.program_argv = &argv[i];
	return settings;
}

/* ------------------------------------------------------------------ */
/* Finding the kit's libraries                                         */
/* ------------------------------------------------------------------ */

/* Directory holding the zprun executable, without a trailing slash. */
static void find_own_directory(char *dir, size_t size)
{
	ssize_t len = readlink("/proc/self/exe", dir, size - 1);
	if (len < 0) {
		fprintf(stderr, "zprun: cannot read /proc/self/exe: %s (is /proc mounted?)\n",
			strerror(errno));
		exit(EXIT_CANNOT_RUN);
	}
	dir[len] = '\0';
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';   /* zprun in "/": keep the root */
	else if (slash != NULL)
		*slash = '\0';
}

/* snprintf into a path buffer; a path too long for PATH_MAX is an error,
 * never a silently truncated (and possibly different) file name. */
__attribute__((format(printf, 3, 4)))
static void format_path(char *out, size_t size, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	int len = vsnprintf(out, size, fmt, args);
	va_end(args);
	if (len < 0 || (size_t)len >= size) {
		fprintf(stderr, "zprun: path too long (over %zu bytes)\n", size - 1);
		exit(EXIT_CANNOT_RUN);
	}
}

static bool ends_with(const char *text, const char *suffix)
{
	size_t text_len = strlen(text), suffix_len = strlen(suffix);
	return text_len >= suffix_len && strcmp(text + text_len - suffix_len, suffix) == 0;
}

static int is_hook_library_entry(const struct dirent *entry)
{
	return strncmp(entry->d_name, HOOK_PREFIX, strlen(HOOK_PREFIX)) == 0 &&
	       ends_with(entry->d_name, HOOK_SUFFIX) &&
	       strlen(entry->d_name) > strlen(HOOK_PREFIX HOOK_SUFFIX);
}

/* One line: the hook names found in HOOK_DIR, sorted. */
static void report_unknown_hook(const char *name, const char *hook_dir)
{
	struct dirent **entries;
	int count = scandir(hook_dir, &entries, is_hook_library_entry, alphasort);
	fprintf(stderr, "zprun: unknown hook '%s'; available in %s:", name, hook_dir);
	if (count <= 0)
		fputs(" none (build them with 'make')", stderr);
	for (int i = 0; i < count; i++) {
		const char *file = entries[i]->d_name;
		int name_len = (int)(strlen(file) - strlen(HOOK_PREFIX) - strlen(HOOK_SUFFIX));
		fprintf(stderr, " %.*s", name_len, file + strlen(HOOK_PREFIX));
		free(entries[i]);
	}
	if (count > 0)
		free(entries);
	fputs(" (or give a path)\n", stderr);
}

/* Absolute, canonical path of the hook library named by --hook. */
static void resolve_hook(const char *hook, const char *own_dir, char *resolved)
{
	bool is_path = strchr(hook, '/') != NULL || ends_with(hook, ".so");
	if (is_path) {
		if (realpath(hook, resolved) == NULL) {
			fprintf(stderr, "zprun: hook library '%s': %s\n", hook, strerror(errno));
			exit(EXIT_USAGE);
		}
		return;
	}
	char hook_dir[PATH_MAX], candidate[PATH_MAX];
	format_path(hook_dir, sizeof hook_dir, "%s/../hooklib", own_dir);
	/* Canonical form only to make messages readable; keep ".." if absent. */
	char canonical_dir[PATH_MAX];
	if (realpath(hook_dir, canonical_dir) != NULL)
		memcpy(hook_dir, canonical_dir, sizeof hook_dir);
	format_path(candidate, sizeof candidate, "%s/" HOOK_PREFIX "%s" HOOK_SUFFIX, hook_dir, hook);
	if (realpath(candidate, resolved) == NULL) {
		report_unknown_hook(hook, hook_dir);
		exit(EXIT_USAGE);
	}
}

/* The kit file a mechanism needs: the library LD_PRELOAD gets (libzpoline,
 * or the preload mechanism's), or for ptrace the tracer zptrace. */
static void resolve_front_end(const char *own_dir, enum mechanism mechanism, char *resolved)
{
	char candidate[PATH_MAX];
	if (mechanism == MECH_PRELOAD)
		format_path(candidate, sizeof candidate, "%s/../hooklib/libzp_preload.so", own_dir);
	else if (mechanism == MECH_PTRACE)
		format_path(candidate, sizeof candidate, "%s/zptrace", own_dir);
	else
		format_path(candidate, sizeof candidate, "%s/../zpoline/libzpoline.so", own_dir);
	if (realpath(candidate, resolved) == NULL) {
		fprintf(stderr, "zprun: %s: %s (build the kit with 'make')\n",
			candidate, strerror(errno));
		exit(EXIT_CANNOT_RUN);
	}
}

/* ------------------------------------------------------------------ */
/* Page 0                                                              */
/* ------------------------------------------------------------------ */

static long read_mmap_min_addr(void)
{
	FILE *file = fopen("/proc/sys/vm/mmap_min_addr", "r");
	long value = -1;
	if (file != NULL) {
		if (fscanf(file, "%ld", &value) != 1)
			value = -1;
		fclose(file);
	}
	return value;
}

/* Whether CapEff in /proc/self/status has CAP_SYS_RAWIO; false if unknown. */
static bool has_cap_sys_rawio(void)
{
	FILE *file = fopen("/proc/self/status", "r");
	if (file == NULL)
		return false;
	char line[256];
	unsigned long long effective = 0;
	bool found = false;
	while (fgets(line, sizeof line, file) != NULL)
		if (sscanf(line, "CapEff: %llx", &effective) == 1) {
			found = true;
			break;
		}
	fclose(file);
	return found && (effective >> CAP_SYS_RAWIO_BIT) & 1;
}

/* Whether this process is in a user namespace other than the initial one
 * (e.g. "unshare -r"): there uid 0 has no capabilities on the host, so
 * CapEff looks full but page 0 is still refused. */
static bool in_child_user_namespace(void)
{
	FILE *file = fopen("/proc/self/uid_map", "r");
	if (file == NULL)
		return false;
	unsigned long inside, outside, count;
	bool initial = fscanf(file, "%lu %lu %lu", &inside, &outside, &count) == 3 &&
		       inside == 0 && outside == 0 && count == 4294967295UL;
	fclose(file);
	return !initial;
}

/*
 * Try to map page 0 the way libzpoline will.  MAP_FIXED_NOREPLACE never
 * clobbers an existing mapping.  EEXIST means page 0 is already mapped: that
 * happens when zprun itself runs under libzpoline (nested zprun), whose
 * trampoline is there, so the program will be able to have one too.
 */
static bool can_map_page_zero(int *error)
{
	long page_size = sysconf(_SC_PAGESIZE);
	void *page = mmap(NULL, (size_t)page_size, PROT_READ,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (page == MAP_FAILED) {
		*error = errno;
		return errno == EEXIST;
	}
	munmap(page, (size_t)page_size);
	/* A kernel without MAP_FIXED_NOREPLACE (< 4.17) treats the address as a
	 * hint and may place the page elsewhere: that is a failure too. */
	*error = EPERM;
	return page == NULL;
}

/* One line naming the cause and the fix, then exit 126. */
static void report_page_zero_refused(int error)
{
	long min_addr = read_mmap_min_addr();
	bool selinux = access("/sys/fs/selinux", F_OK) == 0;
	char cause[160];

	if (geteuid() != 0)
		snprintf(cause, sizeof cause, "not root, vm.mmap_min_addr=%ld", min_addr);
	else if (in_child_user_namespace())
		snprintf(cause, sizeof cause, "root only inside a user namespace, vm.mmap_min_addr=%ld", min_addr);
	else if (!has_cap_sys_rawio())
		snprintf(cause, sizeof cause, "root without CAP_SYS_RAWIO, vm.mmap_min_addr=%ld", min_addr);
	else
		snprintf(cause, sizeof cause, "vm.mmap_min_addr=%ld", min_addr);

	fprintf(stderr, "zprun: cannot map page 0 for the zpoline trampoline (%s: %s): "
		"run as root, or sysctl -w vm.mmap_min_addr=0%s\n",
		cause, strerror(error),
		selinux ? "; SELinux is present: also setsebool -P mmap_low_allowed 1" : "");
	exit(EXIT_CANNOT_RUN);
}

/* ------------------------------------------------------------------ */
/* Environment and exec                                                */
/* ------------------------------------------------------------------ */

static void set_variable(const char *name, const char *value, bool verbose)
{
	if (setenv(name, value, 1) != 0) {
		fprintf(stderr, "zprun: setenv %s: %s\n", name, strerror(errno));
		exit(EXIT_CANNOT_RUN);
	}
	if (verbose)
		fprintf(stderr, "zprun: %s=%s\n", name, value);
}

/* libzpoline (or libzp_preload) goes first so it is initialised before
 * other preloaded code runs; whatever the user preloaded is kept after it. */
static void prepend_ld_preload(const char *library, bool verbose)
{
	const char *existing = getenv("LD_PRELOAD");
	if (existing == NULL || existing[0] == '\0') {
		set_variable("LD_PRELOAD", library, verbose);
		return;
	}
	size_t size = strlen(library) + 1 + strlen(existing) + 1;
	char *combined = malloc(size);
	if (combined == NULL) {
		fputs("zprun: out of memory\n", stderr);
		exit(EXIT_CANNOT_RUN);
	}
	snprintf(combined, size, "%s:%s", library, existing);
	set_variable("LD_PRELOAD", combined, verbose);
	free(combined);
}

/* ------------------------------------------------------------------ */
/* Static programs and the ELF loader                                  */
/* ------------------------------------------------------------------ */

/* Where execvp would find the program: a name with a '/' as it is, else
 * the first executable regular file in $PATH.  false if none. */
static bool find_program(const char *name, char *found)
{
	if (strchr(name, '/') != NULL) {
		snprintf(found, PATH_MAX, "%s", name);
		return true;
	}
	const char *path = getenv("PATH");
	if (path == NULL || path[0] == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		struct stat st;
		snprintf(found, PATH_MAX, "%.*s%s%s", (int)len, len ? path : ".", "/", name);
		if (stat(found, &st) == 0 && S_ISREG(st.st_mode) && access(found, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

/*
 * Is this an ELF program with no interpreter (static or static-pie)?
 * LD_PRELOAD cannot reach those.  Anything we cannot read or parse is left
 * to execve (or the loader) to report.
 */
static bool is_static_elf(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool is_static = false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (file != MAP_FAILED) {
			struct elf_info info;
			char err[128];
			is_static = elf_parse(file, (size_t)st.st_size, &info, err, sizeof err) == 0 &&
				    info.interp == NULL;
			munmap(file, (size_t)st.st_size);
		}
	}
	close(fd);
	return is_static;
}

/* zpload --argv0 NAME -- PATH args...: the loader runs PATH with the argv
 * the program was given. */
static char **loader_argv(const char *zpload, const char *path, char **program_argv)
{
	size_t count = 0;
	while (program_argv[count] != NULL)
		count++;
	char **argv = calloc(count + 6, sizeof *argv);
	if (argv == NULL) {
		fputs("zprun: out of memory\n", stderr);
		exit(EXIT_CANNOT_RUN);
	}
	argv[0] = (char *)zpload;
	argv[1] = "--argv0";
	argv[2] = program_argv[0];
	argv[3] = "--";
	argv[4] = (char *)path;
	memcpy(&argv[5], &program_argv[1], count * sizeof *argv);
	return argv;
}

/* The program's argv behind zptrace's: zptrace -- prog args... */
static char **tracer_argv(const char *zptrace, char **program_argv)
{
	size_t count = 0;
	while (program_argv[count] != NULL)
		count++;
	char **argv = calloc(count + 3, sizeof *argv);
	if (argv == NULL) {
		fputs("zprun: out of memory\n", stderr);
		exit(EXIT_CANNOT_RUN);
	}
	argv[0] = (char *)zptrace;
	argv[1] = "--";
	memcpy(&argv[2], program_argv, (count + 1) * sizeof *argv);
	return argv;
}

int main(int argc, char **argv)
{
	struct settings settings = parse_command_line(argc, argv);

	char own_dir[PATH_MAX];
	find_own_directory(own_dir, sizeof own_dir);

	char front_end_path[PATH_MAX];
	resolve_front_end(own_dir, settings.mechanism, front_end_path);

	char hook_path[PATH_MAX];
	if (settings.hook != NULL)
		resolve_hook(settings.hook, own_dir, hook_path);

	/*
	 * The loader: asked for, or the only way in for a static program under
	 * zpoline.  The other LD_PRELOAD mechanisms cannot reach one at all.
	 */
	char program_path[PATH_MAX];
	bool found = find_program(settings.program_argv[0], program_path);
	bool is_static = found && is_static_elf(program_path);
	if (settings.loader && settings.mechanism != MECH_ZPOLINE)
		usage_error("--loader works with the zpoline mechanism only, not '%s'",
			    mechanism_names[settings.mechanism]);
	if (is_static && settings.mechanism != MECH_ZPOLINE && settings.mechanism != MECH_PTRACE) {
		fprintf(stderr, "zprun: %s is statically linked, which LD_PRELOAD cannot reach; "
			"use --mechanism zpoline (the loader) or ptrace\n", program_path);
		exit(EXIT_CANNOT_RUN);
	}
	bool use_loader = settings.mechanism == MECH_ZPOLINE && (settings.loader || is_static);
	if (use_loader && !found) {
		fprintf(stderr, "zprun: %s: command not found\n", settings.program_argv[0]);
		exit(EXIT_NOT_FOUND);
	}

	/* Only libzpoline's trampoline needs page 0. */
	int error;
	if (settings.mechanism == MECH_ZPOLINE && !can_map_page_zero(&error))
		report_page_zero_refused(error);

	char **exec_argv = settings.program_argv;
	char zpload_path[PATH_MAX];
	if (use_loader) {
		char candidate[PATH_MAX];
		format_path(candidate, sizeof candidate, "%s/zpload", own_dir);
		if (realpath(candidate, zpload_path) == NULL) {
			fprintf(stderr, "zprun: %s: %s (build the kit with 'make')\n", candidate, strerror(errno));
			exit(EXIT_CANNOT_RUN);
		}
		if (settings.verbose)
			fprintf(stderr, "zprun: %s: %s\n", program_path,
				is_static ? "statically linked: starting it through the loader"
					  : "starting it through the loader (--loader)");
		exec_argv = loader_argv(zpload_path, program_path, settings.program_argv);
		unsetenv("ZP_MECHANISM");
	} else switch (settings.mechanism) {
	case MECH_PTRACE:
		/* zptrace looks the program up in PATH itself, as execvp would. */
		exec_argv = tracer_argv(front_end_path, settings.program_argv);
		break;
	case MECH_INT3:
	case MECH_SUD:
	case MECH_SECCOMP:
		set_variable("ZP_MECHANISM", mechanism_names[settings.mechanism], settings.verbose);
		prepend_ld_preload(front_end_path, settings.verbose);
		break;
	case MECH_ZPOLINE:
		/* An inherited ZP_MECHANISM would select another mechanism. */
		unsetenv("ZP_MECHANISM");
		prepend_ld_preload(front_end_path, settings.verbose);
		break;
	case MECH_PRELOAD:
		prepend_ld_preload(front_end_path, settings.verbose);
		break;
	}
	if (settings.hook != NULL)
		set_variable("LIBZPHOOK", hook_path, settings.verbose);
	if (settings.verbose) {
		set_variable("ZP_VERBOSE", "1", settings.verbose);
		fprintf(stderr, "zprun: exec %s\n", exec_argv[0]);
	}

	if (settings.mechanism == MECH_PTRACE || use_loader)
		execv(exec_argv[0], exec_argv);
	else
		execvp(exec_argv[0], exec_argv);

	/* Only reached if exec failed: report like a shell does. */
	int exec_error = errno;
	bool named_by_path = strchr(exec_argv[0], '/') != NULL;
	fprintf(stderr, "zprun: %s: %s\n", exec_argv[0],
		exec_error == ENOENT && !named_by_path ? "command not found" : strerror(exec_error));
	return exec_error == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}
