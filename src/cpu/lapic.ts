// The local APIC (SDM Vol. 3A Chapter 11 "Advanced Programmable Interrupt Controller"):
// per-vCPU state, so it lives with the CPU (cpu.lapic) and is captured in the vCPU's state.
// The CPU consults it at instruction boundaries (events.ts) and for CR8; its registers are
// reached through the xAPIC page at IA32_APIC_BASE (LapicMmio, mapped by the host) or, in
// x2APIC mode, through MSRs 0x800-0x8FF (§11.12.1.2).
//
// Interrupts are fixed-vector only: the timer, the error LVT and IPIs to self set a bit of
// the IRR; the highest IRR vector whose priority class is above the PPR's is accepted
// (IRR -> ISR) when the CPU can take it (§11.8.3 "Interrupt, Task, and Processor
// Priority", §11.8.4 "Interrupt Acceptance for Fixed Interrupts"); EOI clears the highest
// ISR bit (§11.8.5). The mode (disabled, xAPIC, x2APIC) is IA32_APIC_BASE's EN and EXTD
// bits, with the transitions of §11.12.5 (Figure 11-27).
//
// Deliberate deviations:
// - One vCPU: IPIs to any other destination are dropped, as hardware drops messages no
//   APIC accepts; INIT, SIPI and SMI to self are model errors. An NMI to self raises an
//   NMI (cpu.raiseNmi; the vector field is ignored, §11.6.1).
// - Acceptance is immediate (the CPU takes an accepted vector at the same boundary), so
//   no spurious interrupt (§11.9) ever arises and ICR delivery status always reads idle.
// - LINT0/LINT1, thermal and performance-counter LVTs are kept but nothing drives them
//   (an 8259 request LINT0 would pass in ExtINT mode is machine/pic8259.ts's model error).
// - Level-triggered fixed interrupts come only from an I/O APIC (receiveLevel): they set the
//   TMR bit, and the EOI of a vector whose TMR bit is set is broadcast to the I/O APICs
//   (eoiBroadcast, §11.8.5). Directed EOI is not enumerated (version bit 24 = 0), so the
//   broadcast is never suppressed (SVR bit 12 stays reserved).
// - xAPIC reads of a write-only register (EOI) return 0 and writes to read-only ones are
//   ignored, as QEMU does; APR and RRD, reserved offsets, accesses other than aligned
//   4-byte ones, the page while not in xAPIC mode, and relocating it are model errors.
// - A software-disabled APIC (SVR bit 8 = 0) holds its IRR and delivers nothing, as QEMU.

import type { Cpu } from './cpu.js';
import { ApicTimer, TimerMode, type ApicTimerState } from './apic-timer.js';
import { Msr } from './msrs.js';
import { MAXPHYADDR } from './model.js';

/** xAPIC page offsets >> 4, equal to x2APIC MSR index - 0x800 (§11.12.1.2, Table 11-6). */
export const enum Reg {
  Id = 0x02, Version = 0x03, Tpr = 0x08, Apr = 0x09, Ppr = 0x0a, Eoi = 0x0b, Rrd = 0x0c, Ldr = 0x0d,
  Dfr = 0x0e, Svr = 0x0f, Isr = 0x10, Tmr = 0x18, Irr = 0x20, Esr = 0x28, Icr = 0x30, Icr2 = 0x31,
  LvtTimer = 0x32, LvtThermal = 0x33, LvtPerf = 0x34, LvtLint0 = 0x35, LvtLint1 = 0x36, LvtError = 0x37,
  InitialCount = 0x38, CurrentCount = 0x39, DivideConfig = 0x3e, SelfIpi = 0x3f,
}

export const APIC_DEFAULT_BASE = 0xfee00000;
export const X2APIC_MSR_FIRST = 0x800;
export const X2APIC_MSR_LAST = 0x8ff;

/** IA32_APIC_BASE bits (§11.4.4, §11.12.1). */
const BASE_BSP = 1 << 8;
const BASE_EXTD = 1 << 10;
const BASE_EN = 1 << 11;

