/*
 * paging32: 32-bit paging and PAE paging in a 32-bit multiboot kernel, outside
 * IA-32e mode.
 *
 * What the architecture requires (Intel SDM Vol. 3A chapter 4):
 *
 * - 32-bit paging (§4.3), CR0.PG = 1 with CR4.PAE = 0: CR3[31:12] locates a
 *   page directory of 1024 4-byte PDEs.  A PDE with PS = 1 maps a 4-MByte page
 *   when CR4.PSE = 1; its bits 20:13 are physical-address bits 39:32 (PSE-36)
 *   and, with MAXPHYADDR 40, bit 21 is reserved.  Otherwise the PDE locates a
 *   page table of 1024 4-byte PTEs mapping 4-KByte pages.  There is no XD bit:
 *   EFER.NXE is ignored.
 * - PAE paging (§4.4), CR0.PG = 1 with CR4.PAE = 1 outside IA-32e mode:
 *   CR3[31:5] locates four 8-byte PDPTEs, which the processor loads into
 *   internal PDPTE registers when MOV to CR3 executes under PAE paging and when
 *   MOV to CR0/CR4 enters PAE paging (§4.4.1).  A present PDPTE with a reserved
 *   bit (2:1, 8:5, 63:MAXPHYADDR) makes that MOV raise #GP(0).  Walks use the
 *   PDPTE registers: a PDPTE changed in memory has no effect, even after
 *   INVLPG, until they are loaded again.  PDEs (PS = 1: a 2-MByte page, bits
 *   20:13 reserved) and PTEs are 8 bytes; bit 63 is XD with EFER.NXE = 1
 *   (reserved without), bits 62:MAXPHYADDR are reserved.
 *   AMD (APM Vol. 2 §5.5.3, "Handling of PDPT Entries in PAE Mode"): modern AMD
 *   processors keep no PDPTE registers; they read the PDPT entries on demand during
 *   translation, so MOV to CR3 neither checks nor loads them, a present PDPTE with
 *   a reserved bit faults the access that walks through it (#PF, P|RSVD), and a
 *   PDPTE changed in memory takes effect once the TLB entry is gone (INVLPG).
 * - Access rights (§4.6): a supervisor write to a read-only page faults only
 *   with CR0.WP = 1.  A/D flags (§4.8): the processor sets A in the PDE and the
 *   PTE used, D in the PTE (or 4-MByte PDE) of a page written.
 * - #PF (§4.7): CR2 holds the linear address; the error code has P (a present
 *   entry: protection or reserved bit), W/R, RSVD (with P), and I/D for a fetch
 *   only when CR4.SMEP = 1 or PAE/4-level paging with EFER.NXE = 1 -- so never
 *   under 32-bit paging here.
 * - INVLPG (§4.10.4.1) makes a changed PTE take effect.
 * - At CPL 3 (32-bit paging here) every access is a user-mode access: U/S = 1
 *   in the error code, a supervisor page or a read-only page refuses it (§4.6).
 *
 * Every observation is printed as `name: value`, against the SDM or, when CPUID
 * reports AuthenticAMD, the APM.  QEMU 7.2 TCG deviates from the SDM on three
 * points (test/qemu-deviations.ts), where the guest accepts its value: RSVD
 * faults without P, and the PDPTEs behave as on AMD (no #GP for reserved PDPTE
 * bits at MOV to CR3, no PDPTE registers).
 */
#include "ringside32.h"

#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)
#define MSR_EFER 0xc0000080
#define EFER_NXE (1u << 11)
#define PF_A (1u << 5)
#define PF_D (1u << 6)
#define PF_PS (1u << 7)

/* Accesses through the test mappings; the barrier makes the compiler re-read the paging
 * structures afterwards (the processor may have set A/D in them). */
static u32 peek(u32 va)
{
    u32 v = *(volatile u32 *)va;
    asm volatile("" ::: "memory");
    return v;
}

static void poke(u32 va, u32 v)
{
    asm volatile("" ::: "memory");
    *(volatile u32 *)va = v;
    asm volatile("" ::: "memory");
}

static u8 user_stack[4096] __attribute__((aligned(16)));

