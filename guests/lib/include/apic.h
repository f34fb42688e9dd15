/*
 * The local APIC's xAPIC page for guests (SDM Vol. 3A §11.4.1, Table 11-1 "Local APIC
 * Register Address Map"): register offsets, the LVT and ICR bits the guests use, and
 * 4-byte MMIO accessors.  The page sits at its power-on base 0xFEE00000, above the
 * library's identity map of the first GiB: apic_map_mmio() maps 3-4 GiB with one 1-GiB
 * page, which covers the I/O APIC at 0xFEC00000 too.
 */
#ifndef RINGSIDE_APIC_H
#define RINGSIDE_APIC_H

#include "ringside.h"

#define APIC_BASE   0xfee00000UL
#define APIC_ID     0x20
#define APIC_TPR    0x80
#define APIC_PPR    0xa0
#define APIC_EOI    0xb0
#define APIC_SVR    0xf0
#define APIC_ISR    0x100
#define APIC_TMR    0x180
#define APIC_IRR    0x200
#define APIC_ICR    0x300
#define APIC_ICR2   0x310
#define APIC_LVTT   0x320
#define APIC_LVT0   0x350
#define APIC_LVT1   0x360
#define APIC_TMICT  0x380
#define APIC_TMCCT  0x390
#define APIC_TDCR   0x3e0

#define LVT_MASKED       (1u << 16)
#define LVT_PERIODIC     (1u << 17)
#define LVT_TSC_DEADLINE (2u << 17)
#define ICR_NMI          (4u << 8)
#define ICR_ASSERT       (1u << 14)
#define ICR_SELF         (1u << 18)

static inline u32 apic_read(u32 reg) { return *(volatile u32 *)(APIC_BASE + reg); }
static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_BASE + reg) = v; }

/* Map 3-4 GiB (the local and I/O APIC pages) with a present, writable 1-GiB page. */
static inline void apic_map_mmio(void)
{
    boot_pdpt[3] = 0xc0000000UL | 0x83;
    write_cr3(read_cr3());
}

#endif
