/*
 * fuzz_elf.h - the fuzz target of the ELF loader's parsers: elf_parse and
 * script_parse over one input, with the invariants an accepted result must
 * satisfy checked (a violation aborts, as a sanitizer report does).
 */
#ifndef EXITLESS_FUZZ_ELF_H
#define EXITLESS_FUZZ_ELF_H

#include <stddef.h>
#include <stdint.h>

/* Parse data[0, size) both ways; returns 1 if elf_parse accepted it. */
int fuzz_elf_one(const uint8_t *data, size_t size);

#endif
