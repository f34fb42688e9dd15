// Segment selectors, descriptor-table reads and segment-register loads
// (SDM Vol. 3 §3.4–3.5; Vol. 2 MOV, POP "Operation" for segment registers; LKGS
// "Operation", FRED-era SDM Vol. 2A, which loads GS but puts the base in IA32_KERNEL_GS_BASE).
//
// Deliberate deviations:
// - A null selector loaded into DS/ES/FS/GS clears the hidden base on both vendor
//   flavours (Intel's behaviour). AMD APM Vol. 2 §4.5.1 "Null Selector": with CPUID
//   Fn8000_0021_EAX[NullSelectorClearsBase] (bit 6) = 1 such a load clears base and limit
//   (except a DS/ES/FS/GS load by an IRET or RETF that changes CPL), with 0 it leaves them
//   undefined; §4.5.3 says a null load into FS or GS leaves the hidden part unaltered, and
//   Linux (X86_BUG_NULL_SEG) finds AMD parts without the bit keep the old base. The AMD
//   flavour does not enumerate the bit, so its clearing is one of the undefined outcomes.

import type { Cpu } from './cpu.js';
import { Mode } from './mode.js';
import { Msr } from './msrs.js';
import * as C from '../arch/control.js';
import { TLB_SIZE, TlbKind } from './tlb.js';
import { Access } from './paging.js';
import * as V from '../arch/vectors.js';
import {
  CS, SS, GS, DESC_S, DESC_P, DESC_L, DESC_DB, DESC_G, SEL_TI, DESC_ATTR_MASK, DESC_TYPE_SHIFT, DESC_TYPE_MASK, DESC_DPL_SHIFT,
  DESC_TYPE_CODE, DESC_TYPE_CONFORMING, DESC_TYPE_READABLE, DESC_TYPE_WRITABLE, DESC_TYPE_ACCESSED,
} from '../arch/descriptors.js';

/** Read the 8-byte descriptor a selector names into cpu.scratch.descLo/descHi; #GP(selector)
 *  past the table limit (or `vector` if given, with the EXT bit). Returns false for a null
 *  selector. */
export function readDescriptor(cpu: Cpu, sel: number, vector = V.GP, ext = 0): boolean {
  const index = sel & ~7;
  if ((sel & SEL_TI) === 0 && index === 0) return false;
  let lin: number;
  if ((sel & SEL_TI) !== 0) {
    if ((cpu.ldtrSel & ~3) === 0) cpu.raise(vector, (sel & 0xfffc) | ext);
    if (index + 7 > cpu.ldtrLimit) cpu.raise(vector, (sel & 0xfffc) | ext);
    lin = cpu.tableLinear(cpu.ldtrBaseLo, cpu.ldtrBaseHi, index);
  } else {
    if (index + 7 > cpu.gdtrLimit) cpu.raise(vector, (sel & 0xfffc) | ext);
    lin = cpu.tableLinear(cpu.gdtrBaseLo, cpu.gdtrBaseHi, index);
  }
  cpu.scratch.descLo = cpu.readSys32(lin);
  cpu.scratch.descHi = cpu.readSys32(lin + 4);
  return true;
}

export function descBase(lo: number, hi: number): number {
  return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0;
}

export function descLimit(lo: number, hi: number): number {
  const raw = (lo & 0xffff) | (hi & 0xf0000);
  return (hi & DESC_G) !== 0 ? ((raw << 12) | 0xfff) : raw;
}

/** Access byte and flags: bits 8..23 of the high dword. */
export function descAttr(hi: number): number {
  return hi & DESC_ATTR_MASK;
}

/** DPL: bits 14:13 of the high dword (or of a segment cache's attributes). */
export function descDpl(hi: number): number {
  return (hi >> DESC_DPL_SHIFT) & 3;
}

/** The 4-bit type field (SDM Vol. 3A §3.4.5; Table 3-1 for S = 1, Table 3-2 for S = 0). */
export function descType(hi: number): number {
  return (hi & DESC_TYPE_MASK) >> DESC_TYPE_SHIFT;
}

