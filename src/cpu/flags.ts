// Lazy arithmetic flags (SDM Vol. 1 §3.4.3.1). Flag-setting instructions record
// their operation, operand size, operands and result; CF..OF are derived only when
// something reads them. Values narrower than 64 bits are stored zero-extended in
// the low half (a 32-bit value as its int32 bit pattern); 64-bit values use both halves.

import type { Cpu } from './cpu.js';
import { CF, PF, AF, ZF, SF, OF } from '../arch/rflags.js';

export const enum Lazy {
  /** Flags were computed eagerly; they are in cpu.lfEager. */
  Eager = 0,
  Add = 1,
  Adc = 2,
  Sub = 3,
  Sbb = 4,
  /** AND/OR/XOR/TEST: CF = OF = 0. */
  Logic = 5,
  /** INC/DEC: like ADD/SUB of 1, but CF is the one saved in lfCin. */
  Inc = 6,
  Dec = 7,
}

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = 0;
  for (let b = i; b !== 0; b >>= 1) bits += b & 1;
  PARITY[i] = (bits & 1) === 0 ? PF : 0;
}

/** Sign bit of a value of `size` bytes stored as described above (lo half). */
function signLo(v: number, size: number): number {
  return size === 1 ? (v >> 7) & 1 : size === 2 ? (v >> 15) & 1 : v >>> 31;
}

function ltu64(aHi: number, aLo: number, bHi: number, bLo: number): boolean {
  return aHi !== bHi ? aHi >>> 0 < bHi >>> 0 : aLo >>> 0 < bLo >>> 0;
}

export function getCF(cpu: Cpu): number {
  const a = cpu.lfA, b = cpu.lfB, r = cpu.lfRes;
  switch (cpu.lfOp) {
    case Lazy.Eager: return cpu.lfEager & CF;
    case Lazy.Logic: return 0;
    case Lazy.Inc: case Lazy.Dec: return cpu.lfCin;
    case Lazy.Add:
      if (cpu.lfSize === 8) return ltu64(cpu.lfResHi, r, cpu.lfAHi, a) ? 1 : 0;
      return r >>> 0 < a >>> 0 ? 1 : 0;
    case Lazy.Adc:
      if (cpu.lfSize === 8) {
        if (cpu.lfCin === 0) return ltu64(cpu.lfResHi, r, cpu.lfAHi, a) ? 1 : 0;
        return ltu64(cpu.lfAHi, a, cpu.lfResHi, r) ? 0 : 1;
      }
      return (cpu.lfCin === 0 ? r >>> 0 < a >>> 0 : r >>> 0 <= a >>> 0) ? 1 : 0;
    case Lazy.Sub:
      if (cpu.lfSize === 8) return ltu64(cpu.lfAHi, a, cpu.lfBHi, b) ? 1 : 0;
      return a >>> 0 < b >>> 0 ? 1 : 0;
    case Lazy.Sbb:
      if (cpu.lfSize === 8) {
        if (cpu.lfCin === 0) return ltu64(cpu.lfAHi, a, cpu.lfBHi, b) ? 1 : 0;
        return ltu64(cpu.lfBHi, b, cpu.lfAHi, a) ? 0 : 1;
      }
      return (cpu.lfCin === 0 ? a >>> 0 < b >>> 0 : a >>> 0 <= b >>> 0) ? 1 : 0;
  }
  return 0;
}

export function getZF(cpu: Cpu): boolean {
  if (cpu.lfOp === Lazy.Eager) return (cpu.lfEager & ZF) !== 0;
  return cpu.lfSize === 8 ? (cpu.lfRes | cpu.lfResHi) === 0 : cpu.lfRes === 0;
}

export function getSF(cpu: Cpu): boolean {
  if (cpu.lfOp === Lazy.Eager) return (cpu.lfEager & SF) !== 0;
  return cpu.lfSize === 8 ? cpu.lfResHi < 0 : signLo(cpu.lfRes, cpu.lfSize) !== 0;
}

export function getPF(cpu: Cpu): boolean {
  if (cpu.lfOp === Lazy.Eager) return (cpu.lfEager & PF) !== 0;
  return PARITY[cpu.lfRes & 0xff] !== 0;
}

