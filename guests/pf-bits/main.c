/*
 * pf-bits: the page-fault error code's RSVD and I/D bits at every level of a
 * 4-level walk, CR2, and the accessed/dirty flags of every level.
 *
 * What the architecture requires (Intel SDM Vol. 3A §4.5.4 "Linear-Address
 * Translation with 4-Level Paging" and its entry-format tables, §4.7
 * "Page-Fault Exceptions", §4.8 "Accessed and Dirty Flags"; CPUID.80000008H
 * for MAXPHYADDR):
 *
 * - Reserved bits are checked in every present paging-structure entry used:
 *   bits 51:MAXPHYADDR (the address bits the processor does not have) in the
 *   PML4E, PDPTE, PDE and PTE; XD (bit 63) in any of them when IA32_EFER.NXE
 *   = 0; PS (bit 7) in a PML4E; bits 29:13 of a PDPTE that maps a 1-GByte
 *   page and bits 20:13 of a PDE that maps a 2-MByte page.  A reserved bit
 *   gives #PF with P = 1 and RSVD = 1 (plus W/R for a write, and I/D for a
 *   fetch when NXE = 1 or CR4.SMEP = 1).  A not-present entry is not checked:
 *   reserved bits in it give P = 0, RSVD = 0.
 * - CR2 is the linear address accessed.
 * - A successful access sets the accessed flag in every entry it used; a
 *   write sets the dirty flag in the entry that maps the page (the leaf: PTE,
 *   or a PDE/PDPTE with PS = 1) and never in an entry that references
 *   another table.
 * - 1-GByte pages are enumerated by CPUID.80000001H:EDX[26].
 * - U/S (bit 2) needs a CPL-3 access: guests/pf-user checks it at every level.
 *
 * The guest maps its own region at PML4 slot 2 (linear 0x10000000000):
 * page 0 through a PDPT, PD and PT of its own, +2 MiB as a 2-MByte page and
 * +1 GiB as a 1-GByte page (both of physical 0).  Each case prints vector,
 * error code and CR2 relative to the region's base.
 */
#include "ringside.h"

#define PFEC_P    0x01
#define PFEC_RSVD 0x08
#define BASE      (2UL << 39)
#define BIT(n)    (1UL << (n))

static u64 pdpt[512] __attribute__((aligned(4096)));
static u64 pd[512] __attribute__((aligned(4096)));
static u64 pt[512] __attribute__((aligned(4096)));
static u8 frame[PAGE_SIZE] __attribute__((aligned(4096)));

/* Physical 0x8000..: a marker visible through the 2-MByte and 1-GByte mappings. */
#define MARK_PHYS 0x8000UL

asm(".pushsection .text\n"
    ".globl fixup_ret\n"
    "fixup_ret: ret\n"
    ".popsection");
extern char fixup_ret[];

static void reset_tables(void)
{
    boot_pml4[2] = (u64)(uintptr_t)pdpt | PTE_P | PTE_W;
    pdpt[0] = (u64)(uintptr_t)pd | PTE_P | PTE_W;
    pdpt[1] = 0 | PTE_P | PTE_W | PTE_PS;               /* BASE + 1 GiB -> physical 0 */
    pd[0] = (u64)(uintptr_t)pt | PTE_P | PTE_W;
    pd[1] = 0 | PTE_P | PTE_W | PTE_PS;                 /* BASE + 2 MiB -> physical 0 */
    pt[0] = (u64)(uintptr_t)frame | PTE_P | PTE_W;
    write_cr3(read_cr3());
}

