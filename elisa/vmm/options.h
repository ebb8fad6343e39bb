/* elisa/vmm/options.h - elisa-vmm's command line (vmm.c parses it; the
 * summary and the bench read it). */
#ifndef ELISA_VMM_OPTIONS_H
#define ELISA_VMM_OPTIONS_H

#include <stdint.h>

#include "vmm.h"

#define VMM_CPL_AUTO 0xffu

struct vmm_opts {
    uint32_t guests;
    int guests_given;
    const char *app_path;            /* NULL: the default next to the binary */
    const char *image_path;
    uint32_t frames, window, ring_slots;
    uint64_t seed;
    int bench;                       /* --bench nop */
    uint64_t calls, local_calls;
    uint32_t hostile[VMM_MAX_GUESTS];      /* enum elisa_vmm_hostile per guest */
    uint32_t corrupt_at[VMM_MAX_GUESTS];   /* ELISA_VMM_NO_CORRUPT or a frame index */
    uint32_t drop_at[VMM_MAX_GUESTS];      /* the same, for --drop */
    uint32_t timeout_s;
    uint32_t cpl;                    /* 0, 3 or VMM_CPL_AUTO (by the doorbell) */
    uint16_t doorbell;               /* standalone: ELISA_DOORBELL_MMIO or a port */
    uint32_t spins_per_yield, yield_limit;
    /* manager mode */
    const char *manager, *link_path;
    char *guest_names[VMM_MAX_GUESTS];
    uint64_t shared_size;
};

/* Role of each guest for pingpong, from the hostile settings: well-behaved
 * guests pair up in index order (sender, echoer). */
struct vmm_roles {
    uint32_t role[VMM_MAX_GUESTS];
    uint32_t peer[VMM_MAX_GUESTS];
};

const char *vmm_hostile_name(uint32_t kind);
/* 1 if a guest doing this is meant to be stopped by the VMM. */
int vmm_hostile_is_stopped(uint32_t kind);

/* summary.c: one line per guest, the totals; returns the exit status
 * (0 all checks passed, 1 otherwise). */
int vmm_summary_pingpong(const struct vmm_opts *o, struct vmm_vm *vms, uint32_t n, uint64_t wall_ns);
/* bench.c: the nop bench's numbers; returns the exit status. */
int vmm_summary_bench(const struct vmm_opts *o, struct vmm_vm *vms, uint32_t n);

#endif
