// The one place a transition commits (docs/architecture.md, "Transitions"): every
// event delivery (through the IDT or FRED) and every return (IRET, SYSCALL, SYSRET,
// SYSENTER, SYSEXIT, ERETU, ERETS; the hosts' hypercalls and bounces) first checks everything and writes its
// frame, then describes the state it enters in the vCPU's Transition scratch and calls
// commitTransition(). That commits the new CS, SS, RSP, RFLAGS and RIP in one order,
// counts the transition, and, when a trace sink is attached, hands the sink a record of
// what each side sees. With no sink attached no record is built: tracing off costs one test.

import type { Cpu } from './cpu.js';
import * as R from '../arch/rflags.js';
import { CS, SS, ES, DS, FS, GS, SEG_NAMES, DESC_P, DESC_TYPE_CODE, DESC_TYPE_CONFORMING, DESC_DB } from '../arch/descriptors.js';
import { setSegment, setNullSegment, setCodeSegment, descDpl, markAccessed, invalidateOuterSegment, swapGsBase } from './segments.js';
import { formatLinear, formatRegisters, hex64 } from './format.js';
import { Msr } from './msrs.js';
import { Mode } from './mode.js';
import { statusLoaded, undefinedStatus } from './flags.js';

export const enum TransitionKind {
  /** An exception, interrupt or software interrupt delivered through the IDT. */
  Delivery = 0,
  /** IRET/IRETD/IRETQ. */
  Iret = 1,
  /** SYSCALL (syscall.ts). */
  Syscall = 2,
  /** SYSRET (syscall.ts). */
  Sysret = 3,
  /** SYSENTER (sysenter.ts). */
  Sysenter = 4,
  /** SYSEXIT (sysenter.ts). */
  Sysexit = 5,
  /** A far CALL or JMP through a call gate (callgate.ts). */
  CallGate = 6,
  /** A far RET to an outer privilege level (far-return.ts). */
  FarReturn = 7,
  /** ERETU (eret.ts). */
  Eretu = 8,
  /** ERETS (eret.ts). */
  Erets = 9,
}

export const TRANSITION_KIND_NAMES = ['delivery', 'iret', 'syscall', 'sysret', 'sysenter', 'sysexit', 'call-gate', 'far-return', 'eretu', 'erets'] as const;

/** How a delivery's event arose (SDM Vol. 3A §6.4, §6.5): the trace says which. INT1 is a
 *  privileged software exception (SDM Vol. 2A INT n, "INT1"; the event type VMX and FRED give
 *  it), apart from the debug traps the CPU detects at a boundary. `other` is FRED's event
 *  type 7: SYSCALL and SYSENTER delivered as events (SDM Vol. 3 §8.3, fred.ts). */
export const enum EventSource { Fault = 0, Trap = 1, Software = 2, External = 3, PrivilegedSoftware = 4, Other = 5 }
export const EVENT_SOURCE_NAMES = ['fault', 'trap', 'software', 'external', 'privileged-software', 'other'] as const;

export const enum SsLoad {
  /** SS is left as it is (same-privilege delivery, IRET without a stack switch). */
  Keep = 0,
  /** A null selector (64-bit delivery to an inner ring, IRET to a 64-bit inner ring). */
  Null = 1,
  /** A descriptor read and checked by the caller (or the fixed parts SYSCALL loads). */
  Descriptor = 2,
  /** The selector alone; the hidden part stays as it was (AMD's SYSRET). */
  SelectorOnly = 3,
}

/** What a transition enters: filled by the operation after all its checks, then committed. */
export class Transition {
  kind = TransitionKind.Delivery;
  vector = -1;
  source = EventSource.Fault;
  /** The error code pushed, or -1. */
  error = -1;
  csSel = 0;
  csLo = 0;
  csHi = 0;
  cpl = 0;
  ss = SsLoad.Keep;
  ssSel = 0;
  ssLo = 0;
  ssHi = 0;
  rspLo = 0;
  rspHi = 0;
  rflags = 0;
  rip = 0;
  /** Returning outward: data segments the new CPL may not use become null (SDM IRET). */
  nullOuterDataSegments = false;
  /** SYSCALL's RCX and R11 (the return RIP and RFLAGS), written as part of the commit so
   *  that a trace's `before` side still shows the values they replace. */
  writesRcxR11 = false;
  rcxLo = 0;
  rcxHi = 0;
  r11Lo = 0;
  /** The frame written (delivery) or read (return): linear address and length. */
  frameLin = 0;
  frameLength = 0;
  /** CS stays as it is (FRED delivery from ring 0, ERETS): no descriptor is loaded. */
  keepCs = false;
  /** GS.base and IA32_KERNEL_GS_BASE are exchanged (FRED delivery from ring 3, ERETU). */
  swapGs = false;
  /** The new current stack level, IA32_FRED_CONFIG[1:0], or -1: unchanged. */
  csl = -1;
  /** The FRED event type of a FRED delivery (SDM Vol. 3 §8.3, fred.ts), or -1. */
  fredType = -1;
  /** Set by FRED delivery while it writes its frame (not reset by beginTransition): a fault
   *  raised then is a nested exception (idt.ts deliverException). */
  fredDelivering = false;
}

