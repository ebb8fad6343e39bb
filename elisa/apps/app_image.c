/* elisa/apps/app_image.c - load a sub-context app (app.h) from its ELF
 * shared object into a flat image (app_image.h).
 *
 * The sub context has no dynamic linker: whatever bytes the manager copies
 * into its code pages must run as they are, at any page-aligned address,
 * with nothing mapped but those pages, a small stack and the shared region.
 * So this loader does not "load" in the ld.so sense; it proves that the
 * file needs no loading (no relocations, no imports, no data, no
 * constructors), places the PT_LOAD segments in one zeroed buffer at their
 * offsets from the lowest page, and finds the entry symbol.  Everything the
 * file says is untrusted: every offset and size is range-checked before use
 * (the fuzz driver fuzz_app_image.c runs this under ASan and UBSan), and
 * every refusal is one line that says what is wrong and how to fix the app.
 *
 * Structures are copied out of the file with memcpy: the buffer may be at
 * any alignment (the fuzz driver's is), and a cast would be undefined
 * behaviour.  Field names are those of <elf.h> (ELF gABI, "ELF Header",
 * "Program Header", "Sections", "Symbol Table", "Dynamic Section").
 */
#include "app_image.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"

#define APP_PAGE        4096u
#define APP_MAX_PHDRS   64u          /* an app has 3; more is a damaged file */
#define APP_MAX_SHDRS   1024u
#define APP_MAX_SYMS    65536u
#define APP_MAX_FILE    (64u << 20)  /* debug info included; the image stays <= 1 MiB */
/* What every refusal about the build ends with. */
#define APP_REBUILD     "rebuild it with elisa/apps/apps.mk (make elisa/apps/<name>.so)"

#ifndef SHT_RELR
#define SHT_RELR 19
#endif
#ifndef DT_RELRSZ
#define DT_RELRSZ 35
#define DT_RELR   36
#endif

struct parser {
    const uint8_t *f;
    size_t len;
    const char *name;          /* for messages: the file's base name */
    char *err;
    size_t errlen;
    Elf64_Ehdr eh;
    /* PT_LOAD segments with memsz > 0, in file order. */
    Elf64_Phdr load[APP_MAX_PHDRS];
    unsigned nload;
    bool has_dynamic;
    Elf64_Phdr dynamic;
    uint64_t lo, hi;           /* the image's span: page-aligned */
    Elf64_Shdr shstr;          /* the section-name table */
    uint64_t nrel;             /* allocated relocation entries */
    const char *relsec;        /* the first section holding some */
};

