/*
 * smep-smap: supervisor-mode execution and access prevention.
 *
 * What the architecture requires (Intel SDM Vol. 3A §4.6 "Access Rights",
 * §4.6.1 "Determination of Access Rights", §4.7 "Page-Fault Exceptions";
 * Vol. 2 STAC, CLAC; Vol. 3A §2.5 on CR4.SMEP/SMAP):
 *
 * - A page is a user-mode page when U/S = 1 in every paging-structure entry
 *   that maps it.  Supervisor-mode accesses are those at CPL < 3 and the
 *   implicit ones (descriptor tables, delivery frames) at any CPL.
 * - CR4.SMEP = 1: a supervisor-mode instruction fetch from a user-mode page
 *   raises #PF with P = 1 and I/D = 1 (I/D is reported because SMEP = 1, even
 *   with IA32_EFER.NXE = 0).  Supervisor data accesses to user pages are not
 *   affected by SMEP.
 * - CR4.SMAP = 1: a supervisor-mode data access to a user-mode page raises
 *   #PF with P = 1 (W = 1 for a write) unless it is explicit and RFLAGS.AC =
 *   1.  STAC sets AC, CLAC clears it (POPF can too); the effect is immediate,
 *   with no TLB invalidation.  Implicit supervisor accesses, such as the
 *   descriptor read of a segment load from a GDT entry on a user page, fault
 *   whatever AC is.  SMAP does not affect instruction fetches, nor accesses
 *   to supervisor pages.
 * - STAC/CLAC work at CPL 0 whether or not CR4.SMAP is set (they only change
 *   AC).  Their #UD at CPL > 0 needs ring 3 and is not checked here.
 * - CR2 holds the faulting linear address; the saved RIP is the faulting
 *   instruction.
 *
 * Each case prints vector, error code, CR2 (relative to the page concerned)
 * and RIP (relative to the instruction's label), or `none` for each.
 */
#include "ringside.h"

#define CR4_SMEP (1UL << 20)
#define CR4_SMAP (1UL << 21)
#define RFLAGS_AC (1UL << 18)

static u8 user_data[PAGE_SIZE] __attribute__((aligned(4096)));
static u8 user_code[PAGE_SIZE] __attribute__((aligned(4096)));
static u8 super_data[PAGE_SIZE] __attribute__((aligned(4096)));
/* Page 0 (supervisor) ends with GDT entries 0-3; page 1 (user) starts with entry 4. */
static u8 gdt_area[2 * PAGE_SIZE] __attribute__((aligned(4096)));

#define OFFSET 0x40

asm(".pushsection .text\n"
    ".globl fixup_ret\n"
    "fixup_ret: ret\n"
    ".popsection");
extern char fixup_ret[];

