/*
 * exception-frames: the frame of every exception the model can raise, delivered from
 * CPL 0 and from CPL 3 through 64-bit IDT gates (Intel SDM Vol. 3A chapter 6).
 *
 * What the architecture requires:
 * - §6.14.2 "64-Bit Mode Stack Frame": every delivery pushes SS, RSP, RFLAGS, CS, RIP
 *   (and an error code for #DF, #TS, #NP, #SS, #GP, #PF, #AC: §6.13, Table 6-1), on a
 *   stack whose RSP was first aligned down to 16 bytes: the pushed SS slot ends at a
 *   16-byte boundary (printed as frame_top_mod16 = 0), whatever RSP (or TSS.RSP0) was.
 * - §6.14.4 / §6.12.1: from CPL 3 the handler runs at CPL 0 on TSS.RSP0 and the frame
 *   holds the user CS (RPL 3), SS, RSP; from CPL 0 it holds the kernel's.
 * - §6.5 "Exception Classifications": faults save the RIP of the faulting instruction
 *   and push RF = 1 (Vol. 3B "Instruction-Breakpoint Exception Condition"); traps
 *   (#BP from INT3, #OF from INTO, #DB from INT1) save the RIP of the next instruction
 *   and push RF as it was (0).
 * - §6.15, vector by vector: #DE (DIV by 0); #DB via INT1 (no gate-DPL check, Vol. 2
 *   INT n); #BP (INT3: gate DPL checked, #GP(3*8+2) through a DPL-0 gate at CPL 3);
 *   #OF (INTO, compatibility mode only); #BR (BOUND, compatibility mode); #UD (UD2, and
 *   INTO in 64-bit mode); #NM (an x87 instruction with CR0.TS = 1 or CR0.EM = 1, WAIT
 *   with CR0.TS = CR0.MP = 1: the model has no x87, only these faults); #TS(TSS
 *   selector + EXT) when the TSS limit does not cover the IST slot the gate names or the RSPn of
 *   the new CPL (§6.14.5, Vol. 2 INT n "Operation"; a DPL-1 target here, entered on
 *   TSS.RSP1 with SS = null selector, RPL 1); #NP(vector*8+2+EXT) for a not-present
 *   gate and #NP(selector) for a not-present segment load; #SS(0) for a non-canonical
 *   RBP-based reference, for a PUSH with a non-canonical RSP (CPL 3 only: at CPL 0 the
 *   delivery would use that RSP) (Vol. 1 §3.3.7.1) and for a push past a limited SS in
 *   compatibility mode (§5.3); #GP(0) for a non-canonical address; #PF with its error
 *   code and CR2 (§4.7); #AC(0) for an unaligned access at CPL 3 with CR0.AM = 1 and
 *   RFLAGS.AC = 1 (none at CPL 0).
 * - The gate checks of INT n (Vol. 2 INT n "Operation", IA-32e mode; §6.14.1): a gate type
 *   other than 64-bit interrupt/trap gate -> #GP(vector*8+2); a null target selector ->
 *   #GP(EXT); a target beyond the GDT, not a code segment, with DPL > CPL, or not a
 *   64-bit code segment -> #GP(selector); a target not present -> #NP(selector).
 * - §6.12.1.3: an interrupt gate clears IF on delivery, a trap gate leaves it set
 *   (observed with PUSHFQ in the handler); the pushed RFLAGS keeps IF = 1.
 * Not raised by anything in the model, so not tested here: #MC (18), #MF (16),
 * #XM (19), #VE (20), #CP (21) without CET, NMI (2), and #DB from debug registers or
 * single-step (they come with event injection and DR7); #DF is in guests/double-fault.
 * Every frame field is printed; the test checks each against the SDM.
 */
#include "ringside.h"