/** What one side of a transition sees: its privilege, mode and register file. */
export interface TransitionSide {
  cpl: number;
  mode: 'protected' | '64-bit' | 'compatibility';
  /** The code segment's default operand and address size (SDM Vol. 3A §3.4.5: CS.L in
   *  IA-32e mode, else CS.D): how its instructions decode. */
  codeSize: 16 | 32 | 64;
  /** GPRs rax..r15, rip, rflags, selectors es..gs, as 0x-prefixed 64-bit hex. */
  registers: Record<string, string>;
  /** The status flags in rflags whose value the SDM leaves undefined: the last
   *  instruction to write them took them from the vendor table (flags.ts). */
  undefinedFlags: string[];
  /** The status flags were last written whole by a load (POPF, IRET, SYSRET, a transition),
   *  not computed: whether they are undefined depends on where they came from. */
  statusLoaded: boolean;
  /** The segment bases the descriptor caches hold (64-bit mode uses only FS's and GS's,
   *  SDM Vol. 3A §3.4.4), as 0x-prefixed 64-bit hex. */
  bases: Record<(typeof SEG_NAMES)[number], string>;
  /** The MSRs transitions read (SYSCALL, SYSRET, SYSENTER, SYSEXIT, SWAPGS), as
   *  0x-prefixed 64-bit hex: efer, star, lstar, cstar, fmask, kernelGsBase, sysenterCs,
   *  sysenterEsp, sysenterEip. */
  msrs: Record<'efer' | 'star' | 'lstar' | 'cstar' | 'fmask' | 'kernelGsBase' | 'sysenterCs' | 'sysenterEsp' | 'sysenterEip', string>;
}

/** A structured record of one transition, handed to the trace sink. */
export interface TransitionRecord {
  /** 1 for the first transition of the run. */
  seq: number;
  /** Virtual time: instructions retired before the transition completed. */
  icount: number;
  kind: (typeof TRANSITION_KIND_NAMES)[number];
  vector: number | null;
  source: (typeof EVENT_SOURCE_NAMES)[number] | null;
  /** The FRED event type (0 external interrupt, 2 NMI, 3 hardware exception, 4 INT n, 5 INT1,
   *  6 INT3/INTO, 7 SYSCALL/SYSENTER) of a FRED delivery; null for any other transition. */
  fredType: number | null;
  errorCode: number | null;
  /** What a host did with the transition, when a host entry point's return committed it
   *  (host-entry.ts): `host:<entry name>`, then the host's note if it gave one. */
  annotation: string | null;
  before: TransitionSide;
  after: TransitionSide;
  /** The frame's bytes as the guest's memory holds them after the transition. */
  frame: { address: string; bytes: number[] } | null;
  /** From a host that runs a guest's kernel and user code at one CPL (HostEntries.guestMode):
   *  which runs once the transition is committed (for a transition into the host, the mode
   *  that left; for one out of it, the mode that resumes). Absent for other hosts. */
  guestMode?: 'kernel' | 'user';
  /** On a return that leaves a host's entry point: the guest memory the host wrote since its
   *  last return (HostEntries.wroteGuest), in order, each as the bytes written. Absent when none. */
  hostWrites?: Array<{ address: string; bytes: number[] }>;
  /** Up to 15 bytes at the leaving side's CS:RIP, read as far as the fetch's translation
   *  is cached; null if none is. `role`: `caused` when that instruction caused the
   *  transition, `next` when the event came at the boundary before it (a trap, an
   *  external interrupt or NMI) and it is the one the interrupted code runs next. */
  code: { address: string; bytes: number[]; role: 'caused' | 'next' } | null;
}

