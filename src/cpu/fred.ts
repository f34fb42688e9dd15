// FRED event delivery (Intel SDM Vol. 3 §8.3 "FRED Event Delivery", FRED-era edition; the
// Intel FRED specification rev. 5.0+ §5 and §6 say the same): with CR4.FRED = 1 every event
// -- exception, interrupt, NMI, INT n, INT1, INT3, INTO, SYSCALL, SYSENTER -- enters ring 0 at
// IA32_FRED_CONFIG[63:12] (from ring 3) or 256 bytes beyond (from ring 0), on the stack of the
// event's stack level, with one 64-byte frame. The IDT, the TSS's stacks, IA32_LSTAR and the
// SYSENTER MSRs are not used. Returns are ERETU and ERETS (eret.ts).
//
// The steps, in the order below (reference digest §3.6, which follows the spec's pseudocode):
//   1. the event's stack level (eventStackLevel): events from ring 3 go to level 0 unless they
//      are nested exceptions or #DF; otherwise exceptions and NMI take IA32_FRED_STKLVLS'
//      level for their vector, external interrupts IA32_FRED_CONFIG[10:9], INT n and type 7
//      level 0; the level never drops below the current one (CSL, CONFIG[1:0]);
//   2. the new RSP: IA32_FRED_RSPn from ring 3 or when the level rises; otherwise the current
//      RSP less the red zone (CONFIG[8:6] x 64 bytes), aligned down to 64 bytes;
//   3. the frame, 8 quadwords from the new RSP down, with supervisor rights: 0, event data,
//      augmented SS, RSP, RFLAGS, augmented CS, RIP, error code (lowest address);
//   4. the new context: from ring 3 CS := IA32_STAR[47:32] (flat, 64-bit, DPL 0) and SS := the
//      next selector, GS.base swapped with IA32_KERNEL_GS_BASE; RIP := the entry point;
//      RSP := frame; RFLAGS := 2 (every flag clear; IA32_FMASK is not used); CSL := the
//      event's level; CPL := 0; an NMI blocks NMIs once the delivery is done.
// Nothing is committed before every frame write succeeded; a fault on a write is a nested
// exception (idt.ts deliverException), delivered with its own stack level.
//
// Open points (readings, unverified) and where Bochs departs from the text: docs/fred-readings.md.
//
// CET is not modelled (not enumerated in CPUID, so CR4.CET cannot be set): the augmented CS's
// WFE bit (18) is always 0 (no indirect-branch tracker), the augmented SS's enclave bit (56)
// is 0 (SGX not modelled), IA32_FRED_SSP1-3 are kept (WRMSR checks their alignment) but never
// used, and no shadow-stack frame is pushed.
//
// Deliberate deviations and model errors:
// - Delivery at CPL 1 or 2 is a model error: FRED makes rings 1 and 2 unreachable.
// - A frame address that is not canonical (a ring-0 RSP near the canonical boundary less the
//   red zone) is a model error: the spec's fault for it was not available here.

import type { Cpu } from './cpu.js';
import { Msr } from './msrs.js';
import { Mode } from './mode.js';
import * as C from '../arch/control.js';
import * as R from '../arch/rflags.js';
import * as V from '../arch/vectors.js';
import { CS, SS, DESC_L } from '../arch/descriptors.js';
import { TLB_SIZE, TlbKind } from './tlb.js';
import { Access } from './paging.js';
import { beginTransition, commitTransition, describeEvent, EventSource, SsLoad, TransitionKind } from './transition.js';
import { FLAT_LO, CS_FIXED, SS_FIXED } from './flat-segments.js';

/** FRED event types (SDM Vol. 3 §8.3; the VMX interruption-type encoding). */
export const enum FredType {
  External = 0,
  Nmi = 2,
  HardwareException = 3,
  /** INT n (CD ib), INT 3 and INT 4 included. */
  SoftwareInterrupt = 4,
  /** INT1 (F1). */
  PrivilegedSoftwareException = 5,
  /** INT3 (CC), INTO (CE). */
  SoftwareException = 6,
  /** SYSCALL (vector 1), SYSENTER (vector 2). */
  Other = 7,
}

/** Vectors of type 7 (SDM SYSCALL, SYSENTER: "event type 7 and vector 1/2"). */
export const VECTOR_SYSCALL = 1;
export const VECTOR_SYSENTER = 2;

const TWO32 = 4294967296;
const EXACT = 2 ** 53;
/** The ring-0 entry point lies this far beyond the ring-3 one (§8.3). */
const RING0_ENTRY_OFFSET = 256;
/** DR6 conditions the #DB event data reports, in positive polarity (B0-B3, BD, BS, BT). */
const DB_EVENT_BITS = 0xe00f;

/** Whether FRED transitions are enabled (CR4.FRED, bit 32). */
export function fredEnabled(cpu: Cpu): boolean {
  return (cpu.cr4Hi & C.CR4_HI_FRED) !== 0;
}