#define NONCANON 0x8000000000000000UL
#define CR0_MP (1UL << 1)
#define CR0_EM (1UL << 2)
#define CR0_TS (1UL << 3)
#define VEC_NP_GATE 0x85
#define VEC_IF_INT  0x83
#define VEC_IF_TRAP 0x84
#define SEL_NP_DATA0 (SEL_SPARE)          /* not-present data, DPL 0 */
#define SEL_NP_DATA3 (SEL_SPARE + 8)      /* not-present data, DPL 3 */
#define SEL_LIM_SS0  (SEL_SPARE + 16)     /* data, DPL 0, limit 0xfff */
#define SEL_LIM_SS3  (SEL_SPARE + 24)     /* data, DPL 3, limit 0xfff */
#define SEL_NP_CODE0 (SEL_SPARE + 32)     /* not-present 64-bit code, DPL 0 */
#define SEL_CODE_DPL1 (SEL_SPARE + 40)    /* 64-bit code, DPL 1 */
#define VEC_RING1 0x8b

volatile u64 probe_label, probe_next;
volatile u32 sslimit_sel;
volatile u64 handler_rflags;
u8 pf_page[4096] __attribute__((aligned(4096)));
u64 ac_buf[4] __attribute__((aligned(16)));

extern u64 call32(u32 fn);
extern char into32_ring0[], bound32_ring0[], sslimit32_ring0[];
extern char into32_ring3[], bound32_ring3[], sslimit32_ring3[];
extern char if_stub[], ring1_stub[];
volatile u64 ring1_seen[6];
static u8 ring1_stack[1024] __attribute__((aligned(16)));

enum ring { RING0, RING3 };

struct expect {
    u64 vector, ec;
    bool trap;      /* RIP after the instruction, RF as it was */
    u64 alt_ec;     /* a documented QEMU deviation (test/qemu-deviations.ts), or ec */
    u64 alt_vector; /* the same for the vector, or vector */
    bool alt_fault; /* with alt_vector: QEMU reports it as a fault (RIP of the instruction) */
};

static void check_frame(const char *name, enum ring ring, bool compat, struct expect e)
{
    u64 cs = ring == RING0 ? (compat ? SEL_CODE32 : SEL_CODE64) : (compat ? SEL_USER_CODE32 : SEL_USER_CODE64);
    u64 rip = e.trap ? probe_next : probe_label;
    if (last_fault.count && last_fault.vector != e.vector && last_fault.vector == e.alt_vector && e.alt_fault)
        rip = probe_label;

    print_fault_kind(name, probe_label, e.trap);
    if (!last_fault.count) {
        if (e.vector != ~0UL)
            test_fail("%s: no exception, expected %s", name, exc_name((unsigned int)e.vector));
        return;
    }
    printk("%s.frame_top_mod16: %lu\n", name, (last_fault.frame + 40) & 15);
    if (e.vector == ~0UL) {
        test_fail("%s: %s, expected no exception", name, exc_name((unsigned int)last_fault.vector));
        return;
    }
    if ((last_fault.vector != e.vector && last_fault.vector != e.alt_vector) || (last_fault.error_code != e.ec && last_fault.error_code != e.alt_ec) ||
        last_fault.rip != rip || last_fault.cs != cs)
        test_fail("%s: got %s(0x%lx) at 0x%lx cs 0x%lx, expected %s(0x%lx) at 0x%lx cs 0x%lx", name,
                  exc_name((unsigned int)last_fault.vector), last_fault.error_code, last_fault.rip,
                  last_fault.cs, exc_name((unsigned int)e.vector), e.ec, rip, cs);
    if ((last_fault.frame + 40) & 15)
        test_fail("%s: frame not 16-byte aligned (RIP slot at 0x%lx)", name, last_fault.frame);
    if (ring == RING3 && last_fault.ss != SEL_USER_DATA)
        test_fail("%s: SS 0x%lx in the frame", name, last_fault.ss);
    /* RF: 1 for faults (QEMU 7.2 pushes 0: accepted, test/qemu-deviations.ts), 0 for traps. */
    if (e.trap && (last_fault.rflags & RFLAGS_RF))
        test_fail("%s: RF set in the frame of a trap", name);
}

/* ---- 64-bit probes: each records its faulting instruction (1:) and the next (2:) ---- */

