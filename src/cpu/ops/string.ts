// String instructions with REP/REPE/REPNE (SDM Vol. 2: MOVS, CMPS, STOS, LODS, SCAS,
// INS, OUTS, and "REP/REPE/REPZ/REPNE/REPNZ"). Each iteration commits its own
// updates to rSI/rDI/rCX, so a fault mid-string leaves the registers pointing at the
// element that faulted and RIP at the instruction, as the SDM requires.
//
// A REP instruction runs at most CHUNK iterations per step; if more remain, RIP
// stays on it and the next step continues (as an interrupt window would). Each
// iteration counts as one instruction toward the budget (as QEMU's -icount does),
// so a REP with a huge count still ends at the instruction budget.

import type { Cpu } from '../cpu.js';
import { Mode } from '../mode.js';
import type { Insn } from '../insn.js';
import { alu, AluOp } from './arith.js';
import { getZF } from '../flags.js';
import { DF } from '../../arch/rflags.js';
import { ES, DS } from '../../arch/descriptors.js';
import { TLB_SIZE } from '../tlb.js';
import { ioAccess } from '../debug.js';

const CHUNK = 4096;
const TWO32 = 4294967296;

const enum Str { Movs = 0, Cmps = 1, Stos = 2, Lods = 3, Scas = 4, Ins = 5, Outs = 6 }

function countIsZero(cpu: Cpu, asz: number): boolean {
  if (asz === 8) return (cpu.regLo[1] | cpu.regHi[1]) === 0;
  if (asz === 4) return cpu.regLo[1] === 0;
  return (cpu.regLo[1] & 0xffff) === 0;
}

function decCount(cpu: Cpu, asz: number): void {
  const lo = cpu.regLo[1];
  if (asz === 8) { cpu.regLo[1] = (lo - 1) | 0; if (lo === 0) cpu.regHi[1] = (cpu.regHi[1] - 1) | 0; }
  else if (asz === 4) { cpu.regLo[1] = (lo - 1) | 0; cpu.regHi[1] = 0; }
  else cpu.regLo[1] = (lo & ~0xffff) | ((lo - 1) & 0xffff);
}

/** Advance an index register by ±size in the address size. */
function step(cpu: Cpu, r: number, asz: number, delta: number): void {
  const lo = cpu.regLo[r];
  if (asz === 8) {
    const n = (lo >>> 0) + delta;
    cpu.regLo[r] = n | 0;
    if (n >= TWO32) cpu.regHi[r] = (cpu.regHi[r] + 1) | 0;
    else if (n < 0) cpu.regHi[r] = (cpu.regHi[r] - 1) | 0;
  } else if (asz === 4) {
    cpu.regLo[r] = (lo + delta) | 0;
    cpu.regHi[r] = 0;
  } else {
    cpu.regLo[r] = (lo & ~0xffff) | ((lo + delta) & 0xffff);
  }
}

function src(cpu: Cpu, i: Insn): number {
  return cpu.linear(i.segOverride ? i.seg : DS, cpu.regLo[6], cpu.regHi[6], i.asz, i.osz);
}

function dst(cpu: Cpu, i: Insn): number {
  return cpu.linear(ES, cpu.regLo[7], cpu.regHi[7], i.asz, i.osz); // ES cannot be overridden
}

/** One iteration of the string operation, without the count. */
function once(cpu: Cpu, i: Insn, kind: number, size: number, delta: number): void {
  switch (kind) {
    case Str.Movs: {
      const v = cpu.read(src(cpu, i), size), vHi = cpu.hi;
      cpu.write(dst(cpu, i), size, v, vHi);
      step(cpu, 6, i.asz, delta);
      step(cpu, 7, i.asz, delta);
      return;
    }
    case Str.Stos: {
      const v = cpu.getReg(0, size);
      cpu.write(dst(cpu, i), size, v, cpu.hi);
      step(cpu, 7, i.asz, delta);
      return;
    }
    case Str.Lods: {
      const v = cpu.read(src(cpu, i), size);
      cpu.setReg(0, size, v, cpu.hi);
      step(cpu, 6, i.asz, delta);
      return;
    }
    case Str.Cmps: {
      const a = cpu.read(src(cpu, i), size), aHi = cpu.hi;
      const b = cpu.read(dst(cpu, i), size), bHi = cpu.hi;
      alu(cpu, AluOp.Cmp, size, a, aHi, b, bHi);
      step(cpu, 6, i.asz, delta);
      step(cpu, 7, i.asz, delta);
      return;
    }
    case Str.Scas: {
      const b = cpu.read(dst(cpu, i), size), bHi = cpu.hi;
      const a = cpu.getReg(0, size);
      alu(cpu, AluOp.Cmp, size, a, cpu.hi, b, bHi);
      step(cpu, 7, i.asz, delta);
      return;
    }
    case Str.Ins: { // I/O permission: checked once per execution, in stringOp
      const lin = dst(cpu, i);
      cpu.probeWrite(lin, size);
      const v = cpu.io.in(cpu.regLo[2] & 0xffff, size as 1 | 2 | 4);
      if (cpu.bpIo !== 0) ioAccess(cpu, cpu.regLo[2] & 0xffff, size);
      cpu.write(lin, size, v, 0);
      step(cpu, 7, i.asz, delta);
      return;
    }
    default: { // OUTS (I/O permission: checked once per execution, in stringOp)
      const v = cpu.read(src(cpu, i), size);
      cpu.io.out(cpu.regLo[2] & 0xffff, v, size as 1 | 2 | 4);
      if (cpu.bpIo !== 0) ioAccess(cpu, cpu.regLo[2] & 0xffff, size);
      step(cpu, 6, i.asz, delta);
      return;
    }
  }
}

