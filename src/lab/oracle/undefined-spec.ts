// Which outputs of an instruction the SDM leaves undefined, and which status flags an
// instruction reads — what the oracle needs to compare only defined results on a CPU
// other than the one src/cpu/undefined.ts was calibrated on. The rules are the flags sections of the Intel SDM Vol. 2
// instruction pages. Which rule applies to an instruction is its opcode-table row's
// `undefined` key (src/cpu/opcodes.ts); RULES below says *which* bits each rule leaves
// undefined, src/cpu/undefined.ts what value the model gives them. The flags an
// instruction reads and writes (its "Flags Affected", defined or not) are still listed
// here by mnemonic.
//
// The oracle tracks, instruction by instruction, the set of status flags whose value is
// undefined (written undefined and not defined since). A flag read by a later
// instruction while undefined (a Jcc after MUL, PUSHF after BT) makes everything after
// it depend on an undefined value: on an uncalibrated host such a case is not compared
// (the generator avoids building them, see generator.ts).

import type { DecodedEntry } from '../../cpu/opcodes.js';
import type { Insn } from '../../cpu/insn.js';
import type { UndefinedRule } from '../../cpu/undefined.js';
import { CF, PF, AF, ZF, SF, OF } from '../../arch/rflags.js';

export const ALL_STATUS = CF | PF | AF | ZF | SF | OF;

/** Flags each condition code reads (tttn encoding, SDM Vol. 1 Appendix B), by cc >> 1. */
const CC_READS = [OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF];

export function conditionReads(cc: number): number {
  return CC_READS[(cc >> 1) & 7];
}

export interface Effects {
  /** Status flags the instruction writes (with defined or undefined values). */
  writes: number;
  /** Of those, the ones whose value is undefined. */
  undef: number;
  /** Status flags the instruction reads. */
  reads: number;
  /** The destination operand's value is undefined. */
  undefDest: boolean;
}

const NONE: Effects = { writes: 0, undef: 0, reads: 0, undefDest: false };

/** The state an instruction's undefined outputs depend on. */
export interface StepState {
  /** RCX before the instruction (low 32 bits and high 32 bits). */
  rcxLo: number;
  rcxHi: number;
  /** Status flags after the instruction. */
  postFlags: number;
}

function fx(writes: number, undef: number, reads = 0, undefDest = false): Effects {
  return { writes, undef, reads, undefDest };
}

/** The shift count an instruction used (group 2 and SHLD/SHRD), already masked. */
function shiftCount(e: DecodedEntry, i: Insn, s: StepState, fromCl: boolean): number {
  const raw = fromCl ? s.rcxLo & 0xff : e.def.operands.endsWith(',1') ? 1 : i.immLo & 0xff;
  return raw & (i.osz === 8 ? 63 : 31);
}

function repCountZero(i: Insn, s: StepState): boolean {
  if (i.rep === 0) return false;
  if (i.asz === 8) return (s.rcxLo | s.rcxHi) === 0;
  if (i.asz === 4) return s.rcxLo === 0;
  return (s.rcxLo & 0xffff) === 0;
}

/** What one rule leaves undefined, for the oracle. */
export interface RuleSpec {
  /** The undefined status flags and whether the destination is undefined, for one executed
   *  instruction (n: its masked shift count, where it has one). */
  undef(e: DecodedEntry, i: Insn, s: StepState, n: number): { flags: number; dest: boolean };
  /** Static over-approximation while generating: the flags it may leave undefined. */
  mayFlags: number;
  /** Static: may the destination be undefined at this operand size? */
  mayDest(e: DecodedEntry, osz: number): boolean;
  /** Where an undefined register destination is: ModRM.reg (or the opcode's register), or ModRM.rm. */
  destIn: 'reg' | 'rm';
  /** The calibration (calibrate.ts) samples this rule's outputs. */
  calibrate: boolean;
  /** OF is tested against the shift formulas by the calibration. */
  shiftOF?: boolean;
}

const flags = (f: number): { flags: number; dest: boolean } => ({ flags: f, dest: false });
const never = (): boolean => false;
/** Rules of instructions invalid in 64-bit mode, where the oracle runs (#UD there), or not
 *  compared (LAR reads the host's descriptor tables): nothing for the oracle to track. */
const UNTRACKED: RuleSpec = { undef: () => flags(0), mayFlags: 0, mayDest: never, destIn: 'reg', calibrate: false };