/** Version register: version 0x14 (integrated APIC), max LVT entry 5 (six LVTs, no CMCI). */
const VERSION = 0x14 | (5 << 16);

const LVT_MASK = 1 << 16;
/** Writable bits per LVT (§11.5.1, Figure 11-8), in LvtTimer.. order. */
const LVT_WRITABLE = [0x600ff | LVT_MASK, 0x007ff | LVT_MASK, 0x007ff | LVT_MASK, 0x0e7ff | LVT_MASK, 0x0e7ff | LVT_MASK, 0x000ff | LVT_MASK];
const LVT_COUNT = 6;
const SVR_ENABLE = 1 << 8;
/** SVR: vector, APIC software enable, focus processor checking (§11.9, Figure 11-23); EOI
 *  broadcast suppression is not enumerated (version bit 24 = 0), so bit 12 is reserved. */
const SVR_WRITABLE = 0x3ff;

/** ESR bits (§11.5.3, Figure 11-9). */
const ESR_SEND_ILLEGAL = 1 << 5;
const ESR_RECEIVE_ILLEGAL = 1 << 6;

/** ICR fields (§11.6.1, Figure 11-12). */
const ICR_MODE_FIXED = 0, ICR_MODE_LOWEST = 1, ICR_MODE_SMI = 2, ICR_MODE_NMI = 4, ICR_MODE_INIT = 5, ICR_MODE_SIPI = 6;
const ICR_LOGICAL = 1 << 11;
const ICR_LEVEL_ASSERT = 1 << 14;
const ICR_TRIGGER_LEVEL = 1 << 15;
/** x2APIC ICR bits that are reserved: 12, 13, 16, 17, 20-31 (§11.12.9, Figure 11-28). */
const X2_ICR_RESERVED = 0xfff33000 | 0;
/** xAPIC: the writable ICR low bits (delivery status, bit 12, is read-only). */
const ICR_WRITABLE = 0x000cefff;

export type ApicMode = 'disabled' | 'xapic' | 'x2apic';

export interface LapicState {
  id: number;
  tpr: number;
  ldr: number;
  dfr: number;
  svr: number;
  isr: number[];
  tmr: number[];
  irr: number[];
  /** The ESR as last latched, and the errors detected since (§11.5.3). */
  esr: number;
  errors: number;
  icrLo: number;
  icrHi: number;
  lvt: number[];
  timer: ApicTimerState;
}

/** The highest set bit of a 256-bit register held as 8 words (-1: none). */
function highest(words: Int32Array): number {
  for (let w = 7; w >= 0; w--) if (words[w] !== 0) return w * 32 + 31 - Math.clz32(words[w]);
  return -1;
}

export class Lapic {
  /** The APIC ID (§11.4.6): the initial ID 0, as xAPIC ID bits 31:24 or the 32-bit x2APIC ID. */
  id = 0;
  tpr = 0;
  ldr = 0;
  dfr = -1;
  svr = 0xff;
  readonly isr = new Int32Array(8);
  readonly tmr = new Int32Array(8);
  readonly irr = new Int32Array(8);
  esr = 0;
  errors = 0;
  icrLo = 0;
  icrHi = 0;
  readonly lvt = new Int32Array(LVT_COUNT).fill(LVT_MASK);
  readonly timer = new ApicTimer();
  /** The high half of the last 64-bit x2APIC read (the ICR). */
  hi = 0;

  constructor(private readonly cpu: Cpu) {}

  /** Power-on state (§11.4.7.1), also entered when the APIC is globally disabled. */
  reset(): void {
    this.id = 0; this.tpr = 0; this.ldr = 0; this.dfr = -1; this.svr = 0xff;
    this.isr.fill(0); this.tmr.fill(0); this.irr.fill(0);
    this.esr = 0; this.errors = 0; this.icrLo = 0; this.icrHi = 0;
    this.lvt.fill(LVT_MASK);
    this.timer.restore({ initial: 0, divide: 0, start: 0, due: -1, deadlineLo: 0, deadlineHi: 0 });
    this.refresh();
  }

