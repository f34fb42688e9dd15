// Shifts, rotates, double shifts, bit tests and scans, SETcc, CMOVcc, BSWAP
// (SDM Vol. 2: SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD, BT/BTS/BTR/BTC,
// BSF, BSR, POPCNT, LZCNT, SETcc, CMOVcc, BSWAP).

import type { Cpu } from '../cpu.js';
import type { Insn } from '../insn.js';
import { getOF, condition, resultFlags, statusFlags, undefinedStatus } from '../flags.js';
import { CF, OF, ZF, PF, AF, SF, STATUS } from '../../arch/rflags.js';
import * as V from '../../arch/vectors.js';
import { readE, sizeMask } from './arith.js';
import { ShiftOF, DoubleShiftPast } from '../undefined.js';

const enum Shift { Rol = 0, Ror = 1, Rcl = 2, Rcr = 3, Shl = 4, Shr = 5, Sal = 6, Sar = 7 }

/** Count source of a group-2 entry (OpcodeDef.op). */
export const enum CountFrom { Imm = 0, One = 1, CL = 2 }

// 64-bit shifts on (lo, hi) halves; the other half of the result goes to cpu.scratch.shHi.
function shl64(cpu: Cpu, lo: number, hi: number, n: number): number {
  const s = cpu.scratch;
  if (n === 0) { s.shHi = hi; return lo; }
  if (n < 32) { s.shHi = (hi << n) | (lo >>> (32 - n)); return lo << n; }
  s.shHi = n === 32 ? lo : lo << (n - 32);
  return 0;
}
function shr64(cpu: Cpu, lo: number, hi: number, n: number, arithmetic: boolean): number {
  const s = cpu.scratch;
  if (n === 0) { s.shHi = hi; return lo; }
  if (n < 32) { s.shHi = arithmetic ? hi >> n : hi >>> n; return (lo >>> n) | (hi << (32 - n)); }
  const fill = arithmetic ? hi >> 31 : 0;
  s.shHi = fill;
  return n === 32 ? hi : arithmetic ? hi >> (n - 32) : hi >>> (n - 32);
}
function bit64(lo: number, hi: number, k: number): number {
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}
function msb(lo: number, hi: number, size: number): number {
  return size === 8 ? hi >>> 31 : (lo >>> (size * 8 - 1)) & 1;
}

/** Bit `bits - 2` (the one below the sign bit) of (lo, hi). */
function below(lo: number, hi: number, size: number): number {
  return size === 8 ? (hi >>> 30) & 1 : (lo >>> (size * 8 - 2)) & 1;
}

/** Apply a group-2 shift or rotate; returns the low half (high in cpu.hi). Flags per the
 *  SDM; OF for a count other than 1 and a shift's AF are undefined: the flavour's
 *  (undefined.ts). `fromImm`: the count is an immediate. */