/** The type field with S above it (bits 12:8): a system type (S = 0) as itself, any code or
 *  data type as 0x10 or more, so one comparison with a system type also checks S = 0. */
export function descSystemType(hi: number): number {
  return (hi & (DESC_TYPE_MASK | DESC_S)) >> DESC_TYPE_SHIFT;
}

/** A code segment: S = 1 and type bit 3 (Table 3-1). */
export function isCode(hi: number): boolean {
  return (hi & DESC_S) !== 0 && (hi & DESC_TYPE_CODE) !== 0;
}

/** A data segment: S = 1 and type bit 3 clear (Table 3-1). */
export function isData(hi: number): boolean {
  return (hi & DESC_S) !== 0 && (hi & DESC_TYPE_CODE) === 0;
}

/** A writable data segment, the only kind SS may hold (§6.12.1 and the SS loads of MOV,
 *  POP, IRET: "not a writable data segment" is #GP/#TS). */
export function isWritableData(hi: number): boolean {
  return isData(hi) && (hi & DESC_TYPE_WRITABLE) !== 0;
}

/** A readable code segment (Table 3-1: type bit 1 of a code segment). */
export function isReadableCode(hi: number): boolean {
  return isCode(hi) && (hi & DESC_TYPE_READABLE) !== 0;
}

/** Type bit 2 of a code segment: conforming. Callers check isCode first (for data the same
 *  bit means expand-down). */
export function isConforming(hi: number): boolean {
  return (hi & DESC_TYPE_CONFORMING) !== 0;
}

/** Set the accessed bit of the descriptor `sel` names, whose high dword is `hi`, in memory
 *  (SDM Vol. 3 §3.4.5.1, type bit 0); returns the high dword with it set. */
export function markAccessed(cpu: Cpu, sel: number, hi: number): number {
  if ((hi & DESC_TYPE_ACCESSED) !== 0) return hi;
  hi |= DESC_TYPE_ACCESSED;
  const lin = (sel & SEL_TI) !== 0 ? cpu.tableLinear(cpu.ldtrBaseLo, cpu.ldtrBaseHi, (sel & ~7) + 4)
    : cpu.tableLinear(cpu.gdtrBaseLo, cpu.gdtrBaseHi, (sel & ~7) + 4);
  const phys = cpu.translate(lin, TLB_SIZE * TlbKind.WriteS, Access.Write | Access.Implicit);
  cpu.writePhys32(phys, hi);
  return hi;
}

/** Load a segment register's hidden part. */
export function setSegment(cpu: Cpu, seg: number, sel: number, lo: number, hi: number): void {
  cpu.segSel[seg] = sel & 0xffff;
  cpu.segBaseLo[seg] = descBase(lo, hi);
  cpu.segLimit[seg] = descLimit(lo, hi);
  cpu.segAttr[seg] = descAttr(hi);
  cpu.segBaseHi[seg] = 0; // a selector load clears the upper base bits, FS/GS included (§3.4.4)
  cpu.segmentBaseChanged(seg);
}

/** A null selector in DS/ES/FS/GS (or SS in 64-bit mode): unusable, base 0 (§3.4.4). */
export function setNullSegment(cpu: Cpu, seg: number, sel: number): void {
  cpu.segSel[seg] = sel & 0xffff;
  cpu.segBaseLo[seg] = 0;
  cpu.segBaseHi[seg] = 0;
  cpu.segLimit[seg] = 0;
  // SS keeps DPL = RPL and the B bit in 64-bit mode; others become unusable (P = 0).
  cpu.segAttr[seg] = seg === SS ? ((sel & 3) << DESC_DPL_SHIFT) | DESC_DB : 0;
  cpu.segmentBaseChanged(seg);
}

/** A data segment register an IRET or far RET to an outer level invalidates (Vol. 2 IRET
 *  and RET "Operation", RETURN-TO-OUTER-PRIVILEGE-LEVEL: "SegmentSelector <- 0"): only
 *  the selector is loaded, and the register becomes unusable. The hidden base and limit
 *  are not part of that step and are kept: in 64-bit mode FS and GS go on using their
 *  bases, as QEMU and hardware do (AMD APM Vol. 2 §4.5.1 names this load as the case
 *  that does not clear the base even where a null load otherwise does). */
