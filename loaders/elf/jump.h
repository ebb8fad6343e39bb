/*
 * jump.h - start a loaded program (jump.S).
 */
#ifndef EXITLESS_ELF_JUMP_H
#define EXITLESS_ELF_JUMP_H

#include <stdint.h>

/* Set the thread pointer to fs_base (unless it is (uint64_t)-1), %rsp to
 * sp, clear the registers and flags, and jump to entry.  The caller must
 * have checked that WRFSBASE is usable (AT_HWCAP2 & HWCAP2_FSGSBASE). */
_Noreturn void elf_jump(uint64_t entry, uint64_t sp, uint64_t fs_base);

#define ELF_JUMP_KEEP_FS ((uint64_t)-1)

#endif
