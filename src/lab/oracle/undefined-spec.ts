// Which outputs of an instruction the SDM leaves undefined, and which status flags an
// instruction reads — what the oracle needs to compare only defined results on a CPU
// other than the one src/cpu/undefined.ts was calibrated on (DESIGN.md, "What the SDM
// leaves undefined"). The rules are the flags sections of the Intel SDM Vol. 2
// instruction pages; this file says *which* bits are undefined, src/cpu/undefined.ts
// says what value the model gives them.
//
// The oracle tracks, instruction by instruction, the set of status flags whose value is
// undefined (written undefined and not defined since). A flag read by a later
// instruction while undefined (a Jcc after MUL, PUSHF after BT) makes everything after
// it depend on an undefined value: on an uncalibrated host such a case is not compared
// (the generator avoids building them, see generator.ts).

import type { DecodedEntry } from '../../cpu/opcodes.js';
import type { Insn } from '../../cpu/insn.js';
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

/** Flags effects of one executed instruction (SDM Vol. 2, each instruction's "Flags Affected"). */
export function effects(e: DecodedEntry, i: Insn, s: StepState): Effects {
  const m = e.def.mnemonic;
  switch (m) {
    case 'ADD': case 'SUB': case 'CMP': case 'NEG': case 'XADD': case 'CMPXCHG':
      return fx(ALL_STATUS, 0);
    case 'ADC': case 'SBB':
      return fx(ALL_STATUS, 0, CF);
    case 'CMPSB': case 'CMPS': case 'SCASB': case 'SCAS':
      return repCountZero(i, s) ? NONE : fx(ALL_STATUS, 0);
    case 'AND': case 'OR': case 'XOR': case 'TEST':
      return fx(ALL_STATUS, AF);
    case 'INC': case 'DEC':
      return fx(ALL_STATUS & ~CF, 0);
    case 'MUL': case 'IMUL':
      return fx(ALL_STATUS, SF | ZF | AF | PF);
    case 'DIV': case 'IDIV':
      return fx(ALL_STATUS, ALL_STATUS);
    case 'ROL': case 'ROR': case 'RCL': case 'RCR': case 'SHL': case 'SAL': case 'SHR': case 'SAR': {
      const n = shiftCount(e, i, s, e.def.operands.endsWith('CL'));
      const reads = m === 'RCL' || m === 'RCR' ? CF : 0;
      if (n === 0) return fx(0, 0, reads);
      const of = n === 1 ? 0 : OF;
      if (m === 'ROL' || m === 'ROR' || m === 'RCL' || m === 'RCR') return fx(CF | OF, of, reads);
      const cf = (m === 'SHL' || m === 'SAL' || m === 'SHR') && n >= i.osz * 8 ? CF : 0;
      return fx(ALL_STATUS, AF | of | cf);
    }
    case 'SHLD': case 'SHRD': {
      const n = shiftCount(e, i, s, e.def.operands.endsWith('CL'));
      if (n === 0) return NONE;
      if (n > i.osz * 8) return fx(ALL_STATUS, ALL_STATUS, 0, true);
      return fx(ALL_STATUS, AF | (n === 1 ? 0 : OF));
    }
    case 'BT': case 'BTS': case 'BTR': case 'BTC':
      return fx(CF | OF | SF | AF | PF, OF | SF | AF | PF);
    case 'BSF': case 'BSR':
      return fx(ALL_STATUS, CF | OF | SF | AF | PF, 0, (s.postFlags & ZF) !== 0);
    case 'LZCNT':
      return fx(ALL_STATUS, OF | SF | AF | PF);
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
    case 'BSWAP':
      return i.osz === 2 ? fx(0, 0, 0, true) : NONE;
    case 'INTO':
      return fx(0, 0, OF);
    case 'SALC':
      return fx(0, 0, CF);
    default:
      return NONE;
  }
}

/** Mnemonics whose destination may be undefined (the generator puts them last in a
 *  sequence on an uncalibrated host, so nothing reads that value). */
export function mayLeaveUndefinedDest(e: DecodedEntry, osz: number): boolean {
  const m = e.def.mnemonic;
  return m === 'BSF' || m === 'BSR' || (osz === 2 && (m === 'BSWAP' || m === 'SHLD' || m === 'SHRD')) ||
    (osz !== 2 && isPushSreg(e));
}

/** PUSH FS/GS: with a 32/64-bit operand size the SDM allows a zero-extended push or a
 *  16-bit store that leaves the rest of the slot as it was (undefined.ts). */
export function isPushSreg(e: DecodedEntry): boolean {
  return e.def.mnemonic === 'PUSH' && (e.def.operands === 'FS' || e.def.operands === 'GS');
}

/** Static over-approximation used while generating: the flags an instruction may leave
 *  undefined, whatever its operand values. */
export function mayLeaveUndefinedFlags(e: DecodedEntry): number {
  switch (e.def.mnemonic) {
    case 'AND': case 'OR': case 'XOR': case 'TEST': return AF;
    case 'MUL': case 'IMUL': return SF | ZF | AF | PF;
    case 'DIV': case 'IDIV': return ALL_STATUS;
    case 'ROL': case 'ROR': case 'RCL': case 'RCR': return OF;
    case 'SHL': case 'SAL': case 'SHR': return AF | OF | CF;
    case 'SAR': return AF | OF;
    case 'SHLD': case 'SHRD': return ALL_STATUS;
    case 'BT': case 'BTS': case 'BTR': case 'BTC': return OF | SF | AF | PF;
    case 'BSF': case 'BSR': return CF | OF | SF | AF | PF;
    case 'LZCNT': return OF | SF | AF | PF;
    default: return 0;
  }
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
