/*
 * vmnet_attach.c - netstack/vmnet_attach.h: map this process's vmnet port
 * area and set up the way into the sub context (local, vmfunc or exit),
 * then prove the way works with one call into the switch.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app_image.h"
#include "vmnet_attach.h"

#define PAGE 4096u
#define GATE_BYTES (3u * PAGE)   /* the 12 KiB gate: three pages (elisa_guest.h) */

/* The largest port area vmnet.h allows: the header page and two rings of
 * VMNET_RING_MAX slots of VMNET_SLOT_MAX bytes.  An area header claiming
 * more is refused before anything that large is mapped. */
#define AREA_MAX ((uint64_t)VMNET_PORT_SLOTS_OFF + 2ull * VMNET_RING_MAX * VMNET_SLOT_MAX)

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* --- settings ----------------------------------------------------------------- */

typedef const char *(*getenv_fn_t)(const char *);

/* NAME as a number (decimal or 0x-hex) into OUT; DEF if unset and not
 * REQUIRED.  HOW tells the user what to put there. */
static int env_u64(getenv_fn_t getenv_fn, const char *name, int required, uint64_t def,
                   const char *how, uint64_t *out, char *err, size_t errlen)
{
	const char *s = getenv_fn(name);

	if (!s || !*s) {
		if (required) {
			set_err(err, errlen, "netstack: vmnet: %s is not set: %s", name, how);
			return -1;
		}
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || s[0] == '-') {
		set_err(err, errlen, "netstack: vmnet: %s='%s' is not a number: %s", name, s, how);
		return -1;
	}
	*out = v;
	return 0;
}

static const char *env_path(getenv_fn_t getenv_fn, const char *name, const char *how,
                            char *err, size_t errlen)
{
	const char *s = getenv_fn(name);

	if (!s || !*s) {
		set_err(err, errlen, "netstack: vmnet: %s is not set: %s", name, how);
		return NULL;
	}
	return s;
}

static int open_rw(const char *name, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		set_err(err, errlen, "netstack: vmnet: %s=%s: cannot open it read/write: %s",
		        name, path, strerror(errno));
	return fd;
}

/* --- the port area (the guest's own view) -------------------------------------- */

/*
 * Map the port area at OFFSET of FD: first its header page, to learn the
 * area's size (the manager wrote it; it is this guest's own memory, so
 * nothing is at stake but our own port), then the whole area, which
 * vmnet_guest_open validates against the bytes really mapped.
 */
static int map_area(struct ns_vmnet_attach *a, int fd, const char *name, const char *path,
                    uint64_t offset, char *err, size_t errlen)
{
	struct stat st;

	if (offset % PAGE) {
		set_err(err, errlen, "netstack: vmnet: the port area's offset 0x%llx in %s is not page-aligned",
		        (unsigned long long)offset, path);
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size < offset + PAGE) {
		set_err(err, errlen, "netstack: vmnet: %s=%s holds no port area at offset 0x%llx (the file has %lld bytes)",
		        name, path, (unsigned long long)offset, (long long)st.st_size);
		return -1;
	}
	void *head = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, (off_t)offset);
	if (head == MAP_FAILED) {
		set_err(err, errlen, "netstack: vmnet: %s=%s: cannot map the port area at 0x%llx: %s",
		        name, path, (unsigned long long)offset, strerror(errno));
		return -1;
	}
	const struct vmnet_port_shm *shm = head;
	uint32_t magic = shm->magic;
	uint64_t size = shm->area_size;
	munmap(head, PAGE);
	if (magic != VMNET_PORT_MAGIC) {
		set_err(err, errlen, "netstack: vmnet: %s=%s at 0x%llx is not a vmnet port area (magic 0x%08x): "
		        "check the file and offset the manager gave", name, path,
		        (unsigned long long)offset, magic);
		return -1;
	}
	if (size < 2 * PAGE || size % PAGE || size > AREA_MAX) {
		set_err(err, errlen, "netstack: vmnet: %s=%s: the port area claims %llu bytes, impossible for vmnet",
		        name, path, (unsigned long long)size);
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size < offset + size) {
		set_err(err, errlen, "netstack: vmnet: %s=%s ends inside the port area at 0x%llx (%llu bytes needed)",
		        name, path, (unsigned long long)offset, (unsigned long long)size);
		return -1;
	}
	void *area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
	if (area == MAP_FAILED) {
		set_err(err, errlen, "netstack: vmnet: %s=%s: cannot map the %llu-byte port area: %s",
		        name, path, (unsigned long long)size, strerror(errno));
		return -1;
	}
	int rc = vmnet_guest_open(&a->gp, area, size);
	if (rc < 0) {
		munmap(area, size);
		set_err(err, errlen, "netstack: vmnet: %s=%s: the port area at 0x%llx is inconsistent (%s)",
		        name, path, (unsigned long long)offset, vmnet_strerror(rc));
		return -1;
	}
	a->area_map = area;
	a->area_map_len = size;
	a->port = ((const struct vmnet_port_shm *)area)->port;
	return 0;
}

