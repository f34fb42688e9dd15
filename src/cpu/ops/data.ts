// Data movement (SDM Vol. 2: MOV, MOVZX, MOVSX, MOVSXD, LEA, XCHG, XADD, CMPXCHG,
// CMPXCHG8B/16B, PUSH, POP, PUSHF, POPF, LAHF, SAHF, CBW/CWDE/CDQE, CWD/CDQ/CQO,
// XLAT, ENTER, LEAVE, segment-register moves, LKGS and RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE)
// and the flag instructions (CLC, STC, CMC, CLD, STD).

import type { Cpu } from '../cpu.js';
import type { Insn } from '../insn.js';
import { alu, AluOp, readE, writeE, sizeMask } from './arith.js';
import { getZF, statusFlags, undefinedStatus } from '../flags.js';
import * as R from '../../arch/rflags.js';
import { DS, SS, FS, GS } from '../../arch/descriptors.js';
import * as C from '../../arch/control.js';
import { loadSegment, loadKernelGs } from '../segments.js';
import { rollbackStack } from '../stack.js';

export function movEG(cpu: Cpu, i: Insn): void {
  const v = cpu.getReg(i.reg, i.osz);
  writeE(cpu, i, i.osz, v, cpu.hi);
}

export function movGE(cpu: Cpu, i: Insn): void {
  const v = readE(cpu, i, i.osz);
  cpu.setReg(i.reg, i.osz, v, cpu.hi);
}

/** MOV r64, r/m64 and MOV r/m64, r64 with a memory operand (chosen at decode). */
export function load64(cpu: Cpu, i: Insn): void {
  const v = cpu.read64(cpu.ea(i));
  cpu.regLo[i.reg] = v;
  cpu.regHi[i.reg] = cpu.hi;
}

export function store64(cpu: Cpu, i: Insn): void {
  cpu.write64(cpu.ea(i), cpu.regLo[i.reg], cpu.regHi[i.reg]);
}

/** MOV between 64-bit or 32-bit registers (the 32-bit form zero-extends). */
export function movRR64(cpu: Cpu, i: Insn): void {
  cpu.regLo[i.rm] = cpu.regLo[i.reg];
  cpu.regHi[i.rm] = cpu.regHi[i.reg];
}

/** MOV Eb/Ev, imm and MOV Zb/Zv, imm (the imm is sign-extended for Ev, Iz). */
export function movEI(cpu: Cpu, i: Insn): void {
  writeE(cpu, i, i.osz, i.immLo, i.immHi);
}

export function movZI(cpu: Cpu, i: Insn): void {
  cpu.setReg(i.reg, i.osz, i.immLo, i.immHi);
}

/** MOV AL/rAX, moffs (op 0) and moffs, AL/rAX (op 1): the offset is the immediate. */
export function movMoffs(cpu: Cpu, i: Insn): void {
  const lin = cpu.linear(i.seg, i.immLo, i.immHi, i.asz, i.osz);
  if (i.op === 0) cpu.setReg(0, i.osz, cpu.read(lin, i.osz), cpu.hi);
  else { const v = cpu.getReg(0, i.osz); cpu.write(lin, i.osz, v, cpu.hi); }
}

/** MOVZX/MOVSX Gv, Eb/Ew (op: source size, negative for sign extension). */
export function movExtend(cpu: Cpu, i: Insn): void {
  const srcSize = Math.abs(i.op);
  let v = readE(cpu, i, srcSize);
  let hi = 0;
  if (i.op < 0) {
    v = srcSize === 1 ? (v << 24) >> 24 : srcSize === 2 ? (v << 16) >> 16 : v;
    hi = v >> 31;
  }
  cpu.setReg(i.reg, i.osz, v & sizeMask(i.osz), hi);
}

/** MOVSXD Gv, Ed (64-bit mode; with a 32-bit operand size it is a plain move). */
export function movsxd(cpu: Cpu, i: Insn): void {
  const v = readE(cpu, i, 4);
  cpu.setReg(i.reg, i.osz, i.osz === 2 ? v & 0xffff : v, v >> 31);
}

