/* tests/unit/test_app_image.c - the sub-context apps (elisa/apps) and their
 * loader (app_image.h), in user space.
 *
 * The real nop.so and vmnet.so, as apps.mk built them, are loaded, mapped
 * executable and CALLED: nop echoes; vmnet switches frames between two
 * ports of a region laid out by vmnet_init, byte-exact, in both directions,
 * with the port taken from the env and never from the caller.  Then broken
 * apps are refused with a one-line message naming the defect: real ones
 * made by the compiler (elisa/apps/testdata: a relocation, writable data,
 * an import, no entry, GNU ld's default layout) and mutations of nop.so's
 * headers (truncated, wrong class/machine/type, huge, overlapping or
 * misplaced segments, headers outside the file, a bad entry symbol, an
 * interpreter, a needed library).
 *
 * The .so files are found from this binary's own path (tests/unit/ in the
 * checkout), so the test runs from any directory. */
#include <elf.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "app.h"
#include "app_image.h"
#include "vmnet.h"

static char root[PATH_MAX];   /* the checkout: two levels above this binary */

static void find_root(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        fprintf(stderr, "test_app_image: cannot read /proc/self/exe\n");
        exit(1);
    }
    exe[n] = '\0';
    for (int up = 0; up < 3; up++) {   /* test_app_image, unit, tests */
        char *slash = strrchr(exe, '/');
        if (slash == NULL) {
            fprintf(stderr, "test_app_image: unexpected path %s\n", exe);
            exit(1);
        }
        *slash = '\0';
    }
    snprintf(root, sizeof(root), "%s", exe);
}

static const char *app_path(const char *rel)
{
    static char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return path;
}

