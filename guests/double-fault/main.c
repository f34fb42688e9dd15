/*
 * double-fault: how a second exception during the delivery of a first one is handled
 * (Intel SDM Vol. 3A §6.15, Interrupt 8 "Double Fault Exception (#DF)", Tables 6-4 and
 * 6-5), and the triple fault.
 *
 * What the architecture requires:
 * - Exceptions fall in three classes: benign (#DB, NMI, #BP, #OF, #BR, #UD, #NM, #MF,
 *   #AC, #MC, #XM, ...), contributory (#DE, #TS, #NP, #SS, #GP) and page faults (#PF).
 * - Benign first, anything second: the second is simply delivered (serially).
 * - Contributory then contributory: #DF.  #PF then #PF or contributory: #DF.
 * - Contributory then #PF: the #PF is delivered (serially), not #DF.
 * - #DF is an abort with error code 0; its saved CS:RIP are undefined, so this guest
 *   never prints them; the handler here runs on IST1 and resumes the test elsewhere.
 * - A fault while delivering #DF shuts the processor down (triple fault); with
 *   -no-reboot QEMU exits, and Ringside ends the run with the verdict `crash`.  Built
 *   with TRIPLE=1 this guest does that as its last step, after printing everything
 *   (test/triple-fault.test.ts asserts the verdict on both).
 * A second exception raised while delivering an exception has EXT = 1 in its error
 * code (§6.13).  Each case prints what was delivered.
 */
#include "ringside.h"

#define NONCANON 0x8000000000000000UL

extern u64 df_try(void (*fn)(void));
extern char df_stub[];
extern volatile u64 df_error, df_frame;
volatile u64 probe_label;
u8 absent_page[4096] __attribute__((aligned(4096)));
u8 bad_stack_page[4096] __attribute__((aligned(4096)));

static u64 saved_lo[32], saved_hi[32];

static void save_gate(unsigned int v) { idt_get_gate(v, &saved_lo[v], &saved_hi[v]); }
static void restore_gate(unsigned int v) { idt_set_gate_raw(v, saved_lo[v], saved_hi[v]); }

static void gate_not_present(unsigned int v)
{
    save_gate(v);
    idt_set_gate_raw(v, saved_lo[v] & ~(1UL << 47), saved_hi[v]);
}

static void gate_selector(unsigned int v, u16 sel)
{
    save_gate(v);
    idt_set_gate_raw(v, (saved_lo[v] & ~0xffff0000UL) | ((u64)sel << 16), saved_hi[v]);
}

static void gate_ist(unsigned int v, unsigned int ist)
{
    save_gate(v);
    idt_set_gate_raw(v, (saved_lo[v] & ~(7UL << 32)) | ((u64)ist << 32), saved_hi[v]);
}

/* The first exceptions, each at a recorded label (1:) with a fixup (2:). */
#define FIRST(fn, setup, insn)                                                     \
    static void fn(void)                                                           \
    {                                                                              \
        asm volatile("lea 1f(%%rip), %%rax\n\tmov %%rax, probe_label(%%rip)\n\t"   \
                     setup "\n\t1: " insn "\n2:\n\t" EXTABLE(1b, 2b)               \
                     ::: "rax", "rcx", "rdx", "rsi", "memory", "cc");              \
    }

FIRST(f_ud, "", "ud2")
FIRST(f_de, "xor %%edx, %%edx\n\tmov $1, %%eax\n\txor %%ecx, %%ecx", "div %%ecx")
FIRST(f_gp, "movabs $0x8000000000000000, %%rsi", "mov (%%rsi), %%rax")
FIRST(f_np, "mov $" STR(SEL_SPARE) ", %%eax", "mov %%eax, %%es")
FIRST(f_pf, "lea absent_page(%%rip), %%rsi", "mov (%%rsi), %%rax")
/* #UD with a non-canonical RSP at CPL 0: delivering it raises #SS(1) (benign then
 * contributory: serial), delivering that #SS raises #SS again: #DF (on IST1). */
FIRST(f_ud_bad_rsp, "mov %%rsp, %%rdx\n\tmovabs $0x8000000000000040, %%rsp", "ud2\n\tmov %%rdx, %%rsp")

