/*
 * alu-flags: results and arithmetic flags of the integer instructions.
 *
 * What the architecture requires (Intel SDM Vol. 1 §3.4.3.1 "Status Flags",
 * Vol. 1 Appendix A "EFLAGS Cross-Reference", and each instruction's
 * "Flags Affected" section in Vol. 2):
 *
 * - ADD/ADC/SUB/SBB/CMP/NEG/INC/DEC set OF, SF, ZF, AF, PF (and CF, except
 *   INC/DEC, which leave CF unchanged) from the result.  CMP and TEST do not
 *   write their destination.
 * - AND/OR/XOR/TEST clear OF and CF, set SF/ZF/PF, and leave AF undefined.
 *   NOT affects no flag.
 * - SHL/SHR/SAR (Vol. 2B "SAL/SAR/SHL/SHR"): the count is masked to 5 bits
 *   (6 with REX.W).  A masked count of 0 affects no flag.  CF is the last bit
 *   shifted out, undefined for SHL/SHR when the count is >= the operand size.
 *   OF is defined only for a count of 1; AF is undefined for a non-zero count.
 * - ROL/ROR (Vol. 2B "RCL/RCR/ROL/ROR"): only CF and OF are affected; CF is
 *   affected whenever the masked count is non-zero (even when count mod size
 *   is 0, e.g. an 8-bit rotate by 8), OF only for a masked count of 1.
 * - MUL/IMUL define only CF and OF (set when the upper half of the product is
 *   significant); SF, ZF, AF, PF are undefined.  DIV/IDIV leave all six flags
 *   undefined and raise #DE (vector 0, a fault: RIP = the DIV) for a zero
 *   divisor or a quotient too large for the destination.
 * - BSWAP, MOVZX, MOVSX/MOVSXD, SETcc and CMOVcc affect no flag.  SETcc writes
 *   one byte.  CMOVcc with a 32-bit operand in 64-bit mode zeroes bits 63:32
 *   of the destination even when the condition is false (Vol. 2A "CMOVcc",
 *   Operation).
 * - Register writes (Vol. 1 §3.4.1.1 "General-Purpose Registers in 64-Bit
 *   Mode"): 8- and 16-bit results leave bits 63:8 / 63:16 unchanged; 32-bit
 *   results are zero-extended to 64 bits.
 *
 * Every value this test observes is printed as a `name: value` line; flags
 *   the SDM leaves undefined are printed as '-' and never compared.  The
 *   expected values come from the independent C reference model below.
 *   Flags are printed in the order C P A Z S O: upper case set, lower case
 *   clear.
 */
#include "ringside.h"

#define CF 0x001UL
#define PF 0x004UL
#define AF 0x010UL
#define ZF 0x040UL
#define SF 0x080UL
#define OF 0x800UL
#define ARITH (CF | PF | AF | ZF | SF | OF)

/* Garbage placed above the operand in the destination register. */
#define UPPER 0xfedcba9876543210UL

struct res { u64 val; u64 flags; };

/* ------------------------------------------------------------------ *
 * Instruction stubs: load RFLAGS from fin, run one instruction,       *
 * capture the register and RFLAGS.                                    *
 * ------------------------------------------------------------------ */
#define FL_IN  "push %[fin]\n\tpopfq\n\t"
#define FL_OUT "\n\tpushfq\n\tpop %[fl]"

#define BIN(op, n, m)                                                        \
    static struct res x_##op##n(u64 a, u64 b, u64 fin)                       \
    {                                                                        \
        u64 fl;                                                              \
        asm volatile(FL_IN #op " %" #m "[b], %" #m "[a]" FL_OUT              \
                     : [a] "+r"(a), [fl] "=&r"(fl)                           \
                     : [b] "r"(b), [fin] "r"(fin) : "cc");                   \
        return (struct res){ a, fl };                                        \
    }
#define BIN4(op) BIN(op, 8, b) BIN(op, 16, w) BIN(op, 32, k) BIN(op, 64, q)
BIN4(add) BIN4(adc) BIN4(sub) BIN4(sbb) BIN4(and) BIN4(or) BIN4(xor) BIN4(cmp) BIN4(test)

#define UN(op, n, m)                                                         \
    static struct res x_##op##n(u64 a, u64 b, u64 fin)                       \
    {                                                                        \
        u64 fl;                                                              \
        (void)b;                                                             \
        asm volatile(FL_IN #op " %" #m "[a]" FL_OUT                          \
                     : [a] "+r"(a), [fl] "=&r"(fl) : [fin] "r"(fin) : "cc"); \
        return (struct res){ a, fl };                                        \
    }
#define UN4(op) UN(op, 8, b) UN(op, 16, w) UN(op, 32, k) UN(op, 64, q)
UN4(inc) UN4(dec) UN4(neg) UN4(not)
/* Shifts and rotates by 1 (opcode D0/D1: no count operand). */
UN4(shl) UN4(shr) UN4(sar) UN4(rol) UN4(ror)

#define SHCL(op, n, m)                                                       \
    static struct res x_##op##cl##n(u64 a, u64 c, u64 fin)                   \
    {                                                                        \
        u64 fl;                                                              \
        asm volatile(FL_IN #op " %%cl, %" #m "[a]" FL_OUT                    \
                     : [a] "+r"(a), [fl] "=&r"(fl)                           \
                     : "c"(c), [fin] "r"(fin) : "cc");                       \
        return (struct res){ a, fl };                                        \
    }
#define SHCL4(op) SHCL(op, 8, b) SHCL(op, 16, w) SHCL(op, 32, k) SHCL(op, 64, q)
SHCL4(shl) SHCL4(shr) SHCL4(sar) SHCL4(rol) SHCL4(ror)

