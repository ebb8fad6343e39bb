/* elisa/kvm/bochs/layout.h - where kvmguest puts things in its VMs, shared
 * by the C side (kvmguest.c) and the guest code (guest_code.S), so plain
 * literals only (the assembler takes no C suffixes or casts).
 *
 * Two kinds of VM, each with its own RAM at guest-physical 0:
 *   manager VM (ELISA role 1): issues the hypercalls; its RAM also holds
 *     every page of the gate and sub contexts (the host pins those pages
 *     and maps them into the guest's contexts: MAP_CTX takes only manager
 *     memory, elisa/kvm/README.md "The manager's EPT");
 *   guest VMs (ELISA role 2): call through the gate.  Their own EPT (KVM's)
 *     is EPTP-list entry 0, the default context.
 */
#ifndef EKB_LAYOUT_H
#define EKB_LAYOUT_H

#define EKB_PAGE            0x1000

/* Every VM. */
#define EKB_MEM_SIZE        0x400000    /* 4 MiB of RAM at GPA 0 */
#define EKB_PT_GPA          0x1000      /* identity page table: PML4, PDPT, PD (3 pages) */
#define EKB_CODE_GPA        0x10000     /* guest_code.S's blob */
#define EKB_STACK_TOP       0x80000
#define EKB_PORT_REPORT     0x10        /* OUT here: "look at my registers" */

/* The gate block (vmfunc/testbed/gate.S, 3 pages): at the same GPA and VA
 * in every guest (the guest's page table maps VA = GPA).  In guest RAM
 * only the top and bottom pages hold code; the middle page there is int3
 * filler, since the default context must not offer the gate code. */
#define EKB_GATE_GPA        0x200000
#define EKB_GATE_VA         0x200000

/* The sub context, as the guest sees it there (GPAs outside guest RAM,
 * VAs in the host-made page table of the anywhere root). */
#define EKB_SUB_CODE_GPA    0x40000000
#define EKB_SUB_CODE_VA     0x40000000
#define EKB_SHARED_GPA      0x40010000
#define EKB_SHARED_VA       0x40010000
#define EKB_SUB_DATA_GPA    0x40020000  /* the sub context's stack */
#define EKB_SUB_DATA_VA     0x40020000
#define EKB_SUB_DATA_SIZE   0x2000
#define EKB_WINDOW_GPA      0x40100000  /* the host page table's pages */
#define EKB_WINDOW_PAGES    8

/* Manager RAM: where the pages behind those contexts live ("host
 * physical" addresses of the contexts = manager GPAs). */
#define EKB_MGR_POOL_GPA    0x100000    /* EPT and page-table pages for the builder */
#define EKB_MGR_POOL_PAGES  256
#define EKB_MGR_GATE_GPA    0x300000    /* the three gate pages */
#define EKB_MGR_SUB_CODE_GPA 0x304000
#define EKB_MGR_SUB_DATA_GPA 0x306000   /* 2 pages */
#define EKB_MGR_SHARED_GPA  0x308000
/* The default context vmf_elisa_build() also makes is never sent (entry 0
 * is KVM's own EPT of the guest); its "host" RAM range only has to stay
 * clear of the pool: put it beyond the manager's RAM. */
#define EKB_UNUSED_RAM_HPA  0x10000000

/* The shared page, as sub_entry (guest_code.S) writes it. */
#define EKB_SHARED_LAST_A1  0   /* offset: a1 of the last call */
#define EKB_SHARED_CALLS    8   /* offset: number of calls */
#define EKB_SHARED_LAST_A0  16  /* offset: a0 of the last call */
#define EKB_SUB_MAGIC       0x454c495341    /* "ELISA": sub_entry returns a0 ^ this */

#endif
