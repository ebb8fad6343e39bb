/* elisa/apps/fuzz_app_image.c - deterministic fuzz driver of the app
 * loader's parser, elisa_app_parse (`make elisa-apps-fuzz-run`).  Built
 * with AddressSanitizer and UBSan: a read outside the input, any undefined
 * behaviour, or a violated invariant of an accepted image aborts the run
 * with a non-zero exit.
 *
 *   fuzz_app_image [N [SEED [SECONDS]]]     (tests/fuzz_driver.h)
 *
 * Seeds: the real elisa/apps/nop.so and vmnet.so, found next to this
 * binary.  First every truncation of each seed's first 4 KiB and every
 * single-bit flip of its ELF header and program headers; then N seeded
 * random mutations (1-4 each), aimed mostly at what the parser reads: the
 * ELF header, program and section headers and .dynsym, as bytes and as
 * whole 16/32/64-bit fields set to edge values.  Every input is parsed
 * from a malloc'ed buffer of exactly its length, so reading one byte past
 * its end is an ASan report.
 *
 * Prints `fuzz_app_image: N inputs (A accepted), 0 failures`. */
#include <elf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "app_image.h"
#include "../../tests/fuzz_driver.h"

struct seed {
    const char *name;
    uint8_t *data;
    size_t len;
    size_t shoff, shsize;   /* the section header table, a mutation target */
    size_t dynsym, dynsym_size;
};

static struct seed seeds[2];
static unsigned long inputs, accepted;

static uint8_t *load_seed(const char *dir, const char *name, size_t *len)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz_app_image: cannot open %s: build it with make elisa/apps/%s\n", path, name);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "fuzz_app_image: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void init_seed(struct seed *s, const char *dir, const char *name)
{
    s->name = name;
    s->data = load_seed(dir, name, &s->len);
    /* The seeds are our own well-formed builds: their tables are where
     * their headers say (the first parse below checks they are accepted). */
    Elf64_Ehdr eh;
    memcpy(&eh, s->data, sizeof(eh));
    s->shoff = eh.e_shoff;
    s->shsize = (size_t)eh.e_shnum * sizeof(Elf64_Shdr);
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        Elf64_Shdr sh;
        memcpy(&sh, s->data + eh.e_shoff + i * sizeof(sh), sizeof(sh));
        if (sh.sh_type == SHT_DYNSYM) {
            s->dynsym = sh.sh_offset;
            s->dynsym_size = sh.sh_size;
        }
    }
}

/* One parse of buf[0..len) in an exact-size copy; checks an accepted image. */
static void run_one(const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL)
        exit(2);
    memcpy(copy, buf, len);
    struct elisa_app_image img;
    char err[256];
    inputs++;
    if (elisa_app_parse(copy, len, &img, err, sizeof(err)) == 0) {
        accepted++;
        if (img.bytes == NULL || img.size == 0 || img.size % 4096 != 0 || img.size > ELISA_APP_MAX_SIZE ||
            img.entry_offset >= img.size) {
            fprintf(stderr, "fuzz_app_image: accepted a bad image: size %lu entry %u (input %lu, %zu bytes)\n",
                    (unsigned long)img.size, img.entry_offset, inputs, len);
            exit(1);
        }
        /* Every byte of the image is ours to read (ASan checks). */
        volatile uint8_t sink = img.bytes[0] ^ img.bytes[img.size - 1] ^ img.bytes[img.entry_offset];
        (void)sink;
        elisa_app_free(&img);
    } else if (img.bytes != NULL || err[0] == '\0' || strchr(err, '\n') != NULL) {
        fprintf(stderr, "fuzz_app_image: a refusal left an image or a bad message \"%s\" (input %lu)\n", err,
                inputs);
        exit(1);
    }
    free(copy);
}

/* Values that sit on the edges of the checks. */
static uint64_t edge_value(size_t len)
{
    static const uint64_t fixed[] = { 0, 1, 2, 3, 7, 8, 56, 64, 0x1000, 0xfff, ELISA_APP_MAX_SIZE,
                                      ELISA_APP_MAX_SIZE + 1, 0x7fffffff, 0x80000000, 0xffffffff,
                                      0x100000000ull, INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX,
                                      UINT64_MAX - 0xfff };
    uint64_t r = rnd();
    switch (r % 4) {
    case 0: return len + (r >> 8) % 16 - 8;
    case 1: return r >> 2;
    default: return fixed[(r >> 8) % (sizeof(fixed) / sizeof(fixed[0]))];
    }
}

