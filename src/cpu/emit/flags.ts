// The lazy flags (flags.ts) inside a compiled block. A flag-writing instruction the block
// spells inline leaves its operands, result and carry in the block's locals
//   fa, fah, fb, fbh, fr, frh, fc   (lfA, lfAHi, lfB, lfBHi, lfRes, lfResHi, lfCin)
//   fe, fu                          (lfEager, lfUndefined: eager writers)
// and the compiler knows its kind (Lazy) and size. A later instruction that reads a flag
// (Jcc, CMOVcc, SETcc, ADC, SBB, INC, DEC) evaluates it from those locals with the kind
// and size folded in: CMP/TEST + Jcc fuse into one comparison. The CPU's own lf* fields
// are written ("materialised") only where something outside the block's inline code
// could look at them: before a call to an instruction's semantics, and when the block ends.
//
// The formulas are flags.ts's getters, specialised by kind and size.

import { Lazy } from '../flags.js';
import { CF, PF, ZF, SF, OF } from '../../arch/rflags.js';

/** What the block's flag locals hold: the last flag writer's kind and size. */
export interface FlagState {
  kind: Lazy;
  size: number;
}

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

/** Unsigned (aHi:a) < (bHi:b). */
const ltu64 = (aHi: string, a: string, bHi: string, b: string): string =>
  `(${aHi} !== ${bHi} ? (${aHi} >>> 0) < (${bHi} >>> 0) : (${a} >>> 0) < (${b} >>> 0))`;

/** CF as a boolean expression. */
export function carry(s: FlagState): string {
  const wide = s.size === 8;
  switch (s.kind) {
    case Lazy.Eager: return `(fe & ${CF}) !== 0`;
    case Lazy.Logic: return 'false';
    case Lazy.Inc: case Lazy.Dec: return 'fc !== 0';
    case Lazy.Add: return wide ? ltu64('frh', 'fr', 'fah', 'fa') : '(fr >>> 0) < (fa >>> 0)';
    case Lazy.Adc: return wide
      ? `(fc === 0 ? ${ltu64('frh', 'fr', 'fah', 'fa')} : !${ltu64('fah', 'fa', 'frh', 'fr')})`
      : '(fc === 0 ? (fr >>> 0) < (fa >>> 0) : (fr >>> 0) <= (fa >>> 0))';
    case Lazy.Sub: return wide ? ltu64('fah', 'fa', 'fbh', 'fb') : '(fa >>> 0) < (fb >>> 0)';
    default: return wide // Sbb
      ? `(fc === 0 ? ${ltu64('fah', 'fa', 'fbh', 'fb')} : !${ltu64('fbh', 'fb', 'fah', 'fa')})`
      : '(fc === 0 ? (fa >>> 0) < (fb >>> 0) : (fa >>> 0) <= (fb >>> 0))';
  }
}

export function zero(s: FlagState): string {
  if (s.kind === Lazy.Eager) return `(fe & ${ZF}) !== 0`;
  return s.size === 8 ? '(fr | frh) === 0' : 'fr === 0';
}

export function sign(s: FlagState): string {
  if (s.kind === Lazy.Eager) return `(fe & ${SF}) !== 0`;
  switch (s.size) {
    case 8: return 'frh < 0';
    case 4: return 'fr < 0';
    case 2: return '(fr & 32768) !== 0';
    default: return '(fr & 128) !== 0';
  }
}

export function overflow(s: FlagState): string {
  if (s.kind === Lazy.Eager) return `(fe & ${OF}) !== 0`;
  if (s.kind === Lazy.Logic) return 'false';
  const shift = s.size === 1 ? 24 : s.size === 2 ? 16 : 0;
  const v = (name: string): string => (s.size === 8 ? `${name}h` : shift === 0 ? name : `(${name} << ${shift})`);
  const a = v('fa'), b = v('fb'), r = v('fr');
  const adding = s.kind === Lazy.Add || s.kind === Lazy.Adc || s.kind === Lazy.Inc;
  return adding ? `((${a} ^ ${r}) & (${b} ^ ${r})) < 0` : `((${a} ^ ${b}) & (${a} ^ ${r})) < 0`;
}

/** A condition code (SDM Vol. 1 Appendix B, tttn) as a boolean expression; null where it
 *  needs PF of a lazy result (the block calls flags.ts instead). */
export function conditionText(s: FlagState, cc: number): string | null {
  let t: string;
  switch (cc >> 1) {
    case 0: t = overflow(s); break;
    case 1: t = carry(s); break;
    case 2: t = zero(s); break;
    case 3: t = `(${carry(s)} || ${zero(s)})`; break;
    case 4: t = sign(s); break;
    case 5: if (s.kind !== Lazy.Eager) return null; t = `(fe & ${PF}) !== 0`; break;
    case 6: t = `(${sign(s)}) !== (${overflow(s)})`; break;
    default: t = `(${zero(s)} || (${sign(s)}) !== (${overflow(s)}))`; break;
  }
  return (cc & 1) === 0 ? `(${t})` : `!(${t})`;
}
