/* elisa/vmm/guest/frames.c - the deterministic frames of frames.h. */
#include "frames.h"

const uint8_t frame_broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* splitmix64 to spread the seed, then xorshift64* (Vigna, "An experimental
 * exploration of Marsaglia's xorshift generators, scrambled", 2016):
 * cheap, no division, good enough to make every byte of every frame
 * different from its neighbours'. */
static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t xorshift64s(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint32_t frame_make(uint8_t *f, uint64_t seed, uint32_t sender, uint32_t i,
                    const uint8_t *dst, const uint8_t *src)
{
    uint64_t s = splitmix64(seed ^ splitmix64(((uint64_t)sender << 32) | i));
    if (s == 0)
        s = 1;                        /* xorshift's one fixed point */
    uint32_t len = FRAME_MIN + (uint32_t)(xorshift64s(&s) % (FRAME_MAX - FRAME_MIN + 1));
    for (int k = 0; k < 6; k++) {
        f[k] = dst[k];
        f[6 + k] = src[k];
    }
    f[12] = (uint8_t)(FRAME_TYPE_DATA >> 8);
    f[13] = (uint8_t)FRAME_TYPE_DATA;
    f[14] = (uint8_t)i;
    f[15] = (uint8_t)(i >> 8);
    f[16] = (uint8_t)(i >> 16);
    f[17] = (uint8_t)(i >> 24);
    uint64_t word = 0;
    for (uint32_t k = 18; k < len; k++) {
        if (((k - 18) & 7) == 0)
            word = xorshift64s(&s);
        f[k] = (uint8_t)word;
        word >>= 8;
    }
    return len;
}

uint32_t frame_reply(uint8_t *r, const uint8_t *f, uint32_t len, const uint8_t *echoer_mac)
{
    for (int k = 0; k < 6; k++) {
        r[k] = f[6 + k];
        r[6 + k] = echoer_mac[k];
    }
    r[12] = (uint8_t)(FRAME_TYPE_REPLY >> 8);
    r[13] = (uint8_t)FRAME_TYPE_REPLY;
    for (uint32_t k = 14; k < len; k++)
        r[k] = f[k] ^ FRAME_REPLY_XOR;
    return len;
}

int mac_equal(const uint8_t *a, const uint8_t *b)
{
    for (int k = 0; k < 6; k++)
        if (a[k] != b[k])
            return 0;
    return 1;
}

int64_t frame_diff(const uint8_t *got, uint32_t glen, const uint8_t *want, uint32_t wlen)
{
    uint32_t n = glen < wlen ? glen : wlen;
    for (uint32_t k = 0; k < n; k++)
        if (got[k] != want[k])
            return k;
    return glen == wlen ? -1 : (int64_t)n;
}
