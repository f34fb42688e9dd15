// Event delivery through the IDT in IA-32e mode (SDM Vol. 3 §6.14 "Exception and
// Interrupt Handling in 64-bit Mode", §6.12.1 gate checks, §6.15 Table 6-5 for #DF)
// and the double-fault / triple-fault escalation.
//
// Delivery through a protected-mode IDT is in idt-protected.ts. With CR4.FRED = 1 every
// event enters deliver() as here and goes to FRED event delivery instead (fred.ts, SDM Vol. 3
// §8.3); the double-fault and triple-fault rules below hold for both, and under FRED an
// exception raised while delivering another event is delivered as a nested one.
//
// Deliberate deviations:
// - Task gates are not modelled (#GP as for any non-64-bit gate type in IA-32e mode).

import type { Cpu } from './cpu.js';
import { TLB_SIZE, TlbKind } from './tlb.js';
import { FAULT, FaultClass, faultClass, makesDoubleFault } from './fault.js';
import * as V from '../arch/vectors.js';
import * as R from '../arch/rflags.js';
import { CS, SS, DESC_P, DESC_L, DESC_DB, TSS64_RSP0, TSS64_IST1, TYPE_INT_GATE, TYPE_TRAP_GATE, GATE_TRAP } from '../arch/descriptors.js';
import { readDescriptor, descDpl, descSystemType, isCode, isConforming } from './segments.js';
import { beginTransition, commitTransition, describeEvent, EventSource, TransitionKind, SsLoad } from './transition.js';
import { Access } from './paging.js';
import { deliverProtected } from './idt-protected.js';
import { deliverFred, fredEnabled, FredType } from './fred.js';

export const enum Source {
  /** A fault or abort the CPU detected: EXT = 1, no DPL check. */
  Fault = 0,
  /** A trap the CPU detected at a boundary (debug traps): EXT = 1, no DPL check. */
  Trap = 3,
  /** INT1 (ICEBP), a privileged software exception: delivered as a debug trap, EXT = 1, no
   *  DPL check (SDM Vol. 2A INT n, "INT1"), but made by its instruction. */
  PrivilegedSoftware = 4,
  /** INT n: the gate DPL is checked against CPL, EXT = 0. */
  Software = 1,
  /** A maskable interrupt from the local APIC: EXT = 1, no DPL check, no error code. */
  External = 2,
  /** INT3, INTO: through the IDT as INT n; FRED gives them their own event type (6). */
  SoftwareException = 5,
  /** An NMI: through the IDT as an external interrupt (vector 2); FRED event type 2. */
  Nmi = 6,
}

/** The FRED event type of an event (SDM Vol. 3 §8.3). */
function fredType(source: Source): FredType {
  switch (source) {
    case Source.Software: return FredType.SoftwareInterrupt;
    case Source.SoftwareException: return FredType.SoftwareException;
    case Source.PrivilegedSoftware: return FredType.PrivilegedSoftwareException;
    case Source.External: return FredType.External;
    case Source.Nmi: return FredType.Nmi;
    default: return FredType.HardwareException;
  }
}

/** How a delivery is recorded (transition.ts). */
export function eventSource(source: Source): EventSource {
  switch (source) {
    case Source.Software: case Source.SoftwareException: return EventSource.Software;
    case Source.External: case Source.Nmi: return EventSource.External;
    case Source.Trap: return EventSource.Trap;
    case Source.PrivilegedSoftware: return EventSource.PrivilegedSoftware;
    default: return EventSource.Fault;
  }
}

/** Deliver maskable interrupt `vector` at the current boundary (SDM Vol. 3A §6.8.1): the
 *  frame saves the RIP of the next instruction to execute. A fault during the delivery is
 *  delivered in its place: interrupts are benign for the double-fault rules (§6.15,
 *  Table 6-4), so only a fault on that second delivery can escalate. */
export function deliverInterrupt(cpu: Cpu, vector: number, source: Source.External | Source.Nmi = Source.External): void {
  try {
    // SDM Vol. 3B §18.3.1.1: after an iteration of a REP string instruction but the last, RF = 1.
    deliver(cpu, vector, 0, false, source, cpu.rip, cpu.repYieldAt === cpu.icount ? R.RF : 0);
  } catch (e) {
    if (e !== FAULT) throw e;
    deliverException(cpu, cpu.faultVector, cpu.faultError);
  }
}

