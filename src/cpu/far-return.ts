// Far RET (RETF, RETF imm16) to an outer privilege level: the return from a procedure
// called through a call gate at an inner level (SDM Vol. 2 RET "Operation",
// RETURN-TO-OUTER-PRIVILEGE-LEVEL and IA-32E-MODE-RETURN-TO-OUTER-PRIVILEGE-LEVEL; Vol. 3A
// §5.8.6 "Returning from a Called Procedure"). A return to the same level is in
// ops/branch.ts.
//
// RET pops RIP and CS, releases imm16 bytes of the called procedure's stack, pops RSP and
// SS, loads them, releases imm16 bytes of the caller's stack, and makes DS, ES, FS and GS
// null where they hold a data or non-conforming code segment the new CPL may not use. The
// checks on what it pops are IRET's (return-checks.ts); the nulling is done by the commit
// (transition.ts, nullOuterDataSegments), as for IRET. It is committed through
// transition.ts (TransitionKind.FarReturn).
//
// Under CR4.FRED this path always faults: a far RET that would change CPL is #GP(selector)
// (FRED-era RET, IA-32e mode: "(CR4.FRED = 1 and return code segment selector RPL > CPL)"),
// raised by return-checks.ts checkReturnCode before anything is loaded.
//
// Deliberate deviations: CET shadow stacks are not modelled (not enumerated).

import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import * as R from '../arch/rflags.js';
import { SS, DESC_L, DESC_DB } from '../arch/descriptors.js';
import { beginTransition, commitTransition, SsLoad, TransitionKind } from './transition.js';
import { checkReturnCode, checkReturnStack, returnRip, setReturnRsp } from './return-checks.js';

/** RETF [imm16] when the popped CS selector's RPL is greater than CPL. */
export function retFarOuter(cpu: Cpu, i: Insn): void {
  const osz = i.osz;
  const release = i.immLo & 0xffff;
  // Read everything without moving RSP: a fault (#SS(0) for a stack slot outside the
  // limit or non-canonical) leaves the stack as it was.
  const ripLo = cpu.peek(osz, 0), ripHi = osz === 8 ? cpu.hi : 0;
  const csSel = cpu.peek(osz, osz) & 0xffff;
  checkReturnCode(cpu, csSel);
  const csLo = cpu.scratch.descLo, csHi = cpu.scratch.descHi;
  const rpl = csSel & 3;
  const spLo = cpu.peek(osz, 2 * osz + release), spHi = osz === 8 ? cpu.hi : 0;
  const ssSel = cpu.peek(osz, 3 * osz + release) & 0xffff;
  const to64 = cpu.longMode && (csHi & DESC_L) !== 0;
  const ssNull = checkReturnStack(cpu, ssSel, rpl, to64);
  const ssLo = cpu.scratch.descLo, ssHi = cpu.scratch.descHi;
  const target = returnRip(cpu, ripLo, ripHi, osz, to64, csLo, csHi);

  const t = beginTransition(cpu, TransitionKind.FarReturn);
  if (cpu.traceSink !== null) {
    t.frameLin = cpu.linear(SS, cpu.regLo[4], cpu.regHi[4], cpu.stackSize, 1);
    t.frameLength = 4 * osz + release;
  }
  t.csSel = csSel; t.csLo = csLo; t.csHi = csHi; t.cpl = rpl;
  if (ssNull) { t.ss = SsLoad.Null; t.ssSel = ssSel; }
  else { t.ss = SsLoad.Descriptor; t.ssSel = ssSel; t.ssLo = ssLo; t.ssHi = ssHi; }
  // The caller's stack: the popped pointer, then imm16 released with the new stack's
  // address size (64 bits for 64-bit code, else SS.B).
  setReturnRsp(t, spLo, spHi, osz, to64);
  if (release !== 0) {
    if (to64) {
      const n = (t.rspLo >>> 0) + release;
      t.rspLo = n | 0;
      if (n >= 4294967296) t.rspHi = (t.rspHi + 1) | 0;
    } else if ((ssHi & DESC_DB) !== 0) {
      t.rspLo = (t.rspLo + release) | 0;
    } else {
      t.rspLo = (t.rspLo & ~0xffff) | ((t.rspLo + release) & 0xffff);
    }
  }
  // RFLAGS is unchanged; RF, which only IRET can leave set, is clear once RET completes.
  t.rflags = cpu.getFlags() & ~R.RF;
  t.rip = target;
  t.nullOuterDataSegments = true;
  commitTransition(cpu);
}
