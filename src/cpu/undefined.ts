// What the SDM leaves undefined, as one deterministic value per instruction
// (DESIGN.md, "What the SDM leaves undefined"). The values are meant to match Intel
// hardware; they are provisional until the hardware-oracle issue calibrates each one
// on this machine's CPU and records the CPU model here.
//
// Recorded from: (not yet calibrated)

import type { Cpu } from './cpu.js';
import { statusFlags } from './flags.js';
import { SF, ZF, PF } from '../arch/rflags.js';

export const undefinedFlags = {
  /** MUL/IMUL: SF, ZF, PF from the low half of the result, AF = 0. */
  mulKeep: SF | ZF | PF,
  /** DIV/IDIV: status flags left as they were. */
  afterDiv(cpu: Cpu): number {
    return statusFlags(cpu);
  },
  /** AND/OR/XOR/TEST: AF = 0 (flags.ts). Shifts by more than 1: OF as for a 1-bit shift
   *  of the last step (shift.ts). BSF/BSR with a zero source: destination unchanged. */
};
