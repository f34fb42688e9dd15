// What the SDM leaves undefined, as one deterministic value per instruction. Every semantic that produces an
// SDM-undefined flag or result takes it from here, so this file is the whole list.
// Guest tests never assert these values; QEMU comparisons mask them.
//
// Calibration: the values are meant to match Intel hardware. They have not yet been
// read off an Intel CPU: the development machines so far were AMD EPYC (family 26),
// whose undefined values need not match Intel's. The hardware oracle compares these
// bits only on the CPU signature recorded here.
export const CALIBRATED_ON: string | null = null;

// The entries that follow other flags take them as arguments rather than computing them,
// so that this module need not import flags.ts (which reads logicAF from here).
import { SF, ZF, PF } from '../arch/rflags.js';

export const undefinedFlags = {
  /** AND, OR, XOR, TEST: AF is cleared (flags.ts, Lazy.Logic). */
  logicAF: false,
  /** MUL, IMUL: SF, ZF and PF from the low half of the product, AF = 0. */
  mulKeep: SF | ZF | PF,
  /** DIV, IDIV: all six status flags left as they were (`before`: the status flags
   *  before the division). */
  afterDiv(before: number): number {
    return before;
  },
  /** SHL/SHR/SAR/ROL/ROR/RCL/RCR with a count other than 1: OF by the 1-bit formula of
   *  the last step; shifts: AF = 0; SHL/SHR of an 8/16-bit operand by at least its
   *  width: CF = the last bit shifted out of the (count mod 32)-bit shift (bits.ts). */
  shiftOFFormulaForAnyCount: true,
  /** SHLD/SHRD with a count greater than the operand size: the bit-by-bit shift through
   *  the source repeated (bits.ts shiftDouble); flags as for the last bit. */
  doubleShiftPastSize: 'repeat source' as const,
  /** BSF, BSR with a zero source: destination unchanged; CF, OF, SF, AF, PF unchanged. */
  bitScanZeroDestUnchanged: true,
  /** BT, BTS, BTR, BTC: OF, SF, AF, PF unchanged. LZCNT: OF, SF, AF, PF unchanged. */
  bitTestOthersUnchanged: true,
  /** BSWAP with a 16-bit operand: the low 16 bits become 0. */
  bswap16Result: 0,
  /** AAA, AAS: SF, ZF, PF from the adjusted AL, OF = 0 (`alFlags`: resultFlags of
   *  the adjusted AL). */
  asciiAdjust(alFlags: number): number {
    return alFlags;
  },
  /** DAA, DAS: OF = 0. */
  decimalAdjustOF(_oldAl: number, _newAl: number, _subtract: boolean): number {
    return 0;
  },
  /** PUSH Sreg with a 32-bit operand size: "all recent Core and Atom processors perform
   *  a 16-bit move, leaving the upper portion of the stack location unmodified" (SDM PUSH). */
  pushSegment32StoresWord: true,
  /** AAM, AAD: OF, AF, CF = 0. */
  aamAadRest: 0,
  /** LAR with a 32/64-bit operand: bits 19:16 ("x" in the mask 00FxFF00H) as a mask over
   *  the descriptor's limit bits; 0 stores zeros there. */
  larLimitBits: 0,
};

/** The rules an opcode-table row names (its `undefined` field, opcodes.ts), each with the
 *  entries of `undefinedFlags` that give its values. The semantics read those entries
 *  directly; the rule key is what the rows, the tests and the hardware oracle
 *  (src/lab/oracle/undefined-spec.ts: which bits a rule leaves undefined) share. */
export const UNDEFINED_RULES = {
  /** AND, OR, XOR, TEST: AF. */
  logic: ['logicAF'],
  /** MUL, IMUL: SF, ZF, AF, PF. */
  mul: ['mulKeep'],
  /** DIV, IDIV: all six status flags. */
  div: ['afterDiv'],
  /** ROL, ROR, RCL, RCR: OF for a count other than 1. */
  rotate: ['shiftOFFormulaForAnyCount'],
  /** SHL, SAL, SHR: AF; OF for a count other than 1; CF for a count of at least the width. */
  shift: ['shiftOFFormulaForAnyCount'],
  /** SAR: AF; OF for a count other than 1. */
  sar: ['shiftOFFormulaForAnyCount'],
  /** SHLD, SHRD: AF, OF for a count other than 1; with a count past the operand size,
   *  every status flag and the destination. */
  doubleShift: ['doubleShiftPastSize', 'shiftOFFormulaForAnyCount'],
  /** BT, BTS, BTR, BTC: OF, SF, AF, PF. */
  bitTest: ['bitTestOthersUnchanged'],
  /** BSF, BSR: CF, OF, SF, AF, PF; the destination for a zero source. */
  bitScan: ['bitScanZeroDestUnchanged'],
  /** LZCNT: OF, SF, AF, PF. */
  lzcnt: ['bitTestOthersUnchanged'],
  /** BSWAP with a 16-bit operand: the result. */
  bswap16: ['bswap16Result'],
  /** PUSH Sreg with a 32/64-bit operand size: the slot's upper bytes. */
  pushSreg: ['pushSegment32StoresWord'],
  /** AAA, AAS: OF, SF, ZF, PF. */
  asciiAdjust: ['asciiAdjust'],
  /** DAA, DAS: OF. */
  decimalAdjust: ['decimalAdjustOF'],
  /** AAM, AAD: OF, AF, CF. */
  aamAad: ['aamAadRest'],
  /** LAR: bits 19:16 of a 32/64-bit destination. */
  lar: ['larLimitBits'],
} as const satisfies Record<string, readonly (keyof typeof undefinedFlags)[]>;

export type UndefinedRule = keyof typeof UNDEFINED_RULES;
