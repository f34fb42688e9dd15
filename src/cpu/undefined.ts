// What the SDM and the APM leave undefined, as one deterministic value per instruction and
// vendor flavour. Every semantic that produces an undefined flag or result takes it from the
// CPU's flavour (`cpu.undef`, set once from the model at construction), so this file is the
// whole list. Guest tests never assert these values; QEMU comparisons mask them.
//
// Each flavour follows one real CPU, recorded beside its table (`calibratedOn`); every value
// is a rule — a function of the operands, the count or the flags before — never a list of
// cases. The hardware oracle compares undefined values only on the CPU a flavour names.
//
// - intel: test/oracle/intel-observations/ (2,838 cases from an Emerald Rapids core);
//   test/intel-observations.test.ts runs every case on the intel flavour.
// - amd: this project's machines, through the oracle's harness (`npm run oracle -- --calibrate`,
//   test/oracle/undefined-observed-<signature>.json) and the Intel observations' forms run
//   natively on the same core; test/hardware-oracle.test.ts keeps comparing them there.
//   AMD cores differ among themselves: a Zen 5 (AuthenticAMD-1a-02-1, test/oracle/) gives
//   BSF/BSR Intel's flags, the Zen 3 below leaves them unchanged.
//
// Not observable from 64-bit user code, so the same in both flavours and unverified: AAA/AAS,
// DAA/DAS, AAM/AAD (#UD in 64-bit mode), PUSH Sreg with a 32-bit operand (no such operand
// size in 64-bit mode), LAR's bits 19:16 (LAR of a user-visible descriptor is checked by the
// oracle, but these bits come from the descriptor's limit, which the flavours agree on).

import { CF, PF, AF, ZF, SF, OF } from '../arch/rflags.js';

/** How a shift or rotate whose count is not 1 sets OF (SDM/APM: undefined). */
export const enum ShiftOF {
  /** The 1-bit formula applied to the operand before the shift: the OF of the first one-bit
   *  step (SHL, ROL, RCL: msb xor the bit below it; SHR: msb; ROR: msb xor lsb; RCR: msb xor
   *  CF; SAR: 0). A rotate through CF whose count is a multiple of width + 1 takes no step and
   *  leaves OF alone. */
  FirstStep = 0,
  /** The 1-bit formula applied to the result: the OF of the last one-bit step (left shifts and
   *  rotates: msb(result) xor CF; right ones: msb(result) xor the bit below it). */
  LastStep = 1,
}

/** What SHLD/SHRD do with a 16-bit count past the operand size (SDM/APM: result and flags undefined). */
export const enum DoubleShiftPast {
  /** The destination follows the source: a shift through dest:src:dest, CF the last bit out. */
  ThroughDestination = 0,
  /** The source repeats (dest:src:src); CF and SHLD's OF are those of the destination shifted
   *  alone (0 past the size), SHRD's OF the last step's formula on the result. */
  SourceAgainFlagsFromDestination = 1,
}

export interface UndefinedValues {
  /** AND, OR, XOR, TEST: AF. */
  logicAF: boolean;
  /** MUL, IMUL: of SF, ZF, PF, the flags taken from the low half of the product. */
  mulFromResult: number;
  /** MUL, IMUL: of SF, ZF, AF, PF, the flags left as they were (the rest of the four are 0). */
  mulKept: number;
  /** DIV, IDIV: the status flags left as they were. */
  divKept: number;
  /** DIV, IDIV: the status flags set (the rest of the six are cleared). */
  divSet: number;
  /** Shifts, rotates, SHLD/SHRD with a count other than 1: OF. */
  shiftOF: ShiftOF;
  /** Shifts and rotates by an immediate count other than 1 leave OF as it was (SAR still
   *  clears it). */
  shiftImmKeepsOF: boolean;
  /** SHL, SHR, SAR, SHLD, SHRD with a nonzero count: AF (AF or 0). */
  shiftAF: number;
  /** SHLD, SHRD with a count past the operand size (16-bit operands). */
  doubleShiftPast: DoubleShiftPast;
  /** BSF, BSR: CF, OF, SF, AF cleared and PF the parity of the index (0 for a zero source)
   *  (true), or all five left as they were (false). The destination of a zero source is left
   *  as it was, all 64 bits, on both. */
  bitScanFlagsFromIndex: boolean;
  /** BT, BTS, BTR, BTC: OF, SF, AF, PF left as they were. */
  bitTestOthersUnchanged: boolean;
  /** LZCNT: of OF, SF, AF, PF, the flags left as they were (the rest cleared). */
  lzcntKept: number;
  /** BSWAP with a 16-bit operand: the low 16 bits become this. */
  bswap16Result: number;
  /** AAA, AAS: SF, ZF, PF from the adjusted AL, OF = 0 (`alFlags`: resultFlags of the adjusted AL). */
  asciiAdjust(alFlags: number): number;
  /** DAA, DAS: OF. */
  decimalAdjustOF(oldAl: number, newAl: number, subtract: boolean): number;
  /** PUSH Sreg with a 32-bit operand size: "all recent Core and Atom processors perform a 16-bit
   *  move, leaving the upper portion of the stack location unmodified" (SDM PUSH). */
  pushSegment32StoresWord: boolean;
  /** AAM, AAD: OF, AF, CF. */
  aamAadRest: number;
  /** LAR with a 32/64-bit operand: bits 19:16 ("x" in the mask 00FxFF00H) as a mask over the
   *  descriptor's limit bits; 0 stores zeros there. */
  larLimitBits: number;
}

