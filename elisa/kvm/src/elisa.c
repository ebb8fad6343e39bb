// SPDX-License-Identifier: GPL-2.0
/*
 * ELISA for KVM/VMX: host hypercalls with which a manager VM installs EPT
 * contexts into the EPTP list of a target guest's vCPU, for exit-less
 * context switches with VMFUNC leaf 0 (Yasukata, Tazaki, Aublin, ASPLOS
 * 2023).  The ABI and every argument check are in elisa_hc_check.[ch]
 * (plain C, unit-tested in user space by exitless); this file is the KVM
 * glue.  Intel SDM numbers are those of the 2023 edition, Vol. 3C.
 *
 * Rules, and why:
 * - Only a VM whose VMM enabled ELISA_KVM_CAP as a manager may change
 *   another VM, and only guests that named that manager's id.
 * - The manager describes a context as an EPT in its own memory with its
 *   own guest-physical addresses.  The host copies every table into host
 *   pages, checks every entry and puts host-physical addresses in: the
 *   CPU walks pages the manager cannot write, every page it reaches is
 *   pinned manager RAM, and no host address ever reaches a guest.
 * - EPTP-list entry 0 is always the vCPU's own EPTP, rewritten wherever
 *   KVM loads a new root (vmx_load_mmu_pgd) and before every entry that
 *   follows a change.
 * - The target vCPU's VMCS is written only by the target vCPU's thread
 *   (elisa_vcpu_sync() before VM entry); a replaced or removed context is
 *   freed only after that thread has moved off it and after INVEPT on
 *   every CPU.
 * - Nothing clears RFLAGS.IF for the guest: ELISA's gate executes CLI
 *   itself, so the host needs no VMCS write on the guest's behalf.
 */
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <asm/msr.h>
#include <asm/vmx.h>

#include "capabilities.h"
#include "vmx.h"
#include "../cpuid.h"
#include "../kvm_cache_regs.h"
#include "../x86.h"
#include "elisa.h"
#include "elisa_hc_check.h"

/* A context: the host copy of one manager EPT. */
struct elisa_ctx {
	struct list_head node;		/* on elisa_vcpu.retired once replaced */
	u64 eptp;
	u64 retired_gen;
	struct elisa_xlate_ops ops;
	struct elisa_xlate x;		/* its tables (x.tables, x.ntables) */
};

/* Per target vCPU, made by the first manager call that names it. */
struct elisa_vcpu {
	/* list[], enabled, dirty, gen and acked: shared with the vCPU's entry
	 * path, which runs with interrupts off, hence a raw spinlock. */
	raw_spinlock_t lock;
	u64 *list;			/* the EPTP list: one host page (25.6.14) */
	bool enabled;			/* VM functions wanted on */
	bool dirty;			/* the VMCS does not reflect the above yet */
	u64 gen;			/* bumped when a context is retired */
	u64 acked;			/* gen the vCPU had seen at its last sync */
	/* Under the target VM's elisa_vm.lock only: */
	struct elisa_ctx *ctx[ELISA_LIST_ENTRIES];
	struct list_head retired;
	unsigned int pages;		/* host table pages of live + retired contexts */
};

static LIST_HEAD(elisa_vms);		/* VMs with an ELISA role */
static DEFINE_MUTEX(elisa_vms_lock);

/* ---- capability: the VMM gives its VM a role ------------------------------ */

static int elisa_enable_cap(struct kvm *kvm, struct kvm_enable_cap *cap)
{
	struct elisa_vm *me = &to_kvm_vmx(kvm)->elisa;
	struct elisa_cap_args a;
	struct elisa_vm *other;
	int r = 0;

	if (elisa_cap_check(cap->flags, cap->args, &a))
		return -EINVAL;
	mutex_lock(&elisa_vms_lock);
	if (me->role != ELISA_ROLE_NONE) {
		r = -EBUSY;		/* a role is for the VM's lifetime */
		goto out;
	}
	list_for_each_entry(other, &elisa_vms, node) {
		if (other->id == a.id) {
			r = -EEXIST;
			goto out;
		}
	}
	me->id = a.id;
	me->manager_id = a.manager_id;
	list_add(&me->node, &elisa_vms);
	/* Last: elisa_is_hypercall() reads the role without the lock. */
	smp_store_release(&me->role, a.role);
out:
	mutex_unlock(&elisa_vms_lock);
	return r;
}