/** LEA: the effective address without segment base, truncated to the operand size. */
export function lea(cpu: Cpu, i: Insn): void {
  let sum = i.dispLo >>> 0, hi = i.dispHi;
  if (i.base === 16) {
    const t = cpu.nextRip + (i.dispLo | 0);
    sum = t >>> 0;
    hi = Math.floor(t / 4294967296) | 0;
  } else if (i.base >= 0) {
    sum += cpu.regLo[i.base] >>> 0;
    hi += cpu.regHi[i.base];
  }
  if (i.index >= 0) {
    sum += (cpu.regLo[i.index] >>> 0) * (1 << i.scale);
    hi += cpu.regHi[i.index] << i.scale;
  }
  hi = (hi + Math.floor(sum / 4294967296)) | 0;
  if (i.asz === 4) hi = 0;
  cpu.setReg(i.reg, i.osz, sum | 0, hi);
}

/** XCHG Ev, Gv (locked implicitly with memory; the lock is not observable here). */
export function xchgEG(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const g = cpu.getReg(i.reg, size), gHi = cpu.hi;
  if (i.mem) {
    const lin = cpu.ea(i);
    cpu.probeWrite(lin, size);
    const e = cpu.read(lin, size), eHi = cpu.hi;
    cpu.write(lin, size, g, gHi);
    cpu.setReg(i.reg, size, e, eHi);
  } else {
    const e = cpu.getReg(i.rm, size), eHi = cpu.hi;
    cpu.setReg(i.rm, size, g, gHi);
    cpu.setReg(i.reg, size, e, eHi);
  }
}

/** XCHG Zv, rAX; 90 without REX.B is NOP and does not zero-extend EAX (SDM NOP). */
export function xchgZ(cpu: Cpu, i: Insn): void {
  if (i.reg === 0) return;
  const size = i.osz;
  const a = cpu.getReg(0, size), aHi = cpu.hi;
  const r = cpu.getReg(i.reg, size), rHi = cpu.hi;
  cpu.setReg(0, size, r, rHi);
  cpu.setReg(i.reg, size, a, aHi);
}

export function xadd(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const src = cpu.getReg(i.reg, size), srcHi = cpu.hi;
  const lin = i.mem ? cpu.ea(i) : 0;
  if (i.mem) cpu.probeWrite(lin, size);
  const dst = i.mem ? cpu.read(lin, size) : cpu.getReg(i.rm, size), dstHi = cpu.hi;
  const sum = alu(cpu, AluOp.Add, size, dst, dstHi, src, srcHi), sumHi = cpu.hi;
  cpu.setReg(i.reg, size, dst, dstHi);
  if (i.mem) cpu.write(lin, size, sum, sumHi);
  else cpu.setReg(i.rm, size, sum, sumHi);
}

/** CMPXCHG: compare rAX with the destination; the destination is written either way. */
export function cmpxchg(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const lin = i.mem ? cpu.ea(i) : 0;
  if (i.mem) cpu.probeWrite(lin, size);
  const dst = i.mem ? cpu.read(lin, size) : cpu.getReg(i.rm, size), dstHi = cpu.hi;
  const acc = cpu.getReg(0, size), accHi = cpu.hi;
  alu(cpu, AluOp.Cmp, size, acc, accHi, dst, dstHi);
  if (getZF(cpu)) {
    const src = cpu.getReg(i.reg, size), srcHi = cpu.hi;
    if (i.mem) cpu.write(lin, size, src, srcHi);
    else cpu.setReg(i.rm, size, src, srcHi);
  } else {
    if (i.mem) cpu.write(lin, size, dst, dstHi);
    cpu.setReg(0, size, dst, dstHi);
  }
}

