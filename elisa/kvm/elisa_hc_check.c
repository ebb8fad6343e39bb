// SPDX-License-Identifier: GPL-2.0
/*
 * ELISA host hypercalls: argument checks and the EPT translation, in plain
 * C shared by kvm-intel.ko and the user-space unit test (elisa_hc_check.h).
 * Declarations stay at the top of blocks: the kernel builds with
 * -Wdeclaration-after-statement -Werror.
 */
#include "elisa_hc_check.h"

bool elisa_hc_is_elisa(uint64_t nr)
{
	return nr >= ELISA_HC_BASE && nr <= ELISA_HC_LAST;
}

/* A target VM id: 1..65535 (the ids VMMs give with ELISA_KVM_CAP). */
static int check_vm_id(uint64_t id)
{
	return (id == 0 || id > ELISA_ID_MAX) ? -ELISA_E_NOVM : 0;
}

static int check_vcpu_id(uint64_t id, const struct elisa_hc_env *env)
{
	return id >= env->max_vcpu_ids ? -ELISA_E_NOVCPU : 0;
}

/* Index 0 is always the vCPU's own EPTP, kept by the host. */
static int check_index(uint64_t index)
{
	return (index == 0 || index >= ELISA_LIST_ENTRIES) ? -ELISA_E_INDEX : 0;
}

static int check_gpa_page(uint64_t gpa, unsigned int maxphyaddr)
{
	if (gpa & 0xfff)
		return -ELISA_E_ALIGN;
	if (maxphyaddr < 64 && (gpa >> maxphyaddr) != 0)
		return -ELISA_E_ALIGN;
	return 0;
}

int elisa_hc_check(const struct elisa_hc_req *req, const struct elisa_hc_env *env)
{
	int rc;

	if (!elisa_hc_is_elisa(req->nr))
		return -ELISA_E_NOSYS;
	/* Like KVM's own hypercalls: only the guest kernel may ask. */
	if (env->cpl != 0 || !env->long_mode || env->role == ELISA_ROLE_NONE)
		return -ELISA_E_PERM;

	if (req->nr == ELISA_HC_QUERY)
		return (req->a0 | req->a1 | req->a2 | req->a3) ? -ELISA_E_INVAL : 0;

	if (req->nr > ELISA_HC_TEARDOWN)
		return -ELISA_E_NOSYS;
	/* Every other call changes another VM: managers only. */
	if (env->role != ELISA_ROLE_MANAGER)
		return -ELISA_E_PERM;

	rc = check_vm_id(req->a0);
	if (rc)
		return rc;
	if (!(req->nr == ELISA_HC_TEARDOWN && req->a1 == ELISA_VCPU_ALL)) {
		rc = check_vcpu_id(req->a1, env);
		if (rc)
			return rc;
	}

	switch (req->nr) {
	case ELISA_HC_MAP_CTX:
		rc = check_index(req->a2);
		if (rc)
			return rc;
		return check_gpa_page(req->a3, env->maxphyaddr);
	case ELISA_HC_UNMAP_CTX:
		rc = check_index(req->a2);
		if (rc)
			return rc;
		return req->a3 ? -ELISA_E_INVAL : 0;
	default:	/* ENABLE, DISABLE, TEARDOWN */
		return (req->a2 | req->a3) ? -ELISA_E_INVAL : 0;
	}
}

int elisa_cap_check(uint32_t flags, const uint64_t args[4], struct elisa_cap_args *out)
{
	if (flags != 0 || args[3] != 0)
		return -ELISA_E_INVAL;
	if (args[1] == 0 || args[1] > ELISA_ID_MAX)
		return -ELISA_E_INVAL;
	switch (args[0]) {
	case ELISA_ROLE_MANAGER:
		if (args[2] != 0)
			return -ELISA_E_INVAL;
		break;
	case ELISA_ROLE_GUEST:
		/* A guest names the one manager that may change it. */
		if (args[2] == 0 || args[2] > ELISA_ID_MAX || args[2] == args[1])
			return -ELISA_E_INVAL;
		break;
	default:
		return -ELISA_E_INVAL;
	}
	out->role = (unsigned int)args[0];
	out->id = (uint32_t)args[1];
	out->manager_id = (uint32_t)args[2];
	return 0;
}

