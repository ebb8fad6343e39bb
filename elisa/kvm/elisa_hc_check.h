/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ELISA host hypercalls: the ABI and the argument checks.
 *
 * This file and elisa_hc_check.c are plain C with no kernel headers: the
 * same code is compiled into kvm-intel.ko (elisa/kvm/build.sh copies both
 * into arch/x86/kvm/vmx/) and into the user-space unit test
 * (tests/unit/test_elisa_hc.c), so every rejection rule is tested without a
 * host.  A manager VM or VMM may include this header for the numbers.
 *
 * Intel SDM references are to the 2023 edition, Vol. 3C: 29.3.2 "EPT
 * Translation Mechanism" (entry formats), 29.3.3.1 "EPT Misconfigurations",
 * 29.3.7 "EPT and Memory Typing", 25.6.11 "Extended-Page-Table Pointer
 * (EPTP)", 25.6.14 "VM-Function Controls", 26.5.5.3 "EPTP Switching".
 */
#ifndef ELISA_HC_CHECK_H
#define ELISA_HC_CHECK_H

#ifdef __KERNEL__
#include <linux/types.h>	/* uint64_t, uint32_t, bool: the kernel has no <stdint.h> */
#else
#include <stdbool.h>
#include <stdint.h>
#endif

#define ELISA_ABI_VERSION	1

/*
 * KVM_ENABLE_CAP on a VM fd, done by the VMM that owns the VM.  Chosen far
 * above upstream's KVM_CAP_* numbers (about 230 in 2024) so that it never
 * collides with one.  args[0] = role, args[1] = this VM's ELISA id,
 * args[2] = for a guest, the id of the one manager allowed to manage it
 * (0 for a manager), args[3] = 0.  Set once; a second call fails (EBUSY).
 */
#define ELISA_KVM_CAP		0x454c	/* "EL" */
#define ELISA_ROLE_NONE		0
#define ELISA_ROLE_MANAGER	1
#define ELISA_ROLE_GUEST	2
#define ELISA_ID_MAX		0xffffu	/* ids are 1..65535; 0 means none */

/*
 * Hypercalls: VMCALL from CPL 0 in 64-bit mode, number in RAX, arguments
 * in RBX, RCX, RDX, RSI (KVM's register convention), result in RAX: 0 or
 * a negative ELISA_E_* code.  Unused arguments must be 0.
 */
#define ELISA_HC_BASE		0x454c0000ull
#define ELISA_HC_LAST		(ELISA_HC_BASE + 0xff)	/* the range ELISA owns */
#define ELISA_HC_QUERY		(ELISA_HC_BASE + 0)	/* any ELISA VM */
#define ELISA_HC_MAP_CTX	(ELISA_HC_BASE + 1)	/* manager: vm, vcpu, index, root GPA */
#define ELISA_HC_UNMAP_CTX	(ELISA_HC_BASE + 2)	/* manager: vm, vcpu, index */
#define ELISA_HC_ENABLE		(ELISA_HC_BASE + 3)	/* manager: vm, vcpu */
#define ELISA_HC_DISABLE	(ELISA_HC_BASE + 4)	/* manager: vm, vcpu */
#define ELISA_HC_TEARDOWN	(ELISA_HC_BASE + 5)	/* manager: vm, vcpu or ELISA_VCPU_ALL */

#define ELISA_VCPU_ALL		0xffffffffull	/* TEARDOWN only: every vCPU of the VM */

/* Error codes; RAX holds their negation. */
#define ELISA_OK		0
#define ELISA_E_NOSYS		1	/* unknown number in ELISA's range */
#define ELISA_E_PERM		2	/* caller is not a manager, CPL != 0, not 64-bit mode */
#define ELISA_E_INVAL		3	/* a reserved argument is not 0 */
#define ELISA_E_NOVM		4	/* no such VM, or not managed by the caller */
#define ELISA_E_NOVCPU		5	/* no such vCPU in the target VM */
#define ELISA_E_INDEX		6	/* EPTP-list index not in 1..511 (0 is the host's) */
#define ELISA_E_ALIGN		7	/* root GPA not 4 KiB aligned or beyond MAXPHYADDR */
#define ELISA_E_OWNER		8	/* a GPA is not in the manager's own memory */
#define ELISA_E_EPT		9	/* an EPT entry is malformed or unsupported */
#define ELISA_E_NOMEM		10	/* host memory or a per-vCPU limit exhausted */
#define ELISA_E_NOTSUP		11	/* no VMFUNC EPTP switching on this host */

/* ELISA_HC_QUERY's results besides RAX = 0. */
#define ELISA_FEAT_EPTP_SWITCHING	(1u << 0)	/* always set when the cap exists */
#define ELISA_FEAT_EXEC_ONLY		(1u << 1)	/* execute-only leaves accepted */
#define ELISA_FEAT_LEAF_2M		(1u << 2)	/* 2 MiB leaves accepted (split) */
/* RBX = ELISA_ABI_VERSION, RCX = ELISA_FEAT_*, RDX = role << 16 | own id,
 * RSI = ELISA_MAX_TABLES_PER_CTX << 32 | ELISA_MAX_PAGES_PER_VCPU. */

#define ELISA_LIST_ENTRIES	512	/* 25.6.14: the EPTP list is one 4 KiB page of 512 EPTPs */
#define ELISA_MAX_TABLES_PER_CTX 128u	/* host pages one context may use */
#define ELISA_MAX_PAGES_PER_VCPU 1024u	/* host pages all contexts of a vCPU may use */