/* One line "app NAME <what>" into err; always returns -1. */
__attribute__((format(printf, 2, 3)))
static int refuse(struct parser *p, const char *fmt, ...)
{
    if (p->err == NULL || p->errlen == 0)
        return -1;
    int n = snprintf(p->err, p->errlen, "app %s ", p->name);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* [off, off + size) lies inside the file (no overflow possible). */
static bool in_file(const struct parser *p, uint64_t off, uint64_t size)
{
    return off <= p->len && size <= p->len - off;
}

static void get_phdr(const struct parser *p, unsigned i, Elf64_Phdr *ph)
{
    memcpy(ph, p->f + p->eh.e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

static void get_shdr(const struct parser *p, unsigned i, Elf64_Shdr *sh)
{
    memcpy(sh, p->f + p->eh.e_shoff + (uint64_t)i * sizeof(*sh), sizeof(*sh));
}

/* The NUL-terminated string at `off' of a string table section, or NULL if
 * it runs past the table (the table itself was checked to be in the file). */
static const char *table_string(const struct parser *p, const Elf64_Shdr *tab, uint64_t off)
{
    if (tab->sh_type != SHT_STRTAB || off >= tab->sh_size)
        return NULL;
    const char *s = (const char *)p->f + tab->sh_offset + off;
    if (memchr(s, '\0', tab->sh_size - off) == NULL)
        return NULL;
    return s;
}

static const char *section_name(const struct parser *p, const Elf64_Shdr *sh)
{
    const char *s = table_string(p, &p->shstr, sh->sh_name);
    return s ? s : "(unnamed)";
}

static const char *machine_name(unsigned m)
{
    switch (m) {
    case EM_386: return "i386";
    case EM_ARM: return "arm";
    case EM_AARCH64: return "aarch64";
    case EM_RISCV: return "riscv";
    case EM_PPC64: return "ppc64";
    case EM_S390: return "s390";
    default: return "not x86-64";
    }
}

/* ---- the ELF header ------------------------------------------------------ */
static int check_header(struct parser *p)
{
    if (p->len < sizeof(Elf64_Ehdr))
        return refuse(p, "is %zu bytes, shorter than an ELF header (64): not an app; %s", p->len, APP_REBUILD);
    memcpy(&p->eh, p->f, sizeof(p->eh));
    const Elf64_Ehdr *e = &p->eh;
    if (memcmp(e->e_ident, ELFMAG, SELFMAG) != 0)
        return refuse(p, "is not an ELF file (no \\177ELF magic): an app is an ELF shared object; %s", APP_REBUILD);
    if (e->e_ident[EI_CLASS] != ELFCLASS64)
        return refuse(p, "is not a 64-bit ELF file (class %u): build it with an x86-64 gcc (-m64)",
                      e->e_ident[EI_CLASS]);
    if (e->e_ident[EI_DATA] != ELFDATA2LSB)
        return refuse(p, "is not little-endian (data encoding %u): build it with an x86-64 gcc", e->e_ident[EI_DATA]);
    if (e->e_ident[EI_VERSION] != EV_CURRENT || e->e_version != EV_CURRENT)
        return refuse(p, "has ELF version %u/%u, not 1: the file is damaged; %s", e->e_ident[EI_VERSION],
                      e->e_version, APP_REBUILD);
    if (e->e_machine != EM_X86_64)
        return refuse(p, "is built for machine %u (%s), not x86-64 (62): build it with the host's x86-64 gcc",
                      e->e_machine, machine_name(e->e_machine));
    if (e->e_type == ET_EXEC)
        return refuse(p, "is an executable (ET_EXEC), not a shared object: link it with -shared -nostdlib (%s)",
                      "elisa/apps/apps.mk");
    if (e->e_type == ET_REL)
        return refuse(p, "is a relocatable object (.o), not a shared object: link it with -shared -nostdlib "
                      "-Wl,-T,elisa/apps/app.ld");
    if (e->e_type != ET_DYN)
        return refuse(p, "has ELF type %u, not ET_DYN (3): an app is a shared object; %s", e->e_type, APP_REBUILD);
    if (e->e_ehsize != sizeof(Elf64_Ehdr) || e->e_phentsize != sizeof(Elf64_Phdr))
        return refuse(p, "has header sizes %u/%u, not 64/56: the file is damaged; %s", e->e_ehsize, e->e_phentsize,
                      APP_REBUILD);
    if (e->e_phnum == 0 || e->e_phnum > APP_MAX_PHDRS)
        return refuse(p, "has %u program headers (1..%u expected): the file is damaged; %s", e->e_phnum,
                      APP_MAX_PHDRS, APP_REBUILD);
    if (!in_file(p, e->e_phoff, (uint64_t)e->e_phnum * sizeof(Elf64_Phdr)))
        return refuse(p, "has its program headers (%u at offset 0x%lx) outside the %zu-byte file: the file is "
                      "truncated or damaged; %s", e->e_phnum, (unsigned long)e->e_phoff, p->len, APP_REBUILD);
    /* The entry symbol is found through the section headers (.dynsym):
     * a file without them (sstrip) cannot name its entry. */
    if (e->e_shnum == 0)
        return refuse(p, "has no section headers (stripped with sstrip?): the loader finds %s through .dynsym; %s",
                      ELISA_APP_ENTRY_SYM, APP_REBUILD);
    if (e->e_shentsize != sizeof(Elf64_Shdr) || e->e_shnum > APP_MAX_SHDRS || e->e_shstrndx >= e->e_shnum)
        return refuse(p, "has a bad section header table (entry size %u, %u entries, names in %u): the file is "
                      "damaged; %s", e->e_shentsize, e->e_shnum, e->e_shstrndx, APP_REBUILD);
    if (!in_file(p, e->e_shoff, (uint64_t)e->e_shnum * sizeof(Elf64_Shdr)))
        return refuse(p, "has its section headers (%u at offset 0x%lx) outside the %zu-byte file: the file is "
                      "truncated or damaged; %s", e->e_shnum, (unsigned long)e->e_shoff, p->len, APP_REBUILD);
    return 0;
}

/* ---- program headers: what gets placed ----------------------------------- */
static int check_segments(struct parser *p)
{
    for (unsigned i = 0; i < p->eh.e_phnum; i++) {
        Elf64_Phdr ph;
        get_phdr(p, i, &ph);
        switch (ph.p_type) {
        case PT_LOAD:
            if (ph.p_filesz > ph.p_memsz)
                return refuse(p, "has segment %u with more file bytes (0x%lx) than memory (0x%lx): the file is "
                              "damaged; %s", i, (unsigned long)ph.p_filesz, (unsigned long)ph.p_memsz, APP_REBUILD);
            if (!in_file(p, ph.p_offset, ph.p_filesz))
                return refuse(p, "has segment %u (0x%lx bytes at offset 0x%lx) outside the %zu-byte file: the file "
                              "is truncated; %s", i, (unsigned long)ph.p_filesz, (unsigned long)ph.p_offset, p->len,
                              APP_REBUILD);
            if (ph.p_memsz > ELISA_APP_MAX_SIZE || ph.p_vaddr > UINT64_MAX - ELISA_APP_MAX_SIZE - APP_PAGE)
                return refuse(p, "has segment %u of 0x%lx bytes at 0x%lx: an app image may be at most %u KiB "
                              "(ELISA_APP_MAX_SIZE)", i, (unsigned long)ph.p_memsz, (unsigned long)ph.p_vaddr,
                              ELISA_APP_MAX_SIZE >> 10);
            if (ph.p_flags & PF_W)
                return refuse(p, "has a writable segment (%u: 0x%lx bytes at 0x%lx): an app keeps no data (its "
                              "state lives in the shared region or on the sub stack); link it with "
                              "-Wl,-T,elisa/apps/app.ld", i, (unsigned long)ph.p_memsz, (unsigned long)ph.p_vaddr);
            if (ph.p_memsz != 0)
                p->load[p->nload++] = ph;
            break;
        case PT_DYNAMIC:
            if (p->has_dynamic || !in_file(p, ph.p_offset, ph.p_filesz) || ph.p_filesz % sizeof(Elf64_Dyn) != 0)
                return refuse(p, "has a bad PT_DYNAMIC (%u: 0x%lx bytes at offset 0x%lx, or a second one): the "
                              "file is damaged; %s", i, (unsigned long)ph.p_filesz, (unsigned long)ph.p_offset,
                              APP_REBUILD);
            p->has_dynamic = true;
            p->dynamic = ph;
            break;
        case PT_INTERP:
            return refuse(p, "has an interpreter (PT_INTERP): it is a program, not an app; link it with -shared "
                          "-nostdlib");
        case PT_TLS:
            return refuse(p, "uses thread-local storage (PT_TLS), which the sub context does not have: keep state "
                          "in the shared region (env->shared_va)");
        case PT_GNU_RELRO:
            return refuse(p, "has a PT_GNU_RELRO segment (data written at load time): an app has no data to "
                          "relocate; link it with -Wl,-z,norelro -Wl,-T,elisa/apps/app.ld");
        case PT_NULL:
        case PT_NOTE:
        case PT_PHDR:
        case PT_GNU_STACK:
        case PT_GNU_EH_FRAME:
        case PT_GNU_PROPERTY:
            break;   /* nothing to place */
        default:
            return refuse(p, "has program header %u of type 0x%x, which the loader cannot place; %s", i, ph.p_type,
                          APP_REBUILD);
        }
    }
    if (p->nload == 0)
        return refuse(p, "has no loadable segment (PT_LOAD): nothing to run; %s", APP_REBUILD);

    /* The segments must not overlap: each byte of the image comes from one
     * place.  (They may share a page, as mmap-based loaders allow.) */
    p->lo = UINT64_MAX;
    p->hi = 0;
    for (unsigned i = 0; i < p->nload; i++) {
        const Elf64_Phdr *a = &p->load[i];
        for (unsigned j = i + 1; j < p->nload; j++) {
            const Elf64_Phdr *b = &p->load[j];
            if (a->p_vaddr < b->p_vaddr + b->p_memsz && b->p_vaddr < a->p_vaddr + a->p_memsz)
                return refuse(p, "has overlapping segments (0x%lx+0x%lx and 0x%lx+0x%lx): the file is damaged; %s",
                              (unsigned long)a->p_vaddr, (unsigned long)a->p_memsz, (unsigned long)b->p_vaddr,
                              (unsigned long)b->p_memsz, APP_REBUILD);
        }
        /* No overflow: p_vaddr + p_memsz + page < 2^64 was checked above. */
        uint64_t start = a->p_vaddr & ~(uint64_t)(APP_PAGE - 1);
        uint64_t end = (a->p_vaddr + a->p_memsz + APP_PAGE - 1) & ~(uint64_t)(APP_PAGE - 1);
        if (start < p->lo)
            p->lo = start;
        if (end > p->hi)
            p->hi = end;
    }
    if (p->hi - p->lo > ELISA_APP_MAX_SIZE)
        return refuse(p, "has segments spanning 0x%lx bytes (0x%lx..0x%lx): an app image may be at most %u KiB "
                      "(ELISA_APP_MAX_SIZE)", (unsigned long)(p->hi - p->lo), (unsigned long)p->lo,
                      (unsigned long)p->hi, ELISA_APP_MAX_SIZE >> 10);
    return 0;
}

/* ---- sections: relocations, data, the dynamic symbol table --------------- */
static int check_sections(struct parser *p, Elf64_Shdr *dynsym, Elf64_Shdr *dynstr)
{
    get_shdr(p, p->eh.e_shstrndx, &p->shstr);
    if (p->shstr.sh_type != SHT_STRTAB || !in_file(p, p->shstr.sh_offset, p->shstr.sh_size))
        return refuse(p, "has a bad section-name table (section %u): the file is damaged; %s", p->eh.e_shstrndx,
                      APP_REBUILD);

    unsigned ndynsym = 0;
    for (unsigned i = 0; i < p->eh.e_shnum; i++) {
        Elf64_Shdr sh;
        get_shdr(p, i, &sh);
        if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL && !in_file(p, sh.sh_offset, sh.sh_size))
            return refuse(p, "has section %u (0x%lx bytes at offset 0x%lx) outside the %zu-byte file: the file is "
                          "truncated; %s", i, (unsigned long)sh.sh_size, (unsigned long)sh.sh_offset, p->len,
                          APP_REBUILD);
        bool alloc = (sh.sh_flags & SHF_ALLOC) != 0;
        /* Relocations a loader would have to apply (allocated ones: the
         * non-allocated kind only comes from --emit-relocs and is inert). */
        if (alloc && sh.sh_size != 0 &&
            (sh.sh_type == SHT_RELA || sh.sh_type == SHT_REL || sh.sh_type == SHT_RELR)) {
            uint64_t ent = sh.sh_type == SHT_RELA ? sizeof(Elf64_Rela)
                         : sh.sh_type == SHT_REL  ? sizeof(Elf64_Rel) : sizeof(Elf64_Xword);
            p->nrel += (sh.sh_size + ent - 1) / ent;
            if (p->relsec == NULL)
                p->relsec = section_name(p, &sh);
        }
        if (sh.sh_type == SHT_DYNSYM) {
            ndynsym++;
            *dynsym = sh;
        }
    }

    if (ndynsym == 0)
        return refuse(p, "exports no symbols (no .dynsym): define %s with __attribute__((visibility(\"default\"))) "
                      "and link it with -shared", ELISA_APP_ENTRY_SYM);
    if (ndynsym > 1 || dynsym->sh_entsize != sizeof(Elf64_Sym) || dynsym->sh_size % sizeof(Elf64_Sym) != 0 ||
        dynsym->sh_size / sizeof(Elf64_Sym) > APP_MAX_SYMS || dynsym->sh_link >= p->eh.e_shnum)
        return refuse(p, "has a bad dynamic symbol table (.dynsym): the file is damaged; %s", APP_REBUILD);
    get_shdr(p, dynsym->sh_link, dynstr);
    if (dynstr->sh_type != SHT_STRTAB)
        return refuse(p, "has a bad dynamic string table (section %u): the file is damaged; %s", dynsym->sh_link,
                      APP_REBUILD);
    return 0;
}

/* Relocations (counted by check_sections), then data: in this order
 * because an import or a data pointer also makes writable sections (.got,
 * .data.rel.ro), and the relocation is the cause to report. */
static int check_relocations_and_data(struct parser *p)
{
    if (p->nrel != 0)
        return refuse(p, "has %lu dynamic relocation%s (in %s): the sub context cannot patch its code pages; build "
                      "it -fPIC -fvisibility=hidden with no data pointers (no pointer tables, no address of a "
                      "global stored in data)", (unsigned long)p->nrel, p->nrel == 1 ? "" : "s", p->relsec);

    /* Writable or thread-local sections: data the app would keep. (.dynamic
     * carries SHF_WRITE by convention; app.ld puts it in the read-only
     * segment and nothing writes it.) */
    for (unsigned i = 0; i < p->eh.e_shnum; i++) {
        Elf64_Shdr sh;
        get_shdr(p, i, &sh);
        if ((sh.sh_flags & SHF_ALLOC) && (sh.sh_flags & SHF_TLS))
            return refuse(p, "has thread-local section %s, which the sub context does not have: keep state in the "
                          "shared region (env->shared_va)", section_name(p, &sh));
        if ((sh.sh_flags & SHF_ALLOC) && (sh.sh_flags & SHF_WRITE) && sh.sh_type != SHT_DYNAMIC && sh.sh_size != 0)
            return refuse(p, "has writable section %s (%lu bytes): an app keeps no data; put its state in the shared "
                          "region (env->shared_va) or on the stack", section_name(p, &sh),
                          (unsigned long)sh.sh_size);
    }
    return 0;
}

/* ---- the dynamic array: what ld.so would have done ----------------------- */
static int check_dynamic(struct parser *p)
{
    if (!p->has_dynamic)
        return 0;
    uint64_t n = p->dynamic.p_filesz / sizeof(Elf64_Dyn);
    for (uint64_t i = 0; i < n; i++) {
        Elf64_Dyn d;
        memcpy(&d, p->f + p->dynamic.p_offset + i * sizeof(d), sizeof(d));
        switch (d.d_tag) {
        case DT_NULL:
            return 0;
        case DT_NEEDED:
            return refuse(p, "needs a shared library (DT_NEEDED): the sub context links nothing; link it with "
                          "-nostdlib -Wl,-z,defs");
        case DT_RELASZ:
        case DT_RELSZ:
        case DT_PLTRELSZ:
        case DT_RELRSZ:
            if (d.d_un.d_val != 0)
                return refuse(p, "has dynamic relocations (%lu bytes of them, tag %ld): build it -fPIC "
                              "-fvisibility=hidden with no data pointers", (unsigned long)d.d_un.d_val,
                              (long)d.d_tag);
            break;
        case DT_TEXTREL:
            return refuse(p, "has text relocations (DT_TEXTREL): build it -fPIC");
        case DT_INIT:
        case DT_FINI:
        case DT_INIT_ARRAY:
        case DT_FINI_ARRAY:
        case DT_PREINIT_ARRAY:
            return refuse(p, "has constructors or destructors (dynamic tag %ld), which nothing runs in the sub "
                          "context: remove __attribute__((constructor/destructor))", (long)d.d_tag);
        default:
            break;
        }
    }
    return refuse(p, "has a dynamic array without its DT_NULL end: the file is damaged; %s", APP_REBUILD);
}

/* ---- symbols: no imports, find the entry ---------------------------------- */
/* Symbol 0 is the reserved null symbol (gABI "Symbol Table"): loops start at 1. */
static void get_sym(const struct parser *p, const Elf64_Shdr *dynsym, uint64_t i, Elf64_Sym *s)
{
    memcpy(s, p->f + dynsym->sh_offset + i * sizeof(*s), sizeof(*s));
}

static int check_imports(struct parser *p, const Elf64_Shdr *dynsym, const Elf64_Shdr *dynstr)
{
    uint64_t n = dynsym->sh_size / sizeof(Elf64_Sym);
    uint64_t nundef = 0;
    const char *first_undef = NULL;
    for (uint64_t i = 1; i < n; i++) {
        Elf64_Sym s;
        get_sym(p, dynsym, i, &s);
        if (s.st_shndx == SHN_UNDEF && nundef++ == 0) {
            first_undef = table_string(p, dynstr, s.st_name);
            if (first_undef == NULL)
                first_undef = "(bad name)";
        }
    }
    if (nundef != 0)
        return refuse(p, "imports %lu symbol%s (first: %s): the sub context links nothing; build it -ffreestanding "
                      "-fno-tree-loop-distribute-patterns -nostdlib -Wl,-z,defs and define what it needs itself",
                      (unsigned long)nundef, nundef == 1 ? "" : "s", first_undef);
    return 0;
}

static int find_entry(struct parser *p, const Elf64_Shdr *dynsym, const Elf64_Shdr *dynstr, uint32_t *entry_offset)
{
    uint64_t n = dynsym->sh_size / sizeof(Elf64_Sym);
    bool found = false;
    Elf64_Sym entry = { 0 };
    for (uint64_t i = 1; i < n; i++) {
        Elf64_Sym s;
        get_sym(p, dynsym, i, &s);
        if (s.st_shndx == SHN_UNDEF)
            continue;
        const char *name = table_string(p, dynstr, s.st_name);
        if (name != NULL && strcmp(name, ELISA_APP_ENTRY_SYM) == 0) {
            if (found)
                return refuse(p, "defines %s twice in .dynsym: the file is damaged; %s", ELISA_APP_ENTRY_SYM,
                              APP_REBUILD);
            found = true;
            entry = s;
        }
    }
    if (!found)
        return refuse(p, "does not export %s: define uint64_t %s(uint64_t fn, uint64_t arg, const struct "
                      "elisa_sub_env *env) with __attribute__((visibility(\"default\"))) (elisa/apps/app.h)",
                      ELISA_APP_ENTRY_SYM, ELISA_APP_ENTRY_SYM);
    if (ELF64_ST_TYPE(entry.st_info) != STT_FUNC)
        return refuse(p, "has %s of symbol type %u, not a function (STT_FUNC 2): it must be the app's C function",
                      ELISA_APP_ENTRY_SYM, ELF64_ST_TYPE(entry.st_info));
    if (entry.st_shndx >= SHN_LORESERVE)
        return refuse(p, "has %s in special section 0x%x (absolute or common), not in its code: the file is "
                      "damaged; %s", ELISA_APP_ENTRY_SYM, entry.st_shndx, APP_REBUILD);
    /* The whole function (at least its first byte) inside the file bytes of
     * one executable segment. */
    uint64_t size = entry.st_size ? entry.st_size : 1;
    for (unsigned i = 0; i < p->nload; i++) {
        const Elf64_Phdr *l = &p->load[i];
        if ((l->p_flags & PF_X) && entry.st_value >= l->p_vaddr && entry.st_value - l->p_vaddr < l->p_filesz &&
            size <= l->p_filesz - (entry.st_value - l->p_vaddr)) {
            *entry_offset = (uint32_t)(entry.st_value - p->lo);   /* < ELISA_APP_MAX_SIZE */
            return 0;
        }
    }
    return refuse(p, "has %s at 0x%lx (+%lu bytes), not inside an executable segment: the file is damaged; %s",
                  ELISA_APP_ENTRY_SYM, (unsigned long)entry.st_value, (unsigned long)size, APP_REBUILD);
}

/* ---- the whole parse ------------------------------------------------------ */
static int parse_named(const uint8_t *file, size_t len, const char *name, struct elisa_app_image *img, char *err,
                       size_t errlen)
{
    struct parser p;
    memset(&p, 0, sizeof(p));
    p.f = file;
    p.len = len;
    p.name = name;
    p.err = err;
    p.errlen = errlen;
    memset(img, 0, sizeof(*img));
    if (file == NULL)
        return refuse(&p, "has no bytes (NULL buffer)");

    Elf64_Shdr dynsym = { 0 }, dynstr = { 0 };
    uint32_t entry_offset = 0;
    /* The order of the checks is the order of the messages a broken app
     * gets: the file's shape first, then its most specific defect (an
     * import before the relocation it causes, a relocation before the
     * writable section it lives in). */
    if (check_header(&p) != 0 || check_segments(&p) != 0 || check_sections(&p, &dynsym, &dynstr) != 0 ||
        check_imports(&p, &dynsym, &dynstr) != 0 || check_relocations_and_data(&p) != 0 ||
        check_dynamic(&p) != 0 || find_entry(&p, &dynsym, &dynstr, &entry_offset) != 0)
        return -1;

    uint64_t size = p.hi - p.lo;
    uint8_t *bytes = calloc(1, size);
    if (bytes == NULL)
        return refuse(&p, "needs %lu bytes of image and malloc failed", (unsigned long)size);
    /* Each segment at its place; the gaps and every p_memsz beyond p_filesz
     * stay zero (calloc). */
    for (unsigned i = 0; i < p.nload; i++)
        memcpy(bytes + (p.load[i].p_vaddr - p.lo), file + p.load[i].p_offset, p.load[i].p_filesz);
    img->bytes = bytes;
    img->size = size;
    img->entry_offset = entry_offset;
    return 0;
}

int elisa_app_parse(const uint8_t *file, size_t len, struct elisa_app_image *img, char *err, size_t errlen)
{
    int rc = parse_named(file, len, "(in memory)", img, err, errlen);
    if (rc == 0)
        snprintf(img->name, sizeof(img->name), "app");
    return rc;
}

/* "dir/vmnet.so" -> "vmnet.so" (messages) and "vmnet" (img->name). */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int elisa_app_load(const char *path, struct elisa_app_image *img, char *err, size_t errlen)
{
    memset(img, 0, sizeof(*img));
    const char *base = base_name(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (err && errlen)
            snprintf(err, errlen, "app %s: cannot open %s: %s (build it with make %s)", base, path, strerror(errno),
                     path);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > APP_MAX_FILE) {
        close(fd);
        if (err && errlen)
            snprintf(err, errlen, "app %s: %s is not a regular file of 1 byte to %u MiB: give the path of the "
                     "app's .so", base, path, APP_MAX_FILE >> 20);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len);
    size_t got = 0;
    while (buf != NULL && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL || got != len) {
        free(buf);
        if (err && errlen)
            snprintf(err, errlen, "app %s: cannot read %s (%zu of %zu bytes): check the file", base, path, got, len);
        return -1;
    }
    int rc = parse_named(buf, len, base, img, err, errlen);
    free(buf);
    if (rc != 0)
        return -1;
    /* The name without ".so", cut to the field (a longer name is still a
     * valid app; the manager names apps by this field). */
    size_t n = strlen(base);
    if (n > 3 && strcmp(base + n - 3, ".so") == 0)
        n -= 3;
    if (n >= sizeof(img->name))
        n = sizeof(img->name) - 1;
    memcpy(img->name, base, n);
    img->name[n] = '\0';
    return 0;
}

void elisa_app_free(struct elisa_app_image *img)
{
    if (img == NULL)
        return;
    free(img->bytes);
    memset(img, 0, sizeof(*img));
}

void *elisa_app_map_exec(const struct elisa_app_image *img, char *err, size_t errlen)
{
    if (img == NULL || img->bytes == NULL || img->size == 0 || img->size % APP_PAGE != 0 ||
        img->size > ELISA_APP_MAX_SIZE || img->entry_offset >= img->size) {
        if (err && errlen)
            snprintf(err, errlen, "app image: not a loaded image (load it with elisa_app_load first)");
        return NULL;
    }
    /* Written while writable, then made read + execute: never both at once
     * (hosts that enforce W^X refuse a writable executable mapping). */
    void *m = mmap(NULL, img->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        if (err && errlen)
            snprintf(err, errlen, "app %s: mmap of %lu bytes failed: %s", img->name, (unsigned long)img->size,
                     strerror(errno));
        return NULL;
    }
    memcpy(m, img->bytes, img->size);
    if (mprotect(m, img->size, PROT_READ | PROT_EXEC) != 0) {
        int e = errno;
        munmap(m, img->size);
        if (err && errlen)
            snprintf(err, errlen, "app %s: cannot make its pages executable: %s (a W^X policy such as SELinux "
                     "execmem?)", img->name, strerror(e));
        return NULL;
    }
    return m;
}
