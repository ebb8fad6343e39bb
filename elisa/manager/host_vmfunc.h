/* elisa/manager/host_vmfunc.h - `elisactl start --host vmfunc`: the manager
 * on an Intel host with VMFUNC and the patched KVM (elisa/kvm/README.md).
 * Section "Host kind vmfunc" of elisa/manager/README.md says what ran
 * where.
 *
 * Two parts, one file each:
 *
 *   host_vmfunc_ctx.c  (pure, no KVM) a page pool in the manager VM's RAM
 *                      and the GATE and SUB EPT contexts of one guest vCPU
 *                      built in it with vmfunc/ (vmf_elisa_build,
 *                      VMF_MAP_NO_1G), every "host-physical" address a
 *                      manager GPA: of the pool or of an app's region slot.
 *   host_vmfunc.c      the manager VM: /dev/kvm, KVM_CHECK_EXTENSION(0x454c),
 *                      role manager, memory slots (agent, pool, regions), one
 *                      vCPU in 64-bit mode at CPL 0 running the hypercall
 *                      agent (agent/agent.S), and the hypercalls through it:
 *                      QUERY, MAP_CTX, ENABLE, DISABLE, TEARDOWN.
 *
 * Sub-context guest-physical layout of one vCPU (all inside the guest's
 * shared window [shared_gpa, shared_gpa + 64 * stride), which the guest
 * agreed to keep free of its own RAM, so its CR3 can never be one of these
 * explicit GPAs - the anywhere page table relies on that):
 *   W + 0         the page-table window (HV_PT_PAGES pages; root first)
 *   W + 128 KiB   the app image (read + execute), at most 1 MiB
 *   after it      sub data: HV_STACK_PAGES of stack, then the env page
 *   W + 2 MiB     the app's whole shared region (read + write, no execute)
 * Guest-virtual = guest-physical for all of them (the gate keeps its own
 * gate_gva).  W = the layout's shared_gpa (vCPU 0's port area: not mapped
 * in the gate and sub contexts, which map nothing of the guest's).
 */
#ifndef ELISA_MANAGER_HOST_VMFUNC_H
#define ELISA_MANAGER_HOST_VMFUNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../vmfunc/elisa_ctx.h"
#include "../apps/app.h"
#include "agent/agent_abi.h"

/* ---- host_vmfunc_ctx.c -------------------------------------------------- */

#define HV_CHUNK_SIZE   (2ull << 20)   /* pool pages of one vCPU's contexts */
#define HV_CHUNKS       256u           /* vCPUs installed at once */
#define HV_POOL_SIZE    ((uint64_t)HV_CHUNKS * HV_CHUNK_SIZE)  /* 512 MiB, sparse memfd */
#define HV_PT_PAGES     8u             /* guest page-table window (4 needed, room for more) */
#define HV_STACK_PAGES  4u             /* 16 KiB sub stack */
#define HV_WIN_CODE_OFF 0x20000ull     /* 128 KiB */
#define HV_WIN_REGION_OFF (2ull << 20)
/* Guest RAM of the (never sent) default context that vmf_elisa_build also
 * makes: one page at a manager GPA no slot covers (index 0 of the EPTP list
 * is the guest's own EPT, kept by KVM). */
#define HV_PHANTOM_RAM_HPA 0x200000ull

/* The pool: a mapping of the pool memfd and the manager GPA of its start. */
struct hv_pool {
    uint8_t *base;
    uint64_t gpa;
    uint64_t size;
};

/* Bump allocator over one chunk of the pool (pages come zeroed: a chunk is
 * hole-punched when freed). */
struct hv_chunk {
    const struct hv_pool *pool;
    uint64_t gpa, next, end;
};

/* Everything one vCPU's contexts are made of. */
struct hv_ctx_req {
    uint64_t gate_gpa, gate_gva;        /* NEGOTIATE_OK's, this vCPU's block */
    uint64_t win_gpa, win_size;         /* the sub-private window (see above) */
    const uint8_t *gate;                /* the 12 KiB gate block (gate.S) */
    uint32_t gate_var_entry, gate_var_stack, gate_var_env;  /* offsets in the block */
    const uint8_t *app;                 /* the flat app image */
    uint64_t app_size;
    uint32_t entry_offset;
    uint64_t region_mgr_gpa, region_size;  /* the region's slot in the manager VM (size 0: none) */
    uint64_t env_arg;
    uint32_t vcpu;
    bool user_mode;                     /* the guest calls the gate at CPL 3 */
};

/* The result.  Holds pointers into itself (struct vmf_elisa): allocate it,
 * never copy it. */
struct hv_ctx {
    struct hv_chunk chunk;
    struct vmf_alloc alloc;
    struct vmf_elisa e;
    struct vmf_elisa_layout l;
    uint64_t gate_root, sub_root;       /* manager GPAs of the two PML4s: MAP_CTX's RSI */
    uint64_t sub_entry, sub_stack, sub_env;  /* what the middle page holds */
    struct elisa_sub_env env;           /* what the env page holds */
};

/* The vmf_alloc of a chunk (page(): next zeroed page, phys = manager GPA;
 * virt(): any pool GPA to its pointer).  For tests and host_vmfunc.c. */
