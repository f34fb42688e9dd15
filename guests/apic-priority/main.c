/*
 * apic-priority: task and processor priority, in-service nesting and EOI in the local APIC
 * (Intel SDM Vol. 3A §11.8.3 "Interrupt, Task, and Processor Priority", §11.8.3.1 "Task and
 * Processor Priorities", §11.8.4 "Interrupt Acceptance for Fixed Interrupts", §11.8.5
 * "Signaling Interrupt Servicing Completion", §11.8.6 "Task Priority in IA-32e Mode"; AMD
 * APM Vol. 2 Chapter 16, the local APIC's interrupt priority, TPR and CR8).
 *
 * Every interrupt comes from a fixed self IPI through the ICR (§11.6.1), sent with IF = 0
 * so that it waits in the IRR; it is taken at the boundary after the instruction that
 * follows STI. What the architecture requires, and what is printed:
 * - §11.8.3.1: PPR = TPR when TPR[7:4] >= ISRV[7:4] (the highest in-service vector's
 *   class), else ISRV[7:4] << 4 with PPR[3:0] = 0. Read inside the 0x55 handler with TPR
 *   0x32, 0x5A and 0x63: 0x50, 0x5A, 0x63.
 * - §11.8.3: a vector is taken only if its class (bits 7:4) is above PPR[7:4]; the low
 *   nibble of the TPR does not matter. With TPR = 0x5F, 0x5F is held and 0x60 is taken;
 *   with TPR = 0x4F, 0x50 is taken.
 * - §11.8.4: of several requests the highest vector goes first; once it is in service, a
 *   request of the same class waits for its EOI: with 0x52 and 0x58 pending, 0x58 is taken,
 *   0x52 stays in the IRR during 0x58's handler (whose ISR bit is set), and follows its EOI.
 * - Nesting: the 0x40 handler enables interrupts and takes 0x60 (higher class); that one
 *   takes 0x80. Inside 0x80's handler ISR holds 0x40, 0x60 and 0x80 and PPR is 0x80. A
 *   lower request (0x45, sent inside 0x60's handler) waits until 0x40's EOI: class 4 is
 *   not above in-service class 4.
 * - §11.8.5: EOI clears the highest ISR bit, whichever handler writes it: 0x60's handler
 *   does not write EOI; the EOI that 0x40's handler writes clears 0x60, leaving 0x40 in
 *   service, and a second EOI clears 0x40.
 * - §11.8.6: CR8[3:0] is TPR[7:4]: MOV to CR8 of 5 reads back as TPR 0x50; a TPR write of
 *   0x6A reads back as CR8 6.
 *
 * The APIC page at 0xFEE00000 is mapped with a 1-GiB identity page (PDPT entry 3); LINT0
 * and LINT1 are masked, as in apic-timer.
 */
#include "ringside.h"
#include "apic.h"

static inline void cli(void) { asm volatile("cli" ::: "memory"); }
/* Enable interrupts for a bounded wait, then disable them again. */
static void open_window(void)
{
    asm volatile("sti; nop" ::: "memory");
    for (u32 i = 0; i < 2000; i++) asm volatile("pause" ::: "memory");
    cli();
}

static u32 isr_bit(u32 v) { return (apic_read(APIC_ISR + (v / 32) * 0x10) >> (v % 32)) & 1; }
static u32 irr_bit(u32 v) { return (apic_read(APIC_IRR + (v / 32) * 0x10) >> (v % 32)) & 1; }
static void self_ipi(u32 v) { apic_write(APIC_ICR, ICR_SELF | v); }
static void eoi(void) { apic_write(APIC_EOI, 0); }

static volatile u32 order[16], norder;
static void record(u32 v) { if (norder < 16) order[norder] = v; norder++; }

static void expect_order(const char *name, const u32 *want, u32 n)
{
    printk("%s:", name);
    for (u32 k = 0; k < norder && k < 16; k++) printk(" 0x%x", order[k]);
    printk("\n");
    bool same = norder == n;
    for (u32 k = 0; same && k < n; k++) same = order[k] == want[k];
    if (!same) test_fail("%s: not the order the SDM requires", name);
}

static void expect(const char *name, u32 got, u32 want, bool hex)
{
    printk(hex ? "%s: 0x%x\n" : "%s: %u\n", name, got);
    if (got != want) test_fail("%s: got 0x%x, expected 0x%x", name, got, want);
}

struct int_frame;

/* PPR inside 0x55's handler for three TPR values. */
static volatile u32 ppr_seen[3];
__attribute__((interrupt)) static void h55(struct int_frame *f)
{
    (void)f;
    static const u32 tprs[3] = { 0x32, 0x5a, 0x63 };
    for (u32 k = 0; k < 3; k++) { apic_write(APIC_TPR, tprs[k]); ppr_seen[k] = apic_read(APIC_PPR); }
    apic_write(APIC_TPR, 0);
    eoi();
}

#define RECORDING_HANDLER(v) \
    __attribute__((interrupt)) static void h##v(struct int_frame *f) { (void)f; record(0x##v); eoi(); }
RECORDING_HANDLER(5f)
RECORDING_HANDLER(60)
RECORDING_HANDLER(50)
RECORDING_HANDLER(52)
RECORDING_HANDLER(45)

static volatile u32 in58_isr58, in58_irr52;
__attribute__((interrupt)) static void h58(struct int_frame *f)
{
    (void)f;
    record(0x58);
    in58_isr58 = isr_bit(0x58);
    in58_irr52 = irr_bit(0x52);
    eoi();
}

