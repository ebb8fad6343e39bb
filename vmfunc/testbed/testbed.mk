# vmfunc/testbed - the bare-metal VMX/EPT/VMFUNC testbed, booted in Bochs.
#
#   make vmfunc-testbed       build vmfunc/testbed/testbed.iso (GRUB rescue ISO)
#   make vmfunc-testbed-run   run it in Bochs (vmfunc/testbed/run.sh)
#
# The image is freestanding 64-bit code (entered in 32-bit mode by GRUB's
# multiboot loader, see boot.S); it compiles the vmfunc/ library sources
# and elisa/vmnet/vmnet.c (the guest's and the manager's halves of the
# switch) itself with the same flags.  It embeds the real sub-context apps
# elisa/apps/nop.so and vmnet.so as flat images made by
# elisa/apps/elisa-app-flat (apps.S).  Objects go to vmfunc/testbed/obj/.

TESTBED_DIR    := vmfunc/testbed
TESTBED_OBJDIR := $(TESTBED_DIR)/obj
TESTBED_ELF    := $(TESTBED_DIR)/testbed.elf
VMFUNC_TESTBED_ISO   := $(TESTBED_DIR)/testbed.iso
VMFUNC_TESTBED_SUITE := $(TESTBED_DIR)/run.sh

TESTBED_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror \
                  -m64 -ffreestanding -mno-red-zone -mgeneral-regs-only -fno-pic -fno-pie \
                  -fno-stack-protector -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
                  -nostdlib -I$(TESTBED_DIR) -Ivmfunc -Ielisa/apps -Ielisa/vmnet
# -Wa,-I: .incbin in apps.S finds obj/app_*.bin relative to the testbed.
TESTBED_ASFLAGS := -m64 -fno-pic -fno-pie -I$(TESTBED_DIR) -Wa,-I$(TESTBED_DIR)
TESTBED_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
                   -Wl,-T,$(TESTBED_DIR)/linker.ld

TESTBED_C_SRCS := $(addprefix $(TESTBED_DIR)/,main.c console.c idt.c mem.c vmx.c sub.c app_checks.c)
TESTBED_S_SRCS := $(addprefix $(TESTBED_DIR)/,boot.S isr.S vmx_entry.S guest.S gate.S apps.S)
# The library's freestanding sources, compiled here with the flags above.
TESTBED_LIB_SRCS := $(wildcard $(addprefix vmfunc/,ept.c eptp.c caps.c elisa_ctx.c guest_pt.c))
# (elisa/vmnet's files by name: vmnet.mk, which names them, is included
# after this file, and prerequisites are expanded when read.)
TESTBED_VMNET_SRC := elisa/vmnet/vmnet.c
TESTBED_HDRS := $(wildcard $(TESTBED_DIR)/*.h) $(wildcard vmfunc/*.h) elisa/apps/app.h elisa/vmnet/vmnet.h
# The real apps, flattened (size and entry offset in obj/app_<name>.h).
TESTBED_APPS := nop vmnet
TESTBED_APP_FILES := $(foreach a,$(TESTBED_APPS),$(TESTBED_OBJDIR)/app_$(a).bin $(TESTBED_OBJDIR)/app_$(a).h)

TESTBED_OBJS := $(patsubst $(TESTBED_DIR)/%.c,$(TESTBED_OBJDIR)/%.o,$(TESTBED_C_SRCS)) \
                $(patsubst $(TESTBED_DIR)/%.S,$(TESTBED_OBJDIR)/%.o,$(TESTBED_S_SRCS)) \
                $(patsubst vmfunc/%.c,$(TESTBED_OBJDIR)/lib_%.o,$(TESTBED_LIB_SRCS)) \
                $(TESTBED_OBJDIR)/lib_vmnet.o

.PHONY: vmfunc-testbed vmfunc-testbed-run
vmfunc-testbed: $(VMFUNC_TESTBED_ISO)

vmfunc-testbed-run: $(VMFUNC_TESTBED_ISO)
	$(VMFUNC_TESTBED_SUITE)

$(TESTBED_OBJDIR):
	mkdir -p $@

$(TESTBED_OBJDIR)/%.o: $(TESTBED_DIR)/%.c $(TESTBED_HDRS) | $(TESTBED_OBJDIR)
	$(CC) $(TESTBED_CFLAGS) -c -o $@ $<

$(TESTBED_OBJDIR)/%.o: $(TESTBED_DIR)/%.S $(TESTBED_HDRS) | $(TESTBED_OBJDIR)
	$(CC) $(TESTBED_ASFLAGS) -c -o $@ $<

$(TESTBED_OBJDIR)/lib_%.o: vmfunc/%.c $(TESTBED_HDRS) | $(TESTBED_OBJDIR)
	$(CC) $(TESTBED_CFLAGS) -c -o $@ $<

$(TESTBED_OBJDIR)/lib_vmnet.o: $(TESTBED_VMNET_SRC) $(TESTBED_HDRS) | $(TESTBED_OBJDIR)
	$(CC) $(TESTBED_CFLAGS) -c -o $@ $(TESTBED_VMNET_SRC)

# elisa-app-flat loads the .so with the real loader (every check applies)
# and writes the image bytes and a header; apps.S .incbin's the bytes.
$(TESTBED_OBJDIR)/app_%.bin $(TESTBED_OBJDIR)/app_%.h: elisa/apps/%.so elisa/apps/elisa-app-flat | $(TESTBED_OBJDIR)
	elisa/apps/elisa-app-flat $< $(TESTBED_OBJDIR)/app_$*.bin $(TESTBED_OBJDIR)/app_$*.h

$(TESTBED_OBJDIR)/apps.o: $(TESTBED_APP_FILES)

# sub.c runs in the sub context, which maps nothing of the image but its
# own pages: every relocation of its code must name the sub context's
# memory (elisa_shared, elisa_sub_stack) or its own section.
$(TESTBED_ELF): $(TESTBED_OBJS) $(TESTBED_DIR)/linker.ld
	@bad=$$(readelf -rW $(TESTBED_OBJDIR)/sub.o | \
	  awk '/^Relocation section/ { on = ($$3 == "\x27.rela.elisa_sub\x27") ; next } \
	       on && $$1 ~ /^[0-9a-f]+$$/ && $$5 !~ /^(elisa_shared|elisa_sub_stack|\.elisa_sub)/ { print $$5 }'); \
	if [ -n "$$bad" ]; then echo "testbed: sub.c code refers outside the sub context: $$bad"; exit 1; fi
	$(CC) $(TESTBED_LDFLAGS) -o $@ $(TESTBED_OBJS) -lgcc

# grub-mkrescue (grub-pc-bin, xorriso, mtools) makes a BIOS-bootable ISO
# holding GRUB, our grub.cfg and the image.
$(VMFUNC_TESTBED_ISO): $(TESTBED_ELF) $(TESTBED_DIR)/grub.cfg
	rm -rf $(TESTBED_OBJDIR)/iso
	mkdir -p $(TESTBED_OBJDIR)/iso/boot/grub
	cp $(TESTBED_ELF) $(TESTBED_OBJDIR)/iso/boot/testbed.elf
	cp $(TESTBED_DIR)/grub.cfg $(TESTBED_OBJDIR)/iso/boot/grub/grub.cfg
	grub-mkrescue -o $@ $(TESTBED_OBJDIR)/iso 2>$(TESTBED_OBJDIR)/grub-mkrescue.log || \
	  { cat $(TESTBED_OBJDIR)/grub-mkrescue.log; exit 1; }

CLEAN_FILES += $(TESTBED_ELF) $(VMFUNC_TESTBED_ISO)
