/* vmfunc/testbed/main.c - the testbed: boot checks, VMX bring-up, then the
 * VMFUNC/ELISA checks.  Every check prints one "PASS name ..." or "FAIL
 * name ..." line; INFO lines carry measurements; the last line is "END". */
#include <stdbool.h>
#include <stdint.h>

#include "caps.h"
#include "console.h"
#include "elisa_ctx.h"
#include "ept.h"
#include "eptp.h"
#include "hc.h"
#include "idt.h"
#include "mem.h"
#include "sub.h"
#include "tb_vmcs.h"
#include "testbed.h"
#include "vmx.h"

/* Guest RAM: guest-physical 0-16 MiB, identity-mapped to host-physical
 * 0-16 MiB (it holds this image: the guest runs the testbed's own code).
 * Every VMX structure (VMXON region, VMCS, EPTs, EPTP list, the anywhere
 * tables) comes from the pool at 16-48 MiB (mem.c), outside guest RAM. */
#define GUEST_MEM_SIZE (16ULL << 20)

void testbed_main(uint32_t magic, uint64_t mbi);
void guest_vmcall_test(void);

/* guest.S (the gate's declarations are in testbed.h) */
void guest_vmfunc_index_512(void), guest_vmfunc_index_empty(void), guest_vmfunc_leaf1(void);
extern char guest_vmfunc_index_512_site[], guest_vmfunc_index_empty_site[], guest_vmfunc_leaf1_site[];
void guest_jump_into_middle(void), guest_vmfunc_gate_elsewhere(void);
extern char guest_vmfunc_gate_elsewhere_site[];
uint64_t guest_count_nop100(void), guest_count_elisa(void), guest_count_vmcall(void);
/* linker.ld */
extern char _elisa_sub_start[], _elisa_sub_end[], _elisa_sub_data_start[], _elisa_sub_data_end[];
extern char _elisa_shared_start[], _elisa_shared_end[];

/* gate.S hard-codes the EPTP-list indexes. */

unsigned failures;

/* ---- the library's page allocator: identity, from the testbed pool ---- */
static void *alloc_page(void *ctx, uint64_t *phys)
{
    (void)ctx;
    void *p = page_alloc();
    if (p)
        *phys = (uint64_t)(uintptr_t)p;
    return p;
}

static void *alloc_virt(void *ctx, uint64_t phys)
{
    (void)ctx;
    return (void *)(uintptr_t)phys;
}

static const struct vmf_alloc tb_alloc = { alloc_page, alloc_virt, NULL };

/* ---- boot -------------------------------------------------------------- */
static volatile uint64_t bp_rip;

static void on_breakpoint(struct trap_frame *f)
{
    bp_rip = f->rip;
}

static void test_boot(uint32_t magic)
{
    CHECK(magic == 0x2BADB002, "boot-multiboot", "magic 0x%x\n", magic);
    uint64_t efer = rdmsr(MSR_IA32_EFER);
    CHECK((efer & (1u << 10)) && (READ_CR(0) & (1ULL << 31)), "boot-long-mode", "EFER 0x%lx CR0 0x%lx CR4 0x%lx\n",
          efer, READ_CR(0), READ_CR(4));
    /* The IDT works: int3 reaches our handler, which returns. */
    idt_set_handler(3, on_breakpoint);
    __asm__ volatile("int3");
    idt_set_handler(3, 0);
    CHECK(bp_rip != 0, "boot-idt", "int3 handled, return rip 0x%lx\n", bp_rip);
}

/* ---- VMX bring-up ------------------------------------------------------ */
static struct vmf_ept ident_ept;
static uint64_t ident_eptp;
/* The guest's stack: in guest RAM (the image's .bss), mapped in the
 * default context only. */
static uint8_t guest_stack[16384] __attribute__((aligned(16)));
static uint8_t *const guest_stack_top = guest_stack + sizeof(guest_stack);

