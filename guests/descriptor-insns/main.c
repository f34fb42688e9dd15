/*
 * descriptor-insns: the instructions that read and load the descriptor-table registers
 * and check descriptors without loading them, at CPL 0 in 64-bit mode and compatibility
 * mode.
 *
 * What the architecture requires (Intel SDM Vol. 2 LAR, LSL, VERR, VERW, LGDT/LIDT,
 * SGDT, SIDT, LLDT, SLDT, LTR, STR, SMSW; Vol. 3A §5.10 "Pointer Validation", §2.5
 * CR4.UMIP, §8.2.2 "TSS Descriptor" and §8.2.3 "TSS Descriptor in 64-bit mode"):
 *   - LAR, LSL, VERR, VERW never fault on a bad selector: a null selector, one past the
 *     GDT/LDT limit, a type the instruction does not accept, or a descriptor whose DPL is
 *     below CPL or RPL (conforming code segments are exempt for LAR, LSL and VERR) clears
 *     ZF and leaves the destination unchanged; otherwise ZF = 1.
 *   - In IA-32e mode (64-bit and compatibility mode) LAR accepts, of the system types,
 *     only the 64-bit TSS (available 9, busy B) and the 64-bit call gate (C); the LDT (2)
 *     is marked invalid in the LAR table.  LSL accepts the LDT and the 64-bit TSS.  All
 *     code and data segments are accepted by both; P is not checked.  AMD differs: its
 *     LAR accepts the LDT in long mode too (the long-mode system types of AMD APM Vol. 2
 *     §4.8.3 Table 4-6 and §4.13.2: LDT, 64-bit TSS available and busy, 64-bit call gate;
 *     the LAR table of Vol. 3 itself was not available to this project), so on a CPU
 *     whose CPUID vendor is AuthenticAMD the guest expects those types.
 *   - LAR stores the descriptor's second doubleword masked by FF00H (16-bit operand) or
 *     00FxFF00H (32/64-bit, zero-extended; bits 19:16 undefined, never printed).  LSL
 *     stores the byte-granular limit (scaled by G: limit << 12 | FFFH), truncated to 16
 *     bits or zero-extended.  A 16-bit destination keeps the register's upper bits.  Only
 *     ZF changes.
 *   - VERR: a data segment, or a readable code segment, visible at CPL and RPL (readable
 *     conforming code always).  VERW: a writable data segment visible at CPL and RPL.
 *     System descriptors never pass.  At CPL 3 a DPL 0 descriptor is invisible to all
 *     four, except conforming code to LAR, LSL and VERR.
 *   - SGDT/SIDT store 10 bytes in 64-bit mode, 6 bytes (limit, 32-bit base) otherwise,
 *     whatever the operand size; LGDT with a 16-bit operand size outside 64-bit mode
 *     loads only base[23:0].  LGDT/LIDT in 64-bit mode: #GP(0) for a base that is not
 *     canonical for the maximum linear-address width (57 bits: CPUID enumerates LA57),
 *     whatever CR4.LA57, so a 57-bit canonical base loads under 4-level paging (all 64
 *     bits of it, as SGDT/SIDT show; LLDT the same); a descriptor fetch through such a base
 *     that is not canonical for the paging mode is #GP(0) (Vol. 1 §3.3.7.1).
 *   - LLDT: a null selector makes LDTR unusable; otherwise the selector must name an LDT
 *     descriptor in the GDT (TI = 1 or another type: #GP(selector); P = 0: #NP(selector)).
 *     SLDT/STR store the selector, zero-extended into a 32/64-bit register.
 *   - LTR: a null selector is #GP(0); the selector must name an available TSS (a busy
 *     one, or another type: #GP(selector)); P = 0 is #NP(selector); in 64-bit mode the
 *     type field of the descriptor's upper 8 bytes must be 0 (#GP(selector)); LTR marks
 *     the descriptor busy (type 9 -> B) in the GDT.
 *   - SMSW stores CR0[15:0] (a 16-bit register keeps its upper bits; m16 writes 2 bytes).
 *   - CR4.UMIP = 1 makes SGDT, SIDT, SLDT, SMSW and STR #GP(0) at CPL > 0 only; at CPL 0
 *     they work as before, and at CPL 3 with UMIP = 0 too.  (CPL 3 comes from the guest
 *     library, with this guest's GDT: see prepare_user().)
 * Every observation is printed.  QEMU 7.2 differs on LAR/LSL of the system types only
 * the protected-mode table accepts, LTR of a null selector, LGDT/LIDT of a non-canonical
 * base and SGDT with a 16-bit operand (test/qemu-deviations.ts); the guest accepts
 * QEMU's value on those lines and the cross-check holds Ringside to the SDM's.
 */
#include "ringside.h"