void elisa_hardware_setup(void)
{
	u64 vmfunc;

	BUILD_BUG_ON(KVM_CAP_X86_ELISA != ELISA_KVM_CAP);
	if (!enable_ept || !cpu_has_vmx_vmfunc())
		return;
	/* A.11 "VM Functions": IA32_VMX_VMFUNC bit 0 allows EPTP switching.
	 * A.10 "VPID and EPT Capabilities": our contexts are 4-level, WB. */
	if (rdmsrl_safe(MSR_IA32_VMX_VMFUNC, &vmfunc) ||
	    !(vmfunc & VMX_VMFUNC_EPTP_SWITCHING))
		return;
	if (!cpu_has_vmx_ept_4levels() || !cpu_has_vmx_ept_mt_wb())
		return;
	WRITE_ONCE(kvm_elisa_enable_cap, elisa_enable_cap);
}

void elisa_hardware_unsetup(void)
{
	WRITE_ONCE(kvm_elisa_enable_cap, NULL);
}

void elisa_vm_init(struct kvm *kvm)
{
	struct elisa_vm *me = &to_kvm_vmx(kvm)->elisa;

	mutex_init(&me->lock);
	INIT_LIST_HEAD(&me->node);
	me->kvm = kvm;
}

void elisa_vm_destroy(struct kvm *kvm)
{
	struct elisa_vm *me = &to_kvm_vmx(kvm)->elisa;

	mutex_lock(&elisa_vms_lock);
	if (!list_empty(&me->node))
		list_del_init(&me->node);
	mutex_unlock(&elisa_vms_lock);
}

/* A guest that names mgr as its manager, with a reference held. */
static struct kvm *elisa_get_target(struct elisa_vm *mgr, u64 vm_id)
{
	struct elisa_vm *t;
	struct kvm *kvm = NULL;

	mutex_lock(&elisa_vms_lock);
	list_for_each_entry(t, &elisa_vms, node) {
		if (t->id != vm_id)
			continue;
		/* One answer for "no such VM" and "not yours": a manager
		 * learns nothing about guests of other managers. */
		if (t->role == ELISA_ROLE_GUEST && t->manager_id == mgr->id &&
		    kvm_get_kvm_safe(t->kvm))
			kvm = t->kvm;
		break;
	}
	mutex_unlock(&elisa_vms_lock);
	return kvm;
}

/* ---- translation callbacks (run in the manager's vCPU thread) ------------ */

/* Only the manager's own RAM: a user memslot, not one being deleted, not
 * KVM's private slots (APIC access page, TSS, identity map). */
static struct kvm_memory_slot *elisa_slot(struct kvm *mgr, u64 gpa)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(mgr, gpa >> PAGE_SHIFT);

	return kvm_is_visible_memslot(slot) ? slot : NULL;
}

static int elisa_read_table(void *ctx, uint64_t gpa, uint64_t *buf)
{
	struct kvm *mgr = ctx;

	cond_resched();		/* up to ELISA_MAX_TABLES_PER_CTX pages per call */
	if (!elisa_slot(mgr, gpa))
		return -ELISA_E_OWNER;
	if (kvm_read_guest_page(mgr, gpa >> PAGE_SHIFT, buf, 0, PAGE_SIZE))
		return -ELISA_E_OWNER;
	return 0;
}

static uint64_t *elisa_alloc_table(void *ctx, uint64_t *hpa)
{
	/* Charged to the caller's memory cgroup: the manager's VMM. */
	struct page *page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);

	if (!page)
		return NULL;
	*hpa = page_to_phys(page);
	return page_address(page);
}

static void elisa_free_table(void *ctx, uint64_t *table, uint64_t hpa)
{
	free_page((unsigned long)table);
}

static int elisa_pin_page(void *ctx, uint64_t gpa, bool writable, uint64_t *hpa)
{
	struct kvm *mgr = ctx;
	struct kvm_memory_slot *slot = elisa_slot(mgr, gpa);
	struct page *page;

	/* gfn_to_page() resolves with write intent, which a read-only slot
	 * refuses; such slots (ROM) are never the manager's shared RAM. */
	if (!slot || (slot->flags & KVM_MEM_READONLY))
		return -ELISA_E_OWNER;
	/* Refcounted pages only (not PFNMAP device memory): the reference
	 * keeps the page ours until the context is freed, whatever the
	 * manager's VMM does with its mapping meanwhile. */
	page = gfn_to_page(mgr, gpa >> PAGE_SHIFT);
	if (is_error_page(page))
		return -ELISA_E_OWNER;
	*hpa = page_to_phys(page);
	return 0;
}

