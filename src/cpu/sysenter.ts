// SYSENTER and SYSEXIT (SDM Vol. 2B SYSENTER, SYSEXIT "Operation"; AMD APM Vol. 3 SYSENTER,
// SYSEXIT), for both vendor flavours (cpu.model.vendor).
//
// Like SYSCALL/SYSRET they read no descriptor: CS and SS get selectors derived from
// IA32_SYSENTER_CS and fixed flat hidden parts (syscall.ts FLAT_LO, CS_FIXED, SS_FIXED: what a
// later LAR does not see, as LAR reads the GDT, but what the CPU then runs with), and commit
// through transition.ts like every other transition. SYSENTER saves nothing: no return RIP,
// RSP or RFLAGS.
//
// Vendor differences modelled:
// - Intel: both are valid in IA-32e mode. SYSENTER there (from 64-bit or compatibility mode)
//   enters 64-bit mode (CS.L = 1) at the full IA32_SYSENTER_EIP with RSP = IA32_SYSENTER_ESP;
//   SYSEXIT with REX.W returns to 64-bit mode, without it to compatibility mode.
// - AMD: both are #UD in long mode, 64-bit and compatibility mode alike (APM Vol. 3 SYSENTER,
//   SYSEXIT, whose text was not available here; APM Vol. 2 §8.2 lists "Execution of the
//   SYSENTER or SYSEXIT instructions in long mode" among the #UD causes, as quoted by
//   rust-osdev/x86_64); this is why Linux's 32-bit compat entry on AMD is SYSCALL. In legacy
//   protected mode they behave as Intel's.
//
// With CR4.FRED = 1 (SDM SYSENTER "Operation", FRED-era edition): "IF CR0.PE = 0 OR (CR4.FRED =
// 0 AND IA32_SYSENTER_CS[15:2] = 0) THEN #GP(0)" -- IA32_SYSENTER_CS is not checked, CR0.PE is 1
// in IA-32e mode -- then "FRED event delivery of SYSENTER" (fred.ts: type 7, vector 2, from
// 64-bit or compatibility mode; the SYSENTER MSRs are not used). FRED is enumerated only in
// Intel models, so the AMD #UD never meets it.
//
// Deliberate deviations: CR0.PE = 0 (#GP(0)) and virtual-8086 mode cannot arise (real mode and
// vm86 are not modelled); CET shadow stacks are not modelled (not enumerated).

import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { Msr } from './msrs.js';
import * as R from '../arch/rflags.js';
import * as C from '../arch/control.js';
import { DESC_L, DESC_DB, DESC_DPL_SHIFT } from '../arch/descriptors.js';
import { beginTransition, commitTransition, SsLoad, TransitionKind } from './transition.js';
import { FLAT_LO, CS_FIXED, SS_FIXED } from './syscall.js';
import { deliverFredInstruction, fredEnabled, VECTOR_SYSENTER } from './fred.js';

const TWO32 = 4294967296;
/** The largest magnitude a number holds exactly: RIP is kept as a number. */
const EXACT = 2 ** 53;

/** AMD APM: SYSENTER and SYSEXIT are not recognised in long mode (#UD). */
function checkVendor(cpu: Cpu): void {
  if (cpu.model.vendor === 'amd' && cpu.longMode) cpu.ud();
}

/** IA32_SYSENTER_CS[15:0]; SDM: #GP(0) when bits 15:2 are 0 (a null selector, whatever the RPL). */
function sysenterCs(cpu: Cpu): number {
  const sel = cpu.msrLo[Msr.SysenterCs] & 0xffff;
  if ((sel & 0xfffc) === 0) cpu.gp(0);
  return sel;
}

