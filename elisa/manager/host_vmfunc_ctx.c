/* elisa/manager/host_vmfunc_ctx.c - the GATE and SUB EPT contexts of one
 * guest vCPU, built in the manager VM's page pool (host_vmfunc.h).  Pure:
 * no KVM, so tests/unit/test_elisa_vmfunc_host.c runs exactly this code and
 * walks the result.
 *
 * Why the addresses are manager GPAs: MAP_CTX takes an EPT written in the
 * manager VM's RAM "with its own guest-physical addresses where the
 * hardware expects host-physical ones" (elisa/kvm/README.md, "The
 * manager's EPT"); the host translates them and refuses any that is not
 * the manager's own RAM.  So the allocator handed to vmfunc/ gives pool
 * pages named by their manager GPA, and the region is named by its slot's
 * GPA.  VMF_MAP_NO_1G because the host refuses 1 GiB leaves; no EPT A/D
 * (the host makes its EPTPs without them, Intel SDM Vol. 3C 25.6.11), so
 * the page-table window and the anywhere root are read-only.
 */
#include <stdio.h>
#include <string.h>

#include "host_vmfunc.h"
#include "../apps/app.h"
#include "../apps/app_image.h"

#define PAGE VMF_PAGE_SIZE

/* ---- the pool allocator ----------------------------------------------------- */

static void *chunk_page(void *ctx, uint64_t *phys)
{
    struct hv_chunk *k = ctx;
    if (k->next + PAGE > k->end)
        return NULL;
    uint8_t *p = k->pool->base + (k->next - k->pool->gpa);
    memset(p, 0, PAGE);
    *phys = k->next;
    k->next += PAGE;
    return p;
}

static void *pool_virt(void *ctx, uint64_t phys)
{
    struct hv_chunk *k = ctx;
    const struct hv_pool *pool = k->pool;
    if (phys < pool->gpa || phys >= pool->gpa + pool->size)
        return NULL;
    return pool->base + (phys - pool->gpa);
}

void hv_chunk_alloc(struct hv_ctx *c)
{
    c->alloc.page = chunk_page;
    c->alloc.virt = pool_virt;
    c->alloc.ctx = &c->chunk;
}

/* ---- the gate linked into this program ---------------------------------------- */

/* vmfunc/testbed/gate.S, linked as an object: only its bytes are used here
 * (copied into pool pages), never executed in this process. */
extern const uint8_t elisa_gate_top[], elisa_gate_end[];
extern const uint8_t elisa_gate_sub_entry[], elisa_gate_sub_stack[], elisa_gate_sub_env[];

const uint8_t *hv_gate_block(uint32_t *var_entry, uint32_t *var_stack, uint32_t *var_env)
{
    *var_entry = (uint32_t)(elisa_gate_sub_entry - elisa_gate_top);
    *var_stack = (uint32_t)(elisa_gate_sub_stack - elisa_gate_top);
    *var_env = (uint32_t)(elisa_gate_sub_env - elisa_gate_top);
    return elisa_gate_top;
}

uint64_t hv_gate_hash(const uint8_t *block)
{
    uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a 64 */
    for (uint64_t i = 0; i < VMF_GATE_SIZE; i++) {
        h ^= block[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- the build -------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "vmfunc contexts: %s", what);
    return -1;
}

/* n pages from the chunk, contiguous (the bump allocator hands them out in
 * order), zeroed; returns the pointer and the GPA of the first. */
static uint8_t *take_pages(struct hv_ctx *c, uint64_t n, uint64_t *gpa)
{
    uint8_t *first = NULL;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t phys;
        uint8_t *p = chunk_page(&c->chunk, &phys);
        if (p == NULL)
            return NULL;
        if (i == 0) {
            first = p;
            *gpa = phys;
        }
    }
    return first;
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof v);
}

