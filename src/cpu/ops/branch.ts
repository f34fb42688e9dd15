// Near and far control transfers within one privilege level (SDM Vol. 2: Jcc, JMP,
// CALL, RET, LOOP/LOOPcc, JCXZ/JECXZ/JRCXZ; far JMP/CALL/RET to a code segment of
// the same privilege). Far JMP/CALL through a call gate is in callgate.ts, far RET to an
// outer level in far-return.ts.

import type { Cpu } from '../cpu.js';
import { Mode } from '../mode.js';
import type { Insn } from '../insn.js';
import { condition } from '../flags.js';
import { readE } from './arith.js';
import { rollbackStack } from '../stack.js';
import { CS, DESC_S, DESC_L, TYPE_CALL_GATE } from '../../arch/descriptors.js';
import { readDescriptor, checkCodeSegment, setCodeSegment, descType, isCode, isConforming } from '../segments.js';
import { transferThroughCallGate } from '../callgate.js';
import { retFarOuter } from '../far-return.js';

const TWO32 = 4294967296;
/** System types a protected-mode far JMP/CALL may name (SDM Vol. 3A §3.5, Table 3-2):
 *  16-bit TSS (1), 16-bit call gate (4), task gate (5), 32-bit TSS (9), 32-bit call gate (0xC). */
const FAR_SYSTEM_TARGETS = (1 << 0x1) | (1 << 0x4) | (1 << 0x5) | (1 << 0x9) | (1 << 0xc);

export function jcc(cpu: Cpu, i: Insn): void {
  if (condition(cpu, i.op)) cpu.jumpRel(i.immLo, i.osz);
}

export function jmpRel(cpu: Cpu, i: Insn): void {
  cpu.jumpRel(i.immLo, i.osz);
}

export function jmpE(cpu: Cpu, i: Insn): void {
  const v = readE(cpu, i, i.osz);
  cpu.jumpTo(v, cpu.hi, i.osz);
}

function pushReturn(cpu: Cpu, size: number): void {
  const r = cpu.nextRip;
  cpu.push(size, size === 2 ? r & 0xffff : r >>> 0, size === 8 ? Math.floor(r / TWO32) | 0 : 0);
}

/** CALL rel: the target is checked before the return address is pushed. */
export function callRel(cpu: Cpu, i: Insn): void {
  const ret = cpu.nextRip;
  cpu.jumpRel(i.immLo, i.osz);
  const target = cpu.nextRip;
  cpu.nextRip = ret;
  pushReturn(cpu, i.osz);
  cpu.nextRip = target;
}

export function callE(cpu: Cpu, i: Insn): void {
  const v = readE(cpu, i, i.osz), vHi = cpu.hi;
  const ret = cpu.nextRip;
  cpu.jumpTo(v, vHi, i.osz);
  const target = cpu.nextRip;
  cpu.nextRip = ret;
  pushReturn(cpu, i.osz);
  cpu.nextRip = target;
}

/** RET [imm16]: a non-canonical return address faults before RSP moves. */
export function retNear(cpu: Cpu, i: Insn): void {
  const v = cpu.peek(i.osz, 0);
  cpu.jumpTo(v, cpu.hi, i.osz);
  cpu.adjustSp(i.osz + (i.immLo & 0xffff));
}

/** LOOP (op 2), LOOPE (op 1), LOOPNE (op 0): decrement the count register (address size). */
export function loop(cpu: Cpu, i: Insn): void {
  let zero: boolean;
  if (i.asz === 8) {
    const lo = cpu.regLo[1];
    const nlo = (lo - 1) | 0;
    const nhi = lo === 0 ? (cpu.regHi[1] - 1) | 0 : cpu.regHi[1];
    cpu.regLo[1] = nlo; cpu.regHi[1] = nhi;
    zero = (nlo | nhi) === 0;
  } else if (i.asz === 4) {
    const n = (cpu.regLo[1] - 1) | 0;
    cpu.setReg(1, 4, n, 0);
    zero = n === 0;
  } else {
    const n = (cpu.regLo[1] - 1) & 0xffff;
    cpu.setReg(1, 2, n, 0);
    zero = n === 0;
  }
  let take = !zero;
  if (i.op === 1) take &&= condition(cpu, 4); // ZF = 1
  else if (i.op === 0) take &&= !condition(cpu, 4);
  if (take) cpu.jumpRel(i.immLo, i.osz);
}

export function jrcxz(cpu: Cpu, i: Insn): void {
  const zero = i.asz === 8 ? (cpu.regLo[1] | cpu.regHi[1]) === 0 : i.asz === 4 ? cpu.regLo[1] === 0 : (cpu.regLo[1] & 0xffff) === 0;
  if (zero) cpu.jumpRel(i.immLo, i.osz);
}

// ---------------------------------------------------------------- far transfers

/** Load CS:RIP for a far JMP/CALL/RET at the same privilege (SDM JMP "Operation",
 *  protected mode, code-segment destination). */
function farTransfer(cpu: Cpu, sel: number, offLo: number, offHi: number, osz: number): void {
  const target = checkFarTarget(cpu, sel, offLo, offHi, osz);
  setCodeSegment(cpu, sel, cpu.cpl, cpu.scratch.descLo, cpu.scratch.descHi);
  cpu.nextRip = target;
}

/** Read the descriptor a far JMP/CALL names into cpu.scratch.descLo/descHi; returns true
 *  for a call gate in IA-32e mode. There only code segments and 64-bit call gates are
 *  valid: a TSS, task gate or any other system type is #GP(selector) (SDM JMP/CALL
 *  "Operation", protected mode). Outside IA-32e mode, gates and TSS targets are model
 *  errors. */