static bool test_vmx_bringup(void)
{
    if (!vmx_enable()) {
        failures++;
        return false;
    }
    /* The capability checks of vmfunc/caps.h (Appendix A.3.2, A.3.3, A.10,
     * A.11), reading only the MSRs that exist. */
    struct vmf_vmx_msrs m = { 0 };
    m.procbased_ctls = rdmsr(vmx.true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED : MSR_IA32_VMX_PROCBASED_CTLS);
    unsigned readable = vmf_caps_readable(m.procbased_ctls, 0);
    if (readable & VMF_READ_CTLS2)
        m.procbased_ctls2 = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2);
    readable = vmf_caps_readable(m.procbased_ctls, m.procbased_ctls2);
    if (readable & VMF_READ_EPT_CAP)
        m.ept_vpid_cap = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
    if (readable & VMF_READ_VMFUNC)
        m.vmfunc = rdmsr(MSR_IA32_VMX_VMFUNC);
    vmx.ept_cap = m.ept_vpid_cap;
    vmx.vmfunc_cap = m.vmfunc;
    unsigned missing = vmf_caps_missing(&m);
    char why[128];
    CHECK(missing == 0, "vmx-caps-eptp-switching", "EPT, 4-level WB, enable VM functions, EPTP switching%s%s "
          "(PROCBASED_CTLS2 0x%lx EPT_VPID_CAP 0x%lx VMFUNC 0x%lx)\n", missing ? "; missing: " : "",
          vmf_caps_describe(missing, why, sizeof(why)), m.procbased_ctls2, m.ept_vpid_cap, m.vmfunc);
    int rc = vmf_ept_init(&ident_ept, &tb_alloc);
    if (rc == VMF_OK)
        rc = vmf_ept_map(&ident_ept, 0, 0, GUEST_MEM_SIZE, VMF_EPT_RWX, VMF_MT_WB, VMF_MAP_NO_1G);
    CHECK(rc == VMF_OK, "ept-identity", "guest-physical 0-%lu MiB -> host-physical, RWX WB, %u table pages (%s)\n",
          (uint64_t)(GUEST_MEM_SIZE >> 20), ident_ept.pages, vmf_strerror(rc));
    if (rc != VMF_OK)
        return false;
    /* 25.6.11 "Extended-Page-Table Pointer (EPTP)": WB paging structures,
     * 4-level walk, no A/D; checked against IA32_VMX_EPT_VPID_CAP (A.10). */
    ident_eptp = vmf_eptp_make(ident_ept.pml4, VMF_MT_WB, 4, false);
    unsigned bad = vmf_eptp_check(ident_eptp, rdmsr(MSR_IA32_VMX_EPT_VPID_CAP), 52);
    if (bad) {
        char why[96];
        tb_printf("FAIL eptp-valid 0x%lx: %s\n", ident_eptp, vmf_eptp_describe(bad, why, sizeof(why)));
        failures++;
        return false;
    }
    if (!vmx_setup_vmcs(ident_eptp, false)) {
        failures++;
        return false;
    }

    struct vmx_exit e;
    if (!vmx_run((uint64_t)(uintptr_t)guest_vmcall_test, (uint64_t)(uintptr_t)guest_stack_top, &e)) {
        failures++;
        return false;
    }
    bool ok = EXIT_REASON_BASIC(e.reason) == VMX_EXIT_VMCALL && vmx.regs.rax == HC_PING && vmx.regs.rbx == 0x1234;
    CHECK(ok, "vmlaunch-vmcall", "exit reason %u (%s) rax 0x%lx rbx 0x%lx guest-rip 0x%lx length %u\n",
          EXIT_REASON_BASIC(e.reason), vmx_exit_name(EXIT_REASON_BASIC(e.reason)), vmx.regs.rax, vmx.regs.rbx,
          e.guest_rip, e.instruction_length);
    if (!ok) {
        vmx_print_exit("INFO", &e);
        return false;
    }
    vmx.regs.rbx++;
    vmx_skip_instruction(&e);
    if (!vmx_resume(&e)) {
        failures++;
        return false;
    }
    ok = EXIT_REASON_BASIC(e.reason) == VMX_EXIT_VMCALL && vmx.regs.rax == HC_DONE && vmx.regs.rbx == 0x1235;
    CHECK(ok, "vmresume", "second VMCALL after VMRESUME: rax 0x%lx rbx 0x%lx (expected 0x1235)\n", vmx.regs.rax,
          vmx.regs.rbx);
    if (!ok)
        vmx_print_exit("INFO", &e);
    return ok;
}

