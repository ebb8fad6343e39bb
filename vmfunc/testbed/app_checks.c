/* vmfunc/testbed/app_checks.c - the real sub-context apps (elisa/apps
 * nop.so and vmnet.so) run exit-less through the gate, in the same boot
 * as the gate's own checks (main.c).
 *
 * The host plays the manager: it lays out a vmnet region (vmnet_init, 2
 * ports) in the sub context's shared memory, maps only the two port areas
 * back into the guest's default context (elisa/vmnet/vmnet.h's trust
 * model: header, switch state, MAC table and bounce buffer stay the sub
 * context's), copies the flat app images (apps.S) into sub-code pages,
 * writes one struct elisa_sub_env per port into sub-private data, and
 * points the gate's variables (elisa_gate_sub_entry, elisa_gate_sub_env) at
 * them.  The guest then calls the apps with elisa_gate_call(fn, arg) and
 * uses its port areas with the guest half of elisa/vmnet (vmnet_guest_*),
 * compiled into the testbed like any guest library.
 *
 * The same app entry also serves the exit-based path: guest_exit_call
 * VMCALLs, and run_guest (main.c) calls the entry on the host with the
 * same env.  Both paths are counted the same way (guest_count_call). */
#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "ept.h"
#include "hc.h"
#include "mem.h"
#include "sub.h"
#include "testbed.h"
#include "vmnet.h"

/* apps.S */
extern char tb_app_nop_flat[], tb_app_vmnet_flat[], tb_app_nop_code[], tb_app_vmnet_code[];
extern const uint64_t tb_app_nop_size, tb_app_nop_entry, tb_app_vmnet_size, tb_app_vmnet_entry;
/* linker.ld */
extern char _elisa_sub_start[], _elisa_sub_end[];

/* The switch: 2 ports, 32 slots of 2 KiB per ring (a 1514-byte frame and
 * a batch of 32 fit), 16 MAC sets, no aging. */
static const struct vmnet_config tb_vmnet_cfg = {
    .nports = 2, .ring_slots = 32, .slot_size = 2048, .mac_sets = 16, .age_limit = 0, .hash_seed = 0x5eedULL,
};
#define TB_FRAMES     32        /* frames per direction in the forwarding checks */
#define TB_ECHO_CALLS 1000
#define TB_FRAME_MAX  1514
#define TB_FRAME_MIN  60

static uint64_t region_laid_out, port_off[2], port_size;

int apps_layout(unsigned map_flags)
{
    uint8_t *region = elisa_vmnet_region;
    region_laid_out = vmnet_region_size(&tb_vmnet_cfg);
    if (region_laid_out == 0 || region_laid_out > sizeof(elisa_vmnet_region)) {
        tb_printf("INFO apps-layout: the vmnet region needs %lu bytes, sub.h reserves %lu: raise "
                  "TB_VMNET_REGION_PAGES\n", region_laid_out, (uint64_t)sizeof(elisa_vmnet_region));
        return -1;
    }
    int rc = vmnet_init(region, region_laid_out, &tb_vmnet_cfg);
    if (rc != VMNET_OK) {
        tb_printf("INFO apps-layout: vmnet_init failed (%d)\n", rc);
        return -1;
    }
    port_size = vmnet_port_area_size(region, region_laid_out);
    for (uint32_t p = 0; p < 2; p++) {
        port_off[p] = vmnet_port_offset(region, region_laid_out, p);
        uint64_t gpa = (uint64_t)(uintptr_t)region + port_off[p];
        /* Read/write, never execute: the guest's frames are data.  The
         * builder left the whole shared region unmapped in the default
         * context; these are the only pages of it that come back. */
        int err = vmf_ept_map(&elisa.ctx[VMF_CTX_DEFAULT], gpa, gpa, port_size, VMF_EPT_R | VMF_EPT_W, VMF_MT_WB,
                              map_flags);
        if (port_off[p] == 0 || port_size == 0 || err != VMF_OK) {
            tb_printf("INFO apps-layout: port %u area 0x%lx+%lu not mapped in the default context (%s)\n", p, gpa,
                      port_size, vmf_strerror(err));
            return -1;
        }
    }
    return 0;
}