/**
 * The stack level an event is delivered on (§8.3, "determining the stack level"): from ring
 * 3, level 0 unless the event is a nested exception or #DF; otherwise by type -- external
 * interrupts IA32_FRED_CONFIG[10:9], NMI and exceptions (types 2, 3, 5, 6) IA32_FRED_STKLVLS
 * bits 2v+1:2v of their vector v, INT n and type 7 level 0 -- and never below the current
 * stack level `csl` of ring 0 (a ring-3 event has current level 0).
 */
export function eventStackLevel(type: number, vector: number, cpl: number, nested: boolean, csl: number,
  configLo: number, stklvlsLo: number, stklvlsHi: number): number {
  const isDf = type === FredType.HardwareException && vector === V.DF;
  let level = 0;
  if (cpl !== 3 || nested || isDf) {
    switch (type) {
      case FredType.External: level = (configLo >>> 9) & 3; break;
      case FredType.Nmi: case FredType.HardwareException:
      case FredType.PrivilegedSoftwareException: case FredType.SoftwareException:
        level = vector < 16 ? (stklvlsLo >>> (2 * vector)) & 3 : (stklvlsHi >>> (2 * (vector - 16))) & 3;
        break;
      default: level = 0; // INT n, SYSCALL, SYSENTER
    }
  }
  const current = cpl === 3 ? 0 : csl;
  return level > current ? level : current;
}

/** The trace's account of how an event of a FRED type arose (transition.ts). */
function sourceOf(type: number, vector: number, trap: boolean): EventSource {
  switch (type) {
    case FredType.External: case FredType.Nmi: return EventSource.External;
    case FredType.SoftwareInterrupt: case FredType.SoftwareException: return EventSource.Software;
    case FredType.PrivilegedSoftwareException: return EventSource.PrivilegedSoftware;
    case FredType.Other: return EventSource.Other;
    default: return trap && vector === V.DB ? EventSource.Trap : EventSource.Fault;
  }
}

/**
 * Deliver one event through FRED (§8.3). `error` is the error code (-1: the event has none;
 * the slot holds 0), `returnRip` the RIP saved, `pushRf` ORed into the saved RFLAGS (RF for
 * faults), `nested` whether it is an exception raised while delivering another event,
 * `dbConditions` the DR6 conditions of a #DB (its event data), `insnLen` the length of the
 * instruction that made the event (INT n, INT1, INT3, INTO, SYSCALL, SYSENTER; else 0),
 * `trap` whether a #DB is a trap (the trace's source only). Throws FAULT if a frame write
 * faults, with nothing committed.
 */
