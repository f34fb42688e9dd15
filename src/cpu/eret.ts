// ERETU and ERETS, the FRED returns (SDM Vol. 2A ERETU and ERETS "Operation", FRED-era
// edition; Vol. 3 §8.4.1 "ERETS (Event Return to Supervisor)", §8.4.2 "ERETU (Event Return to
// User)"). Both skip the error code and read the return state the FRED frame holds (fred.ts):
// RIP, augmented CS, RFLAGS, RSP, augmented SS at RSP+8 .. RSP+47, check it whole, then commit
// through transition.ts. On return the augmented bits are read as: CS[17:16] the stack level
// to return to and CS[18] IBT_restore (ERETS), SS[16] STI_block (ERETS), SS[17] pend_DB, SS[18]
// NMI_unblock.
//
// CET is not modelled (not enumerated), so the shadow-stack steps (ERETS' pops and #CP checks,
// ERETU's IA32_PL3_SSP and IA32_FRED_SSP0 checks) and ERETS' IBT_restore do nothing.
//
// Deliberate deviations: none known. ERETU does not null DS/ES/FS/GS as IRET to an outer level
// does: its "Operation" loads only CS, SS, RIP, RFLAGS, RSP and GS.base.

import type { Cpu } from './cpu.js';
import { Mode } from './mode.js';
import { Msr } from './msrs.js';
import * as R from '../arch/rflags.js';
import { CS, SS, DESC_L, DESC_DB, DESC_DPL_SHIFT } from '../arch/descriptors.js';
import { beginTransition, commitTransition, SsLoad, TransitionKind } from './transition.js';
import { checkReturnCode, checkReturnStack, returnRip } from './return-checks.js';
import { FLAT_LO, CS_FIXED, SS_FIXED } from './flat-segments.js';
import { fredEnabled } from './fred.js';

const TWO32 = 4294967296;
const STI_BLOCK = 1 << 16;
const PEND_DB = 1 << 17;
const NMI_UNBLOCK = 1 << 18;

/** The return state, read without moving RSP (a fault leaves everything as it was). */
class Frame {
  ripLo = 0; ripHi = 0; csLo = 0; csHi = 0; flagsLo = 0; flagsHi = 0; spLo = 0; spHi = 0; ssLo = 0;
}
const frame = new Frame();

/** pop8B newRIP, tempCS, newRFLAGS, newRSP, tempSS after RSP := RSP + 8. */
function readFrame(cpu: Cpu): Frame {
  const f = frame;
  f.ripLo = cpu.peek(8, 8); f.ripHi = cpu.hi;
  f.csLo = cpu.peek(8, 16); f.csHi = cpu.hi;
  f.flagsLo = cpu.peek(8, 24); f.flagsHi = cpu.hi;
  f.spLo = cpu.peek(8, 32); f.spHi = cpu.hi;
  f.ssLo = cpu.peek(8, 40); // tempSS[63:32] is not checked: not needed
  return f;
}

/** The stack the return read, for the trace: the error code slot through tempSS. */
function traceFrame(cpu: Cpu): void {
  const t = cpu.transition;
  if (cpu.traceSink === null) return;
  t.frameLin = cpu.regHi[4] * TWO32 + (cpu.regLo[4] >>> 0);
  t.frameLength = 48;
}

/** The event-related state both returns update after the registers (their "Operation" ends). */
function pendStep(cpu: Cpu, ss: number): void {
  // "IF pend_DB = 1 AND RFLAGS.TF = 1 THEN pend a single-step #DB to be delivered after": armed
  // at this instruction's count, the trap is taken at the next boundary (events.ts).
  if ((ss & PEND_DB) !== 0 && (cpu.flagsRest & R.TF) !== 0) {
    cpu.stepArmedAt = cpu.icount;
    cpu.eventPending();
  }
}