/*
 * One entry of the manager's EPT, by the rules of 29.3.2 "EPT Translation
 * Mechanism" and 29.3.3.1 "EPT Misconfigurations", narrowed to what the
 * host accepts: no bit of 63:52 (suppress-#VE, verify-guest-paging,
 * paging-write, supervisory shadow stack, SPP, ignored ones) since KVM
 * enables none of those features; leaves of memory type WB only (29.3.7
 * "EPT and Memory Typing": the pages are ordinary RAM of the manager);
 * no 1 GiB leaves (the manager's GPA-contiguous gigabyte need not be
 * host-contiguous, and splitting it costs 512 tables).  Bits 11:8 (accessed,
 * dirty, user-execute, ignored) are accepted and dropped: the host's
 * contexts have A/D and mode-based execute control off.
 */
int elisa_ept_entry_check(uint64_t e, int level, unsigned int maxphyaddr, bool exec_only,
			  struct elisa_ept_entry *out)
{
	uint64_t perms = e & ELISA_EPT_RWX;
	uint64_t addr = e & ELISA_EPT_ADDR;

	if (level < 1 || level > 4)
		return -ELISA_E_INVAL;
	out->kind = ELISA_EPT_NONE;
	out->gpa = 0;
	out->perms = 0;
	out->ipat = 0;
	/* 29.3.2: an entry with bits 2:0 clear is not present; the rest is ignored. */
	if (perms == 0)
		return 0;
	/* 29.3.3.1: write without read is a misconfiguration, and so is
	 * execute-only without IA32_VMX_EPT_VPID_CAP bit 0. */
	if ((perms & ELISA_EPT_W) && !(perms & ELISA_EPT_R))
		return -ELISA_E_EPT;
	if (perms == ELISA_EPT_X && !exec_only)
		return -ELISA_E_EPT;
	if (e >> 52)
		return -ELISA_E_EPT;
	/* 29.3.3.1: address bits at or above MAXPHYADDR are reserved. */
	if (maxphyaddr < 52 && (addr >> maxphyaddr) != 0)
		return -ELISA_E_EPT;

	out->perms = perms;
	out->gpa = addr;
	if (level == 1 || (level == 2 && (e & ELISA_EPT_PS))) {
		/* Leaf: bits 5:3 are the memory type; bit 7 of a PTE is ignored. */
		if (((e >> ELISA_EPT_MT_SHIFT) & 7) != ELISA_EPT_MT_WB)
			return -ELISA_E_EPT;
		if (level == 2 && (addr & 0x1ff000))	/* 2 MiB leaf: bits 20:12 reserved */
			return -ELISA_E_EPT;
		out->ipat = e & ELISA_EPT_IPAT;
		out->kind = level == 1 ? ELISA_EPT_LEAF_4K : ELISA_EPT_LEAF_2M;
		return 0;
	}
	/* Non-leaf: bits 7:3 are reserved (a PML4E with bit 7, or a 1 GiB
	 * PDPTE leaf, is refused here too). */
	if (e & 0xf8)
		return -ELISA_E_EPT;
	out->kind = ELISA_EPT_TABLE;
	return 0;
}

/* 25.6.11 "Extended-Page-Table Pointer (EPTP)": bits 2:0 memory type
 * (6 = WB), bits 5:3 walk length minus 1 (3 = 4 levels), bit 6 A/D off. */
uint64_t elisa_ctx_eptp(uint64_t root_hpa)
{
	return root_hpa | ELISA_EPT_MT_WB | (3ull << 3);
}

static uint64_t leaf_bits(const struct elisa_ept_entry *d)
{
	return d->perms | (ELISA_EPT_MT_WB << ELISA_EPT_MT_SHIFT) | d->ipat;
}

static struct elisa_xlate_table *new_table(struct elisa_xlate *x, uint64_t src_gpa, int level)
{
	struct elisa_xlate_table *t;
	uint64_t hpa;
	uint64_t *table;