static u64 read_at(u64 a)
{
    u64 v = 0;
    asm volatile("1: mov (%1), %0\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 : "+r"(v) : "r"(a) : "memory");
    return v;
}

static void write_at(u64 a, u64 v)
{
    asm volatile("1: mov %1, (%0)\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 :: "r"(a), "r"(v) : "memory");
}

static void exec_at(u64 a)
{
    fault_expect_at(a, (u64)(uintptr_t)fixup_ret);
    asm volatile("call *%0" :: "r"(a) : "cc", "memory");
    fault_expect_at(0, 0);
}

/*
 * Print and check one case.  want < 0: no fault.  Reserved-bit faults: QEMU 7.2
 * reports RSVD without P (test/qemu-deviations.ts); accepted here.
 */
static void outcome(const char *name, long want, u64 cr2)
{
    if (!last_fault.count) {
        printk("%s.vector: none\n%s.error_code: none\n%s.cr2: none\n", name, name, name);
        if (want >= 0)
            test_fail("%s: no fault, expected #PF error code 0x%lx", name, want);
        return;
    }
    printk("%s.vector: %lu\n%s.error_code: 0x%lx\n", name, last_fault.vector, name, last_fault.error_code);
    if (last_fault.vector == 14 && last_fault.cr2 >= BASE)
        printk("%s.cr2: base+0x%lx\n", name, last_fault.cr2 - BASE);
    else
        printk("%s.cr2: 0x%lx\n", name, last_fault.cr2);
    bool alt = (want & PFEC_RSVD) && last_fault.error_code == ((u64)want & ~PFEC_P);
    if (want < 0 || last_fault.vector != 14 || (last_fault.error_code != (u64)want && !alt) ||
        last_fault.cr2 != cr2)
        test_fail("%s: %s error code 0x%lx cr2 0x%lx, expected #PF 0x%lx cr2 0x%lx", name,
                  exc_name((unsigned int)last_fault.vector), last_fault.error_code, last_fault.cr2, want, cr2);
}

static void value(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: 0x%lx, expected 0x%lx", name, got, want);
}

/* Set `bits` in *entry, flush, read `addr`: expect `want`; restore. */
static void rsvd_read(const char *name, u64 *entry, u64 bits, u64 addr, long want)
{
    reset_tables();
    *entry |= bits;
    write_cr3(read_cr3());
    fault_reset();
    (void)read_at(addr);
    outcome(name, want, addr);
    reset_tables();
}

static void ad(const char *name, u64 entry, u64 want_a, u64 want_d)
{
    value(name, ((entry >> 5) & 1) | (((entry >> 6) & 1) << 4), want_a | (want_d << 4));
}

void test_main(void)
{
    const u64 p0 = BASE, p2m = BASE + BIT(21), p1g = BASE + BIT(30);
    const u64 rsvd_read_ec = PFEC_P | PFEC_RSVD;

    if (!(cpuid(0x80000001, 0).edx & BIT(26)))
        test_skip("CPUID.80000001H:EDX.Page1GB is 0");
    value("cpuid.maxphyaddr", cpuid(0x80000008, 0).eax & 0xff, 40);
    frame[0] = 0xc3;                                    /* ret */
    frame[8] = 0x5a;
    *(volatile u64 *)MARK_PHYS = 0x1122334455667788UL;
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_NXE);

    /* Successful accesses; A and D at each level (value: A in bit 0, D in bit 4). */
    reset_tables();
    fault_reset();
    value("ok.4k.read.value", read_at(p0 + 8) & 0xff, 0x5a);
    outcome("ok.4k.read", -1, 0);
    ad("ok.4k.read.pml4e.ad", boot_pml4[2], 1, 0);
    ad("ok.4k.read.pdpte.ad", pdpt[0], 1, 0);
    ad("ok.4k.read.pde.ad", pd[0], 1, 0);
    ad("ok.4k.read.pte.ad", pt[0], 1, 0);
    fault_reset();
    write_at(p0 + 16, 1);
    outcome("ok.4k.write", -1, 0);
    ad("ok.4k.write.pml4e.ad", boot_pml4[2], 1, 0);
    ad("ok.4k.write.pdpte.ad", pdpt[0], 1, 0);
    ad("ok.4k.write.pde.ad", pd[0], 1, 0);
    ad("ok.4k.write.pte.ad", pt[0], 1, 1);
    fault_reset();
    value("ok.2m.read.value", read_at(p2m + MARK_PHYS), 0x1122334455667788UL);
    outcome("ok.2m.read", -1, 0);
    ad("ok.2m.read.pde.ad", pd[1], 1, 0);
    write_at(p2m + MARK_PHYS + 8, 2);
    ad("ok.2m.write.pde.ad", pd[1], 1, 1);
    fault_reset();
    value("ok.1g.read.value", read_at(p1g + MARK_PHYS), 0x1122334455667788UL);
    outcome("ok.1g.read", -1, 0);
    ad("ok.1g.read.pdpte.ad", pdpt[1], 1, 0);
    write_at(p1g + MARK_PHYS + 8, 3);
    ad("ok.1g.write.pdpte.ad", pdpt[1], 1, 1);

    /* Bits 51:MAXPHYADDR at each level. */
    rsvd_read("rsvd.pml4e.bit51.read", &boot_pml4[2], BIT(51), p0, rsvd_read_ec);
    rsvd_read("rsvd.pdpte.bit51.read", &pdpt[0], BIT(51), p0, rsvd_read_ec);
    rsvd_read("rsvd.pde.bit51.read", &pd[0], BIT(51), p0, rsvd_read_ec);
    rsvd_read("rsvd.pte.bit51.read", &pt[0], BIT(51), p0, rsvd_read_ec);
    rsvd_read("rsvd.pte.bit40.read", &pt[0], BIT(40), p0, rsvd_read_ec);
    rsvd_read("rsvd.pde_2m.bit40.read", &pd[1], BIT(40), p2m, rsvd_read_ec);
    rsvd_read("rsvd.pdpte_1g.bit40.read", &pdpt[1], BIT(40), p1g, rsvd_read_ec);
    /* XD with NXE = 0 at each level. */
    rsvd_read("rsvd.pml4e.xd_nxe0.read", &boot_pml4[2], PTE_NX, p0, rsvd_read_ec);
    rsvd_read("rsvd.pdpte.xd_nxe0.read", &pdpt[0], PTE_NX, p0, rsvd_read_ec);
    rsvd_read("rsvd.pde.xd_nxe0.read", &pd[0], PTE_NX, p0, rsvd_read_ec);
    /* PS in a PML4E; the large pages' must-be-zero bits. */
    rsvd_read("rsvd.pml4e.ps.read", &boot_pml4[2], PTE_PS, p0, rsvd_read_ec);
    rsvd_read("rsvd.pde_2m.bit13.read", &pd[1], BIT(13), p2m, rsvd_read_ec);
    rsvd_read("rsvd.pde_2m.bit20.read", &pd[1], BIT(20), p2m, rsvd_read_ec);
    rsvd_read("rsvd.pdpte_1g.bit13.read", &pdpt[1], BIT(13), p1g, rsvd_read_ec);
    rsvd_read("rsvd.pdpte_1g.bit29.read", &pdpt[1], BIT(29), p1g, rsvd_read_ec);
    /* Not present: reserved bits are not looked at. */
    rsvd_read("np.pte.bit51.read", &pt[0], 0, p0 + BIT(12), 0);
    pt[1] = BIT(51) | ((u64)(uintptr_t)frame & ~0xfffUL);
    write_cr3(read_cr3());
    fault_reset();
    (void)read_at(p0 + BIT(12));
    outcome("np.pte_with_bit51.read", 0, p0 + BIT(12));
    pt[1] = 0;

    /* W/R and I/D with a reserved bit. */
    reset_tables();
    pt[0] |= BIT(51);
    write_cr3(read_cr3());
    fault_reset();
    write_at(p0, 0);
    outcome("rsvd.pte.bit51.write", PFEC_P | 0x2 | PFEC_RSVD, p0);
    fault_reset();
    exec_at(p0);
    outcome("rsvd.pte.bit51.exec_nxe0", PFEC_P | PFEC_RSVD, p0);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    write_cr3(read_cr3());
    fault_reset();
    exec_at(p0);
    outcome("rsvd.pte.bit51.exec_nxe1", PFEC_P | PFEC_RSVD | 0x10, p0);
    reset_tables();
    fault_reset();
    exec_at(p0);
    outcome("ok.4k.exec_nxe1", -1, 0);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_NXE);

    boot_pml4[2] = 0;
    write_cr3(read_cr3());
}