/* The nesting chain: 0x40 -> 0x61 -> 0x80, and 0x45 sent inside 0x61. */
static volatile u32 in80_isr40, in80_isr61, in80_isr80, in80_ppr;
static volatile u32 after_first_eoi_isr40, after_first_eoi_isr61;

__attribute__((interrupt)) static void h80(struct int_frame *f)
{
    (void)f;
    record(0x80);
    in80_isr40 = isr_bit(0x40);
    in80_isr61 = isr_bit(0x61);
    in80_isr80 = isr_bit(0x80);
    in80_ppr = apic_read(APIC_PPR);
    eoi();
}

/* Takes 0x80, sends 0x45, and returns without EOI (0x40's handler writes it). */
__attribute__((interrupt)) static void h61(struct int_frame *f)
{
    (void)f;
    record(0x61);
    self_ipi(0x80);
    self_ipi(0x45);
    open_window();
    record(0x161); /* 0x61 returning */
}

__attribute__((interrupt)) static void h40(struct int_frame *f)
{
    (void)f;
    record(0x40);
    self_ipi(0x61);
    open_window();
    eoi(); /* §11.8.5: clears 0x61, the highest in service */
    after_first_eoi_isr40 = isr_bit(0x40);
    after_first_eoi_isr61 = isr_bit(0x61);
    record(0x140); /* 0x40 about to write its own EOI */
    eoi();
}

void test_main(void)
{
    apic_map_mmio();
    idt_set_limit(256);
    idt_set_gate(0x40, (u64)h40, GATE_INT, 0, 0);
    idt_set_gate(0x45, (u64)h45, GATE_INT, 0, 0);
    idt_set_gate(0x50, (u64)h50, GATE_INT, 0, 0);
    idt_set_gate(0x52, (u64)h52, GATE_INT, 0, 0);
    idt_set_gate(0x55, (u64)h55, GATE_INT, 0, 0);
    idt_set_gate(0x58, (u64)h58, GATE_INT, 0, 0);
    idt_set_gate(0x5f, (u64)h5f, GATE_INT, 0, 0);
    idt_set_gate(0x60, (u64)h60, GATE_INT, 0, 0);
    idt_set_gate(0x61, (u64)h61, GATE_INT, 0, 0);
    idt_set_gate(0x80, (u64)h80, GATE_INT, 0, 0);

    cli();
    apic_write(APIC_SVR, 0x1ff);
    apic_write(APIC_TPR, 0);
    apic_write(APIC_LVT0, LVT_MASKED);
    apic_write(APIC_LVT1, LVT_MASKED);

    /* PPR from TPR and the in-service class. */
    self_ipi(0x55);
    open_window();
    expect("ppr.tpr_0x32", ppr_seen[0], 0x50, true);
    expect("ppr.tpr_0x5a", ppr_seen[1], 0x5a, true);
    expect("ppr.tpr_0x63", ppr_seen[2], 0x63, true);
    expect("ppr.idle", apic_read(APIC_PPR), 0, true);

    /* Only the class is compared. */
    norder = 0;
    apic_write(APIC_TPR, 0x5f);
    self_ipi(0x5f);
    self_ipi(0x60);
    open_window();
    static const u32 want_5f[] = { 0x60 };
    expect_order("tpr_0x5f.taken", want_5f, 1);
    expect("tpr_0x5f.irr_0x5f", irr_bit(0x5f), 1, false);
    norder = 0;
    apic_write(APIC_TPR, 0x4f);
    open_window();
    self_ipi(0x50);
    open_window();
    static const u32 want_4f[] = { 0x5f, 0x50 };
    expect_order("tpr_0x4f.taken", want_4f, 2);
    apic_write(APIC_TPR, 0);

    /* Highest first; the same class waits for EOI. */
    norder = 0;
    self_ipi(0x52);
    self_ipi(0x58);
    expect("class.irr_0x52", irr_bit(0x52), 1, false);
    expect("class.irr_0x58", irr_bit(0x58), 1, false);
    open_window();
    static const u32 want_class[] = { 0x58, 0x52 };
    expect_order("class.order", want_class, 2);
    expect("class.in_0x58.isr_0x58", in58_isr58, 1, false);
    expect("class.in_0x58.irr_0x52", in58_irr52, 1, false);

    /* Nesting and EOI. */
    norder = 0;
    self_ipi(0x40);
    open_window();
    static const u32 want_nest[] = { 0x40, 0x61, 0x80, 0x161, 0x140, 0x45 };
    expect_order("nest.order", want_nest, 6);
    expect("nest.in_0x80.isr_0x40", in80_isr40, 1, false);
    expect("nest.in_0x80.isr_0x61", in80_isr61, 1, false);
    expect("nest.in_0x80.isr_0x80", in80_isr80, 1, false);
    expect("nest.in_0x80.ppr", in80_ppr, 0x80, true);
    expect("eoi.first.isr_0x61", after_first_eoi_isr61, 0, false);
    expect("eoi.first.isr_0x40", after_first_eoi_isr40, 1, false);
    u32 isr_any = 0;
    for (u32 w = 0; w < 8; w++) isr_any |= apic_read(APIC_ISR + w * 0x10);
    expect("eoi.after.isr_empty", isr_any == 0, 1, false);

    /* CR8 and TPR. */
    asm volatile("mov %0, %%cr8" :: "r"(5UL) : "memory");
    expect("cr8.write_5.tpr", apic_read(APIC_TPR), 0x50, true);
    apic_write(APIC_TPR, 0x6a);
    u64 cr8;
    asm volatile("mov %%cr8, %0" : "=r"(cr8));
    expect("cr8.after_tpr_0x6a", (u32)cr8, 6, false);
    apic_write(APIC_TPR, 0);
}
