/*
 * ist: the Interrupt Stack Table (Intel SDM Vol. 3A §6.14.5 "Interrupt Stack Table",
 * §6.14.2, Vol. 2 INT n "Operation", IA-32e mode).
 *
 * What the architecture requires:
 * - A 64-bit gate with a non-zero IST field n makes the processor load RSP from
 *   TSS.ISTn for that delivery, unconditionally: with or without a change of privilege
 *   (from CPL 0 as from CPL 3).  The frame is pushed there, RSP having first been
 *   aligned down to 16 bytes (§6.14.2), so a misaligned ISTn still gives a frame whose
 *   SS slot ends at a 16-byte boundary.
 * - Each delivery through the IST starts at TSS.ISTn again: the processor does not
 *   remember that the stack is in use, so a nested event through a gate with the same
 *   IST overwrites the first frame (the reason Linux switches NMI/#DB/#MC off their IST
 *   stacks before nesting is possible).
 * - TSS.ISTn is 8 bytes at offset 0x24 + 8*(n-1); if it ends beyond the TSS limit the
 *   delivery raises #TS(TSS selector + EXT) (Vol. 2 INT n: (TSSstackAddress + 7) >
 *   current TSS limit); EXT = 0 for INT n, INT3, INTO.
 * - A non-canonical ISTn raises #SS(EXT) (Vol. 2 INT n "Operation", IA-32e mode:
 *   "IF NewRSP is non-canonical THEN #SS(EXT)"), again before anything is pushed.
 * Every frame position is printed relative to the IST slot it should come from.
 */
#include "ringside.h"

#define VEC_OUTER 0x87
#define VEC_INNER 0x88

extern char nest_outer[], nest_inner[], nest_after_inner[];
volatile u64 nest_outer_rsp, nest_inner_rsp, nest_slot_rip;
volatile u64 probe_label, probe_next;

static void expect(const char *name, u64 got, u64 want)
{
    printk("%s: 0x%lx\n", name, got);
    if (got != want)
        test_fail("%s: 0x%lx, expected 0x%lx", name, got, want);
}

/* frame position: where the CPU's frame (its RIP slot) starts, below ISTn. */
static void expect_pos(const char *name, u64 frame, u64 base, u64 want_below)
{
    printk("%s: base-0x%lx\n", name, base - frame);
    if (base - frame != want_below)
        test_fail("%s: frame at base-0x%lx, expected base-0x%lx", name, base - frame, want_below);
}

/*
 * The probes print the RFLAGS image the CPU pushed.  At CPL 0 its status flags are
 * whatever the kernel's code left, and some of that code (shifts, multiplies, logic
 * instructions) leaves AF or other flags undefined (SDM Vol. 1 Appendix A), so each
 * probe first defines all six with CMP (SUB semantics: ZF = PF = 1, CF = AF = SF =
 * OF = 0); the MOV and LEA between it and the event change no flag.
 */
#define DEFINE_STATUS_FLAGS "cmp %%rax, %%rax\n\t"

static u64 u_int3(u64 arg)
{
    (void)arg;
    asm volatile(DEFINE_STATUS_FLAGS "lea 2f(%%rip), %%rax\n\tmov %%rax, probe_next(%%rip)\n\t"
                 "1: int3\n2:\n\t" EXTABLE(2b, 2b) EXTABLE(1b, 2b) ::: "rax", "cc", "memory");
    return 0;
}

static u64 u_gp(u64 arg)
{
    (void)arg;
    asm volatile(DEFINE_STATUS_FLAGS "lea 1f(%%rip), %%rax\n\tmov %%rax, probe_label(%%rip)\n\t"
                 "movabs $0x8000000000000000, %%rax\n\t"
                 "1: mov (%%rax), %%rax\n2:\n\t" EXTABLE(1b, 2b) ::: "rax", "cc", "memory");
    return 0;
}

static u64 u_ud2(u64 arg)
{
    (void)arg;
    asm volatile(DEFINE_STATUS_FLAGS "lea 1f(%%rip), %%rax\n\tmov %%rax, probe_label(%%rip)\n\t"
                 "1: ud2\n2:\n\t" EXTABLE(1b, 2b) ::: "rax", "cc", "memory");
    return 0;
}

static u64 u_int_outer(u64 arg)
{
    (void)arg;
    asm volatile("int $" STR(VEC_OUTER) ::: "memory");
    return 0;
}

static void run(bool user, u64 (*fn)(u64))
{
    fault_reset();
    if (user)
        exec_user(fn, 0);
    else
        fn(0);
}