const TWO32 = 4294967296;

/** Deliver an exception the CPU detected, with cpu.rip as the saved RIP (a fault restarts
 *  its instruction; a trap, taken after its instruction completed, resumes at the next),
 *  pushing `pushRf` as RF, and escalating to #DF and to a triple fault (SDM Vol. 3A §6.15,
 *  Table 6-5). SDM Vol. 3B §18.3.1.1: faults push RF = 1, so the return restarts the
 *  instruction without re-triggering an instruction breakpoint -- except the #DB of an
 *  instruction breakpoint itself, which pushes the current RF (callers pass it).
 *  `dbConditions`: a #DB's DR6 conditions (FRED's event data, fred.ts). Under FRED, an
 *  exception raised by a delivery (this loop's, or an INT n's, SYSCALL's or an interrupt's
 *  whose fault the caller passes on) is a nested exception (SDM Vol. 3 §8.3). */
export function deliverException(cpu: Cpu, firstVector: number, firstError: number,
  firstSource: Source.Fault | Source.Trap = Source.Fault, firstRf = firstSource === Source.Fault ? R.RF : 0,
  dbConditions = 0): void {
  let vector = firstVector;
  let error = firstError;
  let hasError = V.pushesErrorCode(vector);
  let cls = faultClass(vector);
  let source = firstSource;
  let pushRf = firstRf;
  let nested = cpu.transition.fredDelivering;
  cpu.transition.fredDelivering = false;
  for (;;) {
    try {
      deliver(cpu, vector, error, hasError, source, cpu.rip, pushRf, nested, dbConditions);
      return;
    } catch (e) {
      if (e !== FAULT) throw e;
      nested = cpu.transition.fredDelivering;
      cpu.transition.fredDelivering = false;
      dbConditions = 0;
      const second = faultClass(cpu.faultVector);
      if (cls === FaultClass.DoubleFault) {
        // A fault while delivering #DF: shutdown (Table 6-5).
        cpu.endReason = 'triple-fault';
        return;
      }
      source = Source.Fault;
      pushRf = R.RF;
      if (makesDoubleFault(cls, second)) {
        vector = V.DF; error = 0; hasError = true; cls = FaultClass.DoubleFault;
      } else {
        vector = cpu.faultVector; error = cpu.faultError; hasError = V.pushesErrorCode(vector); cls = second;
      }
    }
  }
}

/**
 * Deliver one event through the IDT: the handler's CS:RIP and stack are committed through
 * transition.ts, which sets both cpu.rip and cpu.nextRip. `returnRip` is the RIP saved in
 * the frame; `pushRf` is ORed into the saved RFLAGS (RF for faults). Raises (throws FAULT)
 * on any check that fails; nothing is committed until all frame writes succeeded.
 * With CR4.FRED = 1 the event goes to FRED delivery (fred.ts): `nested` and `dbConditions`
 * are its nested bit and a #DB's event data; instruction-made events (INT n, INT3, INTO,
 * INT1) save their length, cpu.nextRip - cpu.rip.
 */
