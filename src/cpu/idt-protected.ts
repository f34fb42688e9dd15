// Event delivery through a protected-mode IDT (SDM Vol. 3A §6.11 "IDT Descriptors",
// §6.12.1 "Exception- or Interrupt-Handler Procedures", §6.12.1.1 stack switching,
// §6.12.1.2 flag usage; Vol. 2 INT n "Operation", PROTECTED-MODE): 8-byte 16- and 32-bit
// interrupt and trap gates, to the same privilege on the current stack or to an inner
// one on the stack the TSS names. Multiboot kernels and boot stubs run here.
//
// Deliberate deviations:
// - Task gates (hardware task switches) and delivery from virtual-8086 mode are not
//   modelled (model error).
// - The stack-room checks raise #SS(new SS | EXT) on a stack switch and #SS(EXT) without
//   one, as the INT n pseudocode's INTER- and INTRA-PRIVILEGE-LEVEL-INTERRUPT paths do.

import type { Cpu } from './cpu.js';
import { TLB_SIZE, TlbKind } from './tlb.js';
import { Access } from './paging.js';
import * as V from '../arch/vectors.js';
import * as R from '../arch/rflags.js';
import {
  CS, SS, DESC_P, DESC_DB, DESC_TYPE_CODE, DESC_TYPE_EXPAND_DOWN, TYPE_TASK_GATE, TYPE_INT_GATE16, TYPE_TRAP_GATE16,
  TYPE_INT_GATE, TYPE_TRAP_GATE, TYPE_TSS_BUSY, GATE_TYPE_32, GATE_TYPE_TRAP,
} from '../arch/descriptors.js';
import {
  readDescriptor, descBase, descDpl, descLimit, descType, descSystemType, isCode, isConforming, isWritableData,
} from './segments.js';
import { beginTransition, commitTransition, describeEvent, EventSource, TransitionKind, SsLoad } from './transition.js';

/** Describe the stack a frame is pushed on (cpu.scratch.stack) from its descriptor. */
function describeStack(cpu: Cpu, lo: number, hi: number): void {
  const stack = cpu.scratch.stack;
  const limit = descLimit(lo, hi) >>> 0;
  stack.base = descBase(lo, hi) >>> 0;
  stack.wide = (hi & DESC_DB) !== 0;
  const expandDown = (hi & DESC_TYPE_EXPAND_DOWN) !== 0;
  stack.low = expandDown ? limit + 1 : 0;
  stack.high = expandDown ? (stack.wide ? 0xffffffff : 0xffff) : limit;
}

/**
 * Deliver `vector` through the protected-mode IDT, committing the handler's CS:EIP and
 * stack through transition.ts. `ext` is
 * the EXT bit (1 for exceptions and external events); `source` is how the event arose
 * (transition.ts): a software one (INT n/INT3/INTO) has its gate DPL checked. Nothing is committed until the whole frame is written.
 */
