/*
 * tlb: TLB invalidation, global pages, PCIDs and INVPCID.
 *
 * What the architecture requires (Intel SDM Vol. 3A §4.10 "Caching
 * Translation Information": §4.10.1 PCIDs, §4.10.2.4 global pages, §4.10.4.1
 * "Operations that Invalidate TLBs and Paging-Structure Caches", §4.10.4.2
 * on when a stale translation may still be used; Vol. 2 INVLPG, INVPCID, MOV
 * (Control Registers)):
 *
 * - After a paging-structure entry changes, the processor MAY keep using the
 *   old translation until it is invalidated.  This guest never prints what a
 *   read returns while a stale translation is allowed: only after an
 *   operation that must invalidate it, when the new one MUST be used.
 * - INVLPG invalidates the page's translations, global ones included.
 * - MOV to CR3 invalidates all non-global translations (of the new PCID, and
 *   with bit 63 clear); global translations (G = 1 in the leaf, CR4.PGE = 1)
 *   may survive it.  Any change of CR4.PGE invalidates everything, global
 *   translations included; so does clearing CR4.PCIDE.  Setting CR4.SMEP
 *   invalidates the current PCID's translations.
 * - With CR4.PCIDE = 1, CR3[11:0] is the PCID; bit 63 of the MOV source asks
 *   for no invalidation and is not stored (CR3 reads it as 0).  With PCIDE = 0
 *   bit 63 is reserved (#GP(0)).  Setting PCIDE while CR3[11:0] != 0 is
 *   #GP(0).
 * - INVPCID type 0 invalidates one address for one PCID, type 1 one PCID,
 *   both except global translations; type 2 everything including global;
 *   type 3 everything except global.  #GP(0): type > 3; descriptor bits 63:12
 *   not zero; type 0 with an address not canonical in the widest
 *   linear width the CPU supports (57 bits: LA57 is enumerated); type 0 or 1 with a PCID
 *   other than 0 while PCIDE = 0.  A non-canonical memory operand is #GP(0).
 * - Not checked here: setting a reserved CR4 bit, or a CR3 bit past
 *   MAXPHYADDR (bit 63 without PCIDE), is #GP(0); QEMU 7.2 TCG hangs on both
 *   (target/i386/tcg/sysemu/misc_helper.c helper_write_crN() calls
 *   cpu_vmexit(SVM_EXIT_ERR) outside SVM guest mode), so the cross-checked
 *   guest cannot contain them; test/paging.test.ts checks them.
 *
 * The window page's PTE is pointed at page A, a read primes the TLB, the PTE
 * is pointed at page B, then the operation under test runs and the window is
 * read: it must show B.
 */
#include "ringside.h"

#define CR4_PGE   (1UL << 7)
#define CR4_PCIDE (1UL << 17)
#define CR4_SMEP  (1UL << 20)
#define CR3_NOFLUSH (1UL << 63)

static u8 page_a[PAGE_SIZE] __attribute__((aligned(4096)));
static u8 page_b[PAGE_SIZE] __attribute__((aligned(4096)));
static u8 window[PAGE_SIZE] __attribute__((aligned(4096)));

struct invpcid_desc { u64 pcid; u64 addr; } __attribute__((aligned(16)));

static u64 win_read(void) { return *(volatile u64 *)window; }

/* Point the window's PTE at page A (then prime the TLB by reading) and then at B,
 * without invalidating anything. */
static void prime_then_remap(u64 g)
{
    *pte_of(window) = (u64)(uintptr_t)page_a | PTE_P | PTE_W | g;
    invlpg(window);
    (void)win_read();
    *pte_of(window) = (u64)(uintptr_t)page_b | PTE_P | PTE_W | g;
}

static void fresh(const char *name)
{
    u64 v = win_read();

    printk("%s.read: 0x%lx\n", name, v);
    if (v != 0xbbbbbbbbbbbbbbbbUL)
        test_fail("%s: the window still shows page A after an invalidation", name);
}

static bool have_invpcid, have_pcid;

/* What the last EXTABLE-protected instruction raised: "none", "#GP(0)" or the vector's name. */
static const char *result(void)
{
    if (!last_fault.count)
        return "none";
    if (last_fault.vector == 13 && last_fault.error_code == 0)
        return "#GP(0)";
    return exc_name((unsigned int)last_fault.vector);
}