/* --- local mode ------------------------------------------------------------------- */

static int attach_local(getenv_fn_t getenv_fn, struct ns_vmnet_attach *a, char *err, size_t errlen)
{
	const char *how_region = "set ZP_VMNET_REGION to a region file made by "
	                         "netstack/tools/vmnet-region create FILE --ports N";
	const char *path = env_path(getenv_fn, "ZP_VMNET_REGION", how_region, err, errlen);
	if (!path)
		return -1;
	uint64_t port;
	if (env_u64(getenv_fn, "ZP_VMNET_PORT", 1, 0, "set it to this process's port number in the region, e.g. ZP_VMNET_PORT=0",
	            &port, err, errlen) < 0)
		return -1;
	const char *app = env_path(getenv_fn, "ZP_VMNET_APP",
	                           "set it to the switch's sub-context app, e.g. ZP_VMNET_APP=elisa/apps/vmnet.so",
	                           err, errlen);
	if (!app)
		return -1;

	int fd = open_rw("ZP_VMNET_REGION", path, err, errlen);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(struct vmnet_hdr)) {
		set_err(err, errlen, "netstack: vmnet: ZP_VMNET_REGION=%s is not a region file: %s", path, how_region);
		close(fd);
		return -1;
	}
	uint64_t size = (uint64_t)st.st_size;
	void *region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (region == MAP_FAILED) {
		set_err(err, errlen, "netstack: vmnet: ZP_VMNET_REGION=%s: cannot map %llu bytes: %s",
		        path, (unsigned long long)size, strerror(errno));
		close(fd);
		return -1;
	}
	a->region = region;          /* from here on ns_vmnet_detach unmaps it */
	a->region_size = size;
	int rc = vmnet_check(region, size);
	if (rc < 0) {
		set_err(err, errlen, "netstack: vmnet: ZP_VMNET_REGION=%s is not a valid vmnet region (%s): %s",
		        path, vmnet_strerror(rc), how_region);
		goto fail;
	}
	uint32_t nports = ((const struct vmnet_hdr *)region)->nports;
	uint64_t offset = port < VMNET_MAX_PORTS ? vmnet_port_offset(region, size, (uint32_t)port) : 0;
	if (offset == 0) {
		set_err(err, errlen, "netstack: vmnet: ZP_VMNET_PORT=%llu but %s has ports 0..%u: pick one of those",
		        (unsigned long long)port, path, nports - 1);
		goto fail;
	}
	if (map_area(a, fd, "ZP_VMNET_REGION", path, offset, err, errlen) < 0)
		goto fail;
	if (a->port != port) {
		set_err(err, errlen, "netstack: vmnet: ZP_VMNET_REGION=%s: port %llu's area says it is port %u: "
		        "the region is damaged, create it again", path, (unsigned long long)port, a->port);
		goto fail;
	}
	/* One process per port: each ring side has exactly one writer
	 * (elisa/vmnet README, Ordering).  An open-file-description lock
	 * lives as long as this descriptor (fork children share it) and
	 * goes away with the process, however it ends. */
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)offset, .l_len = 1 };
	if (fcntl(fd, F_OFD_SETLK, &lk) != 0) {
		set_err(err, errlen, "netstack: vmnet: port %llu of ZP_VMNET_REGION=%s is in use by another process: "
		        "give each process its own ZP_VMNET_PORT", (unsigned long long)port, path);
		goto fail;
	}
	a->region_fd = fd;
	fd = -1;

	struct elisa_app_image img;
	char why[256];
	if (elisa_app_load(app, &img, why, sizeof(why)) < 0) {
		set_err(err, errlen, "netstack: vmnet: ZP_VMNET_APP=%s: %s", app, why);
		goto fail;
	}
	void *code = elisa_app_map_exec(&img, why, sizeof(why));
	if (!code) {
		set_err(err, errlen, "netstack: vmnet: ZP_VMNET_APP=%s: %s", app, why);
		elisa_app_free(&img);
		goto fail;
	}
	a->app_map = code;
	a->app_map_len = img.size;
	elisa_app_fn entry = (elisa_app_fn)(uintptr_t)((uint8_t *)code + img.entry_offset);
	elisa_app_free(&img);

	/* What the sub context's env would hold: the switch's whole region
	 * and the port, fixed here, never taken from the call. */
	a->env.shared_va = (uint64_t)(uintptr_t)region;
	a->env.shared_size = size;
	a->env.arg = port;
	a->env.vcpu = 0;
	if (elisa_ctx_local(&a->ctx, entry, &a->env) != 0) {
		set_err(err, errlen, "netstack: vmnet: the guest library refused the local context");
		goto fail;
	}
	a->mode = ELISA_MODE_LOCAL;
	snprintf(a->describe, sizeof(a->describe), "vmnet-local");
	return 0;

