// Integer arithmetic and logic with their flags (SDM Vol. 2: ADD, ADC, SUB, SBB,
// AND, OR, XOR, CMP, TEST, INC, DEC, NEG, NOT, MUL, IMUL, DIV, IDIV; flags per
// Vol. 1 Appendix A). Values narrower than 64 bits travel zero-extended in one
// int32; 64-bit values as (lo, hi) with hi in cpu.hi.

import type { Cpu } from '../cpu.js';
import type { Insn } from '../insn.js';
import { Lazy, getCF, resultFlags, statusFlags } from '../flags.js';
import { CF, PF, AF, ZF, SF, OF, STATUS } from '../../arch/rflags.js';
import { materialise } from '../emit/flags.js';
import { DE } from '../../arch/vectors.js';

/** ALU operations in ModRM.reg order of group 1 (and the one-byte opcode rows). */
export const enum AluOp { Add = 0, Or = 1, Adc = 2, Sbb = 3, And = 4, Sub = 5, Xor = 6, Cmp = 7, Test = 8 }

export function sizeMask(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
}

/** The lazy-flags kind an ALU operation leaves. */
export function aluKind(op: number): Lazy {
  switch (op) {
    case AluOp.Add: return Lazy.Add;
    case AluOp.Adc: return Lazy.Adc;
    case AluOp.Sub: case AluOp.Cmp: return Lazy.Sub;
    case AluOp.Sbb: return Lazy.Sbb;
    default: return Lazy.Logic;
  }
}

/** The lazy-flags record of an ALU result: operands, result, carry in (flags.ts FlagRecord). */
export const FLAG_LOCALS = 'fa = x; fah = xh; fb = y; fbh = yh; fr = r; frh = rh; fc = ci;';

/** The operation, written once: r, rh := x ∘ y at `size` bytes, with x, y (and xh, yh at
 *  64 bits) already masked to the size and 0 above it, the carry in (ADC, SBB) from the
 *  expression `carryIn`; and the lazy-flags record in fa..fc. alu() below and compiled
 *  blocks (emit/alu.ts) are both built from it. */
export function aluBody(op: number, size: number, carryIn: string): string {
  const m = size === 1 ? 255 : size === 2 ? 65535 : -1;
  const withCarry = op === AluOp.Adc || op === AluOp.Sbb;
  let t = withCarry ? `ci = ${carryIn}; ` : 'ci = 0; ';
  const cin = withCarry ? ' + ci' : '';
  const bin = withCarry ? ' - ci' : '';
  switch (op) {
    case AluOp.Add: case AluOp.Adc:
      t += size === 8
        ? `c = (x >>> 0) + (y >>> 0)${cin}; r = c | 0; rh = (xh + yh + (c > 4294967295 ? 1 : 0)) | 0;`
        : `r = (x + y${cin}) & ${m}; rh = 0;`;
      break;
    case AluOp.Sub: case AluOp.Sbb: case AluOp.Cmp:
      t += size === 8
        ? `c = (x >>> 0) - (y >>> 0)${bin}; r = c | 0; rh = (xh - yh - (c < 0 ? 1 : 0)) | 0;`
        : `r = (x - y${bin}) & ${m}; rh = 0;`;
      break;
    case AluOp.And: case AluOp.Test: t += 'r = x & y; rh = xh & yh;'; break;
    case AluOp.Or: t += 'r = x | y; rh = xh | yh;'; break;
    default: t += 'r = x ^ y; rh = xh ^ yh;'; break;
  }
  return `${t} ${FLAG_LOCALS}`;
}

/** Compute a ∘ b, set the lazy flags; returns the low half, high half in cpu.hi. Built from
 *  aluBody, one case per operation and size. */
export const alu = ((): ((cpu: Cpu, op: number, size: number, a: number, aHi: number, b: number, bHi: number) => number) => {
  let body = 'let x = 0, xh = 0, y = 0, yh = 0, r = 0, rh = 0, c = 0, ci = 0, fa = 0, fah = 0, fb = 0, fbh = 0, fr = 0, frh = 0, fc = 0;\n';
  body += 'switch (op) {\n';
  for (let op = AluOp.Add; op <= AluOp.Test; op++) {
    body += `case ${op}: switch (size) {\n`;
    for (const size of [1, 2, 4, 8]) {
      const m = size === 1 ? 255 : size === 2 ? 65535 : -1;
      const operands = size === 8 ? 'x = a & -1; xh = aHi; y = b & -1; yh = bHi;' : `x = a & ${m}; xh = 0; y = b & ${m}; yh = 0;`;
      body += `  ${size === 8 ? 'default' : `case ${size}`}: ${operands} ${aluBody(op, size, 'getCF(cpu)')}` +
        ` ${materialise({ kind: aluKind(op), size })} cpu.hi = rh; return r;\n`;
    }
    body += '}\n';
  }
  body += '}\nthrow new Error("alu: unknown operation " + op);';
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('getCF', `return function alu(cpu, op, size, a, aHi, b, bHi) {\n${body}\n};`)(getCF) as
    (cpu: Cpu, op: number, size: number, a: number, aHi: number, b: number, bHi: number) => number;
})();