function readFarTarget(cpu: Cpu, sel: number): boolean {
  if (!readDescriptor(cpu, sel)) cpu.gp(0);
  if ((cpu.scratch.descHi & DESC_S) !== 0) return false;
  const type = descType(cpu.scratch.descHi);
  if (cpu.longMode) {
    if (type === TYPE_CALL_GATE) return true;
  } else if ((FAR_SYSTEM_TARGETS & (1 << type)) !== 0) {
    cpu.modelError('far transfer through a gate or TSS outside IA-32e mode is not modelled');
  }
  return cpu.gp(sel & 0xfffc);
}

/** Every check of a far JMP/CALL/RET to a code segment that comes before anything is
 *  written or loaded; returns the new RIP. The descriptor is in
 *  cpu.scratch.descLo/descHi and stays there. */
function checkFarTarget(cpu: Cpu, sel: number, offLo: number, offHi: number, osz: number): number {
  // A non-conforming target also needs RPL <= CPL; a conforming one ignores RPL and runs
  // at the caller's CPL (SDM JMP/CALL "Operation", NONCONFORMING-CODE-SEGMENT).
  if (isCode(cpu.scratch.descHi) && !isConforming(cpu.scratch.descHi) && (sel & 3) > cpu.cpl) cpu.gp(sel & 0xfffc);
  checkCodeSegment(cpu, sel, cpu.cpl, cpu.scratch.descHi);
  // The new mode decides how the offset is interpreted.
  const long = cpu.longMode && (cpu.scratch.descHi & DESC_L) !== 0;
  if (long) {
    if (osz !== 8) offHi = 0;
    if (!cpu.isCanonicalHi(offHi)) cpu.gp(0);
    return offHi * TWO32 + (offLo >>> 0);
  }
  return osz === 2 ? offLo & 0xffff : offLo >>> 0;
}

/** JMP ptr16:16/32 (EA, not in 64-bit mode). */
export function jmpFarImm(cpu: Cpu, i: Insn): void {
  jmpFar(cpu, i.imm2 & 0xffff, i.immLo, 0, i.osz);
}

/** Read a far pointer m16:16/32/64 (offset then selector): returns the offset's low half,
 *  its high half in cpu.hi and the selector in cpu.scratch.farSel. */
function readFarPointer(cpu: Cpu, i: Insn): number {
  const lin = cpu.ea(i);
  const off = cpu.read(lin, i.osz), offHi = i.osz === 8 ? cpu.hi : 0;
  const sel = cpu.read16(lin + i.osz);
  cpu.hi = offHi;
  cpu.scratch.farSel = sel;
  return off;
}

export function jmpFarE(cpu: Cpu, i: Insn): void {
  const off = readFarPointer(cpu, i);
  jmpFar(cpu, cpu.scratch.farSel, off, cpu.hi, i.osz);
}

function jmpFar(cpu: Cpu, sel: number, offLo: number, offHi: number, osz: number): void {
  if (readFarTarget(cpu, sel)) return transferThroughCallGate(cpu, sel, false);
  farTransfer(cpu, sel, offLo, offHi, osz);
}

export function callFarImm(cpu: Cpu, i: Insn): void {
  callFar(cpu, i.imm2 & 0xffff, i.immLo, 0, i.osz);
}

export function callFarE(cpu: Cpu, i: Insn): void {
  const off = readFarPointer(cpu, i);
  callFar(cpu, cpu.scratch.farSel, off, cpu.hi, i.osz);
}

function callFar(cpu: Cpu, sel: number, offLo: number, offHi: number, osz: number): void {
  if (readFarTarget(cpu, sel)) return transferThroughCallGate(cpu, sel, true);
  const oldCs = cpu.segSel[CS];
  const ret = cpu.nextRip;
  // The target is checked before the return address is pushed: a bad selector or offset
  // faults with the stack untouched (SDM CALL "Operation"; found by the hardware oracle).
  const target = checkFarTarget(cpu, sel, offLo, offHi, osz);
  const dLo = cpu.scratch.descLo, dHi = cpu.scratch.descHi;
  const markLo = cpu.regLo[4], markHi = cpu.regHi[4];
  try {
    cpu.push(osz, oldCs, 0);
    cpu.push(osz, osz === 2 ? ret & 0xffff : ret >>> 0, osz === 8 ? Math.floor(ret / TWO32) | 0 : 0);
  } catch (e) {
    rollbackStack(cpu, markLo, markHi, e);
  }
  setCodeSegment(cpu, sel, cpu.cpl, dLo, dHi);
  cpu.nextRip = target;
}

/** RETF [imm16] to the same privilege (RPL of the popped CS = CPL); to an outer one
 *  (RPL > CPL) in far-return.ts. */
export function retFar(cpu: Cpu, i: Insn): void {
  const osz = i.osz;
  const off = cpu.peek(osz, 0), offHi = osz === 8 ? cpu.hi : 0;
  const sel = cpu.peek(osz, osz) & 0xffff;
  if ((sel & 3) > cpu.cpl) return retFarOuter(cpu, i);
  if ((sel & 3) < cpu.cpl) cpu.gp(sel & 0xfffc);
  if (!readDescriptor(cpu, sel)) cpu.gp(0);
  farTransfer(cpu, sel, off, offHi, osz);
  cpu.adjustSp(2 * osz + (i.immLo & 0xffff));
  if (cpu.mode !== Mode.Long64 && cpu.stackSize === 4) cpu.regHi[4] = 0;
}