/* By immediate 3 (opcode C0/C1). */
#define SHI(op, n, m)                                                        \
    static struct res x_##op##i##n(u64 a, u64 b, u64 fin)                    \
    {                                                                        \
        u64 fl;                                                              \
        (void)b;                                                             \
        asm volatile(FL_IN #op " $3, %" #m "[a]" FL_OUT                      \
                     : [a] "+r"(a), [fl] "=&r"(fl) : [fin] "r"(fin) : "cc"); \
        return (struct res){ a, fl };                                        \
    }
#define SHI4(op) SHI(op, 8, b) SHI(op, 16, w) SHI(op, 32, k) SHI(op, 64, q)
SHI4(shl) SHI4(shr) SHI4(sar) SHI4(rol) SHI4(ror)

typedef struct res (*exec_fn)(u64, u64, u64);

/* ------------------------------------------------------------------ *
 * Reference model.                                                    *
 * ------------------------------------------------------------------ */
static u64 mask_of(int n) { return n == 64 ? ~0UL : (1UL << n) - 1; }
static u64 sign_of(int n) { return 1UL << (n - 1); }

static u64 parity_flag(u64 r)
{
    unsigned int ones = 0;
    for (int i = 0; i < 8; i++)
        ones += (r >> i) & 1;
    return ones % 2 == 0 ? PF : 0;
}

/* ZF, SF, PF of an n-bit result. */
static u64 szp(u64 r, int n)
{
    r &= mask_of(n);
    return (r == 0 ? ZF : 0) | (r & sign_of(n) ? SF : 0) | parity_flag(r);
}

/* The register after writing an n-bit result r into old. */
static u64 merge(u64 old, u64 r, int n)
{
    if (n == 64)
        return r;
    if (n == 32)
        return r & 0xffffffffUL;
    return (old & ~mask_of(n)) | (r & mask_of(n));
}

static s64 sext(u64 v, int n)
{
    return n == 64 ? (s64)v : (s64)(v << (64 - n)) >> (64 - n);
}

struct ref { u64 val; u64 flags; u64 defined; };

enum kind {
    K_ADD, K_ADC, K_SUB, K_SBB, K_AND, K_OR, K_XOR, K_CMP, K_TEST,
    K_INC, K_DEC, K_NEG, K_NOT,
    K_SHL, K_SHR, K_SAR, K_ROL, K_ROR,
};

static struct ref ref_add(u64 a, u64 b, u64 cin, int n)
{
    u64 M = mask_of(n), S = sign_of(n);
    a &= M;
    b &= M;
    u64 r = (a + b + cin) & M;
    bool carry = n == 64 ? (r < a || (cin && r == a)) : (a + b + cin) > M;
    u64 f = szp(r, n) | (carry ? CF : 0) | ((a ^ b ^ r) & 0x10 ? AF : 0) |
            ((a ^ r) & (b ^ r) & S ? OF : 0);
    return (struct ref){ r, f, ARITH };
}

static struct ref ref_sub(u64 a, u64 b, u64 bin, int n)
{
    u64 M = mask_of(n), S = sign_of(n);
    a &= M;
    b &= M;
    u64 r = (a - b - bin) & M;
    bool borrow = a < b || (bin && a == b);
    u64 f = szp(r, n) | (borrow ? CF : 0) | ((a ^ b ^ r) & 0x10 ? AF : 0) |
            ((a ^ b) & (a ^ r) & S ? OF : 0);
    return (struct ref){ r, f, ARITH };
}

static struct ref ref_logic(u64 r, int n)
{
    r &= mask_of(n);
    return (struct ref){ r, szp(r, n), ARITH & ~AF };
}

static struct ref ref_shift(enum kind k, u64 a, u64 craw, u64 fin, int n)
{
    u64 M = mask_of(n);
    u64 c = craw & (n == 64 ? 63 : 31);
    u64 am = a & M;
    struct ref x = { am, fin & ARITH, ARITH };

    if (c == 0)
        return x;

    switch (k) {
    case K_SHL: {
        u64 r = c >= (u64)n ? 0 : (am << c) & M;
        u64 cf = c < (u64)n ? (am >> (n - c)) & 1 : 0;
        x.val = r;
        x.flags = szp(r, n) | (cf ? CF : 0);
        x.defined = ARITH & ~AF;
        if (c >= (u64)n)
            x.defined &= ~CF;
        if (c == 1)
            x.flags |= (((r >> (n - 1)) & 1) ^ cf) ? OF : 0;
        else
            x.defined &= ~OF;
        return x;
    }
    case K_SHR: {
        u64 r = c >= (u64)n ? 0 : am >> c;
        u64 cf = c < (u64)n ? (am >> (c - 1)) & 1 : 0;
        x.val = r;
        x.flags = szp(r, n) | (cf ? CF : 0);
        x.defined = ARITH & ~AF;
        if (c >= (u64)n)
            x.defined &= ~CF;
        if (c == 1)
            x.flags |= (am >> (n - 1)) & 1 ? OF : 0;
        else
            x.defined &= ~OF;
        return x;
    }
    case K_SAR: {
        s64 sa = sext(am, n);
        u64 r = (u64)(sa >> (c >= (u64)n ? 63 : c)) & M;
        u64 cf = (u64)(sa >> (c - 1 > 63 ? 63 : c - 1)) & 1;
        x.val = r;
        x.flags = szp(r, n) | (cf ? CF : 0);       /* OF = 0 for a count of 1 */
        x.defined = ARITH & ~AF;
        if (c != 1)
            x.defined &= ~OF;
        return x;
    }
    case K_ROL:
    case K_ROR: {
        u64 t = c % (u64)n, r = am;
        if (t && k == K_ROL)
            r = ((am << t) | (am >> (n - t))) & M;
        else if (t)
            r = ((am >> t) | (am << (n - t))) & M;
        u64 cf = k == K_ROL ? r & 1 : (r >> (n - 1)) & 1;
        x.val = r;
        x.flags = (fin & (ARITH & ~(CF | OF))) | (cf ? CF : 0);
        if (c == 1) {
            u64 of = k == K_ROL ? ((r >> (n - 1)) & 1) ^ cf
                                : ((r >> (n - 1)) ^ (r >> (n - 2))) & 1;
            x.flags |= of ? OF : 0;
        } else {
            x.defined &= ~OF;
        }
        return x;
    }
    default:
        return x;
    }
}