/* ======================================================================
 * VMFUNC / ELISA
 * ====================================================================== */
struct vmf_elisa elisa;

/* ---- guest side (runs in VMX non-root operation, default context) ----
 * Guest routines are entered by the host with RIP = the routine, RSP = the
 * guest stack, and end with guest_done(): VMCALL HC_DONE, result in RBX.
 * Results that do not fit go to guest_out (ordinary guest RAM, which the
 * host reads after the exit: physical = virtual here). */
static volatile struct {
    uint64_t a, b, c, d;
} guest_out;

__attribute__((noreturn)) void guest_done(uint64_t result)
{
    __asm__ volatile("vmcall" : : "a"((uint64_t)HC_DONE), "b"(result) : "memory");
    for (;;)
        __asm__ volatile("ud2");
}

#define ROUND_TRIPS 1000

void guest_elisa_once(void);
void guest_elisa_many(void);
void guest_read_shared(void);
void guest_write_shared(void);
void guest_read_sub_stack(void);
void guest_if_check(void);
void guest_timer_test(void);
void guest_counts(void);

void guest_elisa_once(void)
{
    guest_done(elisa_gate_call(SUB_OP_SUM, 7));
}

void guest_elisa_many(void)
{
    uint64_t acc = 0;
    for (uint64_t i = 0; i < ROUND_TRIPS; i++)
        acc += elisa_gate_call(SUB_OP_SUM, i);
    guest_done(acc);
}

void guest_read_shared(void)
{
    guest_done(elisa_shared[5]);            /* EPT violation expected */
}

void guest_write_shared(void)
{
    elisa_shared[6] = 0x5555;               /* EPT violation expected */
    guest_done(0xBAD);
}

void guest_read_sub_stack(void)
{
    guest_done(*(volatile uint64_t *)&elisa_sub_stack[64]);   /* EPT violation expected */
}

void guest_if_check(void)
{
    uint64_t before, after;
    __asm__ volatile("sti; pushfq; popq %0" : "=r"(before));
    guest_out.a = elisa_gate_call(SUB_OP_FLAGS, 0);
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(after));
    guest_out.b = before;
    guest_out.c = after;
    guest_done(0);
}

/* The local APIC (Intel SDM Vol. 3A 11.4.1 "The Local APIC Block
 * Diagram", register table "Local APIC Register Address Map"), reached by
 * the guest through its identity mapping and an EPT entry of the default
 * context (UC) that test_elisa adds. */
#define LAPIC_BASE       0xFEE00000ULL
#define LAPIC_EOI        0x0B0
#define LAPIC_SVR        0x0F0
#define LAPIC_LVT_TIMER  0x320
#define LAPIC_TIMER_ICR  0x380
#define LAPIC_TIMER_CCR  0x390
#define LAPIC_TIMER_DCR  0x3E0
#define TIMER_VECTOR     0x40
#define TIMER_COUNT      5000        /* timer ticks until the interrupt */
#define SUB_SPIN         20000       /* iterations of the sub context's loop */

static inline void lapic_write(unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg) = v;
}

static inline uint32_t lapic_read(unsigned reg)
{
    return *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg);
}

static volatile uint64_t timer_hits, timer_rip, timer_tsc;

static void on_timer(struct trap_frame *f)
{
    timer_hits++;
    timer_rip = f->rip;
    timer_tsc = rdtsc();
    lapic_write(LAPIC_EOI, 0);
}

