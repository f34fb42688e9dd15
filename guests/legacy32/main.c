/*
 * legacy32: instructions that exist only outside 64-bit mode, executed in
 * compatibility mode (a 32-bit code segment under IA-32e paging).
 *
 * What the architecture requires (Intel SDM Vol. 2, each instruction's
 * "Operation" and "Flags Affected"; Vol. 3A §5.2.1 code-segment descriptors with
 * L = 0, D = 1 select compatibility mode):
 *   - DAA/DAS adjust AL after BCD addition/subtraction in two steps: +/-6 when
 *     the low nibble is above 9 or AF = 1 (CF also takes the carry/borrow of
 *     that step), +/-60h when the original AL was above 99h or CF was 1.
 *     SF, ZF, PF follow the result; OF is undefined.
 *   - AAA: if (AL & 0Fh) > 9 or AF = 1 then AX = AX + 106h and AF = CF = 1,
 *     else AF = CF = 0; then AL &= 0Fh.  AAS: AX = AX - 6, AH = AH - 1 and
 *     AF = CF = 1 under the same condition.  OF, SF, ZF, PF are undefined.
 *   - AAM imm8: AH = AL / imm8, AL = AL mod imm8; AAD imm8: AL = (AL + AH *
 *     imm8) & FFh, AH = 0.  SF, ZF, PF follow AL; OF, AF, CF are undefined.
 *   - 40+r / 48+r are INC/DEC r32 (they are REX prefixes in 64-bit mode):
 *     CF is preserved, the other flags follow the result.
 *   - A far CALL through an m16:32 pointer to a code segment with L = 0 enters
 *     compatibility mode; a 32-bit far RET to a code segment with L = 1 returns
 *     to 64-bit mode (Vol. 2 CALL, RET "Operation", IA-32e mode).
 * Each case prints the input and every defined result; undefined flags are
 * masked out.  A C model of the SDM pseudocode checks the results.
 */
#include "ringside.h"

struct regs32 { u32 eax; u32 eflags; };

void run_daa(void), run_das(void), run_aaa(void), run_aas(void);
void run_aam10(void), run_aam16(void), run_aad10(void), run_aad7(void);
void run_inc(void), run_dec(void), run_arpl(void);
void run_pusha(void), run_bound(void), run_les_lds(void), run_stack32(void);
extern char bound_fault_insn[], stack32_ret[];

/* Shared with legacy32.S (absolute 32-bit addresses). */
u32 pusha_in[8], pusha_out[8], pusha_esp_after_push;
static u32 pusha_stack[64] __attribute__((aligned(16)));
u32 bound_index, bound_faulted;
s32 bound_pair[2];
struct __attribute__((packed)) { u32 offset; u16 selector; } far_ptr;
u32 les_offset, les_selector, lds_offset, lds_selector;
u32 stack32_esp, stack32_pushed_ret, stack32_pushed_imm, stack32_depth;

#define N_BCD 1024
static struct regs32 in[N_BCD], out[N_BCD];

#define CF 0x001
#define PF 0x004
#define AF 0x010
#define ZF 0x040
#define SF 0x080
#define OF 0x800

/* Far call into compatibility mode: lcall through an m16:32 pointer. */
static void call32(void (*fn)(void), struct regs32 *cases, struct regs32 *results, u32 n)
{
    struct __attribute__((packed)) { u32 offset; u16 selector; } target = {
        (u32)(unsigned long)fn, SEL_CODE32,
    };
    u64 si = (u64)(unsigned long)cases, di = (u64)(unsigned long)results, cx = n;
    asm volatile("lcall *%[t]"
                 : "+S"(si), "+D"(di), "+c"(cx)
                 : [t] "m"(target)
                 : "rax", "rdx", "memory", "cc");
}

static u32 parity(u32 v)
{
    v &= 0xff;
    v ^= v >> 4; v ^= v >> 2; v ^= v >> 1;
    return (v & 1) ? 0 : PF;
}

static u32 szp(u32 al)
{
    return (al & 0xff ? 0 : ZF) | (al & 0x80 ? SF : 0) | parity(al);
}

static void flagstr(char *buf, u32 f, u32 mask)
{
    static const struct { u32 bit; const char *name; } names[] = {
        { CF, "cf" }, { PF, "pf" }, { AF, "af" }, { ZF, "zf" }, { SF, "sf" }, { OF, "of" },
    };
    char *p = buf;
    for (unsigned int i = 0; i < ARRAY_SIZE(names); i++) {
        if (!(mask & names[i].bit))
            continue;
        p += snprintk(p, 8, " %s=%u", names[i].name, (f & names[i].bit) ? 1 : 0);
    }
    *p = 0;
}

enum op { DAA, DAS, AAA, AAS, AAM10, AAM16, AAD10, AAD7, INC, DEC, ARPL };
static const char *const op_names[] = {
    "daa", "das", "aaa", "aas", "aam10", "aam16", "aad10", "aad7", "inc", "dec", "arpl",
};