/* CPUID.0 vendor "AuthenticAMD": EBX = "Auth". */
static int cpu_is_amd(void)
{
    u32 a = 0, b, c, d;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
    return b == 0x68747541;
}

/* Faulting accesses: each returns after the access or at its fixup. */
static void try_read(u32 va)
{
    last.count = 0;
    asm volatile("1: mov (%0), %%eax\n2:\n\t" EXTABLE(1b, 2b) :: "r"(va) : "eax", "memory");
}

static void try_write(u32 va, u32 v)
{
    last.count = 0;
    asm volatile("1: mov %1, (%0)\n2:\n\t" EXTABLE(1b, 2b) :: "r"(va), "r"(v) : "memory");
}

static void try_mov_cr3(u32 v)
{
    last.count = 0;
    asm volatile("1: mov %0, %%cr3\n2:\n\t" EXTABLE(1b, 2b) :: "r"(v) : "memory");
}

/* Call a RET at va: the fetch must not fault. */
static void expect_call_returns(const char *name, u32 va)
{
    last.count = 0;
    asm volatile("call *%0" :: "r"(va) : "memory");
    printk("%s: %s\n", name, last.count ? "fault" : "returned");
    if (last.count)
        test_fail("%s", name);
}

/* Print a #PF record: vector, error code, CR2; `rsvd_qemu` accepts QEMU's RSVD code without P. */
static void print_pf(const char *name, u32 want_error, u32 want_cr2, int rsvd_qemu)
{
    if (!last.count) {
        printk("%s.vector: none\n", name);
        test_fail("%s", name);
        return;
    }
    printk("%s.vector: %s\n", name, last.vector == 14 ? "#PF" : last.vector == 13 ? "#GP" : "other");
    printk("%s.error_code: 0x%x\n", name, last.error);
    printk("%s.cr2: 0x%x\n", name, last.cr2);
    int error_ok = last.error == want_error || (rsvd_qemu && last.error == (want_error & ~1u));
    if (last.vector != 14 || !error_ok || last.cr2 != want_cr2)
        test_fail("%s", name);
}

static void expect(const char *name, u32 got, u32 want)
{
    printk("%s: 0x%x\n", name, got);
    if (got != want)
        test_fail("%s", name);
}

static void expect_flag(const char *name, u32 entry, u32 flag, u32 want)
{
    printk("%s: %u\n", name, (entry & flag) != 0);
    if (((entry & flag) != 0) != want)
        test_fail("%s", name);
}

/* ---- memory ---- */

#define PAGE 4096
static u32 pd32[1024] __attribute__((aligned(PAGE)));
static u32 pt32_low[1024] __attribute__((aligned(PAGE)));
static u32 pt_test[1024] __attribute__((aligned(PAGE)));
static u64 pd_pae0[512] __attribute__((aligned(PAGE)));
static u64 pd_pae1[512] __attribute__((aligned(PAGE)));
static u64 pd_pae_alt[512] __attribute__((aligned(PAGE)));
static u64 pt_pae[512] __attribute__((aligned(PAGE)));
/* Three 32-byte PDPTs: the one in use, and two with a reserved bit in PDPTE 3. */
static u64 pdpt[4] __attribute__((aligned(32)));
static u64 pdpt_bad1[4] __attribute__((aligned(32)));
static u64 pdpt_bad40[4] __attribute__((aligned(32)));
static u32 frame_a[1024] __attribute__((aligned(PAGE)));
static u32 frame_b[1024] __attribute__((aligned(PAGE)));
static u8 code_page[PAGE] __attribute__((aligned(PAGE)));

/* Linear addresses of the test mappings (above the 128 MiB identity map). */
#define TEST     0x10000000u    /* PDE 64 (32-bit) / PD 0 entry 128 (PAE): 4-KByte test pages */
#define BIG4M    0x10400000u    /* 32-bit: a 4-MByte page at physical 4 MiB */
#define BAD4M    0x10800000u    /* 32-bit: a 4-MByte PDE with reserved bit 21 */
#define GIB1     0x40000000u    /* PAE: PDPTE 1 */
#define PHYS_4M  0x00400000u
#define PHYS_2M_OLD 0x00600000u
#define PHYS_2M_NEW 0x00800000u

