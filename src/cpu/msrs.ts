// The MSRs the model keeps as plain registers, one slot each in a vCPU's msrLo/msrHi
// (typed halves, no BigInt: SYSCALL and event delivery read them on their fast paths).
// EFER, FS.base and GS.base live elsewhere (cpu.efer, the segment registers), and the TSC
// is derived from virtual time.

import * as M from '../arch/msr.js';

export const enum Msr {
  Star = 0,
  Lstar,
  Cstar,
  Fmask,
  KernelGsBase,
  SysenterCs,
  SysenterEsp,
  SysenterEip,
  TscAux,
  Pat,
  MiscEnable,
  ApicBase,
  /** IA32_MCG_CTL, then IA32_MCi_CTL of each bank (machine-check.ts); the other bank MSRs are always 0. */
  McgCtl,
  Mc0Ctl,
  /** AMD's legacy PerfEvtSel0-3 then PerfCtr0-3 (perf-counters.ts). */
  PerfEvtSel0 = Mc0Ctl + 10,
  PerfCtr0 = PerfEvtSel0 + 4,
  /** IA32_FRED_RSP0..3, IA32_FRED_STKLVLS, IA32_FRED_SSP1..3, IA32_FRED_CONFIG (fred.ts);
   *  accessible only when FRED is enumerated. */
  FredRsp0 = PerfCtr0 + 4,
  FredStklvls = FredRsp0 + 4,
  FredSsp1,
  FredConfig = FredSsp1 + 3,
  Count,
}

/** Slot names, in Msr order: the keys of a captured state's `msrs`. */
export const MSR_NAMES = ['star', 'lstar', 'cstar', 'fmask', 'kernelGsBase', 'sysenterCs', 'sysenterEsp',
  'sysenterEip', 'tscAux', 'pat', 'miscEnable', 'apicBase', 'mcgCtl', 'mc0Ctl', 'mc1Ctl', 'mc2Ctl', 'mc3Ctl', 'mc4Ctl',
  'mc5Ctl', 'mc6Ctl', 'mc7Ctl', 'mc8Ctl', 'mc9Ctl', 'perfEvtSel0', 'perfEvtSel1', 'perfEvtSel2', 'perfEvtSel3',
  'perfCtr0', 'perfCtr1', 'perfCtr2', 'perfCtr3', 'fredRsp0', 'fredRsp1', 'fredRsp2', 'fredRsp3', 'fredStklvls',
  'fredSsp1', 'fredSsp2', 'fredSsp3', 'fredConfig'] as const;
export type MsrName = (typeof MSR_NAMES)[number];

/** The slot of an MSR index, or -1 if the model keeps it elsewhere or not at all. */
export function msrSlot(index: number): number {
  switch (index) {
    case M.MSR_STAR: return Msr.Star;
    case M.MSR_LSTAR: return Msr.Lstar;
    case M.MSR_CSTAR: return Msr.Cstar;
    case M.MSR_FMASK: return Msr.Fmask;
    case M.MSR_KERNEL_GS_BASE: return Msr.KernelGsBase;
    case M.MSR_SYSENTER_CS: return Msr.SysenterCs;
    case M.MSR_SYSENTER_ESP: return Msr.SysenterEsp;
    case M.MSR_SYSENTER_EIP: return Msr.SysenterEip;
    case M.MSR_TSC_AUX: return Msr.TscAux;
    case M.MSR_PAT: return Msr.Pat;
    case M.MSR_MISC_ENABLE: return Msr.MiscEnable;
    case M.MSR_APIC_BASE: return Msr.ApicBase;
    default:
      if (isFredMsr(index)) return Msr.FredRsp0 + (index - M.MSR_FRED_RSP0);
      return -1;
  }
}

/** IA32_FRED_RSP0 (1CCH) to IA32_FRED_CONFIG (1D4H): the slots run in the same order. */
export function isFredMsr(index: number): boolean {
  return index >= M.MSR_FRED_RSP0 && index <= M.MSR_FRED_CONFIG;
}

/** Power-on values of the slots (low, high halves). */
export function resetMsrs(lo: Int32Array, hi: Int32Array): void {
  lo.fill(0);
  hi.fill(0);
  lo[Msr.Pat] = M.PAT_RESET_LO;
  hi[Msr.Pat] = M.PAT_RESET_HI;
  lo[Msr.ApicBase] = M.APIC_BASE_RESET | 0;
}