/** INC/DEC: like ADD/SUB 1 but CF is preserved. */
export function incDec(cpu: Cpu, dec: boolean, size: number, a: number, aHi: number): number {
  const m = sizeMask(size);
  a &= m;
  if (size !== 8) aHi = 0;
  const cf = getCF(cpu);
  let r: number, rHi = 0;
  if (size === 8) {
    const s = (a >>> 0) + (dec ? -1 : 1);
    r = s | 0;
    rHi = (aHi + (s > 0xffffffff ? 1 : s < 0 ? -1 : 0)) | 0;
  } else {
    r = (a + (dec ? -1 : 1)) & m;
  }
  cpu.lfOp = dec ? Lazy.Dec : Lazy.Inc;
  cpu.lfSize = size;
  cpu.lfA = a; cpu.lfAHi = aHi;
  cpu.lfB = 1; cpu.lfBHi = 0;
  cpu.lfRes = r; cpu.lfResHi = rHi;
  cpu.lfCin = cf;
  cpu.hi = rHi;
  return r;
}

// ---------------------------------------------------------------- operand plumbing

/** Read the r/m operand (register or memory); high half in cpu.hi. */
export function readE(cpu: Cpu, i: Insn, size: number): number {
  if (!i.mem) return cpu.getReg(i.rm, size);
  return cpu.read(cpu.ea(i), size);
}

export function writeE(cpu: Cpu, i: Insn, size: number, lo: number, hi: number): void {
  if (!i.mem) cpu.setReg(i.rm, size, lo, hi);
  else cpu.write(cpu.ea(i), size, lo, hi);
}

/** op Ev, Gv / op Eb, Gb (and TEST, CMP which do not write). */
export function aluEG(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const b = cpu.getReg(i.reg, size), bHi = cpu.hi;
  aluToE(cpu, i, size, b, bHi);
}

/** op Ev, imm (group 1, MOV-free forms) */
export function aluEI(cpu: Cpu, i: Insn): void {
  aluToE(cpu, i, i.osz, i.immLo, i.immHi);
}

function aluToE(cpu: Cpu, i: Insn, size: number, b: number, bHi: number): void {
  const op = i.op;
  const writes = op !== AluOp.Cmp && op !== AluOp.Test;
  if (i.mem) {
    const lin = cpu.ea(i);
    if (writes) cpu.probeWrite(lin, size);
    const a = cpu.read(lin, size);
    const r = alu(cpu, op, size, a, cpu.hi, b, bHi);
    if (writes) cpu.write(lin, size, r, cpu.hi);
  } else {
    const a = cpu.getReg(i.rm, size);
    const r = alu(cpu, op, size, a, cpu.hi, b, bHi);
    if (writes) cpu.setReg(i.rm, size, r, cpu.hi);
  }
}

/** op Ev, Gv with both operands 32-bit registers: the commonest ALU form, without
 *  the size and memory dispatch (chosen at decode by specialize()). */
export function aluRR32(cpu: Cpu, i: Insn): void {
  const op = i.op;
  const r = alu(cpu, op, 4, cpu.regLo[i.rm], 0, cpu.regLo[i.reg], 0);
  if (op !== AluOp.Cmp && op !== AluOp.Test) { cpu.regLo[i.rm] = r; cpu.regHi[i.rm] = 0; }
}

/** op Ev, Gv with both operands 64-bit registers. */
export function aluRR64(cpu: Cpu, i: Insn): void {
  const op = i.op, d = i.rm, s = i.reg;
  const r = alu(cpu, op, 8, cpu.regLo[d], cpu.regHi[d], cpu.regLo[s], cpu.regHi[s]);
  if (op !== AluOp.Cmp && op !== AluOp.Test) { cpu.regLo[d] = r; cpu.regHi[d] = cpu.hi; }
}

