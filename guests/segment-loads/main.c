/*
 * segment-loads: loading DS, ES, FS, GS and SS with MOV, POP and LDS/LES/LFS/LGS/LSS at
 * CPL 0, in 64-bit mode and in compatibility mode, and the FS/GS bases.
 *
 * What the architecture requires (Intel SDM Vol. 2 MOV, POP, LDS/LES/LFS/LGS/LSS
 * "Operation"; Vol. 3A §3.4.2-3.4.5 selectors and descriptors, §3.4.4 "Segment Loading
 * Instructions in IA-32e Mode", §5.10 privilege checks for data and stack segments,
 * §6.13 "Error Code", §6.15 #GP/#NP/#SS):
 *   - DS/ES/FS/GS: a null selector (index 0, TI 0, any RPL) loads without a fault.  A
 *     selector past the GDT (or LDT) limit, a system descriptor, an execute-only code
 *     segment, or a data / non-conforming code segment with RPL > DPL or CPL > DPL is
 *     #GP(selector); readable conforming code is exempt from the privilege check.  A
 *     descriptor that passes but is not present is #NP(selector).
 *   - SS: a null selector is #GP(0), except in 64-bit mode at CPL < 3 with RPL = CPL.
 *     Otherwise RPL != CPL, DPL != CPL, or anything but a writable data segment is
 *     #GP(selector); not present is #SS(selector).
 *   - The error code is the selector with RPL cleared (TI kept); a selector with TI = 1
 *     goes through the LDT loaded by LLDT.  A faulting POP leaves RSP unchanged.
 *   - A successful load sets the descriptor's accessed bit in memory; a failed one does
 *     not.
 *   - A null DS/ES is usable in 64-bit mode (no segment checks there); outside 64-bit
 *     mode an access through it is #GP(0).
 *   - FS and GS: in 64-bit mode a selector load takes the 32-bit base from the
 *     descriptor and clears base[63:32]; WRMSR IA32_FS_BASE / IA32_GS_BASE sets the full
 *     base (canonical only: #GP(0)), which %fs:/%gs: accesses use.  Compatibility mode
 *     uses only base[31:0] (§3.4.4).  RDFSBASE/WRFSBASE and the GS forms (CR4.FSGSBASE):
 *     see fsgsbase_checks().
 *   - Far JMP/CALL to a code segment at the same privilege (SDM JMP, CALL "Operation"):
 *     see far_checks() for the rules and error codes; a faulting CALL pushes nothing.
 *   - The same from compatibility mode (IA-32e mode, operand size 32; m16:32 and
 *     ptr16:32): see compat_far_checks().  A far CALL there pushes CS and EIP in 4-byte
 *     slots; a far JMP to 64-bit code returns to 64-bit mode.
 *   - A CS load by a far transfer sets the accessed bit too (§3.4.5.1).
 * Every observation is printed.  QEMU 7.2 TCG loads a null SS with RPL != CPL in 64-bit
 * mode, takes a non-canonical base from WRMSR IA32_FS_BASE and WRFSBASE, does not check
 * the usability of a data segment on access, jumps to a code segment with L = D = 1 and
 * leaves the accessed bit of a CS loaded by a far transfer clear (test/qemu-deviations.ts);
 * the guest accepts QEMU's values there and the cross-check holds Ringside to the SDM's.
 */
#include "ringside.h"

#define SEL_DATA_A    0x20   /* data, DPL 0, read/write, base 0x1000 */
#define SEL_DATA_RO   0x28   /* data, DPL 0, read-only */
#define SEL_DATA_DPL3 0x30   /* data, DPL 3, read/write */
#define SEL_DATA_NP   0x38   /* data, DPL 0, not present */
#define SEL_CODE_XO   0x40   /* code, DPL 0, execute-only */
#define SEL_CODE_R    0x48   /* code, DPL 0, readable, non-conforming */
#define SEL_CODE_RC   0x50   /* code, DPL 0, readable, conforming */
#define SEL_LDT       0x58   /* LDT (16 bytes: 0x58, 0x60) */
#define SEL_DATA_DPL1 0x68   /* data, DPL 1 */
#define SEL_FSDATA    0x70   /* data, DPL 0, base fsbuf */
#define SEL_C64_CONF  0x78   /* 64-bit code, DPL 0, conforming */
#define SEL_C64_DPL3  0x80   /* 64-bit code, DPL 3, non-conforming */
#define SEL_C64_NP    0x88   /* 64-bit code, DPL 0, not present */
#define SEL_C64_CONF3 0x90   /* 64-bit code, DPL 3, conforming */
#define SEL_C64_LD    0x98   /* code with L = 1 and D = 1 (reserved in IA-32e mode) */
#define SEL_C64       0xa0   /* 64-bit code, DPL 0, non-conforming */
#define GDT_ENTRIES   24
#define SEL_PAST      (GDT_ENTRIES * 8)
#define FAILED        0xdead

