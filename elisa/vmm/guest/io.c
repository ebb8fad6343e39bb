/* elisa/vmm/guest/io.c - console and polling for the bare-metal guest (io.h). */
#include "io.h"

void con_str(const char *s)
{
    while (*s)
        dev_store8(ELISA_VMM_DEV_CONSOLE, (uint8_t)*s++);
}

void con_u64(uint64_t v)
{
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    con_str(&buf[i]);
}

void con_hex(uint64_t v)
{
    char buf[19];
    buf[0] = '0';
    buf[1] = 'x';
    int n = 0;
    for (uint64_t t = v; t != 0; t >>= 4)
        n++;
    if (n == 0)
        n = 1;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned)(v >> (4 * (n - 1 - i))) & 0xf;
        buf[2 + i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    }
    buf[2 + n] = 0;
    con_str(buf);
}

void con_end(void)
{
    dev_store8(ELISA_VMM_DEV_CONSOLE, '\n');
}

void poll_init(struct poller *p, const struct elisa_vmm_boot *b, uint64_t *yield_count)
{
    p->spins = 0;
    p->idle_yields = 0;
    p->spins_per_yield = b->spins_per_yield ? b->spins_per_yield : 1;
    p->yield_limit = b->yield_limit ? b->yield_limit : 1;
    p->yield_count = yield_count;
}

int poll_idle(struct poller *p)
{
    if (++p->spins < p->spins_per_yield) {
        cpu_pause();
        return 0;
    }
    p->spins = 0;
    ctl(ELISA_VMM_CTL_YIELD, 0);
    (*p->yield_count)++;
    return ++p->idle_yields > p->yield_limit ? -1 : 0;
}

void poll_progress(struct poller *p)
{
    p->spins = 0;
    p->idle_yields = 0;
}
