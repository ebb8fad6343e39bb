/* tests/unit/test_elisa_manager_options.c - cmocka tests of `elisactl
 * start`'s options (elisa/manager/options.h) and of the address parser the
 * guest library shares (elisa_neg_parse_addr): defaults, both option
 * forms, every refusal with its one line.  Built with ASan+UBSan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "../../elisa/guest/negotiate.h"
#include "../../elisa/manager/link_msg.h"
#include "../../elisa/manager/options.h"

static struct mgr_options o;
static char err[512];

/* Parse a NULL-terminated list of words. */
static int parse(const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;

    va_start(ap, first);
    for (const char *a = first; a && argc < 32; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    err[0] = '\0';
    return mgr_options_parse(argc, argv, &o, err, sizeof(err));
}

static void test_defaults(void **state)
{
    char link[128];

    (void)state;
    assert_int_equal(parse("--app", "nop=elisa/apps/nop.so", NULL), 0);
    assert_string_equal(o.listen_host, "127.0.0.1");
    assert_int_equal(o.listen_port, 7070);
    assert_string_equal(o.link_path, elisa_link_default_path(link, sizeof(link)));
    snprintf(link + strlen(link), sizeof(link) - strlen(link), ".log");
    assert_string_equal(o.log_path, link);
    assert_string_equal(o.name, MGR_DEFAULT_NAME);
    assert_int_equal(o.host, MGR_HOST_EXIT);
    assert_false(o.foreground);
    assert_true(o.gate_gpa == 0xc0000000ull && o.gate_gva == 0xc0000000ull);
    assert_true(o.shared_gpa == 0xc0200000ull && o.shared_stride == (4ull << 20));
    assert_int_equal(o.doorbell, 0);   /* MMIO */
    assert_int_equal(o.max_conns, 128);
    assert_int_equal(o.msg_timeout_ms, 5000);
    assert_int_equal(o.napps, 1);
    assert_string_equal(o.apps[0].name, "nop");
    assert_string_equal(o.apps[0].path, "elisa/apps/nop.so");
    assert_int_equal(o.apps[0].ports, 0);   /* only vmnet has ports */
}

static void test_everything_given(void **state)
{
    (void)state;
    assert_int_equal(parse("--listen", "127.0.0.1:0", "--link=/tmp/x/l.sock", "--name", "mgr-2",
                           "--app", "vmnet=/a/vmnet.so,ports=4,slots=64,slot-size=4096",
                           "--app=nop=/a/nop.so", "--host", "exit", "--foreground",
                           "--log", "/tmp/x/log", "--gate-gpa", "0x80000000",
                           "--shared-gpa", "0x90000000", "--shared-stride", "8M",
                           "--doorbell", "0x510", "--max-conns=16", "--msg-timeout-ms", "250",
                           NULL), 0);
    assert_int_equal(o.listen_port, 0);
    assert_string_equal(o.link_path, "/tmp/x/l.sock");
    assert_string_equal(o.log_path, "/tmp/x/log");
    assert_string_equal(o.name, "mgr-2");
    assert_int_equal(o.napps, 2);
    assert_string_equal(o.apps[0].name, "vmnet");
    assert_int_equal(o.apps[0].ports, 4);
    assert_int_equal(o.apps[0].ring_slots, 64);
    assert_int_equal(o.apps[0].slot_size, 4096);
    assert_string_equal(o.apps[1].path, "/a/nop.so");
    assert_true(o.foreground);
    assert_true(o.gate_gpa == 0x80000000ull);
    assert_true(o.gate_gva == 0x80000000ull);   /* follows the GPA unless given */
    assert_true(o.shared_stride == (8ull << 20));
    assert_int_equal(o.doorbell, 0x510);
    assert_int_equal(o.max_conns, 16);
    assert_int_equal(o.msg_timeout_ms, 250);
    /* vmnet's defaults, and a GVA of its own. */
    assert_int_equal(parse("--gate-gva", "0xffff800000000000", "--app", "vmnet=v.so", NULL), 0);
    assert_int_equal(o.apps[0].ports, 8);
    assert_int_equal(o.apps[0].ring_slots, 256);
    assert_int_equal(o.apps[0].slot_size, 2048);
    assert_true(o.gate_gva == 0xffff800000000000ull);
    assert_int_equal(parse("--doorbell", "0x5e1a", "--doorbell=mmio", "--app", "nop=n.so", NULL), 0);
    assert_int_equal(o.doorbell, 0);
    assert_int_equal(parse("--doorbell", "mmio", "--doorbell=0x5e1a", "--app", "nop=n.so", NULL), 0);
    assert_int_equal(o.doorbell, 0x5e1a);
    assert_int_equal(parse("--host", "vmfunc", "--app", "nop=n.so", NULL), 0);
    assert_int_equal(o.host, MGR_HOST_VMFUNC);
    assert_int_equal(o.elisa_id, MGR_DEFAULT_ELISA_ID);
    assert_false(o.no_manager_vm);
    assert_int_equal(parse("--host", "vmfunc", "--elisa-id=0x10", "--no-manager-vm", "--app", "nop=n.so", NULL), 0);
    assert_int_equal(o.elisa_id, 16);
    assert_true(o.no_manager_vm);
    assert_int_equal(parse("--host", "vmfunc", "--elisa-id", "65279", "--app", "nop=n.so", NULL), 0);
    assert_int_equal(o.elisa_id, 65279);
}

static void test_refusals(void **state)
{
    (void)state;
#define REFUSED(text, ...)                                           \
    do {                                                             \
        assert_int_equal(parse(__VA_ARGS__, NULL), -1);              \
        if (!strstr(err, text))                                      \
            fail_msg("expected \"%s\" in \"%s\"", text, err);        \
    } while (0)
    REFUSED("no app; give at least one", "--listen", "127.0.0.1:1");
    REFUSED("unknown option \"--bogus\"", "--bogus");
    REFUSED("--listen needs a value", "--app", "nop=n.so", "--listen");
    REFUSED("is not a dotted IPv4 address", "--listen", "localhost:7070");
    REFUSED("port \"70000\" is not 1..65535", "--listen", "127.0.0.1:70000");
    REFUSED("expected HOST:PORT", "--listen", "127.0.0.1");
    REFUSED("expected NAME=PATH", "--app", "vmnet");
    REFUSED("expected NAME=PATH", "--app", "=x.so");
    REFUSED("app name \"a/b\"", "--app", "a/b=x.so");
    REFUSED("app nop is given twice", "--app", "nop=a.so", "--app", "nop=b.so");
    REFUSED("only vmnet takes options", "--app", "nop=n.so,ports=2");
    REFUSED("ports=0: use 1..64", "--app", "vmnet=v.so,ports=0");
    REFUSED("ports=65: use 1..64", "--app", "vmnet=v.so,ports=65");
    REFUSED("slots=100: use a power of two", "--app", "vmnet=v.so,slots=100");
    REFUSED("slot-size=128", "--app", "vmnet=v.so,slot-size=128");
    REFUSED("unknown option \"colour\"", "--app", "vmnet=v.so,colour=2");
    REFUSED("expected ports=N", "--app", "vmnet=v.so,ports");
    REFUSED("--host kvm: use exit", "--host", "kvm");
    REFUSED("--doorbell 0: use mmio or an I/O port", "--doorbell", "0");
    REFUSED("--doorbell mmi0: use mmio or an I/O port", "--doorbell", "mmi0");
    REFUSED("--doorbell 65536: use mmio", "--doorbell", "65536");
    REFUSED("--max-conns 0: use 1..1000", "--max-conns", "0");
    REFUSED("--msg-timeout-ms 1: use 10..600000", "--msg-timeout-ms", "1");
    REFUSED("--gate-gpa -1: not a number", "--gate-gpa", "-1");
    REFUSED("--shared-stride 4Q: not a number", "--shared-stride", "4Q");
    REFUSED("--name a b: use 1..63", "--name", "a b");
    REFUSED("--elisa-id 0: use 1..65279", "--host", "vmfunc", "--elisa-id", "0");
    REFUSED("--elisa-id 65280: use 1..65279", "--host", "vmfunc", "--elisa-id", "65280");
    REFUSED("--no-manager-vm is for --host vmfunc only", "--no-manager-vm", "--app", "nop=n.so");
    REFUSED("a unix socket's limit",
            "--link", "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock");
#undef REFUSED
}

static void test_numbers_and_addresses(void **state)
{
    struct sockaddr_in sa;
    uint64_t v;

    (void)state;
    assert_int_equal(mgr_parse_u64("0x10", &v), 0);
    assert_true(v == 16);
    assert_int_equal(mgr_parse_u64("4K", &v), 0);
    assert_true(v == 4096);
    assert_int_equal(mgr_parse_u64("2G", &v), 0);
    assert_true(v == (2ull << 30));
    assert_int_equal(mgr_parse_u64("", &v), -1);
    assert_int_equal(mgr_parse_u64(" 1", &v), -1);
    assert_int_equal(mgr_parse_u64("1KB", &v), -1);
    assert_int_equal(mgr_parse_u64("99999999999999999999", &v), -1);
    assert_int_equal(mgr_parse_u64("0xffffffffffffffffG", &v), -1);   /* overflows */

    assert_int_equal(elisa_neg_parse_addr("127.0.0.1:7070", &sa, 0, err, sizeof(err)), 0);
    assert_int_equal(ntohs(sa.sin_port), 7070);
    assert_true(sa.sin_addr.s_addr == htonl(0x7f000001));
    assert_int_equal(elisa_neg_parse_addr("127.0.0.1:0", &sa, 0, err, sizeof(err)), -1);
    assert_int_equal(elisa_neg_parse_addr("127.0.0.1:0", &sa, 1, err, sizeof(err)), 0);
    assert_int_equal(elisa_neg_parse_addr("127.0.0.1:", &sa, 1, err, sizeof(err)), -1);
    assert_int_equal(elisa_neg_parse_addr("127.0.0.1:+80", &sa, 1, err, sizeof(err)), -1);
    assert_int_equal(elisa_neg_parse_addr(":80", &sa, 1, err, sizeof(err)), -1);
    assert_int_equal(elisa_neg_parse_addr(NULL, &sa, 1, err, sizeof(err)), -1);
    assert_int_equal(elisa_neg_parse_addr("1.2.3.4.5:80", &sa, 1, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_everything_given),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_numbers_and_addresses),
    };
    return cmocka_run_group_tests_name("elisa_manager_options", tests, NULL, NULL);
}
