/*
 * tcp_isn.c - TCP initial sequence numbers per RFC 6528:
 *
 *     ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * M is a clock ticking every 4 µs (so numbers of successive connections on
 * the same 4-tuple keep increasing, as RFC 793 wants for old duplicates);
 * F is SipHash-2-4 keyed with 128 random bits drawn once per process.  An
 * off-path peer can neither predict the ISN of someone else's connection
 * nor learn the key from its own connections' ISNs.
 */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lwip/opt.h"
#include "lwip_hooks.h"

static uint64_t isn_key[2];
static int isn_keyed;

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND(v0, v1, v2, v3)                                              \
	do {                                                                  \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);     \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                        \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                        \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);     \
	} while (0)

/* SipHash-2-4 of a 16-byte message (two little-endian words). */
static uint64_t siphash16(const uint64_t key[2], uint64_t m0, uint64_t m1)
{
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ull, v1 = key[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ull, v3 = key[1] ^ 0x7465646279746573ull;
	uint64_t words[3] = { m0, m1, (uint64_t)16 << 56 };  /* last block: length only */

	for (int i = 0; i < 3; i++) {
		v3 ^= words[i];
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= words[i];
	}
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

u32_t ns_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
                 const ip_addr_t *remote_ip, u16_t remote_port)
{
	if (!isn_keyed) {
		/* getrandom blocks only before the kernel's pool is initialised,
		 * which is long past when a server starts. */
		if (getrandom(isn_key, sizeof isn_key, 0) != (ssize_t)sizeof isn_key) {
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			isn_key[0] ^= (uint64_t)t.tv_nsec * 0x9e3779b97f4a7c15ull;
			isn_key[1] ^= (uint64_t)t.tv_sec ^ (uint64_t)(uintptr_t)&t;
		}
		isn_keyed = 1;
	}
	uint64_t m0 = ((uint64_t)ip_addr_get_ip4_u32(local_ip) << 32) | ip_addr_get_ip4_u32(remote_ip);
	uint64_t m1 = ((uint64_t)local_port << 16) | remote_port;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint32_t ticks = (uint32_t)(((uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec) / 4000);
	return ticks + (uint32_t)siphash16(isn_key, m0, m1);
}