function shift(cpu: Cpu, kind: number, size: number, a: number, aHi: number, rawCount: number, fromImm: boolean): number {
  const bits = size * 8;
  const count = rawCount & (size === 8 ? 63 : 31);
  const m = sizeMask(size);
  a &= m;
  if (size !== 8) aHi = 0;
  if (count === 0) { cpu.hi = aHi; return a; }
  const s = cpu.scratch;
  const u = cpu.undef;
  const lastStep = u.shiftOF === ShiftOF.LastStep;
  // An immediate count other than 1 leaves OF alone on some flavours (SAR still clears it).
  const keepOF = count !== 1 && fromImm && u.shiftImmKeepsOF;
  let r = 0, rHi = 0, cf = 0, of = 0;
  // Undefined (SDM SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR): OF for a count other than 1; a
  // shift's AF; SHL/SHR's CF for a count of at least the width.
  const ofUndefined = count !== 1 ? OF : 0;
  switch (kind) {
    case Shift.Shl: case Shift.Sal: {
      if (size === 8) { r = shl64(cpu, a, aHi, count); rHi = s.shHi; cf = bit64(a, aHi, 64 - count); }
      else { r = (a << count) & m; cf = count <= bits ? (a >>> (bits - count)) & 1 : 0; }
      of = keepOF ? (getOF(cpu) ? OF : 0) : (lastStep ? msb(r, rHi, size) ^ cf : msb(a, aHi, size) ^ below(a, aHi, size)) ? OF : 0;
      cpu.setStatus((cf ? CF : 0) | of | u.shiftAF | resultFlags(r, rHi, size), AF | ofUndefined | (count >= bits ? CF : 0));
      break;
    }
    case Shift.Shr: case Shift.Sar: {
      const sar = kind === Shift.Sar;
      if (size === 8) { r = shr64(cpu, a, aHi, count, sar); rHi = s.shHi; cf = bit64(a, aHi, count - 1); }
      else {
        // count is 1..31 here; the operand is zero-extended in a.
        const x = sar ? (a << (32 - bits)) >> (32 - bits) : a;
        r = (sar ? x >> count : x >>> count) & m;
        cf = (sar ? x >> (count - 1) : x >>> (count - 1)) & 1;
      }
      if (sar) of = 0;
      else of = keepOF ? (getOF(cpu) ? OF : 0) : (lastStep ? msb(r, rHi, size) ^ below(r, rHi, size) : msb(a, aHi, size)) ? OF : 0;
      cpu.setStatus((cf ? CF : 0) | of | u.shiftAF | resultFlags(r, rHi, size), AF | ofUndefined | (count >= bits && !sar ? CF : 0));
      break;
    }
    case Shift.Rol: case Shift.Ror: {
      const before = statusFlags(cpu);
      const n = count % bits;
      if (size === 8) {
        if (kind === Shift.Rol) { const l = shl64(cpu, a, aHi, n), lh = s.shHi; const rr = shr64(cpu, a, aHi, n === 0 ? 0 : 64 - n, false); r = n === 0 ? a : l | rr; rHi = n === 0 ? aHi : lh | s.shHi; }
        else { const l = shr64(cpu, a, aHi, n, false), lh = s.shHi; const rr = shl64(cpu, a, aHi, n === 0 ? 0 : 64 - n); r = n === 0 ? a : l | rr; rHi = n === 0 ? aHi : lh | s.shHi; }
      } else {
        r = n === 0 ? a : kind === Shift.Rol ? ((a << n) | (a >>> (bits - n))) & m : ((a >>> n) | (a << (bits - n))) & m;
      }
      if (kind === Shift.Rol) {
        cf = r & 1;
        of = lastStep ? msb(r, rHi, size) ^ cf : msb(a, aHi, size) ^ below(a, aHi, size);
      } else {
        cf = msb(r, rHi, size);
        of = lastStep ? cf ^ below(r, rHi, size) : msb(a, aHi, size) ^ (a & 1);
      }
      if (keepOF) of = (before & OF) !== 0 ? 1 : 0;
      cpu.setStatus((before & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0), (undefinedStatus(cpu) & ~(CF | OF)) | ofUndefined);
      break;
    }
    default: { // RCL, RCR: rotate through CF, one bit at a time (counts are small)
      const before = statusFlags(cpu);
      const period = size === 1 ? 9 : size === 2 ? 17 : bits + 1;
      const n = size === 8 ? count : count % period;
      const cin = before & CF;
      let lo = a, hi = aHi, c = cin;
      for (let k = 0; k < n; k++) {
        if (kind === Shift.Rcl) {
          const out = msb(lo, hi, size);
          if (size === 8) { hi = (hi << 1) | (lo >>> 31); lo = (lo << 1) | c; }
          else lo = ((lo << 1) | c) & m;
          c = out;
        } else {
          const out = lo & 1;
          if (size === 8) { lo = (lo >>> 1) | (hi << 31); hi = (hi >>> 1) | (c << 31); }
          else lo = ((lo >>> 1) | (c << (bits - 1))) & m;
          c = out;
        }
      }
      r = lo; rHi = hi; cf = c;
      if (lastStep) of = kind === Shift.Rcl ? msb(r, rHi, size) ^ cf : msb(r, rHi, size) ^ below(r, rHi, size);
      // The first step's OF; a count that is a multiple of width + 1 takes no step.
      else if (n === 0) of = (before & OF) !== 0 ? 1 : 0;
      else of = msb(a, aHi, size) ^ (kind === Shift.Rcl ? below(a, aHi, size) : cin);
      if (keepOF) of = (before & OF) !== 0 ? 1 : 0;
      cpu.setStatus((before & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0), (undefinedStatus(cpu) & ~(CF | OF)) | ofUndefined);
      break;
    }
  }
  cpu.hi = rHi;
  return r;
}

