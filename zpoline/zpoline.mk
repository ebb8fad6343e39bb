# zpoline/libzpoline.so - the trampoline, the rewriter and the dispatcher.
#
# Files on the path of a hooked call are built with -mgeneral-regs-only:
# with a ZPHOOK_NO_VECTOR hook nobody saves the application's vector
# registers, so that code must not touch them (zpoline.h).
ZPOLINE_HOT  := dispatch next sites raw env_follow vector mem sud redzone_trap \
                sigpath signext sigactions seccomp thread loader_calls
ZPOLINE_COLD := main trampoline rewrite rewrite_maps func_starts hookload loader_host
ZPOLINE_OBJS := $(ZPOLINE_HOT:%=zpoline/%.o) $(ZPOLINE_COLD:%=zpoline/%.o) \
                zpoline/entry.o zpoline/loader_sig.o

ALL_TARGETS += zpoline/libzpoline.so

$(ZPOLINE_HOT:%=zpoline/%.o): ZP_EXTRA := -mgeneral-regs-only

zpoline/%.o: zpoline/%.c zpoline/zpoline.h zpoline/rewrite.h zpoline/func_starts.h hooklib/zphook.h \
             hooklib/hook_init.h loaders/zpload_host.h
	$(CC) $(CFLAGS) -fPIC $(ZP_EXTRA) -c -o $@ $<

zpoline/entry.o zpoline/loader_sig.o: zpoline/%.o: zpoline/%.S
	$(CC) -fPIC -c -o $@ $<

zpoline/libzpoline.so: $(ZPOLINE_OBJS)
	$(CC) -shared -o $@ $^ -Wl,--exclude-libs,ALL -l:libopcodes.a -liberty -ldl -Wl,-z,now
