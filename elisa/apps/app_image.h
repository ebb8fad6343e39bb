/* elisa/apps/app_image.h - load a sub-context app (an ELF shared object,
 * see app.h) into a flat image that can be copied to any page-aligned
 * address and run there.  Hosted C (manager, VMM, tests).
 *
 * Checks, each failing with one line in err that says what is wrong and
 * what to do: ELF64 little-endian x86-64 ET_DYN; program headers inside the
 * file; PT_LOAD segments only of kinds we can place (no TLS, no INTERP);
 * total image at most ELISA_APP_MAX_SIZE; no dynamic relocations of any
 * kind and no imported symbols (the sub context links nothing); no writable
 * segment and no writable section but .dynamic (an app keeps no data: its
 * state lives in the shared region or on the sub stack; the sub context
 * maps app pages read + execute); no constructors; the entry symbol
 * ELISA_APP_ENTRY_SYM defined, a function, inside an executable segment.
 * Apps built by elisa/apps/apps.mk (app.ld: one read + execute segment)
 * pass; elisa/apps/README.md lists every check and its message.
 */
#ifndef ELISA_APPS_APP_IMAGE_H
#define ELISA_APPS_APP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define ELISA_APP_MAX_SIZE (1u << 20)

struct elisa_app_image {
    uint8_t *bytes;          /* malloc'ed, size bytes: segments placed at their vaddr - lowest vaddr */
    uint64_t size;           /* multiple of 4096 */
    uint32_t entry_offset;   /* of ELISA_APP_ENTRY_SYM from bytes[0] */
    char name[32];           /* the file's base name without ".so" (e.g. "vmnet") */
};

/* From a file, or from memory (for fuzzing).  Return 0, or -1 with err set
 * (one line, "app NAME.so ...": what is wrong and how to fix it; err may be
 * NULL) and *img zeroed.  elisa_app_parse names the app "(in memory)" in
 * messages and sets img->name to "app". */
int elisa_app_load(const char *path, struct elisa_app_image *img, char *err, size_t errlen);
int elisa_app_parse(const uint8_t *file, size_t len, struct elisa_app_image *img, char *err, size_t errlen);
void elisa_app_free(struct elisa_app_image *img);

/* Copy the image into a fresh anonymous mapping made executable (user space
 * runs of the app: the exit-based host, local mode, tests).  Returns the
 * mapping (munmap(size) to free) or NULL with err set. */
void *elisa_app_map_exec(const struct elisa_app_image *img, char *err, size_t errlen);

#endif