/** CMPXCHG8B m64 / CMPXCHG16B m128 (REX.W; #GP(0) unless 16-byte aligned). */
export function cmpxchg8b16b(cpu: Cpu, i: Insn): void {
  const wide = i.osz === 8;
  const lin = cpu.ea(i);
  if (wide && (lin & 15) !== 0) cpu.gp(0);
  const n = wide ? 16 : 8;
  cpu.probeWrite(lin, n);
  const half = wide ? 8 : 4;
  const m0 = cpu.read(lin, half), m0h = wide ? cpu.hi : 0;
  const m1 = cpu.read(lin + half, half), m1h = wide ? cpu.hi : 0;
  const eq = wide
    ? m0 === cpu.regLo[0] && m0h === cpu.regHi[0] && m1 === cpu.regLo[2] && m1h === cpu.regHi[2]
    : m0 === cpu.regLo[0] && m1 === cpu.regLo[2];
  const status = statusFlags(cpu) & ~R.ZF, undefinedBits = undefinedStatus(cpu) & ~R.ZF;
  if (eq) {
    cpu.write(lin, half, cpu.regLo[3], cpu.regHi[3]);
    cpu.write(lin + half, half, cpu.regLo[1], cpu.regHi[1]);
    cpu.setStatus(status | R.ZF, undefinedBits);
  } else {
    cpu.write(lin, half, m0, m0h);
    cpu.write(lin + half, half, m1, m1h);
    cpu.setReg(0, half, m0, m0h);
    cpu.setReg(2, half, m1, m1h);
    cpu.setStatus(status, undefinedBits);
  }
}

// ---------------------------------------------------------------- stack

export function pushZ(cpu: Cpu, i: Insn): void {
  const v = cpu.getReg(i.reg, i.osz);
  cpu.push(i.osz, v, cpu.hi);
}

export function popZ(cpu: Cpu, i: Insn): void {
  const v = cpu.pop(i.osz);
  cpu.setReg(i.reg, i.osz, v, cpu.hi);
}

export function pushI(cpu: Cpu, i: Insn): void {
  cpu.push(i.osz, i.osz === 2 ? i.immLo & 0xffff : i.immLo, i.immHi);
}

export function pushE(cpu: Cpu, i: Insn): void {
  const v = readE(cpu, i, i.osz);
  cpu.push(i.osz, v, cpu.hi);
}

/** POP Ev: a memory destination addressed through RSP uses the RSP after the pop (SDM POP). */
export function popE(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const v = cpu.peek(size, 0), vHi = cpu.hi;
  if (!i.mem) {
    cpu.adjustSp(size);
    cpu.setReg(i.rm, size, v, vHi);
    return;
  }
  const markLo = cpu.regLo[4], markHi = cpu.regHi[4];
  cpu.adjustSp(size);
  try {
    cpu.write(cpu.ea(i), size, v, vHi);
  } catch (e) {
    rollbackStack(cpu, markLo, markHi, e);
  }
}

/** PUSH Sreg (op = segment number): zero-extended with a 64-bit operand size; with a
 *  32-bit one the SDM allows a 16-bit store into the 4-byte slot (undefined.ts). */
export function pushSeg(cpu: Cpu, i: Insn): void {
  const sel = cpu.segSel[i.op];
  if (i.osz !== 4 || !cpu.undef.pushSegment32StoresWord) { cpu.push(i.osz, sel, 0); return; }
  const markLo = cpu.regLo[4], markHi = cpu.regHi[4];
  cpu.adjustSp(-4);
  try {
    cpu.write16(cpu.linear(SS, cpu.regLo[4], cpu.regHi[4], cpu.stackSize, 2), sel);
  } catch (e) {
    rollbackStack(cpu, markLo, markHi, e);
  }
}

export function popSeg(cpu: Cpu, i: Insn): void {
  const sel = cpu.peek(i.osz, 0) & 0xffff;
  loadSegment(cpu, i.op, sel);
  cpu.adjustSp(i.osz);
  if (i.op === SS) cpu.movSsShadow(); // SDM Vol. 3A §6.8.3: POP SS inhibits events for one instruction
}

export function movESeg(cpu: Cpu, i: Insn): void {
  const sel = cpu.segSel[i.reg & 7];
  if (i.mem) cpu.write16(cpu.ea(i), sel);
  else cpu.setReg(i.rm, i.osz === 2 ? 2 : 4, sel, 0);
}

export function movSegE(cpu: Cpu, i: Insn): void {
  const seg = i.reg & 7;
  loadSegment(cpu, seg, readE(cpu, i, 2));
  if (seg === SS) cpu.movSsShadow(); // SDM Vol. 3A §6.8.3: MOV SS inhibits events for one instruction
}