/** ERETS: return from an event taken at CPL 0, staying at CPL 0 (SDM ERETS "Operation"). */
export function erets(cpu: Cpu): void {
  // "IF CR4.FRED = 0 OR CPL > 0 THEN #UD" (CR4.FRED = 1 and CPL = 0 imply 64-bit mode).
  if (!fredEnabled(cpu) || cpu.cpl > 0) cpu.ud();
  const f = readFrame(cpu);
  // "IF newRIP is not paging canonical OR tempCS & FFFFFFFF_FFF8FFFFH != current CS selector OR
  //  newRFLAGS & FFFFFFFF_FFC2802AH != 2 OR tempSS & FFF8FFFFH != current SS selector THEN #GP(0)"
  if (!cpu.isCanonicalHi(f.ripHi) || (f.csLo & 0xfff8ffff) !== cpu.segSel[CS] || f.csHi !== 0 ||
      (f.flagsLo & 0xffc2802a) !== 2 || f.flagsHi !== 0 || (f.ssLo & 0xfff8ffff) !== cpu.segSel[SS]) cpu.gp(0);
  // "ERETS will not numerically increase stack level": newCSL := min{CSL, tempCS[17:16]}.
  const csl = cpu.msrLo[Msr.FredConfig] & 3;
  const requested = (f.csLo >>> 16) & 3;
  const stiBlockedBefore = cpu.stiShadowAt === cpu.icount;

  const t = beginTransition(cpu, TransitionKind.Erets);
  traceFrame(cpu);
  t.keepCs = true;
  t.cpl = 0;
  t.rip = f.ripHi * TWO32 + (f.ripLo >>> 0);
  t.rflags = f.flagsLo; // ERETS can set RFLAGS.RF to 1
  t.rspLo = f.spLo; t.rspHi = f.spHi;
  t.csl = requested < csl ? requested : csl; // "reflect in IA32_FRED_CONFIG[1:0]"
  commitTransition(cpu);

  // "IF STI_block = 1 AND RFLAGS.IF = 1 AND STI blocking was not in effect prior to ERETS THEN
  //  establish STI blocking after ERETS".
  if ((f.ssLo & STI_BLOCK) !== 0 && (f.flagsLo & R.IF) !== 0 && !stiBlockedBefore) cpu.stiShadow();
  pendStep(cpu, f.ssLo);
  if ((f.ssLo & NMI_UNBLOCK) !== 0) cpu.unblockNmi();
}

/** ERETU: return from an event taken at CPL 3 to CPL 3 (SDM ERETU "Operation"). */
export function eretu(cpu: Cpu): void {
  // "IF CR4.FRED = 0 OR CS.L = 0 OR CPL > 0 THEN #UD; IF CSL > 0 THEN #GP(0)".
  if (!fredEnabled(cpu) || cpu.mode !== Mode.Long64 || cpu.cpl > 0) cpu.ud();
  if ((cpu.msrLo[Msr.FredConfig] & 3) !== 0) cpu.gp(0);
  const f = readFrame(cpu);
  // "IF tempCS & FFFFFFFF_FFFF0003H != 3 OR newRFLAGS & FFFFFFFF_FFC2B02AH != 2 OR
  //  tempSS & FFF80003H != 3 THEN #GP(0)": RPL 3, IOPL 0, VM and reserved bits clear.
  if ((f.csLo & 0xffff0003) !== 3 || f.csHi !== 0 || (f.flagsLo & 0xffc2b02a) !== 2 || f.flagsHi !== 0 ||
      (f.ssLo & 0xfff80003) !== 3) cpu.gp(0);
  const csSel = f.csLo & 0xffff, ssSel = f.ssLo & 0xffff;

  // CS and SS: the standard 64-bit or compatibility-mode values when the selectors are
  // IA32_STAR[63:48] + 16 / + 8 or IA32_STAR[63:48] / + 8, else loaded "as is done by IRET,
  // including checks that may lead to a fault".
  const star = (cpu.msrHi[Msr.Star] >>> 16) & 0xffff;
  let csLo: number, csHi: number, ssLo = FLAT_LO, ssHi = SS_FIXED | (3 << DESC_DPL_SHIFT);
  if (csSel === ((star + 16) & 0xffff) && ssSel === ((star + 8) & 0xffff)) {
    csLo = FLAT_LO; csHi = CS_FIXED | (3 << DESC_DPL_SHIFT) | DESC_L;
  } else if (csSel === star && ssSel === ((star + 8) & 0xffff)) {
    csLo = FLAT_LO; csHi = CS_FIXED | (3 << DESC_DPL_SHIFT) | DESC_DB;
  } else {
    checkReturnCode(cpu, csSel, true);
    csLo = cpu.scratch.descLo; csHi = cpu.scratch.descHi;
    checkReturnStack(cpu, ssSel, 3, (csHi & DESC_L) !== 0); // a null SS is #GP(0) for ring 3
    ssLo = cpu.scratch.descLo; ssHi = cpu.scratch.descHi;
  }
  // 64-bit: newRIP paging canonical, else #GP(0). Compatibility: newRIP[63:32] := 0, within
  // CS's limit, else #GP(0); newRSP[63:32] := 0.
  const to64 = (csHi & DESC_L) !== 0;
  const rip = returnRip(cpu, f.ripLo, to64 ? f.ripHi : 0, 8, to64, csLo, csHi);

  const t = beginTransition(cpu, TransitionKind.Eretu);
  traceFrame(cpu);
  t.csSel = csSel; t.csLo = csLo; t.csHi = csHi; t.cpl = 3;
  t.ss = SsLoad.Descriptor; t.ssSel = ssSel; t.ssLo = ssLo; t.ssHi = ssHi;
  t.rspLo = f.spLo; t.rspHi = to64 ? f.spHi : 0;
  t.rflags = f.flagsLo; // ERETU can set RFLAGS.RF to 1
  t.rip = rip;
  t.swapGs = true;
  commitTransition(cpu);

  if ((f.ssLo & NMI_UNBLOCK) !== 0) cpu.unblockNmi();
  pendStep(cpu, f.ssLo);
}