#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define CR4_FSGSBASE (1UL << 16)

typedef u32 (*probe64_fn)(u32 sel);
u32 p64_mov_ds(u32), p64_mov_es(u32), p64_mov_fs(u32), p64_mov_gs(u32), p64_mov_ss(u32);
u32 p64_pop_fs(u32), p64_pop_gs(u32), p64_lss(u32), p64_lfs(u32), p64_lgs(u32);
u32 p64_null_es_access(void), p64_ljmp(u32), p64_lcall(u32);
void c32_mov_ds(void), c32_mov_es(void), c32_mov_fs(void), c32_mov_gs(void), c32_mov_ss(void);
void c32_pop_ds(void), c32_pop_es(void), c32_pop_ss(void), c32_lds(void), c32_les(void), c32_lss(void);
void c32_rdfsbase(void), c32_null_es_access(void), c32_read_fs8(void), c32_read_gs8(void), c32_load_fs_read8(void);
void c32_ljmp_m32(void), c32_lcall_m32(void);
extern const struct { u64 sel; void (*ljmp)(void); void (*lcall)(void); } c32_far_direct[];
extern u64 far_back;
extern u32 far_width, far_pushed_eip, far_pushed_cs, far_pushed_bytes, far_rsp_delta;

static u64 gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static u64 ldt[3] __attribute__((aligned(16)));
static u32 fsbuf[4] __attribute__((aligned(16))) = { 0, 0, 0xf5f5f5f5, 0 };
static u32 gsbuf[4] __attribute__((aligned(16))) = { 0, 0, 0x65656565, 0 };
static u32 nullbuf[4] = { 0, 0x4e4e4e4e, 0, 0 };
static unsigned int mismatches;

static void expect(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want && mismatches++ == 0)
        test_fail("%s: got 0x%lx, expected 0x%lx", name, got, want);
}

/* Far call into compatibility mode with EDX = dx, EBX = bx; returns EAX. */
static u32 call_compat(void (*fn)(void), u32 dx, u32 bx)
{
    struct __attribute__((packed)) { u32 offset; u16 selector; } target = { (u32)(unsigned long)fn, SEL_CODE32 };
    u64 a, d = dx, b = bx;
    asm volatile("lcall *%[t]" : "=a"(a), "+d"(d), "+b"(b) : [t] "m"(target) : "rcx", "memory", "cc");
    return (u32)a;
}

static void install_tables(void)
{
    gdt_extend(gdt);
    gdt[SEL_DATA_A / 8] = seg_descriptor(0x1000, 0xfff, 0x92, 0x4);
    gdt[SEL_DATA_RO / 8] = seg_descriptor(0, 0xfffff, 0x90, 0xc);
    gdt[SEL_DATA_DPL3 / 8] = seg_descriptor(0, 0xfffff, 0xf2, 0xc);
    gdt[SEL_DATA_NP / 8] = seg_descriptor(0, 0xfffff, 0x12, 0xc);
    gdt[SEL_CODE_XO / 8] = seg_descriptor(0, 0xfffff, 0x98, 0xc);
    gdt[SEL_CODE_R / 8] = seg_descriptor(0, 0xfffff, 0x9a, 0xc);
    gdt[SEL_CODE_RC / 8] = seg_descriptor(0, 0xfffff, 0x9e, 0xc);
    gdt[SEL_LDT / 8] = seg_descriptor((u32)(unsigned long)ldt, sizeof(ldt) - 1, 0x82, 0);
    gdt[SEL_DATA_DPL1 / 8] = seg_descriptor(0, 0xfffff, 0xb2, 0xc);
    gdt[SEL_FSDATA / 8] = seg_descriptor((u32)(unsigned long)fsbuf, 0xfff, 0x92, 0x4);
    gdt[SEL_C64_CONF / 8] = seg_descriptor(0, 0xfffff, 0x9e, 0xa);
    gdt[SEL_C64_DPL3 / 8] = seg_descriptor(0, 0xfffff, 0xfa, 0xa);
    gdt[SEL_C64_NP / 8] = seg_descriptor(0, 0xfffff, 0x1a, 0xa);
    gdt[SEL_C64_CONF3 / 8] = seg_descriptor(0, 0xfffff, 0xfe, 0xa);
    gdt[SEL_C64_LD / 8] = seg_descriptor(0, 0xfffff, 0x9a, 0xe);
    gdt[SEL_C64 / 8] = seg_descriptor(0, 0xfffff, 0x9a, 0xa);
    ldt[1] = seg_descriptor(0, 0xfffff, 0x92, 0xc);   /* selector 0x0c */
    ldt[2] = seg_descriptor(0, 0xfffff, 0x12, 0xc);   /* selector 0x14: not present */
    gdt_load(gdt, GDT_ENTRIES);
    asm volatile("lldt %w0" :: "r"((u16)SEL_LDT));
}

