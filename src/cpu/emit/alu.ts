// Integer arithmetic and logic spelled inline for compiled blocks: the ALU rows (ADD, OR,
// ADC, SBB, AND, SUB, XOR, CMP, TEST), INC/DEC, NOT/NEG, at operand sizes 1, 4 and 8.
// Each computes what ops/arith.ts alu() and incDec() compute and leaves the lazy flags
// (flags.ts) exactly as they do, so whatever reads the flags later cannot tell.

import type { Insn } from '../insn.js';
import { AluOp, Unary } from '../ops/arith.js';
import { Lazy } from '../flags.js';
import type { FlagState } from './flags.js';
import {
  type Emitter, type Emitted, type Gen,
  readReg, readRegHi, writeReg, effectiveAddress, canRead, canUpdate, load, store,
} from './gen.js';

const SIZES_INLINE = new Set([1, 4, 8]);

/** The lazy-flags kind an ALU operation leaves (alu()). */
function lazyKind(op: number): Lazy {
  switch (op) {
    case AluOp.Add: return Lazy.Add;
    case AluOp.Adc: return Lazy.Adc;
    case AluOp.Sub: case AluOp.Cmp: return Lazy.Sub;
    case AluOp.Sbb: return Lazy.Sbb;
    default: return Lazy.Logic;
  }
}

/** r, rh := x ∘ y at `size` (x, xh, y, yh already masked to the size, high halves 0 below
 *  64 bits), and the flag locals as alu() leaves the lazy flags. */
export function aluText(g: Gen, op: number, size: number): string {
  const m = size === 1 ? 255 : size === 2 ? 65535 : -1;
  const carryIn = op === AluOp.Adc || op === AluOp.Sbb;
  let t = carryIn ? `ci = ${g.carry()}; ` : 'ci = 0; ';
  const cin = carryIn ? ' + ci' : '';
  const bin = carryIn ? ' - ci' : '';
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

/** The flag locals of a lazy writer from its operands, result and carry. */
const FLAG_LOCALS = 'fa = x; fah = xh; fb = y; fbh = yh; fr = r; frh = rh; fc = ci;';

/** What an ALU operation leaves in the flag locals. */
const aluFlags = (op: number, size: number): FlagState => ({ kind: lazyKind(op), size });

function writes(op: number): boolean {
  return op !== AluOp.Cmp && op !== AluOp.Test;
}

/** x, xh := a register operand, masked as alu() masks it. */
function operandReg(v: string, vh: string, r: number, size: number): string {
  return `${v} = ${readReg(r, size)}; ${vh} = ${readRegHi(r, size)};`;
}

function operandImm(v: string, vh: string, i: Insn, size: number): string {
  const m = size === 1 ? 255 : size === 2 ? 65535 : -1;
  return `${v} = ${i.immLo & m}; ${vh} = ${size === 8 ? i.immHi : 0};`;
}

/** op E, src: the r/m operand is the destination (rows xx /r with Ev,Gv and groups 80-83, F6/F7 TEST). */
function toE(g: Gen, i: Insn, src: string): Emitted | null {
  const size = i.osz, op = i.op;
  if (!SIZES_INLINE.has(size)) return null;
  const alu = aluText(g, op, size);
  const flags = aluFlags(op, size);
  if (!i.mem) {
    const back = writes(op) ? writeReg(i.rm, size, 'r', 'rh') : '';
    return { fast: `${operandReg('x', 'xh', i.rm, size)} ${src} ${alu} ${back}`, faults: false, flags };
  }
  const ea = effectiveAddress(g, i);
  if (ea === null) return null;
  const read = `${load(size, 'x', 'xh')} ${size === 8 ? '' : 'xh = 0;'}`;
  if (!writes(op)) return { when: `${ea} && ${canRead(size)}`, fast: `${read} ${src} ${alu}`, faults: true, flags };
  return { when: `${ea} && ${canUpdate(size)}`, fast: `${read} ${src} ${alu} ${store(size, 'r', 'rh')}`, faults: true, flags };
}

/** op E, G */
export const emitAluEG: Emitter = (g, i) => toE(g, i, operandReg('y', 'yh', i.reg, i.osz));

/** op E, imm */
export const emitAluEI: Emitter = (g, i) => toE(g, i, operandImm('y', 'yh', i, i.osz));

/** op G, E: the register is the destination. */
export const emitAluGE: Emitter = (g, i) => {
  const size = i.osz, op = i.op;
  if (!SIZES_INLINE.has(size)) return null;
  const a = operandReg('x', 'xh', i.reg, size);
  const alu = aluText(g, op, size);
  const back = writes(op) ? writeReg(i.reg, size, 'r', 'rh') : '';
  const flags = aluFlags(op, size);
  if (!i.mem) return { fast: `${operandReg('y', 'yh', i.rm, size)} ${a} ${alu} ${back}`, faults: false, flags };
  const ea = effectiveAddress(g, i);
  if (ea === null) return null;
  return { when: `${ea} && ${canRead(size)}`, fast: `${load(size, 'y', 'yh')} ${size === 8 ? '' : 'yh = 0;'} ${a} ${alu} ${back}`, faults: true, flags };
};

/** op AL/eAX/rAX, imm */
export const emitAluAI: Emitter = (g, i) => {
  const size = i.osz, op = i.op;
  if (!SIZES_INLINE.has(size)) return null;
  const back = writes(op) ? writeReg(0, size, 'r', 'rh') : '';
  return { fast: `${operandReg('x', 'xh', 0, size)} ${operandImm('y', 'yh', i, size)} ${aluText(g, op, size)} ${back}`, faults: false, flags: aluFlags(op, size) };
};

/** INC/DEC/NOT/NEG on a register (groups 3-5), as ops/arith.ts unary(). */
export const emitUnary: Emitter = (g, i) => {
  const size = i.osz;
  if (i.mem || (size !== 4 && size !== 8)) return null;
  const a = operandReg('x', 'xh', i.rm, size);
  const back = writeReg(i.rm, size, 'r', 'rh');
  switch (i.op) {
    case Unary.Inc: case Unary.Dec: {
      const d = i.op === Unary.Dec ? -1 : 1;
      const sum = size === 8
        ? `c = (x >>> 0) + ${d}; r = c | 0; rh = (xh + (c > 4294967295 ? 1 : c < 0 ? -1 : 0)) | 0;`
        : `r = (x + ${d}) | 0; rh = 0;`;
      return {
        fast: `${a} ci = ${g.carry()}; ${sum} y = 1; yh = 0; ${FLAG_LOCALS} ${back}`,
        faults: false,
        flags: { kind: i.op === Unary.Dec ? Lazy.Dec : Lazy.Inc, size },
      };
    }
    case Unary.Not: return { fast: `${a} r = ~x; rh = ~xh; ${back}`, faults: false };
    default: return { fast: `${a} y = x; yh = xh; x = 0; xh = 0; ${aluText(g, AluOp.Sub, size)} ${back}`, faults: false, flags: aluFlags(AluOp.Sub, size) };
  }
};
