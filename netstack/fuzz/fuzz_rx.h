/*
 * fuzz_rx.h - the fuzz harness of netstack's receive path (fuzz_rx.c),
 * shared by the deterministic driver (fuzz_main.c) and the libFuzzer
 * target (fuzz_libfuzzer.c).
 *
 * An input is one byte of mode and verdict followed by mode-specific bytes
 * (see fuzz_rx.c): a raw frame, an IPv4 packet behind a correct Ethernet
 * header, a TCP segment aimed at one of the established connections with
 * the right ports and sequence numbers, or an IPv4 datagram (UDP, ICMP,
 * TCP, fragments, options) with valid checksums.  Structured inputs reach
 * past the checks that random bytes never pass.
 */
#ifndef EXITLESS_NETSTACK_FUZZ_RX_H
#define EXITLESS_NETSTACK_FUZZ_RX_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_FRAME_MAX 2048

/* Start the stack on the in-memory port, listeners on TCP 80 (reads all),
 * TCP 81 (never reads: windows fill, segments queue out of order) and UDP
 * 53 (echo), and open the harness's TCP connections. */
void fuzz_rx_init(void);

/* Build the frame INPUT describes (may first re-open connections).
 * Returns its length (0: nothing to send) and the device verdict. */
size_t fuzz_rx_render(const uint8_t *in, size_t len, uint8_t *frame, uint16_t *flags);

/* Give one frame to the stack and run one poll. */
void fuzz_rx_inject(const uint8_t *frame, size_t len, uint16_t flags);

/* render + inject. */
void fuzz_rx_one(const uint8_t *in, size_t len);

/* Frames given to the stack, frames it dropped (lwIP's counters), TCP
 * connections the harness has established so far. */
void fuzz_rx_stats(uint64_t *frames, uint64_t *dropped, uint64_t *established);

/* Stop the stack (the deterministic driver, at the end). */
void fuzz_rx_fini(void);

#endif