  get mode(): ApicMode {
    const base = this.cpu.msrLo[Msr.ApicBase];
    if ((base & BASE_EN) === 0) return 'disabled';
    return (base & BASE_EXTD) !== 0 ? 'x2apic' : 'xapic';
  }

  private get timerMode(): TimerMode {
    return (this.lvt[0] >> 17) & 3;
  }

  // ---------------------------------------------------------------- priority (§11.8.3)

  /** PPR: TPR if its class is at least the highest in-service class, else that class. */
  get ppr(): number {
    const isrv = highest(this.isr);
    return (this.tpr >> 4) >= (isrv >> 4) ? this.tpr : isrv & 0xf0;
  }

  /** The vector the APIC would present to the CPU now (-1: none): the highest IRR vector
   *  whose class is above the PPR's, while the APIC is enabled. */
  pendingVector(): number {
    if (this.mode === 'disabled' || (this.svr & SVR_ENABLE) === 0) return -1;
    const v = highest(this.irr);
    return v >= 0 && (v >> 4) > (this.ppr >> 4) ? v : -1;
  }

  /** The CPU takes the pending vector (§11.8.4): IRR bit to ISR. */
  accept(): number {
    const v = this.pendingVector();
    this.irr[v >> 5] &= ~(1 << (v & 31));
    this.isr[v >> 5] |= 1 << (v & 31);
    this.refresh();
    return v;
  }

  /** Recompute what the CPU sees (cpu.intrPending) and have the event window look. */
  refresh(): void {
    this.cpu.intrPending = this.pendingVector() >= 0;
    this.cpu.eventPending();
  }

  /** A fixed, edge-triggered interrupt arrives (§11.8.4); vectors 0-15 are illegal (§11.5.3). */
  receive(vector: number): void {
    if (vector < 16) { this.error(ESR_RECEIVE_ILLEGAL); return; }
    this.irr[vector >> 5] |= 1 << (vector & 31);
    this.tmr[vector >> 5] &= ~(1 << (vector & 31));
    this.refresh();
  }

  /** An error is detected (§11.5.3): recorded, and signalled through the error LVT. */
  private error(bits: number): void {
    this.errors |= bits;
    const lvt = this.lvt[5];
    if ((lvt & LVT_MASK) !== 0) return;
    if ((lvt & 0xff) < 16) { this.errors |= ESR_RECEIVE_ILLEGAL; return; }
    this.receive(lvt & 0xff);
  }

  /** EOI (§11.8.5): the highest in-service vector completes. */
  private eoi(): void {
    const v = highest(this.isr);
    if (v < 0) return;
    this.isr[v >> 5] &= ~(1 << (v & 31));
    this.refresh();
    if ((this.tmr[v >> 5] & (1 << (v & 31))) !== 0) this.eoiBroadcast?.(v);
  }

  setTpr(v: number): void {
    this.tpr = v & 0xff;
    this.refresh();
  }

  // ---------------------------------------------------------------- the timer (apic-timer.ts)

  /** The tick at which the event window must run the timer (Infinity: none). */
  get timerDue(): number {
    return this.timer.due < 0 ? Infinity : this.timer.due;
  }

  /** At a boundary at or after timerDue: the timer expires and, unless its LVT is masked,
   *  raises its vector (§11.5.4). */
  expireTimer(now: number): void {
    const mode = this.timerMode;
    this.timer.expire(now, mode);
    if ((this.lvt[0] & LVT_MASK) === 0) this.receive(this.lvt[0] & 0xff);
  }

  // ---------------------------------------------------------------- IPIs (§11.6)

