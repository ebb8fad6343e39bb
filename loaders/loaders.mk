# loaders/ - launchers that start a program under libzpoline.
#
#   loaders/zprun           zprun [--hook NAME|PATH] [--verbose] [--] prog args...
#   loaders/test_zprun.sh   its tests (bash loaders/test_zprun.sh)
#
# zprun finds zpoline/libzpoline.so and hooklib/libzphook_*.so relative to its
# own executable, so it has no build-time dependency on them.

ALL_TARGETS += loaders/zprun

loaders/zprun: loaders/zprun.c
	$(CC) $(CFLAGS) -o $@ $<

.PHONY: test-loaders
test-loaders: loaders/zprun
	bash loaders/test_zprun.sh