export const RULES: Record<UndefinedRule, RuleSpec> = {
  logic: { undef: () => flags(AF), mayFlags: AF, mayDest: never, destIn: 'reg', calibrate: true },
  mul: { undef: () => flags(SF | ZF | AF | PF), mayFlags: SF | ZF | AF | PF, mayDest: never, destIn: 'reg', calibrate: true },
  div: { undef: () => flags(ALL_STATUS), mayFlags: ALL_STATUS, mayDest: never, destIn: 'reg', calibrate: true },
  rotate: { undef: (_e, _i, _s, n) => flags(n === 0 || n === 1 ? 0 : OF), mayFlags: OF, mayDest: never, destIn: 'rm', calibrate: true, shiftOF: true },
  shift: {
    undef: (_e, i, _s, n) => flags(n === 0 ? 0 : AF | (n === 1 ? 0 : OF) | (n >= i.osz * 8 ? CF : 0)),
    mayFlags: AF | OF | CF, mayDest: never, destIn: 'rm', calibrate: true, shiftOF: true,
  },
  sar: { undef: (_e, _i, _s, n) => flags(n === 0 ? 0 : AF | (n === 1 ? 0 : OF)), mayFlags: AF | OF, mayDest: never, destIn: 'rm', calibrate: true, shiftOF: true },
  doubleShift: {
    undef: (_e, i, _s, n) => (n === 0 ? flags(0) : n > i.osz * 8 ? { flags: ALL_STATUS, dest: true } : flags(AF | (n === 1 ? 0 : OF))),
    mayFlags: ALL_STATUS, mayDest: (_e, osz) => osz === 2, destIn: 'rm', calibrate: true, shiftOF: true,
  },
  bitTest: { undef: () => flags(OF | SF | AF | PF), mayFlags: OF | SF | AF | PF, mayDest: never, destIn: 'reg', calibrate: true },
  bitScan: {
    undef: (_e, _i, s) => ({ flags: CF | OF | SF | AF | PF, dest: (s.postFlags & ZF) !== 0 }),
    mayFlags: CF | OF | SF | AF | PF, mayDest: () => true, destIn: 'reg', calibrate: true,
  },
  lzcnt: { undef: () => flags(OF | SF | AF | PF), mayFlags: OF | SF | AF | PF, mayDest: never, destIn: 'reg', calibrate: true },
  bswap16: { undef: (_e, i) => ({ flags: 0, dest: i.osz === 2 }), mayFlags: 0, mayDest: (_e, osz) => osz === 2, destIn: 'reg', calibrate: true },
  // The slot's upper bytes in memory (model.ts tracks them); PUSH ES/CS/SS/DS are #UD in 64-bit mode.
  pushSreg: { undef: () => flags(0), mayFlags: 0, mayDest: (e, osz) => osz !== 2 && !e.not64, destIn: 'reg', calibrate: false },
  asciiAdjust: UNTRACKED,
  decimalAdjust: UNTRACKED,
  aamAad: UNTRACKED,
  lar: UNTRACKED,
};

/** The oracle's view of a row's undefined-value rule (null: it has none). */
export function ruleOf(e: DecodedEntry): RuleSpec | null {
  const r = e.def.undefined;
  return r === undefined ? null : RULES[r];
}

/** Flags effects of one executed instruction (SDM Vol. 2, each instruction's "Flags Affected"). */
export function effects(e: DecodedEntry, i: Insn, s: StepState): Effects {
  const fx = flagsAffected(e, i, s);
  const rule = ruleOf(e);
  if (rule === null) return fx;
  // The rules with a count are those of the shifts, whose destination is ModRM.rm.
  const count = rule.destIn === 'rm' ? shiftCount(e, i, s, e.def.operands.endsWith('CL')) : 0;
  const u = rule.undef(e, i, s, count);
  if (u.flags === 0 && !u.dest) return fx;
  return { writes: fx.writes, undef: u.flags, reads: fx.reads, undefDest: u.dest };
}