/* The whole file, malloc'ed. */
static uint8_t *read_all(const char *rel, size_t *len)
{
    const char *path = app_path(rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (make %s)", path, rel);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(n > 0);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* An app loaded and mapped read + execute: its entry, callable. */
struct mapped_app {
    struct elisa_app_image img;
    void *code;
    elisa_app_fn entry;
};

static void map_app(const char *rel, struct mapped_app *a)
{
    char err[512] = "";
    if (elisa_app_load(app_path(rel), &a->img, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(a->img.size % 4096, 0);
    assert_true(a->img.entry_offset < a->img.size);
    a->code = elisa_app_map_exec(&a->img, err, sizeof(err));
    if (a->code == NULL)
        fail_msg("%s", err);
    /* Object pointer -> function pointer: POSIX guarantees it (dlsym). */
    uintptr_t entry = (uintptr_t)a->code + a->img.entry_offset;
    memcpy(&a->entry, &entry, sizeof(entry));
}

static void unmap_app(struct mapped_app *a)
{
    munmap(a->code, a->img.size);
    elisa_app_free(&a->img);
}

/* ---- nop ------------------------------------------------------------------ */
static void test_nop_echoes(void **state)
{
    (void)state;
    struct mapped_app a;
    map_app("elisa/apps/nop.so", &a);
    assert_string_equal(a.img.name, "nop");
    struct elisa_sub_env env = { 0, 0, 0, 0 };
    const uint64_t args[] = { 0, 1, 42, 0xdeadbeefcafef00dull, UINT64_MAX };
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
        assert_int_equal(a.entry(ELISA_NOP_ECHO, args[i], &env), args[i]);
    /* A guest passing any other fn gets ENOFN, whatever arg. */
    const uint64_t bad_fns[] = { 1, 2, 0xffffffffull, 1ull << 32, UINT64_MAX };
    for (size_t i = 0; i < sizeof(bad_fns) / sizeof(bad_fns[0]); i++)
        assert_int_equal(a.entry(bad_fns[i], 7, &env), ELISA_APP_ENOFN);
    unmap_app(&a);
}

/* ---- vmnet ---------------------------------------------------------------- */
struct region {
    uint8_t *mem;
    uint64_t size;
    struct vmnet_guest_port port[2];
};

static void make_region(struct region *r)
{
    struct vmnet_config cfg = { .nports = 2, .ring_slots = 8, .slot_size = 2048, .mac_sets = 16,
                                .age_limit = 0, .hash_seed = 0x1234 };
    r->size = vmnet_region_size(&cfg);
    assert_true(r->size > 0);
    r->mem = aligned_alloc(4096, r->size);
    assert_non_null(r->mem);
    assert_int_equal(vmnet_init(r->mem, r->size, &cfg), VMNET_OK);
    for (uint32_t p = 0; p < 2; p++) {
        uint64_t off = vmnet_port_offset(r->mem, r->size, p);
        uint64_t len = vmnet_port_area_size(r->mem, r->size);
        assert_true(off > 0 && len > 0);
        assert_int_equal(vmnet_guest_open(&r->port[p], r->mem + off, len), VMNET_OK);
    }
}

/* A deterministic frame: unicast source MAC 02:..:src, destination
 * 02:..:dst, then bytes of a small LCG seeded by `seed'. */
static void make_frame(uint8_t *f, uint32_t len, uint8_t src, uint8_t dst, uint32_t seed)
{
    const uint8_t d[6] = { 0x02, 0, 0, 0, 0, dst }, s[6] = { 0x02, 0, 0, 0, 0, src };
    memcpy(f, d, 6);
    memcpy(f + 6, s, 6);
    f[12] = 0x88;
    f[13] = 0xb5;   /* local experimental EtherType */
    uint32_t x = seed * 2654435761u + 1;
    for (uint32_t i = 14; i < len; i++) {
        x = x * 1103515245u + 12345u;
        f[i] = (uint8_t)(x >> 16);
    }
}

/* Puts the frames on `from''s TX ring, calls the app as the gate would
 * (env->arg = from), and checks every frame arrives on `to''s RX ring. */
static void switch_and_check(struct mapped_app *a, struct region *r, uint32_t from, uint32_t to)
{
    static const uint32_t lens[] = { 60, 1514, 777, 64, 1000 };
    const unsigned n = sizeof(lens) / sizeof(lens[0]);
    uint8_t frame[2048], got[2048];
    for (unsigned i = 0; i < n; i++) {
        make_frame(frame, lens[i], (uint8_t)(from + 1), (uint8_t)(to + 1), i + 100 * from);
        assert_int_equal(vmnet_guest_put(&r->port[from], frame, lens[i]), VMNET_OK);
    }
    struct elisa_sub_env env = { (uint64_t)(uintptr_t)r->mem, r->size, from, 0 };
    /* arg is the guest's and is ignored: a guest naming the other port
     * still drains only its own ring. */
    assert_int_equal((int64_t)a->entry(ELISA_VMNET_TX, to, &env), (int64_t)n);
    for (unsigned i = 0; i < n; i++) {
        make_frame(frame, lens[i], (uint8_t)(from + 1), (uint8_t)(to + 1), i + 100 * from);
        int len = vmnet_guest_get(&r->port[to], got, sizeof(got));
        assert_int_equal(len, (int)lens[i]);
        assert_memory_equal(got, frame, lens[i]);
    }
    assert_int_equal(vmnet_guest_get(&r->port[to], got, sizeof(got)), VMNET_EAGAIN);
    assert_int_equal(vmnet_guest_get(&r->port[from], got, sizeof(got)), VMNET_EAGAIN);   /* never back */
}

static void test_vmnet_switches_both_ways(void **state)
{
    (void)state;
    struct mapped_app a;
    map_app("elisa/apps/vmnet.so", &a);
    assert_string_equal(a.img.name, "vmnet");
    struct region r;
    make_region(&r);
    switch_and_check(&a, &r, 0, 1);
    switch_and_check(&a, &r, 1, 0);
    /* An empty TX ring: nothing to do. */
    struct elisa_sub_env env = { (uint64_t)(uintptr_t)r.mem, r.size, 0, 0 };
    assert_int_equal(a.entry(ELISA_VMNET_TX, 0, &env), 0);
    free(r.mem);
    unmap_app(&a);
}

static void test_vmnet_refuses_garbage(void **state)
{
    (void)state;
    struct mapped_app a;
    map_app("elisa/apps/vmnet.so", &a);
    struct region r;
    make_region(&r);
    uint8_t frame[128], got[2048];
    make_frame(frame, sizeof(frame), 1, 2, 9);
    assert_int_equal(vmnet_guest_put(&r.port[0], frame, sizeof(frame)), VMNET_OK);
    struct elisa_sub_env env = { (uint64_t)(uintptr_t)r.mem, r.size, 0, 0 };

    /* fn garbage: ENOFN, and nothing was switched. */
    const uint64_t bad_fns[] = { ELISA_NOP_ECHO, 2, 0xdeadbeef, UINT64_MAX };
    for (size_t i = 0; i < sizeof(bad_fns) / sizeof(bad_fns[0]); i++)
        assert_int_equal(a.entry(bad_fns[i], 0, &env), ELISA_APP_ENOFN);
    assert_int_equal(vmnet_guest_get(&r.port[1], got, sizeof(got)), VMNET_EAGAIN);

    /* A port the region does not have, also one that would wrap to 0 as a
     * u32: the error, sign-extended. */
    env.arg = 2;
    assert_int_equal(a.entry(ELISA_VMNET_TX, 0, &env), (uint64_t)(int64_t)VMNET_EPORT);
    env.arg = 1ull << 32;
    assert_int_equal(a.entry(ELISA_VMNET_TX, 0, &env), (uint64_t)(int64_t)VMNET_EPORT);
    /* A region size below the header's: refused, not read past. */
    env.arg = 0;
    env.shared_size = 4096;
    assert_int_equal(a.entry(ELISA_VMNET_TX, 0, &env), (uint64_t)(int64_t)VMNET_EBADREGION);
    assert_int_equal(vmnet_guest_get(&r.port[1], got, sizeof(got)), VMNET_EAGAIN);

    /* The frame is still queued: the right call switches it. */
    env.shared_size = r.size;
    assert_int_equal(a.entry(ELISA_VMNET_TX, 0, &env), 1);
    assert_int_equal(vmnet_guest_get(&r.port[1], got, sizeof(got)), (int)sizeof(frame));
    assert_memory_equal(got, frame, sizeof(frame));
    free(r.mem);
    unmap_app(&a);
}

/* ---- refusals ------------------------------------------------------------- */
/* Parses (file, len) expecting a refusal whose message contains `want',
 * is one line, names the app, and leaves no image behind. */
static void expect_refused(const uint8_t *file, size_t len, const char *want)
{
    struct elisa_app_image img;
    memset(&img, 0xA5, sizeof(img));
    char err[512] = "";
    int rc = elisa_app_parse(file, len, &img, err, sizeof(err));
    if (rc == 0)
        fail_msg("accepted; expected a refusal containing \"%s\"", want);
    if (strstr(err, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err, want);
    assert_null(strchr(err, '\n'));
    assert_true(strncmp(err, "app ", 4) == 0);
    assert_null(img.bytes);
    assert_int_equal(img.size, 0);
}

static void expect_file_refused(const char *rel, const char *want)
{
    struct elisa_app_image img;
    char err[512] = "";
    if (elisa_app_load(app_path(rel), &img, err, sizeof(err)) == 0)
        fail_msg("%s accepted; expected \"%s\"", rel, want);
    if (strstr(err, want) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", rel, err, want);
    assert_null(strchr(err, '\n'));
    assert_null(img.bytes);
}

static void test_refuses_real_broken_apps(void **state)
{
    (void)state;
    expect_file_refused("elisa/apps/testdata/bad_reloc.so",
                        "has 2 dynamic relocations (in .rela.dyn): the sub context cannot patch its code pages; "
                        "build it -fPIC -fvisibility=hidden with no data pointers");
    expect_file_refused("elisa/apps/testdata/bad_data.so", "has writable section .bss (8 bytes)");
    expect_file_refused("elisa/apps/testdata/bad_import.so", "imports 1 symbol (first: elisa_helper_somewhere)");
    expect_file_refused("elisa/apps/testdata/bad_noentry.so", "does not export elisa_app_entry");
    expect_file_refused("elisa/apps/testdata/nop_default_link.so", "has a writable segment");
    expect_file_refused("elisa/apps/testdata/no_such_app.so", "cannot open");
    expect_file_refused("elisa/apps", "is not a regular file");
}

/* nop.so's bytes, to mutate. */
struct elf_copy {
    uint8_t *b;
    size_t len;
    Elf64_Ehdr eh;
};

static void copy_nop(struct elf_copy *c)
{
    c->b = read_all("elisa/apps/nop.so", &c->len);
    memcpy(&c->eh, c->b, sizeof(c->eh));
    /* The mutations below assume app.ld's layout: LOAD, DYNAMIC, GNU_STACK. */
    assert_int_equal(c->eh.e_phnum, 3);
}

static Elf64_Phdr get_ph(const struct elf_copy *c, unsigned i)
{
    Elf64_Phdr ph;
    memcpy(&ph, c->b + c->eh.e_phoff + i * sizeof(ph), sizeof(ph));
    return ph;
}

static void put_ph(struct elf_copy *c, unsigned i, const Elf64_Phdr *ph)
{
    memcpy(c->b + c->eh.e_phoff + i * sizeof(*ph), ph, sizeof(*ph));
}

static void put_eh(struct elf_copy *c)
{
    memcpy(c->b, &c->eh, sizeof(c->eh));
}

/* File offset of the entry symbol in .dynsym. */
static size_t entry_sym_offset(const struct elf_copy *c)
{
    for (unsigned i = 0; i < c->eh.e_shnum; i++) {
        Elf64_Shdr sh, str;
        memcpy(&sh, c->b + c->eh.e_shoff + i * sizeof(sh), sizeof(sh));
        if (sh.sh_type != SHT_DYNSYM)
            continue;
        memcpy(&str, c->b + c->eh.e_shoff + sh.sh_link * sizeof(str), sizeof(str));
        for (size_t k = 1; k < sh.sh_size / sizeof(Elf64_Sym); k++) {
            Elf64_Sym s;
            memcpy(&s, c->b + sh.sh_offset + k * sizeof(s), sizeof(s));
            if (strcmp((const char *)c->b + str.sh_offset + s.st_name, ELISA_APP_ENTRY_SYM) == 0)
                return sh.sh_offset + k * sizeof(s);
        }
    }
    fail_msg("nop.so has no %s in .dynsym", ELISA_APP_ENTRY_SYM);
    return 0;
}

static void test_refuses_mutated_headers(void **state)
{
    (void)state;
    struct elf_copy c;
    copy_nop(&c);
    /* The unmodified copy is accepted: every refusal below is the mutation's. */
    struct elisa_app_image img;
    char err[512];
    assert_int_equal(elisa_app_parse(c.b, c.len, &img, err, sizeof(err)), 0);
    assert_int_equal(img.size, 4096);
    elisa_app_free(&img);

    expect_refused(NULL, 0, "no bytes");
    expect_refused(c.b, 40, "is 40 bytes, shorter than an ELF header");
    expect_refused(c.b, c.len / 2, "outside the");   /* sections cut off */

    struct elf_copy m;
    /* MUTATE(message expected, statements changing m) */
#define MUTATE(want, ...)                                   \
    do {                                                    \
        copy_nop(&m);                                       \
        __VA_ARGS__;                                        \
        expect_refused(m.b, m.len, want);                   \
        free(m.b);                                          \
    } while (0)

    MUTATE("is not an ELF file",
           m.b[1] = 'X');
    MUTATE("is not a 64-bit ELF file",
           m.b[EI_CLASS] = ELFCLASS32);
    MUTATE("is built for machine 183 (aarch64), not x86-64",
           m.eh.e_machine = EM_AARCH64; put_eh(&m));
    MUTATE("is an executable (ET_EXEC)",
           m.eh.e_type = ET_EXEC; put_eh(&m));
    MUTATE("is a relocatable object",
           m.eh.e_type = ET_REL; put_eh(&m));
    /* Program headers outside the file. */
    MUTATE("has its program headers (3 at offset",
           m.eh.e_phoff = m.len - 8; put_eh(&m));
    MUTATE("outside the",
           m.eh.e_phoff = UINT64_MAX - 8; put_eh(&m));
    MUTATE("has its section headers",
           m.eh.e_shoff = m.len; put_eh(&m));
    MUTATE("has no section headers",
           m.eh.e_shnum = 0; put_eh(&m));
    /* A huge segment (memory only: the file bytes stay in range). */
    MUTATE("an app image may be at most 1024 KiB",
           Elf64_Phdr ph = get_ph(&m, 0); ph.p_memsz = 1ull << 30; put_ph(&m, 0, &ph));
    /* Two segments, each small, spanning more than the limit. */
    MUTATE("has segments spanning",
           Elf64_Phdr ph = get_ph(&m, 0); ph.p_vaddr = 64ull << 20; ph.p_memsz = ph.p_filesz; put_ph(&m, 2, &ph));
    /* A second PT_LOAD over the first. */
    MUTATE("has overlapping segments",
           Elf64_Phdr ph = get_ph(&m, 0); ph.p_vaddr += 16; ph.p_flags = PF_R; put_ph(&m, 2, &ph));
    /* A segment's bytes past the end of the file. */
    MUTATE("has segment 0 (0x",
           Elf64_Phdr ph = get_ph(&m, 0); ph.p_offset = m.len - 16; put_ph(&m, 0, &ph));
    MUTATE("more file bytes",
           Elf64_Phdr ph = get_ph(&m, 0); ph.p_filesz = ph.p_memsz + 1; put_ph(&m, 0, &ph));
    MUTATE("has a writable segment",
           Elf64_Phdr ph = get_ph(&m, 0); ph.p_flags |= PF_W; put_ph(&m, 0, &ph));
    MUTATE("has an interpreter",
           Elf64_Phdr ph = get_ph(&m, 2); ph.p_type = PT_INTERP; put_ph(&m, 2, &ph));
    MUTATE("thread-local storage",
           Elf64_Phdr ph = get_ph(&m, 2); ph.p_type = PT_TLS; put_ph(&m, 2, &ph));
    MUTATE("of type 0x12345, which the loader cannot place",
           Elf64_Phdr ph = get_ph(&m, 2); ph.p_type = 0x12345; put_ph(&m, 2, &ph));
    MUTATE("has no loadable segment",
           Elf64_Phdr ph = get_ph(&m, 0); ph.p_type = PT_NOTE; put_ph(&m, 0, &ph));
    /* The dynamic array: a needed library, constructors, no end. */
    MUTATE("needs a shared library (DT_NEEDED)",
           Elf64_Phdr d = get_ph(&m, 1); Elf64_Sxword t = DT_NEEDED; memcpy(m.b + d.p_offset, &t, 8));
    MUTATE("has constructors or destructors",
           Elf64_Phdr d = get_ph(&m, 1); Elf64_Sxword t = DT_INIT_ARRAY; memcpy(m.b + d.p_offset, &t, 8));
    MUTATE("without its DT_NULL end",
           Elf64_Phdr d = get_ph(&m, 1); d.p_filesz = 2 * sizeof(Elf64_Dyn); put_ph(&m, 1, &d));
    /* The entry symbol: imported, not a function, outside the code. */
    MUTATE("imports 1 symbol (first: elisa_app_entry)",
           Elf64_Sym s; size_t o = entry_sym_offset(&m); memcpy(&s, m.b + o, sizeof(s)); s.st_shndx = SHN_UNDEF;
           memcpy(m.b + o, &s, sizeof(s)));
    MUTATE("not a function",
           Elf64_Sym s; size_t o = entry_sym_offset(&m); memcpy(&s, m.b + o, sizeof(s));
           s.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT); memcpy(m.b + o, &s, sizeof(s)));
    MUTATE("not inside an executable segment",
           Elf64_Sym s; size_t o = entry_sym_offset(&m); memcpy(&s, m.b + o, sizeof(s)); s.st_value = 0x100000;
           memcpy(m.b + o, &s, sizeof(s)));
    MUTATE("does not export elisa_app_entry",
           Elf64_Sym s; size_t o = entry_sym_offset(&m); memcpy(&s, m.b + o, sizeof(s)); s.st_name = 0x7fffffff;
           memcpy(m.b + o, &s, sizeof(s)));
#undef MUTATE
    free(c.b);
}

static void test_map_exec_refuses_empty_image(void **state)
{
    (void)state;
    struct elisa_app_image img;
    memset(&img, 0, sizeof(img));
    char err[256] = "";
    assert_null(elisa_app_map_exec(&img, err, sizeof(err)));
    assert_non_null(strstr(err, "not a loaded image"));
    assert_null(elisa_app_map_exec(NULL, err, sizeof(err)));
    /* A NULL err buffer is allowed. */
    assert_int_equal(elisa_app_parse((const uint8_t *)"x", 1, &img, NULL, 0), -1);
}

int main(void)
{
    find_root();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nop_echoes),
        cmocka_unit_test(test_vmnet_switches_both_ways),
        cmocka_unit_test(test_vmnet_refuses_garbage),
        cmocka_unit_test(test_refuses_real_broken_apps),
        cmocka_unit_test(test_refuses_mutated_headers),
        cmocka_unit_test(test_map_exec_refuses_empty_image),
    };
    return cmocka_run_group_tests_name("test_app_image", tests, NULL, NULL);
}
