/*
 * single-step: TF single-step traps, DR6.BS, RF, and the MOV SS shadow (Intel SDM Vol. 3B
 * §18.3.1.4 "Single-Step Exception Condition", §18.2.3 "Debug Status Register (DR6)",
 * §18.3.1.1 "Instruction-Breakpoint Exception Condition" (RF); Vol. 3A §6.8.3 "Masking
 * Exceptions and Interrupts When Switching Stacks", §6.9 Table 6-2 "Priority Among
 * Concurrent Events", §6.12.1.3 "Flag Usage By Exception- or Interrupt-Handler Procedure").
 *
 * What the architecture requires:
 * - §18.3.1.4: the processor generates a single-step #DB when it detects TF = 1 while an
 *   instruction executes; it is a trap, taken after the instruction, so the saved RIP is
 *   that of the next instruction.  "The processor will not generate this exception after
 *   the instruction that sets the TF flag": after a POPF (or an IRETQ) that sets TF the first
 *   trap comes after the instruction that follows it, and then one trap follows every
 *   instruction.  The condition is TF = 1 while the instruction runs, so a POPF that clears
 *   TF (having started with TF = 1) is still followed by one trap, whose saved RFLAGS has
 *   TF = 0 (a trap saves the state after the instruction).
 * - §18.2.3: DR6.BS (bit 14) is set for a single-step trap; the processor never clears
 *   DR6's BD/BS/BT itself, so the handler writes 0 to DR6 after reading it.  Printed:
 *   DR6 & 0xe00f (B0-B3, BD, BS, BT), the bits the SDM defines here.  B0-B3 stay 0: DR0-DR3
 *   are 0 and DR7 = 0x400 (execute breakpoints at linear address 0, disabled), a condition
 *   no instruction here meets.
 * - §6.12.1.3: delivery through an interrupt or trap gate saves RFLAGS and then clears TF,
 *   so the #DB handler itself is not stepped (its RFLAGS has TF = 0) while the saved RFLAGS
 *   has TF = 1; its IRETQ reloads TF = 1 and stepping goes on with the next instruction.
 * - §18.3.1.1: RF pushed for a trap-class exception after an instruction completes is RF as
 *   it then is, 0 here (the processor clears RF once an instruction completes, also after
 *   an IRETQ that loaded RF = 1, as the #UD handler's does on hardware).
 * - Vol. 3A §6.8.3: after MOV SS (or POP SS) "the processor inhibits interrupts, debug
 *   exceptions, and single-step trap exceptions ... until the instruction boundary following
 *   the next instruction is reached": no trap after the MOV SS, one trap after the next
 *   instruction.  POP SS is invalid in 64-bit mode (#UD), so only MOV SS is tested.
 * - A fault (§6.5) is delivered before its instruction completes, so no single-step trap is
 *   reported for a UD2 executed with TF = 1: the #UD frame holds the UD2's RIP and TF = 1;
 *   the handler here resumes at a fixup with that RFLAGS, and the first trap then follows
 *   the instruction at the fixup.  Table 6-2: a single-step trap of the instruction before
 *   the UD2 ("Traps on the Previous Instruction") ranks above the UD2's #UD ("Faults from
 *   Decoding the Next Instruction"), so it comes first, with the UD2's address as its RIP.
 * - INT3 / INT n with TF = 1 are not tested: §18.3.1.4 says "The INT n and INTO instructions
 *   clear the TF flag upon execution", which settles the handler but not whether a #DB is
 *   reported with the handler's first address before it runs.
 *
 * The #DB handler (step.S) records each trap (saved RIP, saved RFLAGS, DR6, RFLAGS in the
 * handler) and stops the stepping after the number of traps a case allows (at most
 * DB_LOG_MAX), so nothing here can step forever; a missing trap is a FAIL line.
 */
#include "ringside.h"
#include "single-step.h"

#define DR6_DEFINED 0xe00fUL    /* B0-B3, BD (13), BS (14), BT (15) */
#define DR6_BS      (1UL << 14)
#define MAX_EXPECT  8

struct db_trap {
    u64 rip, rflags, dr6, handler_rflags;
};
volatile struct db_trap db_log[DB_LOG_MAX];
volatile u64 db_count, db_limit;

extern char db_handler[];
extern char ss_popf_set[], ss_popf_set_1[], ss_popf_set_2[], ss_popf_set_3[];
extern char ss_straight[], ss_straight_1[], ss_straight_2[], ss_straight_3[], ss_straight_4[],
    ss_straight_5[], ss_straight_6[], ss_straight_7[], ss_straight_end[];
