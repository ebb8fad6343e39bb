/*
 * fuzz_main.c - the deterministic fuzz driver of netstack's receive path
 * (`make netstack-fuzz-run`): replays a corpus of hand-made malformed
 * frames, then N seeded random mutations of them, through fuzz_rx.c.
 * Built with AddressSanitizer and UBSan: any memory error, undefined
 * behaviour or lwIP assertion aborts the run (non-zero exit).
 *
 *   fuzz_rx [N [SEED [SECONDS]]]     defaults: 1000000 mutations, seed 1,
 *                                    stop early after 15 s (bounded run)
 * Prints `fuzz: N frames, 0 crashes, D dropped` (D: lwIP's drop counters).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_rx.h"
#include "../../tests/fuzz_driver.h"

/* --- the corpus, in fuzz_rx's input format ------------------------------------- */

#define CORPUS_MAX 256
#define INPUT_MAX  1600

static uint8_t corpus[CORPUS_MAX][INPUT_MAX];
static size_t corpus_len[CORPUS_MAX];
static int ncorpus;
static uint8_t *cur;
static size_t curlen;

static void c_begin(uint8_t mode)
{
	if (ncorpus == CORPUS_MAX) {
		fprintf(stderr, "fuzz: corpus full\n");
		exit(2);
	}
	cur = corpus[ncorpus];
	curlen = 0;
	cur[curlen++] = mode;
}

static void c_u8(uint8_t b)
{
	if (curlen < INPUT_MAX)
		cur[curlen++] = b;
}

static void c_u16(uint16_t v)
{
	c_u8((uint8_t)(v >> 8));
	c_u8((uint8_t)v);
}

static void c_bytes(const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c_u8(((const uint8_t *)p)[i]);
}

static void c_fill(uint8_t b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c_u8(b);
}

static void c_end(void)
{
	corpus_len[ncorpus++] = curlen;
}

static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 1 };
static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 2 };

static void c_eth(const uint8_t *dst, uint16_t type)
{
	c_bytes(dst, 6);
	c_bytes(peer_mac, 6);
	c_u16(type);
}

/* An IPv4 header for mode 1 (fuzz_rx fixes addresses and checksum). */
static void c_ip(uint8_t vhl, uint16_t totlen, uint16_t frag, uint8_t ttl, uint8_t proto)
{
	c_u8(vhl);
	c_u8(0);
	c_u16(totlen);
	c_u16(0x1234);
	c_u16(frag);
	c_u8(ttl);
	c_u8(proto);
	c_u16(0);
	c_fill(0, 8);
}

/* mode 3 header: protocol choice, fragment field, id, options, ttl. */
static void c_ip4(uint8_t sw, uint8_t choice, uint16_t frag, uint8_t id, uint8_t optlen, uint8_t ttl)
{
	c_begin((uint8_t)(3 | sw));
	c_u8(choice);
	c_u16(frag);
	c_u8(id);
	c_u8(optlen);
	c_u8(ttl);
}

/* mode 2 header: connection, sequence offset, flags, options, window. */
static void c_tcp(uint8_t sw, uint8_t conn, uint16_t seqoff, uint8_t flags, uint8_t optbyte, uint8_t win)
{
	c_begin((uint8_t)(2 | sw));
	c_u8(conn);
	c_u16(seqoff);
	c_u8(flags);
	c_u8(optbyte);
	c_u8(win);
}

