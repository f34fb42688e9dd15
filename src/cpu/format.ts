// Formatting CPU values for messages, JSON and traces (cold paths: BigInt is fine here).

import type { Cpu } from './cpu.js';
import { SEG_NAMES } from '../arch/descriptors.js';

export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

/** Format a linear address held as a signed number as 64-bit hex. */
export function formatLinear(lin: number): string {
  const v = lin < 0 ? BigInt(lin) + (1n << 64n) : BigInt(lin);
  return '0x' + v.toString(16).padStart(16, '0');
}

/** A 64-bit value given as 32-bit halves, as 0x-prefixed 16-digit hex. */
export function hex64(lo: number, hi: number): string {
  return '0x' + (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** The register file, every value a 0x-prefixed 64-bit hex string: the GPRs, RIP, RFLAGS
 *  and the selectors, and with `control` CR0, CR2, CR3, CR4 and EFER too. */
export function formatRegisters(cpu: Cpu, control: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  GPR_NAMES.forEach((n, r) => { out[n] = hex64(cpu.regLo[r], cpu.regHi[r]); });
  out.rip = formatLinear(cpu.rip);
  out.rflags = hex64(cpu.getFlags(), 0);
  SEG_NAMES.forEach((n, s) => { out[n] = hex64(cpu.segSel[s], 0); });
  if (control) {
    out.cr0 = hex64(cpu.cr0, 0);
    out.cr2 = hex64(cpu.cr2Lo, cpu.cr2Hi);
    out.cr3 = hex64(cpu.cr3Lo, cpu.cr3Hi);
    out.cr4 = hex64(cpu.cr4, 0);
    out.efer = hex64(cpu.efer, 0);
  }
  return out;
}