/* An offset aimed at what the parser reads. */
static size_t target(const struct seed *s, size_t len)
{
    uint64_t r = rnd();
    size_t off;
    switch (r % 5) {
    case 0: off = (r >> 8) % sizeof(Elf64_Ehdr); break;
    case 1: off = sizeof(Elf64_Ehdr) + (r >> 8) % (3 * sizeof(Elf64_Phdr)); break;
    case 2: off = s->shoff + (s->shsize ? (r >> 8) % s->shsize : 0); break;
    case 3: off = s->dynsym + (s->dynsym_size ? (r >> 8) % s->dynsym_size : 0); break;
    default: off = (r >> 8) % len; break;
    }
    return off < len ? off : len - 1;
}

static void mutate(const struct seed *s, uint8_t *buf, size_t *len)
{
    unsigned n = 1 + rnd() % 4;
    for (unsigned k = 0; k < n && *len > 0; k++) {
        size_t off = target(s, *len);
        uint64_t r = rnd();
        switch (r % 6) {
        case 0:
            buf[off] ^= (uint8_t)(1u << ((r >> 8) % 8));
            break;
        case 1:
            buf[off] = (uint8_t)(r >> 8);
            break;
        case 2: case 3: {
            /* A whole field, aligned as the headers' fields are. */
            static const size_t widths[] = { 2, 4, 8 };
            size_t w = widths[(r >> 8) % 3];
            off &= ~(w - 1);
            if (off + w <= *len) {
                uint64_t v = edge_value(*len);
                memcpy(buf + off, &v, w);   /* little-endian host: the low w bytes */
            }
            break;
        }
        case 4:
            *len = (size_t)((r >> 8) % *len);   /* truncate */
            break;
        default:
            break;   /* no change this round: keeps single mutations common */
        }
    }
}

int main(int argc, char **argv)
{
    struct fuzz_args a = fuzz_args_parse(argc, argv, 2.0);
    char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
    if (n <= 0) {
        fprintf(stderr, "fuzz_app_image: cannot read /proc/self/exe\n");
        return 2;
    }
    dir[n] = '\0';
    *strrchr(dir, '/') = '\0';   /* the binary lives in elisa/apps, next to the apps */
    init_seed(&seeds[0], dir, "nop.so");
    init_seed(&seeds[1], dir, "vmnet.so");
    double t0 = now_s();

    for (unsigned i = 0; i < 2; i++) {
        struct seed *s = &seeds[i];
        unsigned long before = accepted;
        run_one(s->data, s->len);
        if (accepted == before) {
            fprintf(stderr, "fuzz_app_image: the seed %s itself is refused\n", s->name);
            return 1;
        }
        /* Every truncation of the first 4 KiB. */
        for (size_t len = 0; len < s->len && len <= 4096; len++)
            run_one(s->data, len);
        /* Every single-bit flip of the ELF header and program headers. */
        uint8_t *buf = malloc(s->len);
        if (buf == NULL)
            return 2;
        size_t hdrs = sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr);
        for (size_t bit = 0; bit < hdrs * 8 && bit / 8 < s->len; bit++) {
            memcpy(buf, s->data, s->len);
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            run_one(buf, s->len);
        }
        free(buf);
    }

    uint8_t *buf = malloc(seeds[1].len > seeds[0].len ? seeds[1].len : seeds[0].len);
    if (buf == NULL)
        return 2;
    for (unsigned long i = 0; i < a.n; i++) {
        if ((i & 1023) == 0 && now_s() - t0 > a.limit)
            break;
        const struct seed *s = &seeds[rnd() % 2];
        size_t len = s->len;
        memcpy(buf, s->data, len);
        mutate(s, buf, &len);
        run_one(buf, len);
    }
    free(buf);
    printf("fuzz_app_image: %lu inputs (%lu accepted), 0 failures\n", inputs, accepted);
    return 0;
}