fail:
	if (fd >= 0)
		close(fd);
	ns_vmnet_detach(a);
	return -1;
}

/* --- vmfunc and exit modes ---------------------------------------------------------- */

static int attach_area_file(getenv_fn_t getenv_fn, struct ns_vmnet_attach *a, char *err, size_t errlen)
{
	const char *path = env_path(getenv_fn, "ZP_VMNET_AREA",
	                            "set it to the file that maps this guest's port area (e.g. /dev/mem "
	                            "or a UIO map) and ZP_VMNET_AREA_OFFSET to its offset", err, errlen);
	uint64_t offset;

	if (!path)
		return -1;
	if (env_u64(getenv_fn, "ZP_VMNET_AREA_OFFSET", 0, 0, "the port area's offset in ZP_VMNET_AREA, e.g. 0x40000000",
	            &offset, err, errlen) < 0)
		return -1;
	int fd = open_rw("ZP_VMNET_AREA", path, err, errlen);
	if (fd < 0)
		return -1;
	int rc = map_area(a, fd, "ZP_VMNET_AREA", path, offset, err, errlen);
	close(fd);
	if (rc == 0 && a->port >= VMNET_MAX_PORTS) {
		set_err(err, errlen, "netstack: vmnet: ZP_VMNET_AREA=%s: the area names port %u (at most %u ports)",
		        path, a->port, VMNET_MAX_PORTS - 1);
		return -1;
	}
	return rc;
}

static int attach_vmfunc(getenv_fn_t getenv_fn, struct ns_vmnet_attach *a, char *err, size_t errlen)
{
	uint64_t gate, gate_off;
	const char *how = "set it to the gate's virtual address the manager chose (page-aligned), e.g. ZP_ELISA_GATE=0x7f0000000000";

	if (env_u64(getenv_fn, "ZP_ELISA_GATE", 1, 0, how, &gate, err, errlen) < 0)
		return -1;
	if (gate == 0 || gate % PAGE) {
		set_err(err, errlen, "netstack: vmnet: ZP_ELISA_GATE=0x%llx is not a page-aligned address: %s",
		        (unsigned long long)gate, how);
		return -1;
	}
	const char *gate_file = getenv_fn("ZP_ELISA_GATE_FILE");
	if (gate_file && *gate_file) {
		if (env_u64(getenv_fn, "ZP_ELISA_GATE_OFFSET", 0, 0, "the gate's offset in ZP_ELISA_GATE_FILE",
		            &gate_off, err, errlen) < 0)
			return -1;
		if (gate_off % PAGE) {
			set_err(err, errlen, "netstack: vmnet: ZP_ELISA_GATE_OFFSET=0x%llx is not page-aligned",
			        (unsigned long long)gate_off);
			return -1;
		}
		int fd = open(gate_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			set_err(err, errlen, "netstack: vmnet: ZP_ELISA_GATE_FILE=%s: %s", gate_file, strerror(errno));
			return -1;
		}
		/* Exactly at the address the manager's page tables expect;
		 * never over something already mapped there. */
		void *g = mmap((void *)(uintptr_t)gate, GATE_BYTES, PROT_READ | PROT_EXEC,
		               MAP_SHARED | MAP_FIXED_NOREPLACE, fd, (off_t)gate_off);
		int e = errno;
		close(fd);
		if (g == MAP_FAILED || g != (void *)(uintptr_t)gate) {
			if (g != MAP_FAILED)
				munmap(g, GATE_BYTES);
			set_err(err, errlen, "netstack: vmnet: cannot map the gate from ZP_ELISA_GATE_FILE=%s at ZP_ELISA_GATE=0x%llx: %s",
			        gate_file, (unsigned long long)gate, g == MAP_FAILED ? strerror(e) : "placed elsewhere");
			return -1;
		}
		a->gate_map = g;
	} else if (msync((void *)(uintptr_t)gate, GATE_BYTES, MS_ASYNC) != 0) {
		/* msync fails with ENOMEM exactly when part of the range is not mapped. */
		set_err(err, errlen, "netstack: vmnet: nothing is mapped at ZP_ELISA_GATE=0x%llx: "
		        "set ZP_ELISA_GATE_FILE (and ZP_ELISA_GATE_OFFSET) to map the gate there",
		        (unsigned long long)gate);
		return -1;
	}
	if (attach_area_file(getenv_fn, a, err, errlen) < 0)
		return -1;
	if (elisa_ctx_vmfunc(&a->ctx, gate) != 0) {
		set_err(err, errlen, "netstack: vmnet: the guest library refused ZP_ELISA_GATE=0x%llx",
		        (unsigned long long)gate);
		return -1;
	}
	a->mode = ELISA_MODE_VMFUNC;
	snprintf(a->describe, sizeof(a->describe), "vmnet-vmfunc");
	return 0;
}

