/*
 * smc: self-modifying code and code written at run time.
 *
 * What the architecture requires (Intel SDM Vol. 3A §11.6 "Self-Modifying
 * Code"): a write to a memory location that holds code invalidates any cached
 * or prefetched copy of it.  For code that must run correctly on all current
 * and future processors, the SDM prescribes one of two sequences:
 *   option 1: store the modified code, then jump to it (or to an
 *             intermediate location), then execute it;
 *   option 2: store the modified code, execute a serializing instruction
 *             (e.g. CPUID, Vol. 3A §10.3 "Serializing Instructions"), then
 *             execute it.
 * This guest stays within that guarantee: every store to code is followed by
 * a JMP, an indirect CALL or CPUID before the modified bytes execute.  It
 * checks:
 *   - a function's immediate rewritten between calls (the writer in the same
 *     page as the function), with option 1 and with option 2;
 *   - an instruction a few bytes ahead of the store, in the same page;
 *   - the same rewrite repeated many times in a loop;
 *   - code written into a fresh data buffer and called, then rewritten and
 *     called again;
 *   - an instruction that straddles a page boundary, modified through the
 *     byte in its second page.
 * Identity paging maps code and data read/write/executable (head.S).
 */
#include "ringside.h"

u32 smc_imm_fn(void);
void smc_same_page(u32 out[3]);
u32 smc_next_jmp(void);
u32 smc_next_cpuid(void);
u64 smc_loop(u64 n);

static u8 codebuf[2 * PAGE_SIZE] __attribute__((aligned(4096)));

typedef u32 (*fn0)(void);
typedef u32 (*fn1)(u32);

static void expect(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: got 0x%lx, expected 0x%lx", name, got, want);
}

static void put(volatile u8 *p, const u8 *bytes, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++)
        p[i] = bytes[i];
}

/* mov $imm, %eax; ret */
static void put_mov_ret(volatile u8 *p, u32 imm)
{
    const u8 b[6] = { 0xb8, (u8)imm, (u8)(imm >> 8), (u8)(imm >> 16), (u8)(imm >> 24), 0xc3 };
    put(p, b, sizeof(b));
}

static u32 call0(const volatile u8 *p)
{
    fn0 f = (fn0)(uintptr_t)p;
    barrier();
    return f();
}

void test_main(void)
{
    u32 out[3];

    smc_same_page(out);
    expect("imm.before", out[0], 0x11111111);
    expect("imm.after_jmp", out[1], 0x22222222);
    expect("imm.after_cpuid", out[2], 0x33333333);

    /* Written from C (a different page), then called: the CALL is the branch. */
    *(volatile u32 *)((u8 *)(uintptr_t)smc_imm_fn + 1) = 0x66666666;
    barrier();
    expect("imm.from_c", smc_imm_fn(), 0x66666666);

    expect("next.jmp", smc_next_jmp(), 0x44);
    expect("next.jmp.again", smc_next_jmp(), 0x44);
    expect("next.cpuid", smc_next_cpuid(), 0x55);

    /* 1 + 2 + ... + 1000 */
    expect("loop.1000", smc_loop(1000), 500500);

    /* A fresh buffer. */
    volatile u8 *buf = codebuf;
    put_mov_ret(buf, 0x12345678);
    expect("buffer.first", call0(buf), 0x12345678);
    put_mov_ret(buf, 0x9abcdef0);
    expect("buffer.rewritten", call0(buf), 0x9abcdef0);
    buf[1] = 0x01;                                      /* one byte only */
    expect("buffer.one_byte", call0(buf), 0x9abcde01);

    /* sum = n + (n-1) + ... + 1, written as bytes:
     *   31 c0     xor  %eax,%eax
     *   89 f9     mov  %edi,%ecx
     *   01 c8     add  %ecx,%eax
     *   ff c9     dec  %ecx
     *   75 fa     jnz  (add)
     *   c3        ret */
    static const u8 sum_code[] = { 0x31, 0xc0, 0x89, 0xf9, 0x01, 0xc8, 0xff, 0xc9, 0x75, 0xfa, 0xc3 };
    put(buf + 64, sum_code, sizeof(sum_code));
    fn1 sum = (fn1)(uintptr_t)(buf + 64);
    barrier();
    expect("buffer.sum10", sum(10), 55);
    buf[64 + 4] = 0x29;         /* add %ecx,%eax -> sub %ecx,%eax */
    barrier();
    expect("buffer.sub3", sum(3), (u32)-6);
    put(buf + 64, sum_code, sizeof(sum_code));
    barrier();
    expect("buffer.restored", sum(4), 10);

    /* An instruction straddling the page boundary: B8 at 4093, imm at
     * 4094..4097 (the last two bytes in the second page), C3 at 4098. */
    volatile u8 *cross = buf + PAGE_SIZE - 3;
    put_mov_ret(cross, 0xaabbccdd);
    expect("straddle.first", call0(cross), 0xaabbccdd);
    buf[PAGE_SIZE + 1] = 0x11;                      /* imm byte 3, second page */
    expect("straddle.second_page_write", call0(cross), 0x11bbccdd);
    buf[PAGE_SIZE - 2] = 0x22;                      /* imm byte 0, first page */
    expect("straddle.first_page_write", call0(cross), 0x11bbcc22);
}
