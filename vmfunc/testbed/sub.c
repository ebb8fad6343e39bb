/* vmfunc/testbed/sub.c - code that runs only in the sub context.
 *
 * Everything here is placed in the .elisa_sub section (linker.ld: pages of
 * its own), the only code the sub context's EPT maps besides the gate.  It
 * must not touch anything the sub context does not map: no calls out of
 * this file, no data but elisa_shared and its own stack (the compiler is
 * kept from making jump tables in .rodata by using if-chains; testbed.mk
 * checks the object's relocations). */
#include "sub.h"

#define SUB_TEXT __attribute__((section(".elisa_sub"), used, noinline))

volatile uint64_t elisa_shared[512] __attribute__((section(".elisa_shared"), aligned(4096)));
uint8_t elisa_sub_stack[2 * 4096] __attribute__((section(".elisa_sub_data"), aligned(4096)));
/* The real apps' memory (app_checks.c): the switch region after the
 * shared page, the envs after the stack.  Only the host writes the envs. */
uint8_t elisa_vmnet_region[TB_VMNET_REGION_PAGES * 4096] __attribute__((section(".elisa_shared.vmnet"), aligned(4096)));
struct elisa_sub_env elisa_sub_env_port[2] __attribute__((section(".elisa_sub_data"), aligned(64)));

SUB_TEXT uint64_t sub_entry(uint64_t op, uint64_t arg, const struct elisa_sub_env *env)
{
    (void)env;
    if (op == SUB_OP_SUM) {
        uint64_t sum = arg;
        for (unsigned i = 0; i < SHARED_WORDS; i++)
            sum += elisa_shared[i];
        return sum;
    }
    if (op == SUB_OP_FLAGS) {
        uint64_t flags;
        __asm__ volatile("pushfq; popq %0" : "=r"(flags));
        return flags;
    }
    if (op == SUB_OP_SPIN) {
        for (volatile uint64_t i = 0; i < arg; i++)
            ;
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return ((uint64_t)hi << 32) | lo;
    }
    return arg;
}

SUB_TEXT uint64_t sub_nop(uint64_t op, uint64_t arg, const struct elisa_sub_env *env)
{
    (void)env;
    (void)op;
    (void)arg;
    return 0;
}
