// Pointer validation: LAR, LSL, VERR, VERW (SDM Vol. 2 LAR, LSL, VERR, VERW "Operation";
// Vol. 3A §5.10.1 "Checking Access Rights (LAR Instruction)", §5.10.2 "Checking
// Read/Write Rights (VERR and VERW Instructions)", §5.10.3 "Checking That the Pointer
// Offset Is Within Limits (LSL Instruction)"). A selector that is null, past its table's
// limit, of a type the instruction does not accept or not visible at CPL and RPL clears
// ZF and leaves the destination alone; it never faults. Only the memory operand and the
// descriptor-table read itself (an implicit supervisor access: #PF) can fault.
//
// Deliberate deviations: none. Vendor differences (the AMD flavour): in long mode AMD
// also accepts an LDT for LAR (the valid long-mode system types of AMD APM Vol. 2 §4.8.3
// Table 4-6: LDT, 64-bit TSS, 64-bit call gate), and requires the S and type fields of a
// 16-byte system descriptor's upper half to be zero (§4.8.3, Figure 4-22). The LAR/LSL
// pages of APM Vol. 3 were not available to this project.

import type { Cpu } from '../cpu.js';
import type { Insn } from '../insn.js';
import { readE } from './arith.js';
import { statusFlags, undefinedStatus } from '../flags.js';
import { ZF } from '../../arch/rflags.js';
import {
  DESC_S, DESC_ATTR_MASK, SEL_TI, TYPE_LDT, TYPE_TSS_AVAIL, TYPE_TSS_BUSY, TYPE_CALL_GATE, DESC_TYPE_MASK, DESC_TYPE_READABLE,
  DESC_TYPE_WRITABLE, TYPE_TASK_GATE,
} from '../../arch/descriptors.js';
import { descDpl, descLimit, descType, isCode, isConforming } from '../segments.js';

/** System types each instruction accepts, as bit masks over the 4-bit type
 *  (SDM LAR Table "Segment and Gate Types", LSL likewise). */
const bit = (...types: number[]): number => types.reduce((m, t) => m | (1 << t), 0);
// Protected mode: 16-bit TSS (1, 3), LDT, 16-bit call gate (4), task gate (5), 32-bit TSS, 32-bit call gate.
const LAR_LEGACY = bit(1, TYPE_LDT, 3, 4, TYPE_TASK_GATE, TYPE_TSS_AVAIL, TYPE_TSS_BUSY, TYPE_CALL_GATE);
const LSL_LEGACY = bit(1, TYPE_LDT, 3, TYPE_TSS_AVAIL, TYPE_TSS_BUSY);
// IA-32e mode (64-bit and compatibility mode): Intel's LAR table marks the LDT invalid.
const LAR_IA32E_INTEL = bit(TYPE_TSS_AVAIL, TYPE_TSS_BUSY, TYPE_CALL_GATE);
const LAR_IA32E_AMD = bit(TYPE_LDT, TYPE_TSS_AVAIL, TYPE_TSS_BUSY, TYPE_CALL_GATE);
const LSL_IA32E = bit(TYPE_LDT, TYPE_TSS_AVAIL, TYPE_TSS_BUSY);
/** Type field and S of a 16-byte system descriptor's upper half (its third dword's bits 12:8). */
const UPPER_TYPE_AND_S = DESC_TYPE_MASK | DESC_S;

/** "IF Offset(SRC) > descriptor table limit THEN ZF := 0": read the descriptor a selector
 *  names into cpu.scratch.descLo/descHi, or return false for a null selector, one past the GDT or LDT limit,
 *  or an LDT reference while LDTR is null (its limit check cannot pass). */