/* ---- 32-bit paging ---- */

/* What the ring-3 accesses saw (the kernel prints it back in ring 0). */
static struct { u32 count, vector, error, cr2; } user_seen[3];

static void user_code(void)
{
    try_read(TEST + 0x10);                  /* a supervisor page */
    user_seen[0].count = last.count; user_seen[0].vector = last.vector;
    user_seen[0].error = last.error; user_seen[0].cr2 = last.cr2;
    try_write(TEST + 0x4010, 1);            /* a user read-only page */
    user_seen[1].count = last.count; user_seen[1].vector = last.vector;
    user_seen[1].error = last.error; user_seen[1].cr2 = last.cr2;
    try_read(TEST + 0x2010);                /* not present */
    user_seen[2].count = last.count; user_seen[2].vector = last.vector;
    user_seen[2].error = last.error; user_seen[2].cr2 = last.cr2;
    asm volatile("int $0x80" ::: "memory");
}

/* CPL 3 (§4.6): user-mode accesses set U/S in the error code; a user page must have
 * U/S = 1 in the PDE and the PTE, and R/W = 1 in both for a user write whatever CR0.WP. */
static void user_cases(void)
{
    static const struct { const char *name; u32 error, cr2; } want[3] = {
        { "pg32.user.supervisor_read", 0x5, TEST + 0x10 },
        { "pg32.user.ro_write", 0x7, TEST + 0x4010 },
        { "pg32.user.np_read", 0x4, TEST + 0x2010 },
    };
    enter_user(user_code, user_stack + sizeof(user_stack));
    for (int k = 0; k < 3; k++) {
        last.count = user_seen[k].count;
        last.vector = user_seen[k].vector;
        last.error = user_seen[k].error;
        last.cr2 = user_seen[k].cr2;
        print_pf(want[k].name, want[k].error, want[k].cr2, 0);
    }
}

