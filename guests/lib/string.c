/* Freestanding memory and string functions.  gcc may emit calls to memset,
 * memcpy, memmove and memcmp for struct copies and loops, so they must exist;
 * they are written so that gcc cannot turn them back into calls to themselves. */
#include "ringside.h"

void *memset(void *d, int c, size_t n)
{
    void *ret = d;
    asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return ret;
}

void *memcpy(void *d, const void *s, size_t n)
{
    void *ret = d;
    asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
    return ret;
}

void *memmove(void *d, const void *s, size_t n)
{
    if ((uintptr_t)d <= (uintptr_t)s || (uintptr_t)d >= (uintptr_t)s + n)
        return memcpy(d, s, n);

    volatile u8 *dp = (u8 *)d + n;
    const volatile u8 *sp = (const u8 *)s + n;
    while (n--)
        *--dp = *--sp;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const volatile u8 *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x < *y ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    const volatile char *p = s;
    while (*p)
        p++;
    return (size_t)(p - s);
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}