/* --- checks of the hypercall registers --------------------------------- */

struct elisa_hc_req {
	uint64_t nr;			/* RAX */
	uint64_t a0, a1, a2, a3;	/* RBX, RCX, RDX, RSI */
};

/* What the host knows about the caller. */
struct elisa_hc_env {
	unsigned int role;		/* ELISA_ROLE_* of the calling VM */
	unsigned int cpl;		/* current privilege level of the caller */
	bool long_mode;			/* caller in 64-bit mode */
	uint32_t max_vcpu_ids;		/* KVM_MAX_VCPU_IDS: vCPU ids are below it */
	unsigned int maxphyaddr;	/* the manager's guest-physical width */
};

/* True when nr is in ELISA's range (the host then owns the call). */
bool elisa_hc_is_elisa(uint64_t nr);

/* 0, or -ELISA_E_* for the first rule the request breaks. */
int elisa_hc_check(const struct elisa_hc_req *req, const struct elisa_hc_env *env);

/* KVM_ENABLE_CAP arguments: 0 or -ELISA_E_INVAL. */
struct elisa_cap_args {
	unsigned int role;
	uint32_t id;
	uint32_t manager_id;
};
int elisa_cap_check(uint32_t flags, const uint64_t args[4], struct elisa_cap_args *out);

/* --- EPT entries made by the manager ------------------------------------ */

/*
 * The manager writes its EPT in its own memory with ITS guest-physical
 * addresses where hardware expects host-physical ones (it never learns a
 * host address).  The host copies each table, checks each entry and
 * replaces each address by the host-physical one: the tables the CPU walks
 * are host pages the manager cannot write.
 */
#define ELISA_EPT_R		(1ull << 0)
#define ELISA_EPT_W		(1ull << 1)
#define ELISA_EPT_X		(1ull << 2)
#define ELISA_EPT_RWX		(ELISA_EPT_R | ELISA_EPT_W | ELISA_EPT_X)
#define ELISA_EPT_MT_SHIFT	3
#define ELISA_EPT_MT_WB		6ull
#define ELISA_EPT_IPAT		(1ull << 6)
#define ELISA_EPT_PS		(1ull << 7)
#define ELISA_EPT_ADDR		0x000ffffffffff000ull	/* bits 51:12 */

enum elisa_ept_kind {
	ELISA_EPT_NONE,		/* not present (bits 2:0 are 0) */
	ELISA_EPT_TABLE,	/* points to the next-level table */
	ELISA_EPT_LEAF_4K,	/* maps a 4 KiB page (level 1) */
	ELISA_EPT_LEAF_2M,	/* maps a 2 MiB page (level 2, bit 7) */
};

struct elisa_ept_entry {
	enum elisa_ept_kind kind;
	uint64_t gpa;		/* manager GPA of the table or page */
	uint64_t perms;		/* bits 2:0 */
	uint64_t ipat;		/* ELISA_EPT_IPAT or 0 (leaves) */
};

/* level 4 = PML4 .. 1 = PT.  0, or -ELISA_E_EPT / -ELISA_E_INVAL. */
int elisa_ept_entry_check(uint64_t e, int level, unsigned int maxphyaddr, bool exec_only,
			  struct elisa_ept_entry *out);

/* EPTP of a host-made context: WB, 4-level walk, no A/D (25.6.11). */
uint64_t elisa_ctx_eptp(uint64_t root_hpa);

/* --- translation of a whole EPT ----------------------------------------- */

struct elisa_xlate_ops {
	/* Copy the 4 KiB page at manager GPA gpa; 0 or -ELISA_E_OWNER. */
	int (*read_table)(void *ctx, uint64_t gpa, uint64_t *buf);
	/* A zeroed host page for a table: pointer and host-physical address, NULL = none. */
	uint64_t *(*alloc_table)(void *ctx, uint64_t *hpa);
	void (*free_table)(void *ctx, uint64_t *table, uint64_t hpa);
	/* Pin the manager page at gpa (writable: the leaf grants W); 0 or -ELISA_E_OWNER. */
	int (*pin_page)(void *ctx, uint64_t gpa, bool writable, uint64_t *hpa);
	void (*unpin_page)(void *ctx, uint64_t hpa);
	void *ctx;
};

#define ELISA_NO_GPA	(~0ull)	/* a table split from a 2 MiB leaf has no source page */

struct elisa_xlate_table {
	uint64_t src_gpa;	/* the manager's table page, or ELISA_NO_GPA */
	int level;
	uint64_t *table;	/* the host copy the CPU walks */
	uint64_t hpa;
};

struct elisa_xlate {
	const struct elisa_xlate_ops *ops;
	struct elisa_xlate_table *tables;	/* caller's array of max_tables */
	unsigned int ntables, max_tables;
	uint64_t (*scratch)[512];		/* caller's 4 pages: one source copy per level */
	unsigned int maxphyaddr;
	bool exec_only;
};

/*
 * Translate the manager's 4-level EPT rooted at root_gpa.  Each source
 * table is copied once (shared tables stay shared: the anywhere page table
 * points 512 entries at one table); a page used at two levels is refused.
 * On success *root_hpa is the host copy's root.  On failure everything made
 * so far is still listed in x->tables: call elisa_xlate_release().
 */
int elisa_xlate_build(struct elisa_xlate *x, uint64_t root_gpa, uint64_t *root_hpa);

/* Unpin every page the level-1 tables map, free every table, ntables = 0. */
void elisa_xlate_release(struct elisa_xlate *x);

#endif /* ELISA_HC_CHECK_H */
