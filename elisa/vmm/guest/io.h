/* elisa/vmm/guest/io.h - the bare-metal guest's ways out: stores to
 * elisa-vmm's device page (CONTROL, CONSOLE; elisa/vmm/vmm_boot.h), the
 * bare port-I/O exit, polling with bounded idling, and a console for
 * one-line messages.  Stores, not OUTs, because the guest may run at
 * CPL 3, where this machine's PVM refuses port I/O. */
#ifndef ELISA_VMM_GUEST_IO_H
#define ELISA_VMM_GUEST_IO_H

#include <stdint.h>
#include "../vmm_boot.h"

static inline void io_out32(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void io_out8(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void cpu_pause(void)
{
    __asm__ volatile("pause" ::: "memory");
}

/* A store to the device page: an MMIO exit (the page has no memory). */
static inline void dev_store32(uint64_t off, uint32_t v)
{
    *(volatile uint32_t *)(ELISA_VMM_DEVICE_GPA + off) = v;
    __asm__ volatile("" ::: "memory");   /* everything before is written first */
}

static inline void dev_store8(uint64_t off, uint8_t v)
{
    *(volatile uint8_t *)(ELISA_VMM_DEVICE_GPA + off) = v;
    __asm__ volatile("" ::: "memory");
}

/* A CONTROL exit (enum elisa_vmm_ctl) with an argument. */
static inline void ctl(uint32_t code, uint32_t arg)
{
    __asm__ volatile("" ::: "memory");   /* e.g. the report page, before DONE */
    dev_store32(ELISA_VMM_DEV_CONTROL, (arg << 8) | code);
}

/* Console: the VMM prints each line prefixed with the guest's number. */
void con_str(const char *s);
void con_u64(uint64_t v);
void con_hex(uint64_t v);
void con_end(void);                      /* ends the line */

/* Waiting for a frame: spin (PAUSE) spins_per_yield times, then one YIELD
 * exit so that the VMM's thread gives its CPU to another vCPU (there are
 * more vCPUs than CPUs here).  poll_idle returns -1 after yield_limit
 * YIELDs in a row without progress: the caller then gives up (a lost
 * frame must end the test with a count, not hang it). */
struct poller {
    uint32_t spins, idle_yields;
    uint32_t spins_per_yield, yield_limit;
    uint64_t *yield_count;
};
void poll_init(struct poller *p, const struct elisa_vmm_boot *b, uint64_t *yield_count);
int poll_idle(struct poller *p);
void poll_progress(struct poller *p);

#endif