export type TraceSink = (record: TransitionRecord) => void;

const DATA_SEGMENTS = [ES, DS, FS, GS] as const;

/** The event's part of a delivery: its vector, error code (-1: none) and how it arose. */
export function describeEvent(t: Transition, vector: number, error: number, source: EventSource): void {
  t.vector = vector;
  t.error = error;
  t.source = source;
}

/** Begin describing a transition: the vCPU's scratch, reset. */
export function beginTransition(cpu: Cpu, kind: TransitionKind): Transition {
  const t = cpu.transition;
  t.kind = kind;
  t.vector = -1;
  t.source = EventSource.Fault;
  t.error = -1;
  t.ss = SsLoad.Keep;
  t.nullOuterDataSegments = false;
  t.writesRcxR11 = false;
  t.frameLin = 0;
  t.frameLength = 0;
  t.keepCs = false;
  t.swapGs = false;
  t.csl = -1;
  t.fredType = -1;
  return t;
}

/** Commit the transition described in cpu.transition. The caller made every check and
 *  wrote its frame. The memory writes left, the accessed bits of the new code and stack
 *  segments' descriptors (SDM Vol. 3A §3.4.5.1: every segment load sets it), come first:
 *  if one faults (a read-only GDT page), no register has changed. The fixed descriptors
 *  of SYSCALL, SYSRET, SYSENTER and SYSEXIT have it set already and are not in memory. */
export function commitTransition(cpu: Cpu): void {
  const t = cpu.transition;
  if (!t.keepCs) t.csHi = markAccessed(cpu, t.csSel, t.csHi);
  if (t.ss === SsLoad.Descriptor) t.ssHi = markAccessed(cpu, t.ssSel, t.ssHi);
  const before = cpu.traceSink !== null ? side(cpu) : null;
  const code = before !== null ? codeBytes(cpu, codeRole(t)) : null;
  const oldCpl = cpu.cpl;

  if (t.writesRcxR11) {
    cpu.regLo[1] = t.rcxLo; cpu.regHi[1] = t.rcxHi;
    cpu.regLo[11] = t.r11Lo; cpu.regHi[11] = 0;
  }
  if (t.ss === SsLoad.Null) setNullSegment(cpu, SS, t.ssSel);
  else if (t.ss === SsLoad.Descriptor) setSegment(cpu, SS, t.ssSel, t.ssLo, t.ssHi);
  else if (t.ss === SsLoad.SelectorOnly) cpu.segSel[SS] = t.ssSel & 0xffff;
  if (!t.keepCs) setCodeSegment(cpu, t.csSel, t.cpl, t.csLo, t.csHi);
  if (t.swapGs) swapGsBase(cpu);
  if (t.csl >= 0) cpu.msrLo[Msr.FredConfig] = (cpu.msrLo[Msr.FredConfig] & ~3) | t.csl;
  cpu.regLo[4] = t.rspLo;
  cpu.regHi[4] = t.rspHi;
  cpu.setFlags(t.rflags);
  cpu.rip = t.rip;
  cpu.nextRip = t.rip;
  if (t.nullOuterDataSegments && t.cpl > oldCpl) {
    for (const s of DATA_SEGMENTS) {
      const attr = cpu.segAttr[s];
      const dpl = descDpl(attr);
      const code = (attr & DESC_TYPE_CODE) !== 0, conforming = (attr & DESC_TYPE_CONFORMING) !== 0;
      if ((attr & DESC_P) !== 0 && dpl < t.cpl && !(code && conforming)) invalidateOuterSegment(cpu, s);
    }
  }
  // RF = 1 loaded by a return stays set for one instruction (SDM Vol. 3B §18.3.1.1); a
  // delivery clears RF, and a single-step trap armed for the interrupted instruction is
  // not taken (the instruction did not complete, or, for INT n, TF is now clear).
  if ((t.rflags & R.RF) !== 0) cpu.resumeFlagSet();
  if (t.kind === TransitionKind.Delivery) cpu.stepArmedAt = -1;
  cpu.transitions++;

  if (before !== null) {
    const host = cpu.hostEntries;
    const record: TransitionRecord = {
      seq: cpu.transitions,
      icount: cpu.icount,
      kind: TRANSITION_KIND_NAMES[t.kind],
      vector: t.vector >= 0 ? t.vector : null,
      source: t.kind === TransitionKind.Delivery ? EVENT_SOURCE_NAMES[t.source] : null,
      fredType: t.fredType >= 0 ? t.fredType : null,
      errorCode: t.error >= 0 ? t.error : null,
      annotation: host.annotation,
      before,
      after: side(cpu),
      frame: t.frameLength > 0 ? frameBytes(cpu, t.frameLin, t.frameLength) : null,
      code,
    };
    if (host.guestMode !== null) record.guestMode = host.guestMode();
    const writes = host.annotation !== null ? host.takeWrites() : null;
    if (writes !== null) record.hostWrites = writes;
    cpu.traceSink!(record);
  }
}

