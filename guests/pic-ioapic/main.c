/*
 * pic-ioapic: the PC's legacy 8259A pair and its I/O APIC, as a kernel programs and masks them
 * (Intel 8259A datasheet, order number 231468: "Initialization Command Words", "Operation
 * Command Words", "Poll Command", "Reading the 8259A Status"; Intel 82093AA I/O APIC
 * datasheet, order number 290566, §3.2 "Register Description", and the I/O APIC chapter of
 * the ICH datasheets for the version-0x20 EOI register; the ELCR of the PIIX/ICH chipsets;
 * Intel SDM Vol. 3A §11.8.4 "Interrupt Acceptance for Fixed Interrupts" and §11.8.5
 * "Signaling Interrupt Servicing Completion" for the local APIC's TMR and EOI broadcast).
 *
 * Interrupts are raised on ISA lines through QEMU's pc-testdev (a byte written to port
 * 0x2000 + n drives ISA IRQ n), which on a PC reaches both the 8259 input and the I/O APIC
 * pin of that number, ISA IRQ0 arriving at pin 2 (the PC's interrupt source override).
 *
 * What the documents require, and what is printed:
 * - 8259A ICW1 clears the IMR; ICW2-ICW4 follow on the odd port; then OCW1 writes the IMR
 *   and a read of the odd port returns it. OCW3 with RR = 1 selects what the even port
 *   reads: IRR (RIS = 0, also the state after ICW1) or ISR (RIS = 1).
 * - An edge on a masked line still sets its IRR bit (the IMR masks only the request to the
 *   CPU). With OCW3's P bit, the next read is an acknowledge: 0x80 | the highest unmasked
 *   request's level, which moves from IRR to ISR; a non-specific EOI (OCW2 0x20) or a
 *   specific one (0x60 | level) clears it from the ISR.
 * - ELCR: the edge/level bits of lines 0-2 (ELCR1 bits 0-2) and 8 and 13 (ELCR2 bits 0, 5)
 *   are fixed at 0 on the PC chipsets; a level-sensitive line's IRR bit follows the line.
 * - I/O APIC: IOREGSEL at 0xFEC00000 selects, IOWIN at 0xFEC00010 accesses. Register 1:
 *   version and maximum redirection entry (bits 23:16); register 0: the ID in bits 27:24;
 *   register 2: arbitration ID, which the ID write loads. Redirection entries: delivery
 *   status (bit 12) and remote IRR (bit 14) are read-only; the mask bit (16) is writable.
 * - An edge-triggered entry sends its vector on a rising edge: the local APIC's IRR bit is
 *   set with its TMR bit clear (§11.8.4); with IF = 1 the interrupt is taken.
 * - A level-triggered entry sends while the line is asserted and sets remote IRR; the local
 *   APIC sets the TMR bit; its EOI is broadcast to the I/O APIC (§11.8.5), which clears
 *   remote IRR and, with the line still asserted, sends again (two interrupts for one
 *   assertion whose first handler leaves the line high).
 * - The I/O APIC's EOI register (version 0x20) clears remote IRR for a vector too.
 * - A masked level-triggered entry sends nothing; unmasking it with the line asserted sends.
 *   An edge on a masked edge-triggered pin is ignored, not held (82093AA, mask bit).
 * The local APIC's LINT0 (where firmware routes the 8259, QEMU's SeaBIOS in ExtINT mode) is
 * masked first, and every 8259 line stays masked while the 8259 is looked at.
 * Not printed: anything the firmware left before the guest initialises a device (QEMU's
 * SeaBIOS programs both; Ringside boots without firmware), IRR bits of lines the guest does
 * not drive (QEMU's PIT raises IRQ0), an edge IRR bit after its line falls (the datasheet
 * requires the line to stay high until the acknowledge), and reserved redirection bits.
 */
#include "ringside.h"
#include "apic.h"

#define IOAPIC_BASE 0xfec00000UL
#define IOAPIC_EOI  0x40

#define PIC1 0x20
#define PIC2 0xa0
#define ELCR1 0x4d0
#define ELCR2 0x4d1
#define TESTDEV_IRQ 0x2000

#define RTE_DELIVERY_STATUS (1u << 12)
#define RTE_REMOTE_IRR      (1u << 14)
#define RTE_LEVEL           (1u << 15)
#define RTE_MASKED          (1u << 16)

