/*
 * fuzz_libfuzzer.c - libFuzzer entry point of the receive-path harness
 * (fuzz_rx.c): `make netstack/fuzz/fuzz_rx_libfuzzer`, then e.g.
 *   netstack/fuzz/fuzz_rx_libfuzzer -max_total_time=60 -max_len=1600
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_rx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_rx_one(data, size);
	return 0;
}