/** The physical address of `bytes` at (lo, hi) + the effective base of `seg` in 64-bit mode,
 *  if that linear address is 48-bit canonical, the bytes stay in its page, the TLB holds the
 *  page for this access kind (tag offset) and it is RAM; else -1 (the long way decides). */
function heldInPage(cpu: Cpu, seg: number, lo: number, hi: number, bytes: number, tagBase: number): number {
  const sum = (lo >>> 0) + (cpu.segEffLo[seg] >>> 0);
  const h = (hi + cpu.segEffHi[seg] + (sum > 0xffffffff ? 1 : 0)) | 0;
  const off = sum & 0xfff;
  if (((h << 16) >> 16) !== h || off + bytes > 4096) return -1;
  const vpn = h * 1048576 + (sum >>> 12);
  const slot = vpn & (TLB_SIZE - 1);
  if (cpu.tlbTag[tagBase + slot] !== vpn) return -1;
  const p = cpu.tlbPhys[slot] + off;
  return p + bytes <= cpu.mem.size ? p : -1;
}

/** A whole forward REP MOVS/STOS in 64-bit mode (64-bit addresses) whose source and
 *  destination each stay in one page the TLB holds, that completes within the instruction
 *  budget: done at once, with what the element loop would leave (rSI/rDI advanced, rCX 0,
 *  one instruction per iteration). False when any of that does not hold. */
function wholeString(cpu: Cpu, i: Insn, kind: number, size: number): boolean {
  if (cpu.regHi[1] !== 0) return false;
  const count = cpu.regLo[1] >>> 0;
  if (count === 0 || count > CHUNK || cpu.icount + count > cpu.icountLimit) return false;
  const bytes = count * size;
  const mem = cpu.mem;
  const pd = heldInPage(cpu, ES, cpu.regLo[7], cpu.regHi[7], bytes, cpu.tlbWrite);
  if (pd < 0) return false;
  if (kind === Str.Movs) {
    const ps = heldInPage(cpu, i.segOverride ? i.seg : DS, cpu.regLo[6], cpu.regHi[6], bytes, cpu.tlbRead);
    if (ps < 0 || (pd > ps && pd < ps + bytes)) return false; // a forward overlap repeats a pattern
    cpu.noteWrite(pd);
    // Short copies in words (no overlap here but a backward one, which a forward word copy
    // handles as the element loop does): cheaper than copyWithin's call.
    if (bytes <= 64 && (bytes & 3) === 0) {
      const v = cpu.view;
      for (let k = 0; k < bytes; k += 4) v.setInt32(pd + k, v.getInt32(ps + k, true), true);
    } else mem.bytes.copyWithin(pd, ps, ps + bytes);
    step(cpu, 6, 8, bytes);
  } else {
    cpu.noteWrite(pd);
    const lo = cpu.regLo[0], hi = cpu.regHi[0];
    if (size === 1) mem.bytes.fill(lo & 0xff, pd, pd + bytes);
    else {
      for (let at = pd; at < pd + bytes; at += size) {
        if (size === 2) cpu.view.setUint16(at, lo & 0xffff, true);
        else { cpu.view.setInt32(at, lo, true); if (size === 8) cpu.view.setInt32(at + 4, hi, true); }
      }
    }
  }
  step(cpu, 7, 8, bytes);
  cpu.regLo[1] = 0;
  cpu.icount += count - 1;
  cpu.repYieldAt = -1;
  return true;
}

/** Forward REP MOVS/STOS over runs that stay inside one page on each side: the same
 *  element-by-element result, copied in bulk. Returns the iterations done; stops where
 *  a run would cross a page, overlap forward, or leave RAM, and lets the loop go on. */
