/* vmfunc/testbed/console.c - the testbed's only output path.
 *
 * Every character goes to Bochs' port 0xE9 ("port_e9_hack", shown in
 * Bochs' own log/terminal) and to COM1 (a 16550 at 0x3F8, which Bochs writes
 * to a file: run.sh reads that file).  COM1 is polled: we wait for the
 * transmit holding register to empty (LSR bit 5) before each byte. */
#include "console.h"

#include <stdbool.h>
#include <stddef.h>

#define COM1 0x3F8

void console_init(void)
{
    outb(COM1 + 1, 0x00);       /* IER: no interrupts */
    outb(COM1 + 3, 0x80);       /* LCR: DLAB on to set the divisor */
    outb(COM1 + 0, 0x01);       /* divisor 1 = 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);       /* LCR: 8 bits, no parity, 1 stop bit */
    outb(COM1 + 2, 0xC7);       /* FCR: FIFO on, cleared */
    outb(COM1 + 4, 0x03);       /* MCR: DTR | RTS */
}

void console_putc(char c)
{
    if (c == '\n')
        console_putc('\r');
    outb(0xE9, (uint8_t)c);
    for (int i = 0; i < 100000 && (inb(COM1 + 5) & 0x20) == 0; i++)
        ;
    outb(COM1, (uint8_t)c);
}

void console_puts(const char *s)
{
    while (*s)
        console_putc(*s++);
}

static void put_unsigned(uint64_t v, unsigned base, int width, bool zero)
{
    char buf[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v != 0);
    while (n < width--)
        console_putc(zero ? '0' : ' ');
    while (n > 0)
        console_putc(buf[--n]);
}

void tb_vprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            console_putc(*fmt);
            continue;
        }
        fmt++;
        bool zero = false;
        int width = 0;
        int longs = 0;
        if (*fmt == '0') {
            zero = true;
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            longs++;
            fmt++;
        }
        switch (*fmt) {
        case 'd': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            uint64_t u = (uint64_t)v;
            if (v < 0) {
                console_putc('-');
                u = (uint64_t)0 - u;
                if (width > 0)
                    width--;
            }
            put_unsigned(u, 10, width, zero);
            break;
        }
        case 'u':
            put_unsigned(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, zero);
            break;
        case 'x':
            put_unsigned(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, zero);
            break;
        case 'p':
            console_puts("0x");
            put_unsigned((uint64_t)(uintptr_t)va_arg(ap, void *), 16, width, zero);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            console_puts(s ? s : "(null)");
            break;
        }
        case 'c':
            console_putc((char)va_arg(ap, int));
            break;
        case '%':
            console_putc('%');
            break;
        default:
            console_putc('%');
            if (*fmt == '\0')
                return;
            console_putc(*fmt);
            break;
        }
    }
}

void tb_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tb_vprintf(fmt, ap);
    va_end(ap);
}

void tb_shutdown(void)
{
    /* Bochs' "shutdown port": the string "Shutdown" written byte by byte to
     * port 0x8900 ends the simulation (Bochs iodev/unmapped.cc). */
    const char *s = "Shutdown";
    while (*s)
        outb(0x8900, (uint8_t)*s++);
    for (;;)
        __asm__ volatile("cli; hlt");
}
