# loaders/ - launchers that start a program under libzpoline.
#
#   loaders/zprun           zprun [--hook NAME|PATH] [--verbose] [--] prog args...
#   loaders/test_zprun.sh   its tests (bash loaders/test_zprun.sh)
#
# zprun finds zpoline/libzpoline.so and hooklib/libzphook_*.so relative to its
# own executable, so it has no build-time dependency on them.

ALL_TARGETS += loaders/zprun

# zprun reads ELF headers with the loader's parser (is a program static?).
loaders/zprun: loaders/zprun.c loaders/elf/elf_parse.c loaders/elf/elf_parse.h
	$(CC) $(CFLAGS) -Iloaders -o $@ loaders/zprun.c loaders/elf/elf_parse.c

.PHONY: test-loaders
test-loaders: loaders/zprun
	bash loaders/test_zprun.sh

# zptrace: the ptrace mechanism (a tracer that runs an unmodified hook
# library on a traced program; `zprun --mechanism ptrace` execs it).
#   loaders/ptrace/marshal*.c  the pointer table and the copies (no ptrace:
#                              tests/unit/test_ptrace_marshal drives them)
#   loaders/ptrace/tracee.c    ptrace requests, the tracee's memory
#   loaders/ptrace/tracer.c    threads, coroutines, api->next, fork hand-off
ZPTRACE_SRC := loaders/zptrace.c loaders/ptrace/tracer.c loaders/ptrace/tracee.c \
               loaders/ptrace/marshal.c loaders/ptrace/marshal_table.c
ZPTRACE_H   := loaders/ptrace/tracer.h loaders/ptrace/tracee.h loaders/ptrace/marshal.h hooklib/zphook.h \
               hooklib/hook_init.h
ALL_TARGETS += loaders/zptrace

loaders/zptrace: $(ZPTRACE_SRC) $(ZPTRACE_H)
	$(CC) $(CFLAGS) -Ihooklib -Iloaders -o $@ $(ZPTRACE_SRC) -ldl

# cmocka unit test of the marshalling (run: tests/unit/test_ptrace_marshal)
tests/unit/test_ptrace_marshal: tests/unit/test_ptrace_marshal.c loaders/ptrace/marshal.c \
                                loaders/ptrace/marshal_table.c loaders/ptrace/marshal.h
	$(CC) $(CFLAGS) -Iloaders/ptrace -o $@ tests/unit/test_ptrace_marshal.c \
	      loaders/ptrace/marshal.c loaders/ptrace/marshal_table.c -lcmocka
CLEAN_FILES += tests/unit/test_ptrace_marshal