#define PROBE(fn, setup, insn, teardown)                                   \
    static u64 fn(u64 arg)                                                 \
    {                                                                      \
        (void)arg;                                                         \
        asm volatile("lea 1f(%%rip), %%rax\n\tmov %%rax, probe_label(%%rip)\n\t" \
                     "lea 2f(%%rip), %%rax\n\tmov %%rax, probe_next(%%rip)\n\t"   \
                     setup "\n\t"                                          \
                     "1: " insn "\n"                                       \
                     "2:\n\t" teardown "\n\t"                              \
                     EXTABLE(1b, 2b) EXTABLE(2b, 2b)                       \
                     ::: "rax", "rcx", "rdx", "rsi", "memory", "cc");      \
        return 0;                                                          \
    }

/* The stack is misaligned by 8 at each faulting instruction: delivery must realign. */
PROBE(p_de, "sub $8, %%rsp\n\txor %%edx, %%edx\n\tmov $1, %%eax\n\txor %%ecx, %%ecx", "div %%ecx", "add $8, %%rsp")
PROBE(p_int1, "sub $8, %%rsp", ".byte 0xf1", "add $8, %%rsp")
PROBE(p_int3, "sub $8, %%rsp", "int3", "add $8, %%rsp")
PROBE(p_ud2, "sub $8, %%rsp", "ud2", "add $8, %%rsp")
PROBE(p_fninit, "sub $8, %%rsp", "fninit", "add $8, %%rsp")
PROBE(p_fwait, "sub $8, %%rsp", "fwait", "add $8, %%rsp")
PROBE(p_into64, "sub $8, %%rsp", ".byte 0xce", "add $8, %%rsp")
/* CPL 3 only: a push with a non-canonical RSP (delivery then switches to TSS.RSP0). */
PROBE(p_push_noncanon, "mov %%rsp, %%rdx\n\tmovabs $0x8000000000000010, %%rsp", "push %%rax", "mov %%rdx, %%rsp")
PROBE(p_int_np_gate, "sub $8, %%rsp", "int $" STR(VEC_NP_GATE), "add $8, %%rsp")
PROBE(p_np_seg0, "sub $8, %%rsp\n\tmov $" STR(SEL_NP_DATA0) ", %%eax", "mov %%eax, %%es", "add $8, %%rsp")
PROBE(p_np_seg3, "sub $8, %%rsp\n\tmov $" STR(SEL_NP_DATA3) "+3, %%eax", "mov %%eax, %%es", "add $8, %%rsp")
PROBE(p_ss_noncanon, "push %%rbp\n\tmovabs $0x8000000000000000, %%rbp", "mov (%%rbp), %%rax", "pop %%rbp")
PROBE(p_gp_noncanon, "sub $8, %%rsp\n\tmovabs $0x8000000000000000, %%rsi", "mov (%%rsi), %%rax", "add $8, %%rsp")
PROBE(p_pf_read, "sub $8, %%rsp\n\tlea pf_page(%%rip), %%rsi", "mov 0x10(%%rsi), %%rax", "add $8, %%rsp")
PROBE(p_pf_write, "sub $8, %%rsp\n\tlea pf_page(%%rip), %%rsi", "movq $1, 0x18(%%rsi)", "add $8, %%rsp")
PROBE(p_ac, "sub $8, %%rsp\n\tlea ac_buf+1(%%rip), %%rsi", "mov (%%rsi), %%rax", "add $8, %%rsp")
PROBE(p_int_if_int, "sub $8, %%rsp", "int $" STR(VEC_IF_INT), "add $8, %%rsp")
PROBE(p_int_if_trap, "sub $8, %%rsp", "int $" STR(VEC_IF_TRAP), "add $8, %%rsp")
PROBE(p_int_ring1, "sub $8, %%rsp", "int $" STR(VEC_RING1), "add $8, %%rsp")

/* One line, `ring.name.fault: #XX|none`, for cases QEMU does not raise at all; the rest
 * of the frame is checked without printing when the fault is taken. */
