/* tests/unit/test_elisa_call.c - cmocka tests of the guest library's call
 * side (elisa/guest/elisa_guest.h), user-space build (libelisa_guest.a).
 *
 *   - context set-up refuses impossible arguments;
 *   - LOCAL mode passes fn, arg and the environment to the app and returns
 *     its result;
 *   - the current context is per thread: two threads calling at once each
 *     reach their own app environment, a third with none gets ENOCTX;
 *   - VMFUNC mode enters the code at gate_va with (fn, arg) as a SysV call:
 *     gate_va holds a few bytes of machine code standing in for the gate's
 *     top page (the real gate needs VMFUNC, see vmfunc/testbed/);
 *   - EXIT mode runs the real fallback gate (gate_exit.S), with both
 *     doorbells.  In user space the MMIO doorbell's store hits the
 *     PROT_NONE page after the mailbox and the port doorbell's OUT raises
 *     #GP; Linux delivers both as SIGSEGV, and the handler plays the
 *     host's part as elisa/vmm does on KVM_EXIT_MMIO / KVM_EXIT_IO: it
 *     checks the instruction at RIP (`mov %eax,0x1000(%rdi)` at the
 *     faulting address mailbox + 4096, or `out %eax,(%dx)` with the right
 *     port), that the data is the sequence's low half and the sequence is
 *     the previous + 1, writes result then ack, and steps over the
 *     instruction.  A host that does not acknowledge, or acknowledges
 *     another sequence, must give ELISA_CALL_ENOHOST.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <pthread.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "elisa_guest.h"

/* --- an app for LOCAL mode: mixes fn, arg and the environment ------------ */

static uint64_t mix_app(uint64_t fn, uint64_t arg, const struct elisa_sub_env *env)
{
    return fn * 1000003u + arg * 7u + env->arg * 100000007u + env->vcpu;
}

/* --- set-up ---------------------------------------------------------------- */

static void test_ctx_refuses_bad_arguments(void **state)
{
    (void)state;
    struct elisa_ctx c;
    struct elisa_sub_env env = { 0, 0, 0, 0 };

    assert_int_equal(elisa_ctx_vmfunc(NULL, 0x10000), -1);
    assert_int_equal(elisa_ctx_vmfunc(&c, 0), -1);
    assert_int_equal(elisa_ctx_vmfunc(&c, 0x10008), -1);               /* not page aligned */
    assert_int_equal(elisa_ctx_vmfunc(&c, 0x0000800000000000ull), -1);   /* not canonical */
    assert_int_equal(elisa_ctx_vmfunc(&c, 0xffff800000000000ull), 0);    /* canonical high half */
    assert_int_equal(c.mode, ELISA_MODE_VMFUNC);

    assert_int_equal(elisa_ctx_exit(NULL, 0x10000, 0x5e1a), -1);
    assert_int_equal(elisa_ctx_exit(&c, 0x10001, 0x5e1a), -1);
    assert_int_equal(elisa_ctx_exit(&c, 0x00007ffffffff000ull, 0x5e1a), 0);
    /* MMIO doorbell: the page after the mailbox must be canonical too. */
    assert_int_equal(elisa_ctx_exit(&c, 0x00007ffffffff000ull, ELISA_DOORBELL_MMIO), -1);
    assert_int_equal(elisa_ctx_exit(&c, 0x10000, ELISA_DOORBELL_MMIO), 0);
    assert_int_equal(elisa_ctx_exit(&c, 0x10000, 0x5e1a), 0);
    assert_int_equal(c.mode, ELISA_MODE_EXIT);
    assert_int_equal(c.doorbell, 0x5e1a);

    assert_int_equal(elisa_ctx_local(NULL, mix_app, &env), -1);
    assert_int_equal(elisa_ctx_local(&c, NULL, &env), -1);
    assert_int_equal(elisa_ctx_local(&c, mix_app, NULL), -1);
    assert_int_equal(elisa_ctx_local(&c, mix_app, &env), 0);
    assert_int_equal(c.mode, ELISA_MODE_LOCAL);

    /* A context of no mode, or a NULL one, calls nothing. */
    struct elisa_ctx none = { .mode = ELISA_MODE_NONE };
    assert_true(elisa_ctx_call(&none, 1, 2) == ELISA_CALL_ENOCTX);
    assert_true(elisa_ctx_call(NULL, 1, 2) == ELISA_CALL_ENOCTX);
    struct elisa_ctx bogus = { .mode = (enum elisa_mode)77 };
    assert_true(elisa_ctx_call(&bogus, 1, 2) == ELISA_CALL_ENOCTX);
}

/* --- LOCAL ----------------------------------------------------------------- */

