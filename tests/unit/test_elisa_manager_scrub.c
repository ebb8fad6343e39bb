/* tests/unit/test_elisa_manager_scrub.c - cmocka tests of
 * mgr_vmnet_port_scrub (elisa/manager/port_scrub.c, a caller of
 * vmnet_port_reset): a port freed by one guest comes to the next one as
 * vmnet_init left it, on a real region driven through the real switch
 * (elisa/vmnet), and each refusal gives the line the server logs.
 * tests/unit/test_vmnet.c tests vmnet_port_reset itself in more detail.
 * Built with ASan+UBSan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../elisa/manager/apps.h"
#include "../../elisa/vmnet/vmnet.h"

static uint8_t *mem, *fresh;
static uint64_t size;
static char err[200];

static int setup(void **state)
{
    struct vmnet_config cfg = { 3, 8, 256, 16, 0, 0x1234 };

    (void)state;
    size = vmnet_region_size(&cfg);
    assert_true(size > 0);
    assert_int_equal(posix_memalign((void **)&mem, 4096, size), 0);
    assert_int_equal(posix_memalign((void **)&fresh, 4096, size), 0);
    assert_int_equal(vmnet_init(mem, size, &cfg), VMNET_OK);
    memcpy(fresh, mem, size);   /* what vmnet_init makes: the reference */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(mem);
    free(fresh);
    return 0;
}

static void frame(uint8_t *f, uint8_t dst_last, uint8_t src_last)
{
    memset(f, 0, 64);
    memset(f, 0xff, 6);
    if (dst_last) {
        memset(f, 0, 6);
        f[0] = 0x02;
        f[5] = dst_last;
    }
    f[6] = 0x02;
    f[11] = src_last;
    f[12] = 0x88;
    f[13] = 0xb5;
}

static void test_scrub_returns_the_port_as_new(void **state)
{
    uint8_t f[64], got[64];
    struct vmnet_guest_port gp;
    uint64_t off1 = vmnet_port_offset(mem, size, 1), area = vmnet_port_area_size(mem, size);

    (void)state;
    /* Port 1's guest sends from MAC ..:11 (learned on port 1); port 0's
     * guest broadcasts twice: port 1 gets two frames it never reads. */
    frame(f, 0, 0x11);
    assert_int_equal(vmnet_port_send(mem, size, 1, f, 64), VMNET_OK);
    frame(f, 0, 0x22);
    assert_int_equal(vmnet_port_send(mem, size, 0, f, 64), VMNET_OK);
    assert_int_equal(vmnet_port_send(mem, size, 0, f, 64), VMNET_OK);
    /* And it scribbles over its own area header. */
    memset(mem + off1, 0xa5, 64);
    assert_true(memcmp(mem + off1, fresh + off1, area) != 0);

    assert_int_equal(mgr_vmnet_port_scrub(mem, size, 1, err, sizeof(err)), 0);

    /* The area is byte for byte what vmnet_init made. */
    assert_memory_equal(mem + off1, fresh + off1, area);
    assert_int_equal(vmnet_check(mem, size), VMNET_OK);
    /* Its counters are zero, and the new owner finds no frame. */
    struct vmnet_port_stats s;
    assert_int_equal(vmnet_port_stats(mem, size, 1, &s), VMNET_OK);
    assert_true(s.rx_frames == 0 && s.tx_frames == 0);
    assert_int_equal(vmnet_guest_open(&gp, mem + off1, area), VMNET_OK);
    assert_int_equal(vmnet_guest_get(&gp, got, sizeof(got)), VMNET_EAGAIN);

    /* The old owner's MAC is forgotten: a frame to ..:11 from port 2 is
     * flooded (to 0 and 1), not sent to port 1 as a known address. */
    frame(f, 0x11, 0x33);
    assert_int_equal(vmnet_port_send(mem, size, 2, f, 64), VMNET_OK);
    assert_int_equal(vmnet_port_stats(mem, size, 2, &s), VMNET_OK);
    assert_int_equal(s.flooded, 1);
    assert_int_equal(s.unicast, 0);
    /* Other ports were left alone: port 0 still has its counters. */
    assert_int_equal(vmnet_port_stats(mem, size, 0, &s), VMNET_OK);
    assert_int_equal(s.tx_frames, 2);
    /* The ring works for the new owner. */
    assert_int_equal(vmnet_guest_get(&gp, got, sizeof(got)), 64);
}

/* Negative control: without the scrub, the same steps leave the old
 * frames and the old MAC (so the checks above can fail). */
static void test_without_scrub_the_old_state_stays(void **state)
{
    uint8_t f[64], got[64];
    struct vmnet_guest_port gp;
    struct vmnet_port_stats s;
    uint64_t off1 = vmnet_port_offset(mem, size, 1), area = vmnet_port_area_size(mem, size);

    (void)state;
    frame(f, 0, 0x11);
    assert_int_equal(vmnet_port_send(mem, size, 1, f, 64), VMNET_OK);
    frame(f, 0, 0x22);
    assert_int_equal(vmnet_port_send(mem, size, 0, f, 64), VMNET_OK);
    assert_int_equal(vmnet_guest_open(&gp, mem + off1, area), VMNET_OK);
    assert_int_equal(vmnet_guest_get(&gp, got, sizeof(got)), 64);
    frame(f, 0x11, 0x33);
    assert_int_equal(vmnet_port_send(mem, size, 2, f, 64), VMNET_OK);
    assert_int_equal(vmnet_port_stats(mem, size, 2, &s), VMNET_OK);
    assert_int_equal(s.unicast, 1);
}

static void test_scrub_refusals(void **state)
{
    (void)state;
    assert_int_equal(mgr_vmnet_port_scrub(mem, size, 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "vmnet port 3 does not exist (3 ports)"));
    /* A taken switch lock: gives up (bounded), does not touch the port. */
    struct vmnet_hdr *h = (struct vmnet_hdr *)mem;
    uint64_t off0 = vmnet_port_offset(mem, size, 0);
    mem[off0 + 300] = 0x77;
    h->lock = 1;
    assert_int_equal(mgr_vmnet_port_scrub(mem, size, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "lock stayed taken"));
    assert_int_equal(mem[off0 + 300], 0x77);
    h->lock = 0;
    /* A damaged region is not touched. */
    h->magic = 0;
    assert_int_equal(mgr_vmnet_port_scrub(mem, size, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "vmnet_check"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scrub_returns_the_port_as_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_scrub_the_old_state_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scrub_refusals, setup, teardown),
    };
    return cmocka_run_group_tests_name("elisa_manager_scrub", tests, NULL, NULL);
}