static void build_corpus(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	/* Raw frames: truncated and odd link layers. */
	c_begin(0); c_end();                                   /* empty */
	c_begin(0); c_u8(0xff); c_end();                       /* 1 byte */
	c_begin(0); c_bytes(our_mac, 6); c_fill(0, 7); c_end();    /* 13 bytes */
	c_begin(0); c_eth(our_mac, 0x0800); c_end();           /* header only */
	c_begin(0); c_eth(our_mac, 0x0800); c_u8(0x45); c_fill(0, 18); c_end();  /* 19-byte IP */
	c_begin(0); c_eth(our_mac, 0x0800); c_u8(0x44); c_fill(0, 40); c_end();  /* ihl 4 */
	c_begin(0); c_eth(bcast, 0x0806); c_fill(0, 10); c_end();                /* short ARP */
	c_begin(0); c_eth(bcast, 0x0806); c_u16(1); c_u16(0x0800); c_u8(0); c_u8(0);
	c_u16(1); c_fill(0xab, 20); c_end();                                     /* hlen 0 */
	c_begin(0); c_eth(bcast, 0x0806); c_u16(1); c_u16(0x0800); c_u8(6); c_u8(4); c_u16(2);
	c_bytes(peer_mac, 6); c_u8(10); c_u8(0); c_u8(0); c_u8(1);              /* claims our IP */
	c_bytes(our_mac, 6); c_u8(10); c_u8(0); c_u8(0); c_u8(1); c_end();
	c_begin(0); c_eth(bcast, 0x0806); c_u16(1); c_u16(0x0800); c_u8(6); c_u8(4); c_u16(9);
	c_fill(0x11, 20); c_end();                                               /* opcode 9 */
	c_begin(0); c_eth(our_mac, 0x8100); c_u16(5); c_u16(0x0800); c_fill(0x45, 40); c_end();
	c_begin(0); c_eth(our_mac, 0x86dd); c_fill(0x60, 60); c_end();
	c_begin(0); c_eth(our_mac, 0x8864); c_fill(0x11, 30); c_end();
	c_begin(0); c_eth(bcast, 0x0800); c_fill(0x45, 1550); c_end();           /* > MTU */

	/* IPv4 headers that lie (mode 1: switches 4 = fix checksum, 8 = fix addresses). */
	c_begin(1 | 4 | 8); c_ip(0x4f, 20, 0, 64, 17); c_end();                    /* ihl 15, 20 bytes */
	c_begin(1 | 4 | 8); c_ip(0x45, 1400, 0, 64, 17); c_fill(0, 12); c_end();   /* tot_len > frame */
	c_begin(1 | 4 | 8); c_ip(0x46, 20, 0, 64, 17); c_fill(0, 12); c_end();    /* tot_len < hl */
	c_begin(1 | 4 | 8); c_ip(0x45, 0, 0, 64, 6); c_fill(0, 30); c_end();      /* tot_len 0 */
	c_begin(1 | 4 | 8); c_ip(0x65, 40, 0, 64, 6); c_fill(0, 20); c_end();     /* version 6 */
	c_begin(1 | 4 | 8); c_ip(0x45, 28, 0, 0, 1); c_u8(8); c_fill(0, 7); c_end();  /* ttl 0 */
	c_begin(1 | 8); c_ip(0x45, 28, 0, 64, 1); c_u8(8); c_fill(0, 7); c_end();  /* bad checksum */
	c_begin(1 | 4); c_ip(0x45, 28, 0, 64, 17); c_fill(0, 8); c_end();          /* to 0.0.0.0 from 0 */
	c_begin(1 | 4 | 8); c_ip(0x45, 30, 0, 64, 6); c_fill(0xff, 10); c_end();  /* TCP 10 bytes */
	c_begin(1 | 4 | 8); c_ip(0x45, 24, 0, 64, 17); c_fill(0xff, 4); c_end();  /* UDP 4 bytes */
	c_begin(1 | 4 | 8); c_ip(0x45, 22, 0, 64, 1); c_fill(0x08, 2); c_end();   /* ICMP 2 bytes */
	c_begin(1 | 4 | 8); c_ip(0x4f, 68, 0, 64, 17); c_fill(1, 40); c_fill(0, 8); c_end(); /* 40 NOPs */
	c_begin(1 | 4 | 8); c_ip(0x46, 32, 0, 64, 17); c_u8(7); c_u8(0); c_u8(0); c_u8(0);
	c_fill(0, 8); c_end();                                                    /* option len 0 */
	c_begin(1 | 4 | 8); c_ip(0x46, 32, 0, 64, 17); c_u8(7); c_u8(255); c_u8(200); c_u8(0);
	c_fill(0, 8); c_end();                                                    /* option len 255 */
	c_begin(1 | 4 | 8); c_ip(0x45, 1500, 0x2000, 64, 17); c_fill(0x33, 60); c_end(); /* MF, short */

	/* IPv4 datagrams with valid checksums (mode 3). */
	c_ip4(0, 0, 0x4000, 1, 0, 64); c_bytes("hello udp", 9); c_end();         /* UDP echo */
	c_ip4(0, 4, 0, 2, 0, 64); c_bytes("closed", 6); c_end();                  /* closed port */
	c_ip4(4, 0, 0, 3, 0, 64); c_u16(4); c_fill(0x41, 20); c_end();           /* UDP len 4 */
	c_ip4(4, 0, 0, 4, 0, 64); c_u16(0xffff); c_fill(0x41, 20); c_end();      /* UDP len 65535 */
	c_ip4(4, 0, 0, 5, 0, 64); c_u16(12); c_fill(0x41, 20); c_end();          /* UDP len < IP */
	c_ip4(0, 8, 0, 6, 0, 64); c_fill(0x42, 30); c_end();                      /* no checksum */
	c_ip4(8, 0, 0, 7, 0, 64); c_fill(0x42, 30); c_end();                      /* bad checksums */
	c_ip4(0, 1, 0, 8, 0, 64); c_u8(8); c_u8(0); c_u16(0); c_u16(1); c_u16(1); c_fill(0x61, 56); c_end();
	c_ip4(0, 1, 0, 9, 0, 64); c_u8(8); c_u8(0); c_end();                      /* ICMP 2 bytes */
	c_ip4(0, 1, 0, 10, 0, 64); c_u8(8); c_u8(0); c_u16(0); c_u16(1); c_u16(2); c_fill(0x62, 1390); c_end();
	c_ip4(0, 1, 0, 11, 0, 64); c_u8(3); c_u8(3); c_u16(0); c_u16(0); c_u16(0);
	c_u8(0x45); c_fill(0, 5); c_end();                                        /* unreach, short inner */
	c_ip4(0, 1, 0, 12, 0, 64); c_u8(255); c_u8(255); c_fill(0, 30); c_end();  /* unknown type */
	c_ip4(0, 1, 0, 13, 0, 64); c_u8(0); c_u8(0); c_fill(0, 10); c_end();      /* echo reply */
	/* TCP to the listeners: SYN with every option kind, broken options. */
	c_ip4(0, 2, 0, 14, 0, 64); c_u16(30000); c_u16(80); c_u16(0); c_u16(1); c_u16(0); c_u16(0);
	c_u8(0xf0); c_u8(0x02); c_u16(1000); c_u16(0); c_u16(0);
	c_u8(2); c_u8(4); c_u16(536); c_u8(3); c_u8(3); c_u8(14); c_u8(4); c_u8(2);
	c_u8(8); c_u8(10); c_fill(0x77, 8); c_u8(5); c_u8(34); c_fill(0, 14); c_end(); /* doff 15 */
	c_ip4(0, 2, 0, 15, 0, 64); c_u16(30001); c_u16(80); c_u16(0); c_u16(1); c_u16(0); c_u16(0);
	c_u8(0x70); c_u8(0x02); c_u16(1000); c_u16(0); c_u16(0);
	c_u8(2); c_u8(40); c_fill(0, 6); c_end();                                 /* MSS len 40 */
	c_ip4(0, 2, 0, 16, 0, 64); c_u16(30002); c_u16(80); c_u16(0); c_u16(1); c_u16(0); c_u16(0);
	c_u8(0x60); c_u8(0x02); c_u16(1000); c_u16(0); c_u16(0);
	c_u8(3); c_u8(3); c_u8(255); c_u8(0); c_end();                            /* WS shift 255 */
	c_ip4(0, 2, 0, 17, 0, 64); c_u16(30003); c_u16(80); c_u16(0); c_u16(1); c_u16(0); c_u16(0);
	c_u8(0x60); c_u8(0x02); c_u16(1000); c_u16(0); c_u16(0);
	c_u8(2); c_u8(0); c_u8(2); c_u8(1); c_end();                              /* len 0 and 1 */
	c_ip4(0, 2, 0, 18, 0, 64); c_u16(30004); c_u16(80); c_u16(0); c_u16(1); c_u16(0); c_u16(0);
	c_u8(0x50); c_u8(0x03); c_u16(1000); c_u16(0); c_u16(0); c_end();          /* SYN+FIN */
	c_ip4(0, 2, 0, 19, 0, 64); c_u16(30005); c_u16(80); c_u16(0); c_u16(1); c_u16(0); c_u16(9);
	c_u8(0x50); c_u8(0x10); c_u16(1000); c_u16(0); c_u16(0); c_end();          /* stray ACK: RST */
	c_ip4(0, 2, 0, 20, 0, 64); c_u16(30006); c_u16(80); c_fill(0, 8);
	c_u8(0x20); c_u8(0x02); c_fill(0, 6); c_end();                            /* doff 2 */
	c_ip4(0, 2, 0, 21, 0, 64); c_u16(30007); c_u16(80); c_fill(0, 6); c_end(); /* short header */
	c_ip4(0, 3, 0, 22, 0, 64); c_fill(0x99, 40); c_end();                      /* proto 3 */
	/* IP options on a valid datagram (mode 3). */
	c_ip4(0, 0, 0, 23, 8, 64); c_u8(7); c_u8(7); c_u8(40); c_fill(0, 5); c_bytes("opt", 3); c_end();
	c_ip4(0, 0, 0, 24, 4, 64); c_u8(0x44); c_u8(0); c_u8(0); c_u8(0); c_bytes("ts", 2); c_end();
	c_ip4(0, 0, 0, 25, 40, 64); c_fill(0x94, 40); c_bytes("ra", 2); c_end();
	/* Fragments: reassembly with overlaps, holes, an end past 64 KiB, too many pieces. */
	c_ip4(0, 0, 0x2000, 30, 0, 64); c_fill(0x51, 1000); c_end();              /* first, MF */
	c_ip4(0, 3, 0x0000 | 125, 30, 0, 64); c_fill(0x52, 400); c_end();         /* last, 1000 */
	c_ip4(0, 0, 0x2000, 31, 0, 64); c_fill(0x53, 800); c_end();
	c_ip4(0, 3, 0x2000 | 50, 31, 0, 64); c_fill(0x54, 800); c_end();          /* overlap */
	c_ip4(0, 3, 0x1fff, 32, 0, 64); c_fill(0x55, 1000); c_end();             /* end > 65535 */
	c_ip4(0, 3, 0x2000 | 1, 33, 0, 64); c_fill(0x56, 13); c_end();            /* MF, len % 8 */
	c_ip4(0, 3, 0x2000, 34, 0, 64); c_end();                                  /* empty fragment */
	c_ip4(0, 3, 0x2000 | 0x1ffe, 35, 0, 64); c_fill(0x57, 16); c_end();
	c_ip4(0, 2, 0x2000, 36, 0, 64); c_u16(30010); c_u16(80); c_end();         /* TCP, 4 bytes */
	for (int k = 0; k < 70; k += 10) {                                        /* 70 pieces */
		c_ip4(0, 3, (uint16_t)(0x2000 | (k * 2)), 37, 0, 64);
		c_fill((uint8_t)k, 16);
		c_end();
	}
	/* Established connections (mode 2): in order, out of order, beyond the
	 * window, behind it, options in data segments, RST/SYN, bad offsets. */
	c_tcp(0, 0, 0, 0x18, 0, 0xff); c_bytes("GET / HTTP/1.0\r\n\r\n", 18); c_end();
	c_tcp(0, 1, 0, 0x18, 0, 0xff); c_fill(0x61, 1400); c_end();              /* hoarder */
	c_tcp(0, 1, 0, 0x18, 0, 0xff); c_fill(0x62, 1400); c_end();
	c_tcp(0, 0, 0x8010, 0x18, 0, 0xff); c_fill(0x63, 500); c_end();           /* +1 KiB ahead */
	c_tcp(0, 1, 0x8003, 0x10, 0, 0xff); c_fill(0x64, 300); c_end();           /* ooseq, hoarder */
	c_tcp(0, 0, 0xffff, 0x18, 0, 0xff); c_fill(0x65, 200); c_end();           /* behind (overlap) */
	c_tcp(0, 0, 0x7fff, 0x18, 0, 0xff); c_fill(0x66, 100); c_end();           /* far ahead */
	c_tcp(0, 2, 0, 0x19, 0, 0xff); c_bytes("bye", 3); c_end();                /* FIN + data */
	c_tcp(0, 3, 0, 0x14 | 0x40, 0, 0xff); c_end();                            /* RST in window */
	c_tcp(0, 0, 0x8100, 0x04 | 0x40, 0, 0xff); c_end();                       /* RST off window */
	c_tcp(0, 0, 0, 0x12 | 0x40, 0, 0xff); c_end();                            /* SYN on established */
	c_tcp(0, 0, 0, 0x10, 4, 0); c_u8(2); c_u8(0); c_u8(0); c_u8(0); c_end();  /* MSS len 0 */
	c_tcp(0, 0, 0, 0x10, 4, 0xff); c_u8(5); c_u8(255); c_u8(1); c_u8(1); c_end(); /* SACK len 255 */
	c_tcp(0, 0, 0, 0x10, 10, 0xff); c_u8(8); c_u8(10); c_fill(0xee, 8); c_end(); /* timestamps */
	c_tcp(0, 0, 0, 0x18, 40, 0xff); c_fill(1, 39); c_u8(2); c_bytes("x", 1); c_end(); /* NOPs then kind 2 at end */
	c_tcp(0, 0, 0, 0x18, 3, 0xff); c_u8(0); c_u8(2); c_u8(4); c_bytes("eol", 3); c_end();
	c_tcp(4, 0, 0, 0x18, 0xf0, 0xff); c_bytes("doff15", 6); c_end();          /* doff 15, no options */
	c_tcp(4, 0, 0, 0x18, 0x30, 0xff); c_bytes("doff3", 5); c_end();           /* doff 3 */
	c_tcp(4, 0, 0, 0x18, 0x00, 0xff); c_end();                                /* doff 0 */
	c_tcp(8, 0, 0, 0x18, 0, 0xff); c_bytes("badsum", 6); c_end();
	c_tcp(0, 0, 0, 0x30, 0, 0xff); c_bytes("urgent", 6); c_end();             /* URG */
	c_tcp(0, 2, 0, 0x10, 0, 0x00); c_end();                                   /* zero window */
	/* Regression: an MSS option outside a SYN shrinking the MSS while a
	 * reply waits behind a closed window made tcp_write assert (lwIP
	 * 2.1.3; netif_port.c removes such options). */
	c_tcp(0, 0, 0, 0x18, 0, 0x00); c_bytes("a", 1); c_end();
	c_tcp(0, 0, 0, 0x18, 0, 0x00); c_bytes("b", 1); c_end();
	c_tcp(0, 0, 0, 0x18, 4, 0x00); c_u8(2); c_u8(4); c_u16(8); c_bytes("c", 1); c_end();
	c_tcp(0, 0, 0, 0x18, 0, 0x00); c_bytes("d", 1); c_end();
	c_tcp(0, 0, 0, 0x10, 0, 0xff); c_end();                                   /* window opens */
	c_tcp(0x40, 0, 0, 0x18, 0, 0xff); c_bytes("claimed good", 12); c_end();   /* verdict good */
	c_tcp(0x40 | 8, 0, 0, 0x18, 0, 0xff); c_bytes("lying device", 12); c_end();
	c_tcp(0x80, 0, 0, 0x18, 0, 0xff); c_bytes("claimed bad", 11); c_end();
}

