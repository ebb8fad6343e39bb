/* elisa/vmm/host_app.c - the app a doorbell runs, on the host side of the
 * exit-based fallback: the same flat image the sub context would hold
 * (elisa/apps/app_image.h), mapped executable in this process and called
 * as entry(fn, arg, env) from the vCPU thread.
 *
 * Standalone mode loads the app's file with elisa_app_load (which proves it
 * needs no loader: no relocations, imports or data); manager mode gets the
 * already flat image in a sealed memfd and only maps it.  Either way the
 * bytes end up in elisa_app_map_exec's fresh read + execute mapping: the
 * VMM never runs code from a mapping someone else can still write.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm.h"
#include "../apps/app_image.h"

static int map_image(const struct elisa_app_image *img, struct vmm_app *app, char *err, size_t n)
{
    void *map = elisa_app_map_exec(img, err, n);
    if (map == NULL)
        return -1;
    app->map = map;
    app->map_size = img->size;
    app->entry = (elisa_app_fn)(void *)((uint8_t *)map + img->entry_offset);
    snprintf(app->name, sizeof app->name, "%s", img->name);
    return 0;
}

int vmm_app_load_file(const char *path, struct vmm_app *app, char *err, size_t n)
{
    struct elisa_app_image img;
    memset(app, 0, sizeof *app);
    if (elisa_app_load(path, &img, err, n) != 0)
        return -1;
    int rc = map_image(&img, app, err, n);
    elisa_app_free(&img);
    return rc;
}

int vmm_app_load_fd(int fd, uint64_t size, uint32_t entry_offset, const char *name,
                    struct vmm_app *app, char *err, size_t n)
{
    memset(app, 0, sizeof *app);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, n, "app %s: no image fd from the manager", name);
        return -1;
    }
    if (size == 0 || size > ELISA_APP_MAX_SIZE || (size & 4095) != 0 || (uint64_t)st.st_size < size ||
        entry_offset >= size) {
        snprintf(err, n, "app %s: image of %llu bytes (fd holds %lld), entry at %u: not a flat app "
                 "image (page multiple, at most %u bytes, entry inside)", name,
                 (unsigned long long)size, (long long)st.st_size, entry_offset, ELISA_APP_MAX_SIZE);
        return -1;
    }
    struct elisa_app_image img;
    memset(&img, 0, sizeof img);
    img.bytes = malloc(size);
    if (img.bytes == NULL) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    uint64_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, img.bytes + got, size - got, (off_t)got);
        if (r <= 0) {
            snprintf(err, n, "app %s: reading the image fd: %s", name, r < 0 ? strerror(errno) : "short");
            free(img.bytes);
            return -1;
        }
        got += (uint64_t)r;
    }
    img.size = size;
    img.entry_offset = entry_offset;
    snprintf(img.name, sizeof img.name, "%s", name);
    int rc = map_image(&img, app, err, n);
    free(img.bytes);
    return rc;
}

void vmm_app_unload(struct vmm_app *app)
{
    if (app->map != NULL)
        munmap(app->map, app->map_size);
    app->map = NULL;
    app->entry = NULL;
}
