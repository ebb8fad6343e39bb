# bench/ - benchmarks.  `make bench` (deps + all first, see the top Makefile)
# runs every experiment and writes its section of docs/BENCHMARKS.md and its
# plot in docs/img/.  `make bench QUICK=1` runs short versions (a smoke test
# of the numbers, still checked, still >= 5 interleaved runs).
# `make bench MECHANISMS=kernel,preload,zpoline` limits the servers
# experiment to those mechanisms.
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

# --- servers: Redis and nginx on the user-space TCP/IP stack (lwIP over DPDK
# memif) through each hook mechanism, against the kernel (the zpoline paper's
# experiment 2).  Nothing to build here: bench/servers/run.py runs Debian's
# redis-server/redis-benchmark and nginx/wrk natively on loopback and under
# `loaders/zprun --mechanism M --hook netstack` (all mechanisms; it refuses,
# saying why, if one is not available: `--mechanisms a,b,c` measures a
# subset).  Root.
BENCH_SERVERS_FLAGS := $(BENCH_QUICK_FLAG) $(if $(MECHANISMS),--mechanisms $(MECHANISMS))

# --- ELISA: one call into the sub context.  Nothing new to build: the
# exit-based round trip on this machine's KVM (elisa/vmm/elisa-vmm --bench nop)
# and instruction counts of the VMFUNC and VMCALL paths into the same apps in
# the Bochs testbed (vmfunc/testbed/run.sh), beside the published figures.
# bench/elisa/run.py; root (/dev/kvm).

# --- the bench target: one line per experiment ---
bench: deps all
	python3 bench/hook/run.py $(BENCH_QUICK_FLAG)
	python3 bench/startup/run.py $(BENCH_QUICK_FLAG)
	python3 bench/servers/run.py $(BENCH_SERVERS_FLAGS)
	python3 bench/elisa/run.py $(BENCH_QUICK_FLAG)