function bulk(cpu: Cpu, i: Insn, kind: number, size: number): number {
  const mem = cpu.mem;
  let done = 0;
  while (done < CHUNK) {
    const cLo = cpu.regLo[1] >>> 0;
    const count = i.asz === 8 && cpu.regHi[1] !== 0 ? CHUNK : cLo;
    if (count === 0) break;
    let n = Math.min(count, CHUNK - done, cpu.icountLimit - cpu.icount - done - 1);
    if (n <= 0) break;
    let ps = -1;
    if (kind === Str.Movs) {
      // Each element is read before it is written, so the source faults first (its
      // address check and its page) when both would (found by the hardware oracle).
      const sLin = src(cpu, i);
      n = Math.min(n, Math.floor((4096 - (sLin & 0xfff)) / size));
      if (n <= 0) break;
      ps = cpu.translate(sLin, cpu.tlbRead, 0 /* Access.Read */);
      if (ps + n * size > mem.size) break;
    }
    const dLin = dst(cpu, i);
    n = Math.min(n, Math.floor((4096 - (dLin & 0xfff)) / size));
    if (n <= 0) break;
    const pd = cpu.translate(dLin, cpu.tlbWrite, 1 /* Access.Write */);
    if (pd + n * size > mem.size) break;
    if (kind === Str.Movs) {
      if (pd > ps && pd < ps + n * size) break; // forward overlap repeats a pattern: do it element-wise
      cpu.noteWrite(pd);
      mem.bytes.copyWithin(pd, ps, ps + n * size);
      step(cpu, 6, i.asz, n * size);
    } else {
      cpu.noteWrite(pd);
      const lo = cpu.regLo[0], hi = cpu.regHi[0];
      if (size === 1) mem.bytes.fill(lo & 0xff, pd, pd + n);
      else {
        for (let k = 0; k < n; k++) {
          const at = pd + k * size;
          if (size === 2) cpu.view.setUint16(at, lo & 0xffff, true);
          else { cpu.view.setInt32(at, lo, true); if (size === 8) cpu.view.setInt32(at + 4, hi, true); }
        }
      }
    }
    step(cpu, 7, i.asz, n * size);
    subCount(cpu, i.asz, n);
    done += n;
  }
  return done;
}

function subCount(cpu: Cpu, asz: number, n: number): void {
  const d = (cpu.regLo[1] >>> 0) - n;
  cpu.regLo[1] = d | 0;
  if (asz === 8) { if (d < 0) cpu.regHi[1] = (cpu.regHi[1] - 1) | 0; }
  else cpu.regHi[1] = 0;
}

/** Entry point for every string opcode; i.op is the Str kind. */
export function stringOp(cpu: Cpu, i: Insn): void {
  const kind = i.op;
  const size = i.osz;
  const delta = (cpu.flagsRest & DF) !== 0 ? -size : size;
  // INS/OUTS: the I/O permission check (SDM Vol. 2 INS and OUTS "Operation"; AMD APM Vol. 3
  // INSx/OUTSx, whose text was not available here: the AMD EPYC below is the AMD evidence) is part
  // of executing the instruction and comes before REP looks at the count, so a denied port
  // raises #GP(0) even with rCX = 0, changing nothing (as an AMD EPYC does at CPL 3, and QEMU
  // (gen_check_io before gen_repz_ins) and Bochs (allow_io before repeat())). DX cannot change
  // during the string, so one check covers every iteration; a REP resumed after a CHUNK
  // yield or a fault checks again, as a re-executed instruction does.
  if (kind === Str.Ins || kind === Str.Outs) cpu.checkIoPermission(cpu.regLo[2] & 0xffff, size);
  if (i.rep === 0) { once(cpu, i, kind, size, delta); return; }
  const conditional = kind === Str.Cmps || kind === Str.Scas;
  let n = 0;
  // In 64-bit mode only: there are no segment limits or types to check element by element.
  // Not while a data breakpoint is armed: each element's access must reach its check (debug.ts).
  if ((kind === Str.Movs || kind === Str.Stos) && delta > 0 && cpu.mode === Mode.Long64 && cpu.bpData === 0) {
    if (i.asz === 8 && wholeString(cpu, i, kind, size)) return;
    n = bulk(cpu, i, kind, size);
  }
  while (!countIsZero(cpu, i.asz)) {
    if (n > 0 && (n >= CHUNK || cpu.icount + n >= cpu.icountLimit)) {
      // Yield with RIP on this instruction; the next step continues the string. An event
      // delivered at that boundary pushes RF = 1 (SDM Vol. 3B §18.3.1.1; events.ts, idt.ts).
      // A data breakpoint an iteration matched stops the string there (debug.ts), so its trap
      // comes after that iteration (§18.3.1.2).
      cpu.icount += n - 1;
      cpu.repYieldAt = cpu.icount + 1;
      cpu.nextRip = cpu.rip;
      return;
    }
    once(cpu, i, kind, size, delta);
    decCount(cpu, i.asz);
    n++;
    if (conditional && getZF(cpu) !== (i.rep === 1)) break;
  }
  if (n > 0) cpu.icount += n - 1;
  cpu.repYieldAt = -1; // the string completed: no iteration remains
}
