// The lazy flags (flags.ts) inside a compiled block. A flag-writing instruction the block
// spells inline leaves its record in the block's locals
//   fa, fah, fb, fbh, fr, frh, fc   (lfA, lfAHi, lfB, lfBHi, lfRes, lfResHi, lfCin)
//   fe, fu                          (lfEager, lfUndefined: eager writers)
// and the compiler knows its kind and size. A later instruction that reads a flag (Jcc,
// CMOVcc, SETcc, ADC, SBB, INC, DEC) evaluates it from those locals with flags.ts's own
// expressions, the kind and size folded in: CMP/TEST + Jcc fuse into one comparison. The
// CPU's lf* fields are written ("materialised") only where something outside the block's
// inline code could look at them: before a call to an instruction's semantics, and when
// the block ends.

import { Lazy, type FlagRecord } from '../flags.js';

export type FlagState = FlagRecord;

/** Store the locals into the CPU's lazy-flag fields. */
export function materialise(s: FlagState): string {
  if (s.kind === Lazy.Eager) return `cpu.lfOp = ${Lazy.Eager}; cpu.lfEager = fe; cpu.lfUndefined = fu;`;
  return `cpu.lfOp = ${s.kind}; cpu.lfSize = ${s.size}; cpu.lfA = fa; cpu.lfAHi = fah; cpu.lfB = fb; cpu.lfBHi = fbh;` +
    ' cpu.lfRes = fr; cpu.lfResHi = frh; cpu.lfCin = fc;';
}

/** Load the locals from the CPU's fields, after the semantics wrote them (slow path). */
export function reload(s: FlagState): string {
  if (s.kind === Lazy.Eager) return 'fe = cpu.lfEager; fu = cpu.lfUndefined;';
  return 'fa = cpu.lfA; fah = cpu.lfAHi; fb = cpu.lfB; fbh = cpu.lfBHi; fr = cpu.lfRes; frh = cpu.lfResHi; fc = cpu.lfCin;';
}