/* ======================================================================
 * Guest side (default context).  What the host tells the guest, and what
 * the guest reports back, sits in ordinary guest RAM.
 * ====================================================================== */
static volatile struct {
    uint64_t area[2];            /* the port areas' addresses (virtual = physical) */
    uint64_t area_size;
    uint32_t from, to;           /* guest_vmnet_forward's direction */
    uint64_t (*call)(uint64_t, uint64_t);   /* elisa_gate_call or guest_exit_call */
} gin;

static volatile struct {
    uint64_t echo_ok, enofn_ok, calls;
    uint64_t switched, delivered, bad_index, extra_rc, back_rc, put_fail;
    uint64_t bytes;
    uint64_t env_port_rc, env_rx_rc, fn_garbage, fn_nop_on_vmnet;
    uint64_t count_gate, count_exit;                 /* nop */
    uint64_t count_frames[4], delivered_frames[4];   /* vmnet: gate 1, gate 32, exit 1, exit 32 */
    uint64_t count_empty;
} gout;

/* Frames: destination 02:00:00:00:00:(to+1), source 02:00:00:00:00:(from+1)
 * (unicast: the switch drops multicast sources), a local experimental
 * EtherType, then bytes of a xorshift generator seeded by direction and
 * index, so the receiver can regenerate what the sender put. */