/* Reference for every kind: the register value afterwards (full 64 bits). */
static struct ref reference(enum kind k, int n, u64 a, u64 b, u64 fin)
{
    u64 cf = fin & CF ? 1 : 0;
    struct ref x;

    switch (k) {
    case K_ADD:  x = ref_add(a, b, 0, n); break;
    case K_ADC:  x = ref_add(a, b, cf, n); break;
    case K_SUB:  x = ref_sub(a, b, 0, n); break;
    case K_SBB:  x = ref_sub(a, b, cf, n); break;
    case K_CMP:  x = ref_sub(a, b, 0, n); x.val = a; return x;
    case K_AND:  x = ref_logic(a & b, n); break;
    case K_OR:   x = ref_logic(a | b, n); break;
    case K_XOR:  x = ref_logic(a ^ b, n); break;
    case K_TEST: x = ref_logic(a & b, n); x.val = a; return x;
    case K_INC:
        x = ref_add(a, 1, 0, n);
        x.flags = (x.flags & ~CF) | (fin & CF);
        break;
    case K_DEC:
        x = ref_sub(a, 1, 0, n);
        x.flags = (x.flags & ~CF) | (fin & CF);
        break;
    case K_NEG:
        x = ref_sub(0, a, 0, n);
        break;
    case K_NOT:
        x = (struct ref){ ~a & mask_of(n), fin & ARITH, ARITH };
        break;
    default:
        x = ref_shift(k, a, b, fin, n);
        if ((b & (n == 64 ? 63 : 31)) == 0 && n == 32) {
            /* Count 0: callers pass a zero upper half (see run_shifts). */
            x.val = a;
            return x;
        }
        break;
    }
    x.val = merge(a, x.val, n);
    return x;
}

/* ------------------------------------------------------------------ *
 * Printing and checking.                                              *
 * ------------------------------------------------------------------ */
static unsigned int nr_checked, nr_bad;

static void flags_text(char out[7], u64 fl, u64 defined)
{
    static const u64 bit[6] = { CF, PF, AF, ZF, SF, OF };
    static const char up[] = "CPAZSO", lo[] = "cpazso";
    for (int i = 0; i < 6; i++)
        out[i] = !(defined & bit[i]) ? '-' : (fl & bit[i]) ? up[i] : lo[i];
    out[6] = '\0';
}

static void report(const char *name, u64 val, u64 fl, u64 exp_val, u64 exp_fl,
                   u64 defined)
{
    char got[7], want[7];

    flags_text(got, fl, defined);
    flags_text(want, exp_fl, defined);
    printk("%s: result=0x%016lx flags=%s\n", name, val, got);
    nr_checked++;
    if (val != exp_val || ((fl ^ exp_fl) & defined)) {
        nr_bad++;
        test_fail("%s: got 0x%lx %s, expected 0x%lx %s", name, val, got, exp_val, want);
    }
}

static const u64 fin_values[2] = { 0x0, ARITH };

static u64 boundary(int i, int n)
{
    u64 M = mask_of(n), S = sign_of(n);
    switch (i) {
    case 0:  return 0;
    case 1:  return 1;
    case 2:  return S - 1;      /* 0x7f.. */
    case 3:  return S;          /* 0x80.. */
    case 4:  return M;          /* 0xff.. */
    default: return 0x5aa5c33c0ff0e11eUL & M;
    }
}

static u64 with_upper(u64 v, int n)
{
    return n == 64 ? v : (UPPER & ~mask_of(n)) | (v & mask_of(n));
}

struct op { const char *name; enum kind kind; exec_fn fn[4]; };

#define OP4(nm, k, p) { nm, k, { x_##p##8, x_##p##16, x_##p##32, x_##p##64 } }

static const struct op binops[] = {
    OP4("add", K_ADD, add), OP4("adc", K_ADC, adc), OP4("sub", K_SUB, sub),
    OP4("sbb", K_SBB, sbb), OP4("and", K_AND, and), OP4("or", K_OR, or),
    OP4("xor", K_XOR, xor), OP4("cmp", K_CMP, cmp), OP4("test", K_TEST, test),
};
static const struct op unops[] = {
    OP4("inc", K_INC, inc), OP4("dec", K_DEC, dec),
    OP4("neg", K_NEG, neg), OP4("not", K_NOT, not),
};
static const struct op shift1[] = {
    OP4("shl1", K_SHL, shl), OP4("shr1", K_SHR, shr), OP4("sar1", K_SAR, sar),
    OP4("rol1", K_ROL, rol), OP4("ror1", K_ROR, ror),
};
static const struct op shiftcl[] = {
    OP4("shlcl", K_SHL, shlcl), OP4("shrcl", K_SHR, shrcl), OP4("sarcl", K_SAR, sarcl),
    OP4("rolcl", K_ROL, rolcl), OP4("rorcl", K_ROR, rorcl),
};
static const struct op shifti[] = {
    OP4("shli3", K_SHL, shli), OP4("shri3", K_SHR, shri), OP4("sari3", K_SAR, sari),
    OP4("roli3", K_ROL, roli), OP4("rori3", K_ROR, rori),
};

static const int sizes[4] = { 8, 16, 32, 64 };

