/*
 * string-rep: the string instructions MOVS, STOS, LODS, CMPS, SCAS with byte,
 * word, doubleword and quadword elements, with and without REP/REPE/REPNE,
 * forwards (DF=0) and backwards (DF=1).
 *
 * What the architecture requires (Intel SDM Vol. 1 §7.3.9 "String
 * Operations", Vol. 2B "MOVS/MOVSB/MOVSW/MOVSD/MOVSQ", "STOS", "LODS",
 * "CMPS", "SCAS", and "REP/REPE/REPZ/REPNE/REPNZ"):
 *
 * - Each iteration moves/compares one element at [RSI] and/or [RDI] (64-bit
 *   address size), then adds the element size to RSI/RDI when DF=0, or
 *   subtracts it when DF=1.
 * - With a REP prefix the instruction repeats while RCX != 0, decrementing
 *   RCX after each iteration; with RCX = 0 at the start no iteration happens
 *   and no register, memory byte or flag changes.  REPE/REPNE with CMPS/SCAS
 *   additionally stop after an iteration whose comparison left ZF = 0 (REPE)
 *   or ZF = 1 (REPNE); RCX has then already been decremented for it.
 * - CMPS sets CF, OF, SF, ZF, AF, PF as CMP [RSI], [RDI] would (first operand
 *   minus second); SCAS as CMP RAX-part, [RDI].  MOVS, STOS and LODS affect no
 *   flag.
 * - LODS writes AL/AX/EAX/RAX: byte and word loads leave the rest of RAX
 *   unchanged, a doubleword load zero-extends (Vol. 1 §3.4.1.1).
 * - The result of a repeated string instruction is that of executing its
 *   iterations one at a time (Vol. 1 §7.3.9.3 and Vol. 3A §9.2.4 on
 *   fast-string operation), so an overlapping forward REP MOVSB with
 *   RDI = RSI + 1 replicates the first byte.
 *
 * Every case prints the final RSI, RDI (as offsets into the test arena),
 * RCX, RAX, the arithmetic flags and DF, and a checksum of the arena; the
 * expected values come from the element-by-element C model below.
 */
#include "ringside.h"

#define CF 0x001UL
#define PF 0x004UL
#define AF 0x010UL
#define ZF 0x040UL
#define SF 0x080UL
#define DF 0x400UL
#define OF 0x800UL
#define ARITH (CF | PF | AF | ZF | SF | OF)

#define ARENA_SIZE 4096
static u8 arena[ARENA_SIZE] __attribute__((aligned(4096)));
static u8 model[ARENA_SIZE] __attribute__((aligned(64)));

struct sregs { u64 rsi, rdi, rcx, rax, fin, flags; };

enum sop { MOVS, STOS, LODS, CMPS, SCAS };
enum rep { NONE, REP, REPE, REPNE };

#define STRFN(nm, insn)                                                      \
    static void x_##nm(struct sregs *r)                                      \
    {                                                                        \
        asm volatile("push %[fin]\n\tpopfq\n\t" insn "\n\t"                  \
                     "pushfq\n\tpop %[fl]\n\tcld"                            \
                     : "+S"(r->rsi), "+D"(r->rdi), "+c"(r->rcx),             \
                       "+a"(r->rax), [fl] "=&r"(r->flags)                    \
                     : [fin] "r"(r->fin) : "cc", "memory");                  \
    }