#define SEL_SCRATCH 0x20   /* rewritten per case; 0x28 stays zero (a 16-byte upper half) until prepare_user */
#define SEL_LDT     0x30   /* LDT, 16 bytes */
#define SEL_TSS     0x40   /* available 64-bit TSS, 16 bytes */
#define SEL_TSS_NP  0x50   /* TSS with P = 0 */
#define SEL_LDT_NP  0x60   /* LDT with P = 0 */
#define SEL_DATA3   0x70   /* data, DPL 3 */
#define SEL_ZERO    0x78   /* left zero */
#define SEL_UCODE   0x80   /* 64-bit code, DPL 3 */
#define GDT_ENTRIES 18
#define SEL_PAST    (GDT_ENTRIES * 8)

#define CR4_UMIP (1UL << 11)

extern volatile u32 res[6];

/* CPUID.0 says AuthenticAMD: the APM's LAR table applies (see the top of the file). */
static int amd;
extern volatile u8 sg6[10], si6[10], sg16[10], lg16[10];
extern struct __attribute__((packed)) { u16 limit; u32 base; } high_ptr, orig_ptr;
void checks64(u32 sel);
void checks32(void), compat_tables(void);

static u64 gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static u64 ldt[4] __attribute__((aligned(16)));
static u8 tss[104] __attribute__((aligned(16)));
static unsigned int mismatches;

static void expect(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want && mismatches++ == 0)
        test_fail("%s: got 0x%lx, expected 0x%lx", name, got, want);
}

/* A QEMU deviation documented in test/qemu-deviations.ts: either value passes here. */
static void expect2(const char *name, u64 got, u64 want, u64 qemu)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want && got != qemu && mismatches++ == 0)
        test_fail("%s: got 0x%lx, expected 0x%lx", name, got, want);
}

static void call_compat(void (*fn)(void), u32 edx)
{
    struct __attribute__((packed)) { u32 offset; u16 selector; } target = { (u32)(unsigned long)fn, SEL_CODE32 };
    u64 dx = edx;
    asm volatile("lcall *%[t]" : "+d"(dx) : [t] "m"(target) : "rax", "rcx", "memory", "cc");
}

static u64 system_descriptor_lo(u64 base, u32 limit, u32 access)
{
    return seg_descriptor((u32)base, limit, access, 0);
}

static void install_gdt(void)
{
    gdt_extend(gdt);
    gdt[SEL_LDT / 8] = system_descriptor_lo((u64)(unsigned long)ldt, sizeof(ldt) - 1, 0x82);
    gdt[SEL_TSS / 8] = system_descriptor_lo((u64)(unsigned long)tss, sizeof(tss) - 1, 0x89);
    gdt[SEL_TSS_NP / 8] = system_descriptor_lo((u64)(unsigned long)tss, sizeof(tss) - 1, 0x09);
    gdt[SEL_LDT_NP / 8] = system_descriptor_lo((u64)(unsigned long)ldt, sizeof(ldt) - 1, 0x02);
    gdt[SEL_DATA3 / 8] = seg_descriptor(0, 0xfffff, 0xf3, 0xc);
    gdt[SEL_UCODE / 8] = seg_descriptor(0, 0xfffff, 0xfb, 0xa);
    ldt[1] = seg_descriptor(0x1000, 0xfff, 0x93, 0x4);   /* selector 0x0c */
    ldt[2] = seg_descriptor(0, 0xfffff, 0x9b, 0xc);      /* selector 0x14: code, readable */
    gdt_load(gdt, GDT_ENTRIES);
}

/* ---------------------------------------------------------------- the type table */

/* What the SDM says each instruction does with one descriptor at CPL 0 in IA-32e mode. */
struct verdict { int lar, lsl, verr, verw; };

static struct verdict sdm_verdict(int s, int type, int dpl, int rpl)
{
    int visible = rpl <= dpl;   /* CPL 0 <= DPL always */
    struct verdict v = { 0, 0, 0, 0 };
    if (s) {
        int code = type & 8, conforming = code && (type & 4), rw = type & 2;
        v.lar = v.lsl = conforming || visible;
        v.verr = code ? rw && (conforming || visible) : visible;
        v.verw = !code && rw && visible;
    } else {
        v.lar = (type == 0x9 || type == 0xb || type == 0xc || (amd && type == 0x2)) && visible;
        v.lsl = (type == 0x2 || type == 0x9 || type == 0xb) && visible;
    }
    return v;
}

/* QEMU 7.2 applies the protected-mode tables in IA-32e mode too (test/qemu-deviations.ts). */
static struct verdict qemu_verdict(int s, int type, int dpl, int rpl)
{
    struct verdict v = sdm_verdict(s, type, dpl, rpl);
    if (!s && rpl <= dpl) {
        v.lar |= type >= 1 && type <= 5;
        v.lsl |= type == 1 || type == 3;
    }
    return v;
}

static void run_checks(int compat, u32 sel)
{
    for (int k = 0; k < 6; k++)
        res[k] = 0x55;
    if (compat)
        call_compat(checks32, sel);
    else
        checks64(sel);
}