static void elisa_unpin_page(void *ctx, uint64_t hpa)
{
	/* The target may have written it through the context. */
	kvm_release_page_dirty(pfn_to_page(hpa >> PAGE_SHIFT));
}

static const struct elisa_xlate_ops elisa_ops_template = {
	.read_table = elisa_read_table,
	.alloc_table = elisa_alloc_table,
	.free_table = elisa_free_table,
	.pin_page = elisa_pin_page,
	.unpin_page = elisa_unpin_page,
};

static void elisa_ctx_free(struct elisa_ctx *c)
{
	elisa_xlate_release(&c->x);
	kfree(c->x.tables);
	kfree(c);
}

static int elisa_ctx_build(struct kvm_vcpu *mgr_vcpu, u64 root_gpa, unsigned int budget,
			   struct elisa_ctx **out)
{
	struct elisa_ctx *c;
	uint64_t (*scratch)[512];
	uint64_t root_hpa;
	int rc;

	c = kzalloc(sizeof(*c), GFP_KERNEL_ACCOUNT);
	if (!c)
		return -ELISA_E_NOMEM;
	c->x.tables = kcalloc(ELISA_MAX_TABLES_PER_CTX, sizeof(*c->x.tables), GFP_KERNEL_ACCOUNT);
	scratch = kmalloc_array(4, PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	if (!c->x.tables || !scratch) {
		kfree(scratch);
		kfree(c->x.tables);
		kfree(c);
		return -ELISA_E_NOMEM;
	}
	c->ops = elisa_ops_template;
	c->ops.ctx = mgr_vcpu->kvm;
	c->x.ops = &c->ops;
	c->x.max_tables = min(budget, ELISA_MAX_TABLES_PER_CTX);
	c->x.scratch = scratch;
	c->x.maxphyaddr = cpuid_maxphyaddr(mgr_vcpu);
	c->x.exec_only = cpu_has_vmx_ept_execute_only();

	rc = elisa_xlate_build(&c->x, root_gpa, &root_hpa);
	kfree(scratch);
	c->x.scratch = NULL;
	c->ops.ctx = NULL;	/* release needs no manager: it may be gone by then */
	if (rc) {
		elisa_ctx_free(c);
		return rc;
	}
	c->eptp = elisa_ctx_eptp(root_hpa);
	*out = c;
	return 0;
}

/* ---- TLB ------------------------------------------------------------------ */

static void elisa_invept_cpu(void *unused)
{
	ept_sync_global();
}

/*
 * INVEPT all-context on every CPU (29.4.3.1 "Operations that Invalidate
 * Cached Mappings"; INVEPT in chapter "VMX Instruction Reference").  Cached
 * EPT translations are tagged by the EPTP's root address, and a freed root
 * page can come back as a new root: flush before a new context becomes
 * reachable and before freed tables are reused.  Every CPU is in VMX root
 * operation while a VM exists (KVM enables VMX on all CPUs).
 */
static void elisa_flush_all(void)
{
	on_each_cpu(elisa_invept_cpu, NULL, 1);
}

/* ---- per-vCPU state -------------------------------------------------------- */

static struct elisa_vcpu *elisa_vcpu_get(struct kvm_vcpu *vcpu, bool create)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	struct elisa_vcpu *ev = smp_load_acquire(&vmx->elisa);

	if (ev || !create)
		return ev;
	/* Creation is serialized by the target VM's elisa_vm.lock. */
	ev = kzalloc(sizeof(*ev), GFP_KERNEL_ACCOUNT);
	if (!ev)
		return NULL;
	ev->list = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!ev->list) {
		kfree(ev);
		return NULL;
	}
	raw_spin_lock_init(&ev->lock);
	INIT_LIST_HEAD(&ev->retired);
	smp_store_release(&vmx->elisa, ev);
	return ev;
}

/* Called with ev->lock held.  The vCPU may be inside c right now: c stays
 * allocated until the vCPU's next sync has moved it off (acked >= gen). */
static void elisa_retire_locked(struct elisa_vcpu *ev, struct elisa_ctx *c)
{
	c->retired_gen = ++ev->gen;
	list_add_tail(&c->node, &ev->retired);
	ev->dirty = true;
}