static u64 read_at(const volatile void *p, u64 *label)
{
    u64 v = 0xbadUL, l;
    asm volatile("lea 1f(%%rip), %[l]\n\t"
                 "1: mov (%[p]), %[v]\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 : [v] "+r"(v), [l] "=&r"(l) : [p] "r"(p) : "memory");
    *label = l;
    return v;
}

static void write_at(volatile void *p, u64 v, u64 *label)
{
    u64 l;
    asm volatile("lea 1f(%%rip), %[l]\n\t"
                 "1: mov %[v], (%[p])\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 : [l] "=&r"(l) : [p] "r"(p), [v] "r"(v) : "memory");
    *label = l;
}

static void exec_at(const volatile void *target)
{
    fault_expect_at((u64)(uintptr_t)target, (u64)(uintptr_t)fixup_ret);
    asm volatile("call *%0" :: "r"(target) : "cc", "memory");
    fault_expect_at(0, 0);
}

static void stac(void) { asm volatile(".byte 0x0f, 0x01, 0xcb" ::: "cc", "memory"); }
static void clac(void) { asm volatile(".byte 0x0f, 0x01, 0xca" ::: "cc", "memory"); }

static u64 rflags_ac(void) { return (read_rflags() >> 18) & 1; }

/*
 * Print one case: vector, error code, CR2 relative to `page` (#PF only), RIP
 * relative to `label`; `none` where nothing was raised.  Check against
 * want_ec (< 0: no fault expected) and the expected CR2 page offset.
 * qemu_none: QEMU takes no fault here (test/qemu-deviations.ts); accepted.
 */
static void outcome(const char *name, u64 label, u64 page, long want_ec, u64 want_off, bool qemu_none)
{
    if (!last_fault.count) {
        printk("%s.vector: none\n%s.error_code: none\n%s.cr2: none\n%s.rip: none\n", name, name, name, name);
        if (want_ec >= 0 && !qemu_none)
            test_fail("%s: no fault, expected #PF error code 0x%lx", name, want_ec);
        return;
    }
    printk("%s.vector: %lu\n", name, last_fault.vector);
    printk("%s.error_code: 0x%lx\n", name, last_fault.error_code);
    if (last_fault.vector == 14 && last_fault.cr2 >= page)
        printk("%s.cr2: page+0x%lx\n", name, last_fault.cr2 - page);
    else
        printk("%s.cr2: none\n", name);
    if (last_fault.rip >= label)
        printk("%s.rip: label+0x%lx\n", name, last_fault.rip - label);
    else
        printk("%s.rip: label-0x%lx\n", name, label - last_fault.rip);
    if (want_ec < 0 || last_fault.vector != 14 || last_fault.error_code != (u64)want_ec ||
        last_fault.cr2 != page + want_off || last_fault.rip != label)
        test_fail("%s: got %s error code 0x%lx cr2 0x%lx, expected #PF 0x%lx", name,
                  exc_name((unsigned int)last_fault.vector), last_fault.error_code, last_fault.cr2, want_ec);
}

static void value(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: 0x%lx, expected 0x%lx", name, got, want);
}

/* Load DS with `sel` (a descriptor read from the GDT: an implicit supervisor access). */
static void load_ds(u16 sel, u64 *label)
{
    u64 l;
    asm volatile("lea 1f(%%rip), %[l]\n\t"
                 "1: mov %[s], %%ds\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 : [l] "=&r"(l) : [s] "r"(sel) : "memory");
    *label = l;
}

static void implicit_gdt_case(const char *name, bool ac)
{
    struct __attribute__((packed)) { u16 limit; u64 base; } old, new;
    u64 *gdt = (u64 *)(gdt_area + PAGE_SIZE - 32);
    u64 user_page = (u64)(uintptr_t)(gdt_area + PAGE_SIZE);
    u64 label, restore_label;

    asm volatile("sgdt %0" : "=m"(old));
    memcpy(gdt, (void *)old.base, 32);
    stac();                                         /* an explicit store to the user page */
    gdt[4] = seg_descriptor(0, 0xfffff, 0x93, 0xc);   /* flat data, accessed (no A-bit write) */
    clac();
    new.limit = 5 * 8 - 1;
    new.base = (u64)(uintptr_t)gdt;
    asm volatile("lgdt %0" :: "m"(new) : "memory");
    if (ac)
        stac();
    fault_reset();
    load_ds(0x20, &label);
    clac();
    load_ds(SEL_DATA, &restore_label);
    asm volatile("lgdt %0" :: "m"(old) : "memory");
    /* The descriptor is the first 8 bytes of the user page: CR2 = page + 0. */
    outcome(name, label, user_page, 0x1, 0, ac);
}

void test_main(void)
{
    u64 label, v;
    const u64 ud = (u64)(uintptr_t)user_data, uc = (u64)(uintptr_t)user_code;
    volatile u64 *up = (volatile u64 *)(user_data + OFFSET);
    struct cpuid_regs l7 = cpuid(7, 0);

    if (!(l7.ebx & (1U << 7)) || !(l7.ebx & (1U << 20)))
        test_skip("CPUID.(EAX=07H,ECX=0):EBX does not enumerate both SMEP and SMAP");

    /* User pages: U/S = 1 in the PML4E, PDPTE, PDE (no boot PTE has U/S = 1, so nothing
     * else becomes a user page) and in the PTEs of the pages under test. */
    boot_pml4[0] |= PTE_U;
    boot_pdpt[0] |= PTE_U;
    boot_pd[0] |= PTE_U;
    write_cr3(read_cr3());
    pte_set(user_data, PTE_U);
    pte_set(user_code, PTE_U);
    pte_set(gdt_area + PAGE_SIZE, PTE_U);
    user_code[0] = 0xc3;                    /* ret */
    *up = 0x1111222233334444UL;
    *(volatile u64 *)super_data = 0x5555666677778888UL;

    /* SMEP. */
    fault_reset();
    exec_at(user_code);
    outcome("smep0.exec_user", uc, uc, -1, 0, false);
    write_cr4(read_cr4() | CR4_SMEP);
    value("cr4.smep", (read_cr4() >> 20) & 1, 1);
    fault_reset();
    exec_at(user_code);
    outcome("smep1.exec_user", uc, uc, 0x11, 0, false);
    fault_reset();
    v = read_at(up, &label);
    outcome("smep1.read_user", label, ud, -1, 0, false);
    value("smep1.read_user.value", v, 0x1111222233334444UL);
    write_cr4(read_cr4() & ~CR4_SMEP);

    /* STAC/CLAC with CR4.SMAP = 0: they only change AC. */
    stac();
    value("smap0.stac.ac", rflags_ac(), 1);
    clac();
    value("smap0.clac.ac", rflags_ac(), 0);

    /* SMAP. */
    write_cr4(read_cr4() | CR4_SMAP);
    value("cr4.smap", (read_cr4() >> 21) & 1, 1);
    fault_reset();
    v = read_at(up, &label);
    outcome("smap1.ac0.read_user", label, ud, 0x1, OFFSET, false);
    fault_reset();
    write_at(up, 0xaaaaUL, &label);
    outcome("smap1.ac0.write_user", label, ud, 0x3, OFFSET, false);

    stac();
    value("smap1.stac.ac", rflags_ac(), 1);
    value("smap1.ac0.write_user.memory_unchanged", *up, 0x1111222233334444UL);
    fault_reset();
    v = read_at(up, &label);
    outcome("smap1.ac1.read_user", label, ud, -1, 0, false);
    value("smap1.ac1.read_user.value", v, 0x1111222233334444UL);
    fault_reset();
    write_at(up, 0xbbbbUL, &label);
    outcome("smap1.ac1.write_user", label, ud, -1, 0, false);
    value("smap1.ac1.write_user.memory", *up, 0xbbbbUL);
    clac();
    value("smap1.clac.ac", rflags_ac(), 0);
    fault_reset();
    v = read_at(up, &label);
    outcome("smap1.clac.read_user", label, ud, 0x1, OFFSET, false);

    /* POPF setting AC has the same effect as STAC. */
    asm volatile("pushfq\n\torq %0, (%%rsp)\n\tpopfq" :: "i"(RFLAGS_AC) : "cc", "memory");
    fault_reset();
    v = read_at(up, &label);
    outcome("smap1.popf_ac1.read_user", label, ud, -1, 0, false);
    clac();

    /* Supervisor pages and instruction fetches are not affected. */
    fault_reset();
    v = read_at(super_data, &label);
    outcome("smap1.ac0.read_supervisor", label, (u64)(uintptr_t)super_data, -1, 0, false);
    value("smap1.ac0.read_supervisor.value", v, 0x5555666677778888UL);
    fault_reset();
    exec_at(user_code);
    outcome("smap1.exec_user", uc, uc, -1, 0, false);

    /* Implicit supervisor access: a GDT descriptor on a user page. */
    implicit_gdt_case("smap1.implicit_gdt.ac0", false);
    implicit_gdt_case("smap1.implicit_gdt.ac1", true);

    /* Both: SMEP and SMAP together, with EFER.NXE = 1 (I/D still reported). */
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    write_cr4(read_cr4() | CR4_SMEP);
    fault_reset();
    exec_at(user_code);
    outcome("smep1_smap1_nxe1.exec_user", uc, uc, 0x11, 0, false);
    write_cr4(read_cr4() & ~(CR4_SMEP | CR4_SMAP));
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_NXE);
}
