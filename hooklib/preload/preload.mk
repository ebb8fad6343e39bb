# hooklib/preload/preload.mk - libzp_preload.so, the LD_PRELOAD mechanism:
# the minimum-overhead comparison case for the benchmarks.
#
#   LD_PRELOAD=hooklib/libzp_preload.so LIBZPHOOK=<hook.so> prog
#   loaders/zprun --mechanism preload --hook NAME -- prog
#
# It defines libc's socket-related functions (visibility default); each one
# calls the hook library's function, loaded with dlmopen(LM_ID_NEWLM) as
# libzpoline loads it.  See the comment at the top of preload.c for what
# LD_PRELOAD cannot see.

hooklib/libzp_preload.so: hooklib/preload/preload.c hooklib/zphook.h hooklib/hook_init.h
	$(CC) $(HOOKLIB_CFLAGS) $(HOOKLIB_LDFLAGS) -o $@ hooklib/preload/preload.c -ldl

ALL_TARGETS += hooklib/libzp_preload.so
