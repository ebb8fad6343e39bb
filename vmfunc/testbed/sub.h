/* vmfunc/testbed/sub.h - the sub context of the testbed: its entry point
 * (called by gate.S in the sub context), its operations, and the memory
 * only the sub context maps. */
#ifndef TESTBED_SUB_H
#define TESTBED_SUB_H

#include <stdint.h>

#define SUB_OP_NOP    0   /* returns arg */
#define SUB_OP_SUM    1   /* returns arg + the sum of shared[0..SHARED_WORDS) */
#define SUB_OP_FLAGS  2   /* returns RFLAGS as seen in the sub context */
#define SUB_OP_SPIN   3   /* spins arg iterations, returns RDTSC at the end */

#define SHARED_WORDS  64

uint64_t sub_entry(uint64_t op, uint64_t arg);
/* Two instructions (xor, ret): the sub function of the round-trip count. */
uint64_t sub_nop(uint64_t op, uint64_t arg);

extern volatile uint64_t elisa_shared[512];        /* one page, .elisa_shared */
extern uint8_t elisa_sub_stack[2 * 4096];          /* .elisa_sub_data */

#endif
