// What each generator recipe a row names (OpcodeDef.oracle.gen, src/cpu/opcodes.ts)
// means to the hardware oracle: the facts about an instruction the generator, the
// model side and the tests need beyond its operand codes. The row chooses the recipe;
// this file says what the recipe implies, so no list of mnemonics lives in the oracle.

import type { DecodedEntry, OracleGen } from '../../cpu/opcodes.js';

/** A string instruction's pointers and effects. */
export interface StringForm {
  /** Reads [rSI] (an FS/GS override applies to it). */
  src: boolean;
  /** Uses [rDI]. */
  dst: boolean;
  /** Writes memory at [rDI]. */
  writes: boolean;
  /** INS/OUTS. */
  io: boolean;
  /** CMPS/SCAS: a REPE/REPNE may stop early (the model steps it one iteration at a time). */
  stopsEarly: boolean;
}

export interface Recipe {
  /** General registers the instruction writes without naming them (0 rAX, 1 rCX, ...). */
  writes?: readonly number[];
  /** The implicit memory operand is the stack. */
  stack?: boolean;
  /** An implicit memory operand addressed by registers or an offset. */
  implicitMem?: boolean;
  string?: StringForm;
  /** A relative branch: its displacement is fixed to a later instruction. */
  rel?: boolean;
  /** Counts in rCX (LOOP, JrCXZ). */
  rcxCount?: boolean;
  /** Its result depends on its own address (a control transfer). */
  transfer?: boolean;
  /** Reads what it needs from the stack: the generator must know RSP. */
  needsRsp?: boolean;
  /** Indirect near JMP/CALL: the target goes into a register or memory. */
  indirect?: boolean;
  /** Loads FS or GS (no FS/GS-relative access may follow in the sequence). */
  fsgsLoad?: boolean;
  /** Writes its ModRM.reg register too (XCHG, XADD, CMPXCHG). */
  swapsReg?: boolean;
  /** Alignment of the memory operand the generator prefers. */
  align?: number;
  /** No F2/F3 before it (F3 0F BC is TZCNT on a BMI1 host). */
  noRep?: boolean;
  /** No LOCK before it (AMD's LOCK MOV CR0 is MOV CR8). */
  noLock?: boolean;
  /** On AMD: no REX.W (m16:64 far pointers are Intel's), no F2/F3 (they select LOOPE/LOOPNE's
   *  condition there), no REX.B (F3 41 90 is XCHG there), memory operand only (0F 0D). */
  amdNoRexW?: boolean;
  amdNoRep?: boolean;
  amdNoRexB?: boolean;
  amdMemOnly?: boolean;
}

const str = (src: boolean, dst: boolean, writes: boolean, io: boolean, stopsEarly: boolean): StringForm =>
  ({ src, dst, writes, io, stopsEarly });

export const RECIPES: Record<OracleGen, Recipe> = {
  // MOV's rAX is a conservative reading of "MOV writes rAX" kept from the first oracle (it
  // only keeps later memory operands off rAX).
  mov: { writes: [0] },
  movCr: { writes: [0], noLock: true },
  movSreg: { writes: [0] },
  movSregFsGs: { writes: [0], fsgsLoad: true },
  moffs: { writes: [0], implicitMem: true },
  xchg: { writes: [0], swapsReg: true },
  xadd: { swapsReg: true },
  cmpxchg: { writes: [0], swapsReg: true },
  cmpxchg8b: { writes: [0, 2], align: 8 },
  cmpxchg16b: { writes: [0, 2], align: 16 },
  mul: { writes: [0, 2] },
  div: { writes: [0, 2] },
  idiv: { writes: [0, 2] },
  writesA: { writes: [0] },
  writesD: { writes: [2] },
  xlat: { writes: [0], implicitMem: true },
  shift: {},
  int: {},
  btReg: {},
  scan: {},
  bsf: { noRep: true },
  push: { stack: true },
  pushFsGs: { stack: true },
  pop: { stack: true },
  popFsGs: { stack: true, needsRsp: true, fsgsLoad: true },
  pushf: { stack: true },
  popf: { stack: true, needsRsp: true },
  enter: { stack: true, writes: [5] },
  leave: { stack: true, writes: [5] },
  cld: {},
  std: {},
  jcc: { rel: true, transfer: true },
  jmpRel: { rel: true, transfer: true },
  callRel: { rel: true, transfer: true, stack: true },
  loop: { rel: true, transfer: true, rcxCount: true, writes: [1] },
  loopz: { rel: true, transfer: true, rcxCount: true, writes: [1], amdNoRep: true },
  jrcxz: { rel: true, transfer: true, rcxCount: true },
  jmpIndirect: { indirect: true, transfer: true },
  callIndirect: { indirect: true, transfer: true, stack: true },
  ret: { stack: true, needsRsp: true, transfer: true },
  retf: { stack: true, needsRsp: true, transfer: true },
  iret: { stack: true, needsRsp: true, transfer: true },
  jmpFar: { needsRsp: true, transfer: true, amdNoRexW: true },
  callFar: { stack: true, needsRsp: true, transfer: true, amdNoRexW: true },
  jmpFarImm: { needsRsp: true, transfer: true, amdNoRexW: true },
  callFarImm: { stack: true, needsRsp: true, transfer: true, amdNoRexW: true },
  lss: { amdNoRexW: true },
  lfsLgs: { fsgsLoad: true, amdNoRexW: true },
  movs: { writes: [1, 6, 7], implicitMem: true, string: str(true, true, true, false, false) },
  cmps: { writes: [1, 6, 7], implicitMem: true, string: str(true, true, false, false, true) },
  stos: { writes: [1, 7], implicitMem: true, string: str(false, true, true, false, false) },
  lods: { writes: [0, 1, 6], implicitMem: true, string: str(true, false, false, false, false) },
  scas: { writes: [1, 7], implicitMem: true, string: str(false, true, false, false, true) },
  ins: { writes: [1, 7], implicitMem: true, string: str(false, true, true, true, false) },
  outs: { writes: [1, 6], implicitMem: true, string: str(true, false, false, true, false) },
  pause: { amdNoRexB: true },
  prefetchNop: { amdMemOnly: true },
};

const PLAIN: Recipe = {};

/** The recipe of a row (a row without one: random operands by its operand codes). */
export function recipeOf(e: DecodedEntry): Recipe {
  const g = e.def.oracle.gen;
  return g === undefined ? PLAIN : RECIPES[g];
}

/** The generator's recipe key of a row, for the per-recipe operand rules. */
export function genOf(e: DecodedEntry): OracleGen | undefined {
  return e.def.oracle.gen;
}
