// Running one instruction's semantics on a bare vCPU, for the unit tests that follow the
// manuals' Operation pseudocode step by step (syscall, sysenter).

import { Cpu } from '../../src/cpu/cpu.js';
import { FAULT } from '../../src/cpu/fault.js';
import { Insn } from '../../src/cpu/insn.js';

/** Run `exec` at operand size `osz`: 'ok', or the fault it raised as `vector(error)`. */
export function runExec(cpu: Cpu, exec: (c: Cpu, i: Insn) => void, osz: number): string {
  const i = new Insn(exec);
  i.osz = osz;
  return runInsn(cpu, i);
}

/** Run a decoded (or built) instruction: 'ok', or the fault it raised as `vector(error)`. */
export function runInsn(cpu: Cpu, i: Insn): string {
  try {
    i.exec(cpu, i);
  } catch (e) {
    if (e !== FAULT) throw e;
    return `${cpu.faultVector}(${cpu.faultError})`;
  }
  return 'ok';
}

/** General-purpose register `r` as one 64-bit value. */
export const u64 = (cpu: Cpu, r: number): bigint => (BigInt(cpu.regHi[r] >>> 0) << 32n) | BigInt(cpu.regLo[r] >>> 0);