/* Print and check one selector's four results.  hi/limit: the descriptor's second dword
 * and byte-granular limit, for the values LAR and LSL must store. */
static void report(const char *p, struct verdict v, struct verdict q, u32 hi, u32 limit)
{
    char n[96];
    snprintk(n, sizeof(n), "%s.lar.zf", p);
    expect2(n, res[0], v.lar, q.lar);
    if (v.lar) {
        snprintk(n, sizeof(n), "%s.lar.ar", p);
        expect(n, res[1] & 0x00f0ff00, hi & 0x00f0ff00);
    } else {
        snprintk(n, sizeof(n), "%s.lar.unchanged", p);
        expect2(n, res[1] == 0xdeadbeef, 1, !q.lar);
    }
    snprintk(n, sizeof(n), "%s.lsl.zf", p);
    expect2(n, res[2], v.lsl, q.lsl);
    if (v.lsl) {
        snprintk(n, sizeof(n), "%s.lsl.limit", p);
        expect(n, res[3], limit);
    } else {
        snprintk(n, sizeof(n), "%s.lsl.unchanged", p);
        expect2(n, res[3] == 0xdeadbeef, 1, !q.lsl);
    }
    snprintk(n, sizeof(n), "%s.verr.zf", p);
    expect(n, res[4], v.verr);
    snprintk(n, sizeof(n), "%s.verw.zf", p);
    expect(n, res[5], v.verw);
}

static void type_table(int compat)
{
    static const struct { u8 dpl, rpl, p; } combos[] = { { 0, 0, 1 }, { 0, 3, 1 }, { 3, 3, 0 } };
    for (int s = 1; s >= 0; s--) {
        for (int type = 0; type < 16; type++) {
            for (unsigned int c = 0; c < ARRAY_SIZE(combos); c++) {
                u32 flags = (type & 1) ? 0x1 : 0xd;   /* odd: G = 0, AVL; even: G = 1, D = 1, AVL */
                u32 access = (combos[c].p << 7) | (combos[c].dpl << 5) | (s << 4) | type;
                gdt[SEL_SCRATCH / 8] = seg_descriptor(0x12345678, 0x5a5a5, access, flags);
                barrier();
                run_checks(compat, SEL_SCRATCH | combos[c].rpl);
                char p[64];
                snprintk(p, sizeof(p), "%s.s%d.t%x.dpl%u.rpl%u.p%u", compat ? "compat" : "64", s, type,
                         combos[c].dpl, combos[c].rpl, combos[c].p);
                u32 hi = (u32)(gdt[SEL_SCRATCH / 8] >> 32);
                report(p, sdm_verdict(s, type, combos[c].dpl, combos[c].rpl),
                       qemu_verdict(s, type, combos[c].dpl, combos[c].rpl), hi, (type & 1) ? 0x5a5a5 : 0x5a5a5fff);
            }
        }
    }
}

/* A selector that every instruction must reject. */
static void rejected(const char *name, int compat, u32 sel)
{
    struct verdict none = { 0, 0, 0, 0 };
    run_checks(compat, sel);
    report(name, none, none, 0, 0);
}

/* ---------------------------------------------------------------- operand sizes */

static void operand_sizes(void)
{
    gdt[SEL_SCRATCH / 8] = seg_descriptor(0x12345678, 0x5a5a5, 0x93, 0x5);   /* G = 0, D = 1, AVL */
    barrier();
    u64 v;
    u16 sel = SEL_SCRATCH;

    v = ~0UL;
    asm volatile("lar %w1, %w0" : "+r"(v) : "r"(sel) : "cc");
    expect("lar.r16", v, 0xffffffffffff9300UL);
    v = ~0UL;
    asm volatile("lar %w1, %k0" : "+r"(v) : "r"(sel) : "cc");
    expect("lar.r32.defined_bits", v & ~0xf0000UL, 0x00509300);
    v = ~0UL;
    asm volatile("lar %w1, %q0" : "+r"(v) : "r"(sel) : "cc");
    expect("lar.r64.defined_bits", v & ~0xf0000UL, 0x00509300);
    v = ~0UL;
    asm volatile("lar %1, %k0" : "+r"(v) : "m"(sel) : "cc");
    expect("lar.m16.defined_bits", v & ~0xf0000UL, 0x00509300);
    v = ~0UL;
    asm volatile("lsl %w1, %w0" : "+r"(v) : "r"(sel) : "cc");
    expect("lsl.r16", v, 0xffffffffffffa5a5UL);
    v = ~0UL;
    asm volatile("lsl %w1, %k0" : "+r"(v) : "r"(sel) : "cc");
    expect("lsl.r32", v, 0x5a5a5);
    v = ~0UL;
    asm volatile("lsl %w1, %q0" : "+r"(v) : "r"(sel) : "cc");
    expect("lsl.r64", v, 0x5a5a5);

    /* A rejected selector leaves even the upper half of a 32-bit destination alone. */
    u16 null = 0;
    v = ~0UL;
    asm volatile("lar %w1, %k0" : "+r"(v) : "r"(null) : "cc");
    expect("lar.r32.rejected_keeps_rax", v, ~0UL);
    v = ~0UL;
    asm volatile("lsl %w1, %k0" : "+r"(v) : "r"(null) : "cc");
    expect("lsl.r32.rejected_keeps_rax", v, ~0UL);

    /* Only ZF changes: CF, PF, AF, SF, OF set beforehand stay set (0x8d5 covers them and ZF). */
    u64 flags;
    asm volatile("pushfq\n\t"
                 "pushq $0x897\n\t"           /* CF PF AF SF OF, bit 1; ZF clear */
                 "popfq\n\t"
                 "lar %w2, %k1\n\t"
                 "pushfq\n\t"
                 "pop %0\n\t"
                 "popfq"
                 : "=r"(flags), "+r"(v) : "r"(sel) : "cc", "memory");
    expect("lar.flags_after_success", flags & 0x8d5, 0x8d5);
    asm volatile("pushfq\n\t"
                 "pushq $0x8d7\n\t"           /* the same with ZF set */
                 "popfq\n\t"
                 "verw %w1\n\t"
                 "pushfq\n\t"
                 "pop %0\n\t"
                 "popfq"
                 : "=r"(flags) : "r"(null) : "cc", "memory");
    expect("verw.flags_after_failure", flags & 0x8d5, 0x895);
}