/* Free the retired contexts the vCPU no longer uses.  Target VM lock held. */
static void elisa_reclaim(struct elisa_vcpu *ev)
{
	struct elisa_ctx *c, *n;
	unsigned long flags;
	LIST_HEAD(done);
	u64 acked;

	raw_spin_lock_irqsave(&ev->lock, flags);
	acked = ev->acked;
	raw_spin_unlock_irqrestore(&ev->lock, flags);
	list_for_each_entry_safe(c, n, &ev->retired, node)
		if (c->retired_gen <= acked)
			list_move(&c->node, &done);
	if (list_empty(&done))
		return;
	elisa_flush_all();
	list_for_each_entry_safe(c, n, &done, node) {
		ev->pages -= c->x.ntables;
		elisa_ctx_free(c);
	}
}

static bool elisa_is_live(struct elisa_vcpu *ev, u64 eptp)
{
	int i;

	for (i = 1; i < ELISA_LIST_ENTRIES; i++)
		if (ev->list[i] == eptp)
			return true;
	return false;
}

/* The EPTP KVM itself loaded for this vCPU (vmx_load_mmu_pgd). */
static u64 elisa_root_eptp(struct kvm_vcpu *vcpu)
{
	return construct_eptp(vcpu, vcpu->arch.mmu->root.hpa, vcpu->arch.mmu->root_role.level);
}

/* ---- manager operations (target VM's elisa_vm.lock held) ------------------ */

static int elisa_map_ctx(struct kvm_vcpu *mgr_vcpu, struct kvm_vcpu *t, u64 index, u64 root_gpa)
{
	struct elisa_vcpu *ev = elisa_vcpu_get(t, true);
	struct elisa_ctx *c, *old;
	unsigned long flags;
	int rc;

	if (!ev)
		return -ELISA_E_NOMEM;
	elisa_reclaim(ev);
	if (ev->pages >= ELISA_MAX_PAGES_PER_VCPU)
		return -ELISA_E_NOMEM;
	rc = elisa_ctx_build(mgr_vcpu, root_gpa, ELISA_MAX_PAGES_PER_VCPU - ev->pages, &c);
	if (rc)
		return rc;
	elisa_flush_all();
	ev->pages += c->x.ntables;

	raw_spin_lock_irqsave(&ev->lock, flags);
	old = ev->ctx[index];
	ev->ctx[index] = c;
	/* The CPU reads the list at each VMFUNC (26.5.5.3 "EPTP Switching"):
	 * one 64-bit store makes the entry valid at once. */
	WRITE_ONCE(ev->list[index], c->eptp);
	if (old)
		elisa_retire_locked(ev, old);
	raw_spin_unlock_irqrestore(&ev->lock, flags);
	if (old)
		kvm_vcpu_kick(t);
	return 0;
}

static int elisa_unmap_ctx(struct kvm_vcpu *t, u64 index)
{
	struct elisa_vcpu *ev = elisa_vcpu_get(t, false);
	unsigned long flags;

	if (!ev || !ev->ctx[index])
		return 0;	/* already empty: teardown is idempotent */
	raw_spin_lock_irqsave(&ev->lock, flags);
	WRITE_ONCE(ev->list[index], 0);	/* VMFUNC(0, index) now exits (26.5.5.3) */
	elisa_retire_locked(ev, ev->ctx[index]);
	ev->ctx[index] = NULL;
	raw_spin_unlock_irqrestore(&ev->lock, flags);
	kvm_vcpu_kick(t);
	elisa_reclaim(ev);
	return 0;
}

static int elisa_set_enabled(struct kvm_vcpu *t, bool on)
{
	struct elisa_vcpu *ev = elisa_vcpu_get(t, on);
	unsigned long flags;

	if (!ev)
		return on ? -ELISA_E_NOMEM : 0;
	raw_spin_lock_irqsave(&ev->lock, flags);
	ev->enabled = on;
	ev->dirty = true;
	raw_spin_unlock_irqrestore(&ev->lock, flags);
	kvm_vcpu_kick(t);
	return 0;
}

static void elisa_teardown(struct kvm_vcpu *t)
{
	struct elisa_vcpu *ev = elisa_vcpu_get(t, false);
	unsigned long flags;
	int i;

	if (!ev)
		return;
	raw_spin_lock_irqsave(&ev->lock, flags);
	ev->enabled = false;
	ev->dirty = true;
	for (i = 1; i < ELISA_LIST_ENTRIES; i++) {
		if (!ev->ctx[i])
			continue;
		WRITE_ONCE(ev->list[i], 0);
		elisa_retire_locked(ev, ev->ctx[i]);
		ev->ctx[i] = NULL;
	}
	raw_spin_unlock_irqrestore(&ev->lock, flags);
	kvm_vcpu_kick(t);
	elisa_reclaim(ev);	/* what the vCPU already left; the rest at the next call or VM exit */
}