void guest_timer_test(void)
{
    /* 11.5.4 "APIC Timer": divide by 1, one-shot, vector TIMER_VECTOR;
     * 11.9 "Spurious Interrupt": SVR bit 8 software-enables the APIC. */
    lapic_write(LAPIC_SVR, 0x1FF);
    lapic_write(LAPIC_TIMER_DCR, 0xB);

    /* Calibration, IF = 0 and the timer masked (LVT bit 16): how many TSC
     * ticks does a count of TIMER_COUNT last? */
    lapic_write(LAPIC_LVT_TIMER, (1u << 16) | TIMER_VECTOR);
    uint64_t t0 = rdtsc();
    lapic_write(LAPIC_TIMER_ICR, TIMER_COUNT);
    while (lapic_read(LAPIC_TIMER_CCR) != 0)
        ;
    guest_out.d = rdtsc() - t0;

    lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR);
    timer_hits = 0;
    __asm__ volatile("sti");
    uint64_t armed = rdtsc();
    lapic_write(LAPIC_TIMER_ICR, TIMER_COUNT);
    /* The timer expires while the sub context spins with IF = 0; the
     * interrupt must wait until the gate's POPFQ in the bottom page. */
    uint64_t sub_end = elisa_gate_call(SUB_OP_SPIN, SUB_SPIN);
    uint64_t hits_at_return = timer_hits;
    __asm__ volatile("cli");
    guest_out.a = armed;
    guest_out.b = sub_end;
    guest_out.c = hits_at_return;
    guest_done(0);
}

static volatile uint64_t count_empty, count_nop100, count_elisa, count_vmcall;

void guest_counts(void)
{
    count_empty = guest_count_empty();
    count_nop100 = guest_count_nop100();
    count_elisa = guest_count_elisa();
    count_vmcall = guest_count_vmcall();
    guest_done(0);
}

/* ---- host side --------------------------------------------------------- */
static uint64_t guest_rsp(void)
{
    /* Entered like a function: RSP + 8 aligned to 16 (SysV). */
    return (uint64_t)(uintptr_t)guest_stack_top - 8;
}

elisa_app_fn tb_exit_app;
const struct elisa_sub_env *tb_exit_env;

/* Run a guest routine in the default context until an exit other than
 * HC_NOP (answered by resuming: the VMCALL round trip) or HC_APP (the
 * exit-based app call: the host runs the app with the guest's RDI and RSI,
 * as the elisa/vmm fallback does, and resumes with the result in RAX). */
bool run_guest(void (*fn)(void), struct vmx_exit *e)
{
    vmcs_write(VMCS_EPT_POINTER, elisa.eptp[VMF_CTX_DEFAULT]);
    vmcs_write(VMCS_GUEST_ACTIVITY_STATE, 0);
    vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, 0);
    if (!vmx_run((uint64_t)(uintptr_t)fn, guest_rsp(), e))
        return false;
    for (;;) {
        bool vmcall = EXIT_REASON_BASIC(e->reason) == VMX_EXIT_VMCALL;
        if (vmcall && vmx.regs.rax == HC_NOP) {
            vmx_skip_instruction(e);
        } else if (vmcall && vmx.regs.rax == HC_APP) {
            vmx.regs.rax = tb_exit_app ? tb_exit_app(vmx.regs.rdi, vmx.regs.rsi, tb_exit_env) : ELISA_APP_ENOFN;
            vmx_skip_instruction(e);
        } else {
            return true;
        }
        if (!vmx_resume(e))
            return false;
    }
}

bool is_done(const struct vmx_exit *e)
{
    return EXIT_REASON_BASIC(e->reason) == VMX_EXIT_VMCALL && vmx.regs.rax == HC_DONE;
}

static uint64_t expected_sum(uint64_t arg)
{
    uint64_t s = arg;
    for (unsigned i = 0; i < SHARED_WORDS; i++)
        s += elisa_shared[i];
    return s;
}

/* An EPT violation exit at `gpa' whose qualification has the access bits
 * `access' (28.2.1 "Basic VM-Exit Information", table "Exit Qualification
 * for EPT Violations": bit 0 read, 1 write, 2 instruction fetch; bits 3-5
 * the permissions the translation had: 0 = not present in this context;
 * bit 7 "guest linear-address field valid", bit 8 "the access was to the
 * translation of a linear address" rather than to a paging structure). */