export function getAF(cpu: Cpu): boolean {
  switch (cpu.lfOp) {
    case Lazy.Eager: return (cpu.lfEager & AF) !== 0;
    case Lazy.Logic: return cpu.undef.logicAF;
    default: return ((cpu.lfA ^ cpu.lfB ^ cpu.lfRes) & 0x10) !== 0;
  }
}

export function getOF(cpu: Cpu): boolean {
  const op = cpu.lfOp;
  if (op === Lazy.Eager) return (cpu.lfEager & OF) !== 0;
  if (op === Lazy.Logic) return false;
  const size = cpu.lfSize;
  let a = cpu.lfA, b = cpu.lfB, r = cpu.lfRes;
  if (size === 8) { a = cpu.lfAHi; b = cpu.lfBHi; r = cpu.lfResHi; }
  else if (size === 1) { a <<= 24; b <<= 24; r <<= 24; }
  else if (size === 2) { a <<= 16; b <<= 16; r <<= 16; }
  if (op === Lazy.Add || op === Lazy.Adc || op === Lazy.Inc) return ((a ^ r) & (b ^ r)) < 0;
  return ((a ^ b) & (a ^ r)) < 0;
}

/** Which status flags now hold a value the SDM leaves undefined (the vendor table's,
 *  undefined.ts): AND/OR/XOR/TEST leave AF; eager writers say theirs. Deviation: INC and
 *  DEC carry CF from the instruction before; if that one left CF undefined, it is counted
 *  as defined here (the mark would cost a store on INC/DEC's path). */
export function undefinedStatus(cpu: Cpu): number {
  if (cpu.lfOp === Lazy.Eager) return cpu.lfUndefined & STATUS_BITS;
  return cpu.lfOp === Lazy.Logic ? AF : 0;
}

const STATUS_BITS = CF | PF | AF | ZF | SF | OF;

/** In cpu.lfUndefined: the status flags were last written whole by a load (POPF, IRET,
 *  SYSRET, any transition), not computed; whether they hold undefined values depends on
 *  where they were loaded from, which the ABI diff follows across its points. */
export const STATUS_LOADED = 1 << 16;

/** Whether the status flags were last written whole by a load (see STATUS_LOADED). */
export function statusLoaded(cpu: Cpu): boolean {
  return cpu.lfOp === Lazy.Eager && (cpu.lfUndefined & STATUS_LOADED) !== 0;
}

/** The six status flags as RFLAGS bits. */
export function statusFlags(cpu: Cpu): number {
  if (cpu.lfOp === Lazy.Eager) return cpu.lfEager;
  return (getCF(cpu) !== 0 ? CF : 0) | (getPF(cpu) ? PF : 0) | (getAF(cpu) ? AF : 0) |
    (getZF(cpu) ? ZF : 0) | (getSF(cpu) ? SF : 0) | (getOF(cpu) ? OF : 0);
}

/** Flags for a result computed eagerly: ZF, SF and PF from the result, the rest given. */
export function resultFlags(lo: number, hi: number, size: number): number {
  const zero = size === 8 ? (lo | hi) === 0 : lo === 0;
  const sign = size === 8 ? hi < 0 : signLo(lo, size) !== 0;
  return (zero ? ZF : 0) | (sign ? SF : 0) | PARITY[lo & 0xff];
}

/** Condition codes (SDM Vol. 1 Appendix B, the tttn encoding). */
export function condition(cpu: Cpu, cc: number): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0: r = getOF(cpu); break;
    case 1: r = getCF(cpu) !== 0; break;
    case 2: r = getZF(cpu); break;
    case 3: r = getCF(cpu) !== 0 || getZF(cpu); break;
    case 4: r = getSF(cpu); break;
    case 5: r = getPF(cpu); break;
    case 6: r = getSF(cpu) !== getOF(cpu); break;
    default: r = getZF(cpu) || getSF(cpu) !== getOF(cpu); break;
  }
  return (cc & 1) === 0 ? r : !r;
}
