/* vmfunc/testbed/console.h - output on Bochs' port 0xE9 and COM1, a small
 * printf, and the way out (Bochs' shutdown port). */
#ifndef TESTBED_CONSOLE_H
#define TESTBED_CONSOLE_H

#include <stdarg.h>
#include <stdint.h>

void console_init(void);
void console_putc(char c);
void console_puts(const char *s);
/* %[0][width][l|ll](d|u|x|s|c|p) and %%; nothing else. */
void tb_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tb_vprintf(const char *fmt, va_list ap);
/* Writes "Shutdown" to port 0x8900: Bochs quits (with status 1). */
__attribute__((noreturn)) void tb_shutdown(void);

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

#endif