static int attach_exit(getenv_fn_t getenv_fn, struct ns_vmnet_attach *a, char *err, size_t errlen)
{
	uint64_t off, bell;
	const char *path = env_path(getenv_fn, "ZP_ELISA_MAILBOX",
	                            "set it to the file that maps the mailbox page (and ZP_ELISA_MAILBOX_OFFSET)",
	                            err, errlen);

	if (!path)
		return -1;
	if (env_u64(getenv_fn, "ZP_ELISA_MAILBOX_OFFSET", 0, 0, "the mailbox page's offset in ZP_ELISA_MAILBOX",
	            &off, err, errlen) < 0 ||
	    env_u64(getenv_fn, "ZP_ELISA_DOORBELL", 1, 0, "set it to the I/O port the VMM listens on",
	            &bell, err, errlen) < 0)
		return -1;
	if (bell > 0xffff || off % PAGE) {
		set_err(err, errlen, "netstack: vmnet: %s", bell > 0xffff ? "ZP_ELISA_DOORBELL is not an I/O port (0..0xffff)"
		        : "ZP_ELISA_MAILBOX_OFFSET is not page-aligned");
		return -1;
	}
	/* The fallback gate rings the doorbell with OUT from user space:
	 * allowed only through the TSS I/O bitmap (SDM Vol. 1, 19.5.2). */
	if (ioperm((unsigned long)bell, 1, 1) != 0) {
		int e = errno;
		set_err(err, errlen, "netstack: vmnet: ioperm(ZP_ELISA_DOORBELL=0x%llx): %s%s",
		        (unsigned long long)bell, strerror(e),
		        e == EPERM ? " (needs root: CAP_SYS_RAWIO)" : " (this kernel gives no I/O permissions: run in a guest)");
		return -1;
	}
	int fd = open_rw("ZP_ELISA_MAILBOX", path, err, errlen);
	if (fd < 0)
		return -1;
	void *mb = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	int e = errno;
	close(fd);
	if (mb == MAP_FAILED) {
		set_err(err, errlen, "netstack: vmnet: ZP_ELISA_MAILBOX=%s: cannot map the mailbox page: %s", path, strerror(e));
		return -1;
	}
	a->mailbox_map = mb;
	if (attach_area_file(getenv_fn, a, err, errlen) < 0)
		return -1;
	if (elisa_ctx_exit(&a->ctx, (uint64_t)(uintptr_t)mb, (uint16_t)bell) != 0) {
		set_err(err, errlen, "netstack: vmnet: the guest library refused the mailbox or ZP_ELISA_DOORBELL");
		return -1;
	}
	a->mode = ELISA_MODE_EXIT;
	snprintf(a->describe, sizeof(a->describe), "vmnet-exit");
	return 0;
}

/* --- the first call ------------------------------------------------------------------- */

/*
 * In vmfunc and exit mode the first call is where a wrong setting shows:
 * VMFUNC outside an ELISA guest raises #UD (SDM Vol. 3C, 25.5.6: VMFUNC
 * in VMX root operation or with the control off), OUT without I/O
 * permission #GP, a gate that is not there a page fault.  The kernel turns
 * them into SIGILL/SIGSEGV/SIGBUS; for this one call they end in a
 * one-line error instead of killing the application.  The handlers are
 * the application's again right after.
 */
static sigjmp_buf probe_jmp;
static volatile sig_atomic_t probing;

