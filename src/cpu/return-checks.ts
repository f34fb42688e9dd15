// The checks a return to an outer privilege level makes on what it pops, shared by IRET
// (iret.ts) and far RET (far-return.ts): the return code segment, the return stack
// segment, the return instruction pointer and the stack pointer it loads (SDM Vol. 2
// IRET "Operation" and RET "Operation", PROTECTED-MODE, IA-32E-MODE and
// RETURN-TO-OUTER-PRIVILEGE-LEVEL: the two pages make the same checks in the same words).

import type { Cpu } from './cpu.js';
import type { Transition } from './transition.js';
import * as V from '../arch/vectors.js';
import * as C from '../arch/control.js';
import { DESC_P } from '../arch/descriptors.js';
import { readDescriptor, descDpl, descLimit, isWritableData, checkCodeSegment } from './segments.js';

const TWO32 = 4294967296;

/** The return code segment: a null selector is #GP(0); beyond the table limit, RPL < CPL,
 *  under CR4.FRED RPL > CPL, not a code segment, L = D = 1 in IA-32e mode, a conforming
 *  segment with DPL > RPL or a non-conforming one with DPL != RPL, under CR4.FRED a
 *  compatibility-mode segment at CPL 0 (checkCodeSegment) are #GP(selector); not present is
 *  #NP(selector). Leaves the descriptor in cpu.scratch.descLo/descHi. */
export function checkReturnCode(cpu: Cpu, csSel: number, eretu = false): void {
  if ((csSel & ~3) === 0) cpu.gp(0);
  readDescriptor(cpu, csSel);
  // FRED: no return changes CPL. FRED-era IRET, IA-32e-MODE: "IF CS.RPL < CPL or (CR4.FRED = 1
  // and CS.RPL > CPL) THEN #GP(CS.selector)"; RET, IA-32e mode: "IF return code segment
  // selector RPL < CPL or (CR4.FRED = 1 and return code segment selector RPL > CPL) THEN
  // #GP(selector)". The error code is the selector, not 0. ERETU, whose whole purpose is to
  // leave ring 0 for ring 3, loads CS "as is done by IRET" without that rule (SDM ERETU: its
  // own checks made RPL 3 already).
  const rpl = csSel & 3;
  if (rpl < cpu.cpl || (!eretu && (cpu.cr4Hi & C.CR4_HI_FRED) !== 0 && rpl > cpu.cpl)) cpu.gp(csSel & 0xfffc);
  checkCodeSegment(cpu, csSel, csSel & 3, cpu.scratch.descHi);
}

/** The return stack segment for a return to privilege `rpl`. A null selector is allowed
 *  only for a return to 64-bit code below ring 3 with RPL = `rpl` (IA-32e mode), else
 *  #GP(0). Otherwise RPL != `rpl`, not a writable data segment or DPL != `rpl` are
 *  #GP(selector), and not present is #SS(selector). Returns true for a null selector;
 *  otherwise leaves the descriptor in cpu.scratch.descLo/descHi. */
export function checkReturnStack(cpu: Cpu, ssSel: number, rpl: number, to64: boolean): boolean {
  if ((ssSel & ~3) === 0) {
    if (!to64 || rpl === 3 || (ssSel & 3) !== rpl) cpu.gp(0);
    return true;
  }
  readDescriptor(cpu, ssSel);
  const h = cpu.scratch.descHi;
  if ((ssSel & 3) !== rpl || !isWritableData(h) || descDpl(h) !== rpl) cpu.gp(ssSel & 0xfffc);
  if ((h & DESC_P) === 0) cpu.raise(V.SS, ssSel & 0xfffc);
  return false;
}

/** The return RIP (`hi` is 0 unless the operand size is 64 bits): canonical for a return
 *  to 64-bit code, otherwise truncated to the operand size and within the code segment's
 *  limit; #GP(0) if not. */
export function returnRip(cpu: Cpu, lo: number, hi: number, osz: number, to64: boolean, csLo: number, csHi: number): number {
  if (to64) {
    if (!cpu.isCanonicalHi(hi)) cpu.gp(0);
    return hi * TWO32 + (lo >>> 0);
  }
  const target = osz === 2 ? lo & 0xffff : lo >>> 0;
  if (target > descLimit(csLo, csHi) >>> 0) cpu.gp(0);
  return target;
}

/** The popped stack pointer as the transition loads it: a return to 64-bit code with a
 *  64-bit operand takes all of RSP; any other takes ESP (SP with a 16-bit operand),
 *  zero-extended. */
export function setReturnRsp(t: Transition, spLo: number, spHi: number, osz: number, to64: boolean): void {
  t.rspLo = to64 && osz === 8 ? spLo : osz === 2 ? spLo & 0xffff : spLo;
  t.rspHi = to64 && osz === 8 ? spHi : 0;
}