static void print_summary(const char *ring, const char *name, u64 vector)
{
    printk("%s.%s.fault: %s\n", ring, name, last_fault.count ? exc_name((unsigned int)last_fault.vector) : "none");
    if (vector == ~0UL ? last_fault.count != 0
                       : last_fault.count && (last_fault.vector != vector || last_fault.error_code != 0 ||
                                              last_fault.rip != probe_label || ((last_fault.frame + 40) & 15)))
        test_fail("%s.%s: %s(0x%lx) at 0x%lx, expected %s(0) at 0x%lx", ring, name,
                  last_fault.count ? exc_name((unsigned int)last_fault.vector) : "none", last_fault.error_code,
                  last_fault.rip, vector == ~0UL ? "no exception" : exc_name((unsigned int)vector), probe_label);
}

static void run(enum ring ring, u64 (*fn)(u64), u64 rflags)
{
    fault_reset();
    if (ring == RING0)
        fn(0);
    else
        exec_user_frame((u64)(uintptr_t)fn, 0, SEL_USER_CODE64, rflags);
}

static void run32(enum ring ring, char *fn0, char *fn3)
{
    fault_reset();
    if (ring == RING0)
        call32((u32)(uintptr_t)fn0);
    else
        exec_user32((u32)(uintptr_t)fn3, 0);
}

#define E(v, ec) ((struct expect){ (v), (ec), false, (ec), (v), false })
#define T(v) ((struct expect){ (v), 0, true, 0, (v), false })

static void set_gate_dpl(unsigned int v, unsigned int dpl)
{
    idt_set_gate(v, exc_stub_table[v], GATE_INT, dpl, 0);
}

