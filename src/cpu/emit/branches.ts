// Near branches spelled inline for compiled blocks (they end a block): Jcc, JMP rel,
// CALL rel and RET, with a 64-bit operand size in 64-bit mode, as ops/branch.ts defines
// them. Each sets `nx`, the RIP the block continues at; a target that is not canonical
// takes the slow path, whose semantics raise the #GP.

import {
  type Emitter,
  canRead, canWrite, store, pushAddress, topAddress, popStack, canonicalTarget, NX_CANONICAL,
} from './gen.js';

const TWO32 = 4294967296;

/** Jcc rel (70+cc, 0F 80+cc). */
export const emitJcc: Emitter = (g, i) => {
  if (i.osz !== 8) return null;
  return { when: `(nx = ${g.condition(i.op)} ? ${g.next} + ${i.immLo} : ${g.next}, ${NX_CANONICAL})`, fast: '', faults: true };
};

/** JMP rel (EB, E9). */
export const emitJmpRel: Emitter = (g, i) => {
  if (i.osz !== 8) return null;
  return { when: `(nx = ${g.next} + ${i.immLo}, ${NX_CANONICAL})`, fast: '', faults: true };
};

/** CALL rel (E8): the target is checked before the return address is pushed. */
export const emitCallRel: Emitter = (g, i) => {
  if (i.osz !== 8) return null;
  return {
    when: `(nx = ${g.next} + ${i.immLo}, ${NX_CANONICAL}) && ${pushAddress(8)} && ${canWrite(8)}`,
    fast: `c = ${g.next}; ${store(8, 'c >>> 0', `Math.floor(c / ${TWO32}) | 0`)} lo[4] = eS | 0; hi[4] = eH;`,
    faults: true,
  };
};

/** RET (C3): a return address that is not canonical faults before RSP moves. */
export const emitRet: Emitter = (_g, i) => {
  if (i.osz !== 8 || i.immLo !== 0) return null;
  return {
    when: `${topAddress()} && ${canRead(8)} && (x = view.getInt32(pa, true), xh = view.getInt32(pa + 4, true), ${canonicalTarget('x', 'xh')})`,
    fast: popStack(8),
    faults: true,
  };
};