/** SDM SYSENTER "Operation". */
export function sysenter(cpu: Cpu): void {
  checkVendor(cpu);
  if (fredEnabled(cpu)) return deliverFredInstruction(cpu, VECTOR_SYSENTER);
  const sel = sysenterCs(cpu) & 0xfffc; // CS.Selector := IA32_SYSENTER_CS[15:0] AND FFFCH
  // RFLAGS.VM := 0; RFLAGS.IF := 0; RF is cleared too (Flags Affected: VM, IF, RF; APM the same).
  const rflags = cpu.getFlags() & ~(R.VM | R.IF | R.RF);
  const ia32e = cpu.longMode;
  let rip: number;
  if (ia32e) {
    // RSP := IA32_SYSENTER_ESP; RIP := IA32_SYSENTER_EIP (64-bit; WRMSR keeps it canonical for
    // 57 bits, so a value that is not 48-bit canonical faults on the fetch under 4-level paging).
    rip = cpu.msrHi[Msr.SysenterEip] * TWO32 + (cpu.msrLo[Msr.SysenterEip] >>> 0);
    if (rip < -EXACT || rip >= EXACT) cpu.modelError('SYSENTER to an IA32_SYSENTER_EIP beyond ±2^53 is not modelled');
  } else {
    rip = cpu.msrLo[Msr.SysenterEip] >>> 0; // EIP := IA32_SYSENTER_EIP[31:0]
  }

  const t = beginTransition(cpu, TransitionKind.Sysenter);
  // CS: flat, type 11, DPL 0; L = 1, D = 0 in IA-32e mode, else L = 0, D = 1. CPL := 0.
  t.csSel = sel; t.csLo = FLAT_LO; t.csHi = CS_FIXED | (ia32e ? DESC_L : DESC_DB); t.cpl = 0;
  // SS.Selector := CS.Selector + 8: flat, type 3, DPL 0, B = 1.
  t.ss = SsLoad.Descriptor; t.ssSel = (sel + 8) & 0xffff; t.ssLo = FLAT_LO; t.ssHi = SS_FIXED;
  t.rspLo = cpu.msrLo[Msr.SysenterEsp];
  t.rspHi = ia32e ? cpu.msrHi[Msr.SysenterEsp] : 0; // ESP := IA32_SYSENTER_ESP[31:0]
  t.rflags = rflags;
  t.rip = rip;
  commitTransition(cpu);
}

/** SDM SYSEXIT "Operation": REX.W returns to 64-bit mode. Under CR4.FRED it is #UD before
 *  any other check (FRED-era SYSEXIT "Operation": "IF CR4.FRED = 1 THEN #UD; FI;" ahead of
 *  the #GP(0) conditions, so also at CPL 3). */
export function sysexit(cpu: Cpu, i: Insn): void {
  if ((cpu.cr4Hi & C.CR4_HI_FRED) !== 0) cpu.ud();
  checkVendor(cpu);
  const msr = sysenterCs(cpu);
  if (cpu.cpl !== 0) cpu.gp(0);
  const to64 = i.osz === 8;
  let rip: number;
  if (to64) {
    // RSP := RCX; RIP := RDX; #GP(0) if either is non-canonical (64-Bit Mode Exceptions),
    // checked before anything changes.
    if (!cpu.isCanonicalHi(cpu.regHi[1]) || !cpu.isCanonicalHi(cpu.regHi[2])) cpu.gp(0);
    rip = cpu.regHi[2] * TWO32 + (cpu.regLo[2] >>> 0); // canonical, so exact (isCanonicalHi model-errors beyond ±2^53)
  } else {
    rip = cpu.regLo[2] >>> 0; // RIP := EDX
  }
  // CS.Selector := (IA32_SYSENTER_CS[15:0] + 32 (64-bit) or + 16) OR 3; SS.Selector := CS.Selector + 8.
  const cs = ((msr + (to64 ? 32 : 16)) | 3) & 0xffff;

  const t = beginTransition(cpu, TransitionKind.Sysexit);
  // CS: flat, type 11, DPL 3; L = 1, D = 0 to 64-bit mode, else L = 0, D = 1. CPL := 3.
  t.csSel = cs; t.csLo = FLAT_LO;
  t.csHi = CS_FIXED | (3 << DESC_DPL_SHIFT) | (to64 ? DESC_L : DESC_DB);
  t.cpl = 3;
  // SS: flat, type 3, DPL 3, B = 1.
  t.ss = SsLoad.Descriptor; t.ssSel = (cs + 8) & 0xffff; t.ssLo = FLAT_LO; t.ssHi = SS_FIXED | (3 << DESC_DPL_SHIFT);
  t.rspLo = cpu.regLo[1];
  t.rspHi = to64 ? cpu.regHi[1] : 0; // RSP := ECX, zero-extended
  // SYSEXIT loads no flags; RF is cleared as at the end of any instruction (SDM Vol. 3B §18.3.1.1).
  t.rflags = cpu.getFlags() & ~R.RF;
  t.rip = rip;
  commitTransition(cpu);
}
