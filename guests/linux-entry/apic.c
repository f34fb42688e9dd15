/*
 * linux-entry: the kernel's local APIC timer interrupt, as Linux takes it (only built with
 * LINUX_APIC_TIMER: the interrupt benchmark LINUX_IRQ_BENCH and the mix benchmark
 * LINUX_MIX_BENCH; the default kernel enables no interrupt source).
 *
 * - The APIC: x2APIC (MSRs, SDM Vol. 3A §11.12) when CPUID.1:ECX[21] enumerates it, as Linux
 *   prefers it, else xAPIC through its page at 0xFEE00000 (§11.4.1), mapped supervisor-only.
 *   Software-enabled through the SVR (§11.4.7), LINT0/LINT1 masked (a PC firmware leaves the
 *   8259's timer on LINT0).
 * - LOCAL_TIMER_VECTOR 0xec (Linux's arch/x86/include/asm/irq_vectors.h) in a DPL-0 interrupt
 *   gate: IF = 0 in the handler (SDM Vol. 3A §6.12.1.3).  Its entry, asm_sysvec_apic_timer_
 *   interrupt in entry.S, is Linux's idtentry_sysvec shape: the error-code slot, SWAPGS when it
 *   came from CPL 3, pt_regs, the C handler below, and back by the IRET path it came from.
 * - The handler counts the tick in the per-CPU area through %gs, as Linux's this_cpu_inc()
 *   (so a missing SWAPGS miscounts), publishes the count in vvar, counts it by the CPL it
 *   interrupted, and writes EOI (§11.8.5).  At the
 *   LINUX_IRQ_BENCH-th periodic tick it stops the timer (initial count 0: §11.5.4) and reads
 *   the TSC, the end of the measured window.
 * - Calibration, as Linux's calibrate_APIC_clock measures the timer against a reference clock:
 *   a one-shot count (divide by 1) waited for with STI; HLT (SDM HLT: the interrupt resumes
 *   it), against the TSC.  This tick interrupts CPL 0.
 */
#include "linux.h"

#ifdef LINUX_APIC_TIMER

#define LOCAL_TIMER_VECTOR 0xec

#define MSR_APIC_BASE   0x1b
#define APIC_BASE_EXTD  (1UL << 10)
#define APIC_BASE_EN    (1UL << 11)
#define APIC_MMIO       0xfee00000UL

/* Register offsets in the xAPIC page; the x2APIC MSR is 0x800 + offset / 16 (§11.12.1.2). */
#define APIC_EOI    0xb0
#define APIC_SVR    0xf0
#define APIC_LVTT   0x320
#define APIC_LVT0   0x350
#define APIC_LVT1   0x360
#define APIC_TMICT  0x380
#define APIC_TDCR   0x3e0

#define LVT_MASKED   (1u << 16)
#define LVT_PERIODIC (1u << 17)

#define CALIBRATE_COUNT 1000000000UL

extern char asm_sysvec_apic_timer_interrupt[];

struct irq_stats irq_stats;
static bool x2apic;

static void apic_write(u32 reg, u32 v)
{
    if (x2apic)
        wrmsr(0x800 + reg / 16, v);
    else
        *(volatile u32 *)(APIC_MMIO + reg) = v;
}

static inline u64 rdtsc(void)
{
    u32 lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

/* this_cpu_inc_return(apic_timer_irqs) */
static u64 count_tick(void)
{
    u64 n;
    asm volatile("movq %%gs:%c1, %0; incq %0; movq %0, %%gs:%c1"
                 : "=&r"(n) : "i"(PERCPU_APIC_TIMER_IRQS) : "memory");
    return n;
}

void sysvec_apic_timer_interrupt(struct pt_regs *regs)
{
    if (regs->cs & 3)
        irq_stats.from_user++;
    else
        irq_stats.from_kernel++;
    vvar.timer_ticks = count_tick();
    if (vvar.timer_ticks == irq_stats.target) {
        apic_write(APIC_TMICT, 0);
        irq_stats.end_tsc = rdtsc();
    }
    apic_write(APIC_EOI, 0);
}

/* Count `target` ticks of the timer in `mode` from now, every `count` counts. */
static void apic_timer_start(u32 mode, u64 count, u64 target)
{
    vvar.timer_ticks = 0;
    asm volatile("movq $0, %%gs:%c0" :: "i"(PERCPU_APIC_TIMER_IRQS) : "memory");
    irq_stats.from_user = irq_stats.from_kernel = 0;
    irq_stats.target = target;
    apic_write(APIC_LVTT, mode | LOCAL_TIMER_VECTOR);
    irq_stats.start_tsc = rdtsc();
    apic_write(APIC_TMICT, (u32)count);
}

/* Map (xAPIC) and enable the APIC, install the timer's gate, calibrate the timer. */
void apic_timer_init(void)
{
    x2apic = (cpuid(1, 0).ecx >> 21) & 1;
    if (x2apic) {
        wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN | APIC_BASE_EXTD);
    } else {
        boot_pdpt[3] = 0xc0000000UL | PTE_P | PTE_W | PTE_PS;  /* the 4th GiB, supervisor */
        write_cr3(read_cr3());
    }
    idt_set_gate(LOCAL_TIMER_VECTOR, (u64)(uintptr_t)asm_sysvec_apic_timer_interrupt, GATE_INT, 0, 0);
    idt_set_limit(256);
    apic_write(APIC_SVR, 0x1ff);
    apic_write(APIC_LVT0, LVT_MASKED);
    apic_write(APIC_LVT1, LVT_MASKED);
    apic_write(APIC_TDCR, 0xb);                                 /* divide by 1 */

    /* The one-shot tick ends a window measured as the periodic one is (start_tsc, end_tsc),
     * so the two windows' fixed parts (TMICT write, delivery, entry) nearly cancel; a long
     * count keeps what is left far below one period for any number of periodic ticks. */
    apic_timer_start(0, CALIBRATE_COUNT, 1);
    while (vvar.timer_ticks == 0)
        asm volatile("sti; hlt; cli" ::: "memory");
    irq_stats.calibrate_tsc = irq_stats.end_tsc - irq_stats.start_tsc;
    irq_stats.calibrate_count = CALIBRATE_COUNT;
}

/* Start the periodic timer: an interrupt every `period` counts, `target` of them (none if 0). */
void apic_timer_periodic(u64 period, u64 target)
{
    apic_timer_start(LVT_PERIODIC, target ? period : 0, target);
}

/* Stop the timer before its target (initial count 0: §11.5.4) and end the window there; the
 * ticks counted stay in vvar.timer_ticks. */
void apic_timer_stop(void)
{
    apic_write(APIC_TMICT, 0);
    irq_stats.end_tsc = rdtsc();
}

#endif /* LINUX_APIC_TIMER */