void hv_chunk_alloc(struct hv_ctx *c);

/* Build the contexts of one vCPU in chunk GPA CHUNK_GPA of POOL.  0, or -1
 * with one line in err. */
int hv_ctx_build(struct hv_ctx *c, const struct hv_pool *pool, uint64_t chunk_gpa,
                 const struct hv_ctx_req *r, char *err, size_t errlen);

/* The gate block linked into this program (vmfunc/testbed/gate.S) and the
 * offsets of its middle-page variables; FNV-1a 64 of its 12 KiB, which a
 * VMM compares with its own copy before it writes the top and bottom pages
 * into guest RAM. */
const uint8_t *hv_gate_block(uint32_t *var_entry, uint32_t *var_stack, uint32_t *var_env);
uint64_t hv_gate_hash(const uint8_t *block);

/* ---- host_vmfunc.c ------------------------------------------------------ */

#define HV_REGIONS_MAX 8u

struct hv_host;
/* How hv_hypercall reaches KVM.  NULL (what hv_open leaves): through the
 * agent's VMCALL - the only way the manager ever runs.  The unit test of
 * the install SEQUENCING (tests/unit/test_elisa_vmfunc_host.c) sets a
 * recorder here; it tests the order of calls and the clean-up, not any
 * hypercall. */
typedef long (*hv_hypercall_fn)(struct hv_host *h, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
                                uint64_t a3);

struct hv_region {
    void *map;                          /* the slot's user mapping */
    uint64_t size, gpa;
};

struct hv_host {
    int kvm_fd, vm_fd, vcpu_fd;
    void *run;                          /* struct kvm_run */
    int run_size;
    uint8_t *agent_mem;                 /* slot 0 */
    int pool_fd;                        /* slot 1 */
    struct hv_pool pool;
    struct hv_region regions[HV_REGIONS_MAX];   /* slots 2.. */
    uint32_t nregions;
    bool chunk_used[HV_CHUNKS];
    uint16_t manager_id;
    uint64_t seq;                       /* last command sent to the agent */
    uint64_t exits;                     /* KVM_RUN returns, for logs */
    hv_hypercall_fn hypercall;          /* NULL: the agent (see hv_hypercall_fn) */
    void *hypercall_opaque;             /* for the recorder */
};

/* "this host's KVM has no ELISA capability ..." etc.: open /dev/kvm, make
 * a VM, ask KVM_CHECK_EXTENSION(ELISA_KVM_CAP) on its fd, close.  0 if the
 * capability is there, -1 with one line in err otherwise.  The manager runs
 * it before it daemonizes (KVM VMs cannot cross fork). */
int hv_probe(char *err, size_t errlen);

/* Start the manager VM with ELISA id MANAGER_ID (1..65535) and run the
 * agent up to its first doorbell.  REQUIRE_CAP false skips the capability
 * check and the role (the unit test runs the agent's ECHO on any KVM);
 * the manager always passes true.  0, or -1 with one line in err. */
int hv_open(struct hv_host *h, uint16_t manager_id, bool require_cap, char *err, size_t errlen);

/* Give the manager VM an app's shared region (memfd FD, SIZE bytes) as
 * RAM; *gpa is where.  0 or -1 with err. */
int hv_add_region(struct hv_host *h, int fd, uint64_t size, uint64_t *gpa, char *err, size_t errlen);

/* One agent command: 0 with *res, or -1 with err (the VM stopped, a wrong
 * doorbell, the agent refused). */
int hv_agent_run(struct hv_host *h, const struct elisa_agent_cmd *cmd, struct elisa_agent_result *res,
                 char *err, size_t errlen);

/* One ELISA hypercall through the agent: returns RAX (0 or -ELISA_E_*) or
 * a positive HV_EAGENT if the agent could not run it (err set).  out may
 * be NULL. */
#define HV_EAGENT 1000
long hv_hypercall(struct hv_host *h, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                  struct elisa_agent_result *out, char *err, size_t errlen);

/* Name of an ELISA error code (ELISA_E_NOVM -> "NOVM: no such VM id, ...") */
const char *hv_elisa_strerror(long rax);

/* Build and install vCPU KVM_VCPU of guest KVM VM id VM_ID: contexts in a
 * fresh chunk, MAP_CTX index 1 (gate), 2 (sub), ENABLE.  *out (allocated)
 * is kept for hv_uninstall.  0 or -1 with err; on failure nothing stays
 * installed (TEARDOWN) and the chunk is freed. */
int hv_install(struct hv_host *h, uint32_t vm_id, uint32_t kvm_vcpu, const struct hv_ctx_req *r,
               struct hv_ctx **out, char *err, size_t errlen);

/* TEARDOWN the vCPU's contexts and free the chunk (hole-punched). */
int hv_uninstall(struct hv_host *h, uint32_t vm_id, uint32_t kvm_vcpu, struct hv_ctx *c,
                 char *err, size_t errlen);

/* DISABLE (contexts stay) / ENABLE again. */
int hv_set_enabled(struct hv_host *h, uint32_t vm_id, uint32_t kvm_vcpu, bool on, char *err,
                   size_t errlen);

void hv_close(struct hv_host *h);

#endif