static void probe_fault(int sig)
{
	if (probing)
		siglongjmp(probe_jmp, sig);
	signal(sig, SIG_DFL);   /* not ours: die as the application would have */
	raise(sig);
}

static int probe_call(struct ns_vmnet_attach *a, int64_t *result)
{
	static const int sigs[] = { SIGILL, SIGSEGV, SIGBUS };
	struct sigaction sa, old[3];
	int sig;

	if (a->mode == ELISA_MODE_LOCAL) {
		*result = (int64_t)elisa_ctx_call(&a->ctx, ELISA_VMNET_TX, 0);
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = probe_fault;
	sa.sa_flags = SA_NODEFER;
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	sig = sigsetjmp(probe_jmp, 1);
	if (sig == 0) {
		probing = 1;
		*result = (int64_t)elisa_ctx_call(&a->ctx, ELISA_VMNET_TX, 0);
	}
	probing = 0;
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	return sig;
}

int ns_vmnet_attach(getenv_fn_t getenv_fn, struct ns_vmnet_attach *a, char *err, size_t errlen)
{
	const char *mode = getenv_fn("ZP_ELISA_MODE");
	int rc;

	memset(a, 0, sizeof(*a));
	a->region_fd = -1;
	if (!mode || !*mode || strcmp(mode, "local") == 0)
		rc = attach_local(getenv_fn, a, err, errlen);
	else if (strcmp(mode, "vmfunc") == 0)
		rc = attach_vmfunc(getenv_fn, a, err, errlen);
	else if (strcmp(mode, "exit") == 0)
		rc = attach_exit(getenv_fn, a, err, errlen);
	else {
		set_err(err, errlen, "netstack: vmnet: ZP_ELISA_MODE='%s' is not a mode: use local (the default), vmfunc or exit", mode);
		return -1;
	}
	if (rc < 0) {
		ns_vmnet_detach(a);
		return -1;
	}

	/* One call with (normally) an empty TX ring: it must return the number
	 * of frames switched, >= 0.  Anything else means the app is not the
	 * switch, or the way into the sub context does not work. */
	int64_t r = 0;
	int sig = probe_call(a, &r);
	if (sig) {
		set_err(err, errlen, "netstack: vmnet: the first call through the %s gate raised %s: %s",
		        a->mode == ELISA_MODE_VMFUNC ? "VMFUNC" : "exit-based",
		        sig == SIGILL ? "#UD (SIGILL)" : sig == SIGSEGV ? "a fault (SIGSEGV)" : "SIGBUS",
		        a->mode == ELISA_MODE_VMFUNC ? "this is not an ELISA guest, or the manager has not installed its contexts"
		                                     : "check ZP_ELISA_MAILBOX and ZP_ELISA_DOORBELL");
		ns_vmnet_detach(a);
		return -1;
	}
	if (r < 0) {
		if ((uint64_t)r == ELISA_APP_ENOFN)
			set_err(err, errlen, "netstack: vmnet: the sub-context app does not know ELISA_VMNET_TX: "
			        "it is not the vmnet app (ZP_VMNET_APP=elisa/apps/vmnet.so in local mode)");
		else if ((uint64_t)r == ELISA_CALL_ENOHOST)
			set_err(err, errlen, "netstack: vmnet: the host did not answer the doorbell: "
			        "is elisa-vmm serving ZP_ELISA_DOORBELL with this mailbox?");
		else
			set_err(err, errlen, "netstack: vmnet: the switch refused this port's first call (%s)",
			        r >= INT32_MIN ? vmnet_strerror((int)r) : "unknown error");
		ns_vmnet_detach(a);
		return -1;
	}
	return 0;
}

int ns_vmnet_switch_stats(const struct ns_vmnet_attach *a, struct vmnet_port_stats *out)
{
	if (!a->region)
		return -1;
	return vmnet_port_stats(a->region, a->region_size, a->port, out) < 0 ? -1 : 0;
}

void ns_vmnet_detach(struct ns_vmnet_attach *a)
{
	if (a->area_map)
		munmap(a->area_map, a->area_map_len);
	if (a->app_map)
		munmap(a->app_map, a->app_map_len);
	if (a->gate_map)
		munmap(a->gate_map, GATE_BYTES);
	if (a->mailbox_map)
		munmap(a->mailbox_map, PAGE);
	if (a->region)
		munmap(a->region, a->region_size);
	if (a->region_fd >= 0)
		close(a->region_fd);   /* releases the port's lock */
	memset(a, 0, sizeof(*a));
	a->region_fd = -1;
}