/* ---------------------------------------------------------------- LLDT / SLDT, LTR / STR */

static void print_fault_short(const char *name)
{
    char n[64];
    snprintk(n, sizeof(n), "%s.vector", name);
    if (last_fault.count)
        printk("%s: %lu\n", n, last_fault.vector);
    else
        printk("%s: none\n", n);
    snprintk(n, sizeof(n), "%s.error_code", name);
    printk("%s: 0x%lx\n", n, last_fault.count ? last_fault.error_code : 0);
}

static void expect_fault(const char *name, u64 vector, u64 error_code)
{
    print_fault_short(name);
    if ((!last_fault.count || last_fault.vector != vector || last_fault.error_code != error_code) &&
        mismatches++ == 0)
        test_fail("%s: expected vector %lu error code 0x%lx", name, vector, error_code);
}

/* The fault, or (a QEMU deviation, test/qemu-deviations.ts) none at all. */
static void expect_fault_or_qemu_none(const char *name, u64 vector, u64 error_code)
{
    if (last_fault.count)
        expect_fault(name, vector, error_code);
    else
        print_fault_short(name);
}

static void expect_no_fault(const char *name)
{
    print_fault_short(name);
    if (last_fault.count && mismatches++ == 0)
        test_fail("%s: unexpected vector %lu", name, last_fault.vector);
}

static void try_lldt(u16 sel)
{
    fault_reset();
    asm volatile("1: lldt %w0\n2:\n" EXTABLE(1b, 2b) :: "r"(sel) : "memory");
}

static void try_ltr(u16 sel)
{
    fault_reset();
    asm volatile("1: ltr %w0\n2:\n" EXTABLE(1b, 2b) :: "r"(sel) : "memory");
}

static u64 sldt64(void) { u64 v = ~0UL; asm volatile("sldt %k0" : "+r"(v)); return v; }
static u64 str64(void) { u64 v = ~0UL; asm volatile("str %k0" : "+r"(v)); return v; }

static void ldt_checks(void)
{
    try_lldt(0);
    expect_no_fault("lldt.null");
    expect("lldt.null.sldt", sldt64(), 0);
    rejected("ldtr_null.sel0c", 0, 0x0c);

    try_lldt(SEL_LDT | 4);
    expect_fault("lldt.ti1", 13, SEL_LDT | 4);
    try_lldt(SEL_DATA);
    expect_fault("lldt.data_descriptor", 13, SEL_DATA);
    try_lldt(SEL_TSS);
    expect_fault("lldt.tss_descriptor", 13, SEL_TSS);
    try_lldt(SEL_LDT_NP);
    expect_fault("lldt.not_present", 11, SEL_LDT_NP);
    try_lldt(SEL_PAST);
    expect_fault("lldt.past_gdt_limit", 13, SEL_PAST);

    try_lldt(SEL_LDT);
    expect_no_fault("lldt.ldt");
    expect("sldt.r32", sldt64(), SEL_LDT);
    u64 v = ~0UL;
    asm volatile("sldt %w0" : "+r"(v));
    expect("sldt.r16", v, 0xffffffffffff0000UL | SEL_LDT);
    v = ~0UL;
    asm volatile("sldt %q0" : "+r"(v));
    expect("sldt.r64", v, SEL_LDT);
    u32 m = 0xaaaaaaaa;
    asm volatile("sldt %0" : "+m"(m));
    expect("sldt.m16", m, 0xaaaa0000 | SEL_LDT);

    /* Through the LDT: entry 1 is data, entry 2 readable code, past entry 3 the limit. */
    struct verdict data = { 1, 1, 1, 1 }, code = { 1, 1, 1, 0 };
    run_checks(0, 0x0c);
    report("ldt.sel0c", data, data, (u32)(ldt[1] >> 32), 0xfff);
    run_checks(1, 0x0c);
    report("ldt.compat.sel0c", data, data, (u32)(ldt[1] >> 32), 0xfff);
    run_checks(0, 0x14);
    report("ldt.sel14", code, code, (u32)(ldt[2] >> 32), 0xffffffff);
    rejected("ldt.sel24_past_limit", 0, 0x24);
    rejected("ldt.sel1f_zero_descriptor", 0, 0x1f);

    /* LSL accepts the LDT descriptor itself; LAR does not in IA-32e mode (the type table). */
    run_checks(0, SEL_LDT);
    expect("gdt.ldt_descriptor.lsl.zf", res[2], 1);
    expect("gdt.ldt_descriptor.lsl.limit", res[3], sizeof(ldt) - 1);

    try_lldt(0);
    expect_no_fault("lldt.null_again");
}

