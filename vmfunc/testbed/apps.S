/*
 * vmfunc/testbed/apps.S - the real sub-context apps in the testbed image.
 *
 * elisa/apps/nop.so and vmnet.so, flattened at build time by
 * elisa/apps/elisa-app-flat (which loads them with elisa/apps/app_image.c,
 * every check of the loader applied), are included here byte for byte as
 * read-only host data.  The host (app_checks.c, in the manager's role)
 * copies each into pages of the sub context's code region reserved below,
 * exactly as a manager copies an app into a guest's sub context, and
 * points the gate at copy + entry offset.  So the code that runs in the
 * sub context is the same bytes a user-space test maps and calls
 * (tests/unit/test_app_image.c), at an address it was not linked for:
 * position independence is exercised, not assumed.
 *
 * obj/app_<name>.h (written by elisa-app-flat) gives each image's size, a
 * multiple of 4096, and its entry offset.
 */
#include "obj/app_nop.h"
#include "obj/app_vmnet.h"

/* The sources of the copies: host data, not mapped in the sub context. */
        .section .rodata.elisa_apps, "a"
        .balign 4096
        .globl  tb_app_nop_flat
tb_app_nop_flat:
        .incbin "obj/app_nop.bin"
        .globl  tb_app_vmnet_flat
        .balign 4096
tb_app_vmnet_flat:
        .incbin "obj/app_vmnet.bin"

/* The destinations: pages of the sub context's code region (linker.ld puts
 * .elisa_sub_apps inside .elisa_sub).  Filled with INT3 until the host
 * copies the images in: a call into a page that was not filled traps. */
        .section .elisa_sub_apps, "ax"
        .balign 4096
        .globl  tb_app_nop_code
tb_app_nop_code:
        .fill   ELISA_APP_NOP_SIZE, 1, 0xCC
        .globl  tb_app_vmnet_code
tb_app_vmnet_code:
        .fill   ELISA_APP_VMNET_SIZE, 1, 0xCC

/* Sizes and entry offsets for the C side. */
        .section .rodata.elisa_apps
        .balign 8
        .globl  tb_app_nop_size, tb_app_nop_entry, tb_app_vmnet_size, tb_app_vmnet_entry
tb_app_nop_size:
        .quad   ELISA_APP_NOP_SIZE
tb_app_nop_entry:
        .quad   ELISA_APP_NOP_ENTRY
tb_app_vmnet_size:
        .quad   ELISA_APP_VMNET_SIZE
tb_app_vmnet_entry:
        .quad   ELISA_APP_VMNET_ENTRY

/* No executable stack wanted (GNU ld warns without this note). */
        .section .note.GNU-stack, "", @progbits