/** Which status flags an instruction writes and reads (the undefined ones: effects()). */
function flagsAffected(e: DecodedEntry, i: Insn, s: StepState): Effects {
  const m = e.def.mnemonic;
  switch (m) {
    case 'ADD': case 'SUB': case 'CMP': case 'NEG': case 'XADD': case 'CMPXCHG':
      return fx(ALL_STATUS, 0);
    case 'ADC': case 'SBB':
      return fx(ALL_STATUS, 0, CF);
    case 'CMPSB': case 'CMPS': case 'SCASB': case 'SCAS':
      return repCountZero(i, s) ? NONE : fx(ALL_STATUS, 0);
    case 'AND': case 'OR': case 'XOR': case 'TEST':
      return fx(ALL_STATUS, 0);
    case 'INC': case 'DEC':
      return fx(ALL_STATUS & ~CF, 0);
    case 'MUL': case 'IMUL': case 'DIV': case 'IDIV':
      return fx(ALL_STATUS, 0);
    case 'ROL': case 'ROR': case 'RCL': case 'RCR': case 'SHL': case 'SAL': case 'SHR': case 'SAR': {
      const n = shiftCount(e, i, s, e.def.operands.endsWith('CL'));
      const reads = m === 'RCL' || m === 'RCR' ? CF : 0;
      if (n === 0) return fx(0, 0, reads);
      if (m === 'ROL' || m === 'ROR' || m === 'RCL' || m === 'RCR') return fx(CF | OF, 0, reads);
      return fx(ALL_STATUS, 0);
    }
    case 'SHLD': case 'SHRD': {
      const n = shiftCount(e, i, s, e.def.operands.endsWith('CL'));
      if (n === 0) return NONE;
      return fx(ALL_STATUS, 0);
    }
    case 'BT': case 'BTS': case 'BTR': case 'BTC':
      return fx(CF | OF | SF | AF | PF, 0);
    case 'BSF': case 'BSR': case 'LZCNT':
      return fx(ALL_STATUS, 0);
    case 'POPCNT':
      return fx(ALL_STATUS, 0);
    case 'SAHF':
      return fx(SF | ZF | AF | PF | CF, 0);
    case 'LAHF':
      return fx(0, 0, SF | ZF | AF | PF | CF);
    case 'CLC': case 'STC':
      return fx(CF, 0);
    case 'PUSHF':
      return fx(0, 0, ALL_STATUS);
    case 'POPF': case 'IRET':
      return fx(ALL_STATUS, 0);
    case 'J': case 'SET': case 'CMOV':
      return e.def.code.includes('+cc') ? fx(0, 0, conditionReads(e.op)) : NONE;
    case 'LOOPE': case 'LOOPNE':
      return fx(0, 0, ZF);
    case 'CMPXCHG8B': case 'CMPXCHG16B':
      return fx(ZF, 0);
    case 'INTO':
      return fx(0, 0, OF);
    case 'SALC':
      return fx(0, 0, CF);
    default:
      return NONE;
  }
}

/** Rows whose destination may be undefined (the generator puts them last in a sequence
 *  on an uncalibrated host, so nothing reads that value). */
export function mayLeaveUndefinedDest(e: DecodedEntry, osz: number): boolean {
  const rule = ruleOf(e);
  return rule !== null && rule.mayDest(e, osz);
}

/** PUSH FS/GS: with a 32/64-bit operand size the SDM allows a zero-extended push or a
 *  16-bit store that leaves the rest of the slot as it was (undefined.ts). */
export function isPushSreg(e: DecodedEntry): boolean {
  return e.def.undefined === 'pushSreg' && !e.not64;
}

/** Static over-approximation used while generating: the flags an instruction may leave
 *  undefined, whatever its operand values. */
export function mayLeaveUndefinedFlags(e: DecodedEntry): number {
  return ruleOf(e)?.mayFlags ?? 0;
}

/** Static: the flags an instruction always defines (for clearing the generator's set). */
export function alwaysDefines(e: DecodedEntry): number {
  switch (e.def.mnemonic) {
    case 'ADD': case 'SUB': case 'CMP': case 'NEG': case 'XADD': case 'CMPXCHG': case 'ADC': case 'SBB':
    case 'POPCNT': case 'POPF': case 'IRET':
      return ALL_STATUS;
    case 'AND': case 'OR': case 'XOR': case 'TEST': return ALL_STATUS & ~AF;
    case 'INC': case 'DEC': return ALL_STATUS & ~CF;
    case 'MUL': case 'IMUL': return CF | OF;
    case 'SAHF': return SF | ZF | AF | PF | CF;
    case 'CLC': case 'STC': return CF;
    case 'BSF': case 'BSR': case 'LZCNT': return ZF;
    case 'CMPXCHG8B': case 'CMPXCHG16B': return ZF;
    default: return 0;
  }
}

/** Static: the flags an instruction reads (conditional ones by their condition code). */
export function staticReads(e: DecodedEntry): number {
  return effects(e, STATIC_INSN, STATIC_STATE).reads;
}

const STATIC_INSN = { osz: 4, asz: 8, rep: 0, immLo: 1 } as Insn;
const STATIC_STATE: StepState = { rcxLo: 1, rcxHi: 0, postFlags: 0 };
