// The machine-check architecture's MSRs (SDM Vol. 3B ch. 16 "Machine-Check Architecture";
// AMD APM Vol. 2 ch. 9 "Machine Check Mechanism"), which CPUID.1:EDX enumerates (MCE, MCA).
// The model never detects a hardware error, so no machine check is ever signalled or logged:
// the status, address and miscellaneous registers of every bank stay 0, and only the
// control registers hold what software writes.
//
// Deliberate deviations and choices:
// - MCA_BANKS banks (any count is architectural; QEMU's models have the same), MCG_CTL_P set,
//   no other capability (no CMCI, threshold, extended state, software recovery or LMCE).
// - Every one of the 64 error-enable flags of IA32_MCi_CTL is implemented: any value is
//   stored (§16.3.2.1: the processor drops writes only to bits it does not implement).
// - A value of IA32_MCG_CTL other than all 0s or all 1s is implementation specific
//   (§16.3.1.3), and a non-zero write to IA32_MCG_STATUS would fake a machine check in
//   progress: both are model errors.
// - AMD: the same rules; HWCR.McStatusWrEn, which lets AMD software write MCi_STATUS, is
//   not modelled (no HWCR), so a non-zero write to MCi_STATUS faults as on Intel.

import type { Cpu } from './cpu.js';
import { Msr } from './msrs.js';
import * as M from '../arch/msr.js';

export const MCA_BANKS = Msr.PerfEvtSel0 - Msr.Mc0Ctl;

/** Whether RDMSR/WRMSR of this index belongs here. */
export function isMcaMsr(index: number): boolean {
  return index === M.MSR_MCG_CAP || index === M.MSR_MCG_STATUS || index === M.MSR_MCG_CTL ||
    (index >= M.MSR_MC0_CTL && index < M.MSR_MC0_CTL + 4 * MCA_BANKS);
}

/** RDMSR of an MCA MSR (isMcaMsr): its value, low half in out[0], high half in out[1]. */
export function rdmsrMca(cpu: Cpu, index: number, out: Int32Array): void {
  let lo = 0, hi = 0;
  if (index === M.MSR_MCG_CAP) {
    lo = M.MCG_CTL_P | MCA_BANKS; // §16.3.1.1: Count in bits 7:0
  } else if (index === M.MSR_MCG_CTL) {
    lo = cpu.msrLo[Msr.McgCtl]; hi = cpu.msrHi[Msr.McgCtl];
  } else if (index >= M.MSR_MC0_CTL && ((index - M.MSR_MC0_CTL) & 3) === 0) {
    const slot = Msr.Mc0Ctl + ((index - M.MSR_MC0_CTL) >>> 2);
    lo = cpu.msrLo[slot]; hi = cpu.msrHi[slot];
  }
  // IA32_MCG_STATUS and each bank's STATUS, ADDR and MISC: nothing is ever logged.
  out[0] = lo; out[1] = hi;
}

/** WRMSR of an MCA MSR (isMcaMsr) with EDX:EAX = hi:lo. */
export function wrmsrMca(cpu: Cpu, index: number, lo: number, hi: number): void {
  // §16.3.1.1: IA32_MCG_CAP is read-only.
  if (index === M.MSR_MCG_CAP) cpu.gp(0);
  if (index === M.MSR_MCG_STATUS) {
    if ((lo | hi) !== 0) cpu.modelError('a non-zero write to IA32_MCG_STATUS (no machine check is modelled)');
    return;
  }
  if (index === M.MSR_MCG_CTL) {
    // §16.3.1.3: all 1s enables, all 0s disables; "all other values are undefined and/or implementation specific".
    if (!((lo | hi) === 0 || (lo & hi) === -1)) cpu.modelError('an IA32_MCG_CTL value other than all 0s or all 1s');
    cpu.msrLo[Msr.McgCtl] = lo; cpu.msrHi[Msr.McgCtl] = hi;
    return;
  }
  const offset = index - M.MSR_MC0_CTL;
  if ((offset & 3) === 0) {
    cpu.msrLo[Msr.Mc0Ctl + (offset >>> 2)] = lo; cpu.msrHi[Msr.Mc0Ctl + (offset >>> 2)] = hi;
    return;
  }
  // §16.3.2.2-16.3.2.4: MCi_STATUS, MCi_ADDR and MCi_MISC "can be cleared by explicitly writing
  // 0s"; writing 1s to them raises #GP.
  if ((lo | hi) !== 0) cpu.gp(0);
}
