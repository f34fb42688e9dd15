// SHL/SAL, SHR and SAR of a register by an immediate count or by 1, spelled inline for
// compiled blocks with the count folded in: the result and the flags ops/bits.ts shift()
// computes, the SDM-undefined ones from the CPU's vendor table (undefined.ts) read when
// the block is compiled (a block belongs to one CPU).

import type { Insn } from '../insn.js';
import { CountFrom } from '../ops/bits.js';
import { Lazy, resultFlags } from '../flags.js';
import { ShiftOF } from '../undefined.js';
import { CF, OF, AF } from '../../arch/rflags.js';
import { type Emitter, type Gen, writeReg } from './gen.js';

const SHL = 4, SHR = 5, SAL = 6, SAR = 7;

/** The most significant bit of (v, vh) at `size`, as 0/1. */
const msb = (v: string, vh: string, size: number): string => (size === 8 ? `(${vh} >>> 31)` : `(${v} >>> 31)`);
/** The bit below it. */
const below = (v: string, vh: string, size: number): string => (size === 8 ? `((${vh} >>> 30) & 1)` : `((${v} >>> 30) & 1)`);

/** r, rh and c (CF as 0/1) for a shift of (x, xh) by n, 1 <= n < width. */
function shifted(kind: number, size: number, n: number): string {
  const left = kind === SHL || kind === SAL, sar = kind === SAR;
  if (size === 4) {
    if (left) return `r = x << ${n}; rh = 0; c = (x >>> ${32 - n}) & 1;`;
    const op = sar ? '>>' : '>>>';
    return `r = (x ${op} ${n}) | 0; rh = 0; c = (x ${op} ${n - 1}) & 1;`;
  }
  const bit = (k: number): string => (k < 32 ? `((x >>> ${k}) & 1)` : `((xh >>> ${k - 32}) & 1)`);
  if (left) {
    const v = n < 32 ? `r = x << ${n}; rh = (xh << ${n}) | (x >>> ${32 - n});` : n === 32 ? 'r = 0; rh = x;' : `r = 0; rh = x << ${n - 32};`;
    return `${v} c = ${bit(64 - n)};`;
  }
  const op = sar ? '>>' : '>>>';
  const v = n < 32 ? `r = (x >>> ${n}) | (xh << ${32 - n}); rh = (xh ${op} ${n}) | 0;`
    : `r = ${n === 32 ? 'xh' : `(xh ${op} ${n - 32}) | 0`}; rh = ${sar ? 'xh >> 31' : '0'};`;
  return `${v} c = ${bit(n - 1)};`;
}

function shiftText(g: Gen, i: Insn, kind: number, size: number, n: number): string {
  const u = g.cpu.undef;
  const bits = size * 8;
  const left = kind === SHL || kind === SAL, sar = kind === SAR;
  const lastStep = u.shiftOF === ShiftOF.LastStep;
  const keepOF = n !== 1 && i.op === CountFrom.Imm && u.shiftImmKeepsOF;
  let of: string;
  if (sar) of = '0';
  else if (keepOF) of = `(${g.overflow()} ? ${OF} : 0)`;
  else if (left) of = `((${lastStep ? `${msb('r', 'rh', size)} ^ c` : `${msb('x', 'xh', size)} ^ ${below('x', 'xh', size)}`}) !== 0 ? ${OF} : 0)`;
  else of = `(${lastStep ? `(${msb('r', 'rh', size)} ^ ${below('r', 'rh', size)})` : msb('x', 'xh', size)} !== 0 ? ${OF} : 0)`;
  const undefinedBits = AF | (n !== 1 ? OF : 0) | (n >= bits && !sar ? CF : 0);
  return `${shifted(kind, size, n)} fe = c | ${of} | ${u.shiftAF} | ${g.ref(resultFlags)}(r, rh, ${size}); fu = ${undefinedBits};`;
}

/** Group 2 with an immediate count or 1 (C1, D1), shift kinds only, on a register. */
export const emitShift: Emitter = (g, i) => {
  const size = i.osz, kind = i.reg & 7;
  if (i.mem || (size !== 4 && size !== 8) || i.op === CountFrom.CL || (kind !== SHL && kind !== SAL && kind !== SHR && kind !== SAR)) return null;
  const n = (i.op === CountFrom.One ? 1 : i.immLo & 0xff) & (size === 8 ? 63 : 31);
  // A count of 0 changes nothing but still writes the register (a 32-bit one zero-extends).
  if (n === 0) return { fast: size === 4 ? `hi[${i.rm}] = 0;` : '', faults: false };
  const read = `x = lo[${i.rm}]; xh = ${size === 8 ? `hi[${i.rm}]` : '0'};`;
  return { fast: `${read} ${shiftText(g, i, kind, size, n)} ${writeReg(i.rm, size, 'r', 'rh')}`, faults: false, flags: { kind: Lazy.Eager, size } };
};
