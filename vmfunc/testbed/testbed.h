/* vmfunc/testbed/testbed.h - what the check files share: main.c (boot, VMX
 * bring-up, the gate's own checks) and app_checks.c (the real apps).
 *
 * Every check prints one "PASS name ..." or "FAIL name ..." line (CHECK);
 * guest routines run in the default context through run_guest() and end
 * with guest_done() (VMCALL HC_DONE, result in RBX). */
#ifndef TESTBED_TESTBED_H
#define TESTBED_TESTBED_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "console.h"
#include "elisa_ctx.h"
#include "vmx.h"

extern unsigned failures;

#define CHECK(cond, name, ...)                                   \
    do {                                                         \
        if (cond) {                                              \
            tb_printf("PASS " name " " __VA_ARGS__);             \
        } else {                                                 \
            failures++;                                          \
            tb_printf("FAIL " name " " __VA_ARGS__);             \
        }                                                        \
    } while (0)

/* The three EPT contexts and the EPTP list (main.c builds them). */
extern struct vmf_elisa elisa;

/* gate.S */
uint64_t elisa_gate_call(uint64_t a0, uint64_t a1);
extern char elisa_gate_top[], elisa_gate_middle[], elisa_gate_bottom[], elisa_gate_end[];
extern char elisa_gate_top_vmfunc[], elisa_gate_middle_vmfunc[];
extern uint64_t elisa_gate_sub_entry, elisa_gate_sub_stack, elisa_gate_sub_env;

/* guest.S */
/* The exit-based way into the app: VMCALL HC_APP with fn, arg in RDI, RSI;
 * the host runs tb_exit_app and resumes with its result in RAX. */
uint64_t guest_exit_call(uint64_t fn, uint64_t arg);
/* RDTSC difference around CALL target(fn, arg) ... its RET (an instruction
 * count under Bochs' clock sync=none, see guest_count_empty). */
uint64_t guest_count_call(uint64_t fn, uint64_t arg, uint64_t (*target)(uint64_t, uint64_t));
uint64_t guest_count_empty(void);

/* Runs a guest routine in the default context until an exit other than
 * the VMCALLs the host answers by resuming (HC_NOP; HC_APP: the exit-based
 * app call). */
bool run_guest(void (*fn)(void), struct vmx_exit *e);
bool is_done(const struct vmx_exit *e);
__attribute__((noreturn)) void guest_done(uint64_t result);
/* PASS/FAIL line for an expected EPT violation (exit reason 48) at gpa with
 * the qualification's access bits `access' (1 read, 2 write, 4 fetch), the
 * guest RIP in [rip_lo, rip_hi). */
void check_ept_violation(const char *name, const struct vmx_exit *e, uint64_t gpa, uint64_t access,
                         uint64_t rip_lo, uint64_t rip_hi);

/* What run_guest calls on VMCALL HC_APP (host side of the exit path). */
extern elisa_app_fn tb_exit_app;
extern const struct elisa_sub_env *tb_exit_env;

/* app_checks.c */
/* Lays the vmnet region out and maps its port areas into the default
 * context (before any guest runs).  0, or -1 with the reason printed. */
int apps_layout(unsigned map_flags);
void test_elisa_apps(void);

#endif