	if (x->ntables >= x->max_tables)
		return 0;
	table = x->ops->alloc_table(x->ops->ctx, &hpa);
	if (!table)
		return 0;
	t = &x->tables[x->ntables++];
	t->src_gpa = src_gpa;
	t->level = level;
	t->table = table;
	t->hpa = hpa;
	return t;
}

/* A 2 MiB leaf becomes a host PT of 512 pinned 4 KiB pages: the manager's
 * GPA range is contiguous, its host pages need not be. */
static int split_2m(struct elisa_xlate *x, const struct elisa_ept_entry *d, uint64_t *out)
{
	struct elisa_xlate_table *t = new_table(x, ELISA_NO_GPA, 1);
	uint64_t hpa;
	int i, rc;

	if (!t)
		return -ELISA_E_NOMEM;
	for (i = 0; i < 512; i++) {
		rc = x->ops->pin_page(x->ops->ctx, d->gpa + ((uint64_t)i << 12),
				      (d->perms & ELISA_EPT_W) != 0, &hpa);
		if (rc)
			return rc;
		t->table[i] = hpa | leaf_bits(d);
	}
	*out = t->hpa | d->perms;
	return 0;
}

/* Depth is at most 4 (level counts down), so the recursion is bounded. */
static int xlate_table(struct elisa_xlate *x, uint64_t gpa, int level, uint64_t *out_hpa)
{
	struct elisa_xlate_table *t;
	struct elisa_ept_entry d;
	uint64_t *src, child, hpa;
	unsigned int k;
	int i, rc;

	for (k = 0; k < x->ntables; k++) {
		if (x->tables[k].src_gpa != gpa)
			continue;
		if (x->tables[k].level != level)
			return -ELISA_E_EPT;	/* one page at two levels */
		*out_hpa = x->tables[k].hpa;
		return 0;
	}
	src = x->scratch[level - 1];
	rc = x->ops->read_table(x->ops->ctx, gpa, src);
	if (rc)
		return rc;
	t = new_table(x, gpa, level);
	if (!t)
		return -ELISA_E_NOMEM;
	/* The host entries are written only after the child exists or the
	 * page is pinned, so a failure leaves nothing to undo but the list. */
	for (i = 0; i < 512; i++) {
		rc = elisa_ept_entry_check(src[i], level, x->maxphyaddr, x->exec_only, &d);
		if (rc)
			return rc;
		switch (d.kind) {
		case ELISA_EPT_NONE:
			break;
		case ELISA_EPT_TABLE:
			rc = xlate_table(x, d.gpa, level - 1, &child);
			if (rc)
				return rc;
			t->table[i] = child | d.perms;
			break;
		case ELISA_EPT_LEAF_4K:
			rc = x->ops->pin_page(x->ops->ctx, d.gpa, (d.perms & ELISA_EPT_W) != 0, &hpa);
			if (rc)
				return rc;
			t->table[i] = hpa | leaf_bits(&d);
			break;
		case ELISA_EPT_LEAF_2M:
			rc = split_2m(x, &d, &child);
			if (rc)
				return rc;
			t->table[i] = child;
			break;
		}
	}
	*out_hpa = t->hpa;
	return 0;
}

int elisa_xlate_build(struct elisa_xlate *x, uint64_t root_gpa, uint64_t *root_hpa)
{
	x->ntables = 0;
	if (check_gpa_page(root_gpa, x->maxphyaddr))
		return -ELISA_E_ALIGN;
	return xlate_table(x, root_gpa, 4, root_hpa);
}

void elisa_xlate_release(struct elisa_xlate *x)
{
	unsigned int k;
	int i;

	for (k = 0; k < x->ntables; k++) {
		struct elisa_xlate_table *t = &x->tables[k];

		/* Only level-1 tables hold leaves (2 MiB leaves were split). */
		if (t->level == 1) {
			for (i = 0; i < 512; i++)
				if (t->table[i] & ELISA_EPT_RWX)
					x->ops->unpin_page(x->ops->ctx, t->table[i] & ELISA_EPT_ADDR);
		}
		x->ops->free_table(x->ops->ctx, t->table, t->hpa);
	}
	x->ntables = 0;
}