/* ---------------------------------------------------------------- the fault table */

/* Expected outcome: vector (0: the load completes) and error code. */
struct outcome { u8 vec; u16 err; };
#define OK      { 0, 0 }
#define GP(e)   { 13, e }
#define NP(e)   { 11, e }
#define SSF(e)  { 12, e }

static const struct {
    u16 sel;
    const char *what;
    struct outcome data, ss64, ss_compat;
} cases[] = {
    { 0x00, "null", OK, OK, GP(0) },
    { 0x03, "null_rpl3", OK, GP(0), GP(0) },
    { SEL_PAST, "past_gdt_limit", GP(SEL_PAST), GP(SEL_PAST), GP(SEL_PAST) },
    { SEL_DATA_A, "data", OK, OK, OK },
    { SEL_DATA_A | 3, "data_rpl3", GP(SEL_DATA_A), GP(SEL_DATA_A), GP(SEL_DATA_A) },
    { SEL_DATA_RO, "data_readonly", OK, GP(SEL_DATA_RO), GP(SEL_DATA_RO) },
    { SEL_DATA_DPL3, "data_dpl3", OK, GP(SEL_DATA_DPL3), GP(SEL_DATA_DPL3) },
    { SEL_DATA_DPL1 | 2, "data_dpl1_rpl2", GP(SEL_DATA_DPL1), GP(SEL_DATA_DPL1), GP(SEL_DATA_DPL1) },
    { SEL_DATA_NP, "data_not_present", NP(SEL_DATA_NP), SSF(SEL_DATA_NP), SSF(SEL_DATA_NP) },
    { SEL_CODE_XO, "code_execute_only", GP(SEL_CODE_XO), GP(SEL_CODE_XO), GP(SEL_CODE_XO) },
    { SEL_CODE_R, "code_readable", OK, GP(SEL_CODE_R), GP(SEL_CODE_R) },
    { SEL_CODE_R | 3, "code_readable_rpl3", GP(SEL_CODE_R), GP(SEL_CODE_R), GP(SEL_CODE_R) },
    { SEL_CODE_RC | 3, "code_conforming_rpl3", OK, GP(SEL_CODE_RC), GP(SEL_CODE_RC) },
    { SEL_LDT, "system_ldt", GP(SEL_LDT), GP(SEL_LDT), GP(SEL_LDT) },
    { 0x0c, "ldt_data", OK, OK, OK },
    { 0x14, "ldt_not_present", NP(0x14), SSF(0x14), SSF(0x14) },
    { 0x1c, "past_ldt_limit", GP(0x1c), GP(0x1c), GP(0x1c) },
};

static const struct {
    const char *name;
    probe64_fn fn64;
    void (*fn32)(void);
    int ss;
} probes[] = {
    { "64.mov_ds", p64_mov_ds, 0, 0 },
    { "64.mov_es", p64_mov_es, 0, 0 },
    { "64.mov_fs", p64_mov_fs, 0, 0 },
    { "64.mov_gs", p64_mov_gs, 0, 0 },
    { "64.pop_fs", p64_pop_fs, 0, 0 },
    { "64.pop_gs", p64_pop_gs, 0, 0 },
    { "64.lfs", p64_lfs, 0, 0 },
    { "64.lgs", p64_lgs, 0, 0 },
    { "64.mov_ss", p64_mov_ss, 0, 1 },
    { "64.lss", p64_lss, 0, 1 },
    { "compat.mov_ds", 0, c32_mov_ds, 0 },
    { "compat.mov_es", 0, c32_mov_es, 0 },
    { "compat.mov_fs", 0, c32_mov_fs, 0 },
    { "compat.mov_gs", 0, c32_mov_gs, 0 },
    { "compat.pop_ds", 0, c32_pop_ds, 0 },
    { "compat.pop_es", 0, c32_pop_es, 0 },
    { "compat.lds", 0, c32_lds, 0 },
    { "compat.les", 0, c32_les, 0 },
    { "compat.mov_ss", 0, c32_mov_ss, 1 },
    { "compat.pop_ss", 0, c32_pop_ss, 1 },
    { "compat.lss", 0, c32_lss, 1 },
};