/** op Gv, Ev */
export function aluGE(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const b = readE(cpu, i, size), bHi = cpu.hi;
  const a = cpu.getReg(i.reg, size);
  const r = alu(cpu, i.op, size, a, cpu.hi, b, bHi);
  if (i.op !== AluOp.Cmp) cpu.setReg(i.reg, size, r, cpu.hi);
}

/** op AL/eAX/rAX, imm */
export function aluAI(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const a = cpu.getReg(0, size);
  const r = alu(cpu, i.op, size, a, cpu.hi, i.immLo, i.immHi);
  if (i.op !== AluOp.Cmp && i.op !== AluOp.Test) cpu.setReg(0, size, r, cpu.hi);
}

/** One-operand read-modify-write operations of groups 3-5 (OpcodeDef.op). */
export const enum Unary { Inc = 0, Dec = 1, Not = 2, Neg = 3 }

function unary(cpu: Cpu, kind: number, size: number, a: number, aHi: number): number {
  switch (kind) {
    case Unary.Inc: return incDec(cpu, false, size, a, aHi);
    case Unary.Dec: return incDec(cpu, true, size, a, aHi);
    case Unary.Not: cpu.hi = ~aHi; return ~a & sizeMask(size); // NOT changes no flags
    default: return alu(cpu, AluOp.Sub, size, 0, 0, a, aHi); // NEG: 0 - operand, CF = operand != 0
  }
}

/** INC/DEC/NOT/NEG Eb/Ev. */
export function unaryE(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  if (i.mem) {
    const lin = cpu.ea(i);
    cpu.probeWrite(lin, size);
    const a = cpu.read(lin, size);
    const r = unary(cpu, i.op, size, a, cpu.hi);
    cpu.write(lin, size, r, cpu.hi);
  } else {
    const a = cpu.getReg(i.rm, size);
    cpu.setReg(i.rm, size, unary(cpu, i.op, size, a, cpu.hi), cpu.hi);
  }
}

/** INC/DEC Zv, the one-byte forms outside 64-bit mode. */
export function unaryZ(cpu: Cpu, i: Insn): void {
  const a = cpu.getReg(i.reg, i.osz);
  cpu.setReg(i.reg, i.osz, unary(cpu, i.op, i.osz, a, cpu.hi), cpu.hi);
}

// ---------------------------------------------------------------- multiply and divide

/** Unsigned 32 × 32 → 64 without loss: low half returned, high half in cpu.scratch.mulHi. */
function mulu32(cpu: Cpu, a: number, b: number): number {
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const ll = aL * bL, lh = aL * bH, hl = aH * bL, hh = aH * bH;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  cpu.scratch.mulHi = (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) | 0;
  return ((mid << 16) | (ll & 0xffff)) | 0;
}

/** 128-bit product of two 64-bit values, as four 32-bit words in cpu.scratch.prod[0..3]. */
function mul128(cpu: Cpu, aLo: number, aHi: number, bLo: number, bHi: number, signed: boolean): void {
  const s = cpu.scratch;
  const p0l = mulu32(cpu, aLo, bLo), p0h = s.mulHi;
  const p1l = mulu32(cpu, aLo, bHi), p1h = s.mulHi;
  const p2l = mulu32(cpu, aHi, bLo), p2h = s.mulHi;
  const p3l = mulu32(cpu, aHi, bHi), p3h = s.mulHi;
  const t1 = (p0h >>> 0) + (p1l >>> 0) + (p2l >>> 0);
  const t2 = (p1h >>> 0) + (p2h >>> 0) + (p3l >>> 0) + Math.floor(t1 / 4294967296);
  let r2 = t2 | 0;
  let r3 = ((p3h >>> 0) + Math.floor(t2 / 4294967296)) | 0;
  if (signed) {
    // Two's-complement correction of the high 64 bits: subtract b if a < 0, a if b < 0.
    if (aHi < 0) { const d = (r2 >>> 0) - (bLo >>> 0); r2 = d | 0; r3 = (r3 - bHi - (d < 0 ? 1 : 0)) | 0; }
    if (bHi < 0) { const d = (r2 >>> 0) - (aLo >>> 0); r2 = d | 0; r3 = (r3 - aHi - (d < 0 ? 1 : 0)) | 0; }
  }
  const prod = s.prod;
  prod[0] = p0l; prod[1] = t1 | 0; prod[2] = r2; prod[3] = r3;
}