  /** Whether this APIC is among the ICR's destinations (§11.6.2). */
  private isDestination(lo: number, hi: number, x2: boolean): boolean {
    if (x2) {
      if (hi === -1) return true;
      if ((lo & ICR_LOGICAL) === 0) return hi === this.id;
      const ldr = this.x2Ldr();
      return (hi >>> 16) === (ldr >>> 16) && (hi & ldr & 0xffff) !== 0;
    }
    const dest = hi >>> 24;
    if (dest === 0xff) return true;
    if ((lo & ICR_LOGICAL) === 0) return dest === (this.id & 0xff);
    const logical = this.ldr >>> 24;
    if ((this.dfr >>> 28) === 0xf) return (dest & logical) !== 0; // flat model
    return (dest >> 4) === (logical >> 4) && (dest & logical & 0xf) !== 0; // cluster model
  }

  /** An ICR write sends an IPI (§11.6.1). With one vCPU only self can receive it. */
  private sendIpi(lo: number, hi: number, x2: boolean): void {
    const vector = lo & 0xff;
    const mode = (lo >> 8) & 7;
    const shorthand = (lo >> 18) & 3;
    const toSelf = shorthand === 1 || shorthand === 2 || (shorthand === 0 && this.isDestination(lo, hi, x2));
    // INIT level de-assert (§11.6.1: INIT, level 0, trigger level) synchronises arbitration IDs: no effect here.
    if (mode === ICR_MODE_INIT && (lo & ICR_LEVEL_ASSERT) === 0 && (lo & ICR_TRIGGER_LEVEL) !== 0) return;
    if (mode === ICR_MODE_FIXED || mode === ICR_MODE_LOWEST) {
      if (vector < 16) { this.error(ESR_SEND_ILLEGAL); return; }
      if (toSelf) this.receive(vector);
      return;
    }
    if (!toSelf) return; // nobody else is there
    if (mode === ICR_MODE_NMI) { this.cpu.raiseNmi(); return; }
    const name = mode === ICR_MODE_INIT ? 'an INIT' : mode === ICR_MODE_SIPI ? 'a start-up'
      : mode === ICR_MODE_SMI ? 'an SMI' : `a delivery-mode ${mode}`;
    this.cpu.modelError(`${name} IPI to this vCPU through the ICR is not modelled`);
  }

  private x2Ldr(): number {
    return (((this.id >>> 4) << 16) | (1 << (this.id & 15))) | 0;
  }

  // ---------------------------------------------------------------- the platform's interrupt controllers

  /** Where the EOI of a level-triggered vector is broadcast (§11.8.5: "an EOI message is
   *  sent to all I/O APICs"); set by the machine that wires an I/O APIC (machine/ioapic.ts). */
  eoiBroadcast: ((vector: number) => void) | null = null;
  /** Told when what LINT0 passes may have changed (its LVT, or the APIC's global enable):
   *  the 8259 pair (machine/pic8259.ts) checks whether its output now reaches the CPU. */
  lint0Changed: (() => void) | null = null;

  /** A fixed, level-triggered interrupt arrives from an I/O APIC (§11.8.4): as receive, and
   *  the TMR bit is set, so that its EOI is broadcast. */
  receiveLevel(vector: number): void {
    this.receive(vector);
    if (vector >= 16) this.tmr[vector >> 5] |= 1 << (vector & 31);
  }

  /** Whether an I/O APIC message with 8-bit destination `dest` in physical or logical mode
   *  addresses this APIC (§11.6.2.1, §11.6.2.2; 82093AA datasheet §3.2.4, "Destination
   *  Field"). Globally disabled, the APIC takes no message (§11.4.3). In x2APIC mode an
   *  I/O APIC without interrupt remapping reaches physical IDs below 255 and the broadcast
   *  0xFF (§11.12.6 "Routing of Device Interrupts in x2APIC Mode"); its logical
   *  destinations are a model error. */
  isIoApicDestination(dest: number, logical: boolean): boolean {
    const mode = this.mode;
    if (mode === 'disabled') return false;
    if (mode === 'xapic') return this.isDestination(logical ? ICR_LOGICAL : 0, dest << 24, false);
    if (logical) this.cpu.modelError(`an I/O APIC message in logical destination mode (destination 0x${dest.toString(16)}) to an x2APIC`);
    return dest === 0xff || dest === this.id;
  }