extern char ss_popf_clear[], ss_popf_clear_1[], ss_popf_clear_2[];
extern char ss_mov_ss[], ss_mov_ss_1[], ss_mov_ss_2[], ss_mov_ss_3[], ss_mov_ss_4[];
extern char ss_fault[], ss_fault_1[], ss_fault_ud2[], ss_fault_after_ud2[], ss_fault_fixup[],
    ss_fault_fixup_next[];
extern char ss_iret[], ss_iret_insn[], ss_iret_target[], ss_iret_target_1[], ss_iret_target_2[];
extern void ss_popf_set_run(void) __asm__("ss_popf_set");
extern void ss_straight_run(void) __asm__("ss_straight");
extern void ss_popf_clear_run(void) __asm__("ss_popf_clear");
extern void ss_mov_ss_run(void) __asm__("ss_mov_ss");
extern void ss_fault_run(void) __asm__("ss_fault");
extern void ss_iret_run(void) __asm__("ss_iret");

struct label {
    const char *name;
    const char *at;
};

struct step_case {
    const char *name;
    void (*run)(void);
    const char *start;
    u64 limit;                          /* the handler clears TF at this trap */
    unsigned int traps;                 /* expected number of traps */
    const char *rip[MAX_EXPECT];        /* expected saved RIP of each */
    u8 tf[MAX_EXPECT];                  /* expected saved TF of each */
    struct label labels[12];            /* names for printing RIPs, ends with a null name */
};

#define L(sym) { #sym, sym }

static const struct step_case cases[] = {
    {
        .name = "popf_set", .run = ss_popf_set_run, .start = ss_popf_set, .limit = 1,
        .traps = 1, .rip = { ss_popf_set_2 }, .tf = { 1 },
        .labels = { L(ss_popf_set), L(ss_popf_set_1), L(ss_popf_set_2), L(ss_popf_set_3) },
    },
    {
        .name = "straight", .run = ss_straight_run, .start = ss_straight, .limit = DB_LOG_MAX,
        .traps = 7,
        .rip = { ss_straight_2, ss_straight_3, ss_straight_4, ss_straight_5, ss_straight_6,
                 ss_straight_7, ss_straight_end },
        .tf = { 1, 1, 1, 1, 1, 1, 0 },
        .labels = { L(ss_straight), L(ss_straight_1), L(ss_straight_2), L(ss_straight_3),
                    L(ss_straight_4), L(ss_straight_5), L(ss_straight_6), L(ss_straight_7),
                    L(ss_straight_end) },
    },
    {
        .name = "popf_clear", .run = ss_popf_clear_run, .start = ss_popf_clear, .limit = DB_LOG_MAX,
        .traps = 1, .rip = { ss_popf_clear_2 }, .tf = { 0 },
        .labels = { L(ss_popf_clear), L(ss_popf_clear_1), L(ss_popf_clear_2) },
    },
    {
        .name = "mov_ss", .run = ss_mov_ss_run, .start = ss_mov_ss, .limit = 2,
        .traps = 2, .rip = { ss_mov_ss_2, ss_mov_ss_4 }, .tf = { 1, 1 },
        .labels = { L(ss_mov_ss), L(ss_mov_ss_1), L(ss_mov_ss_2), L(ss_mov_ss_3), L(ss_mov_ss_4) },
    },
    {
        .name = "fault", .run = ss_fault_run, .start = ss_fault, .limit = 2,
        .traps = 2, .rip = { ss_fault_ud2, ss_fault_fixup_next }, .tf = { 1, 1 },
        .labels = { L(ss_fault), L(ss_fault_1), L(ss_fault_ud2), L(ss_fault_after_ud2),
                    L(ss_fault_fixup), L(ss_fault_fixup_next) },
    },
    {
        .name = "iret", .run = ss_iret_run, .start = ss_iret, .limit = 1,
        .traps = 1, .rip = { ss_iret_target_1 }, .tf = { 1 },
        .labels = { L(ss_iret), L(ss_iret_insn), L(ss_iret_target), L(ss_iret_target_1),
                    L(ss_iret_target_2) },
    },
};

static inline void write_dr(int n, u64 v)
{
    switch (n) {
    case 0: asm volatile("mov %0, %%dr0" :: "r"(v)); break;
    case 1: asm volatile("mov %0, %%dr1" :: "r"(v)); break;
    case 2: asm volatile("mov %0, %%dr2" :: "r"(v)); break;
    case 3: asm volatile("mov %0, %%dr3" :: "r"(v)); break;
    case 6: asm volatile("mov %0, %%dr6" :: "r"(v)); break;
    case 7: asm volatile("mov %0, %%dr7" :: "r"(v)); break;
    }
}

