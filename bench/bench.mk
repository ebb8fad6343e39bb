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
# One program; bench/hook/run.py starts it natively and under
# `loaders/zprun --mechanism M --hook passthrough` (and, to check that every
# call was hooked, --hook count).

HOOK_BENCH_PROGS := bench/hook/getpid_bench

ALL_TARGETS += $(HOOK_BENCH_PROGS)

bench/hook/getpid_bench: bench/hook/getpid_bench.c
	$(CC) $(CFLAGS) -o $@ $<

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