  /** Whether LINT0 passes the 8259's INTR to the CPU: an unmasked LINT0 in ExtINT delivery
   *  mode (§11.5.1, "Virtual Wire Mode"), or a globally disabled APIC, whose LINT0 is the
   *  processor's INTR pin (§11.4.3). */
  passesExtInt(): boolean {
    if (this.mode === 'disabled') return true;
    const lint0 = this.lvt[3];
    return (lint0 & LVT_MASK) === 0 && ((lint0 >> 8) & 7) === 7;
  }

  // ---------------------------------------------------------------- register access

  /** Read register `reg` (xAPIC offset >> 4 or x2APIC MSR - 0x800); the high half of a
   *  64-bit x2APIC register goes to this.hi. An access the mode does not have: #GP in
   *  x2APIC mode (§11.12.1.2), a model error in xAPIC mode. */
  read(reg: number, x2: boolean): number {
    this.hi = 0;
    const now = this.cpu.icount;
    if (reg >= Reg.Isr && reg < Reg.Isr + 8) return this.isr[reg - Reg.Isr];
    if (reg >= Reg.Tmr && reg < Reg.Tmr + 8) return this.tmr[reg - Reg.Tmr];
    if (reg >= Reg.Irr && reg < Reg.Irr + 8) return this.irr[reg - Reg.Irr];
    if (reg >= Reg.LvtTimer && reg <= Reg.LvtError) return this.lvt[reg - Reg.LvtTimer];
    switch (reg) {
      case Reg.Id: return x2 ? this.id : this.id << 24;
      case Reg.Version: return VERSION;
      case Reg.Tpr: return this.tpr;
      case Reg.Ppr: return this.ppr;
      case Reg.Ldr: return x2 ? this.x2Ldr() : this.ldr;
      case Reg.Dfr: if (!x2) return this.dfr; break;
      case Reg.Svr: return this.svr;
      case Reg.Esr: return this.esr;
      case Reg.Icr:
        if (x2) this.hi = this.icrHi;
        return this.icrLo;
      case Reg.Icr2: if (!x2) return this.icrHi; break;
      case Reg.InitialCount: return this.timer.initial | 0;
      case Reg.CurrentCount: return this.timer.current(now, this.timerMode) | 0;
      case Reg.DivideConfig: return this.timer.divide;
      case Reg.Eoi: if (!x2) return 0; break;
    }
    return this.badAccess('read', reg, x2);
  }