function lookUp(cpu: Cpu, sel: number): boolean {
  const index = sel & 0xfff8;
  const ldt = (sel & SEL_TI) !== 0;
  if (ldt ? (cpu.ldtrSel & 0xfffc) === 0 : index === 0) return false;
  const limit = ldt ? cpu.ldtrLimit : cpu.gdtrLimit;
  if (index + 7 > limit) return false;
  const lin = ldt ? cpu.tableLinear(cpu.ldtrBaseLo, cpu.ldtrBaseHi, index) : cpu.tableLinear(cpu.gdtrBaseLo, cpu.gdtrBaseHi, index);
  cpu.scratch.descLo = cpu.readSys32(lin);
  cpu.scratch.descHi = cpu.readSys32(lin + 4);
  if (cpu.model.vendor === 'amd' && cpu.longMode && (cpu.scratch.descHi & DESC_S) === 0) {
    // AMD: a long-mode system descriptor is 16 bytes; its upper type field must be 0.
    if (index + 15 > limit || (cpu.readSys32(lin + 12) & UPPER_TYPE_AND_S) !== 0) return false;
  }
  return true;
}

/** DPL >= CPL and DPL >= RPL: the descriptor is visible (conforming code is exempt where the
 *  instruction says so). */
function visible(cpu: Cpu, sel: number, hi: number): boolean {
  const dpl = descDpl(hi);
  return cpu.cpl <= dpl && (sel & 3) <= dpl;
}

/** The shared LAR/LSL test: a code or data segment visible at CPL/RPL (conforming code
 *  always), or a system descriptor of a type in `types` that is visible. */
function accepted(cpu: Cpu, sel: number, types: number): boolean {
  if (!lookUp(cpu, sel)) return false;
  const hi = cpu.scratch.descHi;
  if ((hi & DESC_S) !== 0) return (isCode(hi) && isConforming(hi)) || visible(cpu, sel, hi);
  return (types & (1 << descType(hi))) !== 0 && visible(cpu, sel, hi);
}

function setZF(cpu: Cpu, on: boolean): void {
  cpu.setStatus((statusFlags(cpu) & ~ZF) | (on ? ZF : 0), undefinedStatus(cpu) & ~ZF);
}

/** LAR r, r/m16: the access-rights bytes of the descriptor's high dword, masked by FF00H
 *  (16-bit operand) or 00FxFF00H (32/64-bit, zero-extended; bits 19:16 undefined). */
export function lar(cpu: Cpu, i: Insn): void {
  const sel = readE(cpu, i, 2) & 0xffff;
  const types = !cpu.longMode ? LAR_LEGACY : cpu.model.vendor === 'amd' ? LAR_IA32E_AMD : LAR_IA32E_INTEL;
  const ok = accepted(cpu, sel, types);
  if (ok) {
    const hi = cpu.scratch.descHi;
    if (i.osz === 2) cpu.setReg(i.reg, 2, hi & 0xff00, 0);
    else cpu.setReg(i.reg, i.osz, (hi & DESC_ATTR_MASK) | (hi & 0x000f0000 & cpu.undef.larLimitBits), 0);
  }
  setZF(cpu, ok);
}

/** LSL r, r/m16: the segment limit in bytes (scaled by G), truncated to 16 bits or
 *  zero-extended to 64. */
export function lsl(cpu: Cpu, i: Insn): void {
  const sel = readE(cpu, i, 2) & 0xffff;
  const ok = accepted(cpu, sel, cpu.longMode ? LSL_IA32E : LSL_LEGACY);
  if (ok) cpu.setReg(i.reg, i.osz, descLimit(cpu.scratch.descLo, cpu.scratch.descHi), 0);
  setZF(cpu, ok);
}

/** VERR (op 0): a data segment, or readable code, visible at CPL/RPL (readable conforming
 *  code always). VERW (op 1): a writable data segment visible at CPL/RPL. System
 *  descriptors never pass. */
export function verify(cpu: Cpu, i: Insn): void {
  const sel = readE(cpu, i, 2) & 0xffff;
  let ok = false;
  if (lookUp(cpu, sel) && (cpu.scratch.descHi & DESC_S) !== 0) {
    const hi = cpu.scratch.descHi;
    const code = isCode(hi);
    const rw = (hi & (code ? DESC_TYPE_READABLE : DESC_TYPE_WRITABLE)) !== 0;
    if (i.op === 0) ok = code ? rw && (isConforming(hi) || visible(cpu, sel, hi)) : visible(cpu, sel, hi);
    else ok = !code && rw && visible(cpu, sel, hi);
  }
  setZF(cpu, ok);
}