/** The product of size×size bits into cpu.scratch.prod (low `size` bytes in [0..1], high
 *  in [2..3] for size 8; for smaller sizes lo/hi of a 2×size product in [0] and [2]). */
function multiply(cpu: Cpu, size: number, a: number, aHi: number, b: number, bHi: number, signed: boolean): void {
  if (size === 8) { mul128(cpu, a, aHi, b, bHi, signed); return; }
  const prod = cpu.scratch.prod;
  if (size === 4) {
    if (signed) {
      mul128(cpu, a, a >> 31, b, b >> 31, true);
      prod[2] = prod[1]; // high 32 bits of the 64-bit product
    } else {
      prod[0] = mulu32(cpu, a, b);
      prod[2] = cpu.scratch.mulHi;
    }
    return;
  }
  // 8/16-bit: the whole product fits an int32 exactly; prod[0] holds it.
  const bits = size * 8;
  const x = signed ? (a << (32 - bits)) >> (32 - bits) : a & sizeMask(size);
  const y = signed ? (b << (32 - bits)) >> (32 - bits) : b & sizeMask(size);
  prod[0] = x * y;
}

/** Flags after MUL/IMUL: CF = OF = "the upper half is significant" (SDM MUL, IMUL). */
function mulFlags(cpu: Cpu, size: number, lo: number, loHi: number, upperSignificant: boolean): void {
  const u = cpu.undef;
  let f = (upperSignificant ? CF | OF : 0) | (resultFlags(lo, loHi, size) & u.mulFromResult);
  if (u.mulKept !== 0) f |= statusFlags(cpu) & u.mulKept;
  cpu.setStatus(f, SF | ZF | AF | PF);
}

/** MUL/IMUL r/m (one operand): rDX:rAX = rAX × r/m (AX = AL × r/m8). */
export function mulE(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const signed = i.op === 1;
  const b = readE(cpu, i, size), bHi = cpu.hi;
  const a = cpu.getReg(0, size), aHi = cpu.hi;
  multiply(cpu, size, a, aHi, b, bHi, signed);
  const prod = cpu.scratch.prod;
  let lo: number, loHi = 0, high: number, highHi = 0, significant: boolean;
  if (size === 8) {
    lo = prod[0]; loHi = prod[1]; high = prod[2]; highHi = prod[3];
    const s = signed ? loHi >> 31 : 0;
    significant = high !== s || highHi !== s;
  } else if (size === 4) {
    lo = prod[0]; high = prod[2];
    significant = high !== (signed ? lo >> 31 : 0);
  } else {
    const p = prod[0], bits = size * 8;
    lo = p & sizeMask(size);
    high = (p >> bits) & sizeMask(size);
    significant = signed ? p !== (p << (32 - bits)) >> (32 - bits) : high !== 0;
  }
  if (size === 1) {
    cpu.setReg(0, 2, lo | (high << 8), 0);
  } else {
    cpu.setReg(0, size, lo, loHi);
    cpu.setReg(2, size, high, highHi);
  }
  mulFlags(cpu, size, lo, loHi, significant);
}

/** IMUL Gv, Ev [, imm]: truncated signed product; CF = OF = result was truncated. */
export function imulGE(cpu: Cpu, i: Insn, withImm: boolean): void {
  const size = i.osz;
  const a = readE(cpu, i, size), aHi = cpu.hi;
  let b: number, bHi: number;
  if (withImm) { b = i.immLo; bHi = i.immHi; }
  else { b = cpu.getReg(i.reg, size); bHi = cpu.hi; }
  multiply(cpu, size, a, aHi, b, bHi, true);
  const prod = cpu.scratch.prod;
  let lo: number, loHi = 0, significant: boolean;
  if (size === 8) {
    lo = prod[0]; loHi = prod[1];
    const s = loHi >> 31;
    significant = prod[2] !== s || prod[3] !== s;
  } else if (size === 4) {
    lo = prod[0];
    significant = prod[2] !== lo >> 31;
  } else {
    const p = prod[0];
    lo = p & 0xffff;
    significant = p !== (p << 16) >> 16;
  }
  cpu.setReg(i.reg, size, lo, loHi);
  mulFlags(cpu, size, lo, loHi, significant);
}

export function imulGEI(cpu: Cpu, i: Insn): void { imulGE(cpu, i, true); }
export function imulGE2(cpu: Cpu, i: Insn): void { imulGE(cpu, i, false); }