/* The SDM's pseudocode, for the check. Returns EAX; *flags gets the defined flags. */
static u32 model(enum op op, u32 eax, u32 fl, u32 *flags)
{
    u32 al = eax & 0xff, ax = eax & 0xffff, cf = fl & CF, af = fl & AF;
    if (op == DAA || op == DAS) {
        int sub = op == DAS;
        u32 a = al, ncf = 0, naf = 0;
        if ((a & 0xf) > 9 || af) {
            int r = sub ? (int)a - 6 : (int)a + 6;
            ncf = cf || r < 0 || r > 0xff;
            a = (u32)r & 0xff;
            naf = 1;
        }
        if (al > 0x99 || cf) {
            a = (sub ? a - 0x60 : a + 0x60) & 0xff;
            ncf = 1;
        } else if (!sub) {
            ncf = 0;
        }
        *flags = (ncf ? CF : 0) | (naf ? AF : 0) | szp(a);
        return (eax & ~0xffu) | a;
    }
    if (op == AAA || op == AAS) {
        int adjust = (al & 0xf) > 9 || af;
        if (adjust)
            ax = op == AAA ? ax + 0x106 : ax - 6 - 0x100;
        ax &= 0xff0f;
        *flags = adjust ? CF | AF : 0;
        return (eax & ~0xffffu) | (ax & 0xffff);
    }
    if (op == AAM10 || op == AAM16) {
        u32 base = op == AAM10 ? 10 : 16;
        u32 r = al % base;
        *flags = szp(r);
        return (eax & ~0xffffu) | ((al / base) << 8) | r;
    }
    if (op == AAD10 || op == AAD7) {
        u32 base = op == AAD7 ? 7 : 10;
        u32 r = (al + ((ax >> 8) & 0xff) * base) & 0xff;
        *flags = szp(r);
        return (eax & ~0xffffu) | r;
    }
    if (op == ARPL) {
        u32 dst = eax & 0xffff, src = (eax >> 16) & 0xffff;
        if ((dst & 3) < (src & 3)) {
            *flags = ZF;
            return (eax & ~0xffffu) | (dst & ~3u) | (src & 3);
        }
        *flags = 0;
        return eax;
    }
    /* inc, dec */
    {
        int dec = op == DEC;
        u32 r = dec ? eax - 1 : eax + 1;
        u32 of = dec ? eax == 0x80000000u : eax == 0x7fffffffu;
        u32 naf = ((eax ^ r) & 0x10) ? AF : 0;
        *flags = cf | naf | (of ? OF : 0) | (r ? 0 : ZF) | (r & 0x80000000u ? SF : 0) | parity(r);
        return r;
    }
}

static unsigned int checked, mismatches;

static void run(enum op op, void (*fn)(void), u32 n, u32 defined)
{
    call32(fn, in, out, n);
    for (u32 i = 0; i < n; i++) {
        char fin[64], fout[64];
        u32 want_flags, want = model(op, in[i].eax, in[i].eflags, &want_flags);
        u32 got = out[i].eax, got_flags = out[i].eflags & defined;
        flagstr(fin, in[i].eflags, CF | AF);
        flagstr(fout, got_flags, defined);
        printk("%s.eax=%08x%s: eax=0x%08x%s\n", op_names[op], in[i].eax, fin, got, fout);
        checked++;
        if ((got != want || got_flags != want_flags) && mismatches++ == 0)
            test_fail("%s eax=%08x%s: got eax=0x%08x%s, expected 0x%08x", op_names[op], in[i].eax, fin, got, fout, want);
    }
}

static void expect(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    checked++;
    if (got != want && mismatches++ == 0)
        test_fail("%s: got 0x%lx, expected 0x%lx", name, got, want);
}

/* PUSHA pushes EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI (that order, so
 * EDI is at the lowest address); POPA pops them back but discards the ESP slot. */