/** The CPU a flavour's table was taken from: CPUID vendor-family-model-stepping (hex, as
 *  the oracle's harness prints it) and the brand string. */
export interface CalibratedCpu {
  signature: string;
  brand: string;
  /** Where its observations are. */
  source: string;
}

export interface Flavour {
  calibratedOn: CalibratedCpu;
  values: UndefinedValues;
}

/** The values neither flavour's CPU can show from 64-bit user code (see the top of the file). */
const unobservable = {
  asciiAdjust(alFlags: number): number {
    return alFlags;
  },
  decimalAdjustOF(_oldAl: number, _newAl: number, _subtract: boolean): number {
    return 0;
  },
  pushSegment32StoresWord: true,
  aamAadRest: 0,
  larLimitBits: 0,
};

export const UNDEFINED: { intel: Flavour; amd: Flavour } = {
  intel: {
    calibratedOn: {
      signature: 'GenuineIntel-06-cf-2',
      brand: 'Intel Xeon (Emerald Rapids, CPUID.1:EAX 0x000c06f2)',
      source: 'test/oracle/intel-observations/cases.txt',
    },
    values: {
      logicAF: false,
      // SF and PF of the low half, ZF and AF cleared: mul8 with a zero product gives PF alone.
      mulFromResult: SF | PF,
      mulKept: 0,
      divKept: CF | PF | AF | ZF | SF | OF,
      divSet: 0,
      // By CL: the first step's OF (rotates by 7 of 0x80..01 give 1 from ROL, 0 from ROR...);
      // by an immediate: OF kept (ROR $7 of 0x80..01 keeps OF = 1 where the first step gives 0).
      shiftOF: ShiftOF.FirstStep,
      shiftImmKeepsOF: true,
      shiftAF: 0,
      doubleShiftPast: DoubleShiftPast.ThroughDestination,
      bitScanFlagsFromIndex: true,
      bitTestOthersUnchanged: true,
      lzcntKept: 0,
      bswap16Result: 0,
      ...unobservable,
    },
  },
  amd: {
    calibratedOn: {
      signature: 'AuthenticAMD-19-01-1',
      brand: 'AMD EPYC (family 19h model 01h stepping 1, Zen 3)',
      source: 'test/oracle/undefined-observed-AuthenticAMD-19-01-1.json',
    },
    values: {
      logicAF: false,
      mulFromResult: 0,
      mulKept: SF | ZF | AF | PF,
      divKept: CF | OF,
      divSet: AF,
      shiftOF: ShiftOF.LastStep,
      shiftImmKeepsOF: false,
      shiftAF: AF,
      doubleShiftPast: DoubleShiftPast.SourceAgainFlagsFromDestination,
      bitScanFlagsFromIndex: false,
      bitTestOthersUnchanged: true,
      lzcntKept: OF,
      bswap16Result: 0,
      ...unobservable,
    },
  },
};

/** The rules an opcode-table row names (its `undefined` field, opcodes.ts), each with the
 *  entries of a flavour's values that give its values. The semantics read those entries
 *  from `cpu.undef`; the rule key is what the rows, the tests and the hardware oracle
 *  (src/lab/oracle/undefined-spec.ts: which bits a rule leaves undefined) share. */
export const UNDEFINED_RULES = {
  /** AND, OR, XOR, TEST: AF. */
  logic: ['logicAF'],
  /** MUL, IMUL: SF, ZF, AF, PF. */
  mul: ['mulFromResult', 'mulKept'],
  /** DIV, IDIV: all six status flags. */
  div: ['divKept', 'divSet'],
  /** ROL, ROR, RCL, RCR: OF for a count other than 1. */
  rotate: ['shiftOF', 'shiftImmKeepsOF'],
  /** SHL, SAL, SHR: AF; OF for a count other than 1; CF for a count of at least the width. */
  shift: ['shiftOF', 'shiftImmKeepsOF', 'shiftAF'],
  /** SAR: AF; OF for a count other than 1. */
  sar: ['shiftAF'],
  /** SHLD, SHRD: AF, OF for a count other than 1; with a count past the operand size,
   *  every status flag and the destination. */
  doubleShift: ['doubleShiftPast', 'shiftOF', 'shiftAF'],
  /** BT, BTS, BTR, BTC: OF, SF, AF, PF. */
  bitTest: ['bitTestOthersUnchanged'],
  /** BSF, BSR: CF, OF, SF, AF, PF; the destination for a zero source. */
  bitScan: ['bitScanFlagsFromIndex'],
  /** LZCNT: OF, SF, AF, PF. */
  lzcnt: ['lzcntKept'],
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
} as const satisfies Record<string, readonly (keyof UndefinedValues)[]>;

export type UndefinedRule = keyof typeof UNDEFINED_RULES;

/** The flavour whose CPU has this signature, if any (for the hardware oracle). */
export function flavourCalibratedOn(signature: string): 'intel' | 'amd' | null {
  if (UNDEFINED.intel.calibratedOn.signature === signature) return 'intel';
  if (UNDEFINED.amd.calibratedOn.signature === signature) return 'amd';
  return null;
}