  /** Write register `reg` (lo; hi only for the x2APIC ICR, and must be 0 elsewhere). */
  write(reg: number, lo: number, hi: number, x2: boolean): void {
    const now = this.cpu.icount;
    if (x2 && hi !== 0 && reg !== Reg.Icr) this.cpu.gp(0);
    if (reg >= Reg.LvtTimer && reg <= Reg.LvtError) { this.writeLvt(reg - Reg.LvtTimer, lo, x2); return; }
    switch (reg) {
      case Reg.Id: if (!x2) { this.id = lo >>> 24; return; } break;
      case Reg.Tpr:
        if (x2 && (lo & ~0xff) !== 0) this.cpu.gp(0);
        this.setTpr(lo);
        return;
      case Reg.Eoi:
        if (x2 && lo !== 0) this.cpu.gp(0);
        this.eoi();
        return;
      case Reg.Ldr: if (!x2) { this.ldr = lo & 0xff000000; return; } break;
      case Reg.Dfr: if (!x2) { this.dfr = lo | 0x0fffffff; return; } break;
      case Reg.Svr:
        if (x2 && (lo & ~SVR_WRITABLE) !== 0) this.cpu.gp(0);
        this.svr = lo & SVR_WRITABLE;
        // §11.4.7.2: software disable masks every LVT entry.
        if ((this.svr & SVR_ENABLE) === 0) for (let k = 0; k < LVT_COUNT; k++) this.lvt[k] |= LVT_MASK;
        this.refresh();
        return;
      case Reg.Esr:
        if (x2 && lo !== 0) this.cpu.gp(0);
        this.esr = this.errors;
        this.errors = 0;
        return;
      case Reg.Icr:
        if (x2) {
          if ((lo & X2_ICR_RESERVED) !== 0) this.cpu.gp(0);
          this.icrLo = lo; this.icrHi = hi;
        } else {
          this.icrLo = lo & ICR_WRITABLE;
        }
        this.sendIpi(this.icrLo, this.icrHi, x2);
        return;
      case Reg.Icr2: if (!x2) { this.icrHi = lo & 0xff000000; return; } break;
      case Reg.InitialCount:
        this.timer.writeInitial(now, lo, this.timerMode);
        this.cpu.eventPending();
        return;
      case Reg.DivideConfig:
        if (x2 && (lo & ~0xb) !== 0) this.cpu.gp(0);
        this.timer.writeDivide(now, lo, this.timerMode);
        this.cpu.eventPending();
        return;
      case Reg.SelfIpi:
        if (!x2) break;
        if ((lo & ~0xff) !== 0) this.cpu.gp(0);
        this.receive(lo & 0xff);
        return;
      case Reg.Version: case Reg.Ppr: case Reg.CurrentCount:
        if (!x2) return;
        break;
      default:
        if (!x2 && reg >= Reg.Isr && reg < Reg.Irr + 8) return;
    }
    this.badAccess('write', reg, x2);
  }

  private writeLvt(k: number, lo: number, x2: boolean): void {
    if (x2 && (lo & ~LVT_WRITABLE[k]) !== 0) this.cpu.gp(0);
    let v = (lo & LVT_WRITABLE[k]) | (this.lvt[k] & ~LVT_WRITABLE[k]);
    if ((this.svr & SVR_ENABLE) === 0) v |= LVT_MASK;
    if (k === 0) {
      const to = (v >> 17) & 3;
      if (to === 3) this.cpu.modelError('the reserved LVT timer mode 3');
      this.timer.modeChanged(this.timerMode, to);
    }
    this.lvt[k] = v;
    this.cpu.eventPending();
    if (k === 3) this.lint0Changed?.();
  }

  private badAccess(what: string, reg: number, x2: boolean): never {
    if (x2) this.cpu.gp(0);
    return this.cpu.modelError(`a ${what} of local APIC register 0x${(reg << 4).toString(16)} (reserved or not modelled)`);
  }

  // ---------------------------------------------------------------- MSRs

  /** RDMSR of an x2APIC register: #GP unless in x2APIC mode. */
  readMsr(index: number): number {
    if (this.mode !== 'x2apic') this.cpu.gp(0);
    return this.read(index - X2APIC_MSR_FIRST, true);
  }

  writeMsr(index: number, lo: number, hi: number): void {
    if (this.mode !== 'x2apic') this.cpu.gp(0);
    this.write(index - X2APIC_MSR_FIRST, lo, hi, true);
  }

  readDeadline(): [number, number] {
    return this.timer.readDeadline(this.timerMode);
  }

  /** IA32_TIME_STAMP_COUNTER was written: the TSC deadline falls at another tick. */
  tscWritten(): void {
    if (this.timerMode !== TimerMode.TscDeadline) return;
    this.timer.rearmDeadline(this.cpu.icount, this.cpu.tscOffset);
    this.cpu.eventPending();
  }

  writeDeadline(lo: number, hi: number): void {
    this.timer.writeDeadline(this.cpu.icount, this.cpu.tscOffset, lo, hi, this.timerMode);
    this.cpu.eventPending();
  }