static u64 read_rsp(void) { u64 v; asm volatile("mov %%rsp, %0" : "=r"(v)); return v; }

static void run_case(unsigned int p, unsigned int c)
{
    struct outcome want = !probes[p].ss ? cases[c].data : probes[p].fn64 ? cases[c].ss64 : cases[c].ss_compat;
    u16 sel = cases[c].sel;
    fault_reset();
    u64 rsp = read_rsp();
    u32 got = probes[p].fn64 ? probes[p].fn64(sel) : call_compat(probes[p].fn32, sel, 0);
    u64 rsp_after = read_rsp();

    char n[96];
    snprintk(n, sizeof(n), "%s.%s.sel%02x", probes[p].name, cases[c].what, sel);
    char k[128];
    snprintk(k, sizeof(k), "%s.vector", n);
    if (last_fault.count)
        printk("%s: %lu\n", k, last_fault.vector);
    else
        printk("%s: none\n", k);
    snprintk(k, sizeof(k), "%s.error_code", n);
    printk("%s: 0x%lx\n", k, last_fault.count ? last_fault.error_code : 0);
    snprintk(k, sizeof(k), "%s.loaded", n);
    printk("%s: 0x%x\n", k, got);
    int completed = last_fault.count == 0 && got == sel;
    int ok = want.vec ? last_fault.count == 1 && last_fault.vector == want.vec &&
                            last_fault.error_code == want.err && got == FAILED
                      : completed;
    /* QEMU loads a null SS with RPL != CPL in 64-bit mode (test/qemu-deviations.ts). */
    if (probes[p].ss && probes[p].fn64 && sel == 3 && completed)
        ok = 1;
    if (!ok && mismatches++ == 0)
        test_fail("%s: vector %lu error 0x%lx loaded 0x%x; expected vector %u error 0x%x", n,
                  last_fault.count ? last_fault.vector : 0, last_fault.error_code, got, want.vec, want.err);
    if (rsp_after != rsp && mismatches++ == 0)
        test_fail("%s: RSP moved by %ld", n, (long)(rsp_after - rsp));
}

static u64 accessed(u16 sel)
{
    const u64 *d = (sel & 4) ? &ldt[sel >> 3] : &gdt[sel >> 3];
    return (*(volatile const u64 *)d >> 40) & 1;
}

static void print_vector(const char *name)
{
    if (last_fault.count)
        printk("%s: %lu\n", name, last_fault.vector);
    else
        printk("%s: none\n", name);
}

/* ---------------------------------------------------------------- FS and GS bases */

