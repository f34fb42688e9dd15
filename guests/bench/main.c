/*
 * bench: the benchmark loop.  Not a conformance test: a fixed, realistic mix
 * of ordinary kernel-style integer work per iteration, so that instructions
 * per second measured on it mean something.  Each iteration does:
 *   - a read-modify-write of a u64 array spread over 16 pages, and a load
 *     from another, so memory operands go through 4-level paging and the TLB
 *     (Intel SDM Vol. 3A §5.5);
 *   - a 4-limb ADC chain and an SBB (carry propagation, Vol. 2A "ADC", "SBB");
 *   - xorshift steps (SHL/SHR by immediates and XOR);
 *   - CMP + CMOVcc + SETcc;
 *   - CALL/RET of a small function that is not inlined;
 *   - a 32-byte REP MOVSB, and every 8th iteration a 4-quadword REP STOSQ.
 * The iteration count is BENCH_ITERS (default 1000000); the benchmark harness
 * builds it with BENCH_ITERS=N and BENCH_ITERS=0 and subtracts.  The final
 * state is folded into one checksum, printed before the result line.
 *
 * With BENCH_TRAP=1 every iteration also makes an INT 0x81 round trip through a
 * ring-0 interrupt gate whose handler is a bare IRETQ (Vol. 3A §6.14): two
 * transitions per iteration, for the harness's figures on the cost of transitions
 * and of tracing them.  Without it (the default) the loop has no transition.
 */
#include "ringside.h"

#ifndef BENCH_ITERS
#define BENCH_ITERS 1000000
#endif

#define TABLE_PAGES 16
#define TABLE_WORDS (TABLE_PAGES * PAGE_SIZE / 8)

static u64 table[TABLE_WORDS] __attribute__((aligned(4096)));
static u8 scratch[256] __attribute__((aligned(64)));

#ifndef BENCH_TRAP
#define BENCH_TRAP 0
#endif
#define BENCH_VECTOR 0x81

void bench_iret(void);
asm(".pushsection .text\n"
    ".globl bench_iret\n"
    "bench_iret: iretq\n"
    ".popsection");

/* Small, not inlined, not cloned: a real CALL and RET every iteration. */
__attribute__((noinline, noclone)) u64 bench_mix(u64 a, u64 b)
{
    asm("" : "+r"(a), "+r"(b));
    return (a ^ (b >> 7)) + (b << 3) + 0x9e3779b97f4a7c15UL;
}

void test_main(void)
{
    u64 x = 0x0123456789abcdefUL;
    u64 acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
    u64 minv = ~0UL, zeros = 0, borrow = 0;
    u64 n = BENCH_ITERS;

    for (u64 i = 0; i < TABLE_WORDS; i++)
        table[i] = i * 0x9e3779b97f4a7c15UL;
    if (BENCH_TRAP) {
        idt_set_gate(BENCH_VECTOR, (u64)(uintptr_t)bench_iret, GATE_INT, 0, 0);
        idt_set_limit(BENCH_VECTOR + 1);
    }

    for (u64 i = 0; i < n; i++) {
        /* memory: RMW at a stride that crosses pages, plus a dependent load */
        u64 idx = (i * 2053) & (TABLE_WORDS - 1);
        table[idx] += x;
        u64 other = table[(idx + 4099) & (TABLE_WORDS - 1)];

        /* xorshift64 */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;

        /* 256-bit accumulator: ADC chain; SBB to capture a borrow */
        asm("add %[v], %[a0]\n\t"
            "adc %[w], %[a1]\n\t"
            "adc $0, %[a2]\n\t"
            "adc $0, %[a3]\n\t"
            "cmp %[w], %[v]\n\t"
            "sbb $0, %[b]"
            : [a0] "+r"(acc0), [a1] "+r"(acc1), [a2] "+r"(acc2), [a3] "+r"(acc3),
              [b] "+r"(borrow)
            : [v] "r"(x), [w] "r"(other)
            : "cc");

        /* CMOV and SETcc */
        u64 z;
        asm("cmp %[m], %[v]\n\t"
            "cmovb %[v], %[m]\n\t"
            "test $0xff, %b[v]\n\t"
            "setz %b[z]\n\t"
            "movzbl %b[z], %k[z]"
            : [m] "+r"(minv), [z] "=&q"(z)
            : [v] "r"(other)
            : "cc");
        zeros += z;

        /* call/ret */
        x = bench_mix(x, other);

        if (BENCH_TRAP)
            asm volatile("int $%c0" :: "i"(BENCH_VECTOR) : "memory");

        /* short string operations */
        {
            void *d = scratch + (i & 63);
            const void *s = (const u8 *)table + ((idx * 8) & (sizeof(table) - 64));
            u64 c = 32;
            asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(c) :: "memory");
        }
        if ((i & 7) == 0) {
            void *d = scratch + 128;
            u64 c = 4;
            asm volatile("rep stosq" : "+D"(d), "+c"(c) : "a"(x) : "memory");
        }
    }

    u64 sum = acc0 ^ (acc1 << 1) ^ (acc2 << 2) ^ (acc3 << 3) ^ minv ^ zeros ^ borrow ^ x;
    for (u64 i = 0; i < TABLE_WORDS; i++)
        sum = (sum ^ table[i]) * 0x100000001b3UL;
    for (unsigned int i = 0; i < sizeof(scratch); i++)
        sum = (sum ^ scratch[i]) * 0x100000001b3UL;

    printk("iterations: %lu\n", n);
    printk("checksum: 0x%016lx\n", sum);
}
