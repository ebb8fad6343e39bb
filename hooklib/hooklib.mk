# hooklib/ - the hook libraries loaded by libzpoline (LIBZPHOOK=...).
#
#   hooklib/libzphook_passthrough.so  returns api->next(...): the bare cost
#   hooklib/libzphook_trace.so        strace-like lines (stderr or ZP_TRACE_FILE)
#   hooklib/libzphook_count.so        strace -c table at exit (stderr or ZP_COUNT_FILE)
#   hooklib/selftest/hooktest         a harness that drives a hook library
#                                     without libzpoline (hooklib/selftest/run.sh)

HOOKLIB_SO := hooklib/libzphook_passthrough.so hooklib/libzphook_trace.so \
              hooklib/libzphook_count.so
HOOKLIB_SELFTEST := hooklib/selftest/hooktest

# Only zphook_init/__hook_init are exported; everything else stays inside.
# -z defs: an undefined symbol is a link error, not a failure at dlmopen.
HOOKLIB_CFLAGS  := $(CFLAGS) $(SO_FLAGS) -fvisibility=hidden -Ihooklib
HOOKLIB_LDFLAGS := -Wl,-z,defs -Wl,-z,now

# Syscall names, generated from the kernel headers (not committed):
#   #define __NR_openat 257   ->   [257] = "openat",
HOOKLIB_UNISTD      := /usr/include/x86_64-linux-gnu/asm/unistd_64.h
HOOKLIB_NAMES_GEN   := hooklib/syscall_names.gen.h

$(HOOKLIB_NAMES_GEN): $(HOOKLIB_UNISTD) hooklib/hooklib.mk
	awk '$$1 == "#define" && $$2 ~ /^__NR_/ && $$3 ~ /^[0-9]+$$/ \
	     { printf "\t[%s] = \"%s\",\n", $$3, substr($$2, 6) }' $< > $@.tmp
	test -s $@.tmp
	mv $@.tmp $@

HOOKLIB_COMMON_H := hooklib/zphook.h hooklib/linebuf.h hooklib/safe_read.h \
                    hooklib/syscall_name.h hooklib/trace_format.h hooklib/count.h

# The fast path: general registers only, no libc (libzpoline skips XSAVE).
hooklib/libzphook_passthrough.so: hooklib/passthrough.c hooklib/zphook.h
	$(CC) $(HOOKLIB_CFLAGS) -mgeneral-regs-only -nostdlib $(HOOKLIB_LDFLAGS) \
	      -o $@ hooklib/passthrough.c

HOOKLIB_TRACE_SRC := hooklib/trace.c hooklib/trace_format.c hooklib/linebuf.c \
                     hooklib/safe_read.c hooklib/syscall_name.c

hooklib/libzphook_trace.so: $(HOOKLIB_TRACE_SRC) $(HOOKLIB_COMMON_H) $(HOOKLIB_NAMES_GEN)
	$(CC) $(HOOKLIB_CFLAGS) $(HOOKLIB_LDFLAGS) -o $@ $(HOOKLIB_TRACE_SRC)

HOOKLIB_COUNT_SRC := hooklib/count.c hooklib/count_shared.c hooklib/count_table.c \
                     hooklib/syscall_name.c

hooklib/libzphook_count.so: $(HOOKLIB_COUNT_SRC) $(HOOKLIB_COMMON_H) $(HOOKLIB_NAMES_GEN)
	$(CC) $(HOOKLIB_CFLAGS) $(HOOKLIB_LDFLAGS) -o $@ $(HOOKLIB_COUNT_SRC)

$(HOOKLIB_SELFTEST): hooklib/selftest/hooktest.c hooklib/zphook.h
	$(CC) $(CFLAGS) -Ihooklib -o $@ $< -ldl

ALL_TARGETS += $(HOOKLIB_SO) $(HOOKLIB_SELFTEST)
CLEAN_FILES += $(HOOKLIB_NAMES_GEN) $(HOOKLIB_NAMES_GEN).tmp