  /** WRMSR IA32_APIC_BASE (§11.4.4, §11.12.5): reserved bits, and the mode transitions of
   *  Figure 11-27 — x2APIC is entered only from xAPIC, left only to disabled, and EXTD
   *  without EN is invalid (#GP for each). The BSP flag is read-only. Disabling resets
   *  the APIC (§11.4.3: it comes back in its power-up state). */
  writeBase(lo: number, hi: number): void {
    const cpu = this.cpu;
    if ((lo & 0x2ff) !== 0 || (hi >>> (MAXPHYADDR - 32)) !== 0) cpu.gp(0);
    const from = this.mode;
    const en = (lo & BASE_EN) !== 0, extd = (lo & BASE_EXTD) !== 0;
    if (extd && !en) cpu.gp(0);
    if (from === 'x2apic' && en && !extd) cpu.gp(0);
    if (from === 'disabled' && extd) cpu.gp(0);
    const base = (hi >>> 0) * 4294967296 + ((lo & ~0xfff) >>> 0);
    if (en && !extd && base !== APIC_DEFAULT_BASE) cpu.modelError(`relocating the local APIC to 0x${base.toString(16)}`);
    cpu.msrLo[Msr.ApicBase] = (lo & ~BASE_BSP) | (cpu.msrLo[Msr.ApicBase] & BASE_BSP);
    cpu.msrHi[Msr.ApicBase] = hi;
    if (!en && from !== 'disabled') this.reset();
    this.refresh();
    if (en !== (from !== 'disabled')) this.lint0Changed?.();
  }

  // ---------------------------------------------------------------- state

  capture(): LapicState {
    return {
      id: this.id, tpr: this.tpr, ldr: this.ldr, dfr: this.dfr, svr: this.svr,
      isr: Array.from(this.isr), tmr: Array.from(this.tmr), irr: Array.from(this.irr),
      esr: this.esr, errors: this.errors, icrLo: this.icrLo, icrHi: this.icrHi,
      lvt: Array.from(this.lvt), timer: this.timer.capture(),
    };
  }

  restore(s: LapicState): void {
    this.id = s.id; this.tpr = s.tpr; this.ldr = s.ldr; this.dfr = s.dfr; this.svr = s.svr;
    this.isr.set(s.isr); this.tmr.set(s.tmr); this.irr.set(s.irr);
    this.esr = s.esr; this.errors = s.errors; this.icrLo = s.icrLo; this.icrHi = s.icrHi;
    this.lvt.set(s.lvt);
    this.timer.restore(s.timer);
    this.refresh();
  }
}

/** The xAPIC page (§11.4.1): aligned 4-byte accesses to the registers at offset & ~15,
 *  while the APIC is in xAPIC mode. Shaped as machine/memory.ts's MmioDevice.
 *
 *  Globally disabled (IA32_APIC_BASE.EN = 0) the processor is one without an on-chip APIC
 *  (§11.4.3), and in x2APIC mode the page behaves as in that state (§11.12.2): nothing
 *  claims the addresses, so on the PC platform reads return all ones and writes are
 *  dropped (what kvm-unit-tests' apic test checks on hardware; QEMU 7.2 TCG keeps answering). */
export class LapicMmio {
  constructor(private readonly lapic: Lapic, private readonly cpu: Cpu) {}

  read(offset: number, size: 1 | 2 | 4): number {
    if (this.lapic.mode !== 'xapic') return size === 4 ? -1 : (1 << (8 * size)) - 1;
    this.check(offset, size, 'read');
    return this.lapic.read(offset >> 4, false);
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (this.lapic.mode !== 'xapic') return;
    this.check(offset, size, 'write');
    this.lapic.write(offset >> 4, value, 0, false);
  }

  private check(offset: number, size: number, what: string): void {
    const at = `physical 0x${(APIC_DEFAULT_BASE + offset).toString(16)}`;
    if (size !== 4 || (offset & 15) !== 0) this.cpu.modelError(`a ${size}-byte ${what} of the local APIC at ${at} (only aligned 4-byte accesses are modelled)`);
  }
}
