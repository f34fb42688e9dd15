// SYSCALL, SYSRET and SWAPGS (SDM Vol. 2B SYSCALL, SYSRET, SWAPGS "Operation"; AMD APM
// Vol. 3 SYSCALL, SYSRET, SWAPGS), for both vendor flavours (cpu.model.vendor).
//
// SYSCALL and SYSRET do not read descriptors: they load CS and SS with selectors derived
// from IA32_STAR and fixed hidden parts (base 0, limit 4 GiB, the attributes below), and
// commit through transition.ts like every other transition.
//
// Vendor differences modelled:
// - Intel: SYSCALL and SYSRET are #UD outside 64-bit mode. AMD: SYSCALL from compatibility
//   mode enters at IA32_CSTAR; SYSRET works from compatibility mode too (APM SYSRET).
// - Intel: SYSRET with a non-canonical RCX (REX.W) raises #GP(0) at CPL 0, before any state
//   changes (the CVE-2012-0217 trap: the #GP is taken on the user's stack and GS). AMD
//   returns to CPL 3 and faults there, on the fetch at the non-canonical RIP (APM SYSRET:
//   no canonical check in its operation).
// - AMD: SYSRET loads SS's selector but leaves SS's hidden part as it was (Linux's
//   X86_BUG_SYSRET_SS_ATTRS; APM SYSRET loads only the selector); Intel loads the fixed
//   SS attributes.
// - AMD clears RFLAGS.RF on SYSCALL (APM SYSCALL, long mode); Intel's pseudocode masks with
//   IA32_FMASK only.
// The APM Vol. 3 SYSCALL/SYSRET pages were not available to this project; the AMD points
// rest on Linux (the compat SYSCALL entry through IA32_CSTAR, X86_BUG_SYSRET_SS_ATTRS), on
// AMD not being affected by CVE-2012-0217, and, for RF, on Bochs's long-mode SYSCALL, which
// clears RF with the IA32_FMASK bits.
//
// Single step (both flavours): SYSCALL and SYSRET take the single-step trap on the TF they
// leave in RFLAGS, not on the TF they began with (SDM Vol. 3B §18.3.1.4 does not say; the
// oracle is kvm-unit-tests x86/syscall.c, run on hardware: "#DB is raised if TF is 1 at the
// *end* of syscall/sysret"; XTF's xsa-204 test says the same of SYSCALL, and Linux's
// do_syscall_64 avoids SYSRET with TF because "restoring TF results in a trap from
// userspace immediately after SYSRET"). So a SYSCALL whose IA32_FMASK clears TF is not
// trapped in ring 0, and a SYSRET that loads TF = 1 traps before the first user instruction.
//
// With CR4.FRED = 1 (SDM SYSCALL "Operation", FRED-era edition): "IF IA32_EFER.LMA = 0 OR
// CS.L = 0 THEN #UD; ELSE IF CR4.FRED = 0 ... ELSE FRED event delivery of SYSCALL" -- only
// the 64-bit-mode check applies; EFER.SCE, IA32_LSTAR, IA32_FMASK and IA32_STAR's role here
// are those of the legacy branch and are not consulted (fred.ts delivers type 7, vector 1;
// RCX and R11 keep their values). Bochs checks EFER.SCE first (#UD): a deviation.
//
// Deliberate deviations: legacy-mode SYSCALL/SYSRET (AMD, outside long mode) is a model
// error; CET shadow stacks are not modelled (not enumerated).

import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { Mode } from './mode.js';
import { Msr } from './msrs.js';
import * as R from '../arch/rflags.js';
import * as C from '../arch/control.js';
import { DESC_L, DESC_DB, DESC_DPL_SHIFT } from '../arch/descriptors.js';
import { FLAT_LO, CS_FIXED, SS_FIXED } from './flat-segments.js';
import { swapGsBase } from './segments.js';
import { beginTransition, commitTransition, SsLoad, TransitionKind } from './transition.js';
import { deliverFredInstruction, fredEnabled, VECTOR_SYSCALL } from './fred.js';

const TWO32 = 4294967296;

/** The fixed flat segments (flat-segments.ts; sysenter.ts takes them from here). */
export { FLAT_LO, CS_FIXED, SS_FIXED };
/** SYSRET's RFLAGS mask (SDM SYSRET: R11 & 3C7FD7H, then bit 1 set): RF, VM and the reserved
 *  bits are cleared. */
const SYSRET_FLAGS = 0x3c7fd7;

const amd = (cpu: Cpu): boolean => cpu.model.vendor === 'amd';

/** SDM SYSCALL: #UD unless 64-bit mode (Intel) or long mode (AMD) with EFER.SCE = 1. */
function checkEnabled(cpu: Cpu): void {
  if ((cpu.efer & C.EFER_SCE) === 0) cpu.ud();
  if (cpu.mode === Mode.Long64) return;
  if (!amd(cpu)) cpu.ud();
  if (cpu.mode !== Mode.Compat32) cpu.modelError('legacy-mode SYSCALL/SYSRET (AMD, outside long mode) is not modelled');
}

