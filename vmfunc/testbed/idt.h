/* vmfunc/testbed/idt.h - the IDT, the TSS, and the trap frame. */
#ifndef TESTBED_IDT_H
#define TESTBED_IDT_H

#include <stdint.h>

/* What isr_common pushes, lowest address first, followed by what the CPU
 * pushed (Intel SDM Vol. 3A 7.14.2 "64-Bit Mode Stack Frame"). */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* A handler a test installs for one vector; without one, a trap prints a
 * FAIL line with the vector, error code and RIP and ends the run. */
typedef void (*trap_handler)(struct trap_frame *f);

void idt_init(void);
void idt_set_handler(unsigned vector, trap_handler h);
/* The loaded IDT's base and limit (the guest uses the same table). */
uint64_t idt_base(void);
uint16_t idt_limit(void);
/* The 64-bit TSS installed in the GDT at selector 0x18. */
uint64_t tss_base(void);
uint32_t tss_limit(void);

#endif
