// Lazy arithmetic flags (SDM Vol. 1 §3.4.3.1). Flag-setting instructions record
// their operation, operand size, operands and result; CF..OF are derived only when
// something reads them. Values narrower than 64 bits are stored zero-extended in
// the low half (a 32-bit value as its int32 bit pattern); 64-bit values use both halves.
//
// How CF, ZF, SF, OF and the conditions follow from a record is written once, as
// JavaScript expressions over the record's parts for a given kind and size (carryOf,
// zeroOf, signOf, overflowOf, conditionOf). The getters below are built from them, as a
// switch over the kind and size the record holds; compiled blocks (blocks.ts) use the
// same expressions with the kind and size they know, on the record kept in their locals.

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

/** A lazy-flags record whose kind and size are known: its parts are named
 *  fa, fah (lfA, lfAHi), fb, fbh (lfB, lfBHi), fr, frh (lfRes, lfResHi), fc (lfCin),
 *  fe (lfEager) in the expressions below. */
export interface FlagRecord {
  kind: Lazy;
  size: number;
}

/** Unsigned (aHi:a) < (bHi:b). */
const ltu64 = (aHi: string, a: string, bHi: string, b: string): string =>
  `(${aHi} !== ${bHi} ? (${aHi} >>> 0) < (${bHi} >>> 0) : (${a} >>> 0) < (${b} >>> 0))`;

/** CF (SDM Vol. 1 Appendix A): the unsigned carry or borrow out of the result. */
export function carryOf(s: FlagRecord): string {
  const wide = s.size === 8;
  switch (s.kind) {
    case Lazy.Eager: return `(fe & ${CF}) !== 0`;
    case Lazy.Logic: return 'false';
    case Lazy.Inc: case Lazy.Dec: return 'fc !== 0';
    case Lazy.Add: return wide ? ltu64('frh', 'fr', 'fah', 'fa') : '(fr >>> 0) < (fa >>> 0)';
    case Lazy.Adc: return wide
      ? `(fc === 0 ? ${ltu64('frh', 'fr', 'fah', 'fa')} : !${ltu64('fah', 'fa', 'frh', 'fr')})`
      : '(fc === 0 ? (fr >>> 0) < (fa >>> 0) : (fr >>> 0) <= (fa >>> 0))';
    case Lazy.Sub: return wide ? ltu64('fah', 'fa', 'fbh', 'fb') : '(fa >>> 0) < (fb >>> 0)';
    default: return wide // Sbb
      ? `(fc === 0 ? ${ltu64('fah', 'fa', 'fbh', 'fb')} : !${ltu64('fbh', 'fb', 'fah', 'fa')})`
      : '(fc === 0 ? (fa >>> 0) < (fb >>> 0) : (fa >>> 0) <= (fb >>> 0))';
  }
}

/** ZF: the result is zero. */
export function zeroOf(s: FlagRecord): string {
  if (s.kind === Lazy.Eager) return `(fe & ${ZF}) !== 0`;
  return s.size === 8 ? '(fr | frh) === 0' : 'fr === 0';
}

/** SF: the result's most significant bit. */
export function signOf(s: FlagRecord): string {
  if (s.kind === Lazy.Eager) return `(fe & ${SF}) !== 0`;
  switch (s.size) {
    case 8: return 'frh < 0';
    case 4: return 'fr < 0';
    case 2: return '(fr & 32768) !== 0';
    default: return '(fr & 128) !== 0';
  }
}

/** OF: signed overflow -- operands of one sign (ADD) or of different signs (SUB) and a
 *  result of the other; the values are moved to bit 31 of an int32 to compare signs. */
export function overflowOf(s: FlagRecord): string {
  if (s.kind === Lazy.Eager) return `(fe & ${OF}) !== 0`;
  if (s.kind === Lazy.Logic) return 'false';
  const shift = s.size === 1 ? 24 : s.size === 2 ? 16 : 0;
  const v = (name: string): string => (s.size === 8 ? `${name}h` : shift === 0 ? name : `(${name} << ${shift})`);
  const a = v('fa'), b = v('fb'), r = v('fr');
  const adding = s.kind === Lazy.Add || s.kind === Lazy.Adc || s.kind === Lazy.Inc;
  return adding ? `((${a} ^ ${r}) & (${b} ^ ${r})) < 0` : `((${a} ^ ${b}) & (${a} ^ ${r})) < 0`;
}

/** A condition code (SDM Vol. 1 Appendix B, the tttn encoding); null where it needs PF of
 *  a lazy record (getPF's table). */
export function conditionOf(s: FlagRecord, cc: number): string | null {
  let t: string;
  switch (cc >> 1) {
    case 0: t = overflowOf(s); break;
    case 1: t = carryOf(s); break;
    case 2: t = zeroOf(s); break;
    case 3: t = `(${carryOf(s)} || ${zeroOf(s)})`; break;
    case 4: t = signOf(s); break;
    case 5: if (s.kind !== Lazy.Eager) return null; t = `(fe & ${PF}) !== 0`; break;
    case 6: t = `(${signOf(s)}) !== (${overflowOf(s)})`; break;
    default: t = `(${zeroOf(s)} || (${signOf(s)}) !== (${overflowOf(s)}))`; break;
  }
  return (cc & 1) === 0 ? `(${t})` : `!(${t})`;
}

const KINDS = [Lazy.Eager, Lazy.Add, Lazy.Adc, Lazy.Sub, Lazy.Sbb, Lazy.Logic, Lazy.Inc, Lazy.Dec];
const SIZES = [1, 2, 4, 8];

/** A getter over the CPU's record, built from `statements` (which return the answer) for
 *  every kind and size the record can hold. */
function getter(name: string, statements: (s: FlagRecord) => string, params = ''): unknown {
  let body = 'const fa = cpu.lfA, fah = cpu.lfAHi, fb = cpu.lfB, fbh = cpu.lfBHi, fr = cpu.lfRes, frh = cpu.lfResHi, fc = cpu.lfCin, fe = cpu.lfEager;\n';
  body += 'switch (cpu.lfOp) {\n';
  for (const kind of KINDS) {
    body += `case ${kind}: switch (cpu.lfSize) {\n`;
    for (const size of SIZES) body += `  ${size === 8 ? 'default' : `case ${size}`}: ${statements({ kind, size })}\n`;
    body += '}\n';
  }
  body += '}\nthrow new Error("lazy flags: unknown kind " + cpu.lfOp);';
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('getPF', `return function ${name}(cpu${params}) {\n${body}\n};`)(getPF);
}

export const getCF = getter('getCF', (s) => `return (${carryOf(s)}) ? 1 : 0;`) as (cpu: Cpu) => number;
export const getZF = getter('getZF', (s) => `return ${zeroOf(s)};`) as (cpu: Cpu) => boolean;
export const getSF = getter('getSF', (s) => `return ${signOf(s)};`) as (cpu: Cpu) => boolean;
export const getOF = getter('getOF', (s) => `return ${overflowOf(s)};`) as (cpu: Cpu) => boolean;

/** Condition codes (SDM Vol. 1 Appendix B, the tttn encoding): cc in 0..15. */
export const condition = getter('condition', (s) => {
  const cases = Array.from({ length: 16 }, (_, cc) => `case ${cc}: return ${conditionOf(s, cc) ?? `${(cc & 1) === 0 ? '' : '!'}getPF(cpu)`};`);
  return `switch (cc) { ${cases.join(' ')} } return false;`;
}, ', cc') as (cpu: Cpu, cc: number) => boolean;

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
