/*
 * fuzz_libfuzzer.c - libFuzzer entry point of the ELF parsers (fuzz_elf.c):
 * `make elf-libfuzzer`, then e.g.
 *   loaders/elf/fuzz/fuzz_elf_libfuzzer -max_total_time=60 -max_len=8192 CORPUS_DIR
 * (a corpus directory with /bin/true and ld.so copies helps it start).
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_elf_one(data, size);
	return 0;
}
