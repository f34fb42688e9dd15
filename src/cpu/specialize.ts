// Decode-time specialisation: for the commonest operand forms, a table row's generic
// semantics is replaced by a narrower function of the same instruction (same file,
// same definition of the operation -- alu(), read64() -- without the run-time size
// and register/memory dispatch). The interpreter and compiled blocks both benefit;
// the hardware and decoder oracles check the result like any other.

import type { Exec, Insn } from './insn.js';
import * as A from './ops/arith.js';
import * as D from './ops/data.js';

export const SPECIALISED: ReadonlySet<Exec> = new Set<Exec>([A.aluRR32, A.aluRR64, D.load64, D.store64, D.movRR64]);

export function specialize(insn: Insn): Exec {
  const exec = insn.exec;
  if (exec === A.aluEG && !insn.mem) {
    if (insn.osz === 4) return A.aluRR32;
    if (insn.osz === 8) return A.aluRR64;
  } else if (exec === D.movGE && insn.osz === 8) {
    return insn.mem ? D.load64 : exec;
  } else if (exec === D.movEG && insn.osz === 8) {
    return insn.mem ? D.store64 : D.movRR64;
  }
  return exec;
}