void test_main(void)
{
    char n[64];

    ring3_init();

    /* Every IST slot, from CPL 0 and from CPL 3: #BP (INT3, DPL-3 gate) on ISTn. */
    for (unsigned int r = 0; r < 2; r++) {
        for (unsigned int i = 1; i <= 7; i++) {
            idt_set_gate(3, exc_stub_table[3], GATE_INT, 3, i);
            run(r, u_int3);
            snprintk(n, sizeof(n), "%s.int3.ist%u.frame", r ? "ring3" : "ring0", i);
            expect_pos(n, last_fault.frame, ist_top(i), 40);
            if (last_fault.vector != 3 || last_fault.rip != probe_next)
                test_fail("%s: %s at 0x%lx", n, exc_name((unsigned int)last_fault.vector), last_fault.rip);
        }
        snprintk(n, sizeof(n), "%s.int3.cs", r ? "ring3" : "ring0");
        expect(n, last_fault.cs, r ? SEL_USER_CODE64 : SEL_CODE64);
        snprintk(n, sizeof(n), "%s.int3.ss", r ? "ring3" : "ring0");
        expect(n, last_fault.ss, r ? SEL_USER_DATA : SEL_DATA);
    }
    idt_set_gate(3, exc_stub_table[3], GATE_INT, 0, 0);

    /* A misaligned IST3 (8 below its top) and an error-code vector (#GP): the frame
     * starts at the 16-byte boundary below, the error code under it. */
    user_tss.ist[2] = ist_top(3) - 8;
    idt_set_gate(13, exc_stub_table[13], GATE_INT, 0, 3);
    for (unsigned int r = 0; r < 2; r++) {
        run(r, u_gp);
        snprintk(n, sizeof(n), "%s.gp.ist3_misaligned.frame", r ? "ring3" : "ring0");
        expect_pos(n, last_fault.frame, ist_top(3), 16 + 40);
        snprintk(n, sizeof(n), "%s.gp.ist3_misaligned.error_code", r ? "ring3" : "ring0");
        expect(n, last_fault.error_code, 0);
        snprintk(n, sizeof(n), "%s.gp.ist3_misaligned.frame_top_mod16", r ? "ring3" : "ring0");
        expect(n, (last_fault.frame + 40) & 15, 0);
    }
    idt_set_gate(13, exc_stub_table[13], GATE_INT, 0, 0);
    user_tss.ist[2] = ist_top(3);

    /* Nesting on one IST: the inner frame lands where the outer one was. */
    idt_set_gate(VEC_OUTER, (u64)(uintptr_t)nest_outer, GATE_INT, 3, 1);
    idt_set_gate(VEC_INNER, (u64)(uintptr_t)nest_inner, GATE_INT, 0, 1);
    for (unsigned int r = 0; r < 2; r++) {
        nest_outer_rsp = nest_inner_rsp = nest_slot_rip = 0;
        run(r, u_int_outer);
        snprintk(n, sizeof(n), "%s.nested.outer_frame", r ? "ring3" : "ring0");
        expect_pos(n, nest_outer_rsp, ist_top(1), 40);
        snprintk(n, sizeof(n), "%s.nested.inner_frame", r ? "ring3" : "ring0");
        expect_pos(n, nest_inner_rsp, ist_top(1), 40);
        snprintk(n, sizeof(n), "%s.nested.outer_rip_slot_overwritten", r ? "ring3" : "ring0");
        expect(n, nest_slot_rip == (u64)(uintptr_t)nest_after_inner, 1);
    }

    /* #TS: IST7 occupies TSS bytes 0x54..0x5b.  Limit 0x5b covers it, 0x5a does not. */
    idt_set_gate(3, exc_stub_table[3], GATE_INT, 3, 7);
    for (unsigned int lim = 0x5a; lim <= 0x5b; lim++) {
        tss_set_limit(lim);
        ltr_tss();
        for (unsigned int r = 0; r < 2; r++) {
            run(r, u_int3);
            snprintk(n, sizeof(n), "%s.ist7.tss_limit_0x%x", r ? "ring3" : "ring0", lim);
            /* INT3 is a software interrupt: #TS(TSS selector) with EXT = 0, at the INT3. */
            print_fault_kind(n, probe_next, lim == 0x5b);
            if (lim == 0x5a && (last_fault.vector != 10 || last_fault.error_code != SEL_TSS ||
                                last_fault.rip != probe_next - 1))
                test_fail("%s: expected #TS(0x%x) at the INT3", n, SEL_TSS);
            if (lim == 0x5b && (last_fault.vector != 3 || last_fault.frame + 40 != ist_top(7)))
                test_fail("%s: expected #BP on IST7", n);
        }
    }
    tss_set_limit(sizeof(user_tss) - 1);
    ltr_tss();

    /* A non-canonical IST4: #SS(0) for INT3, #SS(1) (EXT) for #UD, at the instruction. */
    user_tss.ist[3] = 0x8000000000000000UL;
    idt_set_gate(3, exc_stub_table[3], GATE_INT, 3, 4);
    idt_set_gate(6, exc_stub_table[6], GATE_INT, 0, 4);
    for (unsigned int r = 0; r < 2; r++) {
        run(r, u_int3);
        snprintk(n, sizeof(n), "%s.ist4_noncanonical.int3", r ? "ring3" : "ring0");
        print_fault(n, probe_next);
        if (last_fault.vector != 12 || last_fault.error_code != 0)
            test_fail("%s: expected #SS(0)", n);
        run(r, u_ud2);
        snprintk(n, sizeof(n), "%s.ist4_noncanonical.ud2", r ? "ring3" : "ring0");
        print_fault(n, probe_label);
        /* QEMU 7.2 leaves EXT clear: #SS(0) is accepted (test/qemu-deviations.ts). */
        if (last_fault.vector != 12 || (last_fault.error_code != 1 && last_fault.error_code != 0))
            test_fail("%s: expected #SS(1)", n);
    }
    user_tss.ist[3] = ist_top(4);
    idt_set_gate(3, exc_stub_table[3], GATE_INT, 0, 0);
    idt_set_gate(6, exc_stub_table[6], GATE_INT, 0, 0);
}