static void base_checks(void)
{
    u64 fsb = (u64)(unsigned long)fsbuf, gsb = (u64)(unsigned long)gsbuf;
    u32 v;

    /* A selector load in 64-bit mode: base[31:0] from the descriptor, base[63:32] = 0. */
    wrmsr(MSR_FS_BASE, 0xffff800000000000UL | 0x5000);
    asm volatile("mov %w0, %%fs" :: "r"((u16)SEL_FSDATA));
    expect("64.mov_fs.base_from_descriptor", rdmsr(MSR_FS_BASE) == fsb, 1);
    asm volatile("mov %%fs:8, %0" : "=r"(v));
    expect("64.mov_fs.read_fs8", v, 0xf5f5f5f5);

    /* WRMSR sets the whole base; %fs: and %gs: use it. */
    wrmsr(MSR_FS_BASE, gsb);
    asm volatile("mov %%fs:8, %0" : "=r"(v));
    expect("64.wrmsr_fs_base.read_fs8", v, 0x65656565);
    wrmsr(MSR_GS_BASE, fsb);
    asm volatile("mov %%gs:8, %0" : "=r"(v));
    expect("64.wrmsr_gs_base.read_gs8", v, 0xf5f5f5f5);
    wrmsr(MSR_GS_BASE, 0x00007fffffff0000UL);
    expect("64.wrmsr_gs_base.roundtrip", rdmsr(MSR_GS_BASE), 0x00007fffffff0000UL);
    wrmsr(MSR_GS_BASE, 0xffff8000deadb000UL);
    expect("64.wrmsr_gs_base.roundtrip_high", rdmsr(MSR_GS_BASE), 0xffff8000deadb000UL);

    /* A non-canonical base: #GP(0), the base unchanged.  Canonical means 57-bit here: the
     * CPU supports LA57 and these checks use its widest linear address. */
    fault_reset();
    asm volatile("1: wrmsr\n2:\n" EXTABLE(1b, 2b)
                 :: "c"(MSR_FS_BASE), "a"(0u), "d"(0x01000000u) : "memory");
    print_vector("64.wrmsr_fs_base.noncanonical.vector");
    expect("64.wrmsr_fs_base.noncanonical.error_code", last_fault.error_code, 0);
    int kept = rdmsr(MSR_FS_BASE) == gsb;
    printk("64.wrmsr_fs_base.noncanonical.base_kept: %d\n", kept);
    /* QEMU takes the non-canonical base without a fault (test/qemu-deviations.ts). */
    if (!(last_fault.count && last_fault.vector == 13 && kept) && !(!last_fault.count && !kept) && mismatches++ == 0)
        test_fail("64.wrmsr_fs_base.noncanonical: expected #GP(0) and the base kept");

    /* Compatibility mode uses base[31:0] only. */
    wrmsr(MSR_FS_BASE, (1UL << 32) | fsb);
    wrmsr(MSR_GS_BASE, (0x7fffUL << 32) | gsb);
    expect("compat.fs_base_high_ignored.read_fs8", call_compat(c32_read_fs8, 0, 0), 0xf5f5f5f5);
    expect("compat.gs_base_high_ignored.read_gs8", call_compat(c32_read_gs8, 0, 0), 0x65656565);
    /* A selector load in compatibility mode: the 32-bit base from the descriptor. */
    wrmsr(MSR_FS_BASE, gsb);
    expect("compat.mov_fs.read_fs8", call_compat(c32_load_fs_read8, SEL_FSDATA, 0), 0xf5f5f5f5);
    expect("compat.mov_fs.base_from_descriptor", rdmsr(MSR_FS_BASE) == fsb, 1);

    asm volatile("mov %w0, %%fs; mov %w0, %%gs" :: "r"((u16)SEL_DATA));
}

/* RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (SDM Vol. 2 "Operation"; Vol. 3A §2.5 CR4.FSGSBASE):
 * #UD unless CR4.FSGSBASE = 1, and outside 64-bit mode; a 32-bit read zero-extends
 * base[31:0], a 32-bit write clears base[63:32]; a non-canonical 64-bit write is #GP(0). */