static void both_rings(void)
{
    static const char *const rn[] = { "ring0", "ring3" };
    char n[64];

    for (int r = RING0; r <= RING3; r++) {
        enum ring ring = (enum ring)r;
#define NAME(s) (snprintk(n, sizeof(n), "%s.%s", rn[r], s), n)
        /* Traps from INT3 at CPL 3 need a DPL-3 gate (Linux gives #BP and #OF one). */
        set_gate_dpl(3, 3);
        set_gate_dpl(4, 3);

        run(ring, p_de, RFLAGS_FIXED);
        check_frame(NAME("de"), ring, false, E(0, 0));
        run(ring, p_int1, RFLAGS_FIXED);
        /* QEMU 7.2 decodes INT1 (F1) as #UD (test/qemu-deviations.ts): accepted. */
        check_frame(NAME("db_int1"), ring, false, ((struct expect){ 1, 0, true, 0, 6, true }));
        run(ring, p_int3, RFLAGS_FIXED);
        check_frame(NAME("bp_int3"), ring, false, T(3));
        run32(ring, into32_ring0, into32_ring3);
        check_frame(NAME("of_into32"), ring, true, T(4));
        run32(ring, bound32_ring0, bound32_ring3);
        check_frame(NAME("br_bound32"), ring, true, E(5, 0));
        run(ring, p_ud2, RFLAGS_FIXED);
        check_frame(NAME("ud_ud2"), ring, false, E(6, 0));

        /* INTO is invalid in 64-bit mode. */
        run(ring, p_into64, RFLAGS_FIXED);
        check_frame(NAME("ud_into64"), ring, false, E(6, 0));

        /* #NM: an x87 instruction with CR0.TS = 1 or CR0.EM = 1; WAIT with TS = MP = 1. */
        write_cr0(read_cr0() | CR0_TS);
        run(ring, p_fninit, RFLAGS_FIXED);
        write_cr0(read_cr0() & ~CR0_TS);
        check_frame(NAME("nm_ts"), ring, false, E(7, 0));
        write_cr0(read_cr0() | CR0_EM);
        run(ring, p_fninit, RFLAGS_FIXED);
        write_cr0(read_cr0() & ~CR0_EM);
        check_frame(NAME("nm_em"), ring, false, E(7, 0));
        write_cr0(read_cr0() | CR0_TS | CR0_MP);
        run(ring, p_fwait, RFLAGS_FIXED);
        write_cr0(read_cr0() & ~(CR0_TS | CR0_MP));
        check_frame(NAME("nm_wait_ts_mp"), ring, false, E(7, 0));

        /* #NP through a not-present DPL-3 gate: error code vector*8 + 2 (IDT, EXT = 0). */
        run(ring, p_int_np_gate, RFLAGS_FIXED);
        check_frame(NAME("np_gate"), ring, false,
                    ((struct expect){ 11, VEC_NP_GATE * 8 + 2, false, VEC_NP_GATE * 16 + 2, 11, false }));
        run(ring, ring == RING0 ? p_np_seg0 : p_np_seg3, RFLAGS_FIXED);
        check_frame(NAME("np_segment"), ring, false, E(11, ring == RING0 ? SEL_NP_DATA0 : SEL_NP_DATA3));

        run(ring, p_ss_noncanon, RFLAGS_FIXED);
        /* QEMU 7.2 raises #GP(0) for every non-canonical address: accepted. */
        check_frame(NAME("ss_noncanonical"), ring, false, ((struct expect){ 12, 0, false, 0, 13, false }));
        if (ring == RING3) {
            run(ring, p_push_noncanon, RFLAGS_FIXED);
            check_frame(NAME("ss_push_noncanonical"), ring, false, ((struct expect){ 12, 0, false, 0, 13, false }));
        }
        run(ring, p_gp_noncanon, RFLAGS_FIXED);
        check_frame(NAME("gp_noncanonical"), ring, false, E(13, 0));

        /* INT3 through a DPL-0 gate at CPL 3: #GP(3*8 + 2); at CPL 0 it is delivered. */
        set_gate_dpl(3, 0);
        run(ring, p_int3, RFLAGS_FIXED);
        check_frame(NAME("bp_int3_dpl0_gate"), ring, false,
                    ring == RING0 ? T(3) : ((struct expect){ 13, 3 * 8 + 2, false, 3 * 16 + 2, 13, false }));
        set_gate_dpl(3, 3);

        /* #PF: not present (read), read-only (write); at CPL 3 also a supervisor page. */
        pte_clear(pf_page, PTE_P);
        run(ring, p_pf_read, RFLAGS_FIXED);
        check_frame(NAME("pf_not_present_read"), ring, false, E(14, ring == RING0 ? 0 : 4));
        pte_set(pf_page, PTE_P);
        pte_clear(pf_page, PTE_W);
        run(ring, p_pf_write, RFLAGS_FIXED);
        check_frame(NAME("pf_readonly_write"), ring, false, E(14, ring == RING0 ? 3 : 7));
        pte_set(pf_page, PTE_W);
        if (ring == RING3) {
            pte_clear(pf_page, PTE_U);
            run(ring, p_pf_read, RFLAGS_FIXED);
            check_frame(NAME("pf_supervisor_read"), ring, false, E(14, 5));
            pte_set(pf_page, PTE_U);
        }

        /* #AC: CR0.AM = 1 and RFLAGS.AC = 1; only CPL 3 is checked (SDM Vol. 3A §6.15 Interrupt 17). */
        write_cr0(read_cr0() | (1UL << 18));
        if (ring == RING0) {
            asm volatile("pushfq; orl $0x40000, (%%rsp); popfq" ::: "cc", "memory");
            run(ring, p_ac, 0);
            asm volatile("pushfq; andl $~0x40000, (%%rsp); popfq" ::: "cc", "memory");
        } else {
            run(ring, p_ac, RFLAGS_FIXED | RFLAGS_AC);
        }
        write_cr0(read_cr0() & ~(1UL << 18));
        /* QEMU 7.2 TCG has no alignment checking (test/qemu-deviations.ts): only the fault
         * line is printed, and no fault is accepted. */
        print_summary(rn[r], "ac_unaligned", ring == RING0 ? ~0UL : 17);
        /* #SS(0): a push past the limit of SS in compatibility mode.  QEMU 7.2 checks no
         * data-access limits (test/qemu-deviations.ts): only the fault line is printed,
         * and no fault is accepted. */
        sslimit_sel = ring == RING0 ? SEL_LIM_SS0 : SEL_LIM_SS3 | 3;
        run32(ring, sslimit32_ring0, sslimit32_ring3);
        print_summary(rn[r], "ss_limit32", 12);
#undef NAME
    }
}

