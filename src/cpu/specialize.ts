// Decode-time specialisation: for the commonest operand forms, a table row's generic
// semantics is replaced by a narrower function of the same instruction (same file,
// same definition of the operation -- alu(), read64() -- without the run-time size
// and register/memory dispatch). Which forms, and by what, is the row's `specialise`
// (opcodes.ts). The interpreter and compiled blocks both benefit; the hardware and
// decoder oracles check the result like any other.

import type { Exec, Insn } from './insn.js';
import { DEFS, ENTRIES } from './opcodes.js';

/** Every narrower semantics some row names (a function: opcodes.ts is part of an import
 *  cycle through the semantics and cpu.ts, so the table is read when asked, not at load). */
export function specialisedSemantics(): ReadonlySet<Exec> {
  return new Set<Exec>(DEFS.flatMap((d) => (d.specialise === undefined ? [] : Object.values(d.specialise) as Exec[])));
}

/** Decode path: reads the entry's flattened fields only (no allocation). */
export function specialize(insn: Insn): Exec {
  const e = ENTRIES[insn.entry];
  if (insn.mem) return insn.osz === 8 && e.specM64 !== null ? e.specM64 : insn.exec;
  if (insn.osz === 4) return e.specR32 ?? insn.exec;
  if (insn.osz === 8) return e.specR64 ?? insn.exec;
  return insn.exec;
}
