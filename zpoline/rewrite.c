/*
 * rewrite.c - find the real syscall/sysenter instructions in a range of code.
 *
 * A byte search for 0f 05 would also hit those bytes inside immediates,
 * displacements and ModRM/SIB bytes of other instructions, and rewriting
 * them would corrupt the program.  So the range is decoded the way the CPU
 * would, instruction by instruction from its start, with libopcodes (the
 * disassembler behind objdump).  libopcodes prints each instruction as text
 * through callbacks; binutils >= 2.39 hands the text over in styled pieces
 * (mnemonic, register, offset ...), so we collect the pieces of one
 * instruction into a line and look at the whole line.
 *
 * Red zone: `call *%rax` stores its return address at -8(%rsp), inside the
 * caller's red zone.  Code that keeps a live value in that slot across a
 * system call (a leaf function with inline asm) would lose it.  We mark a
 * site when the code between the previous and the next `ret` addresses
 * memory reaching into [-8, 0) relative to %rsp; such sites are not turned
 * into calls (see rewrite_maps.c).  Over-marking only costs speed.
 */
#include <dis-asm.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite.h"

/* libopcodes' x86 decoder (i386-dis.c); not declared in dis-asm.h. */
extern int print_insn_i386(bfd_vma pc, disassemble_info *info);

struct insn_text {
	char buf[256];
	size_t len;
};

static int append_text(void *stream, const char *fmt, va_list ap)
{
	struct insn_text *t = stream;
	if (t->len < sizeof t->buf - 1) {
		int n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
		if (n > 0)
			t->len += (size_t)n < sizeof t->buf - t->len ? (size_t)n : sizeof t->buf - 1 - t->len;
	}
	return 0;
}

static int print_plain(void *stream, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	append_text(stream, fmt, ap);
	va_end(ap);
	return 0;
}

static int print_styled(void *stream, enum disassembler_style style, const char *fmt, ...)
{
	(void)style;
	va_list ap;
	va_start(ap, fmt);
	append_text(stream, fmt, ap);
	va_end(ap);
	return 0;
}

/*
 * The decoder reads an instruction's bytes through read_memory_func.  A read
 * past the end of the range means the instruction is cut off.  The x86
 * decoder in binutils 2.40 then still returns a length (it prints `.byte`)
 * and reports the error only if not one byte could be read, so we wrap the
 * reader and remember any failed read ourselves.
 */
static int read_within_range(bfd_vma addr, bfd_byte *to, unsigned int len, struct disassemble_info *info)
{
	int status = buffer_read_memory(addr, to, len, info);
	if (status != 0)
		*(int *)info->application_data = 1;
	return status;
}

static void memory_error_quiet(int status, bfd_vma addr, struct disassemble_info *info)
{
	(void)status;
	(void)addr;
	(void)info;
}

static void print_address_plain(bfd_vma addr, struct disassemble_info *info)
{
	info->fprintf_func(info->stream, "0x%lx", (unsigned long)addr);
}

static bool starts_with_word(const char *s, const char *word)
{
	size_t n = strlen(word);
	return strncmp(s, word, n) == 0 && (s[n] == '\0' || s[n] == ' ' || s[n] == '\t');
}

/* Width in bytes that an instruction's memory operand may cover. */
static long access_width(const char *text)
{
	if (strstr(text, "%zmm"))
		return 64;
	if (strstr(text, "%ymm"))
		return 32;
	if (strstr(text, "%xmm") || strstr(text, "fxsave") || strstr(text, "xsave"))
		return 16;
	return 8;
}