export function syscall(cpu: Cpu): void {
  if (fredEnabled(cpu)) {
    if (cpu.mode !== Mode.Long64) cpu.ud();
    return deliverFredInstruction(cpu, VECTOR_SYSCALL);
  }
  checkEnabled(cpu);
  const compat = cpu.mode === Mode.Compat32;
  // RCX := RIP of the next instruction; R11 := RFLAGS.
  const next = cpu.nextRip;
  const flags = cpu.getFlags();
  const entry = compat ? Msr.Cstar : Msr.Lstar;
  const target = cpu.msrHi[entry] * TWO32 + (cpu.msrLo[entry] >>> 0);
  let rflags = flags & ~cpu.msrLo[Msr.Fmask];
  if (amd(cpu)) rflags &= ~R.RF;
  const sel = (cpu.msrHi[Msr.Star] & 0xffff) & ~3; // STAR[47:32], RPL forced to 0

  const t = beginTransition(cpu, TransitionKind.Syscall);
  t.csSel = sel; t.csLo = FLAT_LO; t.csHi = CS_FIXED | DESC_L; t.cpl = 0;
  t.ss = SsLoad.Descriptor; t.ssSel = (sel + 8) & 0xffff; t.ssLo = FLAT_LO; t.ssHi = SS_FIXED;
  t.rspLo = cpu.regLo[4]; t.rspHi = cpu.regHi[4];
  t.rflags = rflags;
  t.rip = target;
  t.writesRcxR11 = true;
  t.rcxLo = next | 0;
  t.rcxHi = compat ? 0 : Math.floor(next / TWO32) | 0;
  t.r11Lo = flags;
  commitTransition(cpu);
  stepOnResultingTf(cpu);
}

/** SYSRET. Under CR4.FRED it is #UD before every other check: FRED-era SYSRET "Operation",
 *  "IF (CS.L ≠ 1) or (IA32_EFER.LMA ≠ 1) or (IA32_EFER.SCE ≠ 1) or (CR4.FRED = 1) THEN #UD"
 *  ("An operating system that has enabled FRED transitions should use ERETU instead"). */
export function sysret(cpu: Cpu, i: Insn): void {
  if ((cpu.cr4Hi & C.CR4_HI_FRED) !== 0) cpu.ud();
  checkEnabled(cpu);
  if (cpu.cpl !== 0) cpu.gp(0);
  const to64 = i.osz === 8;
  let target: number;
  if (to64) {
    const lo = cpu.regLo[1], hi = cpu.regHi[1];
    if (cpu.isCanonicalHi(hi)) target = hi * TWO32 + (lo >>> 0);
    else if (!amd(cpu)) return cpu.gp(0);
    else {
      // AMD: the return completes; the fetch at CPL 3 then faults (cpu.ts enterCodePage).
      target = hi * TWO32 + (lo >>> 0);
      if (target < -(2 ** 53) || target >= 2 ** 53) cpu.modelError('SYSRET to a non-canonical RCX beyond ±2^53 is not modelled');
    }
  } else {
    target = cpu.regLo[1] >>> 0;
  }
  const star = (cpu.msrHi[Msr.Star] >>> 16) & 0xffff; // STAR[63:48]
  const t = beginTransition(cpu, TransitionKind.Sysret);
  t.csSel = ((to64 ? star + 16 : star) | 3) & 0xffff;
  t.csLo = FLAT_LO;
  t.csHi = CS_FIXED | (3 << DESC_DPL_SHIFT) | (to64 ? DESC_L : DESC_DB);
  t.cpl = 3;
  t.ssSel = ((star + 8) | 3) & 0xffff;
  if (amd(cpu)) t.ss = SsLoad.SelectorOnly;
  else { t.ss = SsLoad.Descriptor; t.ssLo = FLAT_LO; t.ssHi = SS_FIXED | (3 << DESC_DPL_SHIFT); }
  t.rspLo = cpu.regLo[4]; t.rspHi = cpu.regHi[4];
  t.rflags = (cpu.regLo[11] & SYSRET_FLAGS) | R.RESERVED1;
  t.rip = target;
  commitTransition(cpu);
  stepOnResultingTf(cpu);
}

/** The single-step trap after SYSCALL or SYSRET follows the TF the instruction leaves (header):
 *  armed at this instruction's count, it is taken at the next boundary (events.ts). */
function stepOnResultingTf(cpu: Cpu): void {
  if ((cpu.flagsRest & R.TF) !== 0) {
    cpu.stepArmedAt = cpu.icount;
    cpu.eventPending();
  } else {
    cpu.stepArmedAt = -1;
  }
}

/** SWAPGS: exchange GS.base with IA32_KERNEL_GS_BASE. #UD outside 64-bit mode or under
 *  CR4.FRED, #GP(0) at CPL > 0 (FRED-era SDM SWAPGS "Operation": "IF CS.L ≠ 1 (* Not in 64-Bit
 *  Mode *) OR CR4.FRED = 1 THEN #UD"; "FRED transitions perform the same swap when changing
 *  the CPL"; APM the same, without FRED). */
export function swapgs(cpu: Cpu): void {
  if (cpu.mode !== Mode.Long64 || (cpu.cr4Hi & C.CR4_HI_FRED) !== 0) cpu.ud();
  if (cpu.cpl !== 0) cpu.gp(0);
  swapGsBase(cpu);
}