#define SIZES(X, op, pfx, tag) X(op##b##tag, pfx #op "b") X(op##w##tag, pfx #op "w") \
                               X(op##l##tag, pfx #op "l") X(op##q##tag, pfx #op "q")
SIZES(STRFN, movs, "", ) SIZES(STRFN, movs, "rep ", _rep)
SIZES(STRFN, stos, "", ) SIZES(STRFN, stos, "rep ", _rep)
SIZES(STRFN, lods, "", ) SIZES(STRFN, lods, "rep ", _rep)
SIZES(STRFN, cmps, "", ) SIZES(STRFN, cmps, "repe ", _repe) SIZES(STRFN, cmps, "repne ", _repne)
SIZES(STRFN, scas, "", ) SIZES(STRFN, scas, "repe ", _repe) SIZES(STRFN, scas, "repne ", _repne)

typedef void (*str_fn)(struct sregs *);

#define PTRS(op, tag) { x_##op##b##tag, x_##op##w##tag, x_##op##l##tag, x_##op##q##tag }
static const struct {
    const char *name;
    enum sop op;
    enum rep rep;
    str_fn fn[4];
} insns[] = {
    { "movs", MOVS, NONE, PTRS(movs, ) },   { "rep movs", MOVS, REP, PTRS(movs, _rep) },
    { "stos", STOS, NONE, PTRS(stos, ) },   { "rep stos", STOS, REP, PTRS(stos, _rep) },
    { "lods", LODS, NONE, PTRS(lods, ) },   { "rep lods", LODS, REP, PTRS(lods, _rep) },
    { "cmps", CMPS, NONE, PTRS(cmps, ) },   { "repe cmps", CMPS, REPE, PTRS(cmps, _repe) },
    { "repne cmps", CMPS, REPNE, PTRS(cmps, _repne) },
    { "scas", SCAS, NONE, PTRS(scas, ) },   { "repe scas", SCAS, REPE, PTRS(scas, _repe) },
    { "repne scas", SCAS, REPNE, PTRS(scas, _repne) },
};

static const char size_suffix[4] = { 'b', 'w', 'l', 'q' };

/* ---------------------------------------------------------------- model -- */
static u64 mask_of(unsigned int sz) { return sz == 8 ? ~0UL : (1UL << (8 * sz)) - 1; }

static u64 parity_flag(u64 r)
{
    unsigned int ones = 0;
    for (int i = 0; i < 8; i++)
        ones += (r >> i) & 1;
    return ones % 2 == 0 ? PF : 0;
}

static u64 sub_flags(u64 a, u64 b, unsigned int sz)
{
    u64 M = mask_of(sz), S = 1UL << (8 * sz - 1);
    a &= M;
    b &= M;
    u64 r = (a - b) & M;
    return (a < b ? CF : 0) | parity_flag(r) | ((a ^ b ^ r) & 0x10 ? AF : 0) |
           (r == 0 ? ZF : 0) | (r & S ? SF : 0) | ((a ^ b) & (a ^ r) & S ? OF : 0);
}

static u64 load(const volatile u8 *m, u64 off, unsigned int sz)
{
    u64 v = 0;
    for (unsigned int i = 0; i < sz; i++)
        v |= (u64)m[off + i] << (8 * i);
    return v;
}

static void store(volatile u8 *m, u64 off, unsigned int sz, u64 v)
{
    for (unsigned int i = 0; i < sz; i++)
        m[off + i] = (u8)(v >> (8 * i));
}

/* Registers hold arena addresses; the model works on `model` at the same offsets. */
static void model_run(enum sop op, enum rep rep, unsigned int sz, struct sregs *r)
{
    const u64 base = (u64)(uintptr_t)arena;
    volatile u8 *m = model;
    s64 step = (r->fin & DF) ? -(s64)sz : (s64)sz;
    u64 flags = r->fin;

    for (;;) {
        if (rep != NONE && r->rcx == 0)
            break;
        u64 si = r->rsi - base, di = r->rdi - base;
        switch (op) {
        case MOVS:
            store(m, di, sz, load(m, si, sz));
            r->rsi += step;
            r->rdi += step;
            break;
        case STOS:
            store(m, di, sz, r->rax);
            r->rdi += step;
            break;
        case LODS: {
            u64 v = load(m, si, sz);
            r->rax = sz == 8 ? v : sz == 4 ? v : (r->rax & ~mask_of(sz)) | v;
            r->rsi += step;
            break;
        }
        case CMPS:
            flags = (flags & ~ARITH) | sub_flags(load(m, si, sz), load(m, di, sz), sz);
            r->rsi += step;
            r->rdi += step;
            break;
        case SCAS:
            flags = (flags & ~ARITH) | sub_flags(r->rax, load(m, di, sz), sz);
            r->rdi += step;
            break;
        }
        if (rep == NONE)
            break;
        r->rcx--;
        if (rep == REPE && !(flags & ZF))
            break;
        if (rep == REPNE && (flags & ZF))
            break;
    }
    r->flags = flags;
}

/* ------------------------------------------------------------ scenarios -- */
static u32 checksum(const volatile u8 *m)
{
    u32 h = 2166136261u;
    for (unsigned int i = 0; i < ARENA_SIZE; i++)
        h = (h ^ m[i]) * 16777619u;
    return h;
}

static void fill_both(u64 off, u8 v)
{
    ((volatile u8 *)arena)[off] = v;
    ((volatile u8 *)model)[off] = v;
}

static void arena_reset(void)
{
    for (unsigned int i = 0; i < ARENA_SIZE; i++)
        fill_both(i, (u8)(i * 37 + 11));
}

/* Write element k of a walk from `start` in direction `step` (both arenas). */
static void put_elem(u64 start, s64 step, unsigned int k, unsigned int sz, u64 v)
{
    u64 off = start + (u64)((s64)k * step);
    for (unsigned int i = 0; i < sz; i++)
        fill_both(off + i, (u8)(v >> (8 * i)));
}

static unsigned int nr_checked;

static void flags_text(char out[8], u64 fl)
{
    static const u64 bit[7] = { CF, PF, AF, ZF, SF, OF, DF };
    static const char up[] = "CPAZSOD", lo[] = "cpazsod";
    for (int i = 0; i < 7; i++)
        out[i] = (fl & bit[i]) ? up[i] : lo[i];
    out[7] = '\0';
}

/*
 * One case.  src/dst are arena offsets of the first element; `count` is the
 * RCX value (also used by the non-REP forms, which ignore it).  `pattern`
 * chooses the data for comparisons:
 *   0: arena as reset;  1: elements equal except element 3 (REPE stops);
 *   2: elements differ except element 3 (REPNE stops);  3: all equal;
 *   4: all differ.
 */
static void run_case(unsigned int idx, unsigned int s, bool down, u64 src, u64 dst,
                     u64 count, int pattern, const char *label)
{
    const u64 base = (u64)(uintptr_t)arena;
    unsigned int sz = 1U << s;
    s64 step = down ? -(s64)sz : (s64)sz;
    u64 rax = 0xfedcba9876543210UL;
    enum sop op = insns[idx].op;

    arena_reset();
    for (unsigned int k = 0; k < 8 && pattern; k++) {
        u64 v = 0x1122334455667788UL + k * 0x0101010101010101UL;
        bool equal = pattern == 3 || (pattern == 1 && k != 3) || (pattern == 2 && k == 3);
        if (op == SCAS) {
            put_elem(dst, step, k, sz, equal ? rax : rax ^ 0x5a);
        } else {
            put_elem(src, step, k, sz, v);
            put_elem(dst, step, k, sz, equal ? v : v ^ 0x5a);
        }
    }

    u64 fin = 0x2 | (down ? DF : 0) | ((idx + s) & 1 ? ARITH : 0);
    struct sregs hw = { base + src, base + dst, count, rax, fin, 0 };
    struct sregs want = hw;

    model_run(op, insns[idx].rep, sz, &want);
    insns[idx].fn[s](&hw);

    char name[80], fl[8];
    snprintk(name, sizeof(name), "%s%c.%s", insns[idx].name, size_suffix[s], label);
    for (char *p = name; *p; p++)
        if (*p == ' ')
            *p = '_';
    flags_text(fl, hw.flags);
    u32 sum = checksum(arena);
    printk("%s: rsi=+0x%lx rdi=+0x%lx rcx=0x%lx rax=0x%016lx flags=%s sum=0x%08x\n", name,
           hw.rsi - base, hw.rdi - base, hw.rcx, hw.rax, fl, sum);

    nr_checked++;
    u64 fmask = ARITH | DF;
    if (hw.rsi != want.rsi || hw.rdi != want.rdi || hw.rcx != want.rcx || hw.rax != want.rax ||
        ((hw.flags ^ want.flags) & fmask)) {
        char wf[8];
        flags_text(wf, want.flags);
        test_fail("%s: got rsi +0x%lx rdi +0x%lx rcx 0x%lx rax 0x%lx %s, expected "
                  "+0x%lx +0x%lx 0x%lx 0x%lx %s", name, hw.rsi - base, hw.rdi - base, hw.rcx,
                  hw.rax, fl, want.rsi - base, want.rdi - base, want.rcx, want.rax, wf);
    }
    if (sum != checksum(model)) {
        for (unsigned int i = 0; i < ARENA_SIZE; i++) {
            if (arena[i] != model[i]) {
                test_fail("%s: memory differs first at +0x%x: 0x%02x, expected 0x%02x", name,
                          i, arena[i], model[i]);
                break;
            }
        }
    }
}

void test_main(void)
{
    for (unsigned int i = 0; i < ARRAY_SIZE(insns); i++) {
        bool cmp = insns[i].op == CMPS || insns[i].op == SCAS;
        for (unsigned int s = 0; s < 4; s++) {
            unsigned int sz = 1U << s;
            if (insns[i].rep == NONE) {
                run_case(i, s, false, 0x100, 0x800, 7, 1, "up");
                run_case(i, s, true, 0x180, 0x880, 7, 1, "down");
                continue;
            }
            run_case(i, s, false, 0x100, 0x800, 0, 1, "rcx0");
            if (!cmp) {
                run_case(i, s, false, 0x100, 0x800, 7, 0, "up7");
                run_case(i, s, true, 0x180, 0x880, 7, 0, "down7");
                run_case(i, s, false, 0x101, 0x803, 33, 0, "unaligned33");
            } else {
                int stop = insns[i].rep == REPE ? 1 : 2;
                int through = insns[i].rep == REPE ? 3 : 4;
                run_case(i, s, false, 0x100, 0x800, 7, stop, "up7.stop");
                run_case(i, s, true, 0x180, 0x880, 7, stop, "down7.stop");
                run_case(i, s, false, 0x100, 0x800, 7, through, "up7.through");
                run_case(i, s, true, 0x180, 0x880, 7, through, "down7.through");
            }
            if (insns[i].op == MOVS) {
                /* Overlapping copies inside the arena. */
                run_case(i, s, false, 0x200, 0x200 + sz, 40, 0, "overlap.fwd+1elem");
                run_case(i, s, false, 0x200 + sz, 0x200, 40, 0, "overlap.fwd-1elem");
                run_case(i, s, true, 0x300, 0x300 + sz, 40, 0, "overlap.bwd+1elem");
                if (sz > 1)
                    run_case(i, s, false, 0x200, 0x201, 20, 0, "overlap.fwd+1byte");
            }
        }
    }
    printk("checked: %u\n", nr_checked);
}