static void tr_checks(void)
{
    try_ltr(0);
    expect_fault_or_qemu_none("ltr.null", 13, 0);
    try_ltr(3);
    expect_fault_or_qemu_none("ltr.null_rpl3", 13, 0);
    try_ltr(SEL_DATA);
    expect_fault("ltr.data_descriptor", 13, SEL_DATA);
    try_ltr(SEL_LDT);
    expect_fault("ltr.ldt_descriptor", 13, SEL_LDT);
    try_ltr(SEL_TSS | 4);
    expect_fault("ltr.ti1", 13, SEL_TSS | 4);
    try_ltr(SEL_TSS_NP);
    expect_fault("ltr.not_present", 11, SEL_TSS_NP);
    gdt[SEL_TSS / 8 + 1] = 1UL << 40;   /* upper half: type field 1 */
    try_ltr(SEL_TSS);
    expect_fault("ltr.upper_type_nonzero", 13, SEL_TSS);
    gdt[SEL_TSS / 8 + 1] = 0;
    expect("ltr.not_present.type_after", (gdt[SEL_TSS_NP / 8] >> 40) & 0xf, 0x9);

    expect("ltr.type_before", (gdt[SEL_TSS / 8] >> 40) & 0xf, 0x9);
    try_ltr(SEL_TSS);
    expect_no_fault("ltr.tss");
    expect("ltr.type_after", (gdt[SEL_TSS / 8] >> 40) & 0xf, 0xb);
    expect("str.r32", str64(), SEL_TSS);
    u64 v = ~0UL;
    asm volatile("str %w0" : "+r"(v));
    expect("str.r16", v, 0xffffffffffff0000UL | SEL_TSS);
    u32 m = 0xaaaaaaaa;
    asm volatile("str %0" : "+m"(m));
    expect("str.m16", m, 0xaaaa0000 | SEL_TSS);

    try_ltr(SEL_TSS);
    expect_fault("ltr.busy", 13, SEL_TSS);

    /* LAR and LSL accept the busy 64-bit TSS. */
    run_checks(0, SEL_TSS);
    expect("gdt.busy_tss.lar.zf", res[0], 1);
    expect("gdt.busy_tss.lar.ar", res[1] & 0x00f0ff00, 0x8b00);
    expect("gdt.busy_tss.lsl.zf", res[2], 1);
    expect("gdt.busy_tss.lsl.limit", res[3], sizeof(tss) - 1);
}

/* ---------------------------------------------------------------- GDTR, IDTR, MSW */

struct __attribute__((packed)) table64 { u16 limit; u64 base; };