/** LKGS r/m16 (FRED-era SDM Vol. 2A LKGS "Operation": "IF CPL > 0 OR logical processor not in
 *  64-bit mode THEN #UD"; the opcode table makes it 64-bit only and gates it on CPUID LKGS). It
 *  does not depend on CR4.FRED. The load itself is segments.ts loadKernelGs. */
export function lkgs(cpu: Cpu, i: Insn): void {
  if (cpu.cpl > 0) cpu.ud();
  loadKernelGs(cpu, readE(cpu, i, 2));
}

/** LSS/LFS/LGS Gv, m16:16/32/64: the offset, then the selector after it (SDM LDS/LES/LFS/LGS/LSS). */
export function loadFarPointer(cpu: Cpu, i: Insn): void {
  const lin = cpu.ea(i);
  const off = cpu.read(lin, i.osz), offHi = cpu.hi;
  const sel = cpu.read16(lin + i.osz);
  loadSegment(cpu, i.op, sel);
  cpu.setReg(i.reg, i.osz, off, offHi);
}

/** RDFSBASE (op 0), RDGSBASE (op 1), WRFSBASE (op 2), WRGSBASE (op 3): 64-bit mode only
 *  (decoder), #UD unless CR4.FSGSBASE = 1, any CPL. A 32-bit operand reads base[31:0]
 *  zero-extended, or writes it with base[63:32] cleared; a 64-bit write must be canonical,
 *  else #GP(0) (SDM RDFSBASE/RDGSBASE, WRFSBASE/WRGSBASE "Operation"). */
export function fsGsBase(cpu: Cpu, i: Insn): void {
  if ((cpu.cr4 & C.CR4_FSGSBASE) === 0) cpu.ud();
  const seg = (i.op & 1) === 0 ? FS : GS;
  const size = i.osz === 8 ? 8 : 4;
  if (i.op < 2) {
    cpu.setReg(i.rm, size, cpu.segBaseLo[seg], size === 8 ? cpu.segBaseHi[seg] : 0);
    return;
  }
  const lo = cpu.regLo[i.rm], hi = size === 8 ? cpu.regHi[i.rm] : 0;
  // Canonical for the widest linear address the CPU supports (57 bits with LA57), as WRMSR to
  // IA32_FS_BASE checks it, whatever CR4.LA57 is.
  if (((hi << 7) >> 7) !== hi) cpu.gp(0);
  cpu.segBaseLo[seg] = lo;
  cpu.segBaseHi[seg] = hi;
  cpu.segmentBaseChanged(seg);
}

/** PUSHF: RFLAGS with VM and RF cleared in the image (SDM PUSHF). */
export function pushf(cpu: Cpu, i: Insn): void {
  const f = cpu.getFlags() & ~(R.VM | R.RF);
  cpu.push(i.osz, i.osz === 2 ? f & 0xffff : f, 0);
}

/** POPF (SDM POPF "Operation", protected and 64-bit modes, VM = 0). */
export function popf(cpu: Cpu, i: Insn): void {
  const v = cpu.peek(i.osz, 0);
  const iopl = (cpu.flagsRest >> 12) & 3;
  let writable = R.STATUS | R.TF | R.DF | R.NT | R.AC | R.ID | R.IF | R.IOPL;
  if (cpu.cpl > 0) writable &= ~R.IOPL;
  if (cpu.cpl > iopl) writable &= ~R.IF;
  if (i.osz === 2) writable &= 0xffff;
  const old = cpu.getFlags();
  cpu.adjustSp(i.osz);
  cpu.setFlags(((old & ~writable) | (v & writable)) & ~R.RF);
}

export function lahf(cpu: Cpu): void {
  cpu.setReg8(16 + 0, (statusFlags(cpu) & 0xd5) | R.RESERVED1); // AH
}

export function sahf(cpu: Cpu): void {
  const ah = (cpu.regLo[0] >> 8) & 0xd5;
  cpu.setStatus((statusFlags(cpu) & R.OF) | ah, undefinedStatus(cpu) & R.OF);
}

