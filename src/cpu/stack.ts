// Speculative stack changes. cpu.push moves RSP only once its write succeeded, but an
// instruction that moves RSP more than once (far CALL, ENTER, PUSHA) or moves it before
// a store that can still fault (POP to memory, PUSH Sreg's word store, LEAVE) must also
// leave RSP as it was when it faults: a fault is reported with the state from before the
// faulting instruction, so that it can restart (SDM Vol. 3A §6.5, "Faults").
//
// Every such instruction takes a mark, RSP's halves in two locals, and rolls back to it
// through rollbackStack; nothing is allocated (no closure, no mark object):
//
//   const markLo = cpu.regLo[4], markHi = cpu.regHi[4];
//   try { ...pushes, stores... } catch (e) { rollbackStack(cpu, markLo, markHi, e); }

import type { Cpu } from './cpu.js';

/** Restore RSP to the mark (lo, hi) taken before the instruction changed it, then rethrow
 *  `e` (a fault, or anything else that unwinds the instruction). */
export function rollbackStack(cpu: Cpu, markLo: number, markHi: number, e: unknown): never {
  cpu.regLo[4] = markLo;
  cpu.regHi[4] = markHi;
  throw e;
}
