// Data movement spelled inline for compiled blocks: MOV (register, memory, immediate
// forms), MOVZX/MOVSX/MOVSXD, LEA, PUSH/POP of a register, CMOVcc, SETcc and the NOPs,
// as ops/data.ts and ops/bits.ts define them.

import type { Insn } from '../insn.js';
import {
  type Emitter, type Emitted, type Gen,
  readReg, readRegHi, writeReg, effectiveAddress, canRead, canWrite, load, store, pushAddress, topAddress, popStack,
} from './gen.js';

const TWO32 = 4294967296;

/** Read the r/m operand (register or memory) into (x, xh), then `then`; xh is 0 below 64 bits. */
function fromE(g: Gen, i: Insn, size: number, then: string): Emitted | null {
  if (!i.mem) return { fast: `x = ${readReg(i.rm, size)}; xh = ${readRegHi(i.rm, size)}; ${then}`, faults: false };
  const ea = effectiveAddress(g, i);
  if (ea === null) return null;
  return { when: `${ea} && ${canRead(size)}`, fast: `${load(size, 'x', 'xh')} ${size === 8 ? '' : 'xh = 0;'} ${then}`, faults: true };
}

/** Write (v, vh) to the r/m operand. */
function toE(g: Gen, i: Insn, size: number, v: string, vh: string): Emitted | null {
  if (!i.mem) return { fast: writeReg(i.rm, size, v, vh), faults: false };
  const ea = effectiveAddress(g, i);
  if (ea === null) return null;
  return { when: `${ea} && ${canWrite(size)}`, fast: store(size, v, vh), faults: true };
}

const plain = (size: number): boolean => size === 1 || size === 4 || size === 8;

/** MOV Ev, Gv (and Eb, Gb). */
export const emitMovEG: Emitter = (g, i) => {
  if (!plain(i.osz)) return null;
  if (!i.mem) return { fast: `x = ${readReg(i.reg, i.osz)}; ${writeReg(i.rm, i.osz, 'x', readRegHi(i.reg, i.osz))}`, faults: false };
  return toE(g, i, i.osz, readReg(i.reg, i.osz), readRegHi(i.reg, i.osz));
};

/** MOV Gv, Ev (and Gb, Eb). */
export const emitMovGE: Emitter = (g, i) => (plain(i.osz) ? fromE(g, i, i.osz, writeReg(i.reg, i.osz, 'x', 'xh')) : null);

/** MOV Ev, Iz (C6/C7 /0): the immediate is sign-extended to 64 bits. */
export const emitMovEI: Emitter = (g, i) => (plain(i.osz) ? toE(g, i, i.osz, `${i.immLo}`, `${i.immHi}`) : null);

/** MOV Zv, Iv (B0+r, B8+r). */
export const emitMovZI: Emitter = (_g, i) => (plain(i.osz) ? { fast: writeReg(i.reg, i.osz, `${i.immLo}`, `${i.immHi}`), faults: false } : null);

/** MOVZX/MOVSX Gv, Eb/Ew (op: source size, negative for sign extension). */
export const emitMovExtend: Emitter = (g, i) => {
  if (i.osz !== 4 && i.osz !== 8) return null;
  const src = Math.abs(i.op);
  const widen = i.op > 0 ? 'xh = 0;' : `x = (x << ${32 - 8 * src}) >> ${32 - 8 * src}; xh = x >> 31;`;
  return fromE(g, i, src, `${widen} ${writeReg(i.reg, i.osz, 'x', 'xh')}`);
};

/** MOVSXD Gv, Ed. */
export const emitMovsxd: Emitter = (g, i) => (i.osz === 4 || i.osz === 8 ? fromE(g, i, 4, writeReg(i.reg, i.osz, 'x', 'x >> 31')) : null);

/** LEA with a 64-bit address size: the offset, without segment base, at the operand size. */
export const emitLea: Emitter = (g, i) => {
  if (i.asz !== 8 || (i.osz !== 4 && i.osz !== 8)) return null;
  if (i.base === 16) {
    return { fast: `c = ${g.next} + ${i.dispLo | 0}; ${writeReg(i.reg, i.osz, 'c | 0', `Math.floor(c / ${TWO32}) | 0`)}`, faults: false };
  }
  const sum: string[] = [`${i.dispLo >>> 0}`];
  const high: string[] = [`${i.dispHi}`];
  if (i.base >= 0) { sum.push(`(lo[${i.base}] >>> 0)`); high.push(`hi[${i.base}]`); }
  if (i.index >= 0) {
    sum.push(`(lo[${i.index}] >>> 0) * ${1 << i.scale}`);
    high.push(`(hi[${i.index}] << ${i.scale})`);
  }
  const h = i.osz === 8 ? `(${high.join(' + ')} + ((c / ${TWO32}) | 0)) | 0` : '0';
  return { fast: `c = ${sum.join(' + ')}; ${writeReg(i.reg, i.osz, 'c | 0', h)}`, faults: false };
};

/** PUSH r64 (50+r). */
export const emitPush: Emitter = (_g, i) => {
  if (i.osz !== 8) return null;
  return {
    when: `${pushAddress(8)} && ${canWrite(8)}`,
    fast: `${store(8, `lo[${i.reg}]`, `hi[${i.reg}]`)} lo[4] = eS | 0; hi[4] = eH;`,
    faults: true,
  };
};

/** POP r64 (58+r): RSP moves, then the register is written (POP RSP keeps the value read). */
export const emitPop: Emitter = (_g, i) => {
  if (i.osz !== 8) return null;
  return { when: `${topAddress()} && ${canRead(8)}`, fast: `${load(8, 'x', 'xh')} ${popStack(8)} ${writeReg(i.reg, 8, 'x', 'xh')}`, faults: true };
};

/** CMOVcc: the source is read whatever the condition; a 32-bit destination is zero-extended
 *  even when nothing moves (ops/bits.ts cmovcc). */
export const emitCmov: Emitter = (g, i) => {
  if (i.osz !== 4 && i.osz !== 8) return null;
  const move = writeReg(i.reg, i.osz, 'x', 'xh');
  const stay = i.osz === 4 ? ` else hi[${i.reg}] = 0;` : '';
  return fromE(g, i, i.osz, `if (${g.condition(i.op)}) { ${move} }${stay}`);
};

/** SETcc on a byte register. */
export const emitSetcc: Emitter = (g, i) => {
  if (i.mem) return null;
  return { fast: writeReg(i.rm, 1, `(${g.condition(i.op)} ? 1 : 0)`, '0'), faults: false };
};

/** NOP Ev and PAUSE: nothing (a NOP's memory operand is not accessed). */
export const emitNop: Emitter = () => ({ fast: '', faults: false });

/** 90 without REX.B is NOP (SDM NOP); other XCHG rAX forms are called. */
export const emitXchgZ: Emitter = (_g, i) => (i.reg === 0 ? { fast: '', faults: false } : null);