const MODE_NAMES = ['protected', '64-bit', 'compatibility'] as const;

const STATUS_FLAG_NAMES: ReadonlyArray<[number, string]> = [[R.CF, 'CF'], [R.PF, 'PF'], [R.AF, 'AF'], [R.ZF, 'ZF'], [R.SF, 'SF'], [R.OF, 'OF']];

function side(cpu: Cpu): TransitionSide {
  const bases = {} as TransitionSide['bases'];
  SEG_NAMES.forEach((n, s) => { bases[n] = hex64(cpu.segBaseLo[s], cpu.segBaseHi[s]); });
  const msr = (slot: Msr): string => hex64(cpu.msrLo[slot], cpu.msrHi[slot]);
  const msrs = {
    efer: hex64(cpu.efer, 0), star: msr(Msr.Star), lstar: msr(Msr.Lstar), cstar: msr(Msr.Cstar), fmask: msr(Msr.Fmask),
    kernelGsBase: msr(Msr.KernelGsBase), sysenterCs: msr(Msr.SysenterCs), sysenterEsp: msr(Msr.SysenterEsp), sysenterEip: msr(Msr.SysenterEip),
  };
  const codeSize = cpu.mode === Mode.Long64 ? 64 : (cpu.segAttr[CS] & DESC_DB) !== 0 ? 32 : 16;
  const undefinedBits = undefinedStatus(cpu);
  return {
    cpl: cpu.cpl,
    mode: MODE_NAMES[cpu.mode],
    codeSize,
    registers: formatRegisters(cpu, false),
    undefinedFlags: STATUS_FLAG_NAMES.filter(([bit]) => (undefinedBits & bit) !== 0).map(([, name]) => name),
    statusLoaded: statusLoaded(cpu),
    bases,
    msrs,
  };
}

/** Whether the instruction at the leaving side's CS:RIP caused the transition: every
 *  instruction-made transition and fault says so; a trap (single-step, data breakpoint,
 *  SDM Vol. 3B §18.3.1) or an external event is taken at the boundary before it.
 *  Deviation: a fault raised while delivering a trap or an interrupt (a bad gate, a
 *  stack fault) is recorded as `caused`, though that instruction has not run. */
function codeRole(t: Transition): 'caused' | 'next' {
  return t.kind === TransitionKind.Delivery && (t.source === EventSource.Trap || t.source === EventSource.External) ? 'next' : 'caused';
}

/** The frame's bytes through the translations its own writes or reads just cached: a
 *  trace must not walk page tables (a walk could fill the TLB and change what a guest
 *  with stale mappings observes). null if a page of it is not cached or not RAM. */
function frameBytes(cpu: Cpu, lin: number, length: number): TransitionRecord['frame'] {
  const bytes: number[] = [];
  for (let k = 0; k < length; k++) {
    const p = cpu.cachedPhysical(lin + k);
    if (p < 0 || p >= cpu.mem.size) return null;
    bytes.push(cpu.mem.bytes[p]);
  }
  return { address: formatLinear(lin), bytes };
}

/** The bytes at CS:RIP before the transition, as far as cached translations reach (an
 *  instruction is at most 15 bytes, SDM Vol. 2A §2.3.11); null if its first byte is not. */
function codeBytes(cpu: Cpu, role: 'caused' | 'next'): TransitionRecord['code'] {
  const lin = cpu.mode === Mode.Long64 ? cpu.rip : (cpu.segBaseLo[CS] + cpu.rip) >>> 0;
  const bytes: number[] = [];
  for (let k = 0; k < 15; k++) {
    const p = cpu.cachedPhysical(lin + k);
    if (p < 0 || p >= cpu.mem.size) break;
    bytes.push(cpu.mem.bytes[p]);
  }
  return bytes.length > 0 ? { address: formatLinear(lin), bytes, role } : null;
}