static void check_pusha(void)
{
    static const char *const names[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
    u32 top = (u32)(unsigned long)&pusha_stack[64];
    for (u32 r = 0; r < 8; r++)
        pusha_in[r] = r == 4 ? top : 0x01010101u * (r + 1);
    call32(run_pusha, 0, 0, 0);
    char name[32];
    expect("pusha.esp_after_push", pusha_esp_after_push, top - 32);
    for (u32 r = 0; r < 8; r++) {
        snprintk(name, sizeof(name), "pusha.slot.%s", names[r]);
        u32 want = r == 0 ? 0x11111111u : r == 4 ? 0xdeadbeefu : pusha_in[r];
        expect(name, pusha_stack[64 - 1 - r], want); /* the two rewritten slots show the rewrite */
    }
    for (u32 r = 0; r < 8; r++) {
        snprintk(name, sizeof(name), "popa.%s", names[r]);
        u32 want = r == 0 ? 0x11111111u : pusha_in[r];
        expect(name, pusha_out[r], want);
    }
}

/* BOUND raises #BR (vector 5, a fault: RIP at the BOUND) when the signed index is
 * below the lower or above the upper bound. */
static void check_bound(void)
{
    static const struct { s32 index, lower, upper; } cases[] = {
        { 5, 0, 10 }, { 0, 0, 10 }, { 10, 0, 10 }, { -1, 0, 10 }, { 11, 0, 10 },
        { -5, -10, -1 }, { 0, -10, -1 }, { (s32)0x80000000, (s32)0x80000000, 0 },
    };
    char name[48];
    for (u32 i = 0; i < ARRAY_SIZE(cases); i++) {
        bound_index = (u32)cases[i].index;
        bound_pair[0] = cases[i].lower;
        bound_pair[1] = cases[i].upper;
        fault_reset();
        call32(run_bound, 0, 0, 0);
        int want = cases[i].index < cases[i].lower || cases[i].index > cases[i].upper;
        snprintk(name, sizeof(name), "bound.%d.%d.%d.faulted", cases[i].index, cases[i].lower, cases[i].upper);
        expect(name, bound_faulted, want);
        if (want) {
            snprintk(name, sizeof(name), "bound.%d.%d.%d", cases[i].index, cases[i].lower, cases[i].upper);
            print_fault(name, (u64)(unsigned long)bound_fault_insn);
            expect("bound.vector", last_fault.vector, 5);
            expect("bound.rip_is_bound", last_fault.rip, (u64)(unsigned long)bound_fault_insn);
            expect("bound.cs", last_fault.cs, SEL_CODE32);
        }
    }
}

/* LES/LDS load the offset into the register and the selector into ES/DS. */
static void check_les_lds(void)
{
    far_ptr.offset = 0xcafef00d;
    far_ptr.selector = SEL_DATA;
    call32(run_les_lds, 0, 0, 0);
    expect("les.offset", les_offset, 0xcafef00d);
    expect("les.es", les_selector & 0xffff, SEL_DATA);
    expect("lds.offset", lds_offset, 0xcafef00d);
    expect("lds.ds", lds_selector & 0xffff, SEL_DATA);
}

/* In compatibility mode with a 32-bit stack, PUSH imm32 and CALL push 4 bytes each. */
static void check_stack32(void)
{
    call32(run_stack32, 0, 0, 0);
    expect("stack32.depth", stack32_depth, 8);
    expect("stack32.pushed_imm", stack32_pushed_imm, 0x12345678);
    expect("stack32.pushed_ret_is_label", stack32_pushed_ret, (u32)(unsigned long)stack32_ret);
}

void test_main(void)
{
    /* BCD cases: every AL with AF and CF in all four combinations, AH = 0x12. */
    for (u32 i = 0; i < N_BCD; i++) {
        in[i].eax = 0xabcd1200u | (i & 0xff);
        in[i].eflags = 0x2 | ((i >> 8) & 1 ? CF : 0) | ((i >> 9) & 1 ? AF : 0);
    }
    run(DAA, run_daa, N_BCD, CF | AF | SF | ZF | PF);
    run(DAS, run_das, N_BCD, CF | AF | SF | ZF | PF);
    run(AAA, run_aaa, N_BCD, CF | AF);
    run(AAS, run_aas, N_BCD, CF | AF);
    /* AAM/AAD: every AL, AH varying with it. */
    for (u32 i = 0; i < 256; i++) {
        in[i].eax = 0x55aa0000u | (((i * 37) & 0xff) << 8) | i;
        in[i].eflags = 0x2 | (i & 1 ? CF : 0);
    }
    run(AAM10, run_aam10, 256, SF | ZF | PF);
    run(AAM16, run_aam16, 256, SF | ZF | PF);
    run(AAD10, run_aad10, 256, SF | ZF | PF);
    run(AAD7, run_aad7, 256, SF | ZF | PF);
    /* INC/DEC r32 boundaries, CF in and out. */
    static const u32 edge[] = { 0, 1, 0xf, 0x10, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000u, 0xfffffffe, 0xffffffff };
    for (u32 i = 0; i < 2 * ARRAY_SIZE(edge); i++) {
        in[i].eax = edge[i / 2];
        in[i].eflags = 0x2 | (i & 1 ? CF : 0);
    }
    run(INC, run_inc, 2 * ARRAY_SIZE(edge), CF | PF | AF | ZF | SF | OF);
    run(DEC, run_dec, 2 * ARRAY_SIZE(edge), CF | PF | AF | ZF | SF | OF);

    /* ARPL: every pair of RPLs (ZF = 1 and RPL raised when dest.RPL < src.RPL). */
    for (u32 i = 0; i < 16; i++) {
        in[i].eax = ((0x0040u | (i & 3)) << 16) | 0x1230u | (i >> 2);
        in[i].eflags = 0x2;
    }
    run(ARPL, run_arpl, 16, ZF);

    check_pusha();
    check_bound();
    check_les_lds();
    check_stack32();

    printk("checked: %u\n", checked);
    printk("mismatches: %u\n", mismatches);
}