/* #TS: the gate names IST1 but the TSS limit ends before TSS.IST1 (offset 0x24). */
static void ts_cases(void)
{
    tss_set_limit(0x23);
    ltr_tss();
    idt_set_gate(6, exc_stub_table[6], GATE_INT, 0, 1);
    for (int r = RING0; r <= RING3; r++) {
        run((enum ring)r, p_ud2, RFLAGS_FIXED);
        check_frame(r == RING0 ? "ring0.ts_ist_beyond_limit" : "ring3.ts_ist_beyond_limit", (enum ring)r, false,
                    ((struct expect){ 10, SEL_TSS | 1, false, SEL_TSS, 10, false }));
    }
    idt_set_gate(6, exc_stub_table[6], GATE_INT, 0, 0);

    /* INT n at CPL 3 to a DPL-1 code segment switches to TSS.RSP1 (offset 0x0c..0x13):
     * limit 0x12 does not cover it (#TS(TSS selector), EXT = 0 for INT n), 0x13 does. */
    u64 lo, hi;
    idt_set_gate(VEC_RING1, (u64)(uintptr_t)ring1_stub, GATE_INT, 3, 0);
    idt_get_gate(VEC_RING1, &lo, &hi);
    idt_set_gate_raw(VEC_RING1, (lo & ~0xffff0000UL) | ((u64)SEL_CODE_DPL1 << 16), hi);
    user_tss.rsp1 = (u64)(uintptr_t)ring1_stack + sizeof(ring1_stack) - 8;     /* misaligned */
    tss_set_limit(0x12);
    ltr_tss();
    run(RING3, p_int_ring1, RFLAGS_FIXED);
    check_frame("ring3.ts_rsp1_beyond_limit", RING3, false, E(10, SEL_TSS));
    tss_set_limit(0x13);
    ltr_tss();
    run(RING3, p_int_ring1, RFLAGS_FIXED);
    print_fault("ring3.to_ring1", probe_label);
    printk("ring3.to_ring1.handler_cs: 0x%lx\n", ring1_seen[0]);
    printk("ring3.to_ring1.handler_ss: 0x%lx\n", ring1_seen[1]);
    printk("ring3.to_ring1.handler_rsp: rsp1-0x%lx\n", user_tss.rsp1 - ring1_seen[2]);
    printk("ring3.to_ring1.frame_cs: 0x%lx\n", ring1_seen[3]);
    printk("ring3.to_ring1.frame_ss: 0x%lx\n", ring1_seen[5]);
    if (last_fault.count || ring1_seen[0] != (SEL_CODE_DPL1 | 1) || ring1_seen[1] != 1 ||
        ring1_seen[2] != ((user_tss.rsp1 & ~15UL) - 40) || ring1_seen[3] != SEL_USER_CODE64 ||
        ring1_seen[5] != SEL_USER_DATA)
        test_fail("ring3.to_ring1: expected CPL 1 on TSS.RSP1 with SS = null(RPL 1)");
    tss_set_limit(sizeof(user_tss) - 1);
    ltr_tss();
}

/* The gate and its target code segment (Vol. 2 INT n "Operation", IA-32e mode), checked
 * with INT n at CPL 0 (EXT = 0): each failing check faults at the INT instruction. */
#define VEC_GATE 0x89
PROBE(p_int_gate, "sub $8, %%rsp", "int $" STR(VEC_GATE), "add $8, %%rsp")

static void gate_case(const char *name, u64 lo, u64 hi, struct expect e)
{
    idt_set_gate_raw(VEC_GATE, lo, hi);
    run(RING0, p_int_gate, RFLAGS_FIXED);
    check_frame(name, RING0, false, e);
}

