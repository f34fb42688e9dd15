/*
 * Console: every byte goes to I/O port 0xE9 (QEMU -debugcon, Bochs port E9,
 * Ringside's native host) through putchar; a library without that port brings its own
 * putchar and builds this file with CONSOLE_PUTCHAR_EXTERNAL (guests/libpv: Xen's
 * console).  Here putchar stays in this file, where the compiler may inline it, so native
 * guests' code is what it was.  A small printf-style formatter of our own:
 *   %s %c %d %i %u %x %X %p %%, with flags '0' '-', a field width, and the
 *   length modifiers l, ll, z, h, hh.
 */
#include "ringside.h"

#ifndef CONSOLE_PUTCHAR_EXTERNAL
void putchar(int c)
{
    outb(PORT_CONSOLE, (u8)c);
}
#endif

void puts(const char *s)
{
    while (*s)
        putchar(*s++);
}

struct sink {
    char *buf;      /* NULL: write to the console */
    size_t size;
    size_t len;     /* characters produced (even past size) */
};

static void emit(struct sink *k, char c)
{
    if (!k->buf)
        putchar(c);
    else if (k->len + 1 < k->size)
        k->buf[k->len] = c;
    k->len++;
}

static void emit_padded(struct sink *k, const char *s, size_t n, int width,
                        bool left, char pad)
{
    int fill = width > (int)n ? width - (int)n : 0;

    if (!left)
        while (fill-- > 0)
            emit(k, pad);
    while (n--)
        emit(k, *s++);
    if (left)
        while (fill-- > 0)
            emit(k, ' ');
}

static void format(struct sink *k, const char *fmt, va_list ap)
{
    static const char lower[] = "0123456789abcdef";
    static const char upper[] = "0123456789ABCDEF";

    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(k, *fmt);
            continue;
        }
        fmt++;

        bool left = false;
        char pad = ' ';
        for (;; fmt++) {
            if (*fmt == '-')
                left = true;
            else if (*fmt == '0')
                pad = '0';
            else
                break;
        }
        int width = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');

        int lng = 0;                        /* 0 int, 1 long, -1 short, -2 char */
        for (;; fmt++) {
            if (*fmt == 'l' || *fmt == 'z')
                lng = 1;
            else if (*fmt == 'h')
                lng = lng < 0 ? -2 : -1;
            else
                break;
        }

        char tmp[24];
        size_t n = 0;
        u64 v;
        bool neg = false;
        const char *digits = lower;
        unsigned int base = 10;

        switch (*fmt) {
        case '\0':
            return;
        case '%':
            emit(k, '%');
            continue;
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            emit_padded(k, tmp, 1, width, left, ' ');
            continue;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            emit_padded(k, s, strlen(s), width, left, ' ');
            continue;
        }
        case 'p':
            v = (u64)(uintptr_t)va_arg(ap, void *);
            emit(k, '0');
            emit(k, 'x');
            width = 16;
            pad = '0';
            base = 16;
            goto digits;
        case 'd':
        case 'i': {
            s64 s = lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
            if (lng == -1)
                s = (s16)s;
            else if (lng == -2)
                s = (s8)s;
            neg = s < 0;
            v = neg ? 0 - (u64)s : (u64)s;
            goto digits;
        }
        case 'X':
            digits = upper;
            /* fall through */
        case 'x':
            base = 16;
            /* fall through */
        case 'u':
            v = lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
            if (lng == -1)
                v = (u16)v;
            else if (lng == -2)
                v = (u8)v;
        digits:
            do {
                tmp[sizeof(tmp) - 1 - n++] = digits[v % base];
                v /= base;
            } while (v);
            if (neg) {
                if (pad == '0') {
                    emit(k, '-');
                    if (width > 0)
                        width--;
                } else {
                    tmp[sizeof(tmp) - 1 - n++] = '-';
                }
            }
            emit_padded(k, tmp + sizeof(tmp) - n, n, width, left, pad);
            continue;
        default:
            /* Unknown conversion: print it literally. */
            emit(k, '%');
            emit(k, *fmt);
            continue;
        }
    }
}

void vprintk(const char *fmt, va_list ap)
{
    struct sink k = { 0 };
    format(&k, fmt, ap);
}

void printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
}

int vsnprintk(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink k = { .buf = buf, .size = size, .len = 0 };
    format(&k, fmt, ap);
    if (size)
        buf[k.len < size ? k.len : size - 1] = '\0';
    return (int)k.len;
}

int snprintk(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintk(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