/** Group 2: shift/rotate Eb/Ev by 1, CL or imm8. */
export function shiftE(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const count = i.op === CountFrom.One ? 1 : i.op === CountFrom.CL ? cpu.regLo[1] & 0xff : i.immLo & 0xff;
  const kind = i.reg & 7;
  if (i.mem) {
    const lin = cpu.ea(i);
    cpu.probeWrite(lin, size);
    const a = cpu.read(lin, size);
    const r = shift(cpu, kind, size, a, cpu.hi, count, i.op === CountFrom.Imm);
    cpu.write(lin, size, r, cpu.hi);
  } else {
    const a = cpu.getReg(i.rm, size);
    cpu.setReg(i.rm, size, shift(cpu, kind, size, a, cpu.hi, count, i.op === CountFrom.Imm), cpu.hi);
  }
}

/** SHLD/SHRD Ev, Gv, imm8/CL (op: 0 SHLD imm, 1 SHLD CL, 2 SHRD imm, 3 SHRD CL). */
export function shiftDouble(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const right = i.op >= 2;
  const raw = (i.op & 1) !== 0 ? cpu.regLo[1] & 0xff : i.immLo & 0xff;
  const count = raw & (size === 8 ? 63 : 31);
  const lin = i.mem ? cpu.ea(i) : 0;
  if (i.mem) cpu.probeWrite(lin, size);
  const d = i.mem ? cpu.read(lin, size) : cpu.getReg(i.rm, size), dHi = size === 8 ? cpu.hi : 0;
  const s = cpu.getReg(i.reg, size), sHi = size === 8 ? cpu.hi : 0;
  if (count === 0) {
    // Nothing shifts, but a 32-bit register destination is still written: zero-extended
    // (SDM Vol. 1 §3.4.1.1; found by the hardware oracle).
    if (!i.mem && size === 4) cpu.setReg(i.rm, 4, d, 0);
    return;
  }
  const bits = size * 8;
  const u = cpu.undef;
  // Past the operand size (16-bit operands only) the result is undefined: after the source's
  // bits come the destination's (dest:src:dest) or the source's again, by flavour.
  const throughDest = u.doubleShiftPast === DoubleShiftPast.ThroughDestination;
  let rLo = d, rHi = dHi, cf = 0;
  const m = sizeMask(size);
  for (let k = 0; k < count; k++) {
    const fromDest = k >= bits && throughDest;
    const v = fromDest ? d : s, vHi = fromDest ? dHi : sHi;
    const j = k % bits;
    if (right) {
      const inBit = bit64(v, vHi, j);
      cf = rLo & 1;
      if (size === 8) { rLo = (rLo >>> 1) | (rHi << 31); rHi = (rHi >>> 1) | (inBit << 31); }
      else rLo = ((rLo >>> 1) | (inBit << (bits - 1))) & m;
    } else {
      const inBit = bit64(v, vHi, bits - 1 - j);
      cf = msb(rLo, rHi, size);
      if (size === 8) { rHi = (rHi << 1) | (rLo >>> 31); rLo = (rLo << 1) | inBit; }
      else rLo = ((rLo << 1) | inBit) & m;
    }
  }
  // OF is defined for a count of 1 only; the flavour's formula gives that value there too.
  let of = u.shiftOF === ShiftOF.FirstStep
    ? msb(d, dHi, size) ^ (right ? s & 1 : below(d, dHi, size))
    : msb(rLo, rHi, size) ^ (right ? below(rLo, rHi, size) : cf);
  if (!throughDest && count >= bits) {
    // That flavour's CF (and SHLD's OF) past the size: those of the destination shifted alone.
    if (count > bits) cf = 0;
    if (!right) of = cf;
  }
  // Undefined (SDM SHLD/SHRD): AF, OF for a count other than 1; past the size, all of them.
  cpu.setStatus((cf ? CF : 0) | (of ? OF : 0) | u.shiftAF | resultFlags(rLo, rHi, size), count > bits ? STATUS : AF | (count !== 1 ? OF : 0));
  if (i.mem) cpu.write(lin, size, rLo, rHi);
  else cpu.setReg(i.rm, size, rLo, rHi);
}

