/* vmfunc/testbed/idt.c - 64-bit IDT and TSS.
 *
 * IDT gate descriptors: Intel SDM Vol. 3A 7.14.1 "64-Bit Mode IDT" (figure
 * "64-Bit IDT Gate Descriptors"): 16 bytes, offset split in three,
 * selector, IST, type 0xE (interrupt gate: IF is cleared on entry), P.
 * TSS descriptor: Intel SDM Vol. 3A 8.2.3 "TSS Descriptor in 64-bit mode"
 * (16 bytes, type 9 = available 64-bit TSS); the 64-bit TSS layout is in
 * 8.7 "Task Management in 64-bit Mode".  (Vol. 3A chapter numbers of the
 * 2023 editions, like the VMX ones: see vmx.h.) */
#include "idt.h"

#include "console.h"

struct idt_entry {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
} __attribute__((packed));

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

extern const uint64_t isr_table[256];
extern uint64_t gdt_tss[2];
extern struct desc_ptr gdt_ptr64;

static struct idt_entry idt[256] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static uint8_t ist1_stack[16384] __attribute__((aligned(16)));
static trap_handler handlers[256];

void idt_set_handler(unsigned vector, trap_handler h)
{
    if (vector < 256)
        handlers[vector] = h;
}

uint64_t idt_base(void) { return (uint64_t)(uintptr_t)idt; }
uint16_t idt_limit(void) { return sizeof(idt) - 1; }
uint64_t tss_base(void) { return (uint64_t)(uintptr_t)&tss; }
uint32_t tss_limit(void) { return sizeof(tss) - 1; }

void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint64_t off = isr_table[v];
        idt[v].offset_lo = (uint16_t)off;
        idt[v].selector = 0x08;
        /* Double fault (8) and NMI (2) run on IST1 so a broken stack still
         * gets reported (Intel SDM Vol. 3A 7.14.5 "Interrupt Stack Table"). */
        idt[v].ist = (v == 8 || v == 2) ? 1 : 0;
        idt[v].type_attr = 0x8E;                /* P, DPL 0, 64-bit interrupt gate */
        idt[v].offset_mid = (uint16_t)(off >> 16);
        idt[v].offset_hi = (uint32_t)(off >> 32);
        idt[v].reserved = 0;
    }
    struct desc_ptr idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));

    tss.ist[0] = (uint64_t)(uintptr_t)(ist1_stack + sizeof(ist1_stack));
    tss.iomap_base = sizeof(tss);               /* no I/O permission bitmap */
    uint64_t base = (uint64_t)(uintptr_t)&tss;
    uint64_t limit = sizeof(tss) - 1;
    gdt_tss[0] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) |
                 ((uint64_t)0x89 << 40) |               /* P, DPL 0, type 9 */
                 (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt_tss[1] = base >> 32;
    __asm__ volatile("lgdt %0" : : "m"(gdt_ptr64));
    __asm__ volatile("ltr %w0" : : "r"(0x18));
}

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
    "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "res15",
    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "res22", "res23",
    "res24", "res25", "res26", "res27", "#HV", "#VC", "#SX", "res31",
};

void tb_trap(struct trap_frame *f);

void tb_trap(struct trap_frame *f)
{
    if (f->vector < 256 && handlers[f->vector]) {
        handlers[f->vector](f);
        return;
    }
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    tb_printf("FAIL unexpected-trap vector %lu (%s) error 0x%lx rip 0x%lx cs 0x%lx rflags 0x%lx rsp 0x%lx cr2 0x%lx\n",
              f->vector, f->vector < 32 ? exception_names[f->vector] : "irq", f->error, f->rip, f->cs,
              f->rflags, f->rsp, cr2);
    tb_shutdown();
}
