/* elisa/manager/vmfunc_installs.c - the life of installed ELISA contexts
 * (vmfunc_installs.h).  Hypercalls go through host_vmfunc.c. */
#include <stdio.h>
#include <string.h>

#include "vmfunc_installs.h"

int mgr_vmfunc_init(struct mgr_vmfunc *v, struct hv_host *h, uint16_t manager_id,
                    const struct mgr_layout *layout, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    if (manager_id == 0 || (uint32_t)manager_id + MGR_GUESTS_MAX > 65535u) {
        snprintf(err, errlen, "--elisa-id %u: use 1..%u (the guests' VMs take the %u ids above it)",
                 manager_id, 65535u - MGR_GUESTS_MAX, MGR_GUESTS_MAX);
        return -1;
    }
    v->h = h;
    v->manager_id = manager_id;
    v->gate = hv_gate_block(&v->var_entry, &v->var_stack, &v->var_env);
    v->gate_hash = hv_gate_hash(v->gate);
    v->win_gpa = layout->shared_gpa;
    v->win_size = MGR_VCPU_MAX * layout->shared_stride;
    return 0;
}

uint16_t mgr_vmfunc_guest_kvm_id(const struct mgr_vmfunc *v, uint32_t guest_index)
{
    return (uint16_t)(v->manager_id + 1u + guest_index);
}

static struct mgr_vmfunc_entry *find(struct mgr_vmfunc *v, uint32_t guest_id, uint32_t vcpu)
{
    for (uint32_t i = 0; i < HV_CHUNKS; i++)
        if (v->e[i].used && v->e[i].guest_id == guest_id && v->e[i].vcpu == vcpu)
            return &v->e[i];
    return NULL;
}

/* TEARDOWN and forget.  0, or -1 (the entry is kept: its pages may still
 * be in the guest's EPTP list, so its chunk must not be reused). */
static int remove_entry(struct mgr_vmfunc *v, struct mgr_vmfunc_entry *e, char *err, size_t errlen)
{
    if (hv_uninstall(v->h, e->guest_kvm_id, e->kvm_vcpu, e->ctx, err, errlen) != 0)
        return -1;
    memset(e, 0, sizeof *e);
    v->installed--;
    return 0;
}

int mgr_vmfunc_install(struct mgr_vmfunc *v, const struct mgr_ctx *c, uint32_t guest_id, uint32_t app,
                       uint64_t link,
                       uint32_t kvm_vcpu, bool user_mode, char *err, size_t errlen)
{
    if (v->h == NULL) {
        snprintf(err, errlen, "this manager runs without a manager VM (--no-manager-vm): it installs no "
                 "contexts; start it on an Intel host with elisa-kvm without that option");
        return -1;
    }
    if (app >= MGR_APPS_MAX || v->apps[app].image == NULL) {
        snprintf(err, errlen, "app %u has no image mapped in the manager", app);
        return -1;
    }
    const struct mgr_vmfunc_app *a = &v->apps[app];
    struct mgr_vmfunc_entry *old = find(v, guest_id, c->vcpu);
    if (old && remove_entry(v, old, err, errlen) != 0)
        return -1;
    struct mgr_vmfunc_entry *e = NULL;
    for (uint32_t i = 0; i < HV_CHUNKS && !e; i++)
        if (!v->e[i].used)
            e = &v->e[i];
    if (!e) {
        snprintf(err, errlen, "all %u install slots are in use", HV_CHUNKS);
        return -1;
    }
    struct hv_ctx_req r;
    memset(&r, 0, sizeof r);
    r.gate_gpa = c->ok.gate_gpa;
    r.gate_gva = c->ok.gate_gva;
    r.win_gpa = v->win_gpa;
    r.win_size = v->win_size;
    r.gate = v->gate;
    r.gate_var_entry = v->var_entry;
    r.gate_var_stack = v->var_stack;
    r.gate_var_env = v->var_env;
    r.app = a->image;
    r.app_size = a->image_size;
    r.entry_offset = a->entry_offset;
    r.region_mgr_gpa = a->region_mgr_gpa;
    r.region_size = a->region_size;
    r.env_arg = c->port >= 0 ? (uint64_t)c->port : 0;
    r.vcpu = c->vcpu;
    r.user_mode = user_mode;
    uint16_t kvm_id = mgr_vmfunc_guest_kvm_id(v, c->guest);
    struct hv_ctx *ctx = NULL;
    if (hv_install(v->h, kvm_id, kvm_vcpu, &r, &ctx, err, errlen) != 0)
        return -1;
    *e = (struct mgr_vmfunc_entry){ .used = true, .enabled = true, .guest_id = guest_id, .vcpu = c->vcpu,
                                    .link = link, .guest_kvm_id = kvm_id, .kvm_vcpu = kvm_vcpu, .ctx = ctx };
    v->installed++;
    return 0;
}

const char *mgr_vmfunc_detach(struct mgr_vmfunc *v, uint32_t guest_id, uint32_t vcpu, int reason,
                              char *err, size_t errlen)
{
    struct mgr_vmfunc_entry *e = v->h ? find(v, guest_id, vcpu) : NULL;

    if (!e)
        return "nothing installed";
    if (reason == MGR_DETACH_DISABLED) {
        if (!e->enabled)
            return "already disabled";
        if (hv_set_enabled(v->h, e->guest_kvm_id, e->kvm_vcpu, false, err, errlen) != 0)
            return "DISABLE failed";
        e->enabled = false;
        return "DISABLE done";
    }
    return remove_entry(v, e, err, errlen) == 0 ? "TEARDOWN done" : "TEARDOWN failed";
}

static uint32_t remove_where(struct mgr_vmfunc *v, bool all, uint64_t link, char *err, size_t errlen)
{
    uint32_t n = 0;
    for (uint32_t i = 0; v->h && i < HV_CHUNKS; i++)
        if (v->e[i].used && (all || v->e[i].link == link) && remove_entry(v, &v->e[i], err, errlen) == 0)
            n++;
    return n;
}

uint32_t mgr_vmfunc_link_gone(struct mgr_vmfunc *v, uint64_t link, char *err, size_t errlen)
{
    return remove_where(v, false, link, err, errlen);
}

uint32_t mgr_vmfunc_stop(struct mgr_vmfunc *v, char *err, size_t errlen)
{
    return remove_where(v, true, 0, err, errlen);
}