/** BT/BTS/BTR/BTC (op: 0 BT, 1 BTS, 2 BTR, 3 BTC); `fromImm` for the 0F BA forms.
 *  A register bit offset with a memory operand addresses beyond the operand (signed). */
function bitTest(cpu: Cpu, i: Insn, offsetLo: number, offsetHi: number, fromImm: boolean): void {
  const size = i.osz;
  const bits = size * 8;
  const op = i.op;
  let bit: number;
  let lin = 0;
  if (i.mem) {
    if (!fromImm) {
      // Signed offset: displacement of (offset >> log2(bits)) operands, added to the
      // effective address at the address size before the segment base, exactly in 64 bits
      // (SDM Vol. 2 BT "bit offset addressing"; found by the hardware oracle).
      const off = size === 8 ? offsetHi * 4294967296 + (offsetLo >>> 0) : size === 4 ? offsetLo : (offsetLo << 16) >> 16;
      const oLo = size === 8 ? offsetLo : off | 0, oHi = size === 8 ? offsetHi : off < 0 ? -1 : 0;
      const dLo = ((oHi << 29) | (oLo >>> 3)) & ~(size - 1), dHi = oHi >> 3;
      if (i.base === 16) {
        // RIP-relative: the displacement adds to RIP + disp32.
        const l0 = cpu.ea(i);
        const l0Hi = Math.floor(l0 / 4294967296), s0 = (l0 - l0Hi * 4294967296) + (dLo >>> 0);
        let hi = (l0Hi + dHi + (s0 >= 4294967296 ? 1 : 0)) | 0;
        if (i.asz === 4) hi = 0;
        if (!cpu.isCanonicalHi(hi)) cpu.raise(V.GP, 0);
        lin = hi * 4294967296 + (s0 >>> 0);
      } else {
        const t = cpu.scratch.bitInsn; // no allocation per execution
        t.base = i.base; t.index = i.index; t.scale = i.scale; t.asz = i.asz; t.seg = i.seg;
        const sum = (i.dispLo >>> 0) + (dLo >>> 0);
        t.dispLo = sum | 0;
        t.dispHi = (i.dispHi + dHi + (sum >= 4294967296 ? 1 : 0)) | 0;
        lin = cpu.ea(t);
      }
      bit = offsetLo & (bits - 1); // the offset modulo the operand width, exactly
    } else {
      lin = cpu.ea(i);
      bit = offsetLo & (bits - 1);
    }
    if (op !== 0) cpu.probeWrite(lin, size);
    const v = cpu.read(lin, size), vHi = cpu.hi;
    const cf = bit64(v, vHi, bit);
    setCF(cpu, cf);
    if (op !== 0) {
      const r = applyBit(cpu, v, vHi, bit, op, cf);
      cpu.write(lin, size, r, cpu.hi);
    }
    return;
  }
  bit = offsetLo & (bits - 1);
  const v = cpu.getReg(i.rm, size), vHi = size === 8 ? cpu.hi : 0;
  const cf = bit64(v, vHi, bit);
  setCF(cpu, cf);
  if (op !== 0) {
    const r = applyBit(cpu, v, vHi, bit, op, cf);
    cpu.setReg(i.rm, size, r, cpu.hi);
  }
}

/** Set (BTS), clear (BTR) or complement (BTC) a bit of (lo, hi): returns the low half,
 *  the high half in cpu.hi. */
function applyBit(cpu: Cpu, lo: number, hi: number, bit: number, op: number, cur: number): number {
  const set = op === 1 ? 1 : op === 2 ? 0 : cur ^ 1;
  if (bit < 32) lo = set ? lo | (1 << bit) : lo & ~(1 << bit);
  else hi = set ? hi | (1 << (bit - 32)) : hi & ~(1 << (bit - 32));
  cpu.hi = hi;
  return lo;
}

/** BT*: CF = the bit; ZF unchanged; OF, SF, AF, PF undefined: kept or cleared, by flavour. */
function setCF(cpu: Cpu, cf: number): void {
  const keep = cpu.undef.bitTestOthersUnchanged ? ~CF : ZF;
  cpu.setStatus((statusFlags(cpu) & keep) | (cf ? CF : 0), OF | SF | AF | PF | (undefinedStatus(cpu) & ZF));
}

