# loaders/elf - the ELF loader, loaders/zpload: runs a program the way
# execve would, with libzpoline linked in to rewrite its code first.
#
#   loaders/zpload                  zpload [--no-hook] [--argv0 NAME] [--] PATH [ARG...]
#   loaders/elf/elf_parse.c         validate an ELF file in memory (pure, fuzzed)
#   loaders/elf/elf_map.c           map it as load_elf_binary does
#   loaders/elf/script.c            the "#!" line, as binfmt_script parses it
#   loaders/elf/stack.c             the initial stack and auxv (create_elf_tables)
#   loaders/elf/jump.S              start the program with execve's register state
#
# Tests (the lead hooks them into `make test` through the variables below):
#   tests/unit/test_elf             cmocka: parser, "#!" parser, stack layout
#   loaders/elf/fuzz/fuzz_elf       deterministic fuzz driver of the parsers
#                                   (gcc, ASan+UBSan): `make elf-fuzz-run`
#   loaders/elf/fuzz/fuzz_elf_libfuzzer   the same target for libFuzzer (clang;
#                                   not built by default): `make elf-libfuzzer`
#   loaders/elf/test_zpload.sh      the raw loader (--no-hook) against execve
ELF_SRC  := loaders/elf/elf_parse.c loaders/elf/elf_map.c loaders/elf/script.c loaders/elf/stack.c
ELF_H    := loaders/elf/elf_parse.h loaders/elf/elf_map.h loaders/elf/script.h loaders/elf/stack.h \
            loaders/elf/jump.h
ELF_OBJS := $(ELF_SRC:.c=.o) loaders/elf/jump.o

$(ELF_SRC:.c=.o): loaders/elf/%.o: loaders/elf/%.c $(ELF_H)
	$(CC) $(CFLAGS) -c -o $@ $<

loaders/elf/jump.o: loaders/elf/jump.S
	$(CC) -c -o $@ $<

ALL_TARGETS += loaders/zpload
loaders/zpload: loaders/zpload.c $(ELF_OBJS) $(ZPOLINE_OBJS) loaders/zpload_host.h $(ELF_H)
	$(CC) $(CFLAGS) -Iloaders -o $@ loaders/zpload.c $(ELF_OBJS) $(ZPOLINE_OBJS) -Wl,--exclude-libs,ALL -l:libopcodes.a -liberty -ldl -pthread

# --- tests ------------------------------------------------------------------
tests/unit/test_elf: tests/unit/test_elf.c $(ELF_SRC) $(ELF_H) loaders/elf/elf_testimg.h
	$(CC) $(CFLAGS) -Iloaders/elf -o $@ tests/unit/test_elf.c $(ELF_SRC) -lcmocka

# The parsers under the sanitizers.  Seeds are made at run time from the
# system's own programs (/bin/true, ld.so, a static ldconfig) and from
# hand-built images; ARGS: mutations, seed, time limit in seconds.
ELF_FUZZ       := loaders/elf/fuzz/fuzz_elf
ELF_LIBFUZZER  := loaders/elf/fuzz/fuzz_elf_libfuzzer
ELF_FUZZ_SRC   := loaders/elf/fuzz/fuzz_elf.c loaders/elf/elf_parse.c loaders/elf/script.c
ELF_FUZZ_H     := loaders/elf/fuzz/fuzz_elf.h loaders/elf/elf_parse.h loaders/elf/script.h \
                  loaders/elf/elf_testimg.h tests/fuzz_driver.h
ELF_FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ELF_FUZZ_ARGS  ?= 1000000 1 25

$(ELF_FUZZ): loaders/elf/fuzz/fuzz_main.c $(ELF_FUZZ_SRC) $(ELF_FUZZ_H)
	$(CC) $(CFLAGS) -O1 $(ELF_FUZZ_SAN) -Iloaders/elf -o $@ loaders/elf/fuzz/fuzz_main.c $(ELF_FUZZ_SRC)

$(ELF_LIBFUZZER): loaders/elf/fuzz/fuzz_libfuzzer.c $(ELF_FUZZ_SRC) $(ELF_FUZZ_H)
	clang $(CFLAGS) -O1 -fsanitize=fuzzer,address,undefined -Iloaders/elf -o $@ \
	      loaders/elf/fuzz/fuzz_libfuzzer.c $(ELF_FUZZ_SRC)

ELF_TEST_UNITS  := tests/unit/test_elf
ELF_TEST_SUITES := loaders/elf/test_zpload.sh

.PHONY: elf-fuzz-run elf-libfuzzer
elf-fuzz-run: $(ELF_FUZZ)
	$(ELF_FUZZ) $(ELF_FUZZ_ARGS)

elf-libfuzzer: $(ELF_LIBFUZZER)

CLEAN_FILES += $(ELF_OBJS) tests/unit/test_elf $(ELF_FUZZ) $(ELF_LIBFUZZER)