const TWO32 = 4294967296;

// The division's results in cpu.scratch.div. The helpers below take and hand back 32-bit
// words as int32 (reading them unsigned inside): a number beyond int32 passed to a call that
// is not inlined is boxed on the heap.
const Q_LO = 0, Q_HI = 1, R_LO = 2, R_HI = 3;

/** (u1·2^32 + u0) / v for u1 < v, unsigned 32-bit words: quotient in div[Q_LO],
 *  remainder in div[R_LO]. Two 16-bit steps keep every dividend below 2^48, where a
 *  double's quotient floors exactly (its error is far below the 1/v gap to the next
 *  integer). */
function div2by1(out: Int32Array, u1: number, u0: number, v: number): void {
  v >>>= 0;
  let t = (u1 >>> 0) * 65536 + (u0 >>> 16);
  const qh = Math.floor(t / v);
  t = (t - qh * v) * 65536 + (u0 & 0xffff);
  const ql = Math.floor(t / v);
  out[R_LO] = t - ql * v;
  out[Q_LO] = qh * 65536 + ql;
}

/** (u2, u1, u0) / (v1, v0) in base 2^32 for (u2, u1) < (v1, v0) and v1 ≥ 2^31 (normalised):
 *  quotient digit in div[Q_LO], remainder in div[R_HI], div[R_LO]. Knuth's algorithm D
 *  (TAOCP 4.3.1) for a two-digit divisor, where the estimate's correction step compares the
 *  whole remainder and so leaves the digit exact (no add-back). */
function div3by2(cpu: Cpu, out: Int32Array, u2: number, u1: number, u0: number, v1: number, v0: number): void {
  let q: number, rhat: number;
  if (u2 === v1) { q = 0xffffffff; rhat = (u1 >>> 0) + (v1 >>> 0); } // the estimate capped at the base − 1
  else { div2by1(out, u2, u1, v1); q = out[Q_LO] >>> 0; rhat = out[R_LO] >>> 0; }
  // While q·v0 > rhat·2^32 + u0 the digit is too large (at most twice).
  const low = u0 >>> 0;
  let pLo = mulu32(cpu, q | 0, v0) >>> 0, pHi = cpu.scratch.mulHi >>> 0;
  while (rhat < TWO32 && (pHi > rhat || (pHi === rhat && pLo > low))) {
    q--; rhat += v1 >>> 0;
    pLo = mulu32(cpu, q | 0, v0) >>> 0; pHi = cpu.scratch.mulHi >>> 0;
  }
  // Remainder = rhat·2^32 + u0 − q·v0, in [0, divisor).
  const lo = low - pLo;
  out[Q_LO] = q;
  out[R_LO] = lo;
  out[R_HI] = rhat - pHi - (lo < 0 ? 1 : 0);
}

/** Unsigned (n3, n2, n1, n0) / (d1, d0), 128 by 64 bits in 32-bit words, for a quotient
 *  below 2^64 ((n3, n2) < (d1, d0)): quotient and remainder into cpu.scratch.div. */
function udiv128(cpu: Cpu, n3: number, n2: number, n1: number, n0: number, d1: number, d0: number): void {
  const out = cpu.scratch.div;
  if (d1 === 0) {
    // A one-digit divisor (n3 = 0, n2 < d0): schoolbook division digit by digit.
    div2by1(out, n2, n1, d0);
    out[Q_HI] = out[Q_LO];
    div2by1(out, out[R_LO], n0, d0);
    out[R_HI] = 0;
    return;
  }
  // Normalise: shift both so the divisor's top bit is set; the dividend stays within four
  // digits since n3 ≤ d1 < 2^(32−sh).
  const sh = Math.clz32(d1);
  let v1 = d1, v0 = d0, u3 = n3, u2 = n2, u1 = n1, u0 = n0;
  if (sh !== 0) {
    const back = 32 - sh;
    v1 = (d1 << sh) | (d0 >>> back); v0 = d0 << sh;
    u3 = (n3 << sh) | (n2 >>> back); u2 = (n2 << sh) | (n1 >>> back);
    u1 = (n1 << sh) | (n0 >>> back); u0 = n0 << sh;
  }
  div3by2(cpu, out, u3, u2, u1, v1, v0);
  out[Q_HI] = out[Q_LO];
  div3by2(cpu, out, out[R_HI], out[R_LO], u0, v1, v0);
  if (sh !== 0) {
    out[R_LO] = (out[R_LO] >>> sh) | (out[R_HI] << (32 - sh));
    out[R_HI] >>>= sh;
  }
}