static void print_delivered(const char *name, bool df)
{
    if (df) {
        printk("%s.delivered: #DF\n", name);
        printk("%s.df.error_code: 0x%lx\n", name, df_error);
        printk("%s.df.frame: ist1-0x%lx\n", name, ist_top(1) - df_frame);
    } else if (last_fault.count) {
        printk("%s.delivered: %s\n", name, exc_name((unsigned int)last_fault.vector));
        printk("%s.error_code: 0x%lx\n", name, last_fault.error_code);
        printk("%s.rip: label+0x%lx\n", name, last_fault.rip - probe_label);
    } else {
        printk("%s.delivered: nothing\n", name);
    }
}

static void expect_df(const char *name, void (*fn)(void))
{
    fault_reset();
    df_error = ~0UL;
    bool df = df_try(fn);
    print_delivered(name, df);
    if (!df || df_error != 0 || ist_top(1) - df_frame != 48)
        test_fail("%s: expected #DF(0) on IST1", name);
}

/* alt_ec: a documented QEMU deviation (test/qemu-deviations.ts), or ec. */
static void expect_serial(const char *name, void (*fn)(void), u64 vector, u64 ec, u64 alt_ec)
{
    fault_reset();
    bool df = df_try(fn);
    print_delivered(name, df);
    if (df || !last_fault.count || last_fault.vector != vector ||
        (last_fault.error_code != ec && last_fault.error_code != alt_ec) || last_fault.rip != probe_label)
        test_fail("%s: expected %s(0x%lx) at the first fault's instruction", name,
                  exc_name((unsigned int)vector), ec);
}

void test_main(void)
{
    ring3_init();
    user_gdt[SEL_SPARE / 8] = seg_descriptor(0, 0xfffff, 0x12, 0xc);    /* data, not present */
    idt_set_gate(8, (u64)(uintptr_t)df_stub, GATE_INT, 0, 1);
    pte_clear(absent_page, PTE_P);
    pte_clear(bad_stack_page, PTE_P);
    user_tss.ist[1] = (u64)(uintptr_t)bad_stack_page + PAGE_SIZE;        /* IST2: unmapped */

    /* Benign, then contributory: #UD through a not-present gate is #NP(6*8+2+EXT). */
    gate_not_present(6);
    expect_serial("benign_then_np", f_ud, 11, 6 * 8 + 3, 6 * 16 + 2);
    restore_gate(6);
    /* Benign, then contributory: #UD through a gate whose CS is a data segment: #GP(sel+EXT). */
    gate_selector(6, SEL_DATA);
    expect_serial("benign_then_gp", f_ud, 13, SEL_DATA | 1, SEL_DATA);
    restore_gate(6);

    /* Contributory, then contributory: #DF. */
    gate_not_present(0);
    expect_df("de_then_np", f_de);
    restore_gate(0);
    gate_not_present(13);
    expect_df("gp_then_np", f_gp);
    restore_gate(13);
    gate_selector(11, SEL_DATA);
    expect_df("np_then_gp", f_np);
    restore_gate(11);

    expect_df("ud_then_ss_then_ss", f_ud_bad_rsp);

    /* #PF, then #PF (its IST stack is not mapped): #DF. */
    gate_ist(14, 2);
    expect_df("pf_then_pf", f_pf);
    restore_gate(14);
    /* #PF, then contributory (#NP: its gate is not present): #DF. */
    gate_not_present(14);
    expect_df("pf_then_np", f_pf);
    restore_gate(14);

    /* Contributory, then #PF (the #GP's IST stack is not mapped): the #PF is delivered. */
    gate_ist(13, 2);
    fault_reset();
    bool df = df_try(f_gp);
    print_delivered("gp_then_pf", df);
    printk("gp_then_pf.cr2_page: %s\n",
           (last_fault.cr2 & ~0xfffUL) == (u64)(uintptr_t)bad_stack_page ? "ist2 stack" : "other");
    if (df || last_fault.vector != 14 || last_fault.error_code != 2 ||
        (last_fault.cr2 & ~0xfffUL) != (u64)(uintptr_t)bad_stack_page || last_fault.rip != probe_label)
        test_fail("gp_then_pf: expected #PF(2) on the IST2 stack at the #GP's instruction");
    restore_gate(13);

#ifdef TRIPLE
    /* A fault while delivering #DF: shutdown.  Nothing may be printed after this. */
    puts("triple: expecting a triple fault now\n");
    gate_not_present(8);
    gate_not_present(13);
    df_try(f_gp);
    test_fail("triple: the run continued after a fault during #DF delivery");
#endif
}
