// Integer arithmetic and logic spelled inline for compiled blocks: the ALU rows (ADD, OR,
// ADC, SBB, AND, SUB, XOR, CMP, TEST), INC/DEC, NOT/NEG, at operand sizes 1, 4 and 8.
// ADD..TEST are ops/arith.ts's own definition (aluBody), which alu() is built from; INC,
// DEC, NOT and NEG compute what unary() computes. The lazy flags are left in the block's
// flag locals (emit/flags.ts) exactly as the semantics leave them in the CPU.

import type { Insn } from '../insn.js';
import { AluOp, Unary, aluBody, aluKind, FLAG_LOCALS } from '../ops/arith.js';
import { Lazy } from '../flags.js';
import type { FlagState } from './flags.js';
import {
  type Emitter, type Emitted, type Gen,
  readReg, readRegHi, writeReg, effectiveAddress, canRead, canUpdate, load, store,
} from './gen.js';

const SIZES_INLINE = new Set([1, 4, 8]);

/** The ALU operation on x, y into r and the flag locals (ops/arith.ts aluText), CF read
 *  from the block's flags when ADC/SBB needs it. */
const aluText = (g: Gen, op: number, size: number): string =>
  aluBody(op, size, op === AluOp.Adc || op === AluOp.Sbb ? g.carry() : '0');

/** What an ALU operation leaves in the flag locals. */
const aluFlags = (op: number, size: number): FlagState => ({ kind: aluKind(op), size });

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