/* The name of the label at `rip`, or start+offset. */
static void format_rip(char *buf, size_t size, const struct step_case *c, u64 rip)
{
    for (const struct label *l = c->labels; l->name; l++)
        if ((u64)(uintptr_t)l->at == rip) {
            snprintk(buf, size, "%s", l->name);
            return;
        }
    u64 start = (u64)(uintptr_t)c->start;
    if (rip >= start)
        snprintk(buf, size, "%s+0x%lx", c->labels[0].name, rip - start);
    else
        snprintk(buf, size, "%s-0x%lx", c->labels[0].name, start - rip);
}

static void run_case(const struct step_case *c)
{
    char got[64], want[64];

    for (unsigned int k = 0; k < DB_LOG_MAX; k++)
        db_log[k] = (struct db_trap){ ~0UL, ~0UL, ~0UL, ~0UL };
    write_dr(6, 0);
    db_count = 0;
    db_limit = c->limit;
    fault_reset();
    barrier();
    c->run();
    barrier();

    u64 n = db_count;
    printk("%s.traps: %lu\n", c->name, n);
    if (n == 0)
        test_fail("%s: no single-step #DB at all, expected %u", c->name, c->traps);
    else if (n != c->traps)
        test_fail("%s: %lu single-step traps, expected %u", c->name, n, c->traps);

    for (unsigned int k = 0; k < n && k < DB_LOG_MAX; k++) {
        const volatile struct db_trap *t = &db_log[k];
        u64 tf = (t->rflags >> 8) & 1, rf = (t->rflags >> 16) & 1;
        u64 htf = (t->handler_rflags >> 8) & 1, dr6 = t->dr6 & DR6_DEFINED;

        format_rip(got, sizeof(got), c, t->rip);
        printk("%s.trap%u.rip: %s\n", c->name, k, got);
        printk("%s.trap%u.tf: %lu\n", c->name, k, tf);
        printk("%s.trap%u.rf: %lu\n", c->name, k, rf);
        printk("%s.trap%u.dr6: 0x%lx\n", c->name, k, dr6);
        printk("%s.trap%u.handler_tf: %lu\n", c->name, k, htf);
        if (k >= c->traps)
            continue;
        if (t->rip != (u64)(uintptr_t)c->rip[k]) {
            format_rip(want, sizeof(want), c, (u64)(uintptr_t)c->rip[k]);
            test_fail("%s: trap %u at %s, expected after the instruction before %s", c->name, k, got, want);
        }
        if (tf != c->tf[k])
            test_fail("%s: trap %u saved TF %lu, expected %u", c->name, k, tf, c->tf[k]);
        if (rf != 0)
            test_fail("%s: trap %u saved RF 1, expected 0", c->name, k);
        if (dr6 != DR6_BS)
            test_fail("%s: trap %u DR6 & 0x%lx = 0x%lx, expected 0x%lx (BS only)", c->name, k,
                      DR6_DEFINED, dr6, DR6_BS);
        if (htf != 0)
            test_fail("%s: trap %u: TF = 1 in the #DB handler (delivery must clear it)", c->name, k);
    }
    if (read_rflags() & RFLAGS_TF)
        test_abort("%s: TF still set after the case", c->name);
}

static void fault_case_fault(void)
{
    const struct step_case *c = &cases[4];
    char got[64];

    printk("fault.ud.count: %lu\n", last_fault.count);
    if (!last_fault.count) {
        test_fail("fault: no #UD from the UD2");
        return;
    }
    format_rip(got, sizeof(got), c, last_fault.rip);
    printk("fault.ud.vector: %lu\n", last_fault.vector);
    printk("fault.ud.rip: %s\n", got);
    printk("fault.ud.tf: %lu\n", (last_fault.rflags >> 8) & 1);
    if (last_fault.count != 1 || last_fault.vector != 6 || last_fault.rip != (u64)(uintptr_t)ss_fault_ud2 ||
        !((last_fault.rflags >> 8) & 1))
        test_fail("fault: %lu faults, last %s at %s TF %lu; expected one #UD at ss_fault_ud2 with TF 1",
                  last_fault.count, exc_name((unsigned int)last_fault.vector), got, (last_fault.rflags >> 8) & 1);
}

void test_main(void)
{
    for (int n = 0; n < 4; n++)
        write_dr(n, 0);
    write_dr(7, 0x400);
    idt_set_gate(1, (u64)(uintptr_t)db_handler, GATE_INT, 0, 0);

    for (unsigned int k = 0; k < ARRAY_SIZE(cases); k++) {
        run_case(&cases[k]);
        if (cases[k].run == ss_fault_run)
            fault_case_fault();
    }
}
