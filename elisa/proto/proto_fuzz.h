/* elisa/proto/proto_fuzz.h - the invariants the fuzz drivers check on one
 * input (proto_fuzz_main.c: deterministic, gcc ASan+UBSan;
 * proto_fuzz_libfuzzer.c: libFuzzer). */
#ifndef ELISA_PROTO_FUZZ_H
#define ELISA_PROTO_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Counters over all inputs so far. */
struct proto_fuzz_stats {
    uint64_t inputs;
    uint64_t messages;                     /* accepted, all types */
    uint64_t by_type[PROTO_TYPE_LAST + 1]; /* accepted, per type */
    uint64_t errors[PROTO_E_INVAL + 1];    /* streams ended by -PROTO_E_x */
    uint64_t need_more;                    /* inputs ending inside a message */
};

extern struct proto_fuzz_stats proto_fuzz_stats;

/* Decode DATA as one byte stream twice, in one piece and in pieces whose
 * sizes come from CHUNK_SEED (every size from 1 byte up), and abort() with
 * the input in hex on stderr if any invariant breaks:
 *   - the decoder never reports more bytes used than it was given, and a
 *     "need more" takes everything;
 *   - every accepted message re-encodes to exactly the bytes it came from,
 *     and decodes alone, one-shot, to the same size;
 *   - an error points inside the bytes consumed, repeats on the next call
 *     and takes nothing more;
 *   - both passes give the same messages at the same offsets, the same
 *     error (code, message offset, field offset, value) and the same
 *     number of bytes left pending.
 * Memory errors and undefined behaviour are the sanitizers' to report. */
void proto_fuzz_one(const uint8_t *data, size_t len, uint64_t chunk_seed);

#endif