int hv_ctx_build(struct hv_ctx *c, const struct hv_pool *pool, uint64_t chunk_gpa,
                 const struct hv_ctx_req *r, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (chunk_gpa < pool->gpa || chunk_gpa + HV_CHUNK_SIZE > pool->gpa + pool->size ||
        (chunk_gpa - pool->gpa) % HV_CHUNK_SIZE != 0)
        return fail(err, errlen, "chunk outside the pool");
    if (r->app_size == 0 || r->app_size % PAGE != 0 || r->app_size > ELISA_APP_MAX_SIZE ||
        r->entry_offset >= r->app_size)
        return fail(err, errlen, "the app image is not 1 page to 1 MiB of pages with its entry inside");
    if (r->region_size % PAGE != 0 || (r->region_size != 0 && r->region_mgr_gpa % PAGE != 0))
        return fail(err, errlen, "the region is not whole pages");
    if (r->gate_var_entry < PAGE || r->gate_var_entry > 2 * PAGE - 8 || r->gate_var_stack < PAGE ||
        r->gate_var_stack > 2 * PAGE - 8 || r->gate_var_env < PAGE || r->gate_var_env > 2 * PAGE - 8)
        return fail(err, errlen, "the gate's variables are not in its middle page");
    if (r->win_gpa % PAGE != 0 || r->win_size < HV_WIN_REGION_OFF + r->region_size)
        return fail(err, errlen, "the shared window (--shared-gpa, 64 x --shared-stride) is too small "
                    "for 2 MiB of sub-context pages plus the app's region: raise --shared-stride");
    c->chunk.pool = pool;
    c->chunk.gpa = c->chunk.next = chunk_gpa;
    c->chunk.end = chunk_gpa + HV_CHUNK_SIZE;
    hv_chunk_alloc(c);

    /* The pages the contexts map: the gate copy, the app copy, stack + env. */
    uint64_t gate_gpa = 0, code_gpa = 0, data_gpa = 0;
    const uint64_t data_pages = HV_STACK_PAGES + 1;
    uint8_t *gate = take_pages(c, VMF_GATE_PAGES, &gate_gpa);
    uint8_t *code = gate ? take_pages(c, r->app_size / PAGE, &code_gpa) : NULL;
    uint8_t *data = code ? take_pages(c, data_pages, &data_gpa) : NULL;
    if (data == NULL)
        return fail(err, errlen, "the app does not fit in a pool chunk");

    struct vmf_elisa_layout *l = &c->l;
    l->ram_gpa = 0;
    l->ram_hpa = HV_PHANTOM_RAM_HPA;
    l->ram_size = PAGE;
    l->gate_gpa = r->gate_gpa;
    l->gate_va = r->gate_gva;
    for (unsigned i = 0; i < VMF_GATE_PAGES; i++)
        l->gate_hpa[i] = gate_gpa + i * PAGE;
    l->pt_gpa = r->win_gpa;
    l->pt_pages = HV_PT_PAGES;
    l->sub_code_gpa = l->sub_code_va = r->win_gpa + HV_WIN_CODE_OFF;
    l->sub_code_hpa = code_gpa;
    l->sub_code_size = r->app_size;
    l->sub_data_gpa = l->sub_data_va = l->sub_code_gpa + r->app_size;
    l->sub_data_hpa = data_gpa;
    l->sub_data_size = data_pages * PAGE;
    if (r->region_size != 0) {
        l->shared_gpa = l->shared_va = r->win_gpa + HV_WIN_REGION_OFF;
        l->shared_hpa = r->region_mgr_gpa;
        l->shared_size = r->region_size;
    }
    l->map_flags = VMF_MAP_NO_1G;
    l->eptp_ad = false;
    l->user_mode = r->user_mode;

    int rc = vmf_elisa_build(&c->e, &c->alloc, l);
    if (rc != VMF_OK) {
        snprintf(err, errlen, "vmfunc contexts: vmf_elisa_build: %s (gate GVA 0x%llx must not overlap "
                 "the sub window 0x%llx..0x%llx; the pool chunk may be too small)", vmf_strerror(rc),
                 (unsigned long long)r->gate_gva, (unsigned long long)r->win_gpa,
                 (unsigned long long)(r->win_gpa + HV_WIN_REGION_OFF + r->region_size));
        return -1;
    }
    c->gate_root = c->e.ctx[VMF_CTX_GATE].pml4;
    c->sub_root = c->e.ctx[VMF_CTX_SUB].pml4;

    /* Contents.  The gate's variables live in its middle page, which the
     * guest can neither read nor write (absent from its default context):
     * the guest picks fn and arg, never the code, stack or env (gate.S). */
    memcpy(gate, r->gate, VMF_GATE_SIZE);
    memcpy(code, r->app, r->app_size);
    c->sub_entry = l->sub_code_va + r->entry_offset;
    c->sub_stack = l->sub_data_va + HV_STACK_PAGES * PAGE;    /* top; 16-byte aligned */
    c->sub_env = c->sub_stack;                                /* the page after the stack */
    put64(gate + r->gate_var_entry, c->sub_entry);
    put64(gate + r->gate_var_stack, c->sub_stack);
    put64(gate + r->gate_var_env, c->sub_env);
    c->env.shared_va = l->shared_va;
    c->env.shared_size = l->shared_size;
    c->env.arg = r->env_arg;
    c->env.vcpu = r->vcpu;
    memcpy(data + HV_STACK_PAGES * PAGE, &c->env, sizeof c->env);
    return 0;
}
