// The CPU model a profile selects: vendor flavour and whether FRED is enumerated.
// CPUID (cpuid.ts) advertises exactly what this model implements.

export interface CpuModelOptions {
  vendor: 'intel' | 'amd';
  fred: boolean;
}

/** Physical-address width reported by CPUID.80000008H and used for reserved-bit checks.
 *  40 bits, as QEMU's TCG `-cpu max` reports, so both oracles agree on reserved bits. */
export const MAXPHYADDR = 40;

/** Linear-address width with 4-level paging: the canonical check of the hot path. */
export const LINEAR_BITS_4LEVEL = 48;

/** Maximum linear-address width, reported by CPUID.80000008H:EAX[15:8]: 57, since 5-level
 *  paging (CR4.LA57, SDM Vol. 3A §4.5) is supported. */
export const LINEAR_BITS = 57;

/** Virtual TSC rate: RDTSC reads the retired-instruction count times this (deterministic runs). */
export const TSC_PER_INSTRUCTION = 1;

/** The local APIC timer's input clock (apic-timer.ts): one count per tick before its divide
 *  configuration, so it runs at the TSC rate; a count of N with divide 1 spans N ticks. */
export const APIC_TIMER_TICKS_PER_COUNT = 1;