static void paging32_cases(void)
{
    for (u32 i = 0; i < 1024; i++) {
        /* The identity map is user-accessible (U/S = 1) so that the ring-3 cases can run from
         * the kernel image; SMEP and SMAP stay off. */
        pt32_low[i] = (i * PAGE) | 7;
        pd32[i] = i > 0 && i < 32 ? (i << 22) | PF_PS | 7 : 0;  /* 4-128 MiB: 4-MByte pages */
        pt_test[i] = 0;
    }
    pd32[0] = (u32)pt32_low | 7;
    pd32[TEST >> 22] = (u32)pt_test | 7;
    pd32[BIG4M >> 22] = PHYS_4M | PF_PS | 3;
    pd32[BAD4M >> 22] = PHYS_4M | (1u << 21) | PF_PS | 3;
    pt_test[0] = (u32)frame_a | 3;          /* TEST + 0: frame_a, writable */
    pt_test[1] = (u32)frame_a | 1;          /* TEST + 0x1000: frame_a, read-only */
    pt_test[3] = (u32)code_page | 3;        /* TEST + 0x3000: a RET */
    pt_test[4] = (u32)frame_a | 5;          /* TEST + 0x4000: frame_a, user, read-only */
    frame_a[0] = 0xaaaa0000;
    frame_a[1] = 0xaaaa0004;
    poke(PHYS_4M + 0x1234, 0x04001234);
    code_page[0] = 0xc3;

    write_cr3((u32)pd32);
    write_cr4(read_cr4() | CR4_PSE);
    write_cr0((read_cr0() & ~CR0_WP) | CR0_PG);
    printk("pg32.cr0_pg: %u\n", (read_cr0() & CR0_PG) != 0);
    printk("pg32.cr4_pae: %u\n", (read_cr4() & CR4_PAE) != 0);

    expect("pg32.4k.read", peek(TEST + 4), 0xaaaa0004);
    expect("pg32.4m.read", peek(BIG4M + 0x1234), 0x04001234);
    expect("pg32.identity_4m_page.read", peek(PHYS_4M + 0x1234), 0x04001234);

    /* A and D (§4.8): clear them, drop the translation, read, then write. */
    pd32[TEST >> 22] &= ~(PF_A | PF_D);
    pt_test[0] &= ~(PF_A | PF_D);
    invlpg(TEST);
    (void)peek(TEST);
    expect_flag("pg32.ad.read.pde_a", pd32[TEST >> 22], PF_A, 1);
    expect_flag("pg32.ad.read.pte_a", pt_test[0], PF_A, 1);
    expect_flag("pg32.ad.read.pte_d", pt_test[0], PF_D, 0);
    poke(TEST, 0xaaaa1111);
    expect_flag("pg32.ad.write.pte_d", pt_test[0], PF_D, 1);
    pd32[BIG4M >> 22] &= ~(PF_A | PF_D);
    invlpg(BIG4M);
    poke(BIG4M + 0x2000, 1);
    expect_flag("pg32.ad.write_4m.pde_a", pd32[BIG4M >> 22], PF_A, 1);
    expect_flag("pg32.ad.write_4m.pde_d", pd32[BIG4M >> 22], PF_D, 1);

    /* Not present: P = 0 in the error code; W/R says which access. */
    try_read(TEST + 0x2010);
    print_pf("pg32.np_read", 0x0, TEST + 0x2010, 0);
    try_write(TEST + 0x2020, 1);
    print_pf("pg32.np_write", 0x2, TEST + 0x2020, 0);

    /* Read-only page, CPL 0: CR0.WP = 0 lets the write through, WP = 1 faults (P|W). */
    try_write(TEST + 0x1000, 0x0d0d0d0d);
    printk("pg32.ro_write.wp0: %s\n", last.count ? "fault" : "completed");
    if (last.count)
        test_fail("pg32.ro_write.wp0");
    expect("pg32.ro_write.wp0.value", frame_a[0], 0x0d0d0d0d);
    write_cr0(read_cr0() | CR0_WP);
    try_write(TEST + 0x1008, 2);
    print_pf("pg32.ro_write.wp1", 0x3, TEST + 0x1008, 0);
    write_cr0(read_cr0() & ~CR0_WP);

    /* A 4-MByte PDE with bit 21 set: reserved (P|RSVD, and W for a write). */
    try_read(BAD4M + 0x10);
    print_pf("pg32.rsvd_pde_bit21.read", 0x9, BAD4M + 0x10, 1);
    try_write(BAD4M + 0x20, 1);
    print_pf("pg32.rsvd_pde_bit21.write", 0xb, BAD4M + 0x20, 1);

    /* No XD in 32-bit paging: with EFER.NXE = 1 a fetch fault still has I/D = 0. */
    u32 lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_EFER));
    asm volatile("wrmsr" :: "a"(lo | EFER_NXE), "d"(hi), "c"(MSR_EFER));
    expect_call_returns("pg32.nxe.fetch_present", TEST + 0x3000);
    last.count = 0;
    asm volatile("jmp *%0\n2:\n\t" EXTABLE(0x10002000, 2b) :: "r"(TEST + 0x2000) : "memory");
    print_pf("pg32.nxe.fetch_np", 0x0, TEST + 0x2000, 0);

    user_cases();
}

/* ---- PAE paging ---- */