void check_ept_violation(const char *name, const struct vmx_exit *e, uint64_t gpa, uint64_t access,
                         uint64_t rip_lo, uint64_t rip_hi)
{
    uint64_t q = e->qualification;
    bool ok = EXIT_REASON_BASIC(e->reason) == VMX_EXIT_EPT_VIOLATION && e->guest_physical == gpa &&
              (q & 7) == access && (q & 0x38) == 0 && (q & (1u << 7)) && (q & (1u << 8)) &&
              e->guest_linear == gpa && e->guest_rip >= rip_lo && e->guest_rip < rip_hi;
    if (ok) {
        tb_printf("PASS %s exit reason 48 (EPT violation) guest-physical 0x%lx guest-linear 0x%lx qualification 0x%lx "
                  "(%s%s%s, not present in the default context) guest-rip 0x%lx\n",
                  name, e->guest_physical, e->guest_linear, q, (q & 1) ? "read" : "", (q & 2) ? "write" : "",
                  (q & 4) ? "fetch" : "", e->guest_rip);
    } else {
        failures++;
        tb_printf("FAIL %s expected EPT violation at 0x%lx access 0x%lx, got:", name, gpa, access);
        vmx_print_exit("", e);
    }
}

static void check_vmfunc_exit(const char *name, void (*fn)(void), const char *site, const char *what)
{
    struct vmx_exit e;
    if (!run_guest(fn, &e)) {
        failures++;
        return;
    }
    uint64_t eptp_now = vmcs_read(VMCS_EPT_POINTER);
    bool ok = EXIT_REASON_BASIC(e.reason) == VMX_EXIT_VMFUNC && e.guest_rip == (uint64_t)(uintptr_t)site &&
              eptp_now == elisa.eptp[VMF_CTX_DEFAULT];
    if (ok) {
        tb_printf("PASS %s %s: exit reason 59 (VMFUNC) at guest-rip 0x%lx (the VMFUNC), EPTP unchanged 0x%lx\n",
                  name, what, e.guest_rip, eptp_now);
    } else {
        failures++;
        tb_printf("FAIL %s %s: expected exit 59 at 0x%lx, EPTP 0x%lx now 0x%lx; got:", name, what,
                  (uint64_t)(uintptr_t)site, elisa.eptp[VMF_CTX_DEFAULT], eptp_now);
        vmx_print_exit("", &e);
    }
}

