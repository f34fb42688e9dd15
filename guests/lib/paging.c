/* Helpers for tests that change the boot page tables (head.S). */
#include "ringside.h"

volatile u64 *pte_of(const volatile void *va)
{
    u64 a = (u64)(uintptr_t)va;

    if (a >= (2UL << 20))
        test_abort("pte_of(0x%lx): only the first 2 MiB have 4 KiB pages", a);
    return &boot_pt[a >> 12];
}

void pte_set(const volatile void *va, u64 bits)
{
    *pte_of(va) |= bits;
    invlpg(va);
}

void pte_clear(const volatile void *va, u64 bits)
{
    *pte_of(va) &= ~bits;
    invlpg(va);
}
