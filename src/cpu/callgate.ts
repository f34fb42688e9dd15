// Far CALL and far JMP through a 64-bit call gate in IA-32e mode (SDM Vol. 2 CALL
// "Operation", CALL-GATE, MORE-PRIVILEGE and SAME-PRIVILEGE; JMP "Operation", CALL-GATE;
// Vol. 3A §5.8.3 call gates, §5.8.3.1 IA-32e mode call gates, §5.8.4 access checks,
// §5.8.5 stack switching). The far RET that undoes an inner-privilege CALL is in
// far-return.ts.
//
// A 64-bit call gate is 16 bytes: the first 8 as a legacy 32-bit gate (type 0xC, offset
// 31:0, target selector, DPL, P; its parameter count is ignored), then offset 63:32 and a
// dword whose type field (bits 12:8) must be 0 (§5.8.3.1, Figure 5-9). The offset of the
// far pointer is not used (§5.8.4). A CALL to a more privileged non-conforming segment
// switches to the stack TSS.RSPn names, loads SS with a null selector whose RPL is the
// new CPL, and pushes the old SS, RSP, CS and RIP as 8-byte values (§5.8.5, §5.8.6); a JMP
// never changes CPL. Either is committed through transition.ts (TransitionKind.CallGate).
//
// Under CR4.FRED every call gate is #GP(gate selector), the gate's first check (FRED-era
// CALL and JMP "Operation", CALL-GATE).
//
// Order of checks: as the CALL and JMP pages list them. The pages do not place the
// checks of the gate's upper 8 bytes (Vol. 2 CALL/JMP, 64-Bit Mode Exceptions: #GP(selector)
// for a gate beyond the table limit or with an upper type field other than 0); they are
// made where the gate's offset is read, after the gate's DPL and P checks.
//
// Deliberate deviations: 16- and 32-bit call gates outside IA-32e mode, task gates and
// TSS targets are model errors (branch.ts); CET shadow stacks are not modelled (not
// enumerated).

import type { Cpu } from './cpu.js';
import { TLB_SIZE, TlbKind } from './tlb.js';
import { Access } from './paging.js';
import * as V from '../arch/vectors.js';
import * as R from '../arch/rflags.js';
import * as C from '../arch/control.js';
import { CS, SS, DESC_P, DESC_L, DESC_DB, DESC_TYPE_MASK, DESC_S, SEL_TI, TSS64_RSP0 } from '../arch/descriptors.js';
import { readDescriptor, descDpl, isCode, isConforming } from './segments.js';
import { beginTransition, commitTransition, SsLoad, TransitionKind } from './transition.js';

const TWO32 = 4294967296;

/** A far CALL (`call`) or JMP whose selector named a call gate in IA-32e mode; the gate's
 *  first 8 bytes are in cpu.scratch.descLo/descHi. */
