// IRET/IRETD/IRETQ (SDM Vol. 2 IRET "Operation": IA-32e mode and protected-mode
// returns to the same or an outer privilege level).
//
// Under CR4.FRED an IRET that would change CPL, or enter compatibility mode at CPL 0, is a
// #GP (FRED-era IRET, Description). Operation, IA-32e-MODE: "IF CS.RPL < CPL or (CR4.FRED = 1
// and CS.RPL > CPL) THEN #GP(CS.selector)" and, returning at the same CPL, "IF CR4.FRED = 1
// and CPL = 0 and CS.L = 0 THEN #GP(CS.selector)": raised by return-checks.ts
// checkReturnCode; the NMI unblocking before them still happens.
//
// Deliberate deviations: task returns (NT = 1 in protected mode) and returns to
// virtual-8086 mode are not modelled (model error).

import type { Cpu } from './cpu.js';
import * as R from '../arch/rflags.js';
import { SS, DESC_L } from '../arch/descriptors.js';
import { beginTransition, commitTransition, TransitionKind, SsLoad } from './transition.js';
import { checkReturnCode, checkReturnStack, returnRip, setReturnRsp } from './return-checks.js';

export function iret(cpu: Cpu, osz: number): void {
  // SDM Vol. 3A §6.7.1: "An execution of the IRET instruction unblocks NMIs even if the
  // instruction causes a fault" -- so before any check.
  cpu.unblockNmi();
  const ia32e = cpu.longMode;
  if ((cpu.flagsRest & R.NT) !== 0) {
    if (ia32e) cpu.gp(0);
    cpu.modelError('IRET with NT = 1 (task return) is not modelled');
  }

  // Read the frame without moving RSP: a fault leaves everything as it was.
  const ripLo = cpu.peek(osz, 0), ripHi = osz === 8 ? cpu.hi : 0;
  const csSel = cpu.peek(osz, osz) & 0xffff;
  const flags = cpu.peek(osz, 2 * osz);
  const rpl = csSel & 3;
  const toOuter = rpl > cpu.cpl;
  // In IA-32e mode IRET always pops SS:RSP; in protected mode only on a privilege change.
  const popsStack = ia32e || toOuter;
  let spLo = 0, spHi = 0, ssSel = 0;
  if (popsStack) {
    spLo = cpu.peek(osz, 3 * osz);
    spHi = osz === 8 ? cpu.hi : 0;
    ssSel = cpu.peek(osz, 4 * osz) & 0xffff;
  }
  if (!ia32e && (flags & R.VM) !== 0 && cpu.cpl === 0) cpu.modelError('IRET to virtual-8086 mode is not modelled');

  // The return code segment, RIP and stack segment (return-checks.ts).
  checkReturnCode(cpu, csSel);
  const csLo = cpu.scratch.descLo, csHi = cpu.scratch.descHi;
  const to64 = ia32e && (csHi & DESC_L) !== 0;
  const target = returnRip(cpu, ripLo, ripHi, osz, to64, csLo, csHi);
  let ssLo = 0, ssHi = 0, ssNull = false;
  if (popsStack) {
    ssNull = checkReturnStack(cpu, ssSel, rpl, to64);
    if (!ssNull) { ssLo = cpu.scratch.descLo; ssHi = cpu.scratch.descHi; }
  }

  // Commit: RFLAGS by privilege (CPL before the return), then CS:RIP, then SS:RSP.
  const oldCpl = cpu.cpl;
  const iopl = (cpu.flagsRest >> 12) & 3;
  let writable = R.STATUS | R.TF | R.DF | R.NT | R.RF | R.AC | R.ID;
  if (oldCpl <= iopl) writable |= R.IF;
  if (oldCpl === 0) writable |= R.IOPL | R.VIF | R.VIP;
  if (osz === 2) writable &= 0xffff;
  const newFlags = (cpu.getFlags() & ~writable) | (flags & writable);

  const t = beginTransition(cpu, TransitionKind.Iret);
  if (cpu.traceSink !== null) {
    t.frameLin = cpu.linear(SS, cpu.regLo[4], cpu.regHi[4], cpu.stackSize, 1);
    t.frameLength = (popsStack ? 5 : 3) * osz;
  }
  t.csSel = csSel; t.csLo = csLo; t.csHi = csHi; t.cpl = rpl;
  t.rflags = newFlags;
  t.rip = target;
  if (popsStack) {
    if (ssNull) { t.ss = SsLoad.Null; t.ssSel = ssSel; }
    else { t.ss = SsLoad.Descriptor; t.ssSel = ssSel; t.ssLo = ssLo; t.ssHi = ssHi; }
    setReturnRsp(t, spLo, spHi, osz, to64);
  } else {
    // Protected mode, same privilege: the three slots are popped off SS:ESP (or SP).
    const lo = cpu.regLo[4];
    const wide = cpu.stackSize === 4;
    t.rspLo = wide ? (lo + 3 * osz) | 0 : (lo & ~0xffff) | ((lo + 3 * osz) & 0xffff);
    t.rspHi = wide ? 0 : cpu.regHi[4];
  }
  // Returning outward: data segments the new CPL may not use become null (SDM IRET).
  t.nullOuterDataSegments = rpl > oldCpl;
  commitTransition(cpu);
}