static void table_checks(void)
{
    struct table64 g = { 0, 0 }, i = { 0, 0 }, t;
    asm volatile("sgdt %0" : "=m"(g));
    asm volatile("sidt %0" : "=m"(i));
    expect("sgdt64.limit", g.limit, GDT_ENTRIES * 8 - 1);
    expect("sgdt64.base_is_gdt", g.base == (u64)(unsigned long)gdt, 1);
    expect("sidt64.limit", i.limit, 32 * 16 - 1);

    /* A smaller GDT limit takes effect at once: a selector past it is rejected. */
    t = g;
    t.limit = 0x27;
    asm volatile("lgdt %0" :: "m"(t) : "memory");
    struct table64 back;
    asm volatile("sgdt %0" : "=m"(back));
    run_checks(0, SEL_DATA3);
    asm volatile("lgdt %0" :: "m"(g) : "memory");
    expect("lgdt64.small.sgdt_limit", back.limit, 0x27);
    expect("lgdt64.small.lar_past_limit.zf", res[0], 0);
    run_checks(0, SEL_DATA3);
    expect("lgdt64.restored.lar.zf", res[0], 1);

    t = i;
    t.limit = 0xff;
    asm volatile("lidt %0" :: "m"(t) : "memory");
    asm volatile("sidt %0" : "=m"(back));
    asm volatile("lidt %0" :: "m"(i) : "memory");
    expect("lidt64.sidt_limit", back.limit, 0xff);

    /* The base is checked against the processor's maximum linear-address width, 57 bits
     * when CPUID enumerates 5-level paging, whatever CR4.LA57 (Intel's 5-level paging white
     * paper, canonicality checking): under 4-level paging here, a base that is 57-bit but
     * not 48-bit canonical loads, and SGDT/SIDT return it. */
    t = g;
    t.base = 0x0000800000000000UL;
    fault_reset();
    asm volatile("1: lgdt %1\n2:\n" EXTABLE(1b, 2b) "sgdt %0\n lgdt %2" : "=m"(back) : "m"(t), "m"(g) : "memory");
    expect_no_fault("lgdt64.canonical57");
    expect("lgdt64.canonical57.sgdt_base", back.base, 0x0000800000000000UL);
    t = i;
    t.base = 0xffff700000000000UL;
    fault_reset();
    asm volatile("1: lidt %1\n2:\n" EXTABLE(1b, 2b) "sidt %0\n lidt %2" : "=m"(back) : "m"(t), "m"(i) : "memory");
    expect_no_fault("lidt64.canonical57");
    expect("lidt64.canonical57.sidt_base", back.base, 0xffff700000000000UL);

    /* The same with a base far from both canonical ranges' edges, 0xffaaaaaaaaaaaaaa
     * (kvm-unit-tests' x86/la57.c): 57-bit canonical, so it loads and SGDT/SIDT return all
     * 64 bits.  Nothing is fetched through it: the real tables come back at once. */
    t = g;
    t.base = 0xffaaaaaaaaaaaaaaUL;
    fault_reset();
    asm volatile("1: lgdt %1\n2:\n" EXTABLE(1b, 2b) "sgdt %0\n lgdt %2" : "=m"(back) : "m"(t), "m"(g) : "memory");
    expect_no_fault("lgdt64.base_ffaa");
    expect("lgdt64.base_ffaa.sgdt_base", back.base, 0xffaaaaaaaaaaaaaaUL);
    t = i;
    t.base = 0xffaaaaaaaaaaaaaaUL;
    fault_reset();
    asm volatile("1: lidt %1\n2:\n" EXTABLE(1b, 2b) "sidt %0\n lidt %2" : "=m"(back) : "m"(t), "m"(i) : "memory");
    expect_no_fault("lidt64.base_ffaa");
    expect("lidt64.base_ffaa.sidt_base", back.base, 0xffaaaaaaaaaaaaaaUL);

    /* LLDT of a 16-byte LDT descriptor whose base is 0xffaaaaaaaaaaaaaa loads too (the base
     * is 57-bit canonical).  SLDT does not show the base; a descriptor fetch through it
     * does: under 4-level paging the address is not canonical, and the implicit access is
     * #GP(0) (SDM Vol. 1 §3.3.7.1), even for LAR, which never faults on the descriptor. */
    gdt[SEL_SCRATCH / 8] = system_descriptor_lo(0xaaaaaaaaUL, sizeof(ldt) - 1, 0x82);
    gdt[SEL_SCRATCH / 8 + 1] = 0xffaaaaaaUL;
    barrier();
    try_lldt(SEL_SCRATCH);
    expect_no_fault("lldt.base_ffaa");
    expect("lldt.base_ffaa.sldt", sldt64(), SEL_SCRATCH);
    u16 through_ldt = 0x0c;
    u64 v = 0;
    fault_reset();
    asm volatile("1: lar %w1, %k0\n2:\n" EXTABLE(1b, 2b) : "+r"(v) : "r"(through_ldt) : "cc", "memory");
    expect_fault("lldt.base_ffaa.lar_through_ldt", 13, 0);
    try_lldt(0);
    gdt[SEL_SCRATCH / 8 + 1] = 0;
    barrier();

    /* A base that is not 57-bit canonical: #GP(0), GDTR unchanged. */
    t = g;
    t.base = 0x0100000000000000UL;
    fault_reset();
    asm volatile("1: lgdt %0\n2:\n" EXTABLE(1b, 2b) "lgdt %1" :: "m"(t), "m"(g) : "memory");
    expect_fault_or_qemu_none("lgdt64.noncanonical", 13, 0);
    t = i;
    t.base = 0xfeff700000000000UL;
    fault_reset();
    asm volatile("1: lidt %0\n2:\n" EXTABLE(1b, 2b) "lidt %1" :: "m"(t), "m"(i) : "memory");
    expect_fault_or_qemu_none("lidt64.noncanonical", 13, 0);

    /* Compatibility mode: 6-byte stores; LGDT with a 16-bit operand loads base[23:0]. */
    u32 gbase = (u32)(unsigned long)gdt;
    if (gbase >> 24)
        test_error("the GDT must lie below 16 MiB for the 16-bit LGDT check");
    for (int k = 0; k < 10; k++)
        sg6[k] = si6[k] = sg16[k] = lg16[k] = 0xaa;
    orig_ptr.limit = g.limit;
    orig_ptr.base = gbase;
    high_ptr.limit = g.limit;
    high_ptr.base = 0xab000000 | gbase;
    call_compat(compat_tables, 0);
    expect("compat.sgdt.limit", *(volatile u16 *)&sg6[0], g.limit);
    expect("compat.sgdt.base_is_gdt", *(volatile u32 *)&sg6[2] == gbase, 1);
    expect("compat.sgdt.bytes_6_to_9", *(volatile u32 *)&sg6[6], 0xaaaaaaaa);
    expect("compat.sidt.limit", *(volatile u16 *)&si6[0], i.limit);
    expect("compat.sidt.base_is_idt", *(volatile u32 *)&si6[2] == (u32)i.base, 1);
    expect("compat.sidt.bytes_6_to_9", *(volatile u32 *)&si6[6], 0xaaaaaaaa);
    u32 b16 = *(volatile u32 *)&sg16[2];
    expect2("compat.sgdt16.base_bits_31_24", b16 >> 24, 0xab, 0);
    expect("compat.sgdt16.base_bits_23_0_are_gdt", (b16 & 0xffffff) == gbase, 1);
    u32 l16 = *(volatile u32 *)&lg16[2];
    expect("compat.lgdt16.base_bits_31_24", l16 >> 24, 0);
    expect("compat.lgdt16.base_bits_23_0_are_gdt", (l16 & 0xffffff) == gbase, 1);
    asm volatile("sgdt %0" : "=m"(back));
    expect("compat.gdtr_restored", back.base == (u64)(unsigned long)gdt && back.limit == g.limit, 1);
}