/* Does the instruction address memory overlapping [rsp-8, rsp)? */
static bool touches_return_slot(const char *text)
{
	for (const char *p = strstr(text, "(%rsp"); p; p = strstr(p + 1, "(%rsp")) {
		/* Walk back over the displacement, e.g. "-0x8" before "(%rsp". */
		const char *d = p;
		while (d > text && (d[-1] == 'x' || (d[-1] >= '0' && d[-1] <= '9') ||
				    (d[-1] >= 'a' && d[-1] <= 'f')))
			d--;
		if (d > text && d[-1] == '-' && d[0] == '0' && d[1] == 'x') {
			long disp = -strtol(d + 2, NULL, 16);
			if (disp < 0 && disp + access_width(text) > -8)
				return true;
		}
	}
	return false;
}

/* Sites of the current function, held back until we know its red-zone use. */
struct pending {
	struct zp_site sites[64];
	size_t n;
	bool redzone;
};

static int flush(struct pending *pend, zp_site_cb cb, void *arg, struct zp_scan_stats *st)
{
	int stop = 0;
	for (size_t i = 0; i < pend->n && !stop; i++) {
		if (pend->redzone) {
			pend->sites[i].flags |= ZP_SITE_REDZONE;
			st->redzone_sites++;
		}
		st->sites++;
		stop = cb(&pend->sites[i], arg);
	}
	pend->n = 0;
	pend->redzone = false;
	return stop;
}

long zp_find_sites(const uint8_t *code, size_t len, uint64_t vaddr,
		   zp_site_cb cb, void *arg, struct zp_scan_stats *stats)
{
	struct zp_scan_stats local = { 0 };
	struct zp_scan_stats *st = stats ? stats : &local;
	memset(st, 0, sizeof *st);

	struct insn_text text = { .len = 0 };
	struct disassemble_info info;
	init_disassemble_info(&info, &text, print_plain, print_styled);
	info.arch = bfd_arch_i386;
	info.mach = bfd_mach_x86_64;
	info.buffer = (bfd_byte *)code;
	info.buffer_length = len;
	info.buffer_vma = vaddr;
	int read_past_end = 0;
	info.read_memory_func = read_within_range;
	info.memory_error_func = memory_error_quiet;
	info.application_data = &read_past_end;
	info.print_address_func = print_address_plain;
	disassemble_init_for_target(&info);
	/* The x86 decoder directly: disassembler() would pull in every architecture and libbfd. */
	disassembler_ftype decode = print_insn_i386;
	if (!decode)
		return -1;

	struct pending pend = { .n = 0, .redzone = false };
	size_t off = 0;
	int stop = 0;
	while (off < len && !stop) {
		text.len = 0;
		text.buf[0] = '\0';
		int n = decode(vaddr + off, &info);
		if (n <= 0 || read_past_end || off + (size_t)n > len) {
			st->truncated = 1;
			break;
		}
		st->insns++;
		const char *t = text.buf;
		while (*t == ' ')
			t++;
		/* Only the plain 2-byte forms can become the 2-byte `call *%rax`. */
		if (n == 2 && code[off] == 0x0f && (code[off + 1] == 0x05 || code[off + 1] == 0x34)) {
			if (pend.n == sizeof pend.sites / sizeof pend.sites[0])
				stop = flush(&pend, cb, arg, st);
			pend.sites[pend.n++] = (struct zp_site){
				.addr = vaddr + off,
				.kind = code[off + 1] == 0x05 ? ZP_SITE_SYSCALL : ZP_SITE_SYSENTER,
				.flags = 0,
			};
		} else if (touches_return_slot(t)) {
			pend.redzone = true;
		} else if (starts_with_word(t, "ret") || starts_with_word(t, "retq")) {
			stop = flush(&pend, cb, arg, st);
		}
		off += (size_t)n;
	}
	if (!stop)
		flush(&pend, cb, arg, st);
	st->bytes = off;
	return (long)st->sites;
}

/*
 * libopcodes' x86 decoder reports internal errors through libbfd's error
 * handler.  We link the decoder statically without libbfd (1.5 MB of code
 * that would otherwise be mapped, and decoded, in every hooked process), so
 * provide the one function it needs.
 */
void _bfd_error_handler(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("zpoline: libopcodes: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
