/*
 * fuzz_driver.h - what the deterministic fuzz drivers share (netstack,
 * loaders/elf, elisa/proto): their command line, a seeded xorshift64
 * generator (the same seed gives the same inputs on every machine, so a
 * failure can be replayed), and the clock that bounds their run.
 *
 *   DRIVER [MUTATIONS [SEED [SECONDS]]]    defaults: 1000000 1 <per driver>
 */
#ifndef EXITLESS_FUZZ_DRIVER_H
#define EXITLESS_FUZZ_DRIVER_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static uint64_t fuzz_rng_state;

/* xorshift64: fast, and never 0 from a non-zero state. */
static inline uint64_t rnd(void)
{
	uint64_t x = fuzz_rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return fuzz_rng_state = x;
}

static inline double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct fuzz_args {
	unsigned long n;     /* mutations */
	unsigned long seed;
	double limit;        /* seconds */
};

/* Parses the command line and seeds the generator (a seed of 0 is fine). */
static inline struct fuzz_args fuzz_args_parse(int argc, char **argv, double default_limit)
{
	struct fuzz_args a;

	a.n = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
	a.seed = argc > 2 ? strtoul(argv[2], NULL, 0) : 1;
	a.limit = argc > 3 ? strtod(argv[3], NULL) : default_limit;
	fuzz_rng_state = a.seed * 0x9e3779b97f4a7c15ull + 1;
	return a;
}

#endif