static void test_elisa(void)
{
    struct vmx_exit e;

    /* -- the contexts, built by the library ------------------------------ */
    uint64_t gate = (uint64_t)(uintptr_t)elisa_gate_top;
    struct vmf_elisa_layout l = { 0 };
    l.ram_gpa = 0;
    l.ram_hpa = 0;
    l.ram_size = GUEST_MEM_SIZE;
    l.gate_gpa = l.gate_va = gate;
    for (unsigned i = 0; i < VMF_GATE_PAGES; i++)
        l.gate_hpa[i] = gate + i * PAGE_SIZE;
    l.sub_code_gpa = l.sub_code_hpa = l.sub_code_va = (uint64_t)(uintptr_t)_elisa_sub_start;
    l.sub_code_size = (uint64_t)(_elisa_sub_end - _elisa_sub_start);
    l.shared_gpa = l.shared_hpa = l.shared_va = (uint64_t)(uintptr_t)_elisa_shared_start;
    l.shared_size = (uint64_t)(_elisa_shared_end - _elisa_shared_start);
    l.sub_data_gpa = l.sub_data_hpa = l.sub_data_va = (uint64_t)(uintptr_t)_elisa_sub_data_start;
    l.sub_data_size = (uint64_t)(_elisa_sub_data_end - _elisa_sub_data_start);
    l.pt_gpa = 1ULL << 30;              /* the page-table window: outside guest RAM */
    l.pt_pages = 16;
    l.map_flags = vmf_caps_map_flags(vmx.ept_cap);
    int rc = vmf_elisa_build(&elisa, &tb_alloc, &l);
    /* The guest programs its local APIC timer (interrupt check below). */
    if (rc == VMF_OK)
        rc = vmf_ept_map(&elisa.ctx[VMF_CTX_DEFAULT], LAPIC_BASE, LAPIC_BASE, PAGE_SIZE, VMF_EPT_R | VMF_EPT_W,
                         VMF_MT_UC, 0);
    /* The real apps' vmnet region: its port areas are the guest's (default
     * context), the rest stays the sub context's. */
    if (rc == VMF_OK && apps_layout(l.map_flags) != 0)
        rc = VMF_EINVAL;
    CHECK(rc == VMF_OK, "elisa-contexts", "default/gate/sub EPTPs 0x%lx 0x%lx 0x%lx, EPTP list 0x%lx, anywhere root "
          "0x%lx, gate 0x%lx, sub code 0x%lx+%lu, sub data 0x%lx+%lu, shared 0x%lx+%lu (%s)\n",
          elisa.eptp[0], elisa.eptp[1], elisa.eptp[2], elisa.list.phys, elisa.root_hpa, gate, l.sub_code_gpa,
          l.sub_code_size, l.sub_data_gpa, l.sub_data_size, l.shared_gpa, l.shared_size, vmf_strerror(rc));
    if (rc != VMF_OK)
        return;

    /* -- VMCS: EPTP switching on ---------------------------------------- */
    /* 25.6.2 secondary control "enable VM functions" (bit 13), 25.6.14
     * "VM-Function Controls": bit 0 EPTP switching, and the EPTP-list
     * address; 27.2.1.1 "VM-Execution Control Fields" checks both at VM
     * entry (the list address 4 KiB aligned, EPTP switching allowed by
     * IA32_VMX_VMFUNC, A.11). */
    bool ok = vmx_setup_vmcs(elisa.eptp[VMF_CTX_DEFAULT], true);
    ok = ok && vmcs_write(VMCS_VM_FUNCTION_CONTROLS, VMX_VMFUNC_EPTP_SWITCHING);
    ok = ok && vmcs_write(VMCS_EPTP_LIST_ADDRESS, elisa.list.phys);
    CHECK(ok, "vmfunc-enabled", "secondary controls 0x%x, VM-function controls 0x%llx, EPTP list 0x%lx\n", vmx.proc2,
          VMX_VMFUNC_EPTP_SWITCHING, elisa.list.phys);
    if (!ok)
        return;

    /* The gate's three variables, written through the host's mapping. */
    elisa_gate_sub_entry = (uint64_t)(uintptr_t)sub_entry;
    elisa_gate_sub_stack = (uint64_t)(uintptr_t)(elisa_sub_stack + sizeof(elisa_sub_stack));
    elisa_gate_sub_env = (uint64_t)(uintptr_t)&elisa_sub_env_port[0];
    for (unsigned i = 0; i < SHARED_WORDS; i++)
        elisa_shared[i] = 1000 + i * i;

    /* -- 1. the round trip returns the sub context's value ---------------- */
    uint64_t before = vmx.exits;
    if (!run_guest(guest_elisa_once, &e))
        goto entry_failed;
    uint64_t want = expected_sum(7);
    ok = is_done(&e) && vmx.regs.rbx == want;
    CHECK(ok, "elisa-round-trip-value", "default -> gate -> sub -> default returned %lu, expected %lu (7 + sum of "
          "%u shared words, read in the sub context)\n", vmx.regs.rbx, want, SHARED_WORDS);
    if (!is_done(&e))
        vmx_print_exit("INFO", &e);

    /* -- 2. no VM exit during the switches ------------------------------ */
    before = vmx.exits;
    if (!run_guest(guest_elisa_many, &e))
        goto entry_failed;
    uint64_t exits = vmx.exits - before;
    want = 0;
    for (uint64_t i = 0; i < ROUND_TRIPS; i++)
        want += expected_sum(i);
    ok = is_done(&e) && exits == 1 && vmx.regs.rbx == want;
    CHECK(ok, "elisa-no-exits", "%u round trips (%u VMFUNCs) took %lu VM exit(s) in all, the final HC_DONE "
          "VMCALL included (expected 1); results %s\n", ROUND_TRIPS, 3 * ROUND_TRIPS, exits,
          vmx.regs.rbx == want ? "all right" : "WRONG");
    if (!is_done(&e))
        vmx_print_exit("INFO", &e);

    /* -- 3. the default context cannot reach the sub context's memory ---- */
    uint64_t shared = (uint64_t)(uintptr_t)_elisa_shared_start;
    if (!run_guest(guest_read_shared, &e))
        goto entry_failed;
    check_ept_violation("elisa-isolation-read-shared", &e, shared + 5 * 8, 1,
                        (uint64_t)(uintptr_t)guest_read_shared, (uint64_t)(uintptr_t)guest_read_shared + 64);
    if (!run_guest(guest_write_shared, &e))
        goto entry_failed;
    check_ept_violation("elisa-isolation-write-shared", &e, shared + 6 * 8, 2,
                        (uint64_t)(uintptr_t)guest_write_shared, (uint64_t)(uintptr_t)guest_write_shared + 64);
    if (!run_guest(guest_read_sub_stack, &e))
        goto entry_failed;
    check_ept_violation("elisa-isolation-read-sub-data", &e, (uint64_t)(uintptr_t)&elisa_sub_stack[64], 1,
                        (uint64_t)(uintptr_t)guest_read_sub_stack, (uint64_t)(uintptr_t)guest_read_sub_stack + 64);
    ok = elisa_shared[6] == 1000 + 36;
    CHECK(ok, "elisa-isolation-unchanged", "shared word 6 still %lu after the refused write\n", elisa_shared[6]);

    /* -- 4. the gate can only be entered at its entry point -------------- */
    uint64_t middle = (uint64_t)(uintptr_t)elisa_gate_middle;
    if (!run_guest(guest_jump_into_middle, &e))
        goto entry_failed;
    check_ept_violation("elisa-gate-jump-into-middle", &e, middle, 4, middle, middle + 1);
    if (!run_guest(guest_vmfunc_gate_elsewhere, &e))
        goto entry_failed;
    uint64_t site = (uint64_t)(uintptr_t)guest_vmfunc_gate_elsewhere_site;
    uint64_t eptp_now = vmcs_read(VMCS_EPT_POINTER);
    ok = EXIT_REASON_BASIC(e.reason) == VMX_EXIT_TRIPLE_FAULT && eptp_now == elisa.eptp[VMF_CTX_GATE];
    CHECK(ok, "elisa-gate-vmfunc-elsewhere", "VMFUNC(0, GATE) at 0x%lx (not the end of the gate's top page): the "
          "switch happened (VMCS EPTP = gate 0x%lx) and the next fetch at 0x%lx, unmapped in the gate context's page "
          "table, ended in exit reason %u (%s; #PF undeliverable without the guest's IDT), guest-rip 0x%lx\n", site,
          eptp_now, site + 3, EXIT_REASON_BASIC(e.reason), vmx_exit_name(EXIT_REASON_BASIC(e.reason)), e.guest_rip);
    if (!ok)
        vmx_print_exit("INFO", &e);

    /* -- 5. VMFUNC that must exit to the hypervisor ---------------------- */
    check_vmfunc_exit("vmfunc-index-beyond-list", guest_vmfunc_index_512, guest_vmfunc_index_512_site,
                      "VMFUNC(0, 512), beyond the 512-entry list");
    check_vmfunc_exit("vmfunc-invalid-entry", guest_vmfunc_index_empty, guest_vmfunc_index_empty_site,
                      "VMFUNC(0, 3), list entry 3 is 0 (not a valid EPTP)");
    check_vmfunc_exit("vmfunc-disabled-function", guest_vmfunc_leaf1, guest_vmfunc_leaf1_site,
                      "VMFUNC(1, 0), VM function 1 not enabled");

    /* -- 6. interrupts are masked in the sub context --------------------- */
    if (!run_guest(guest_if_check, &e))
        goto entry_failed;
    ok = is_done(&e) && (guest_out.b & (1u << 9)) && !(guest_out.a & (1u << 9)) && (guest_out.c & (1u << 9));
    CHECK(ok, "elisa-sub-if-clear", "RFLAGS in the sub context 0x%lx (IF=%lu); caller's before 0x%lx (IF=%lu), "
          "after return 0x%lx (IF=%lu)\n", guest_out.a, (guest_out.a >> 9) & 1, guest_out.b, (guest_out.b >> 9) & 1,
          guest_out.c, (guest_out.c >> 9) & 1);
    if (!is_done(&e))
        vmx_print_exit("INFO guest did not finish:", &e);

    idt_set_handler(TIMER_VECTOR, on_timer);
    timer_hits = timer_rip = timer_tsc = 0;
    if (!run_guest(guest_timer_test, &e))
        goto entry_failed;
    idt_set_handler(TIMER_VECTOR, 0);
    uint64_t bottom = (uint64_t)(uintptr_t)elisa_gate_bottom;
    /* The timer's period in TSC ticks was measured by the guest (polling
     * the current-count register to 0): "due" is the latest it can fire. */
    uint64_t period = guest_out.d, due = guest_out.a + period;
    ok = is_done(&e) && timer_hits == 1 && guest_out.c == 1 && timer_rip > bottom && timer_rip < bottom + PAGE_SIZE &&
         guest_out.b > due && timer_tsc > guest_out.b;
    CHECK(ok, "elisa-interrupt-deferred", "LAPIC timer (count %u = %lu TSC ticks, measured) armed at tsc %lu, due "
          "by %lu; the sub context was still running at tsc %lu with IF=0; the interrupt came once, at tsc %lu, "
          "interrupting guest-rip 0x%lx in the gate's bottom page (0x%lx, right after its POPFQ restored IF)\n",
          TIMER_COUNT, period, guest_out.a, due, guest_out.b, timer_tsc, timer_rip, bottom);
    if (!is_done(&e))
        vmx_print_exit("INFO guest did not finish:", &e);

    /* -- 7. instruction counts ------------------------------------------ */
    elisa_gate_sub_entry = (uint64_t)(uintptr_t)sub_nop;
    if (!run_guest(guest_counts, &e))
        goto entry_failed;
    elisa_gate_sub_entry = (uint64_t)(uintptr_t)sub_entry;
    ok = is_done(&e) && count_nop100 - count_empty == 100;
    CHECK(ok, "tsc-counts-instructions", "100 NOPs between two RDTSC add %lu to the difference (empty: %lu): "
          "one TSC tick per instruction\n", count_nop100 - count_empty, count_empty);
    if (!is_done(&e))
        vmx_print_exit("INFO guest did not finish:", &e);
    tb_printf("INFO elisa-round-trip-instructions %lu (CALL elisa_gate_call ... RET: 2 VMFUNC switches in, 1 out, "
              "sub function of 2 instructions, no VM exit)\n", count_elisa - count_empty);
    tb_printf("INFO vmcall-round-trip-instructions %lu (VMCALL, the host's exit handling, VMRESUME; the MOV "
              "before the VMCALL excluded)\n", count_vmcall - count_empty - 1);

    /* -- 8. the real apps (elisa/apps) in the sub context ---------------- */
    test_elisa_apps();
    return;

entry_failed:
    failures++;
}

void testbed_main(uint32_t magic, uint64_t mbi)
{
    (void)mbi;
    console_init();
    idt_init();
    mem_init();
    /* No 8259 interrupts at any time (the guest runs with IF = 1 in one test). */
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
    tb_printf("INFO vmfunc-testbed starting\n");
    /* IA32_EFER.NXE (bit 11): the page table the library builds for the
     * gate and sub contexts marks data pages execute-disable (bit 63),
     * which is a reserved bit - a page fault - unless NXE = 1 (Intel SDM
     * Vol. 3A 5.5 "4-Level Paging and 5-Level Paging").  The guest gets
     * the host's EFER (vmx.c).  Needs CPUID.80000001H:EDX.NX[20]. */
    uint32_t a, b, c, d;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if (d & (1u << 20))
        wrmsr(MSR_IA32_EFER, rdmsr(MSR_IA32_EFER) | (1u << 11));

    test_boot(magic);
    if (test_vmx_bringup())
        test_elisa();

    tb_printf("INFO %u failures\n", failures);
    tb_printf("END\n");
    tb_shutdown();
}