static void run_binops(void)
{
    char name[96];
    unsigned int seq = 0;

    for (unsigned int o = 0; o < ARRAY_SIZE(binops); o++) {
        const struct op *op = &binops[o];
        bool carry_in = op->kind == K_ADC || op->kind == K_SBB;
        for (int s = 0; s < 4; s++) {
            int n = sizes[s];
            for (int i = 0; i < 5; i++) {
                for (int j = 0; j < 5; j++) {
                    for (int f = 0; f < 2; f++) {
                        u64 fin = carry_in ? fin_values[f] : fin_values[seq++ & 1];
                        u64 a = with_upper(boundary(i, n), n);
                        u64 b = with_upper(boundary(j, n), n) ^ 0x0101010101010100UL;
                        b = (b & ~mask_of(n)) | boundary(j, n);
                        struct res r = op->fn[s](a, b, fin | 2);
                        struct ref x = reference(op->kind, n, a, b, fin);
                        snprintk(name, sizeof(name), "%s%d a=0x%lx b=0x%lx fin=0x%lx",
                                 op->name, n, boundary(i, n), boundary(j, n), fin);
                        report(name, r.val, r.flags, x.val, x.flags, x.defined);
                        if (!carry_in)
                            break;
                    }
                }
            }
        }
    }
}

static void run_unops(void)
{
    char name[96];

    for (unsigned int o = 0; o < ARRAY_SIZE(unops); o++) {
        const struct op *op = &unops[o];
        for (int s = 0; s < 4; s++) {
            int n = sizes[s];
            for (int i = 0; i < 6; i++) {
                for (int f = 0; f < 2; f++) {
                    u64 fin = fin_values[f];
                    u64 a = with_upper(boundary(i, n), n);
                    struct res r = op->fn[s](a, 0, fin | 2);
                    struct ref x = reference(op->kind, n, a, 0, fin);
                    snprintk(name, sizeof(name), "%s%d a=0x%lx fin=0x%lx", op->name, n,
                             boundary(i, n), fin);
                    report(name, r.val, r.flags, x.val, x.flags, x.defined);
                }
            }
        }
    }
}