static void smsw_checks(void)
{
    u64 cr0 = read_cr0();
    u64 v = ~0UL;
    asm volatile("smsw %w0" : "+r"(v));
    expect("smsw.r16", v, 0xffffffffffff0000UL | (cr0 & 0xffff));
    v = 0;
    asm volatile("smsw %k0" : "+r"(v));
    expect("smsw.r32.low16", v & 0xffff, cr0 & 0xffff);
    u32 m = 0xaaaaaaaa;
    asm volatile("smsw %0" : "+m"(m));
    expect("smsw.m16", m, 0xaaaa0000 | (cr0 & 0xffff));
    printk("cr0.low16: 0x%lx\n", cr0 & 0xffff);
}

/* ---------------------------------------------------------------- CPL 3 */

void user_umip(void), user_checks(void);
static u8 user_page[4096] __attribute__((aligned(4096)));
static struct __attribute__((packed)) { u16 limit; u64 base; } boot_gdtr;

/* Ring 3 through the guest library with this guest's GDT, so the selectors printed
 * (user CS 0x83, the 0x70 data segment, ...) stay those of the tables above.
 * ring3_init() copies the GDT it finds, so it gets the boot GDT; it loads its own GDT and
 * TR (the library's TSS, whose RSP0 exec_user_frame() sets), the DPL 3 return gate and
 * U/S = 1.  Reloading GDTR leaves TR's cached base on the library's TSS (SDM Vol. 3A
 * §2.4.4: only LTR and task switches load TR), and exec_user_frame()'s SS and DS (0x2b)
 * need a DPL 3 data segment at 0x28, free once the type table is done. */
static void prepare_user(void)
{
    gdt_load((u64 *)(unsigned long)boot_gdtr.base, (boot_gdtr.limit + 1) / 8);
    ring3_init();
    gdt[SEL_USER_DATA / 8] = seg_descriptor(0, 0xfffff, 0xf3, 0xc);
    gdt_load(gdt, GDT_ENTRIES);
}

static void run_user(void (*fn)(void))
{
    exec_user_frame((u64)(unsigned long)fn, (u64)(unsigned long)user_page, SEL_UCODE | 3, RFLAGS_FIXED);
}

/* The five instructions at CPL 3, with CR4.UMIP as given: #GP(0) with UMIP = 1, completed
 * with UMIP = 0. */
