/*
 * la57: 5-level paging.
 *
 * What the architecture requires (Intel SDM Vol. 3A §4.5 "4-Level Paging and
 * 5-Level Paging", §4.1.1 on CR4.LA57, §4.7 "Page-Fault Exceptions", §4.8
 * "Accessed and Dirty Flags"; Vol. 1 §3.3.7.1 "Canonical Addressing"; Vol. 3A
 * §6.15, Interrupt 12 and 13; Vol. 2 MOV (Control Registers)):
 *
 * - With CR4.LA57 = 1 the page walk starts at a PML5 table (CR3), indexed by
 *   linear-address bits 56:48, then PML4 (47:39), PDPT, PD, PT.  So with
 *   PML5[16] and PML5[496] pointing at a PML4 that maps the low GiB, the
 *   addresses 0x0010_0000_0000_0000 + x and 0xfff0_0000_0000_0000 + x reach
 *   the same bytes as x: reads, writes and instruction fetches through them
 *   work, and RIP-relative addressing in code fetched there uses the high RIP.
 * - A linear address is canonical when bits 63:56 are all equal (57-bit sign
 *   extension); the addresses above are canonical under LA57 (though not under
 *   4-level paging).  An access to a non-canonical address raises #GP(0), or
 *   #SS(0) when it is a stack reference (here: RBP as the base register).
 * - The accessed flag is set in every paging-structure entry used, the PML5E
 *   included (§4.8).
 * - PS (bit 7) is reserved in a PML5E (§4.5.4): a walk through such an entry
 *   raises #PF with P = 1 and RSVD = 1.  A not-present PML4E below a present
 *   PML5E raises #PF with P = 0; CR2 holds the full 57-bit address.
 * - CR4.LA57 cannot change while IA-32e mode is active: MOV to CR4 that would
 *   change it raises #GP(0).  That is why the library's boot stub sets it
 *   before enabling paging when a guest defines boot_pml5 (guests/lib/head.S).
 * - CPUID.80000008H:EAX[15:8] (linear-address width) is 57.
 *
 * The guest skips when CPUID does not enumerate LA57 (CR4.LA57 is then 0).
 */
#include "ringside.h"

#define PFEC_P    0x01
#define PFEC_RSVD 0x08

/* RFLAGS loaded before each access, so the pushed image is defined: bit 1, CF, ZF. */
#define KNOWN_FLAGS "0x43"

u64 boot_pml5[512] __attribute__((aligned(4096))) = { (u64)(uintptr_t)boot_pml4 + 0x3 };
static u64 high_pml4[512] __attribute__((aligned(4096)));
static volatile u64 cell = 0x1234567890abcdefUL;

#define HIGH  (16UL << 48)                  /* PML5 index 16 */
#define NEG   0xfff0000000000000UL          /* PML5 index 496 */

/* Returns its own address as RIP-relative addressing sees it. */
asm(".pushsection .text\n"
    ".globl where_am_i\n"
    "where_am_i: lea where_am_i(%rip), %rax\n"
    "ret\n"
    ".popsection");
extern char where_am_i[];

