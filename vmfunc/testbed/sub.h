/* vmfunc/testbed/sub.h - the sub context of the testbed: its entry point
 * (called by gate.S in the sub context), its operations, and the memory
 * only the sub context maps. */
#ifndef TESTBED_SUB_H
#define TESTBED_SUB_H

#include <stdint.h>

#include "app.h"

#define SUB_OP_NOP    0   /* returns arg */
#define SUB_OP_SUM    1   /* returns arg + the sum of shared[0..SHARED_WORDS) */
#define SUB_OP_FLAGS  2   /* returns RFLAGS as seen in the sub context */
#define SUB_OP_SPIN   3   /* spins arg iterations, returns RDTSC at the end */

#define SHARED_WORDS  64

/* The gate calls every sub function as an app entry (app.h): these two
 * ignore the env. */
uint64_t sub_entry(uint64_t op, uint64_t arg, const struct elisa_sub_env *env);
/* Two instructions (xor, ret): the sub function of the round-trip count. */
uint64_t sub_nop(uint64_t op, uint64_t arg, const struct elisa_sub_env *env);

extern volatile uint64_t elisa_shared[512];        /* one page, .elisa_shared */
extern uint8_t elisa_sub_stack[2 * 4096];          /* .elisa_sub_data */

/* The real apps (app_checks.c): the vmnet region in the shared memory, the
 * vCPU's env in sub-private data (one per port: the testbed's one vCPU
 * plays the guest of port 0, then of port 1). */
#define TB_VMNET_REGION_PAGES 68
extern uint8_t elisa_vmnet_region[TB_VMNET_REGION_PAGES * 4096];   /* .elisa_shared */
extern struct elisa_sub_env elisa_sub_env_port[2];                 /* .elisa_sub_data */

#endif