static void fsgsbase_checks(void)
{
    int have = cpuid(7, 0).ebx & 1;
    expect("fsgsbase.cpuid", have, 1);
    if (!have)
        return;
    u64 cr4 = read_cr4(), v, fsb = (u64)(unsigned long)fsbuf, gsb = (u64)(unsigned long)gsbuf;
    write_cr4(cr4 & ~CR4_FSGSBASE);
    fault_reset();
    asm volatile("1: rdfsbase %0\n2:\n" EXTABLE(1b, 2b) : "=r"(v));
    print_vector("fsgsbase.cr4_clear.rdfsbase.vector");
    fault_reset();
    asm volatile("1: wrgsbase %0\n2:\n" EXTABLE(1b, 2b) :: "r"(gsb));
    print_vector("fsgsbase.cr4_clear.wrgsbase.vector");
    if (!last_fault.count || last_fault.vector != 6)
        test_fail("fsgsbase with CR4.FSGSBASE = 0: expected #UD");

    write_cr4(cr4 | CR4_FSGSBASE);
    u32 w;
    asm volatile("wrfsbase %0" :: "r"(fsb));
    asm volatile("mov %%fs:8, %0" : "=r"(w));
    expect("fsgsbase.wrfsbase.read_fs8", w, 0xf5f5f5f5);
    expect("fsgsbase.wrfsbase.rdmsr_matches", rdmsr(MSR_FS_BASE) == fsb, 1);
    asm volatile("wrgsbase %0" :: "r"(fsb));
    asm volatile("mov %%gs:8, %0" : "=r"(w));
    expect("fsgsbase.wrgsbase.read_gs8", w, 0xf5f5f5f5);
    wrmsr(MSR_GS_BASE, 0xffff876512345678UL);
    asm volatile("rdgsbase %0" : "=r"(v));
    expect("fsgsbase.rdgsbase.r64", v, 0xffff876512345678UL);
    v = ~0UL;
    asm volatile("rdgsbase %k0" : "+r"(v));
    expect("fsgsbase.rdgsbase.r32", v, 0x12345678);
    asm volatile("wrgsbase %k0" :: "r"(0x9abcdef0UL | (0x1234UL << 32)));
    expect("fsgsbase.wrgsbase.r32_clears_high", rdmsr(MSR_GS_BASE), 0x9abcdef0);
    fault_reset();
    asm volatile("1: wrfsbase %0\n2:\n" EXTABLE(1b, 2b) :: "r"(0x0100000000000000UL));
    print_vector("fsgsbase.wrfsbase.noncanonical.vector");
    expect("fsgsbase.wrfsbase.noncanonical.error_code", last_fault.error_code, 0);
    int kept = rdmsr(MSR_FS_BASE) == fsb;
    printk("fsgsbase.wrfsbase.noncanonical.base_kept: %d\n", kept);
    /* QEMU takes the non-canonical base without a fault (test/qemu-deviations.ts). */
    if (!(last_fault.count && last_fault.vector == 13 && kept) && !(!last_fault.count && !kept))
        test_fail("wrfsbase of a non-canonical base: expected #GP(0) and the base kept");
    fault_reset();
    v = call_compat(c32_rdfsbase, 0, 0);
    print_vector("fsgsbase.compat.rdfsbase.vector");
    if (!last_fault.count || last_fault.vector != 6 || v != FAILED)
        test_fail("rdfsbase in compatibility mode: expected #UD");
    write_cr4(cr4);
    asm volatile("mov %w0, %%fs; mov %w0, %%gs" :: "r"((u16)SEL_DATA));
}

/* ---------------------------------------------------------------- null selectors in use */

static void null_use_checks(void)
{
    /* 64-bit mode: a null ES is usable (no segment checks). */
    u64 off = (u64)(unsigned long)&nullbuf[1];
    u32 v;
    fault_reset();
    asm volatile("call p64_null_es_access" : "=a"(v) : "S"(off) : "rcx", "memory");
    print_vector("64.null_es.access.vector");
    if (last_fault.count && mismatches++ == 0)
        test_fail("64.null_es.access: vector %lu", last_fault.vector);
    expect("64.null_es.access.value", v, 0x4e4e4e4e);

    /* Compatibility mode: an access through a null ES is #GP(0). */
    fault_reset();
    v = call_compat(c32_null_es_access, 0, (u32)off);
    u64 vec = last_fault.count ? last_fault.vector : 0;
    print_vector("compat.null_es.access.vector");
    printk("compat.null_es.access.error_code: 0x%lx\n", last_fault.count ? last_fault.error_code : 0);
    printk("compat.null_es.access.completed: %u\n", v != FAILED);
    /* QEMU completes the access (test/qemu-deviations.ts). */
    int sdm = vec == 13 && last_fault.error_code == 0 && v == FAILED;
    int qemu = vec == 0 && v == 0x4e4e4e4e;
    if (!sdm && !qemu && mismatches++ == 0)
        test_fail("compat.null_es.access: vector %lu, value 0x%x; expected #GP(0)", vec, v);
}

/* ---------------------------------------------------------------- far JMP / CALL */

/* SDM JMP/CALL "Operation", protected mode, code-segment targets (IA-32e mode): null:
 * #GP(0); past the limit, not code, or L = D = 1: #GP(selector); non-conforming: RPL > CPL
 * or DPL != CPL is #GP(selector); conforming: DPL > CPL is #GP(selector); then P = 0 is
 * #NP(selector).  CS gets RPL = CPL: a conforming segment does not change CPL. */