static void gate_checks(void)
{
    u64 lo, hi;
    idt_set_gate(VEC_GATE, (u64)(uintptr_t)if_stub, GATE_INT, 0, 0);
    idt_get_gate(VEC_GATE, &lo, &hi);
#define SEL(s) ((lo & ~0xffff0000UL) | ((u64)(s) << 16))
    gate_case("gate.call_gate_type", (lo & ~(0xfUL << 40)) | (0xcUL << 40), hi,
              ((struct expect){ 13, VEC_GATE * 8 + 2, false, VEC_GATE * 16 + 2, 13, false }));
    gate_case("gate.target_null", SEL(0), hi, E(13, 0));
    gate_case("gate.target_beyond_gdt", SEL(0x1000), hi, E(13, 0x1000));
    gate_case("gate.target_data", SEL(SEL_DATA), hi, E(13, SEL_DATA));
    gate_case("gate.target_dpl3_from_cpl0", SEL(SEL_USER_CODE64), hi, E(13, SEL_USER_CODE64 & ~3));
    gate_case("gate.target_not_64bit", SEL(SEL_CODE32), hi, E(13, SEL_CODE32));
    gate_case("gate.target_not_present", SEL(SEL_NP_CODE0), hi, E(11, SEL_NP_CODE0));
#undef SEL
    idt_set_gate(VEC_GATE, 0, 0, 0, 0);
}

/* Interrupt gate vs trap gate: IF in the handler (PUSHFQ there) and in the frame. */
static void gate_kinds(void)
{
    /* Mask the 8259 PICs: with IF = 1 no platform interrupt may arrive (QEMU has them). */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    idt_set_gate(VEC_IF_INT, (u64)(uintptr_t)if_stub, GATE_INT, 3, 0);
    idt_set_gate(VEC_IF_TRAP, (u64)(uintptr_t)if_stub, GATE_TRAP, 3, 0);
    static const char *const names[2][2] = {
        { "ring0.interrupt_gate", "ring0.trap_gate" }, { "ring3.interrupt_gate", "ring3.trap_gate" },
    };
    for (int r = RING0; r <= RING3; r++) {
        for (int k = 0; k < 2; k++) {
            handler_rflags = 0;
            if (r == RING0) {
                asm volatile("sti" ::: "memory");
                (k ? p_int_if_trap : p_int_if_int)(0);
                asm volatile("cli" ::: "memory");
            } else {
                exec_user_frame((u64)(uintptr_t)(k ? p_int_if_trap : p_int_if_int), 0, SEL_USER_CODE64,
                                RFLAGS_FIXED | RFLAGS_IF);
            }
            u64 in_handler = (handler_rflags >> 9) & 1;
            u64 in_frame = (handler_rflags >> 32 >> 9) & 1;
            printk("%s.handler_if: %lu\n", names[r][k], in_handler);
            printk("%s.frame_if: %lu\n", names[r][k], in_frame);
            if (in_handler != (u64)k || in_frame != 1)
                test_fail("%s: IF %lu in the handler, %lu in the frame", names[r][k], in_handler, in_frame);
        }
    }
}

void test_main(void)
{
    ring3_init();
    user_gdt[SEL_NP_DATA0 / 8] = seg_descriptor(0, 0xfffff, 0x12, 0xc);
    user_gdt[SEL_NP_DATA3 / 8] = seg_descriptor(0, 0xfffff, 0x72, 0xc);
    user_gdt[SEL_LIM_SS0 / 8] = seg_descriptor(0, 0xfff, 0x92, 0x4);
    user_gdt[SEL_LIM_SS3 / 8] = seg_descriptor(0, 0xfff, 0xf2, 0x4);
    user_gdt[SEL_NP_CODE0 / 8] = seg_descriptor(0, 0xfffff, 0x1a, 0xa);
    user_gdt[SEL_CODE_DPL1 / 8] = seg_descriptor(0, 0xfffff, 0xba, 0xa);
    u64 lo, hi;
    idt_set_gate(VEC_NP_GATE, (u64)(uintptr_t)if_stub, GATE_INT, 3, 0);
    idt_get_gate(VEC_NP_GATE, &lo, &hi);
    idt_set_gate_raw(VEC_NP_GATE, lo & ~(1UL << 47), hi);     /* P = 0 */
    /* TSS.RSP0 misaligned by 8: delivery from CPL 3 must align it (§6.14.2). */
    user_rsp0_bias = 8;
    both_rings();
    ts_cases();
    gate_checks();
    gate_kinds();
}