static long elisa_query(struct kvm_vcpu *vcpu, struct elisa_vm *me)
{
	u64 feat = ELISA_FEAT_EPTP_SWITCHING | ELISA_FEAT_LEAF_2M;

	if (cpu_has_vmx_ept_execute_only())
		feat |= ELISA_FEAT_EXEC_ONLY;
	kvm_rbx_write(vcpu, ELISA_ABI_VERSION);
	kvm_rcx_write(vcpu, feat);
	kvm_rdx_write(vcpu, (u64)me->role << 16 | me->id);
	kvm_rsi_write(vcpu, (u64)ELISA_MAX_TABLES_PER_CTX << 32 | ELISA_MAX_PAGES_PER_VCPU);
	return 0;
}

static long elisa_dispatch(struct kvm_vcpu *vcpu, struct elisa_vm *me, const struct elisa_hc_req *req)
{
	struct kvm *target;
	struct elisa_vm *tv;
	struct kvm_vcpu *t;
	unsigned long i;
	long ret;

	if (req->nr == ELISA_HC_QUERY)
		return elisa_query(vcpu, me);

	target = elisa_get_target(me, req->a0);
	if (!target)
		return -ELISA_E_NOVM;
	tv = &to_kvm_vmx(target)->elisa;
	mutex_lock(&tv->lock);
	if (req->nr == ELISA_HC_TEARDOWN && req->a1 == ELISA_VCPU_ALL) {
		kvm_for_each_vcpu(i, t, target)
			elisa_teardown(t);
		ret = 0;
		goto out;
	}
	/* a1 < KVM_MAX_VCPU_IDS was checked: it fits an int. */
	t = kvm_get_vcpu_by_id(target, (int)req->a1);
	if (!t) {
		ret = -ELISA_E_NOVCPU;
		goto out;
	}
	switch (req->nr) {
	case ELISA_HC_MAP_CTX:
		ret = elisa_map_ctx(vcpu, t, req->a2, req->a3);
		break;
	case ELISA_HC_UNMAP_CTX:
		ret = elisa_unmap_ctx(t, req->a2);
		break;
	case ELISA_HC_ENABLE:
		ret = elisa_set_enabled(t, true);
		break;
	case ELISA_HC_DISABLE:
		ret = elisa_set_enabled(t, false);
		break;
	case ELISA_HC_TEARDOWN:
		elisa_teardown(t);
		ret = 0;
		break;
	default:
		ret = -ELISA_E_NOSYS;	/* elisa_hc_check() let nothing else through */
		break;
	}
out:
	mutex_unlock(&tv->lock);
	kvm_put_kvm(target);
	return ret;
}

/* ---- hooks called from vmx.c ----------------------------------------------- */

bool elisa_is_hypercall(struct kvm_vcpu *vcpu)
{
	struct elisa_vm *me = &to_kvm_vmx(vcpu->kvm)->elisa;

	/* VMs without a role keep KVM's hypercalls untouched; a VMCALL from
	 * L2 was already reflected to L1 by nested_vmx_reflect_vmexit(). */
	return smp_load_acquire(&me->role) != ELISA_ROLE_NONE && !is_guest_mode(vcpu) &&
	       elisa_hc_is_elisa(kvm_rax_read(vcpu));
}

/* Exit reason 18, VMCALL (Appendix C "VMX Basic Exit Reasons"). */
int elisa_handle_hypercall(struct kvm_vcpu *vcpu)
{
	struct elisa_vm *me = &to_kvm_vmx(vcpu->kvm)->elisa;
	struct elisa_hc_req req;
	struct elisa_hc_env env;
	long ret;

	req.nr = kvm_rax_read(vcpu);
	req.a0 = kvm_rbx_read(vcpu);
	req.a1 = kvm_rcx_read(vcpu);
	req.a2 = kvm_rdx_read(vcpu);
	req.a3 = kvm_rsi_read(vcpu);
	env.role = smp_load_acquire(&me->role);
	env.cpl = vmx_get_cpl(vcpu);
	env.long_mode = is_64_bit_mode(vcpu);
	env.max_vcpu_ids = KVM_MAX_VCPU_IDS;
	env.maxphyaddr = cpuid_maxphyaddr(vcpu);

	ret = elisa_hc_check(&req, &env);
	if (!ret)
		ret = elisa_dispatch(vcpu, me, &req);
	kvm_rax_write(vcpu, (u64)ret);
	++vcpu->stat.hypercalls;
	return kvm_skip_emulated_instruction(vcpu);
}