export function enter(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const frameSize = i.immLo & 0xffff;
  const level = i.imm2 & 31;
  const ss = cpu.stackSize;
  const markLo = cpu.regLo[4], markHi = cpu.regHi[4];
  try {
    const bp = cpu.getReg(5, size), bpHi = cpu.hi;
    cpu.push(size, bp, bpHi);
    const frameLo = cpu.regLo[4], frameHi = cpu.regHi[4];
    if (level > 0) {
      // The outer frame pointers are read through rBP at the stack's address size,
      // whatever the operand size (SDM ENTER "Operation").
      let tLo = cpu.regLo[5], tHi = cpu.regHi[5];
      for (let k = 1; k < level; k++) {
        const d = (tLo >>> 0) - size;
        tLo = d | 0; if (d < 0 && ss === 8) tHi = (tHi - 1) | 0;
        const v = cpu.read(cpu.linear(SS, tLo, tHi, ss, size), size);
        cpu.push(size, v, cpu.hi);
      }
      cpu.push(size, frameLo, frameHi);
    }
    // BP/EBP/RBP <- FrameTemp at the operand size (a 16-bit ENTER with a 64-bit stack
    // leaves RBP's upper bits alone, as hardware does).
    cpu.setReg(5, size, frameLo, frameHi);
    cpu.adjustSp(-frameSize);
  } catch (e) {
    // A fault leaves RSP (and RBP) as they were: ENTER restarts.
    rollbackStack(cpu, markLo, markHi, e);
  }
}

export function leave(cpu: Cpu, i: Insn): void {
  const ss = cpu.stackSize;
  const markLo = cpu.regLo[4], markHi = cpu.regHi[4];
  cpu.setReg(4, ss, cpu.regLo[5], cpu.regHi[5]);
  try {
    const v = cpu.pop(i.osz);
    cpu.setReg(5, i.osz, v, cpu.hi);
  } catch (e) {
    rollbackStack(cpu, markLo, markHi, e);
  }
}

// ---------------------------------------------------------------- conversions

/** CBW/CWDE/CDQE: sign-extend the low half of rAX into rAX. */
export function cbw(cpu: Cpu, i: Insn): void {
  const a = cpu.regLo[0];
  if (i.osz === 2) cpu.setReg(0, 2, (a << 24) >> 24, 0);
  else if (i.osz === 4) cpu.setReg(0, 4, (a << 16) >> 16, 0);
  else cpu.setReg(0, 8, a, a >> 31);
}

/** CWD/CDQ/CQO: rDX = the sign of rAX. */
export function cwd(cpu: Cpu, i: Insn): void {
  if (i.osz === 2) cpu.setReg(2, 2, ((cpu.regLo[0] << 16) >> 31), 0);
  else if (i.osz === 4) cpu.setReg(2, 4, cpu.regLo[0] >> 31, 0);
  else cpu.setReg(2, 8, cpu.regHi[0] >> 31, cpu.regHi[0] >> 31);
}

/** XLAT: AL = [seg:rBX + zero-extended AL]. */
export function xlat(cpu: Cpu, i: Insn): void {
  const sum = (cpu.regLo[3] >>> 0) + (cpu.regLo[0] & 0xff);
  const hi = i.asz === 8 ? cpu.regHi[3] + (sum >= 4294967296 ? 1 : 0) : 0;
  const lin = cpu.linear(i.segOverride ? i.seg : DS, sum | 0, hi, i.asz, 1);
  cpu.setReg8(0, cpu.read8(lin));
}

/** SALC (undocumented D6): AL = CF ? 0xFF : 0, flags unchanged. */
export function salc(cpu: Cpu): void {
  cpu.setReg8(0, (statusFlags(cpu) & R.CF) !== 0 ? 0xff : 0);
}

// ---------------------------------------------------------------- flags

export function clc(cpu: Cpu): void { cpu.setStatus(statusFlags(cpu) & ~R.CF, undefinedStatus(cpu) & ~R.CF); }
export function stc(cpu: Cpu): void { cpu.setStatus(statusFlags(cpu) | R.CF, undefinedStatus(cpu) & ~R.CF); }
// CMC complements CF: an undefined CF stays undefined.
export function cmc(cpu: Cpu): void { cpu.setStatus(statusFlags(cpu) ^ R.CF, undefinedStatus(cpu)); }
export function cld(cpu: Cpu): void { cpu.flagsRest &= ~R.DF; }
export function std(cpu: Cpu): void { cpu.flagsRest |= R.DF; }

export function nop(): void { /* architecturally nothing */ }