static void umip_user(int umip)
{
    static const char *const names[6] = { "sgdt", "sidt", "sldt", "str", "smsw", "smsw_m16" };
    u64 cr4 = read_cr4();
    write_cr4(umip ? cr4 | CR4_UMIP : cr4 & ~CR4_UMIP);
    fault_reset();
    run_user(user_umip);
    write_cr4(cr4);
    char n[64];
    for (int k = 0; k < 6; k++) {
        snprintk(n, sizeof(n), "umip%d.cpl3.%s.completed", umip, names[k]);
        expect(n, user_page[k], !umip);
    }
    snprintk(n, sizeof(n), "umip%d.cpl3.faults", umip);
    expect(n, last_fault.count, umip ? 6 : 0);
    if (umip) {
        expect("umip1.cpl3.last.vector", last_fault.vector, 13);
        expect("umip1.cpl3.last.error_code", last_fault.error_code, 0);
        expect("umip1.cpl3.last.cs", last_fault.cs, SEL_UCODE | 3);
    }
}

/* LAR, LSL, VERR, VERW at CPL 3: a descriptor with DPL < CPL is invisible, except
 * conforming code to LAR, LSL and VERR. */
static void cpl3_checks(void)
{
    static const struct { u16 sel; const char *what; u8 lar, lsl, verr, verw; } c[] = {
        { 0x03, "null", 0, 0, 0, 0 },
        { SEL_DATA | 3, "data_dpl0", 0, 0, 0, 0 },
        { SEL_DATA3 | 3, "data_dpl3", 1, 1, 1, 1 },
        { SEL_CODE64 | 3, "code_dpl0", 0, 0, 0, 0 },
        { SEL_UCODE | 3, "code_dpl3", 1, 1, 1, 0 },
        { SEL_SCRATCH | 3, "conforming_code_dpl0", 1, 1, 1, 0 },
        { SEL_TSS | 3, "busy_tss_dpl0", 0, 0, 0, 0 },
    };
    gdt[SEL_SCRATCH / 8] = seg_descriptor(0, 0xfffff, 0x9e, 0xa);
    u16 *sels = (u16 *)&user_page[128];
    for (unsigned int k = 0; k < ARRAY_SIZE(c); k++)
        sels[k] = c[k].sel;
    sels[ARRAY_SIZE(c)] = 0xffff;
    run_user(user_checks);
    for (unsigned int k = 0; k < ARRAY_SIZE(c); k++) {
        static const char *const insn[4] = { "lar", "lsl", "verr", "verw" };
        const u8 want[4] = { c[k].lar, c[k].lsl, c[k].verr, c[k].verw };
        for (int j = 0; j < 4; j++) {
            char n[80];
            snprintk(n, sizeof(n), "cpl3.%s.sel%02x.%s.zf", c[k].what, c[k].sel, insn[j]);
            expect(n, user_page[256 + 4 * k + j], want[j]);
        }
    }
}

/* CR4.UMIP at CPL 0: the five instructions still work. */
static void umip_checks(void)
{
    int have = (cpuid(7, 0).ecx >> 2) & 1;
    expect("umip.cpuid", have, 1);
    if (!have)
        return;
    u64 cr4 = read_cr4();
    write_cr4(cr4 | CR4_UMIP);
    expect("umip.cr4_bit", (read_cr4() >> 11) & 1, 1);
    struct table64 t;
    u64 v;
    fault_reset();
    asm volatile("1: sgdt %0\n2:\n" EXTABLE(1b, 2b) : "=m"(t));
    expect_no_fault("umip.cpl0.sgdt");
    asm volatile("1: sidt %0\n2:\n" EXTABLE(1b, 2b) : "=m"(t));
    expect_no_fault("umip.cpl0.sidt");
    asm volatile("1: sldt %k0\n2:\n" EXTABLE(1b, 2b) : "=r"(v));
    expect_no_fault("umip.cpl0.sldt");
    asm volatile("1: str %k0\n2:\n" EXTABLE(1b, 2b) : "=r"(v));
    expect_no_fault("umip.cpl0.str");
    expect("umip.cpl0.str.value", v, SEL_TSS);
    asm volatile("1: smsw %k0\n2:\n" EXTABLE(1b, 2b) : "=r"(v));
    expect_no_fault("umip.cpl0.smsw");
    write_cr4(cr4);
    expect("umip.cr4_bit_cleared", (read_cr4() >> 11) & 1, 0);

    prepare_user();
    umip_user(1);
    umip_user(0);
    cpl3_checks();
}

void test_main(void)
{
    amd = cpuid(0, 0).ebx == 0x68747541;   /* "Auth" */
    printk("cpuid.vendor_amd: %d\n", amd);
    asm volatile("sgdt %0" : "=m"(boot_gdtr));
    install_gdt();

    rejected("64.null.sel0", 0, 0);
    rejected("64.null.sel3", 0, 3);
    rejected("64.past_gdt_limit", 0, SEL_PAST);
    rejected("64.zero_descriptor.sel78", 0, SEL_ZERO);
    rejected("compat.null.sel0", 1, 0);
    rejected("compat.past_gdt_limit", 1, SEL_PAST);
    type_table(0);
    type_table(1);
    operand_sizes();
    ldt_checks();
    tr_checks();
    table_checks();
    smsw_checks();
    umip_checks();
}
