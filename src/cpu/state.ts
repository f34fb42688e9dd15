// A vCPU's architectural state as plain data (numbers and arrays of numbers, no classes):
// what capture() returns and restore() takes. Everything a later instruction can observe
// is here; everything the Cpu derives from it (the mode, effective segment bases and
// limit checks, the TLB, the decode cache, lazy-flag bookkeeping, TLB views for the CPL)
// is rebuilt by restore().
//
// 64-bit values are kept as their 32-bit halves (lo/hi, signed 32-bit as the Cpu holds
// them); RIP and the descriptor-table bases are linear addresses held as numbers.

import type { MsrName } from './msrs.js';
import type { LapicState } from './lapic.js';

/** A segment register: the selector and its hidden part (base, limit, attributes as
 *  bits 8..23 of the descriptor's high dword). */
export interface SegmentState {
  sel: number;
  baseLo: number;
  baseHi: number;
  limit: number;
  attr: number;
}

/** Events taken at instruction boundaries (events.ts), each due at an instruction count. */
export interface EventState {
  /** icount at the boundary where RFLAGS.TF = 1 armed a single-step trap (-1: none). */
  stepArmedAt: number;
  /** icount at which RFLAGS.RF is cleared (-1: none): IRET loaded RF = 1. */
  rfClearAt: number;
  /** DR6 bits of debug traps recognised but not yet delivered (held by a MOV SS shadow). */
  pendingDebug: number;
  /** The boundary (icount) inhibited by MOV SS / POP SS, and by STI (-1: none). */
  movSsShadowAt: number;
  stiShadowAt: number;
  /** HLT retired (with IF = 1, or with an NMI still to come) and no event has been
   *  delivered since. */
  halted: boolean;
  /** An NMI is held, not yet delivered; NMI delivery is blocked until the next IRET
   *  (SDM Vol. 3A §6.7.1). */
  nmiPending: boolean;
  nmiBlocked: boolean;
  /** DR6 B0-B3 of data and I/O breakpoints the current instruction matched (debug.ts). */
  dataHits: number;
  /** The boundary (icount) at which a REP string instruction stopped before its last
   *  iteration (-1: none): an event delivered there pushes RF = 1 (SDM Vol. 3B §18.3.1.1). */
  repYieldAt: number;
}

export interface VcpuState {
  gprLo: number[];
  gprHi: number[];
  rip: number;
  rflags: number;
  cpl: number;
  /** ES, CS, SS, DS, FS, GS. */
  segments: SegmentState[];
  /** Descriptor-table bases as 32-bit halves (exact 64-bit values, like segment bases). */
  gdtr: { baseLo: number; baseHi: number; limit: number };
  idtr: { baseLo: number; baseHi: number; limit: number };
  ldtr: { sel: number; baseLo: number; baseHi: number; limit: number };
  tr: { sel: number; baseLo: number; baseHi: number; limit: number; attr: number };
  cr0: number;
  cr2Lo: number;
  cr2Hi: number;
  cr3Lo: number;
  cr3Hi: number;
  cr4: number;
  /** CR4 bits 63:32 (FRED, bit 32). */
  cr4Hi: number;
  /** The PAE PDPTE registers (SDM Vol. 3A §4.4.1). */
  pdpteLo: number[];
  pdpteHi: number[];
  drLo: number[];
  drHi: number[];
  efer: number;
  msrs: Record<MsrName, [number, number]>;
  events: EventState;
  /** The local APIC (lapic.ts); CR8 is its TPR[7:4]. */
  lapic: LapicState;
  /** Retired instructions: the vCPU's virtual time. The TSC is icount plus tscOffset. */
  icount: number;
  tscOffset: number;
  /** Transitions committed so far (transition.ts). */
  transitions: number;
}

const FLAT_CODE32 = 0xc09b00; // present, DPL 0, execute/read, accessed; D = 1, G = 1, limit 19:16 = 0xF
const FLAT_DATA32 = 0xc09300; // present, DPL 0, read/write, accessed; B = 1, G = 1

/**
 * The 32-bit flat protected-mode entry state that the PVH and multiboot boot contracts
 * both start from (README.md, "The native (PVH) platform"): CR0.PE = 1, paging off, flat 4 GiB code and
 * data segments, interrupts off, no IDT (any exception triple-faults), every other register
 * as at power-on (`base`) and the GPRs zero but those given.
 */
export function flatProtectedModeState(base: VcpuState, eip: number,
  regs: { eax?: number; ebx?: number; esi?: number } = {}): VcpuState {
  const s = structuredClone(base);
  s.gprLo.fill(0);
  s.gprHi.fill(0);
  if (regs.eax !== undefined) s.gprLo[0] = regs.eax | 0;
  if (regs.ebx !== undefined) s.gprLo[3] = regs.ebx | 0;
  if (regs.esi !== undefined) s.gprLo[6] = regs.esi | 0;
  s.cr0 = 0x11; // PE | ET
  s.cr4 = 0;
  s.cr4Hi = 0;
  s.efer = 0;
  s.segments = s.segments.map((_, seg) => ({
    sel: seg === 1 ? 0x10 : 0x18, baseLo: 0, baseHi: 0, limit: -1, attr: seg === 1 ? FLAT_CODE32 : FLAT_DATA32,
  }));
  s.rflags = 0x2;
  s.idtr = { baseLo: 0, baseHi: 0, limit: 0 };
  s.gdtr = { baseLo: 0, baseHi: 0, limit: 0 };
  s.cpl = 0;
  s.rip = eip >>> 0;
  return s;
}