/* --- mutations ------------------------------------------------------------------------ */

static const uint8_t interesting[] = { 0x00, 0x01, 0x05, 0x0f, 0x10, 0x14, 0x40, 0x45, 0x7f,
                                       0x80, 0xfe, 0xff };

static void mutate(uint8_t *b, size_t *len, size_t cap, size_t from)
{
	int rounds = 1 + (int)(rnd() % 4);

	for (int r = 0; r < rounds; r++) {
		size_t n = *len;
		switch (rnd() % 6) {
		case 0:   /* bit flip */
			if (n > from)
				b[from + rnd() % (n - from)] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1:   /* interesting byte */
			if (n > from)
				b[from + rnd() % (n - from)] = interesting[rnd() % sizeof(interesting)];
			break;
		case 2:   /* random byte, mostly in the headers */
			if (n > from) {
				size_t span = n - from < 80 ? n - from : 80;
				b[from + rnd() % span] = (uint8_t)rnd();
			}
			break;
		case 3:   /* truncate */
			if (n > from)
				*len = from + rnd() % (n - from + 1);
			break;
		case 4:   /* append junk */
			for (size_t k = rnd() % 64; k && *len < cap; k--)
				b[(*len)++] = (uint8_t)rnd();
			break;
		default:  /* 16-bit field set to a boundary value */
			if (n >= from + 2) {
				static const uint16_t v[] = { 0, 1, 7, 8, 20, 0x7fff, 0x8000, 0xfffe, 0xffff };
				size_t at = from + rnd() % (n - from - 1);
				uint16_t x = v[rnd() % (sizeof(v) / sizeof(v[0]))];
				b[at] = (uint8_t)(x >> 8);
				b[at + 1] = (uint8_t)x;
			}
			break;
		}
	}
}

