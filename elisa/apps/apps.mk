# elisa/apps/ - the apps that run in ELISA's sub context, and their loader
# (elisa/apps/README.md).
#
#   elisa/apps/nop.so, vmnet.so    the apps: freestanding position-independent
#                                  ELF shared objects, one exported function
#                                  (app.h), one read + execute segment
#                                  (app.ld); build_app.sh refuses the build
#                                  if the result has a relocation, an import,
#                                  another export, a writable segment, a data
#                                  section, or a stack frame over 256 bytes
#   elisa/apps/app_image.o         the loader (app_image.h), hosted C
#   elisa/apps/elisa-app-flat      app.so -> flat .bin (+ a header with its size
#                                  and entry offset), through the loader
#   tests/unit/test_app_image      cmocka: both apps loaded and called in user
#                                  space, broken apps refused (ASan+UBSan)
#                                  (ELISA_APPS_TEST_UNITS)
#   elisa/apps/fuzz_app_image      deterministic fuzz driver of the loader's
#                                  parser, ASan+UBSan (ELISA_APPS_FUZZ, run with
#                                  ELISA_APPS_FUZZ_ARGS; `make elisa-apps-fuzz-run`)
#
# The testbed (vmfunc/testbed) runs the same nop.so and vmnet.so bytes in
# Bochs through elisa-app-flat; the manager and the exit-based VMM load
# them with app_image.h.
ELISA_APPS      := elisa/apps/nop.so elisa/apps/vmnet.so
ELISA_APP_H     := elisa/apps/app.h elisa/apps/app_image.h
ELISA_APP_LD    := elisa/apps/app.ld
ELISA_APP_BUILD := elisa/apps/build_app.sh
ELISA_APP_STACK_MAX := 256
# The sub context's flags (as vmnet.mk's VMNET_BAREMETAL_CFLAGS) plus what a
# position-independent image with one export needs:
#   -fPIC -fvisibility=hidden   PC-relative code, every symbol local but the
#                               entry: no GOT, no PLT, no relocation;
#   -mno-red-zone               the gate calls the app with IF = 0 on a small
#                               stack; nothing may live below RSP;
#   -mgeneral-regs-only         the gate saves no vector state;
#   -fno-tree-loop-distribute-patterns, -fno-jump-tables   no memcpy/memset
#                               calls, no switch tables in .rodata;
#   -fno-asynchronous-unwind-tables   no .eh_frame to carry.
ELISA_APP_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -m64 -ffreestanding -fPIC -fvisibility=hidden \
                    -mno-red-zone -mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables \
                    -fno-tree-loop-distribute-patterns -fno-jump-tables -fno-plt -Ielisa/apps -Ielisa/vmnet
# -z,defs: an undefined symbol fails the link.  -z,norelro: nothing to make
# read-only after relocation.  app.ld: one read + execute segment.
ELISA_APP_LDFLAGS_BASE := -nostdlib -shared -Wl,-z,norelro -Wl,-z,noexecstack -Wl,--build-id=none \
                          -Wl,--hash-style=gnu -Wl,-T,$(ELISA_APP_LD)
ELISA_APP_LDFLAGS := -Wl,-z,defs $(ELISA_APP_LDFLAGS_BASE)
ELISA_APP_ENV := APP_CC="$(CC)" APP_CFLAGS="$(ELISA_APP_CFLAGS)" APP_LDFLAGS="$(ELISA_APP_LDFLAGS)" \
                 APP_STACK_MAX=$(ELISA_APP_STACK_MAX)

elisa/apps/nop.so: elisa/apps/nop.c $(ELISA_APP_H) $(ELISA_APP_LD) $(ELISA_APP_BUILD)
	@echo "apps: building $@ (build_app.sh: sub-context flags and checks)"
	@$(ELISA_APP_ENV) $(ELISA_APP_BUILD) $@ elisa/apps/nop.c