void elisa_vcpu_sync(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	struct elisa_vcpu *ev = smp_load_acquire(&vmx->elisa);
	u64 root, cur;

	/* vmcs02 is loaded while L2 runs: ELISA lives in vmcs01 only, so
	 * wait (dirty stays set) until the vCPU is back in L1. */
	if (likely(!ev) || !READ_ONCE(ev->dirty) || is_guest_mode(vcpu))
		return;
	root = elisa_root_eptp(vcpu);
	raw_spin_lock(&ev->lock);
	WRITE_ONCE(ev->list[0], root);
	if (ev->enabled) {
		/* 25.6.14 "VM-Function Controls": the EPTP-list address (field
		 * 0x2024, 4 KiB aligned) and VM-function control bit 0, EPTP
		 * switching (field 0x2018). */
		vmcs_write64(EPTP_LIST_ADDRESS, __pa(ev->list));
		vmcs_write64(VM_FUNCTION_CONTROL, VMX_VMFUNC_EPTP_SWITCHING);
		/* 25.6.2 "Processor-Based VM-Execution Controls": secondary
		 * control bit 13, "enable VM functions".  KVM 6.1 already sets
		 * it for every guest (VMFUNC then exits and KVM injects #UD);
		 * 6.3 and later do not, so set it here. */
		secondary_exec_controls_setbit(vmx, SECONDARY_EXEC_ENABLE_VMFUNC);
	} else {
		vmcs_write64(VM_FUNCTION_CONTROL, 0);
	}
	/* The EPTP field holds the context the guest is in (26.5.5.3 loads
	 * it).  If that context is gone, the vCPU goes back to its own EPT. */
	cur = vmcs_read64(EPT_POINTER);
	if (cur != root && !(ev->enabled && elisa_is_live(ev, cur)))
		vmcs_write64(EPT_POINTER, root);
	ev->acked = ev->gen;
	ev->dirty = false;
	raw_spin_unlock(&ev->lock);
}

bool elisa_load_eptp(struct kvm_vcpu *vcpu, u64 eptp)
{
	struct elisa_vcpu *ev = smp_load_acquire(&to_vmx(vcpu)->elisa);
	unsigned long flags;
	bool keep;

	if (likely(!ev) || is_guest_mode(vcpu))
		return false;
	raw_spin_lock_irqsave(&ev->lock, flags);
	/* The published patch set list[0] once; KVM replaces its root on
	 * memslot changes and MMU zaps, and VMFUNC(0, 0) must return there. */
	WRITE_ONCE(ev->list[0], eptp);
	/* A guest inside a live context stays there (it runs with IF = 0 on
	 * code its own EPT does not map); VMFUNC(0, 0) finds the new root. */
	keep = ev->enabled && elisa_is_live(ev, vmcs_read64(EPT_POINTER));
	raw_spin_unlock_irqrestore(&ev->lock, flags);
	return keep;
}

bool elisa_fault_in_context(struct kvm_vcpu *vcpu)
{
	struct elisa_vcpu *ev = smp_load_acquire(&to_vmx(vcpu)->elisa);

	/* KVM's MMU can only fill its own EPT: a violation inside a manager's
	 * context would loop forever.  ELISA's rule: a fault there is fatal
	 * to the guest (the caller shuts the VM down), never to the host. */
	if (likely(!ev) || !READ_ONCE(ev->enabled) || is_guest_mode(vcpu))
		return false;
	return vmcs_read64(EPT_POINTER) != elisa_root_eptp(vcpu);
}

void elisa_vcpu_free(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	struct elisa_vcpu *ev = vmx->elisa;
	struct elisa_ctx *c, *n;
	bool any = false;
	int i;

	if (!ev)
		return;
	/* The VM is being destroyed: no manager holds a reference to it, and
	 * the vCPU does not run.  Flush first, as elisa_reclaim() does. */
	for (i = 1; i < ELISA_LIST_ENTRIES; i++)
		any |= ev->ctx[i] != NULL;
	any |= !list_empty(&ev->retired);
	if (any)
		elisa_flush_all();
	for (i = 1; i < ELISA_LIST_ENTRIES; i++)
		if (ev->ctx[i])
			elisa_ctx_free(ev->ctx[i]);
	list_for_each_entry_safe(c, n, &ev->retired, node)
		elisa_ctx_free(c);
	free_page((unsigned long)ev->list);
	kfree(ev);
	vmx->elisa = NULL;
}