export function deliverFred(cpu: Cpu, type: number, vector: number, error: number, returnRip: number, pushRf: number,
  nested: boolean, dbConditions: number, insnLen: number, trap: boolean): void {
  const cpl = cpu.cpl;
  if (cpl === 1 || cpl === 2) cpu.modelError('FRED event delivery at CPL 1 or 2 is not modelled (FRED makes rings 1 and 2 unreachable)');
  const cfgLo = cpu.msrLo[Msr.FredConfig], cfgHi = cpu.msrHi[Msr.FredConfig];
  const csl = cpl === 3 ? 0 : cfgLo & 3;

  // 1. The stack level.
  const level = eventStackLevel(type, vector, cpl, nested, csl, cfgLo, cpu.msrLo[Msr.FredStklvls], cpu.msrHi[Msr.FredStklvls]);

  // 2. The new RSP: the level's IA32_FRED_RSPn (64-byte aligned by WRMSR), or the current
  //    stack less the red zone, aligned down to 64 bytes.
  let spLo: number, spHi: number;
  if (cpl === 3 || level > csl) {
    spLo = cpu.msrLo[Msr.FredRsp0 + level];
    spHi = cpu.msrHi[Msr.FredRsp0 + level];
  } else {
    const lo = (cpu.regLo[4] >>> 0) - ((cfgLo >>> 6) & 7) * 64;
    spHi = lo < 0 ? (cpu.regHi[4] - 1) | 0 : cpu.regHi[4];
    spLo = (lo < 0 ? lo + TWO32 : lo) & ~63;
  }
  const fLo = (spLo >>> 0) - 64;
  const fHi = fLo < 0 ? (spHi - 1) | 0 : spHi;
  if (!cpu.isCanonicalHi(fHi) || !cpu.isCanonicalHi(spHi)) cpu.modelError('FRED delivery to a non-canonical stack is not modelled');
  const frame = fHi * TWO32 + ((fLo < 0 ? fLo + TWO32 : fLo) >>> 0);

  // 3. The frame (§8.3, "FRED stack frame"). Augmented CS: selector, bits 17:16 the stack
  //    level the event interrupted (0 from ring 3), bit 18 WFE (0: no CET). Augmented SS:
  //    selector, bit 16 STI blocking, 17 a software event (INT n, SYSCALL, SYSENTER), 18 NMI;
  //    bits 39:32 vector, 51:48 type, 57 64-bit mode, 58 nested (never for #DF), 63:60
  //    instruction length.
  const augCs = cpu.segSel[CS] | (csl << 16);
  const software = type === FredType.SoftwareInterrupt || type === FredType.Other;
  const augSsLo = cpu.segSel[SS] | (cpu.stiShadowAt === cpu.icount ? 1 << 16 : 0) | (software ? 1 << 17 : 0)
    | (type === FredType.Nmi ? 1 << 18 : 0);
  const isDf = type === FredType.HardwareException && vector === V.DF;
  const augSsHi = vector | (type << 16) | (cpu.mode === Mode.Long64 ? 1 << 25 : 0) | (nested && !isDf ? 1 << 26 : 0)
    | (insnLen << 28);
  // Event data (§8.3, "event data"): CR2 for #PF, this #DB's conditions, 0 otherwise (NMI
  // without NMI-source reporting, #NM without XFD).
  let dataLo = 0, dataHi = 0;
  if (type === FredType.HardwareException && vector === V.PF) { dataLo = cpu.cr2Lo; dataHi = cpu.cr2Hi; }
  else if (type === FredType.HardwareException && vector === V.DB) dataLo = dbConditions & DB_EVENT_BITS;
  const flags = cpu.getFlags() | pushRf;

  // Supervisor writes to the new stack, from its top down (the first at RSP - 8, so a #PF
  // reports that address in CR2); a 64-byte-aligned frame lies in one page, so one probe
  // covers it and no write after it can fault.
  const wkind = TLB_SIZE * TlbKind.WriteS;
  cpu.transition.fredDelivering = true;
  cpu.translate(frame + 56, wkind, Access.Write | Access.Implicit);
  cpu.writeAs(wkind, frame + 56, 0, 0);
  cpu.writeAs(wkind, frame + 48, dataLo, dataHi);
  cpu.writeAs(wkind, frame + 40, augSsLo, augSsHi);
  cpu.writeAs(wkind, frame + 32, cpu.regLo[4], cpu.regHi[4]);
  cpu.writeAs(wkind, frame + 24, flags, 0);
  cpu.writeAs(wkind, frame + 16, augCs, 0);
  cpu.writeAs(wkind, frame + 8, returnRip >>> 0, Math.floor(returnRip / TWO32) | 0);
  cpu.writeAs(wkind, frame, error >= 0 ? error : 0, 0);
  cpu.transition.fredDelivering = false;

  // 4. The new context.
  const entry = cfgHi * TWO32 + ((cfgLo & ~0xfff) >>> 0) + (cpl === 0 ? RING0_ENTRY_OFFSET : 0);
  if (entry < -EXACT || entry >= EXACT) cpu.modelError('a FRED entry point beyond ±2^53 is not modelled');
  const t = beginTransition(cpu, TransitionKind.Delivery);
  describeEvent(t, vector, error, sourceOf(type, vector, trap));
  t.fredType = type;
  t.cpl = 0;
  if (cpl === 3) {
    // As SYSCALL (SDM SYSCALL): CS := STAR[47:32] AND FFFCH, SS := that + 8 (open points).
    const sel = (cpu.msrHi[Msr.Star] & 0xffff) & ~3;
    t.csSel = sel; t.csLo = FLAT_LO; t.csHi = CS_FIXED | DESC_L;
    t.ss = SsLoad.Descriptor; t.ssSel = (sel + 8) & 0xffff; t.ssLo = FLAT_LO; t.ssHi = SS_FIXED;
    t.swapGs = true;
  } else {
    t.keepCs = true;
  }
  t.rspLo = fLo | 0;
  t.rspHi = fHi;
  t.rflags = R.RESERVED1;
  t.rip = entry;
  t.csl = level;
  t.frameLin = frame;
  t.frameLength = 64;
  commitTransition(cpu);
  // The interrupt shadow the frame recorded ends with the delivery (ERETS may restore it).
  cpu.stiShadowAt = -1;
  // An NMI blocks NMIs once its delivery is done (digest §3.6, after the frame and the new
  // context): an NMI whose frame write faulted leaves them unblocked for the nested handler.
  if (type === FredType.Nmi) cpu.nmiBlocked = true;
}

/** SYSCALL (vector 1) or SYSENTER (vector 2) with CR4.FRED = 1 (SDM SYSCALL, SYSENTER: "FRED
 *  event delivery of SYSCALL/SYSENTER", type 7): no general-purpose register changes; the
 *  frame saves the next RIP and the instruction's length. */
export function deliverFredInstruction(cpu: Cpu, vector: number): void {
  deliverFred(cpu, FredType.Other, vector, -1, cpu.nextRip, 0, false, 0, cpu.nextRip - cpu.rip, false);
}