# vmnet.so compiles the switch itself with the app flags.
elisa/apps/vmnet.so: elisa/apps/vmnet_app.c $(VMNET_SUB_SRC) $(VMNET_H) $(ELISA_APP_H) $(ELISA_APP_LD) \
                     $(ELISA_APP_BUILD)
	@echo "apps: building $@ (build_app.sh: sub-context flags and checks)"
	@$(ELISA_APP_ENV) $(ELISA_APP_BUILD) $@ elisa/apps/vmnet_app.c $(VMNET_SUB_SRC)

elisa/apps/app_image.o: elisa/apps/app_image.c $(ELISA_APP_H)
	$(CC) $(CFLAGS) -c -o $@ $<

elisa/apps/elisa-app-flat: elisa/apps/elisa_app_flat.c elisa/apps/app_image.c $(ELISA_APP_H)
	$(CC) $(CFLAGS) -o $@ elisa/apps/elisa_app_flat.c elisa/apps/app_image.c

ALL_TARGETS += $(ELISA_APPS) elisa/apps/app_image.o elisa/apps/elisa-app-flat

# --- tests -------------------------------------------------------------------
# Broken apps, made by the real compiler and linker, that the loader must
# refuse (built without build_app.sh's checks, which would refuse them first).
ELISA_APP_BAD := elisa/apps/testdata/bad_reloc.so elisa/apps/testdata/bad_data.so \
                 elisa/apps/testdata/bad_noentry.so elisa/apps/testdata/bad_import.so \
                 elisa/apps/testdata/nop_default_link.so

elisa/apps/testdata/bad_%.so: elisa/apps/testdata/bad_%.c $(ELISA_APP_H) $(ELISA_APP_LD)
	$(CC) $(ELISA_APP_CFLAGS) $(ELISA_APP_LDFLAGS_BASE) -o $@ $<

# nop.c linked with GNU ld's default script: .dynamic in a writable segment.
elisa/apps/testdata/nop_default_link.so: elisa/apps/nop.c $(ELISA_APP_H)
	$(CC) $(ELISA_APP_CFLAGS) -nostdlib -shared -Wl,-z,defs -o $@ $<

ELISA_APPS_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

# The test compiles the loader and the switch (user-space side) itself with
# the sanitizers; it finds the .so files next to its own binary's checkout.
tests/unit/test_app_image: tests/unit/test_app_image.c elisa/apps/app_image.c $(VMNET_SRC) $(VMNET_H) \
                           $(ELISA_APP_H) $(ELISA_APPS) $(ELISA_APP_BAD)
	$(CC) $(CFLAGS) -fno-tree-loop-distribute-patterns $(ELISA_APPS_SAN) -Ielisa/apps -Ielisa/vmnet -o $@ \
	      tests/unit/test_app_image.c elisa/apps/app_image.c $(VMNET_SRC) -lcmocka

ELISA_APPS_TEST_UNITS := tests/unit/test_app_image

# The parser under the sanitizers: mutations of the real nop.so and
# vmnet.so.  ARGS: mutations, seed, time limit in seconds.
ELISA_APPS_FUZZ      := elisa/apps/fuzz_app_image
ELISA_APPS_FUZZ_ARGS ?= 200000 1 2

$(ELISA_APPS_FUZZ): elisa/apps/fuzz_app_image.c elisa/apps/app_image.c $(ELISA_APP_H) tests/fuzz_driver.h \
                    $(ELISA_APPS)
	$(CC) $(CFLAGS) -O1 $(ELISA_APPS_SAN) -Ielisa/apps -o $@ elisa/apps/fuzz_app_image.c elisa/apps/app_image.c

.PHONY: elisa-apps-fuzz-run
elisa-apps-fuzz-run: $(ELISA_APPS_FUZZ)
	$(ELISA_APPS_FUZZ) $(ELISA_APPS_FUZZ_ARGS)

CLEAN_FILES += $(ELISA_APPS) elisa/apps/app_image.o elisa/apps/elisa-app-flat $(ELISA_APP_BAD) \
               tests/unit/test_app_image $(ELISA_APPS_FUZZ)
