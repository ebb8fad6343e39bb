# bench/ - benchmarks.  `make bench` (deps + all first, see the top Makefile)
# runs every experiment and writes its section of docs/BENCHMARKS.md and its
# plot in docs/img/.  `make bench QUICK=1` runs short versions (a smoke test
# of the numbers, still checked, still >= 5 interleaved runs).
#
# To add an experiment: put its programs and its harness in bench/<name>/,
# append the programs to ALL_TARGETS here, and add one line to the `bench`
# recipe below; bench/benchlib.py has the shared harness pieces (running
# interleaved, statistics, machine description, section replacement, plots).

BENCH_QUICK_FLAG := $(if $(QUICK),--quick)

# --- hook cost: one getpid natively and under each interception mechanism ---

# One program per mechanism; each links the shared timed loop.
HOOK_BENCH_PROGS := bench/hook/getpid_native \
                    bench/hook/getpid_zpoline \
                    bench/hook/getpid_preload_wrap \
                    bench/hook/getpid_sud \
                    bench/hook/getpid_seccomp \
                    bench/hook/getpid_int3 \
                    bench/hook/getpid_ptrace
# The LD_PRELOAD wrapper and the counting zpoline hook used by the checks.
HOOK_BENCH_LIBS  := bench/hook/libgetpid_wrap.so \
                    bench/hook/libzphook_count_getpid.so

ALL_TARGETS += $(HOOK_BENCH_PROGS) $(HOOK_BENCH_LIBS)

$(HOOK_BENCH_PROGS): bench/hook/%: bench/hook/%.c bench/hook/getpid_loop.c bench/hook/getpid_loop.h
	$(CC) $(CFLAGS) -o $@ $< bench/hook/getpid_loop.c

bench/hook/libgetpid_wrap.so: bench/hook/preload_getpid_wrap.c bench/hook/getpid_loop.h
	$(CC) $(CFLAGS) $(SO_FLAGS) -o $@ $<

bench/hook/libzphook_count_getpid.so: bench/hook/zphook_count_getpid.c hooklib/zphook.h
	$(CC) $(CFLAGS) $(SO_FLAGS) -o $@ $<

# --- start-up cost: real programs natively and under loaders/zprun ---
# Nothing to build: bench/startup/run.py times existing programs (through
# bench/startup/walltime.py) and uses loaders/zprun and the pass-through hook.

# --- netstack: Redis on the user-space TCP/IP stack (lwIP over DPDK memif) ---
# Nothing to build here: bench/netstack/run.py runs redis-server and
# redis-benchmark natively on loopback, and both ends under
# `loaders/zprun --hook netstack` and `loaders/zprun --mechanism preload`
# (hooklib/libzphook_netstack.so, hooklib/libzp_preload.so).  Root.

# --- the bench target: one line per experiment ---
bench: deps all
	python3 bench/hook/run.py $(BENCH_QUICK_FLAG)
	python3 bench/startup/run.py $(BENCH_QUICK_FLAG)
	python3 bench/netstack/run.py $(BENCH_QUICK_FLAG)