static const struct { u16 sel; const char *what; struct outcome out; u16 cs; } far_cases[] = {
    { 0x00, "null", GP(0), 0 },
    { 0x03, "null_rpl3", GP(0), 0 },
    { SEL_PAST, "past_gdt_limit", GP(SEL_PAST), 0 },
    { SEL_DATA_A, "data", GP(SEL_DATA_A), 0 },
    { SEL_LDT, "system_ldt", GP(SEL_LDT), 0 },
    { SEL_C64, "code", OK, SEL_C64 },
    { SEL_C64 | 3, "code_rpl3", GP(SEL_C64), 0 },
    { SEL_C64_DPL3, "code_dpl3", GP(SEL_C64_DPL3), 0 },
    { SEL_C64_NP, "code_not_present", NP(SEL_C64_NP), 0 },
    { SEL_C64_NP | 3, "code_not_present_rpl3", GP(SEL_C64_NP), 0 },
    { SEL_C64_CONF | 3, "conforming_rpl3", OK, SEL_C64_CONF },
    { SEL_C64_CONF3, "conforming_dpl3", GP(SEL_C64_CONF3), 0 },
    { SEL_C64_LD, "code_l1_d1", GP(SEL_C64_LD), 0 },
};

static void far_checks(void)
{
    static const struct { const char *name; probe64_fn fn; } kinds[] = {
        { "64.ljmp", p64_ljmp }, { "64.lcall", p64_lcall },
    };
    for (unsigned int k = 0; k < ARRAY_SIZE(kinds); k++) {
        for (unsigned int c = 0; c < ARRAY_SIZE(far_cases); c++) {
            struct outcome want = far_cases[c].out;
            fault_reset();
            u64 rsp = read_rsp();
            u32 cs = kinds[k].fn(far_cases[c].sel);
            u64 rsp_after = read_rsp();
            char n[96], l[128];
            snprintk(n, sizeof(n), "%s.%s.sel%02x", kinds[k].name, far_cases[c].what, far_cases[c].sel);
            snprintk(l, sizeof(l), "%s.vector", n);
            print_vector(l);
            snprintk(l, sizeof(l), "%s.error_code", n);
            printk("%s: 0x%lx\n", l, last_fault.count ? last_fault.error_code : 0);
            snprintk(l, sizeof(l), "%s.target_cs", n);
            printk("%s: 0x%x\n", l, cs);
            snprintk(l, sizeof(l), "%s.rsp_unchanged", n);
            printk("%s: %d\n", l, rsp_after == rsp);
            int ok = want.vec ? last_fault.count == 1 && last_fault.vector == want.vec &&
                                    last_fault.error_code == want.err && cs == FAILED
                              : last_fault.count == 0 && cs == far_cases[c].cs;
            /* QEMU does not check L = D = 1 (test/qemu-deviations.ts). */
            if (far_cases[c].sel == SEL_C64_LD && last_fault.count == 0 && cs == SEL_C64_LD)
                ok = 1;
            if ((!ok || rsp_after != rsp) && mismatches++ == 0)
                test_fail("%s: vector %lu error 0x%lx cs 0x%x; expected vector %u error 0x%x", n,
                          last_fault.count ? last_fault.vector : 0, last_fault.error_code, cs, want.vec, want.err);
        }
    }
    /* QEMU does not set the accessed bit on far transfers (test/qemu-deviations.ts). */
    u64 a = accessed(SEL_C64_CONF);
    printk("accessed.code_conforming_after_far: 0x%lx\n", a);
    expect("accessed.code_not_present_after_far", accessed(SEL_C64_NP), 0);
}

/* The same far JMP/CALL cases from compatibility mode (operand size 32), with m16:32 and
 * ptr16:32 operands: the checks are those of far_checks() (L = D = 1 faults whenever
 * IA32_EFER.LMA = 1).  A successful JMP to 64-bit code runs in 64-bit mode (a PUSH takes
 * 8 bytes); a successful CALL pushes CS and EIP in 4-byte slots (8 bytes), and LRET with
 * operand size 32 from 64-bit mode returns to the caller. */