export function btEG(cpu: Cpu, i: Insn): void {
  const lo = cpu.getReg(i.reg, i.osz);
  bitTest(cpu, i, lo, i.osz === 8 ? cpu.hi : 0, false);
}

export function btEI(cpu: Cpu, i: Insn): void {
  bitTest(cpu, i, i.immLo & 0xff, 0, true);
}

/** BSF (op 0) / BSR (op 1): ZF = source is zero, destination then unchanged; CF, OF, SF,
 *  AF, PF undefined: the flavour's (undefined.ts). */
export function bitScan(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const v = readE(cpu, i, size) & sizeMask(size), vHi = size === 8 ? cpu.hi : 0;
  const fromIndex = cpu.undef.bitScanFlagsFromIndex;
  const undefinedBits = CF | OF | SF | AF | PF;
  if ((v | vHi) === 0) { cpu.setStatus(fromIndex ? ZF | PF : statusFlags(cpu) | ZF, undefinedBits); return; }
  let index: number;
  if (i.op === 0) index = v !== 0 ? 31 - Math.clz32(v & -v) : 32 + 31 - Math.clz32(vHi & -vHi);
  else index = vHi !== 0 ? 63 - Math.clz32(vHi) : 31 - Math.clz32(v);
  const flags = fromIndex ? resultFlags(index, 0, 1) & PF : statusFlags(cpu) & ~ZF;
  cpu.setReg(i.reg, size, index, 0);
  cpu.setStatus(flags, undefinedBits);
}

/** POPCNT: ZF = source is zero; CF, OF, SF, AF, PF cleared. */
export function popcnt(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const v = readE(cpu, i, size) & sizeMask(size), vHi = size === 8 ? cpu.hi : 0;
  const n = popcount32(v) + popcount32(vHi);
  cpu.setReg(i.reg, size, n, 0);
  cpu.setStatus(n === 0 ? ZF : 0, 0);
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** LZCNT: CF = source is zero, ZF = result is zero; OF, SF, AF, PF undefined: the flavour's. */
export function lzcnt(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const v = readE(cpu, i, size) & sizeMask(size), vHi = size === 8 ? cpu.hi : 0;
  let n: number;
  if (size === 8) n = vHi !== 0 ? Math.clz32(vHi) : 32 + Math.clz32(v);
  else n = Math.clz32(v) - (32 - size * 8);
  const kept = cpu.undef.lzcntKept;
  const flags = (kept !== 0 ? statusFlags(cpu) & kept : 0) | (n === size * 8 ? CF : 0) | (n === 0 ? ZF : 0);
  cpu.setReg(i.reg, size, n, 0);
  cpu.setStatus(flags, OF | SF | AF | PF);
}

export function setcc(cpu: Cpu, i: Insn): void {
  const v = condition(cpu, i.op) ? 1 : 0;
  if (i.mem) cpu.write8(cpu.ea(i), v);
  else cpu.setReg8(i.rm, v);
}

/** CMOVcc: the source is read (and may fault) whatever the condition; a 32-bit
 *  destination is zero-extended even when nothing moves (SDM CMOVcc, 64-bit mode). */
export function cmovcc(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const v = readE(cpu, i, size), vHi = cpu.hi;
  if (condition(cpu, i.op)) cpu.setReg(i.reg, size, v, vHi);
  else if (size === 4) cpu.regHi[i.reg] = 0;
}

export function bswap(cpu: Cpu, i: Insn): void {
  const r = i.reg;
  if (i.osz === 8) {
    const lo = cpu.regLo[r], hi = cpu.regHi[r];
    cpu.regLo[r] = swap(hi);
    cpu.regHi[r] = swap(lo);
  } else if (i.osz === 4) {
    cpu.setReg(r, 4, swap(cpu.regLo[r]), 0);
  } else {
    cpu.setReg(r, 2, cpu.undef.bswap16Result, 0); // 16-bit operand: undefined (SDM)
  }
}

function swap(x: number): number {
  return ((x >>> 24) | ((x >> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24)) | 0;
}
