/* elisa/proto/proto_fuzz_libfuzzer.c - libFuzzer entry point of the
 * protocol decoder harness (proto_fuzz.c): `make elisa-proto-libfuzzer`,
 * then e.g.
 *   elisa/proto/proto_fuzz_libfuzzer -max_total_time=60 -max_len=9000
 * The chunk sizes of the second pass come from a hash of the input, so a
 * crash reproduces from the input alone. */
#include <stddef.h>
#include <stdint.h>

#include "proto_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a */

    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    proto_fuzz_one(data, size, h);
    return 0;
}