static void compat_far_checks(void)
{
    for (unsigned int k = 0; k < 4; k++) {
        int call = k & 1, direct = k >> 1;
        const char *kind = call ? (direct ? "compat.lcall_ptr" : "compat.lcall_m32")
                                : (direct ? "compat.ljmp_ptr" : "compat.ljmp_m32");
        for (unsigned int c = 0; c < ARRAY_SIZE(far_cases); c++) {
            u16 sel = far_cases[c].sel;
            struct outcome want = far_cases[c].out;
            char n[96], l[128];
            snprintk(n, sizeof(n), "%s.%s.sel%02x", kind, far_cases[c].what, sel);
            void (*fn)(void) = call ? c32_lcall_m32 : c32_ljmp_m32;
            if (direct) {
                unsigned int i = 0;
                while (c32_far_direct[i].sel != 0xffff && c32_far_direct[i].sel != sel)
                    i++;
                if (c32_far_direct[i].sel == 0xffff) {
                    test_fail("%s: no ptr16:32 probe for this selector in seg.S", n);
                    return;
                }
                fn = call ? c32_far_direct[i].lcall : c32_far_direct[i].ljmp;
            }
            far_width = far_pushed_eip = far_pushed_cs = far_pushed_bytes = 0;
            far_rsp_delta = 0x5a5a;
            fault_reset();
            u64 rsp = read_rsp();
            u32 cs = call_compat(fn, sel, 0);
            u64 rsp_after = read_rsp();
            snprintk(l, sizeof(l), "%s.vector", n);
            print_vector(l);
            snprintk(l, sizeof(l), "%s.error_code", n);
            printk("%s: 0x%lx\n", l, last_fault.count ? last_fault.error_code : 0);
            snprintk(l, sizeof(l), "%s.target_cs", n);
            printk("%s: 0x%x\n", l, cs);
            snprintk(l, sizeof(l), "%s.rsp_unchanged", n);
            printk("%s: %d\n", l, far_rsp_delta == 0);
            int ok = want.vec ? last_fault.count == 1 && last_fault.vector == want.vec &&
                                    last_fault.error_code == want.err && cs == FAILED
                              : last_fault.count == 0 && cs == far_cases[c].cs;
            /* QEMU does not check L = D = 1 (test/qemu-deviations.ts). */
            if (sel == SEL_C64_LD && last_fault.count == 0 && cs == SEL_C64_LD)
                ok = 1;
            if (!want.vec && !call) {
                snprintk(l, sizeof(l), "%s.push_width", n);
                printk("%s: %u\n", l, far_width);
                ok = ok && far_width == 8;
            }
            if (!want.vec && call) {
                int eip_ok = far_pushed_eip == (u32)far_back;
                snprintk(l, sizeof(l), "%s.pushed_cs", n);
                printk("%s: 0x%x\n", l, far_pushed_cs);
                snprintk(l, sizeof(l), "%s.pushed_eip_is_return", n);
                printk("%s: %d\n", l, eip_ok);
                snprintk(l, sizeof(l), "%s.pushed_bytes", n);
                printk("%s: %u\n", l, far_pushed_bytes);
                ok = ok && far_pushed_cs == SEL_CODE32 && eip_ok && far_pushed_bytes == 8;
            }
            if ((!ok || far_rsp_delta != 0 || rsp_after != rsp) && mismatches++ == 0)
                test_fail("%s: vector %lu error 0x%lx cs 0x%x rsp moved by %d; expected vector %u error 0x%x", n,
                          last_fault.count ? last_fault.vector : 0, last_fault.error_code, cs,
                          (int)far_rsp_delta, want.vec, want.err);
        }
    }
}

void test_main(void)
{
    install_tables();

    /* The accessed bit: clear in the descriptor until a load succeeds. */
    expect("accessed.data.before", accessed(SEL_DATA_A), 0);
    run_case(0, 4);   /* 64.mov_ds data_rpl3: #GP(0x20) */
    expect("accessed.data.after_failed_load", accessed(SEL_DATA_A), 0);
    run_case(0, 3);   /* 64.mov_ds data */
    expect("accessed.data.after_load", accessed(SEL_DATA_A), 1);

    for (unsigned int p = 0; p < ARRAY_SIZE(probes); p++)
        for (unsigned int c = 0; c < ARRAY_SIZE(cases); c++)
            run_case(p, c);

    /* After every probe: set where some load succeeded, clear where none did. */
    expect("accessed.data_readonly", accessed(SEL_DATA_RO), 1);
    expect("accessed.data_dpl3", accessed(SEL_DATA_DPL3), 1);
    expect("accessed.data_dpl1", accessed(SEL_DATA_DPL1), 0);
    expect("accessed.data_not_present", accessed(SEL_DATA_NP), 0);
    expect("accessed.code_execute_only", accessed(SEL_CODE_XO), 0);
    expect("accessed.code_readable", accessed(SEL_CODE_R), 1);
    expect("accessed.code_conforming", accessed(SEL_CODE_RC), 1);
    expect("accessed.ldt_data", accessed(0x0c), 1);
    expect("accessed.ldt_not_present", accessed(0x14), 0);

    base_checks();
    fsgsbase_checks();
    null_use_checks();
    far_checks();
    compat_far_checks();
}