static void run_shifts(void)
{
    static const u64 counts[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 255 };
    static const int values[] = { 1, 2, 3, 4, 5 };
    char name[96];
    unsigned int seq = 0;

    for (unsigned int o = 0; o < ARRAY_SIZE(shift1); o++) {
        for (int s = 0; s < 4; s++) {
            int n = sizes[s];
            for (unsigned int vi = 0; vi < ARRAY_SIZE(values); vi++) {
                u64 v = boundary(values[vi], n);
                u64 a = with_upper(v, n);

                /* by 1 */
                u64 fin = fin_values[seq++ & 1];
                struct res r = shift1[o].fn[s](a, 0, fin | 2);
                struct ref x = reference(shift1[o].kind, n, a, 1, fin);
                snprintk(name, sizeof(name), "%s%d a=0x%lx fin=0x%lx", shift1[o].name, n, v, fin);
                report(name, r.val, r.flags, x.val, x.flags, x.defined);

                /* by immediate 3 */
                fin = fin_values[seq++ & 1];
                r = shifti[o].fn[s](a, 0, fin | 2);
                x = reference(shifti[o].kind, n, a, 3, fin);
                snprintk(name, sizeof(name), "%s%d a=0x%lx fin=0x%lx", shifti[o].name, n, v, fin);
                report(name, r.val, r.flags, x.val, x.flags, x.defined);

                /* by CL */
                for (unsigned int ci = 0; ci < ARRAY_SIZE(counts); ci++) {
                    u64 c = counts[ci];
                    u64 masked = c & (n == 64 ? 63 : 31);
                    /* Whether a 32-bit shift by a masked count of 0 zero-extends
                     * the destination is not spelled out by the SDM: keep the
                     * upper half zero so the result does not depend on it. */
                    u64 ain = (n == 32 && masked == 0) ? v : a;
                    fin = fin_values[seq++ & 1];
                    r = shiftcl[o].fn[s](ain, c | 0xff00, fin | 2);
                    x = reference(shiftcl[o].kind, n, ain, c, fin);
                    snprintk(name, sizeof(name), "%s%d a=0x%lx cl=%lu fin=0x%lx",
                             shiftcl[o].name, n, v, c, fin);
                    report(name, r.val, r.flags, x.val, x.flags, x.defined);
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ *
 * MUL / IMUL                                                          *
 * ------------------------------------------------------------------ */
struct mres { u64 rax, rdx, flags; };

#define MUL1(op, n, m)                                                       \
    static struct mres x_##op##n(u64 rax, u64 rdx, u64 src, u64 fin)          \
    {                                                                        \
        u64 fl;                                                              \
        asm volatile(FL_IN #op " %" #m "[s]" FL_OUT                          \
                     : "+a"(rax), "+d"(rdx), [fl] "=&r"(fl)                  \
                     : [s] "r"(src), [fin] "r"(fin) : "cc");                 \
        return (struct mres){ rax, rdx, fl };                                \
    }
MUL1(mul, 8, b) MUL1(mul, 16, w) MUL1(mul, 32, k) MUL1(mul, 64, q)
MUL1(imul, 8, b) MUL1(imul, 16, w) MUL1(imul, 32, k) MUL1(imul, 64, q)

static struct mres ref_mul(bool sgn, int n, u64 rax, u64 rdx, u64 src)
{
    u64 M = mask_of(n);
    u64 lo, hi;
    bool big;

    if (n == 64) {
        if (sgn) {
            __int128 p = (__int128)(s64)rax * (s64)src;
            lo = (u64)p;
            hi = (u64)(p >> 64);
            big = p != (__int128)(s64)lo;
        } else {
            unsigned __int128 p = (unsigned __int128)rax * src;
            lo = (u64)p;
            hi = (u64)(p >> 64);
            big = hi != 0;
        }
    } else {
        u64 p = sgn ? (u64)(sext(rax, n) * sext(src, n)) : (rax & M) * (src & M);
        lo = p & M;
        hi = (p >> n) & M;
        big = sgn ? (s64)(p << (64 - 2 * n)) >> (64 - 2 * n) != sext(lo, n) : hi != 0;
    }

    struct mres r = { 0, rdx, big ? CF | OF : 0 };
    if (n == 8) {
        r.rax = (rax & ~0xffffUL) | (hi << 8) | lo;
    } else {
        r.rax = merge(rax, lo, n);
        r.rdx = merge(rdx, hi, n);
    }
    return r;
}

/* Two- and three-operand IMUL (16, 32, 64 bits). */
#define IMUL2(n, m)                                                          \
    static struct res x_imul2_##n(u64 a, u64 b, u64 fin)                     \
    {                                                                        \
        u64 fl;                                                              \
        asm volatile(FL_IN "imul %" #m "[b], %" #m "[a]" FL_OUT              \
                     : [a] "+r"(a), [fl] "=&r"(fl)                           \
                     : [b] "r"(b), [fin] "r"(fin) : "cc");                   \
        return (struct res){ a, fl };                                        \
    }
IMUL2(16, w) IMUL2(32, k) IMUL2(64, q)

#define IMUL3(n, m, tag, imm)                                                \
    static struct res x_imul3_##tag##n(u64 a, u64 b, u64 fin)                \
    {                                                                        \
        u64 fl;                                                              \
        asm volatile(FL_IN "imul $" #imm ", %" #m "[b], %" #m "[a]" FL_OUT   \
                     : [a] "+r"(a), [fl] "=&r"(fl)                           \
                     : [b] "r"(b), [fin] "r"(fin) : "cc");                   \
        return (struct res){ a, fl };                                        \
    }
IMUL3(16, w, m1, -1) IMUL3(32, k, m1, -1) IMUL3(64, q, m1, -1)
IMUL3(16, w, p127, 127) IMUL3(32, k, p127, 127) IMUL3(64, q, p127, 127)
IMUL3(16, w, big, 0x4321) IMUL3(32, k, big, 0x12345678) IMUL3(64, q, big, 0x12345678)
IMUL3(32, k, min, -0x80000000) IMUL3(64, q, min, -0x80000000)

static struct ref ref_imul2(int n, u64 a, u64 b)
{
    u64 lo;
    bool big;

    if (n == 64) {
        __int128 p = (__int128)(s64)a * (s64)b;
        lo = (u64)p;
        big = p != (__int128)(s64)lo;
    } else {
        s64 p = sext(a, n) * sext(b, n);
        lo = (u64)p & mask_of(n);
        big = p != sext(lo, n);
    }
    return (struct ref){ merge(a, lo, n), big ? CF | OF : 0, CF | OF };
}

static void run_mul(void)
{
    char name[96];
    unsigned int seq = 0;

    for (int sg = 0; sg < 2; sg++) {
        static struct mres (*const fns[2][4])(u64, u64, u64, u64) = {
            { x_mul8, x_mul16, x_mul32, x_mul64 },
            { x_imul8, x_imul16, x_imul32, x_imul64 },
        };
        for (int s = 0; s < 4; s++) {
            int n = sizes[s];
            for (int i = 0; i < 6; i++) {
                for (int j = 0; j < 6; j++) {
                    u64 fin = fin_values[seq++ & 1];
                    u64 rax = with_upper(boundary(i, n), n);
                    u64 rdx = 0x0123456789abcdefUL;
                    u64 src = with_upper(boundary(j, n), n);
                    struct mres r = fns[sg][s](rax, rdx, src, fin | 2);
                    struct mres x = ref_mul(sg, n, rax, rdx, src);
                    char got[7], want[7];
                    flags_text(got, r.flags, CF | OF);
                    flags_text(want, x.flags, CF | OF);
                    snprintk(name, sizeof(name), "%s%d a=0x%lx src=0x%lx", sg ? "imul" : "mul",
                             n, boundary(i, n), boundary(j, n));
                    printk("%s: rax=0x%016lx rdx=0x%016lx flags=%s\n", name, r.rax, r.rdx, got);
                    nr_checked++;
                    if (r.rax != x.rax || r.rdx != x.rdx || ((r.flags ^ x.flags) & (CF | OF))) {
                        nr_bad++;
                        test_fail("%s: got rax 0x%lx rdx 0x%lx %s, expected 0x%lx 0x%lx %s",
                                  name, r.rax, r.rdx, got, x.rax, x.rdx, want);
                    }
                }
            }
        }
    }

    static const struct { const char *name; int n; exec_fn fn; s64 imm; } forms[] = {
        { "imul2", 16, x_imul2_16, 0 }, { "imul2", 32, x_imul2_32, 0 },
        { "imul2", 64, x_imul2_64, 0 },
        { "imul3.-1", 16, x_imul3_m116, -1 }, { "imul3.-1", 32, x_imul3_m132, -1 },
        { "imul3.-1", 64, x_imul3_m164, -1 },
        { "imul3.127", 16, x_imul3_p12716, 127 }, { "imul3.127", 32, x_imul3_p12732, 127 },
        { "imul3.127", 64, x_imul3_p12764, 127 },
        { "imul3.big", 16, x_imul3_big16, 0x4321 },
        { "imul3.big", 32, x_imul3_big32, 0x12345678 },
        { "imul3.big", 64, x_imul3_big64, 0x12345678 },
        { "imul3.min", 32, x_imul3_min32, -0x80000000L },
        { "imul3.min", 64, x_imul3_min64, -0x80000000L },
    };
    for (unsigned int k = 0; k < ARRAY_SIZE(forms); k++) {
        int n = forms[k].n;
        for (int i = 0; i < 6; i++) {
            for (int j = 0; j < (forms[k].imm ? 1 : 6); j++) {
                u64 fin = fin_values[seq++ & 1];
                u64 a = with_upper(boundary(i, n), n);
                u64 b = with_upper(boundary(j, n), n);
                struct res r;
                struct ref x;
                if (forms[k].imm) {
                    /* dest = src * imm; dest starts as garbage */
                    u64 dst = with_upper(0x3c, n);
                    r = forms[k].fn(dst, a, fin | 2);
                    x = ref_imul2(n, a, (u64)forms[k].imm);
                    x.val = merge(dst, x.val, n);
                    snprintk(name, sizeof(name), "%s%d src=0x%lx", forms[k].name, n,
                             boundary(i, n));
                } else {
                    r = forms[k].fn(a, b, fin | 2);
                    x = ref_imul2(n, a, b);
                    snprintk(name, sizeof(name), "%s%d a=0x%lx b=0x%lx", forms[k].name, n,
                             boundary(i, n), boundary(j, n));
                }
                report(name, r.val, r.flags, x.val, x.flags, x.defined);
            }
        }
    }
}

/* ------------------------------------------------------------------ *
 * DIV / IDIV, including #DE                                           *
 * ------------------------------------------------------------------ */
struct dres { u64 rax, rdx, label; };

/* RFLAGS loaded before each DIV, so that the RFLAGS image a #DE pushes is
 * known (DIV's own flags are undefined, but it faults before writing them). */
#define DIV_FLAGS (0x2UL | CF | ZF)

#define DIV1(op, n, m)                                                       \
    static struct dres x_##op##n(u64 rax, u64 rdx, u64 src)                  \
    {                                                                        \
        u64 label;                                                           \
        asm volatile("lea 1f(%%rip), %[l]\n\t"                               \
                     FL_IN                                                   \
                     "1: " #op " %" #m "[s]\n\t"                             \
                     "2:\n\t" EXTABLE(1b, 2b)                                \
                     : "+a"(rax), "+d"(rdx), [l] "=&r"(label)                \
                     : [s] "r"(src), [fin] "r"(DIV_FLAGS) : "cc");           \
        return (struct dres){ rax, rdx, label };                             \
    }
DIV1(div, 8, b) DIV1(div, 16, w) DIV1(div, 32, k) DIV1(div, 64, q)
DIV1(idiv, 8, b) DIV1(idiv, 16, w) DIV1(idiv, 32, k) DIV1(idiv, 64, q)

/* 128-by-64 unsigned division, one bit at a time; false if the quotient
 * does not fit in 64 bits or d is 0. */
static bool udiv128(u64 hi, u64 lo, u64 d, u64 *q, u64 *r)
{
    if (d == 0 || hi >= d)
        return false;
    u64 rem = hi, quo = 0;
    for (int i = 63; i >= 0; i--) {
        bool top = rem >> 63;
        rem = (rem << 1) | ((lo >> i) & 1);
        quo <<= 1;
        if (top || rem >= d) {
            rem -= d;
            quo |= 1;
        }
    }
    *q = quo;
    *r = rem;
    return true;
}

/* Expected result; false when the instruction must raise #DE. */
static bool ref_div(bool sgn, int n, u64 rax, u64 rdx, u64 src, u64 *orax, u64 *ordx)
{
    u64 M = mask_of(n);
    u64 q, r;

    if (n == 64) {
        u64 d = src;
        if (!sgn) {
            if (!udiv128(rdx, rax, d, &q, &r))
                return false;
        } else {
            bool nn = (s64)rdx < 0, nd = (s64)d < 0;
            u64 hi = rdx, lo = rax;
            if (nn) {           /* negate the 128-bit dividend */
                lo = ~lo + 1;
                hi = ~hi + (lo == 0);
            }
            u64 ad = nd ? 0 - d : d;
            if (d == 0 || !udiv128(hi, lo, ad, &q, &r))
                return false;
            if (nn != nd) {
                if (q > (1UL << 63))
                    return false;
                q = 0 - q;
            } else if (q > (1UL << 63) - 1) {
                return false;
            }
            if (nn)
                r = 0 - r;
        }
    } else {
        u64 dividend = n == 8 ? rax & 0xffff : ((rdx & M) << n) | (rax & M);
        if (!sgn) {
            u64 d = src & M;
            if (d == 0 || dividend / d > M)
                return false;
            q = dividend / d;
            r = dividend % d;
        } else {
            s64 nd = sext(dividend, 2 * n), d = sext(src, n);
            if (d == 0)
                return false;
            s64 sq = nd / d, sr = nd % d;
            if (sq > (s64)(sign_of(n) - 1) || sq < -(s64)sign_of(n))
                return false;
            q = (u64)sq & M;
            r = (u64)sr & M;
        }
    }

    if (n == 8) {
        *orax = (rax & ~0xffffUL) | ((r & 0xff) << 8) | (q & 0xff);
        *ordx = rdx;
    } else {
        *orax = merge(rax, q, n);
        *ordx = merge(rdx, r, n);
    }
    return true;
}

static void run_div(void)
{
    static struct dres (*const fns[2][4])(u64, u64, u64) = {
        { x_div8, x_div16, x_div32, x_div64 },
        { x_idiv8, x_idiv16, x_idiv32, x_idiv64 },
    };
    /* (rdx:rax dividend as two n-bit halves, divisor); for n = 8 the
     * dividend is AX = hi:lo bytes. */
    static const struct { u64 hi, lo, d; } cases[] = {
        { 0, 100, 7 },          /* small */
        { 0, 0, 3 },            /* zero dividend */
        { 1, 0, 3 },            /* dividend with a high half */
        { 0, ~0UL, ~0UL },      /* all ones / all ones */
        { 0, 5, 0 },            /* divide by zero: #DE */
        { 2, 0, 2 },            /* quotient too large: #DE (unsigned) */
        { ~0UL, 0, 1 },         /* signed: most negative dividend half / 1 */
        { ~0UL, ~0UL, ~0UL },   /* signed: -1 / -1 */
        { ~0UL, 1, 2 },         /* negative / positive */
        { 0, 1, ~0UL },         /* signed: sign-bit quotient / -1 overflow */
    };
    char name[96];

    for (int sg = 0; sg < 2; sg++) {
        for (int s = 0; s < 4; s++) {
            int n = sizes[s];
            u64 M = mask_of(n);
            for (unsigned int c = 0; c < ARRAY_SIZE(cases); c++) {
                u64 hi = cases[c].hi & M, lo = cases[c].lo & M, d = cases[c].d & M;
                if (c == 9)     /* most negative value (lo) divided by -1 */
                    lo = sign_of(n), hi = 0;
                u64 rax, rdx;
                if (n == 8) {
                    rax = (UPPER & ~0xffffUL) | ((hi & 0xff) << 8) | lo;
                    rdx = UPPER;
                } else {
                    rax = with_upper(lo, n);
                    rdx = with_upper(hi, n);
                }
                if (c == 9 && n == 8)
                    rax = (rax & ~0xffffUL) | 0xff80;   /* AX = -128 */
                else if (c == 9 && n < 64)
                    rdx = with_upper(M, n);             /* sign-extended negative */
                else if (c == 9)
                    rdx = ~0UL;
                u64 src = with_upper(d, n);

                snprintk(name, sizeof(name), "%s%d.%u", sg ? "idiv" : "div", n, c);
                printk("%s.in: rdx=0x%016lx rax=0x%016lx src=0x%lx\n", name, rdx, rax, d);
                u64 xrax, xrdx;
                bool ok = ref_div(sg, n, rax, rdx, src, &xrax, &xrdx);
                fault_reset();
                struct dres r = fns[sg][s](rax, rdx, src);
                nr_checked++;
                if (last_fault.count) {
                    print_fault(name, r.label);
                    printk("%s: rax=0x%016lx rdx=0x%016lx\n", name, r.rax, r.rdx);
                    if (ok || last_fault.vector != 0 || last_fault.rip != r.label ||
                        r.rax != rax || r.rdx != rdx) {
                        nr_bad++;
                        test_fail("%s: unexpected %s", name, exc_name((unsigned int)last_fault.vector));
                    }
                } else {
                    printk("%s: rax=0x%016lx rdx=0x%016lx\n", name, r.rax, r.rdx);
                    if (!ok) {
                        nr_bad++;
                        test_fail("%s: expected #DE, got rax 0x%lx rdx 0x%lx", name, r.rax, r.rdx);
                    } else if (r.rax != xrax || r.rdx != xrdx) {
                        nr_bad++;
                        test_fail("%s: got rax 0x%lx rdx 0x%lx, expected 0x%lx 0x%lx", name,
                                  r.rax, r.rdx, xrax, xrdx);
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ *
 * BSWAP, MOVZX, MOVSX                                                 *
 * ------------------------------------------------------------------ */
#define MOV1(nm, insn, ms, md)                                               \
    static struct res x_##nm(u64 a, u64 s, u64 fin)                          \
    {                                                                        \
        u64 fl;                                                              \
        asm volatile(FL_IN #insn " %" #ms "[s], %" #md "[a]" FL_OUT          \
                     : [a] "+r"(a), [fl] "=&r"(fl)                           \
                     : [s] "r"(s), [fin] "r"(fin) : "cc");                   \
        return (struct res){ a, fl };                                        \
    }
MOV1(movzbw, movzbw, b, w) MOV1(movzbl, movzbl, b, k) MOV1(movzbq, movzbq, b, q)
MOV1(movzwl, movzwl, w, k) MOV1(movzwq, movzwq, w, q)
MOV1(movsbw, movsbw, b, w) MOV1(movsbl, movsbl, b, k) MOV1(movsbq, movsbq, b, q)
MOV1(movswl, movswl, w, k) MOV1(movswq, movswq, w, q) MOV1(movslq, movslq, k, q)

static struct res x_bswap32(u64 a, u64 b, u64 fin)
{
    u64 fl;
    (void)b;
    asm volatile(FL_IN "bswap %k[a]" FL_OUT : [a] "+r"(a), [fl] "=&r"(fl) : [fin] "r"(fin) : "cc");
    return (struct res){ a, fl };
}

static struct res x_bswap64(u64 a, u64 b, u64 fin)
{
    u64 fl;
    (void)b;
    asm volatile(FL_IN "bswap %q[a]" FL_OUT : [a] "+r"(a), [fl] "=&r"(fl) : [fin] "r"(fin) : "cc");
    return (struct res){ a, fl };
}

static void run_moves(void)
{
    static const struct { const char *name; exec_fn fn; int from, to; bool sgn; } mv[] = {
        { "movzbw", x_movzbw, 8, 16, false }, { "movzbl", x_movzbl, 8, 32, false },
        { "movzbq", x_movzbq, 8, 64, false }, { "movzwl", x_movzwl, 16, 32, false },
        { "movzwq", x_movzwq, 16, 64, false }, { "movsbw", x_movsbw, 8, 16, true },
        { "movsbl", x_movsbl, 8, 32, true }, { "movsbq", x_movsbq, 8, 64, true },
        { "movswl", x_movswl, 16, 32, true }, { "movswq", x_movswq, 16, 64, true },
        { "movslq", x_movslq, 32, 64, true },
    };
    char name[96];
    unsigned int seq = 0;

    for (unsigned int k = 0; k < ARRAY_SIZE(mv); k++) {
        for (int i = 0; i < 6; i++) {
            u64 v = boundary(i, mv[k].from);
            u64 src = with_upper(v, mv[k].from);
            u64 dst = UPPER;
            u64 fin = fin_values[seq++ & 1];
            struct res r = mv[k].fn(dst, src, fin | 2);
            u64 ext = mv[k].sgn ? (u64)sext(v, mv[k].from) : v;
            u64 want = merge(dst, ext, mv[k].to);
            snprintk(name, sizeof(name), "%s src=0x%lx fin=0x%lx", mv[k].name, v, fin);
            report(name, r.val, r.flags, want, fin, ARITH);
        }
    }

    for (int i = 0; i < 6; i++) {
        u64 fin = fin_values[seq++ & 1];
        u64 v32 = boundary(i, 32) ^ 0x12345678, v64 = boundary(i, 64) ^ 0x0123456789abcdefUL;
        struct res r = x_bswap32(with_upper(v32, 32), 0, fin | 2);
        u64 want32 = ((v32 & 0xff) << 24) | ((v32 & 0xff00) << 8) | ((v32 >> 8) & 0xff00) |
                     ((v32 >> 24) & 0xff);
        snprintk(name, sizeof(name), "bswap32 a=0x%lx fin=0x%lx", v32, fin);
        report(name, r.val, r.flags, want32, fin, ARITH);

        r = x_bswap64(v64, 0, fin | 2);
        u64 want64 = 0;
        for (int b = 0; b < 8; b++)
            want64 |= ((v64 >> (8 * b)) & 0xff) << (56 - 8 * b);
        snprintk(name, sizeof(name), "bswap64 a=0x%lx fin=0x%lx", v64, fin);
        report(name, r.val, r.flags, want64, fin, ARITH);
    }
}

/* ------------------------------------------------------------------ *
 * SETcc / CMOVcc over all 32 combinations of CF PF ZF SF OF           *
 * ------------------------------------------------------------------ */
#define CCS(X) X(o) X(no) X(b) X(ae) X(e) X(ne) X(be) X(a) X(s) X(ns) X(p) X(np) X(l) X(ge) X(le) X(g)

#define SETF(cc)                                                             \
    static u64 set_##cc(u64 a, u64 fin)                                      \
    {                                                                        \
        asm volatile(FL_IN "set" #cc " %b[a]" : [a] "+r"(a) : [fin] "r"(fin) : "cc"); \
        return a;                                                            \
    }
CCS(SETF)

#define CMOVF(cc, n, m)                                                      \
    static u64 cmov##n##_##cc(u64 a, u64 b, u64 fin)                         \
    {                                                                        \
        asm volatile(FL_IN "cmov" #cc " %" #m "[b], %" #m "[a]"              \
                     : [a] "+r"(a) : [b] "r"(b), [fin] "r"(fin) : "cc");     \
        return a;                                                            \
    }
#define CMOV3(cc) CMOVF(cc, 16, w) CMOVF(cc, 32, k) CMOVF(cc, 64, q)
CCS(CMOV3)

#define CCNAME(cc) #cc,
#define SETPTR(cc) set_##cc,
#define CMOVPTR(cc) { cmov16_##cc, cmov32_##cc, cmov64_##cc },
static const char *const cc_names[16] = { CCS(CCNAME) };
static u64 (*const set_fns[16])(u64, u64) = { CCS(SETPTR) };
static u64 (*const cmov_fns[16][3])(u64, u64, u64) = { CCS(CMOVPTR) };

static bool cond(int cc, u64 f)
{
    bool c = f & CF, p = f & PF, z = f & ZF, s = f & SF, o = f & OF;
    bool r;
    switch (cc >> 1) {
    case 0:  r = o; break;
    case 1:  r = c; break;
    case 2:  r = z; break;
    case 3:  r = c || z; break;
    case 4:  r = s; break;
    case 5:  r = p; break;
    case 6:  r = s != o; break;
    default: r = z || s != o; break;
    }
    return cc & 1 ? !r : r;
}

static u64 combo_flags(unsigned int i)
{
    return (i & 1 ? CF : 0) | (i & 2 ? PF : 0) | (i & 4 ? ZF : 0) |
           (i & 8 ? SF : 0) | (i & 16 ? OF : 0) | (i & 1 ? AF : 0);
}

static void run_cc(void)
{
    const u64 dst = 0xdeadbeefcafef00dUL, src = 0x1122334455667788UL;

    for (int cc = 0; cc < 16; cc++) {
        u32 mask = 0, want = 0;
        bool upper_ok = true;
        for (unsigned int i = 0; i < 32; i++) {
            u64 v = set_fns[cc](UPPER, combo_flags(i) | 2);
            if ((v & 1) && (v & 0xff) == 1)
                mask |= 1U << i;
            if ((v & ~0xffUL) != (UPPER & ~0xffUL) || (v & 0xfe))
                upper_ok = false;
            if (cond(cc, combo_flags(i)))
                want |= 1U << i;
        }
        printk("set%s: taken=0x%08x bits63_1=%s\n", cc_names[cc], mask,
               upper_ok ? "ok" : "bad");
        nr_checked++;
        if (mask != want || !upper_ok) {
            nr_bad++;
            test_fail("set%s: taken 0x%08x, expected 0x%08x%s", cc_names[cc], mask, want,
                      upper_ok ? "" : ", wrote beyond the low byte");
        }

        for (int s = 0; s < 3; s++) {
            int n = sizes[s + 1];
            u32 moved = 0;
            u64 seen_false = 0, seen_true = 0;
            bool consistent = true;
            for (unsigned int i = 0; i < 32; i++) {
                u64 v = cmov_fns[cc][s](dst, src, combo_flags(i) | 2);
                bool c = cond(cc, combo_flags(i));
                u64 expect = c ? merge(dst, src, n) : merge(dst, dst, n);
                if (v == merge(dst, src, n))
                    moved |= 1U << i;
                if (c)
                    seen_true = v;
                else
                    seen_false = v;
                if (v != expect)
                    consistent = false;
            }
            printk("cmov%s%d: taken=0x%08x false=0x%016lx true=0x%016lx\n", cc_names[cc], n,
                   moved, seen_false, seen_true);
            nr_checked++;
            if (!consistent || moved != want) {
                nr_bad++;
                test_fail("cmov%s%d: taken 0x%08x, expected 0x%08x (false 0x%lx true 0x%lx)",
                          cc_names[cc], n, moved, want, seen_false, seen_true);
            }
        }
    }
}

void test_main(void)
{
    run_binops();
    run_unops();
    run_shifts();
    run_mul();
    run_div();
    run_moves();
    run_cc();
    printk("checked: %u\n", nr_checked);
    printk("mismatches: %u\n", nr_bad);
}
