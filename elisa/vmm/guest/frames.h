/* elisa/vmm/guest/frames.h - the pingpong test's frames, computed from a
 * seed so that sender and receiver (and their checks) agree on every byte
 * without sharing anything but the boot parameters.
 *
 * Frame i of the pair whose sender is guest S:
 *   dst MAC   broadcast for i = 0 (the sender does not know its peer yet),
 *             the peer's MAC afterwards;
 *   src MAC   the sender's;
 *   type      0x88B5 (IEEE local experimental);
 *   bytes 14..17  i, little-endian;
 *   bytes 18..    a xorshift64* stream seeded from (seed, S, i);
 *   length    60..1514 from the same stream.
 * Its reply (from the echoer, built from the frame as received):
 *   dst = the frame's src, src = the echoer's MAC, type 0x88B6, the rest
 *   of the frame's bytes XOR 0xA5, same length. */
#ifndef ELISA_VMM_GUEST_FRAMES_H
#define ELISA_VMM_GUEST_FRAMES_H

#include <stdint.h>

#define FRAME_MIN 60u
#define FRAME_MAX 1514u
#define FRAME_TYPE_DATA  0x88B5u
#define FRAME_TYPE_REPLY 0x88B6u
#define FRAME_REPLY_XOR  0xA5u

extern const uint8_t frame_broadcast[6];

/* Writes frame i into f (FRAME_MAX bytes) and returns its length. */
uint32_t frame_make(uint8_t *f, uint64_t seed, uint32_t sender, uint32_t i,
                    const uint8_t *dst, const uint8_t *src);
/* Writes the reply to frame f (len bytes) into r, returns len. */
uint32_t frame_reply(uint8_t *r, const uint8_t *f, uint32_t len, const uint8_t *echoer_mac);
/* 1 if the 6 bytes at a equal those at b. */
int mac_equal(const uint8_t *a, const uint8_t *b);
/* Compare got (glen) with want (wlen); returns -1 if equal, else the first
 * differing offset (the length if only the lengths differ). */
int64_t frame_diff(const uint8_t *got, uint32_t glen, const uint8_t *want, uint32_t wlen);

#endif