int main(int argc, char **argv)
{
	struct fuzz_args args = fuzz_args_parse(argc, argv, 15.0);
	unsigned long n = args.n, seed = args.seed;
	double limit = args.limit;
	double t0 = now_s();
	unsigned long done = 0;

	build_corpus();
	fuzz_rx_init();

	/* 1. The corpus as it is, twice (the second pass meets the state the
	 * first left: queued fragments, full windows). */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < ncorpus; i++)
			fuzz_rx_one(corpus[i], corpus_len[i]);

	/* 2. Seeded mutations, bounded in count and time. */
	uint8_t in[INPUT_MAX + 64], frame[FUZZ_FRAME_MAX];
	for (; done < n; done++) {
		if ((done & 1023) == 0 && now_s() - t0 > limit)
			break;
		int i = (int)(rnd() % (uint64_t)ncorpus);
		size_t len = corpus_len[i];
		memcpy(in, corpus[i], len);
		if (rnd() % 3 == 0) {
			/* Frame level: break the frame the input describes. */
			uint16_t flags;
			size_t flen = fuzz_rx_render(in, len, frame, &flags);
			mutate(frame, &flen, sizeof(frame), 0);
			fuzz_rx_inject(frame, flen, (uint16_t)(rnd() % 2 ? flags : rnd() & 0xf));
		} else {
			/* Input level: keep the structure, vary its fields. */
			if (rnd() % 8 == 0)
				in[0] = (uint8_t)rnd();
			mutate(in, &len, sizeof(in), 1);
			fuzz_rx_one(in, len);
		}
	}

	uint64_t frames, dropped, established;
	fuzz_rx_stats(&frames, &dropped, &established);
	fuzz_rx_fini();
	printf("fuzz: %llu frames, 0 crashes, %llu dropped\n",
	       (unsigned long long)frames, (unsigned long long)dropped);
	fprintf(stderr, "fuzz: corpus %d, mutations %lu of %lu (seed %lu), %llu TCP connections "
	        "established by the harness, %.1f s\n", ncorpus, done, n, seed,
	        (unsigned long long)established, now_s() - t0);
	return 0;
}