static inline u8 inb(u16 port) { u8 v; asm volatile("inb %w1, %b0" : "=a"(v) : "Nd"(port)); return v; }
static inline void cli(void) { asm volatile("cli" ::: "memory"); }
static inline void sti_nop(void) { asm volatile("sti; nop" ::: "memory"); }

static u32 ioapic_read(u32 reg)
{
    *(volatile u32 *)IOAPIC_BASE = reg;
    return *(volatile u32 *)(IOAPIC_BASE + 0x10);
}

static void ioapic_write(u32 reg, u32 v)
{
    *(volatile u32 *)IOAPIC_BASE = reg;
    *(volatile u32 *)(IOAPIC_BASE + 0x10) = v;
}

static u32 apic_id;

/* Print an observation and fail when it is not what the documents require. */
#define EXPECT(name, fmt, got, want) do { \
        u32 got_ = (got); \
        printk(name ": " fmt "\n", got_); \
        if (got_ != (u32)(want)) test_fail(name ": " fmt ", expected " fmt, got_, (u32)(want)); \
    } while (0)

/* Redirection entry `pin`: vector, trigger and mask; fixed delivery, physical destination
 * this CPU's APIC ID. */
static void route(u32 pin, u32 vector, u32 flags)
{
    ioapic_write(0x11 + 2 * pin, apic_id << 24);
    ioapic_write(0x10 + 2 * pin, vector | flags);
}

static u32 rte_lo(u32 pin) { return ioapic_read(0x10 + 2 * pin); }
static u32 remote_irr(u32 pin) { return (rte_lo(pin) >> 14) & 1; }
static void irq_line(u32 line, u8 level) { outb(TESTDEV_IRQ + line, level); }
static u32 apic_bit(u32 reg, u32 v) { return (apic_read(reg + (v / 32) * 0x10) >> (v % 32)) & 1; }

static volatile u32 count_71, count_72, count_73, count_74, count_75;
static volatile u32 remote_irr_in_72;

struct interrupt_frame;

__attribute__((interrupt)) static void h71(struct interrupt_frame *f) { (void)f; count_71++; apic_write(APIC_EOI, 0); }
__attribute__((interrupt)) static void h73(struct interrupt_frame *f) { (void)f; count_73++; apic_write(APIC_EOI, 0); }
__attribute__((interrupt)) static void h75(struct interrupt_frame *f) { (void)f; count_75++; apic_write(APIC_EOI, 0); }

/* Level: the first time the line is left asserted, so the EOI broadcast sends again. */
__attribute__((interrupt)) static void h72(struct interrupt_frame *f)
{
    (void)f;
    if (count_72++ == 0) remote_irr_in_72 = remote_irr(14);
    else irq_line(14, 0);
    apic_write(APIC_EOI, 0);
}

__attribute__((interrupt)) static void h74(struct interrupt_frame *f)
{
    (void)f;
    count_74++;
    irq_line(14, 0);
    apic_write(APIC_EOI, 0);
}

static void pic_init(void)
{
    /* ICW1: edge, cascade, ICW4 needed; ICW2: vector base; ICW3: slave on IR2 / ID 2;
     * ICW4: 8086 mode. */
    outb(PIC1, 0x11); outb(PIC1 + 1, 0x20); outb(PIC1 + 1, 0x04); outb(PIC1 + 1, 0x01);
    outb(PIC2, 0x11); outb(PIC2 + 1, 0x28); outb(PIC2 + 1, 0x02); outb(PIC2 + 1, 0x01);
}