export function deliver(cpu: Cpu, vector: number, error: number, hasError: boolean, source: Source,
  returnRip: number, pushRf: number, nested = false, dbConditions = 0): void {
  if (fredEnabled(cpu)) {
    const type = fredType(source);
    const byInsn = type === FredType.SoftwareInterrupt || type === FredType.SoftwareException || type === FredType.PrivilegedSoftwareException;
    return deliverFred(cpu, type, vector, hasError ? error : -1, returnRip, pushRf, nested, dbConditions,
      byInsn ? cpu.nextRip - cpu.rip : 0, source === Source.Trap);
  }
  const software = source === Source.Software || source === Source.SoftwareException;
  const ext = software ? 0 : 1;
  const gateError = vector * 8 + 2 + ext;

  if (!cpu.longMode) return deliverProtected(cpu, vector, error, hasError, ext, eventSource(source), returnRip, pushRf);

  // The gate (§6.14.1): 16 bytes, must be a 64-bit interrupt or trap gate.
  if (vector * 16 + 15 > cpu.idtrLimit) cpu.gp(gateError);
  const gateLin = cpu.tableLinear(cpu.idtrBaseLo, cpu.idtrBaseHi, vector * 16);
  const g0 = cpu.readSys32(gateLin);
  const g1 = cpu.readSys32(gateLin + 4);
  const g2 = cpu.readSys32(gateLin + 8);
  const type = descSystemType(g1);
  if (type !== TYPE_INT_GATE && type !== TYPE_TRAP_GATE) cpu.gp(gateError);
  if (software && descDpl(g1) < cpu.cpl) cpu.gp(gateError);
  if ((g1 & DESC_P) === 0) cpu.raise(V.NP, gateError);
  const ist = g1 & 7;
  const targetLo = (g0 & 0xffff) | (g1 & 0xffff0000);
  const targetHi = g2;

  // The target code segment.
  const sel = g0 >>> 16;
  if (!readDescriptor(cpu, sel, V.GP, ext)) cpu.gp(ext);
  const csErr = (sel & 0xfffc) | ext;
  const csHi = cpu.scratch.descHi;
  if (!isCode(csHi) || descDpl(csHi) > cpu.cpl) cpu.gp(csErr);
  if ((csHi & DESC_P) === 0) cpu.raise(V.NP, csErr);
  if ((csHi & DESC_L) === 0 || (csHi & DESC_DB) !== 0) cpu.gp(csErr);
  const csLo = cpu.scratch.descLo;
  const newCpl = isConforming(csHi) ? cpu.cpl : descDpl(csHi);

  // The stack (§6.14.4, §6.14.5): TSS.RSPn on a privilege change, IST if the gate names one.
  let spLo = cpu.regLo[4], spHi = cpu.regHi[4];
  if (ist !== 0 || newCpl < cpu.cpl) {
    const off = ist !== 0 ? TSS64_IST1 + (ist - 1) * 8 : TSS64_RSP0 + newCpl * 8;
    if (off + 7 > cpu.trLimit) cpu.raise(V.TS, (cpu.trSel & 0xfffc) | ext);
    const spLin = cpu.tableLinear(cpu.trBaseLo, cpu.trBaseHi, off);
    spLo = cpu.readSys32(spLin);
    spHi = cpu.readSys32(spLin + 4);
  }
  if (!cpu.isCanonicalHi(spHi)) cpu.raise(V.SS, ext);
  const rsp = spHi * TWO32 + ((spLo & ~15) >>> 0);

  // The frame: SS, RSP, RFLAGS, CS, RIP and the error code, 8 bytes each. Probe the
  // whole frame with the new privilege's rights before writing any of it.
  if (!cpu.isCanonicalHi(targetHi)) cpu.gp(ext);
  const flags = cpu.getFlags();
  const frame = rsp - (hasError ? 48 : 40);
  const user = newCpl === 3;
  const wkind = user ? TLB_SIZE * TlbKind.WriteU : TLB_SIZE * TlbKind.WriteS;
  const access = Access.Write | (user ? 0 : Access.Implicit);
  cpu.translate(frame, wkind, access);
  cpu.translate(rsp - 1, wkind, access);
  let at = frame;
  if (hasError) { cpu.writeAs(wkind, at, error, 0); at += 8; }
  cpu.writeAs(wkind, at, returnRip >>> 0, Math.floor(returnRip / TWO32) | 0);
  cpu.writeAs(wkind, at + 8, cpu.segSel[CS], 0);
  cpu.writeAs(wkind, at + 16, flags | pushRf, 0);
  cpu.writeAs(wkind, at + 24, cpu.regLo[4], cpu.regHi[4]);
  cpu.writeAs(wkind, at + 32, cpu.segSel[SS], 0);

  // Commit (§6.14.2): SS (null on a privilege change), CS, RSP, RFLAGS, RIP.
  const t = beginTransition(cpu, TransitionKind.Delivery);
  describeEvent(t, vector, hasError ? error : -1, eventSource(source));
  t.csSel = sel; t.csLo = csLo; t.csHi = csHi; t.cpl = newCpl;
  if (newCpl !== cpu.cpl) { t.ss = SsLoad.Null; t.ssSel = newCpl; }
  t.rspLo = frame | 0;
  t.rspHi = Math.floor(frame / TWO32) | 0;
  let rflags = flags & ~(R.TF | R.NT | R.RF | R.VM);
  if ((g1 & GATE_TRAP) === 0) rflags &= ~R.IF; // interrupt gate (type 0xE)
  t.rflags = rflags;
  t.rip = targetHi * TWO32 + (targetLo >>> 0);
  t.frameLin = frame;
  t.frameLength = hasError ? 48 : 40;
  commitTransition(cpu);
}