static void test_local_mode_passes_everything(void **state)
{
    (void)state;
    struct elisa_sub_env env = { 0x1000, 4096, 3, 9 };
    struct elisa_ctx c;
    assert_int_equal(elisa_ctx_local(&c, mix_app, &env), 0);
    for (uint64_t fn = 0; fn < 4; fn++)
        for (uint64_t arg = 0; arg < 1000; arg += 37)
            assert_true(elisa_ctx_call(&c, fn, arg) == mix_app(fn, arg, &env));

    elisa_set_current(&c);
    assert_ptr_equal(elisa_get_current(), &c);
    assert_true(elisa_call(2, 5) == mix_app(2, 5, &env));
    elisa_set_current(NULL);
    assert_true(elisa_call(2, 5) == ELISA_CALL_ENOCTX);
}

/* --- per-thread current context ------------------------------------------- */

#define THREAD_CALLS 200000u

struct thread_job {
    struct elisa_sub_env env;
    struct elisa_ctx ctx;
    int set_current;
    pthread_barrier_t *start;
    uint64_t wrong;        /* calls whose result was not this thread's */
};

static void *thread_caller(void *p)
{
    struct thread_job *j = p;
    if (j->set_current)
        elisa_set_current(&j->ctx);
    pthread_barrier_wait(j->start);
    for (uint64_t i = 0; i < THREAD_CALLS; i++) {
        uint64_t want = j->set_current ? mix_app(1, i, &j->env) : ELISA_CALL_ENOCTX;
        if (elisa_call(1, i) != want)
            j->wrong++;
    }
    return NULL;
}

static void test_current_context_is_per_thread(void **state)
{
    (void)state;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 3);
    struct thread_job jobs[3];
    memset(jobs, 0, sizeof jobs);
    for (int t = 0; t < 3; t++) {
        jobs[t].env.arg = (uint64_t)t + 1;
        jobs[t].env.vcpu = (uint64_t)t;
        jobs[t].set_current = t < 2;    /* the third thread never sets one */
        jobs[t].start = &start;
        assert_int_equal(elisa_ctx_local(&jobs[t].ctx, mix_app, &jobs[t].env), 0);
    }
    /* The main thread's own context must not leak into the threads. */
    struct elisa_sub_env main_env = { 0, 0, 99, 99 };
    struct elisa_ctx main_ctx;
    assert_int_equal(elisa_ctx_local(&main_ctx, mix_app, &main_env), 0);
    elisa_set_current(&main_ctx);

    pthread_t th[3];
    for (int t = 0; t < 3; t++)
        assert_int_equal(pthread_create(&th[t], NULL, thread_caller, &jobs[t]), 0);
    for (int t = 0; t < 3; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&start);
    for (int t = 0; t < 3; t++)
        assert_int_equal(jobs[t].wrong, 0);
    assert_ptr_equal(elisa_get_current(), &main_ctx);
    elisa_set_current(NULL);
}

/* --- VMFUNC: a call to gate_va ---------------------------------------------- */

static void test_vmfunc_mode_calls_gate_va(void **state)
{
    (void)state;
    uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    /* lea (%rdi,%rsi,2),%rax ; ret  -  result = fn + 2 * arg, so a swapped
     * or missing argument shows. */
    static const uint8_t code[] = { 0x48, 0x8d, 0x04, 0x77, 0xc3 };
    memcpy(page, code, sizeof code);
    assert_int_equal(mprotect(page, 4096, PROT_READ | PROT_EXEC), 0);

    struct elisa_ctx c;
    assert_int_equal(elisa_ctx_vmfunc(&c, (uint64_t)(uintptr_t)page), 0);
    assert_true(elisa_ctx_call(&c, 5, 7) == 19);
    assert_true(elisa_ctx_call(&c, 1ull << 40, 3) == (1ull << 40) + 6);
    munmap(page, 4096);
}

/* --- EXIT: the real gate_exit.S against a host played by SIGSEGV ----------- */

enum host_behaviour { HOST_SERVE, HOST_NO_ACK, HOST_STALE_ACK };

#define DOORBELL 0x5e1a

static volatile uint64_t *host_mailbox;    /* two pages: mailbox, then PROT_NONE (the MMIO doorbell) */
static volatile enum host_behaviour host_mode;
static volatile uint64_t host_last_seq;
static volatile uint64_t host_calls, host_mmio_calls;
static volatile uint64_t host_protocol_errors;  /* what elisa/vmm would stop a VM for */

/* mov %eax,0x1000(%rdi): the MMIO doorbell store of gate_exit.S. */
static const uint8_t mmio_store[6] = { 0x89, 0x87, 0x00, 0x10, 0x00, 0x00 };

