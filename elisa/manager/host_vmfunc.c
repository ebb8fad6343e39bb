/* elisa/manager/host_vmfunc.c - the manager VM and its hypercall agent
 * (host_vmfunc.h; the agent: agent/agent.S, its ABI: agent/agent_abi.h).
 *
 * The patched KVM (elisa/kvm/README.md) takes manager hypercalls only from
 * a vCPU of a VM whose VMM gave it the manager role with KVM_ENABLE_CAP
 * (0x454c, args {1, id}).  This process is that VMM: it makes the VM,
 * gives it RAM (the agent's 64 KiB, the page pool, the apps' regions: all
 * of it ordinary memory slots, so MAP_CTX's ownership check accepts every
 * page the contexts name), and one vCPU started in 64-bit mode at CPL 0
 * through KVM_SET_SREGS (elisa/vmm/long_mode.c, shared with elisa-vmm:
 * Intel SDM Vol. 3A 10.8.5 "Initializing IA-32e Mode" gives the end state
 * KVM takes at once; a code segment with L = 1 and DPL 0 - CPL 0 is SS.DPL).
 * Documentation of the ioctls: the kernel's Documentation/virt/kvm/api.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "host_vmfunc.h"
#include "../kvm/elisa_hc_check.h"
#include "../vmm/long_mode.h"

#define PAGE 4096ull
#define AGENT_TIMEOUT_S 5          /* a hypercall answers in microseconds */

/* ---- the mailbox -------------------------------------------------------------- */

void elisa_agent_mb_write(volatile uint64_t *mb, uint64_t seq, const struct elisa_agent_cmd *c)
{
    mb[ELISA_AGENT_MB_KIND / 8] = c->kind;
    for (int i = 0; i < 5; i++)
        mb[ELISA_AGENT_MB_RAX / 8 + i] = c->reg[i];
    mb[ELISA_AGENT_MB_SEQ / 8] = seq;
}

int elisa_agent_mb_read(const volatile uint64_t *mb, uint64_t seq, struct elisa_agent_result *r)
{
    if (mb[ELISA_AGENT_MB_DONE / 8] != seq)
        return -1;
    r->status = mb[ELISA_AGENT_MB_STATUS / 8];
    for (int i = 0; i < 5; i++)
        r->reg[i] = mb[ELISA_AGENT_MB_OUT_RAX / 8 + i];
    return 0;
}

/* ---- KVM basics ------------------------------------------------------------------- */

static int open_kvm(char *err, size_t errlen)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open /dev/kvm: %s; --host vmfunc needs KVM with the elisa-kvm "
                 "modules (elisa/kvm/README.md), or use --host exit", strerror(errno));
        return -1;
    }
    if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        snprintf(err, errlen, "/dev/kvm speaks another KVM API version than %d", KVM_API_VERSION);
        close(fd);
        return -1;
    }
    return fd;
}

static const char no_cap_msg[] =
    "this host's KVM has no ELISA capability (KVM_CHECK_EXTENSION 0x454c = 0): install the "
    "elisa-kvm modules on an Intel host with VMFUNC (elisa/kvm/README.md), or use --host exit";

int hv_probe(char *err, size_t errlen)
{
    int kvm = open_kvm(err, errlen);
    if (kvm < 0)
        return -1;
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) {
        snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
        close(kvm);
        return -1;
    }
    /* On the VM fd: the patch answers there (it needs kvm_intel's view). */
    int v = ioctl(vm, KVM_CHECK_EXTENSION, ELISA_KVM_CAP);
    close(vm);
    close(kvm);
    if (v <= 0) {
        snprintf(err, errlen, "%s", no_cap_msg);
        return -1;
    }
    return 0;
}