static void test_pic(void)
{
    pic_init();
    EXPECT("pic.master.imr_after_icw", "0x%x", inb(PIC1 + 1), 0x0);
    EXPECT("pic.slave.imr_after_icw", "0x%x", inb(PIC2 + 1), 0x0);
    outb(PIC1 + 1, 0xff);
    outb(PIC2 + 1, 0xff);
    EXPECT("pic.master.imr", "0x%x", inb(PIC1 + 1), 0xff);
    EXPECT("pic.slave.imr", "0x%x", inb(PIC2 + 1), 0xff);
    outb(PIC2 + 1, 0xa5);
    EXPECT("pic.slave.imr_a5", "0x%x", inb(PIC2 + 1), 0xa5);
    outb(PIC2 + 1, 0xff);

    /* Every line edge-triggered, then the fixed ELCR bits. */
    outb(ELCR1, 0); outb(ELCR2, 0);
    outb(ELCR1, 0xff); outb(ELCR2, 0xff);
    EXPECT("elcr1.writable", "0x%x", inb(ELCR1), 0xf8);
    EXPECT("elcr2.writable", "0x%x", inb(ELCR2), 0xde);
    outb(ELCR1, 0); outb(ELCR2, 0);

    /* A masked edge still sets IRR (IRQ5: master IR5; IRQ14: slave IR6). */
    irq_line(5, 1);
    irq_line(14, 1);
    EXPECT("pic.master.irr.ir5", "%u", (inb(PIC1) >> 5) & 1, 1);
    EXPECT("pic.slave.irr.ir6", "%u", (inb(PIC2) >> 6) & 1, 1);
    outb(PIC1, 0x0b); /* OCW3: read ISR */
    EXPECT("pic.master.isr.ir5", "%u", (inb(PIC1) >> 5) & 1, 0);

    /* Poll with IR5 unmasked: an acknowledge without INTA (LINT0 is masked). */
    outb(PIC1 + 1, 0xdf);
    outb(PIC1, 0x0c); /* OCW3: poll */
    EXPECT("pic.poll", "0x%x", inb(PIC1), 0x85);
    EXPECT("pic.poll.isr.ir5", "%u", (inb(PIC1) >> 5) & 1, 1);
    outb(PIC1, 0x0a); /* OCW3: read IRR */
    EXPECT("pic.poll.irr.ir5", "%u", (inb(PIC1) >> 5) & 1, 0);
    outb(PIC1, 0x20); /* OCW2: non-specific EOI */
    outb(PIC1, 0x0b);
    EXPECT("pic.eoi.isr.ir5", "%u", (inb(PIC1) >> 5) & 1, 0);

    /* Again, ended by a specific EOI. */
    irq_line(5, 0);
    irq_line(5, 1);
    outb(PIC1, 0x0c);
    EXPECT("pic.poll2", "0x%x", inb(PIC1), 0x85);
    EXPECT("pic.poll2.isr.ir5", "%u", (inb(PIC1) >> 5) & 1, 1);
    outb(PIC1, 0x65); /* OCW2: specific EOI, level 5 */
    EXPECT("pic.specific_eoi.isr.ir5", "%u", (inb(PIC1) >> 5) & 1, 0);
    outb(PIC1 + 1, 0xff);
    irq_line(5, 0);

    /* A level-sensitive line (ELCR2 bit 6: IRQ14): IRR follows the line. */
    outb(ELCR2, 0x40);
    outb(PIC2, 0x0a);
    EXPECT("pic.level.irr.ir6_high", "%u", (inb(PIC2) >> 6) & 1, 1);
    irq_line(14, 0);
    EXPECT("pic.level.irr.ir6_low", "%u", (inb(PIC2) >> 6) & 1, 0);
    outb(ELCR2, 0);
}

static void test_ioapic_registers(void)
{
    u32 version = ioapic_read(1);
    EXPECT("ioapic.version", "0x%x", version & 0xff, 0x20);
    EXPECT("ioapic.max_redirection_entry", "%u", (version >> 16) & 0xff, 23);
    ioapic_write(1, ~version);
    EXPECT("ioapic.version_read_only", "%u", ioapic_read(1) == version, 1);
    u32 id = ioapic_read(0);
    ioapic_write(0, 0x0f000000);
    EXPECT("ioapic.id", "0x%x", ioapic_read(0), 0xf000000);
    EXPECT("ioapic.arbitration", "0x%x", ioapic_read(2), 0xf000000);
    ioapic_write(2, 0);
    EXPECT("ioapic.arbitration_read_only", "0x%x", ioapic_read(2), 0xf000000);
    ioapic_write(0, id);

    /* Delivery status and remote IRR ignore writes; vector, trigger and mask hold them. */
    ioapic_write(0x11 + 2 * 14, apic_id << 24);
    ioapic_write(0x10 + 2 * 14, 0x77 | RTE_DELIVERY_STATUS | RTE_REMOTE_IRR | RTE_LEVEL | RTE_MASKED);
    u32 lo = rte_lo(14);
    EXPECT("rte.vector", "0x%x", lo & 0xff, 0x77);
    EXPECT("rte.level", "%u", (lo >> 15) & 1, 1);
    EXPECT("rte.masked", "%u", (lo >> 16) & 1, 1);
    EXPECT("rte.delivery_status", "%u", (lo >> 12) & 1, 0);
    EXPECT("rte.remote_irr", "%u", (lo >> 14) & 1, 0);
    EXPECT("rte.destination", "0x%x", ioapic_read(0x11 + 2 * 14) >> 24, apic_id);
}