export function deliverProtected(cpu: Cpu, vector: number, error: number, hasError: boolean, ext: number,
  source: EventSource, returnEip: number, pushRf: number): void {
  const gateError = vector * 8 + 2 + ext;

  // The gate (§6.11): interrupt (6/0xE) or trap (7/0xF) gate, 16- or 32-bit.
  if (vector * 8 + 7 > cpu.idtrLimit) cpu.gp(gateError);
  const gateLin = cpu.tableLinear(cpu.idtrBaseLo, cpu.idtrBaseHi, vector * 8);
  const g0 = cpu.readSys32(gateLin);
  const g1 = cpu.readSys32(gateLin + 4);
  const type = descSystemType(g1);
  const gateKnown = type === TYPE_TASK_GATE || type === TYPE_INT_GATE16 || type === TYPE_TRAP_GATE16 ||
    type === TYPE_INT_GATE || type === TYPE_TRAP_GATE;
  if (!gateKnown) cpu.gp(gateError);
  if (source === EventSource.Software && descDpl(g1) < cpu.cpl) cpu.gp(gateError);
  if ((g1 & DESC_P) === 0) cpu.raise(V.NP, gateError);
  if (type === TYPE_TASK_GATE) cpu.modelError(`vector ${vector}: task gates are not modelled`);
  if ((cpu.flagsRest & R.VM) !== 0) cpu.modelError('delivery from virtual-8086 mode is not modelled');
  const gate32 = (type & GATE_TYPE_32) !== 0;
  const size = gate32 ? 4 : 2;
  const offset = gate32 ? (((g0 & 0xffff) | (g1 & 0xffff0000)) >>> 0) : g0 & 0xffff;

  // The handler's code segment.
  const sel = g0 >>> 16;
  if (!readDescriptor(cpu, sel, V.GP, ext)) cpu.gp(ext);
  const csErr = (sel & 0xfffc) | ext;
  const csLo = cpu.scratch.descLo, csHi = cpu.scratch.descHi;
  if (!isCode(csHi) || descDpl(csHi) > cpu.cpl) cpu.gp(csErr);
  if ((csHi & DESC_P) === 0) cpu.raise(V.NP, csErr);
  const newCpl = isConforming(csHi) ? cpu.cpl : descDpl(csHi);
  if (offset > descLimit(csLo, csHi) >>> 0) cpu.gp(ext);

  // The stack: the TSS's SSn:ESPn for an inner privilege (§6.12.1.1), else the current one.
  const inner = newCpl < cpu.cpl;
  let ssSel = cpu.segSel[SS], ssLo = 0, ssHi = 0, esp: number;
  const stack = cpu.scratch.stack;
  if (inner) {
    const tssErr = (cpu.trSel & 0xfffc) | ext;
    const tss32 = descType(cpu.trAttr) === TYPE_TSS_BUSY; // a 16-bit busy TSS is type 3
    const at = tss32 ? 4 + 8 * newCpl : 2 + 4 * newCpl;
    if (at + (tss32 ? 5 : 3) > cpu.trLimit) cpu.raise(V.TS, tssErr);
    const spLin = cpu.tableLinear(cpu.trBaseLo, cpu.trBaseHi, at);
    esp = tss32 ? cpu.readSys32(spLin) >>> 0 : cpu.readSys32(spLin) & 0xffff;
    ssSel = cpu.readSys32(spLin + (tss32 ? 4 : 2)) & 0xffff;
    if ((ssSel & ~3) === 0 && (ssSel & 4) === 0) cpu.raise(V.TS, ext);
    readDescriptor(cpu, ssSel, V.TS, ext);
    ssLo = cpu.scratch.descLo; ssHi = cpu.scratch.descHi;
    const ssErr = (ssSel & 0xfffc) | ext;
    if ((ssSel & 3) !== newCpl || descDpl(ssHi) !== newCpl || !isWritableData(ssHi)) cpu.raise(V.TS, ssErr);
    if ((ssHi & DESC_P) === 0) cpu.raise(V.SS, ssErr);
    describeStack(cpu, ssLo, ssHi);
  } else {
    esp = cpu.regLo[4] >>> 0;
    stack.base = cpu.segBaseLo[SS] >>> 0;
    stack.wide = (cpu.segAttr[SS] & DESC_DB) !== 0;
    const limit = cpu.segLimit[SS] >>> 0;
    const expandDown = (cpu.segAttr[SS] & DESC_TYPE_CODE) === 0 && (cpu.segAttr[SS] & DESC_TYPE_EXPAND_DOWN) !== 0;
    stack.low = expandDown ? limit + 1 : 0;
    stack.high = expandDown ? (stack.wide ? 0xffffffff : 0xffff) : limit;
  }

  // The frame: [SS, ESP,] EFLAGS, CS, EIP [, error code], `size` bytes each.
  const slots = (inner ? 5 : 3) + (hasError ? 1 : 0);
  const bytes = slots * size;
  const mask = stack.wide ? 0xffffffff : 0xffff;
  const top = esp & mask;
  const frame = ((top - bytes) & mask) >>> 0;
  const roomError = inner ? (ssSel & 0xfffc) | ext : ext;
  const flat = stack.low === 0 && stack.high === mask;
  // A frame that wraps past offset 0 fits only a segment that covers every offset.
  if (top < bytes ? !flat : frame < stack.low || frame + bytes - 1 > stack.high) cpu.raise(V.SS, roomError);

  const values = cpu.scratch.frameValues;
  let n = 0;
  if (inner) { values[n++] = cpu.segSel[SS]; values[n++] = cpu.regLo[4]; }
  values[n++] = cpu.getFlags() | pushRf;
  values[n++] = cpu.segSel[CS];
  values[n++] = returnEip;
  if (hasError) values[n++] = error;

  // Probe every slot with the new privilege's rights before writing any (values[0] is
  // the highest address), then write.
  const wkind = newCpl === 3 ? TLB_SIZE * TlbKind.WriteU : TLB_SIZE * TlbKind.WriteS;
  const access = Access.Write | (newCpl === 3 ? 0 : Access.Implicit);
  for (let k = 0; k < n; k++) {
    const lin = slotLinear(stack.base, frame + (n - 1 - k) * size, mask);
    cpu.translate(lin, wkind, access);
    cpu.translate((lin + size - 1) >>> 0, wkind, access);
  }
  for (let k = 0; k < n; k++) writeSlot(cpu, wkind, slotLinear(stack.base, frame + (n - 1 - k) * size, mask), values[k], size);

  // Commit (§6.12.1.2): SS:ESP, CS:EIP, then the flags.
  const t = beginTransition(cpu, TransitionKind.Delivery);
  describeEvent(t, vector, hasError ? error : -1, source);
  if (inner) { t.ss = SsLoad.Descriptor; t.ssSel = ssSel; t.ssLo = ssLo; t.ssHi = ssHi; }
  t.rspLo = stack.wide ? frame | 0 : (cpu.regLo[4] & ~0xffff) | frame;
  t.rspHi = 0;
  t.csSel = sel; t.csLo = csLo; t.csHi = csHi; t.cpl = newCpl;
  let rflags = values[inner ? 2 : 0] & ~(R.TF | R.NT | R.RF | R.VM);
  if ((type & GATE_TYPE_TRAP) === 0) rflags &= ~R.IF; // interrupt gate
  t.rflags = rflags;
  t.rip = offset;
  t.frameLin = slotLinear(stack.base, frame, mask);
  t.frameLength = bytes;
  commitTransition(cpu);
}

function slotLinear(base: number, offset: number, mask: number): number {
  return (base + ((offset & mask) >>> 0)) >>> 0;
}

function writeSlot(cpu: Cpu, wkind: number, lin: number, v: number, size: number): void {
  for (let b = 0; b < size; b++) {
    const p = cpu.translate((lin + b) >>> 0, wkind, Access.Write);
    cpu.storePhys8(p, (v >> (8 * b)) & 0xff);
  }
}