/** DIV/IDIV r/m: rDX:rAX / r/m → quotient rAX, remainder rDX (AX / r/m8 → AL, AH); SDM
 *  DIV and IDIV, "Operation". Every size runs as 128 by 64 bits in 32-bit words, the
 *  operands zero- (DIV) or sign-extended (IDIV), so one path serves all four. */
export function divE(cpu: Cpu, i: Insn): void {
  const size = i.osz;
  const signed = i.op === 1;
  const lo = cpu.regLo;
  let d0 = readE(cpu, i, size), d1 = cpu.hi;
  let n0: number, n1: number, n2: number, n3: number;
  if (size === 8) {
    n0 = lo[0]; n1 = cpu.regHi[0]; n2 = lo[2]; n3 = cpu.regHi[2];
  } else {
    const bits = size * 8;
    if (size === 4) { n0 = lo[0]; n1 = lo[2]; }
    else {
      // AX (size 1) or DX:AX (size 2) fit 32 bits: one word, extended from its 2×bits.
      n0 = size === 1 ? lo[0] & 0xffff : (lo[2] << 16) | (lo[0] & 0xffff);
      n0 = signed ? (n0 << (32 - 2 * bits)) >> (32 - 2 * bits) : n0;
      n1 = signed ? n0 >> 31 : 0;
      d0 = signed ? (d0 << (32 - bits)) >> (32 - bits) : d0 & sizeMask(size);
    }
    n2 = n3 = signed ? n1 >> 31 : 0;
    d1 = signed ? d0 >> 31 : 0;
  }
  // IF SRC = 0 THEN #DE.
  if ((d0 | d1) === 0) cpu.raise(DE);
  // IDIV divides magnitudes; the signs come back at the end.
  const nNeg = signed && n3 < 0, qNeg = nNeg !== (signed && d1 < 0);
  if (nNeg) {
    n0 = -n0 | 0;
    n1 = ~n1 + (n0 === 0 ? 1 : 0) | 0;
    n2 = ~n2 + (n0 === 0 && n1 === 0 ? 1 : 0) | 0;
    n3 = ~n3 + (n0 === 0 && n1 === 0 && n2 === 0 ? 1 : 0) | 0;
  }
  if (signed && d1 < 0) { d0 = -d0 | 0; d1 = ~d1 + (d0 === 0 ? 1 : 0) | 0; }
  // temp ← dividend / SRC; IF temp does not fit the destination THEN #DE. A magnitude of
  // 2^64 or more never fits; below that the limit is 2^bits − 1 (DIV), 2^(bits−1) − 1
  // (IDIV, positive) or 2^(bits−1) (IDIV, negative: the most negative quotient fits).
  if ((n3 >>> 0) > (d1 >>> 0) || (n3 === d1 && (n2 >>> 0) >= (d0 >>> 0))) cpu.raise(DE);
  udiv128(cpu, n3, n2, n1, n0, d1, d0);
  const out = cpu.scratch.div;
  let qLo = out[Q_LO], qHi = out[Q_HI], rLo = out[R_LO], rHi = out[R_HI];
  let over: boolean;
  if (size === 8) {
    over = signed && ((qHi >>> 0) > 0x80000000 || ((qHi >>> 0) === 0x80000000 && (qLo !== 0 || !qNeg)));
  } else {
    const top = signed ? size * 8 - 1 : size * 8;
    over = qHi !== 0 || (qLo >>> 0) > 2 ** top - (qNeg ? 0 : 1);
  }
  if (over) cpu.raise(DE);
  if (qNeg) { qLo = -qLo | 0; qHi = ~qHi + (qLo === 0 ? 1 : 0) | 0; }
  // The remainder takes the dividend's sign.
  if (nNeg) { rLo = -rLo | 0; rHi = ~rHi + (rLo === 0 ? 1 : 0) | 0; }
  if (size === 1) cpu.setReg(0, 2, (qLo & 0xff) | ((rLo & 0xff) << 8), 0);
  else { cpu.setReg(0, size, qLo, qHi); cpu.setReg(2, size, rLo, rHi); }
  // Flags are undefined after DIV/IDIV (SDM, APM); the flavour says what they become.
  const u = cpu.undef;
  cpu.setStatus((statusFlags(cpu) & u.divKept) | u.divSet, STATUS);
}