static void test_ioapic_delivery(void)
{
    /* Edge: one message per rising edge; TMR clear. */
    route(14, 0x71, 0);
    irq_line(14, 1);
    irq_line(14, 0);
    EXPECT("edge.irr_0x71", "%u", apic_bit(APIC_IRR, 0x71), 1);
    EXPECT("edge.tmr_0x71", "%u", apic_bit(APIC_TMR, 0x71), 0);
    sti_nop();
    cli();
    EXPECT("edge.count", "%u", count_71, 1);

    /* ISA IRQ0 arrives at pin 2. */
    route(2, 0x75, 0);
    irq_line(0, 1);
    irq_line(0, 0);
    EXPECT("irq0.pin2.irr_0x75", "%u", apic_bit(APIC_IRR, 0x75), 1);
    sti_nop();
    cli();
    EXPECT("irq0.pin2.count", "%u", count_75, 1);
    route(2, 0x75, RTE_MASKED);

    /* Level: remote IRR while in service; the EOI broadcast sends again while asserted. */
    route(14, 0x72, RTE_LEVEL);
    irq_line(14, 1);
    EXPECT("level.irr_0x72", "%u", apic_bit(APIC_IRR, 0x72), 1);
    EXPECT("level.tmr_0x72", "%u", apic_bit(APIC_TMR, 0x72), 1);
    EXPECT("level.remote_irr", "%u", remote_irr(14), 1);
    sti_nop();
    cli();
    EXPECT("level.remote_irr_in_handler", "%u", remote_irr_in_72, 1);
    EXPECT("level.count", "%u", count_72, 2);
    EXPECT("level.remote_irr_after", "%u", remote_irr(14), 0);

    /* The EOI register clears remote IRR (version 0x20). */
    route(14, 0x73, RTE_LEVEL);
    irq_line(14, 1);
    irq_line(14, 0);
    EXPECT("eoireg.remote_irr_before", "%u", remote_irr(14), 1);
    *(volatile u32 *)(IOAPIC_BASE + IOAPIC_EOI) = 0x73;
    EXPECT("eoireg.remote_irr_after", "%u", remote_irr(14), 0);
    sti_nop();
    cli();
    EXPECT("eoireg.count", "%u", count_73, 1);

    /* Masked level: nothing sent; unmasking with the line asserted sends. */
    route(14, 0x74, RTE_LEVEL | RTE_MASKED);
    irq_line(14, 1);
    EXPECT("masked_level.irr_0x74", "%u", apic_bit(APIC_IRR, 0x74), 0);
    EXPECT("masked_level.remote_irr", "%u", remote_irr(14), 0);
    route(14, 0x74, RTE_LEVEL);
    EXPECT("unmasked_level.irr_0x74", "%u", apic_bit(APIC_IRR, 0x74), 1);
    EXPECT("unmasked_level.remote_irr", "%u", remote_irr(14), 1);
    sti_nop();
    cli();
    EXPECT("unmasked_level.count", "%u", count_74, 1);
    EXPECT("unmasked_level.remote_irr_after", "%u", remote_irr(14), 0);

    /* Masked edge: ignored, and not held for the unmask. */
    route(14, 0x71, RTE_MASKED);
    irq_line(14, 1);
    irq_line(14, 0);
    route(14, 0x71, 0);
    EXPECT("masked_edge.irr_0x71", "%u", apic_bit(APIC_IRR, 0x71), 0);
    sti_nop();
    cli();
    EXPECT("masked_edge.count", "%u", count_71, 1);
    route(14, 0x71, RTE_MASKED);
}

void test_main(void)
{
    apic_map_mmio();
    idt_set_limit(256);
    idt_set_gate(0x71, (u64)h71, GATE_INT, 0, 0);
    idt_set_gate(0x72, (u64)h72, GATE_INT, 0, 0);
    idt_set_gate(0x73, (u64)h73, GATE_INT, 0, 0);
    idt_set_gate(0x74, (u64)h74, GATE_INT, 0, 0);
    idt_set_gate(0x75, (u64)h75, GATE_INT, 0, 0);

    apic_write(APIC_SVR, 0x1ff);
    /* Firmware leaves LINT0 in ExtINT mode with the 8259 on it: mask it. */
    apic_write(APIC_LVT0, LVT_MASKED);
    apic_write(APIC_LVT1, LVT_MASKED);
    apic_id = apic_read(APIC_ID) >> 24;

    test_pic();
    test_ioapic_registers();
    test_ioapic_delivery();
}