export function invalidateOuterSegment(cpu: Cpu, seg: number): void {
  cpu.segSel[seg] = 0;
  cpu.segAttr[seg] = 0;
  cpu.segmentBaseChanged(seg);
}

/** MOV/POP to DS, ES, FS, GS or SS (Vol. 2 MOV "Operation", protected and 64-bit modes). */
export function loadSegment(cpu: Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  const rpl = sel & 3;
  const err = sel & 0xfffc;
  if (seg === CS) cpu.ud();
  if (seg === SS) {
    if (!readDescriptor(cpu, sel)) {
      // Null SS: allowed only in 64-bit mode at CPL < 3 with RPL = CPL.
      if (cpu.mode === Mode.Long64 && cpu.cpl !== 3 && rpl === cpu.cpl) { setNullSegment(cpu, SS, sel); return; }
      cpu.gp(0);
    }
    const hi = cpu.scratch.descHi;
    if (rpl !== cpu.cpl || !isWritableData(hi) || descDpl(hi) !== cpu.cpl) cpu.gp(err);
    if ((hi & DESC_P) === 0) cpu.raise(V.SS, err);
  } else if (!checkDataSegment(cpu, sel)) {
    setNullSegment(cpu, seg, sel);
    return;
  }
  setSegment(cpu, seg, sel, cpu.scratch.descLo, markAccessed(cpu, sel, cpu.scratch.descHi));
}

/** The checks MOV to DS, ES, FS or GS makes on its selector (Vol. 2 MOV "Operation"): false
 *  for a null selector; beyond the table limit, not a data or readable code segment, or (data
 *  and non-conforming code only) RPL > DPL or CPL > DPL is #GP(selector); not present is
 *  #NP(selector). Leaves the descriptor in cpu.scratch.descLo/descHi. */
function checkDataSegment(cpu: Cpu, sel: number): boolean {
  if (!readDescriptor(cpu, sel)) return false;
  const err = sel & 0xfffc;
  const hi = cpu.scratch.descHi;
  const data = isData(hi);
  if (!data && !isReadableCode(hi)) cpu.gp(err);
  if (data || !isConforming(hi)) {
    const dpl = descDpl(hi);
    if ((sel & 3) > dpl || cpu.cpl > dpl) cpu.gp(err);
  }
  if ((hi & DESC_P) === 0) cpu.raise(V.NP, err);
  return true;
}

/** LKGS r/m16 (F2 0F 00 /6; FRED-era SDM Vol. 2A LKGS "Operation"), after its #UD checks (CPL
 *  > 0 here, not 64-bit mode and LKGS not enumerated in the decoder): "LKGS operates in the
 *  same way as MOV to GS except that the descriptor's base address is loaded into the
 *  IA32_KERNEL_GS_BASE MSR instead of the GS segment's descriptor cache". So the same checks
 *  and faults (#GP/#NP with the selector) as MOV GS (checkDataSegment), GS.selector and its
 *  attributes from the descriptor, GS.base unchanged, IA32_KERNEL_GS_BASE := the descriptor's
 *  32-bit base ("bits 63:32 cleared"). A null selector: "GS.selector := SRC; mark GS as null;
 *  IA32_KERNEL_GS_BASE := 0", GS.base again unchanged. The page's pseudocode checks only
 *  "SRC.RPL > descriptor.DPL", also for conforming code, where MOV GS skips it: the model
 *  keeps MOV's rule (docs/fred-readings.md, L1). */