static void pae_cases(void)
{
    for (u32 i = 0; i < 512; i++) {
        pd_pae0[i] = i < 64 ? ((u64)i << 21) | PF_PS | 3 : 0;  /* 0-128 MiB: 2-MByte pages */
        pd_pae1[i] = 0;
        pd_pae_alt[i] = 0;
        pt_pae[i] = 0;
    }
    pd_pae0[(TEST >> 21) & 511] = (u32)pt_pae | 3;
    pd_pae1[0] = PHYS_2M_OLD | PF_PS | 3;
    pd_pae_alt[0] = PHYS_2M_NEW | PF_PS | 3;
    pt_pae[0] = (u32)frame_a | 3;                           /* TEST + 0 */
    pt_pae[1] = (u32)frame_b | 3;                           /* TEST + 0x1000 */
    pt_pae[3] = (u32)code_page | 3 | (1ull << 63);          /* TEST + 0x3000: XD */
    pt_pae[4] = (u32)code_page | 3;                         /* TEST + 0x4000 */
    pt_pae[5] = (u32)frame_a | 3 | (1ull << 52);            /* TEST + 0x5000: bit 52 reserved */
    pdpt[0] = (u32)pd_pae0 | 1;
    pdpt[1] = (u32)pd_pae1 | 1;
    pdpt[2] = pdpt[3] = 0;
    for (int k = 0; k < 3; k++)
        pdpt_bad1[k] = pdpt_bad40[k] = pdpt[k];
    pdpt_bad1[3] = (u32)pd_pae_alt | 1 | (1u << 1);
    pdpt_bad40[3] = (u32)pd_pae_alt | 1 | (1ull << 40);
    frame_a[0] = 0xaaaa0000;
    frame_b[0] = 0xbbbb0000;
    poke(PHYS_2M_OLD + 0x1234, 0x06001234);
    poke(PHYS_2M_NEW + 0x1234, 0x08001234);

    /* §4.1.2: paging off, CR3 to the PDPT, CR4.PAE, paging on (loads the PDPTEs). */
    write_cr0(read_cr0() & ~CR0_PG);
    write_cr3((u32)pdpt);
    write_cr4(read_cr4() | CR4_PAE);
    write_cr0(read_cr0() | CR0_PG);
    printk("pae.cr0_pg: %u\n", (read_cr0() & CR0_PG) != 0);
    printk("pae.cr4_pae: %u\n", (read_cr4() & CR4_PAE) != 0);

    expect("pae.4k.read", peek(TEST), 0xaaaa0000);
    expect("pae.2m.read", peek(GIB1 + 0x1234), 0x06001234);
    expect("pae.2m_identity.read", peek(PHYS_2M_OLD + 0x1234), 0x06001234);

    pd_pae0[(TEST >> 21) & 511] &= ~(u64)(PF_A | PF_D);
    pt_pae[0] &= ~(u64)(PF_A | PF_D);
    invlpg(TEST);
    (void)peek(TEST);
    expect_flag("pae.ad.read.pde_a", (u32)pd_pae0[(TEST >> 21) & 511], PF_A, 1);
    expect_flag("pae.ad.read.pte_a", (u32)pt_pae[0], PF_A, 1);
    expect_flag("pae.ad.read.pte_d", (u32)pt_pae[0], PF_D, 0);
    poke(TEST, 0xaaaa2222);
    expect_flag("pae.ad.write.pte_d", (u32)pt_pae[0], PF_D, 1);

    try_read(TEST + 0x2004);
    print_pf("pae.np_read", 0x0, TEST + 0x2004, 0);
    try_read(0x80000010);
    print_pf("pae.pdpte_np_read", 0x0, 0x80000010, 0);

    /* Bits 62:MAXPHYADDR are reserved in PAE PTEs (bit 52 is ignored in 4-level paging). */
    try_read(TEST + 0x5000);
    print_pf("pae.rsvd_pte_bit52.read", 0x9, TEST + 0x5000, 1);

    /* XD while EFER.NXE = 0 is a reserved bit. */
    u32 lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_EFER));
    asm volatile("wrmsr" :: "a"(lo & ~EFER_NXE), "d"(hi), "c"(MSR_EFER));
    try_read(TEST + 0x3000);
    print_pf("pae.xd_nxe0.read", 0x9, TEST + 0x3000, 1);

    /* With EFER.NXE = 1: reading an XD page is allowed, fetching faults with P|I. */
    asm volatile("wrmsr" :: "a"(lo | EFER_NXE), "d"(hi), "c"(MSR_EFER));
    try_read(TEST + 0x3000);
    printk("pae.xd_nxe1.read: %s\n", last.count ? "fault" : "completed");
    if (last.count)
        test_fail("pae.xd_nxe1.read");
    last.count = 0;
    asm volatile("jmp *%0\n2:\n\t" EXTABLE(0x10003000, 2b) :: "r"(TEST + 0x3000) : "memory");
    print_pf("pae.xd_nxe1.fetch", 0x11, TEST + 0x3000, 0);
    expect_call_returns("pae.nx_clear.fetch", TEST + 0x4000);
    last.count = 0;
    asm volatile("jmp *%0\n2:\n\t" EXTABLE(0x80000000, 2b) :: "r"(0x80000000u) : "memory");
    print_pf("pae.nxe1.fetch_np", 0x10, 0x80000000, 0);

    /* A present PDPTE with a reserved bit: MOV to CR3 raises #GP(0), CR3 stays.  On AMD (and
     * under QEMU) the MOV completes; then an access through PDPTE 3 faults with P|RSVD, and CR3
     * is restored before anything else uses it. */
    static const struct { const char *name; u64 *table; } bad[] = {
        { "pae.pdpte_rsvd_bit1", pdpt_bad1 }, { "pae.pdpte_rsvd_bit40", pdpt_bad40 },
    };
    int amd = cpu_is_amd();
    for (int k = 0; k < 2; k++) {
        try_mov_cr3((u32)bad[k].table);
        int gp = last.count && last.vector == 13;
        u32 gp_error = last.error;
        u32 cr3 = read_cr3();
        int loaded = !last.count && cr3 == (u32)bad[k].table;
        if (loaded) {
            try_read(0xc0000010);
        }
        write_cr3((u32)pdpt);
        printk("%s.mov_cr3: %s\n", bad[k].name, gp ? "#GP" : loaded ? "completed" : "other fault");
        if (gp)
            printk("%s.mov_cr3.error_code: 0x%x\n", bad[k].name, gp_error);
        printk("%s.cr3: %s\n", bad[k].name, cr3 == (u32)pdpt ? "unchanged" : "loaded");
        /* One line either way, so that the transcripts align.  QEMU reports RSVD without P, and
         * does not check PDPTE bit 1 in its walk (test/qemu-deviations.ts): accepted here, and the
         * cross-check holds Ringside to the manuals' #PF(0x9). */
        if (!loaded)
            printk("%s.walk: not walked (CR3 unchanged)\n", bad[k].name);
        else if (!last.count)
            printk("%s.walk: completed\n", bad[k].name);
        else
            printk("%s.walk: %s(0x%x) cr2=0x%x\n", bad[k].name, last.vector == 14 ? "#PF" : "other",
                   last.error, last.cr2);
        int walk_ok = (last.count && last.vector == 14 && last.cr2 == 0xc0000010 && (last.error | 1) == 0x9) ||
                      (k == 0 && !last.count);
        int sdm = gp && gp_error == 0 && cr3 == (u32)pdpt;
        if (amd ? !(loaded && walk_ok) : !(sdm || (loaded && walk_ok)))
            test_fail("%s", bad[k].name);
    }

    /* The PDPTE registers (§4.4.1): PDPTE 1 changed in memory, INVLPG flushes the TLB entry,
     * yet the walk still uses the loaded PDPTE until MOV to CR3 loads it again. */
    expect("pae.pdpte_cache.before", peek(GIB1 + 0x1234), 0x06001234);
    pdpt[1] = (u32)pd_pae_alt | 1;
    invlpg(GIB1 + 0x1234);
    u32 v = peek(GIB1 + 0x1234);
    printk("pae.pdpte_cache.after_invlpg: %s\n", v == 0x06001234 ? "old" : v == 0x08001234 ? "new" : "other");
    if (amd ? v != 0x08001234 : v != 0x06001234 && v != 0x08001234)
        test_fail("pae.pdpte_cache.after_invlpg");
    write_cr3((u32)pdpt);
    v = peek(GIB1 + 0x1234);
    printk("pae.pdpte_cache.after_mov_cr3: %s\n", v == 0x06001234 ? "old" : v == 0x08001234 ? "new" : "other");
    if (v != 0x08001234)
        test_fail("pae.pdpte_cache.after_mov_cr3");

    /* INVLPG makes a changed PTE take effect. */
    expect("pae.invlpg.before", peek(TEST + 0x1000), 0xbbbb0000);
    pt_pae[1] = (u32)frame_a | 3;
    invlpg(TEST + 0x1000);
    expect("pae.invlpg.after", peek(TEST + 0x1000), frame_a[0]);
}

void test_main(void)
{
    paging32_cases();
    pae_cases();
}