static void host_doorbell(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    ucontext_t *uc = ucv;
    greg_t *r = uc->uc_mcontext.gregs;
    const uint8_t *rip = (const uint8_t *)(uintptr_t)r[REG_RIP];
    uint64_t len;
    int port_ok;
    if (rip[0] == 0xef) {                          /* out %eax,(%dx) */
        len = 1;
        port_ok = (uint16_t)r[REG_RDX] == DOORBELL;
    } else if (memcmp(rip, mmio_store, sizeof mmio_store) == 0 &&
               si->si_addr == (void *)((uintptr_t)host_mailbox + ELISA_MB_DOORBELL)) {
        len = sizeof mmio_store;
        port_ok = 1;
        host_mmio_calls++;
    } else {                                       /* a real crash */
        signal(SIGSEGV, SIG_DFL);
        return;                                    /* re-executes and dies */
    }
    uint64_t seq = host_mailbox[ELISA_MB_SEQ / 8];
    if (!port_ok || (uint32_t)r[REG_RAX] != (uint32_t)seq || seq != host_last_seq + 1)
        host_protocol_errors++;
    host_last_seq = seq;
    host_calls++;
    if (host_mode != HOST_NO_ACK) {
        /* The nop app's echo, mixed with fn so a swap shows. */
        host_mailbox[ELISA_MB_RESULT / 8] = host_mailbox[ELISA_MB_ARG / 8] ^ (host_mailbox[ELISA_MB_FN / 8] << 32);
        host_mailbox[ELISA_MB_ACK / 8] = host_mode == HOST_SERVE ? seq : seq - 1;
    }
    r[REG_RIP] += (greg_t)len;                     /* resume after the doorbell */
}

/* cmocka installs its own SIGSEGV handler around each test function, so
 * the host is installed by the test body itself and cmocka's put back. */
static struct sigaction cmocka_segv;

static void exit_host_start(void)
{
    uint8_t *mb = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mb != MAP_FAILED);
    assert_int_equal(mprotect(mb + 4096, 4096, PROT_NONE), 0);
    host_mailbox = (volatile uint64_t *)mb;
    host_last_seq = 0;
    host_calls = host_mmio_calls = 0;
    host_protocol_errors = 0;
    host_mode = HOST_SERVE;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = host_doorbell;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGSEGV, &sa, &cmocka_segv), 0);
}

static void exit_host_stop(void)
{
    sigaction(SIGSEGV, &cmocka_segv, NULL);
    munmap((void *)host_mailbox, 8192);
}

static void round_trips(uint16_t doorbell)
{
    exit_host_start();
    struct elisa_ctx c;
    assert_int_equal(elisa_ctx_exit(&c, (uint64_t)(uintptr_t)host_mailbox, doorbell), 0);
    elisa_set_current(&c);
    for (uint64_t i = 1; i <= 5000; i++) {
        uint64_t fn = i % 3, arg = i * 0x9e3779b97f4a7c15ull;
        assert_true(elisa_call(fn, arg) == (arg ^ (fn << 32)));
        assert_true(host_mailbox[ELISA_MB_SEQ / 8] == i);
        assert_true(host_mailbox[ELISA_MB_FN / 8] == fn);
        assert_true(host_mailbox[ELISA_MB_ARG / 8] == arg);
    }
    elisa_set_current(NULL);
    exit_host_stop();
    assert_int_equal(host_calls, 5000);
    assert_int_equal(host_mmio_calls, doorbell == ELISA_DOORBELL_MMIO ? 5000 : 0);
    assert_int_equal(host_protocol_errors, 0);
}

static void test_exit_mode_mmio_round_trips(void **state)
{
    (void)state;
    round_trips(ELISA_DOORBELL_MMIO);
}

static void test_exit_mode_port_round_trips(void **state)
{
    (void)state;
    round_trips(DOORBELL);
}

static void test_exit_mode_without_ack_is_enohost(void **state)
{
    (void)state;
    exit_host_start();
    struct elisa_ctx c;
    assert_int_equal(elisa_ctx_exit(&c, (uint64_t)(uintptr_t)host_mailbox, ELISA_DOORBELL_MMIO), 0);
    assert_true(elisa_ctx_call(&c, 0, 42) == 42);           /* served */
    host_mode = HOST_NO_ACK;
    assert_true(elisa_ctx_call(&c, 0, 43) == ELISA_CALL_ENOHOST);
    host_mode = HOST_STALE_ACK;
    assert_true(elisa_ctx_call(&c, 0, 44) == ELISA_CALL_ENOHOST);
    host_mode = HOST_SERVE;
    assert_true(elisa_ctx_call(&c, 0, 45) == 45);           /* and it recovers */
    exit_host_stop();
    assert_int_equal(host_calls, 4);
    assert_int_equal(host_protocol_errors, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctx_refuses_bad_arguments),
        cmocka_unit_test(test_local_mode_passes_everything),
        cmocka_unit_test(test_current_context_is_per_thread),
        cmocka_unit_test(test_vmfunc_mode_calls_gate_va),
        cmocka_unit_test(test_exit_mode_mmio_round_trips),
        cmocka_unit_test(test_exit_mode_port_round_trips),
        cmocka_unit_test(test_exit_mode_without_ack_is_enohost),
    };
    return cmocka_run_group_tests_name("elisa_call", tests, NULL, NULL);
}