export function loadKernelGs(cpu: Cpu, sel: number): void {
  sel &= 0xffff;
  let baseLo = 0;
  if (checkDataSegment(cpu, sel)) {
    const lo = cpu.scratch.descLo, hi = markAccessed(cpu, sel, cpu.scratch.descHi);
    cpu.segLimit[GS] = descLimit(lo, hi);
    cpu.segAttr[GS] = descAttr(hi);
    baseLo = descBase(lo, hi);
  } else {
    // Marked null as a MOV of a null selector marks it (setNullSegment), the base aside.
    cpu.segLimit[GS] = 0;
    cpu.segAttr[GS] = 0;
  }
  cpu.segSel[GS] = sel;
  cpu.msrLo[Msr.KernelGsBase] = baseLo;
  cpu.msrHi[Msr.KernelGsBase] = 0;
  cpu.segmentBaseChanged(GS); // the attributes changed; the base did not
}

/** Checks on a code-segment descriptor (high dword `hi`) for a far transfer to it
 *  (JMP/CALL/RET/IRET): a conforming target needs DPL <= targetCpl, a non-conforming one
 *  DPL = targetCpl. Raises #GP(selector) / #NP(selector). */
export function checkCodeSegment(cpu: Cpu, sel: number, targetCpl: number, hi: number): void {
  const err = sel & 0xfffc;
  if (!isCode(hi)) cpu.gp(err);
  // In IA-32e mode a code segment with L = 1 and D = 1 is reserved (§5.2.1); checked
  // before privilege and presence (SDM JMP, RET "Operation").
  if (cpu.longMode && (hi & DESC_L) !== 0 && (hi & DESC_DB) !== 0) cpu.gp(err);
  const dpl = descDpl(hi);
  if (isConforming(hi) ? dpl > targetCpl : dpl !== targetCpl) cpu.gp(err);
  // FRED: CPL 0 never runs in compatibility mode. The FRED-era JMP and CALL pages
  // (CONFORMING- and NONCONFORMING-CODE-SEGMENT: "IF CR4.FRED = 1 and CPL = 0 and L bit = 0
  // THEN #GP(new code segment selector)") and RET's IA-32e-mode return ("IF CR4.FRED = 1 and
  // CPL = 0 and L-bit is 0 in return code segment descriptor THEN #GP(selector)") make the
  // check here, after the privilege checks and before presence; IRET's ("IF CR4.FRED = 1 and
  // CPL = 0 and CS.L = 0 THEN #GP(CS.selector)") is placed with them. The condition is on the
  // CPL the transfer runs at, not on the descriptor's DPL (Bochs's check_cs tests DPL = 0:
  // docs/fred-readings.md, B-list): under FRED that is the current CPL for JMP, CALL, RET and
  // IRET (none changes CPL), and 3 for ERETU, which loads CS "as is done by IRET" to leave
  // ring 0 (SDM ERETU) and may enter compatibility mode at CPL 3.
  if ((cpu.cr4Hi & C.CR4_HI_FRED) !== 0 && targetCpl === 0 && (hi & DESC_L) === 0) cpu.gp(err);
  if ((hi & DESC_P) === 0) cpu.raise(V.NP, err);
}

/** Load CS (after checks) from its descriptor (lo, hi) with RPL = the new CPL, and update
 *  the mode. */
export function setCodeSegment(cpu: Cpu, sel: number, cpl: number, lo: number, hi: number): void {
  setSegment(cpu, CS, (sel & ~3) | cpl, lo, markAccessed(cpu, sel, hi));
  if (cpl !== cpu.cpl) cpu.setCpl(cpl);
  cpu.modeChanged();
}

/** Exchange GS.base with IA32_KERNEL_GS_BASE: SWAPGS, and FRED delivery from ring 3 and ERETU
 *  ("FRED transitions perform the same swap when changing the CPL", SDM SWAPGS). */
export function swapGsBase(cpu: Cpu): void {
  const lo = cpu.segBaseLo[GS], hi = cpu.segBaseHi[GS];
  cpu.segBaseLo[GS] = cpu.msrLo[Msr.KernelGsBase];
  cpu.segBaseHi[GS] = cpu.msrHi[Msr.KernelGsBase];
  cpu.msrLo[Msr.KernelGsBase] = lo;
  cpu.msrHi[Msr.KernelGsBase] = hi;
  cpu.segmentBaseChanged(GS);
}