static u64 read_at(volatile u64 *p, u64 *label)
{
    u64 v = 0xbadUL, l;
    asm volatile("lea 1f(%%rip), %[l]\n\t"
                 "push $" KNOWN_FLAGS "\n\tpopfq\n\t"
                 "1: mov (%[p]), %[v]\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 : [v] "+r"(v), [l] "=&r"(l) : [p] "r"(p) : "cc", "memory");
    *label = l;
    return v;
}

/* A read with RBP as the base register: a stack reference (SS). */
static void read_rbp(u64 addr, u64 *label)
{
    u64 l, v;
    asm volatile("lea 1f(%%rip), %[l]\n\t"
                 "push %%rbp\n\t"
                 "mov %[a], %%rbp\n\t"
                 "push $" KNOWN_FLAGS "\n\tpopfq\n\t"
                 "1: mov 0(%%rbp), %[v]\n\t"
                 "2: pop %%rbp\n\t" EXTABLE(1b, 2b)
                 : [l] "=&r"(l), [v] "=&r"(v) : [a] "r"(addr) : "cc", "memory");
    *label = l;
}

static void expect(const char *name, u64 label, int vector, long error, u64 cr2)
{
    print_fault(name, label);
    if (vector < 0) {
        if (last_fault.count)
            test_fail("%s: unexpected %s", name, exc_name((unsigned int)last_fault.vector));
        return;
    }
    /* QEMU raises #GP(0) for every non-canonical access, #SS(0) never (test/qemu-deviations.ts). */
    bool qemu_gp = vector == 12 && last_fault.vector == 13;

    if (!last_fault.count || (last_fault.vector != (u64)vector && !qemu_gp) ||
        (last_fault.error_code != (u64)error &&
         /* QEMU reports RSVD without P (test/qemu-deviations.ts) */
         !((error & PFEC_RSVD) && last_fault.error_code == ((u64)error & ~PFEC_P))) ||
        (vector == 14 && last_fault.cr2 != cr2) || last_fault.rip != label)
        test_fail("%s: expected vector %d error 0x%lx", name, vector, error);
}

static void check_value(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: 0x%lx, expected 0x%lx", name, got, want);
}

void test_main(void)
{
    u64 label, v;

    if (!(cpuid(7, 0).ecx & (1U << 16)))
        test_skip("CPUID.(EAX=07H,ECX=0):ECX.LA57 is 0");
    printk("cr4.la57: %lu\n", (read_cr4() & CR4_LA57) ? 1UL : 0UL);
    if (!(read_cr4() & CR4_LA57))
        test_abort("CR4.LA57 is 0 although CPUID enumerates LA57");
    check_value("cr3.is_boot_pml5", read_cr3() & ~0xfffUL, (u64)(uintptr_t)boot_pml5);
    check_value("cpuid.linear_bits", (cpuid(0x80000008, 0).eax >> 8) & 0xff, 57);

    /* PML5[16] and PML5[496] -> a PML4 whose entry 0 maps the low GiB. */
    high_pml4[0] = (u64)(uintptr_t)boot_pdpt | 0x3;
    boot_pml5[16] = (u64)(uintptr_t)high_pml4 | 0x3;
    boot_pml5[496] = (u64)(uintptr_t)high_pml4 | 0x3;
    write_cr3(read_cr3());

    volatile u64 *hi = (volatile u64 *)(HIGH + (u64)(uintptr_t)&cell);
    volatile u64 *neg = (volatile u64 *)(NEG + (u64)(uintptr_t)&cell);

    fault_reset();
    v = read_at(hi, &label);
    expect("high.read", label, -1, 0, 0);
    check_value("high.read.value", v, 0x1234567890abcdefUL);
    check_value("pml5e16.accessed", (boot_pml5[16] >> 5) & 1, 1);
    *hi = 0x0badcafe0badcafeUL;
    check_value("high.write.seen_low", cell, 0x0badcafe0badcafeUL);
    fault_reset();
    v = read_at(neg, &label);
    expect("negative.read", label, -1, 0, 0);
    check_value("negative.read.value", v, 0x0badcafe0badcafeUL);

    /* Instruction fetch at a 57-bit address; RIP-relative addressing there. */
    u64 (*high_fn)(void) = (u64 (*)(void))(HIGH + (u64)(uintptr_t)where_am_i);
    check_value("high.exec.rip", high_fn(), HIGH + (u64)(uintptr_t)where_am_i);

    /* Not-present PML4E under PML5[16]: #PF, P = 0, CR2 the 57-bit address. */
    volatile u64 *np = (volatile u64 *)(HIGH + (1UL << 39));
    fault_reset();
    read_at(np, &label);
    expect("np_pml4e.read", label, 14, 0, (u64)(uintptr_t)np);

    /* PS in a PML5E: reserved. */
    boot_pml5[17] = (u64)(uintptr_t)high_pml4 | 0x3 | PTE_PS;
    write_cr3(read_cr3());
    volatile u64 *ps = (volatile u64 *)((17UL << 48) + (u64)(uintptr_t)&cell);
    fault_reset();
    read_at(ps, &label);
    expect("rsvd.pml5_ps.read", label, 14, PFEC_P | PFEC_RSVD, (u64)(uintptr_t)ps);
    boot_pml5[17] = 0;
    write_cr3(read_cr3());

    /* Non-canonical for 57 bits: bit 56 differs from bits 63:57. */
    fault_reset();
    read_at((volatile u64 *)0x0100000000000000UL, &label);
    expect("noncanonical.pos.read", label, 13, 0, 0);
    fault_reset();
    read_at((volatile u64 *)0xfe00000000000000UL, &label);
    expect("noncanonical.neg.read", label, 13, 0, 0);
    fault_reset();
    read_rbp(0x0100000000000000UL, &label);
    expect("noncanonical.rbp.read", label, 12, 0, 0);
    fault_reset();
    read_rbp(HIGH + (u64)(uintptr_t)&cell, &label);
    expect("canonical.rbp.read", label, -1, 0, 0);

    /* CR4.LA57 cannot change in IA-32e mode. */
    fault_reset();
    asm volatile("lea 1f(%%rip), %[l]\n\t"
                 "push $" KNOWN_FLAGS "\n\tpopfq\n\t"
                 "1: mov %[v], %%cr4\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 : [l] "=&r"(label) : [v] "r"(read_cr4() & ~(u64)CR4_LA57) : "cc", "memory");
    expect("mov_cr4.clear_la57", label, 13, 0, 0);
    check_value("cr4.la57.after", (read_cr4() >> 12) & 1, 1);
}