static int set_slot(struct hv_host *h, uint32_t slot, uint64_t gpa, void *host, uint64_t size,
                    char *err, size_t errlen)
{
    struct kvm_userspace_memory_region r = {
        .slot = slot, .flags = 0, .guest_phys_addr = gpa, .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };
    if (ioctl(h->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        snprintf(err, errlen, "manager VM: KVM_SET_USER_MEMORY_REGION slot %u (GPA 0x%llx, %llu bytes): %s",
                 slot, (unsigned long long)gpa, (unsigned long long)size, strerror(errno));
        return -1;
    }
    return 0;
}

/* KVM refuses EFER.LME without "long mode" in the vCPU's CPUID. */
static int set_cpuid(struct hv_host *h, char *err, size_t errlen)
{
    struct kvm_cpuid2 *c = lm_supported_cpuid(h->kvm_fd, err, errlen);
    if (c == NULL)
        return -1;
    int rc = ioctl(h->vcpu_fd, KVM_SET_CPUID2, c);
    free(c);
    if (rc < 0) {
        snprintf(err, errlen, "manager VM: KVM_SET_CPUID2: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The agent's code, an identity map of the first 1 GiB in 2 MiB pages
 * (the agent and its mailbox are there; the pool and regions are never
 * touched by the agent), supervisor only, and the GDT (the agent never
 * reloads a segment). */
static void write_agent_memory(uint8_t *mem, const uint8_t *image, size_t image_size)
{
    memcpy(mem + (ELISA_AGENT_CODE_GPA - ELISA_AGENT_BASE_GPA), image, image_size);
    lm_write_identity_map(mem, ELISA_AGENT_BASE_GPA, ELISA_AGENT_PML4_GPA, ELISA_AGENT_PDPT_GPA,
                          ELISA_AGENT_PD_GPA, 1, UINT64_MAX, 0);
    lm_write_gdt((uint64_t *)(mem + (ELISA_AGENT_GDT_GPA - ELISA_AGENT_BASE_GPA)));
}

/* 64-bit mode at CPL 0 (VMCALL's requirement for manager hypercalls),
 * IF = 0: no interrupt ever reaches the agent. */
static int set_long_mode(struct hv_host *h, char *err, size_t errlen)
{
    if (lm_set_sregs(h->vcpu_fd, ELISA_AGENT_GDT_GPA, ELISA_AGENT_PML4_GPA, 0, 0, "manager VM: ", err, errlen) != 0)
        return -1;
    return lm_set_regs(h->vcpu_fd, ELISA_AGENT_CODE_GPA, ELISA_AGENT_STACK_TOP, 0, 0x2, "manager VM: ", err,
                       errlen);
}

/* ---- running the agent ------------------------------------------------------------- */

static volatile sig_atomic_t alarm_fired;

static void on_alarm(int sig)
{
    (void)sig;
    alarm_fired = 1;
}

/* KVM_RUN until the agent's doorbell.  Returns the doorbell's 32 bits, or
 * -1 with err. */
static int64_t run_to_doorbell(struct hv_host *h, char *err, size_t errlen)
{
    struct kvm_run *run = h->run;
    struct sigaction sa, old;
    struct itimerval t = { { 0, 0 }, { AGENT_TIMEOUT_S, 0 } }, off = { { 0, 0 }, { 0, 0 } };
    int64_t result = -1;

    /* A watchdog: without SA_RESTART, SIGALRM makes KVM_RUN return EINTR
     * (a hypercall that never returns must not hang the manager). */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    alarm_fired = 0;
    setitimer(ITIMER_REAL, &t, NULL);
    for (int tries = 0; tries < 64; tries++) {
        int rc = ioctl(h->vcpu_fd, KVM_RUN, 0);
        h->exits++;
        if (rc < 0 && errno == EINTR && !alarm_fired)
            continue;
        if (rc < 0) {
            if (alarm_fired)
                snprintf(err, errlen, "manager VM: the agent did not answer within %d s (a VMCALL "
                         "that does not return: is this KVM the elisa-kvm one?)", AGENT_TIMEOUT_S);
            else
                snprintf(err, errlen, "manager VM: KVM_RUN: %s", strerror(errno));
            break;
        }
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == ELISA_AGENT_PORT &&
            run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4 && run->io.count == 1) {
            uint32_t v;
            memcpy(&v, (uint8_t *)run + run->io.data_offset, 4);
            result = v;
            break;
        }
        if (run->exit_reason == KVM_EXIT_INTR)
            continue;
        if (run->exit_reason == KVM_EXIT_SHUTDOWN)
            snprintf(err, errlen, "manager VM: the agent faulted (triple fault, KVM_EXIT_SHUTDOWN)");
        else if (run->exit_reason == KVM_EXIT_IO)
            snprintf(err, errlen, "manager VM: unexpected port I/O 0x%x by the agent", run->io.port);
        else
            snprintf(err, errlen, "manager VM: unexpected exit reason %u", run->exit_reason);
        break;
    }
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    if (result < 0 && err[0] == '\0')
        snprintf(err, errlen, "manager VM: KVM_RUN kept returning without the agent's doorbell");
    return result;
}

int hv_agent_run(struct hv_host *h, const struct elisa_agent_cmd *cmd, struct elisa_agent_result *res,
                 char *err, size_t errlen)
{
    volatile uint64_t *mb = (volatile uint64_t *)(h->agent_mem +
                                                  (ELISA_AGENT_MAILBOX_GPA - ELISA_AGENT_BASE_GPA));
    uint64_t seq = h->seq + 1;
    err[0] = '\0';
    elisa_agent_mb_write(mb, seq, cmd);
    int64_t bell = run_to_doorbell(h, err, errlen);
    if (bell < 0)
        return -1;
    h->seq = seq;
    if ((uint32_t)bell != (uint32_t)seq || elisa_agent_mb_read(mb, seq, res) != 0) {
        snprintf(err, errlen, "manager VM: the agent rang for command %lld, not %llu", (long long)bell,
                 (unsigned long long)seq);
        return -1;
    }
    if (res->status != ELISA_AGENT_RAN) {
        snprintf(err, errlen, "manager VM: the agent refused command kind %llu RAX 0x%llx (only ELISA's "
                 "hypercall numbers run)", (unsigned long long)cmd->kind, (unsigned long long)cmd->reg[0]);
        return -1;
    }
    return 0;
}

const char *hv_elisa_strerror(long rax)
{
    switch (-rax) {
    case 0: return "OK";
    case ELISA_E_NOSYS: return "NOSYS: unknown ELISA hypercall";
    case ELISA_E_PERM: return "PERM: the manager VM has no manager role, or not CPL 0 / 64-bit";
    case ELISA_E_INVAL: return "INVAL: a reserved argument is not 0";
    case ELISA_E_NOVM: return "NOVM: no such guest VM id, or that guest named another manager id";
    case ELISA_E_NOVCPU: return "NOVCPU: no such vCPU in the guest VM";
    case ELISA_E_INDEX: return "INDEX: EPTP-list index not 1..511";
    case ELISA_E_ALIGN: return "ALIGN: EPT root not page aligned or beyond MAXPHYADDR";
    case ELISA_E_OWNER: return "OWNER: a page of the context is not the manager VM's RAM";
    case ELISA_E_EPT: return "EPT: an EPT entry is malformed or unsupported";
    case ELISA_E_NOMEM: return "NOMEM: host memory, or 128 tables per context / 1024 per vCPU";
    case ELISA_E_NOTSUP: return "NOTSUP: no EPTP switching";
    default: return "unknown ELISA error";
    }
}

long hv_hypercall(struct hv_host *h, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                  struct elisa_agent_result *out, char *err, size_t errlen)
{
    struct elisa_agent_cmd c = { ELISA_AGENT_VMCALL, { nr, a0, a1, a2, a3 } };
    struct elisa_agent_result r;
    if (!elisa_agent_cmd_valid(&c)) {
        snprintf(err, errlen, "hypercall 0x%llx is not ELISA's", (unsigned long long)nr);
        return HV_EAGENT;
    }
    if (h->hypercall) {   /* the sequencing test's recorder (host_vmfunc.h) */
        memset(&r, 0, sizeof r);
        r.reg[0] = (uint64_t)h->hypercall(h, nr, a0, a1, a2, a3);
    } else if (hv_agent_run(h, &c, &r, err, errlen) != 0) {
        return HV_EAGENT;
    }
    if (out)
        *out = r;
    long rax = (long)r.reg[0];
    if (rax != 0)
        snprintf(err, errlen, "hypercall 0x%llx (%llu, %llu, %llu, 0x%llx): %s", (unsigned long long)nr,
                 (unsigned long long)a0, (unsigned long long)a1, (unsigned long long)a2,
                 (unsigned long long)a3, hv_elisa_strerror(rax));
    return rax;
}

/* ---- the VM ----------------------------------------------------------------------- */

extern const uint8_t elisa_agent_image[], elisa_agent_image_end[];

int hv_open(struct hv_host *h, uint16_t manager_id, bool require_cap, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    h->kvm_fd = h->vm_fd = h->vcpu_fd = h->pool_fd = -1;
    h->manager_id = manager_id;
    size_t image_size = (size_t)(elisa_agent_image_end - elisa_agent_image);
    if (image_size == 0 || image_size > ELISA_AGENT_CODE_MAX) {
        snprintf(err, errlen, "the embedded agent image is %zu bytes (must be 1..%d): rebuild elisactl",
                 image_size, ELISA_AGENT_CODE_MAX);
        return -1;
    }
    if (require_cap && manager_id == 0) {
        snprintf(err, errlen, "manager ELISA id %u: use 1..65535", manager_id);
        return -1;
    }
    h->kvm_fd = open_kvm(err, errlen);
    if (h->kvm_fd < 0)
        goto fail;
    h->vm_fd = ioctl(h->kvm_fd, KVM_CREATE_VM, 0);
    if (h->vm_fd < 0) {
        snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
        goto fail;
    }
    if (require_cap) {
        if (ioctl(h->vm_fd, KVM_CHECK_EXTENSION, ELISA_KVM_CAP) <= 0) {
            snprintf(err, errlen, "%s", no_cap_msg);
            goto fail;
        }
        struct kvm_enable_cap cap;
        memset(&cap, 0, sizeof cap);
        cap.cap = ELISA_KVM_CAP;
        cap.args[0] = ELISA_ROLE_MANAGER;
        cap.args[1] = manager_id;
        if (ioctl(h->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
            snprintf(err, errlen, "KVM_ENABLE_CAP 0x454c (manager, id %u): %s%s", manager_id,
                     strerror(errno), errno == EEXIST ? ": another VM has this id; pick another "
                     "--elisa-id" : "");
            goto fail;
        }
    }
    /* Slot 0: the agent.  Slot 1: the pool (a sparse memfd: pages cost
     * memory only once a context uses them, and are punched out again). */
    h->agent_mem = mmap(NULL, ELISA_AGENT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (h->agent_mem == MAP_FAILED) {
        h->agent_mem = NULL;
        snprintf(err, errlen, "manager VM: no memory for the agent: %s", strerror(errno));
        goto fail;
    }
    h->pool_fd = memfd_create("elisa-manager-pool", MFD_CLOEXEC);
    if (h->pool_fd < 0 || ftruncate(h->pool_fd, (off_t)HV_POOL_SIZE) != 0) {
        snprintf(err, errlen, "manager VM: pool memfd of %llu bytes: %s", (unsigned long long)HV_POOL_SIZE,
                 strerror(errno));
        goto fail;
    }
    h->pool.base = mmap(NULL, HV_POOL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, h->pool_fd, 0);
    if (h->pool.base == MAP_FAILED) {
        h->pool.base = NULL;
        snprintf(err, errlen, "manager VM: cannot map the pool: %s", strerror(errno));
        goto fail;
    }
    h->pool.gpa = ELISA_AGENT_POOL_GPA;
    h->pool.size = HV_POOL_SIZE;
    write_agent_memory(h->agent_mem, elisa_agent_image, image_size);
    if (set_slot(h, 0, ELISA_AGENT_BASE_GPA, h->agent_mem, ELISA_AGENT_SIZE, err, errlen) != 0 ||
        set_slot(h, 1, h->pool.gpa, h->pool.base, h->pool.size, err, errlen) != 0)
        goto fail;
    h->vcpu_fd = ioctl(h->vm_fd, KVM_CREATE_VCPU, 0);
    if (h->vcpu_fd < 0) {
        snprintf(err, errlen, "manager VM: KVM_CREATE_VCPU: %s", strerror(errno));
        goto fail;
    }
    h->run_size = ioctl(h->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    h->run = h->run_size > 0 ? mmap(NULL, (size_t)h->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                                    h->vcpu_fd, 0) : MAP_FAILED;
    if (h->run == MAP_FAILED) {
        h->run = NULL;
        snprintf(err, errlen, "manager VM: cannot map kvm_run: %s", strerror(errno));
        goto fail;
    }
    if (set_cpuid(h, err, errlen) != 0 || set_long_mode(h, err, errlen) != 0)
        goto fail;
    /* Up to the agent's first doorbell ("ready", done_seq 0). */
    err[0] = '\0';
    int64_t bell = run_to_doorbell(h, err, errlen);
    if (bell < 0)
        goto fail;
    if (bell != 0) {
        snprintf(err, errlen, "manager VM: the agent's first doorbell carried %lld, not 0", (long long)bell);
        goto fail;
    }
    return 0;
fail:
    hv_close(h);
    return -1;
}

int hv_add_region(struct hv_host *h, int fd, uint64_t size, uint64_t *gpa, char *err, size_t errlen)
{
    if (h->nregions >= HV_REGIONS_MAX || size == 0 || size % PAGE != 0 || size > ELISA_AGENT_REGION_STEP) {
        snprintf(err, errlen, "manager VM: region %u of %llu bytes: at most %u regions of whole pages "
                 "up to 1 GiB", h->nregions, (unsigned long long)size, HV_REGIONS_MAX);
        return -1;
    }
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "manager VM: cannot map a region: %s", strerror(errno));
        return -1;
    }
    struct hv_region *r = &h->regions[h->nregions];
    r->gpa = ELISA_AGENT_REGION_GPA + (uint64_t)h->nregions * ELISA_AGENT_REGION_STEP;
    if (set_slot(h, 2 + h->nregions, r->gpa, map, size, err, errlen) != 0) {
        munmap(map, size);
        return -1;
    }
    /* The slot uses the mapping; the fd is not needed after this. */
    r->map = map;
    r->size = size;
    *gpa = r->gpa;
    h->nregions++;
    return 0;
}

/* ---- contexts ---------------------------------------------------------------------- */

static void chunk_free(struct hv_host *h, uint64_t chunk_gpa)
{
    uint64_t k = (chunk_gpa - h->pool.gpa) / HV_CHUNK_SIZE;
    /* Zero pages again for the next user; KVM keeps the pages it pinned
     * for a context until that context is gone (elisa/kvm/README.md). */
    (void)fallocate(h->pool_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    (off_t)(chunk_gpa - h->pool.gpa), (off_t)HV_CHUNK_SIZE);
    h->chunk_used[k] = false;
}

int hv_install(struct hv_host *h, uint32_t vm_id, uint32_t kvm_vcpu, const struct hv_ctx_req *r,
               struct hv_ctx **out, char *err, size_t errlen)
{
    uint32_t k = 0;
    while (k < HV_CHUNKS && h->chunk_used[k])
        k++;
    if (k == HV_CHUNKS) {
        snprintf(err, errlen, "manager VM: all %u context chunks in use", HV_CHUNKS);
        return -1;
    }
    struct hv_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint64_t chunk_gpa = h->pool.gpa + (uint64_t)k * HV_CHUNK_SIZE;
    h->chunk_used[k] = true;
    if (hv_ctx_build(c, &h->pool, chunk_gpa, r, err, errlen) != 0)
        goto fail;
    if (hv_hypercall(h, ELISA_HC_MAP_CTX, vm_id, kvm_vcpu, VMF_CTX_GATE, c->gate_root, NULL, err, errlen) ||
        hv_hypercall(h, ELISA_HC_MAP_CTX, vm_id, kvm_vcpu, VMF_CTX_SUB, c->sub_root, NULL, err, errlen) ||
        hv_hypercall(h, ELISA_HC_ENABLE, vm_id, kvm_vcpu, 0, 0, NULL, err, errlen)) {
        char e2[160];
        (void)hv_hypercall(h, ELISA_HC_TEARDOWN, vm_id, kvm_vcpu, 0, 0, NULL, e2, sizeof e2);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    chunk_free(h, chunk_gpa);
    free(c);
    return -1;
}

int hv_uninstall(struct hv_host *h, uint32_t vm_id, uint32_t kvm_vcpu, struct hv_ctx *c, char *err,
                 size_t errlen)
{
    long rc = hv_hypercall(h, ELISA_HC_TEARDOWN, vm_id, kvm_vcpu, 0, 0, NULL, err, errlen);
    /* A guest VM that is gone (NOVM/NOVCPU) has no contexts left either. */
    if (rc == 0 || rc == -ELISA_E_NOVM || rc == -ELISA_E_NOVCPU) {
        if (c) {
            chunk_free(h, c->chunk.gpa);
            free(c);
        }
        return 0;
    }
    return -1;
}

int hv_set_enabled(struct hv_host *h, uint32_t vm_id, uint32_t kvm_vcpu, bool on, char *err, size_t errlen)
{
    return hv_hypercall(h, on ? ELISA_HC_ENABLE : ELISA_HC_DISABLE, vm_id, kvm_vcpu, 0, 0, NULL, err,
                        errlen) == 0 ? 0 : -1;
}

void hv_close(struct hv_host *h)
{
    if (h->run)
        munmap(h->run, (size_t)h->run_size);
    if (h->vcpu_fd >= 0)
        close(h->vcpu_fd);
    if (h->vm_fd >= 0)
        close(h->vm_fd);
    if (h->kvm_fd >= 0)
        close(h->kvm_fd);
    if (h->pool.base)
        munmap(h->pool.base, h->pool.size);
    if (h->pool_fd >= 0)
        close(h->pool_fd);
    if (h->agent_mem)
        munmap(h->agent_mem, ELISA_AGENT_SIZE);
    for (uint32_t i = 0; i < h->nregions; i++)
        munmap(h->regions[i].map, h->regions[i].size);
    h->nregions = 0;
    h->run = NULL;
    h->pool.base = NULL;
    h->agent_mem = NULL;
    h->vcpu_fd = h->vm_fd = h->kvm_fd = h->pool_fd = -1;
}