static const char *invpcid_at(u64 type, u64 mem)
{
    fault_reset();
    asm volatile("1: invpcid (%0), %1\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 :: "r"(mem), "r"(type) : "memory");
    return result();
}

static const char *invpcid(u64 type, u64 pcid, u64 addr)
{
    static struct invpcid_desc d;

    d.pcid = pcid;
    d.addr = addr;
    return invpcid_at(type, (u64)(uintptr_t)&d);
}

static const char *mov_cr3(u64 v)
{
    fault_reset();
    asm volatile("1: mov %0, %%cr3\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 :: "r"(v) : "memory");
    return result();
}

static const char *mov_cr4(u64 v)
{
    fault_reset();
    asm volatile("1: mov %0, %%cr4\n\t"
                 "2:\n\t" EXTABLE(1b, 2b)
                 :: "r"(v) : "memory");
    return result();
}

static const char *yes(bool ok) { return ok ? "yes" : "no"; }

/*
 * One line `GROUP.KIND.CASE: RESULT`.  KIND gp: #GP(0) expected; ok: no fault;
 * flush: no fault and the window showing page B afterwards; check: "yes".
 * result == NULL: the group's feature is not enumerated (the case was not run).
 * An INVPCID case without INVPCID in CPUID must be #UD.  QEMU 7.2 TCG enumerates
 * neither PCID nor INVPCID (test/qemu-deviations.ts).
 */
static void line(const char *group, const char *kind, const char *name, const char *r)
{
    const char *want = kind[0] == 'g' ? "#GP(0)" : kind[0] == 'c' ? "yes" : "none";
    const char *shown = r;
    bool is_invpcid = group[0] == 'i' || !memcmp(name, "invpcid", 7);

    if (r == NULL) {
        printk("%s.%s.%s: not enumerated\n", group, kind, name);
        return;
    }
    if (is_invpcid && !have_invpcid)
        want = "#UD";
    else if (kind[0] == 'f' && !strcmp(r, "none"))
        shown = win_read() == 0xbbbbbbbbbbbbbbbbUL ? "page B" : "page A", want = "page B";
    printk("%s.%s.%s: %s\n", group, kind, name, shown);
    if (strcmp(shown, want))
        test_fail("%s.%s.%s: %s, expected %s", group, kind, name, shown, want);
}

static void value(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: 0x%lx, expected 0x%lx", name, got, want);
}

#define PCID(kind, name, expr) line("pcid", kind, name, have_pcid ? (expr) : NULL)

void test_main(void)
{
    const u64 cr3 = read_cr3() & ~0xfffUL, cr4 = read_cr4();
    const u64 w = (u64)(uintptr_t)window;
    struct cpuid_regs l1 = cpuid(1, 0), l7 = cpuid(7, 0);

    if (!(l1.edx & (1U << 13)))
        test_skip("CPUID does not enumerate PGE");
    memset(page_a, 0xaa, PAGE_SIZE);
    memset(page_b, 0xbb, PAGE_SIZE);

    /* INVLPG and MOV to CR3 (CR4.PGE = 0: nothing is global). */
    prime_then_remap(0);
    invlpg(window);
    fresh("invlpg");
    prime_then_remap(0);
    write_cr3(read_cr3());
    fresh("mov_cr3");

    /* Global pages. */
    write_cr4(cr4 | CR4_PGE);
    value("cr4.pge", (read_cr4() >> 7) & 1, 1);
    prime_then_remap(0);
    write_cr3(read_cr3());
    fresh("pge1.nonglobal.mov_cr3");
    prime_then_remap(PTE_G);
    invlpg(window);
    fresh("pge1.global.invlpg");
    prime_then_remap(PTE_G);
    write_cr4(cr4);                         /* PGE 1 -> 0 */
    fresh("pge1.global.clear_pge");
    write_cr4(cr4 | CR4_PGE);
    prime_then_remap(PTE_G);
    write_cr4(cr4);
    write_cr4(cr4 | CR4_PGE);               /* PGE 0 -> 1 after 1 -> 0 */
    fresh("pge1.global.toggle_pge");
    prime_then_remap(0);
    write_cr4(read_cr4() | CR4_SMEP);       /* SMEP 0 -> 1 flushes the current PCID */
    fresh("pge1.nonglobal.set_smep");
    write_cr4(read_cr4() & ~CR4_SMEP);

    /* INVPCID with PCIDE = 0 (PCID 0). */
    have_invpcid = (l7.ebx & (1U << 10)) != 0;
    printk("invpcid.enumerated: %d\n", have_invpcid);
    prime_then_remap(0);
    line("invpcid", "flush", "type0_nonglobal", invpcid(0, 0, w));
    prime_then_remap(0);
    line("invpcid", "flush", "type1_nonglobal", invpcid(1, 0, 0));
    prime_then_remap(PTE_G);
    line("invpcid", "flush", "type2_global", invpcid(2, 0, 0));
    prime_then_remap(0);
    line("invpcid", "flush", "type3_nonglobal", invpcid(3, 0, 0));
    line("invpcid", "gp", "type4", invpcid(4, 0, 0));
    line("invpcid", "gp", "type2_rsvd_bit12", invpcid(2, 1UL << 12, 0));
    line("invpcid", "gp", "type2_rsvd_bit63", invpcid(2, 1UL << 63, 0));
    line("invpcid", "gp", "type0_pcid1_pcide0", invpcid(0, 1, w));
    line("invpcid", "gp", "type1_pcid1_pcide0", invpcid(1, 1, 0));
    line("invpcid", "ok", "type2_pcid1_pcide0", invpcid(2, 1, 0));
    line("invpcid", "ok", "type3_pcid1_pcide0", invpcid(3, 1, 0));
    /* Type 0's address is checked against the widest linear address the CPU supports (57 bits
     * with LA57 enumerated), whatever CR4.LA57 (Intel's 5-level paging white paper, canonicality
     * checking); a memory operand, like any data access, against the paging mode in use. */
    line("invpcid", "ok", "type0_canonical57_addr", invpcid(0, 0, 0x0000800000000000UL));
    line("invpcid", "gp", "type0_noncanonical_addr", invpcid(0, 0, 0x0100000000000000UL));
    line("invpcid", "ok", "type1_noncanonical_addr", invpcid(1, 0, 0x0100000000000000UL));
    line("invpcid", "gp", "noncanonical_operand", invpcid_at(2, 0x0000800000000000UL));

    /* PCIDs (run only where CPUID enumerates PCID). */
    have_pcid = (l1.ecx & (1U << 17)) != 0;
    printk("pcid.enumerated: %d\n", have_pcid);
    if (have_pcid)
        write_cr3(cr3 | 1);                 /* with PCIDE = 0, CR3[11:0] are ignored */
    PCID("gp", "set_pcide_cr3_low_nonzero", mov_cr4(read_cr4() | CR4_PCIDE));
    if (have_pcid)
        write_cr3(cr3);
    PCID("ok", "set_pcide", mov_cr4(read_cr4() | CR4_PCIDE));
    PCID("ok", "mov_cr3_pcid1", mov_cr3(cr3 | 1));
    PCID("check", "cr3_reads_pcid1", yes((read_cr3() & 0xfff) == 1));
    PCID("ok", "mov_cr3_pcid2_bit63", mov_cr3(cr3 | 2 | CR3_NOFLUSH));
    PCID("check", "cr3_reads_pcid2_bit63_clear", yes(read_cr3() == (cr3 | 2)));
    if (have_pcid)
        prime_then_remap(0);
    PCID("flush", "mov_cr3_pcid3", mov_cr3(cr3 | 3));  /* without bit 63: PCID 3's entries go */
    PCID("ok", "invpcid_type0_pcid5", invpcid(0, 5, w));
    PCID("ok", "invpcid_type1_pcid5", invpcid(1, 5, 0));
    if (have_pcid)
        prime_then_remap(0);
    PCID("flush", "invpcid_type1_current_pcid", invpcid(1, 3, 0));
    if (have_pcid)
        prime_then_remap(0);
    PCID("flush", "invpcid_type0_current_pcid", invpcid(0, 3, w));
    if (have_pcid) {
        prime_then_remap(PTE_G);
        write_cr3(cr3);
    }
    PCID("flush", "clear_pcide_global", mov_cr4(read_cr4() & ~CR4_PCIDE));  /* 1 -> 0: everything goes */
    PCID("check", "pcide_cleared", yes(!(read_cr4() & CR4_PCIDE)));

    write_cr4(cr4);
    *pte_of(window) = (u64)(uintptr_t)window | PTE_P | PTE_W;
    invlpg(window);
}