static uint32_t frame_rng(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static uint32_t frame_len(uint32_t from, uint32_t i)
{
    if (i == 0)
        return TB_FRAME_MIN;
    if (i == 1)
        return TB_FRAME_MAX;
    uint32_t x = 0x9e3779b9u ^ (from << 16) ^ (i * 7919u);
    return TB_FRAME_MIN + frame_rng(&x) % (TB_FRAME_MAX - TB_FRAME_MIN + 1);
}

static void frame_fill(uint8_t *f, uint32_t len, uint32_t from, uint32_t to, uint32_t i)
{
    for (unsigned k = 0; k < 6; k++) {
        f[k] = k == 0 ? 0x02 : k == 5 ? (uint8_t)(to + 1) : 0;
        f[6 + k] = k == 0 ? 0x02 : k == 5 ? (uint8_t)(from + 1) : 0;
    }
    f[12] = 0x88;
    f[13] = 0xb5;
    uint32_t x = 0x2545f491u ^ (from << 24) ^ (i + 1);
    for (uint32_t k = 14; k < len; k++)
        f[k] = (uint8_t)frame_rng(&x);
}

static bool frame_equal(const uint8_t *a, const uint8_t *b, uint32_t len)
{
    for (uint32_t k = 0; k < len; k++)
        if (a[k] != b[k])
            return false;
    return true;
}

static uint8_t g_frame[2048], g_got[2048];   /* guest-private buffers */

static bool guest_open(struct vmnet_guest_port *gp, uint32_t port)
{
    return vmnet_guest_open(gp, (void *)(uintptr_t)gin.area[port], gin.area_size) == VMNET_OK;
}

void guest_nop_echo(void);
void guest_nop_many(void);
void guest_read_switch_state(void);
void guest_read_app_code(void);
void guest_vmnet_forward(void);
void guest_vmnet_port_from_env(void);
void guest_count_nop(void);
void guest_count_vmnet(void);

/* Echo of a few values through gin.call, and ENOFN for fns nop does not know. */
void guest_nop_echo(void)
{
    static const uint64_t vals[] = { 0, 1, 0x7f, 0xdeadbeefcafef00dULL, UINT64_MAX };
    static const uint64_t bad_fns[] = { 1, 2, 0xffffffffULL, UINT64_MAX };
    uint64_t ok = 0, enofn = 0, calls = 0;
    for (unsigned i = 0; i < sizeof(vals) / sizeof(vals[0]); i++, calls++)
        ok += gin.call(ELISA_NOP_ECHO, vals[i]) == vals[i];
    for (unsigned i = 0; i < sizeof(bad_fns) / sizeof(bad_fns[0]); i++, calls++)
        enofn += gin.call(bad_fns[i], 5) == ELISA_APP_ENOFN;
    gout.echo_ok = ok;
    gout.enofn_ok = enofn;
    gout.calls = calls;
    guest_done(ok == sizeof(vals) / sizeof(vals[0]) && enofn == sizeof(bad_fns) / sizeof(bad_fns[0]));
}

void guest_nop_many(void)
{
    uint64_t ok = 0;
    for (uint64_t i = 0; i < TB_ECHO_CALLS; i++) {
        uint64_t v = i * 0x9e3779b97f4a7c15ULL;
        ok += elisa_gate_call(ELISA_NOP_ECHO, v) == v;
    }
    guest_done(ok);
}

/* The region's header: switch-only memory. */
void guest_read_switch_state(void)
{
    guest_done(*(volatile uint32_t *)elisa_vmnet_region);   /* EPT violation expected */
}

/* The app's code, as the sub context runs it. */
void guest_read_app_code(void)
{
    guest_done(*(volatile uint64_t *)tb_app_vmnet_code);     /* EPT violation expected */
}

/* TB_FRAMES frames on gin.from's TX ring, one gate call (the env names
 * the port), all of them read back from gin.to's RX ring. */
void guest_vmnet_forward(void)
{
    struct vmnet_guest_port tx, rx;
    uint32_t from = gin.from, to = gin.to;
    if (!guest_open(&tx, from) || !guest_open(&rx, to))
        guest_done(0xBAD0);
    uint64_t put_fail = 0, bytes = 0;
    for (uint32_t i = 0; i < TB_FRAMES; i++) {
        uint32_t len = frame_len(from, i);
        frame_fill(g_frame, len, from, to, i);
        put_fail += vmnet_guest_put(&tx, g_frame, len) != VMNET_OK;
        bytes += len;
    }
    gout.put_fail = put_fail;
    gout.bytes = bytes;
    gout.switched = elisa_gate_call(ELISA_VMNET_TX, 0);
    uint64_t delivered = 0, bad = UINT64_MAX;
    for (uint32_t i = 0; i < TB_FRAMES; i++) {
        uint32_t len = frame_len(from, i);
        frame_fill(g_frame, len, from, to, i);
        int got = vmnet_guest_get(&rx, g_got, sizeof(g_got));
        if (got == (int)len && frame_equal(g_got, g_frame, len))
            delivered++;
        else if (bad == UINT64_MAX)
            bad = i;
    }
    gout.delivered = delivered;
    gout.bad_index = bad;
    gout.extra_rc = (uint64_t)(int64_t)vmnet_guest_get(&rx, g_got, sizeof(g_got));   /* empty now */
    gout.back_rc = (uint64_t)(int64_t)vmnet_guest_get(&tx, g_got, sizeof(g_got));    /* nothing came back */
    guest_done(delivered);
}

/* With the env naming port 0: a frame queued on port 1, the guest passing
 * arg 1, gets nothing switched; fns vmnet does not know give ENOFN. */
void guest_vmnet_port_from_env(void)
{
    struct vmnet_guest_port p0, p1;
    if (!guest_open(&p0, 0) || !guest_open(&p1, 1))
        guest_done(0xBAD0);
    frame_fill(g_frame, 100, 1, 0, 77);
    gout.put_fail = vmnet_guest_put(&p1, g_frame, 100) != VMNET_OK;
    gout.env_port_rc = elisa_gate_call(ELISA_VMNET_TX, 1);
    gout.env_rx_rc = (uint64_t)(int64_t)vmnet_guest_get(&p0, g_got, sizeof(g_got));
    gout.fn_garbage = elisa_gate_call(0xdead, 1);
    gout.fn_nop_on_vmnet = elisa_gate_call(ELISA_NOP_ECHO, 1);
    guest_done(0);
}

/* The nop round trip, through the gate and through the exit path. */
void guest_count_nop(void)
{
    gout.count_empty = guest_count_empty();
    gout.count_gate = guest_count_call(ELISA_NOP_ECHO, 0x55, elisa_gate_call);
    gout.count_exit = guest_count_call(ELISA_NOP_ECHO, 0x55, guest_exit_call);
    guest_done(0);
}

/* One counted TX call switching `batch' 1514-byte frames from port 0 to
 * port 1 through `call'; the frames must all arrive (else the count is of
 * a call that did not do the work). */
static void count_vmnet_batch(unsigned slot, uint32_t batch, uint64_t (*call)(uint64_t, uint64_t),
                              struct vmnet_guest_port *tx, struct vmnet_guest_port *rx)
{
    for (uint32_t i = 0; i < batch; i++) {
        frame_fill(g_frame, TB_FRAME_MAX, 0, 1, 1000 + i);
        if (vmnet_guest_put(tx, g_frame, TB_FRAME_MAX) != VMNET_OK)
            gout.put_fail++;
    }
    gout.count_frames[slot] = guest_count_call(ELISA_VMNET_TX, 0, call);
    uint64_t n = 0;
    for (uint32_t i = 0; i < batch; i++) {
        frame_fill(g_frame, TB_FRAME_MAX, 0, 1, 1000 + i);
        if (vmnet_guest_get(rx, g_got, sizeof(g_got)) == TB_FRAME_MAX && frame_equal(g_got, g_frame, TB_FRAME_MAX))
            n++;
    }
    gout.delivered_frames[slot] = n;
}

void guest_count_vmnet(void)
{
    struct vmnet_guest_port tx, rx;
    if (!guest_open(&tx, 0) || !guest_open(&rx, 1))
        guest_done(0xBAD0);
    gout.put_fail = 0;
    count_vmnet_batch(0, 1, elisa_gate_call, &tx, &rx);
    count_vmnet_batch(1, TB_FRAMES, elisa_gate_call, &tx, &rx);
    count_vmnet_batch(2, 1, guest_exit_call, &tx, &rx);
    count_vmnet_batch(3, TB_FRAMES, guest_exit_call, &tx, &rx);
    guest_done(0);
}

/* ======================================================================
 * Host side
 * ====================================================================== */
static uint64_t addr(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

/* The EPT view of one page: executable in the sub context, absent in the
 * default one. */
static bool sub_exec_only(uint64_t gpa)
{
    struct vmf_ept_walk w;
    return vmf_ept_translate(&elisa.ctx[VMF_CTX_SUB], gpa, VMF_EPT_X, &w) == VMF_OK &&
           vmf_ept_translate(&elisa.ctx[VMF_CTX_DEFAULT], gpa, VMF_EPT_R, &w) == VMF_EVIOLATION && !w.present;
}

/* One guest run; false (counted as a failure) if the entry itself failed. */
static bool run(void (*fn)(void), struct vmx_exit *e, uint64_t *exits)
{
    uint64_t before = vmx.exits;
    if (!run_guest(fn, e)) {
        failures++;
        return false;
    }
    *exits = vmx.exits - before;
    if (!is_done(e) && EXIT_REASON_BASIC(e->reason) != VMX_EXIT_EPT_VIOLATION)
        vmx_print_exit("INFO guest did not finish:", e);
    return true;
}

static void use_app(const char *code, uint64_t entry_offset, uint32_t port)
{
    uint64_t entry = addr(code) + entry_offset;
    elisa_gate_sub_entry = entry;     /* the gate's variables: host writes, guest cannot */
    elisa_gate_sub_env = addr(&elisa_sub_env_port[port]);
    /* The exit path runs the same bytes on the host (identity-mapped). */
    elisa_app_fn fn;
    uintptr_t p = (uintptr_t)entry;
    tb_memcpy(&fn, &p, sizeof(fn));
    tb_exit_app = fn;
    tb_exit_env = &elisa_sub_env_port[port];
}

static void check_forward(const char *name, uint32_t from, uint32_t to)
{
    struct vmx_exit e;
    uint64_t exits;
    struct vmnet_port_stats before, after;
    vmnet_port_stats(elisa_vmnet_region, region_laid_out, from, &before);
    use_app(tb_app_vmnet_code, tb_app_vmnet_entry, from);
    gin.from = from;
    gin.to = to;
    if (!run(guest_vmnet_forward, &e, &exits))
        return;
    vmnet_port_stats(elisa_vmnet_region, region_laid_out, from, &after);
    bool ok = is_done(&e) && exits == 1 && gout.put_fail == 0 && gout.switched == TB_FRAMES &&
              gout.delivered == TB_FRAMES && vmx.regs.rbx == TB_FRAMES &&
              gout.extra_rc == (uint64_t)(int64_t)VMNET_EAGAIN && gout.back_rc == (uint64_t)(int64_t)VMNET_EAGAIN &&
              after.tx_frames - before.tx_frames == TB_FRAMES && after.tx_bytes - before.tx_bytes == gout.bytes;
    if (ok)
        tb_printf("PASS %s %u frames (%u..%u bytes, %lu in all) put on port %u's TX ring in the default context, one "
                  "gate call (env port %u) switched %lu, all %lu read back byte-exact from port %u's RX ring, none "
                  "back on port %u; switch counters +%lu frames +%lu bytes; %lu VM exit (the final HC_DONE)\n",
                  name, TB_FRAMES, TB_FRAME_MIN, TB_FRAME_MAX, gout.bytes, from, from, gout.switched, gout.delivered,
                  to, from, after.tx_frames - before.tx_frames, after.tx_bytes - before.tx_bytes, exits);
    else {
        failures++;
        tb_printf("FAIL %s put failures %lu, switched %lu, delivered %lu of %u (first bad %ld), after: rx %ld back "
                  "%ld, counters +%lu frames, %lu VM exits (expected 1)\n", name, gout.put_fail, gout.switched,
                  gout.delivered, TB_FRAMES, (long)gout.bad_index, (long)gout.extra_rc, (long)gout.back_rc,
                  after.tx_frames - before.tx_frames, exits);
    }
}

void test_elisa_apps(void)
{
    struct vmx_exit e;
    uint64_t exits;
    uint8_t *region = elisa_vmnet_region;

    /* -- the manager's part: images into sub-code pages, envs ----------- */
    tb_memcpy(tb_app_nop_code, tb_app_nop_flat, tb_app_nop_size);
    tb_memcpy(tb_app_vmnet_code, tb_app_vmnet_flat, tb_app_vmnet_size);
    for (uint32_t p = 0; p < 2; p++) {
        elisa_sub_env_port[p].shared_va = addr(region);   /* the sub context maps it at va = gpa */
        elisa_sub_env_port[p].shared_size = sizeof(elisa_vmnet_region);
        elisa_sub_env_port[p].arg = p;
        elisa_sub_env_port[p].vcpu = 0;
    }
    uint64_t nop = addr(tb_app_nop_code), vmn = addr(tb_app_vmnet_code);
    bool ok = nop >= addr(_elisa_sub_start) && vmn + tb_app_vmnet_size <= addr(_elisa_sub_end) &&
              tb_app_nop_entry < tb_app_nop_size && tb_app_vmnet_entry < tb_app_vmnet_size;
    for (uint64_t off = 0; ok && off < tb_app_nop_size; off += PAGE_SIZE)
        ok = sub_exec_only(nop + off);
    for (uint64_t off = 0; ok && off < tb_app_vmnet_size; off += PAGE_SIZE)
        ok = sub_exec_only(vmn + off);
    CHECK(ok, "elisa-apps-loaded", "nop.so (%lu bytes, entry +0x%lx) at 0x%lx and vmnet.so (%lu bytes, entry +0x%lx) "
          "at 0x%lx copied into sub-code pages (executable in the sub context, absent in the default one); vmnet "
          "region 0x%lx+%lu (%u ports, %u slots of %u bytes), port areas +0x%lx and +0x%lx (%lu bytes each) mapped "
          "read/write in the default context\n", tb_app_nop_size, tb_app_nop_entry, nop, tb_app_vmnet_size,
          tb_app_vmnet_entry, vmn, addr(region), region_laid_out, tb_vmnet_cfg.nports, tb_vmnet_cfg.ring_slots,
          tb_vmnet_cfg.slot_size, port_off[0], port_off[1], port_size);
    gin.area[0] = addr(region) + port_off[0];
    gin.area[1] = addr(region) + port_off[1];
    gin.area_size = port_size;

    /* -- nop through the gate ------------------------------------------ */
    use_app(tb_app_nop_code, tb_app_nop_entry, 0);
    gin.call = elisa_gate_call;
    if (!run(guest_nop_echo, &e, &exits))
        return;
    ok = is_done(&e) && vmx.regs.rbx == 1 && exits == 1;
    CHECK(ok, "elisa-nop-echo", "nop.so in the sub context: %lu of 5 values echoed (0, 1, 0x7f, 0xdeadbeefcafef00d, "
          "2^64-1), %lu of 4 unknown fns answered ENOFN (-38); %lu gate calls, %lu VM exit (the final HC_DONE)\n",
          gout.echo_ok, gout.enofn_ok, gout.calls, exits);
    if (!run(guest_nop_many, &e, &exits))
        return;
    ok = is_done(&e) && vmx.regs.rbx == TB_ECHO_CALLS && exits == 1;
    CHECK(ok, "elisa-nop-no-exits", "%u gate calls into nop.so (%u VMFUNCs): %lu echoes right, %lu VM exit(s) in "
          "all, the final HC_DONE VMCALL included (expected 1)\n", TB_ECHO_CALLS, 3 * TB_ECHO_CALLS, vmx.regs.rbx,
          exits);

    /* -- vmnet: what the default context may not see -------------------- */
    if (!run(guest_read_switch_state, &e, &exits))
        return;
    check_ept_violation("elisa-vmnet-isolation-switch-state", &e, addr(region), 1, addr(guest_read_switch_state),
                        addr(guest_read_switch_state) + 64);
    if (!run(guest_read_app_code, &e, &exits))
        return;
    check_ept_violation("elisa-app-code-isolation", &e, vmn, 1, addr(guest_read_app_code),
                        addr(guest_read_app_code) + 64);

    /* -- vmnet: frames both ways, exit-less ---------------------------- */
    check_forward("elisa-vmnet-port0-to-port1", 0, 1);
    check_forward("elisa-vmnet-port1-to-port0", 1, 0);

    /* -- vmnet: the port is the env's, not the guest's ------------------ */
    use_app(tb_app_vmnet_code, tb_app_vmnet_entry, 0);
    struct vmnet_port_stats s1_before, s1_after;
    vmnet_port_stats(region, region_laid_out, 1, &s1_before);
    if (!run(guest_vmnet_port_from_env, &e, &exits))
        return;
    vmnet_port_stats(region, region_laid_out, 1, &s1_after);
    ok = is_done(&e) && exits == 1 && gout.put_fail == 0 && gout.env_port_rc == 0 &&
         gout.env_rx_rc == (uint64_t)(int64_t)VMNET_EAGAIN && gout.fn_garbage == ELISA_APP_ENOFN &&
         gout.fn_nop_on_vmnet == ELISA_APP_ENOFN && s1_after.tx_frames == s1_before.tx_frames;
    CHECK(ok, "elisa-vmnet-port-from-env", "env port 0, a frame queued on port 1, the guest passing arg 1: the call "
          "switched %ld frames (port 0's empty ring), port 0 received %ld (VMNET_EAGAIN = %d), port 1's counters "
          "+%lu; fn 0xdead -> %ld, fn ECHO -> %ld (ENOFN -38); %lu VM exit\n", (long)gout.env_port_rc,
          (long)gout.env_rx_rc, VMNET_EAGAIN, s1_after.tx_frames - s1_before.tx_frames, (long)gout.fn_garbage,
          (long)gout.fn_nop_on_vmnet, exits);

    /* -- the exit-based path to the same nop ---------------------------- */
    use_app(tb_app_nop_code, tb_app_nop_entry, 0);
    gin.call = guest_exit_call;
    if (!run(guest_nop_echo, &e, &exits))
        return;
    ok = is_done(&e) && vmx.regs.rbx == 1 && exits == gout.calls + 1;
    CHECK(ok, "exit-nop-echo", "the same nop.so entry called by the host on VMCALL HC_APP: %lu of 5 values echoed, "
          "%lu of 4 unknown fns ENOFN; %lu calls took %lu VM exits (one per call + the final HC_DONE)\n",
          gout.echo_ok, gout.enofn_ok, gout.calls, exits);

    /* -- instruction counts, both paths the same way --------------------- */
    if (!run(guest_count_nop, &e, &exits))
        return;
    bool nop_ok = is_done(&e) && exits == 2;   /* the exit-path call + HC_DONE */
    use_app(tb_app_vmnet_code, tb_app_vmnet_entry, 0);
    if (!run(guest_count_vmnet, &e, &exits))
        return;
    ok = nop_ok && is_done(&e) && exits == 3 && gout.put_fail == 0 && gout.delivered_frames[0] == 1 &&
         gout.delivered_frames[1] == TB_FRAMES && gout.delivered_frames[2] == 1 &&
         gout.delivered_frames[3] == TB_FRAMES;
    CHECK(ok, "app-counted-calls", "the counted calls did their work: vmnet frames delivered byte-exact gate %lu/1 "
          "%lu/%u, exit %lu/1 %lu/%u; VM exits: nop run %s, vmnet run %lu (expected 3: 2 exit-path calls + HC_DONE)\n",
          gout.delivered_frames[0], gout.delivered_frames[1], TB_FRAMES, gout.delivered_frames[2],
          gout.delivered_frames[3], TB_FRAMES, nop_ok ? "2 as expected" : "WRONG", exits);
    uint64_t empty = gout.count_empty;
    tb_printf("INFO elisa-nop-round-trip-instructions %lu (CALL elisa_gate_call ... RET into the real nop.so: 3 "
              "VMFUNCs, no VM exit)\n", gout.count_gate - empty);
    tb_printf("INFO exit-nop-round-trip-instructions %lu (CALL guest_exit_call ... RET: VMCALL, the host's exit "
              "handling calling the same nop.so entry, VMRESUME)\n", gout.count_exit - empty);
    tb_printf("INFO elisa-vmnet-instructions-per-frame %lu (one gate call switching one %u-byte frame port 0 -> 1)\n",
              gout.count_frames[0] - empty, TB_FRAME_MAX);
    tb_printf("INFO elisa-vmnet-instructions-per-frame-batch%u %lu (one gate call switching %u frames of %u bytes: "
              "%lu in all)\n", TB_FRAMES, (gout.count_frames[1] - empty) / TB_FRAMES, TB_FRAMES, TB_FRAME_MAX,
              gout.count_frames[1] - empty);
    tb_printf("INFO exit-vmnet-instructions-per-frame %lu (one VMCALL switching one %u-byte frame)\n",
              gout.count_frames[2] - empty, TB_FRAME_MAX);
    tb_printf("INFO exit-vmnet-instructions-per-frame-batch%u %lu (one VMCALL switching %u frames: %lu in all)\n",
              TB_FRAMES, (gout.count_frames[3] - empty) / TB_FRAMES, TB_FRAMES, gout.count_frames[3] - empty);
    tb_exit_app = 0;
    tb_exit_env = 0;
}