export function transferThroughCallGate(cpu: Cpu, gateSel: number, call: boolean): void {
  const gateErr = gateSel & 0xfffc;
  const g0 = cpu.scratch.descLo, g1 = cpu.scratch.descHi;
  const cpl = cpu.cpl;

  // The gate: DPL >= CPL and DPL >= RPL (§5.8.4, Table 5-1), present. Under FRED there are
  // no call gates: FRED-era CALL, CALL-GATE: "IF call gate (DPL < CPL) or (RPL > DPL) or
  // (CR4.FRED = 1) THEN #GP(call-gate selector)"; JMP, CALL-GATE, the same words.
  const gateDpl = descDpl(g1);
  if (gateDpl < cpl || gateDpl < (gateSel & 3) || (cpu.cr4Hi & C.CR4_HI_FRED) !== 0) cpu.gp(gateErr);
  if ((g1 & DESC_P) === 0) cpu.raise(V.NP, gateErr);
  // Its upper 8 bytes: inside the table, type field 0 (§5.8.3.1).
  const upperLin = gateUpper(cpu, gateSel);
  const g2 = cpu.readSys32(upperLin);
  const g3 = cpu.readSys32(upperLin + 4);
  if ((g3 & (DESC_TYPE_MASK | DESC_S)) !== 0) cpu.gp(gateErr);
  const ripLo = (g0 & 0xffff) | (g1 & 0xffff0000);

  // The target code segment the gate names.
  const sel = g0 >>> 16;
  const err = sel & 0xfffc;
  if (!readDescriptor(cpu, sel)) cpu.gp(0);
  const csLo = cpu.scratch.descLo, csHi = cpu.scratch.descHi;
  const dpl = descDpl(csHi);
  if (!isCode(csHi)) cpu.gp(err);
  // CALL may raise CPL to the segment's DPL; JMP keeps it (JMP "Operation", CALL-GATE:
  // a conforming segment needs DPL <= CPL, a non-conforming one DPL = CPL).
  if (call ? dpl > cpl : isConforming(csHi) ? dpl > cpl : dpl !== cpl) cpu.gp(err);
  // "IF IA32_EFER.LMA = 1 AND (code segment is not a 64-bit code segment or has both L-bit
  // and D-bit set)": a 64-bit gate must name 64-bit code (§5.8.3.1).
  if ((csHi & DESC_L) === 0 || (csHi & DESC_DB) !== 0) cpu.gp(err);
  if ((csHi & DESC_P) === 0) cpu.raise(V.NP, err);

  const newCpl = !isConforming(csHi) && dpl < cpl ? dpl : cpl;
  const t = beginTransition(cpu, TransitionKind.CallGate);
  t.csSel = sel; t.csLo = csLo; t.csHi = csHi; t.cpl = newCpl;
  // RFLAGS is unchanged; RF, which only IRET can leave set, is clear once CALL completes.
  t.rflags = cpu.getFlags() & ~R.RF;
  if (!call) {
    if (!cpu.isCanonicalHi(g2)) cpu.gp(0);
    t.rspLo = cpu.regLo[4]; t.rspHi = cpu.regHi[4];
    t.rip = g2 * TWO32 + (ripLo >>> 0);
    commitTransition(cpu);
    return;
  }

  const ret = cpu.nextRip;
  if (newCpl < cpl) {
    // MORE-PRIVILEGE (§5.8.5): RSP from TSS.RSPn, SS a null selector with RPL = new CPL;
    // the four pushes must not touch a non-canonical address (#SS with the null SS
    // selector as the error code, 0).
    const off = TSS64_RSP0 + newCpl * 8;
    if (off + 7 > cpu.trLimit) cpu.raise(V.TS, cpu.trSel & 0xfffc);
    const spLin = cpu.tableLinear(cpu.trBaseLo, cpu.trBaseHi, off);
    const spLo = cpu.readSys32(spLin), spHi = cpu.readSys32(spLin + 4);
    const rsp = spHi * TWO32 + (spLo >>> 0);
    const frame = rsp - 32;
    if (!cpu.isCanonicalHi(spHi) || !cpu.isCanonicalHi(Math.floor(frame / TWO32) | 0)) cpu.raise(V.SS, 0);
    if (!cpu.isCanonicalHi(g2)) cpu.gp(0);
    // Probe the whole frame with the new privilege's rights (CPL < 3: supervisor) before
    // writing any of it.
    const wkind = TLB_SIZE * TlbKind.WriteS;
    cpu.translate(frame, wkind, Access.Write | Access.Implicit);
    cpu.translate(rsp - 1, wkind, Access.Write | Access.Implicit);
    cpu.writeAs(wkind, frame, ret >>> 0, Math.floor(ret / TWO32) | 0);
    cpu.writeAs(wkind, frame + 8, cpu.segSel[CS], 0);
    cpu.writeAs(wkind, frame + 16, cpu.regLo[4], cpu.regHi[4]);
    cpu.writeAs(wkind, frame + 24, cpu.segSel[SS], 0);
    t.ss = SsLoad.Null; t.ssSel = newCpl;
    t.rspLo = frame | 0; t.rspHi = Math.floor(frame / TWO32) | 0;
    t.frameLin = frame; t.frameLength = 32;
  } else {
    // SAME-PRIVILEGE: CS and RIP pushed as 8-byte values on the current stack (with the
    // current stack-address size when called from compatibility mode).
    const size = cpu.stackSize;
    let spLo = cpu.regLo[4], spHi = cpu.regHi[4];
    if (size === 8) {
      const n = (spLo >>> 0) - 16;
      spLo = n | 0;
      if (n < 0) spHi = (spHi - 1) | 0;
    } else if (size === 4) {
      spLo = (spLo - 16) | 0;
      spHi = 0;
    } else {
      spLo = (spLo & ~0xffff) | ((spLo - 16) & 0xffff);
    }
    // A limit violation or a non-canonical address (either end) is #SS(0).
    const frame = cpu.linear(SS, spLo, spHi, size, 16);
    if (size === 8) cpu.linear(SS, (cpu.regLo[4] - 1) | 0, cpu.regLo[4] === 0 ? (cpu.regHi[4] - 1) | 0 : cpu.regHi[4], 8, 1);
    if (!cpu.isCanonicalHi(g2)) cpu.gp(0);
    cpu.checkWritable(frame, 16);
    cpu.write(frame, 8, ret >>> 0, Math.floor(ret / TWO32) | 0);
    cpu.write(frame + 8, 8, cpu.segSel[CS], 0);
    t.rspLo = spLo; t.rspHi = spHi;
    t.frameLin = frame; t.frameLength = 16;
  }
  t.rip = g2 * TWO32 + (ripLo >>> 0);
  commitTransition(cpu);
}

/** The linear address of a 64-bit call gate's upper 8 bytes; #GP(gate selector) if they
 *  lie beyond the descriptor table's limit. */
function gateUpper(cpu: Cpu, gateSel: number): number {
  const ldt = (gateSel & SEL_TI) !== 0;
  const index = gateSel & ~7;
  if (index + 15 > (ldt ? cpu.ldtrLimit : cpu.gdtrLimit)) cpu.gp(gateSel & 0xfffc);
  return ldt ? cpu.tableLinear(cpu.ldtrBaseLo, cpu.ldtrBaseHi, index + 8) : cpu.tableLinear(cpu.gdtrBaseLo, cpu.gdtrBaseHi, index + 8);
}
