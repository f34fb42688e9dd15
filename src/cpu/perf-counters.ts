// AMD's legacy performance-monitoring MSRs (AMD APM Vol. 2 §13.2.1 "Performance Counter
// MSRs"): PerfEvtSel0-3 at C001_0000h-C001_0003h and PerfCtr0-3 at C001_0004h-C001_0007h,
// which every AMD64 processor has without a CPUID bit. Intel has no MSRs there (#GP(0)).
//
// The model counts nothing, so it behaves as a machine whose counters are unused: the
// registers hold what software writes (0 at reset) and never change by themselves.
// Linux and kvm-unit-tests clear them at start-up (kvm-unit-tests' pmu_init), which is
// why they must not fault.
//
// Deliberate deviations: enabling a counter (PerfEvtSel.En, bit 22) is a model error, since
// a counter that never counts would be a silent guess; so is a write of a bit the layout
// used here does not name (the APM's reserved bits), rather than guessing #GP or a drop.
// A counter holds 48 bits; a write of bits 63:48 is a model error for the same reason.

import type { Cpu } from './cpu.js';
import { Msr } from './msrs.js';

const FIRST = 0xc0010000;
const LAST = 0xc0010007;
/** PerfEvtSel bits with a meaning: EventSelect[7:0], UnitMask, User, OS, Edge, Int, En, Inv,
 *  CntMask (31:0 but for bits 19 and 21), EventSelect[11:8] (35:32), GuestOnly and HostOnly
 *  (41:40). */
const EVTSEL_LO = ~((1 << 19) | (1 << 21));
const EVTSEL_HI = 0x30f;
const ENABLE = 1 << 22;

/** Whether RDMSR/WRMSR of this index belongs here (the AMD flavour only). */
export function isAmdPerfMsr(cpu: Cpu, index: number): boolean {
  return cpu.model.vendor === 'amd' && index >= FIRST && index <= LAST;
}

/** RDMSR: the register, low half in out[0], high half in out[1]. */
export function rdmsrPerf(cpu: Cpu, index: number, out: Int32Array): void {
  const slot = Msr.PerfEvtSel0 + (index - FIRST);
  out[0] = cpu.msrLo[slot]; out[1] = cpu.msrHi[slot];
}

/** WRMSR: store EDX:EAX. */
export function wrmsrPerf(cpu: Cpu, index: number, lo: number, hi: number): void {
  const n = index - FIRST;
  if (n < 4) {
    if ((lo & ~EVTSEL_LO) !== 0 || (hi & ~EVTSEL_HI) !== 0) cpu.modelError(`a write of a reserved bit of PerfEvtSel${n} is not modelled`);
    if ((lo & ENABLE) !== 0) cpu.modelError(`enabling AMD performance counter ${n} (PerfEvtSel${n}.En) is not modelled`);
  } else if ((hi & ~0xffff) !== 0) {
    cpu.modelError(`bits 63:48 of PerfCtr${n - 4} are not modelled`);
  }
  cpu.msrLo[Msr.PerfEvtSel0 + n] = lo;
  cpu.msrHi[Msr.PerfEvtSel0 + n] = hi;
}
