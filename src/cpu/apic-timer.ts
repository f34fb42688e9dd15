// The local APIC timer on virtual time (SDM Vol. 3A §11.5.4 "APIC Timer", §11.5.4.1
// "TSC-Deadline Mode").
//
// Time is the vCPU's tick count (icount: one tick per retired instruction, and the ticks a
// halt skips). The timer's input clock runs at APIC_TIMER_TICKS_PER_COUNT ticks per count
// before the divide configuration, so a count of N with divide D expires N * D ticks after
// the initial-count write. The TSC runs at TSC_PER_INSTRUCTION per tick (model.ts), and the
// TSC-deadline mode compares against that same TSC: one clock for all three.
//
// The timer never runs code: it only knows the tick at which it next expires (`due`), which
// the event window (events.ts) takes as an event due at that boundary.
//
// Deliberate deviations:
// - Periods that elapse entirely while the vCPU cannot take the interrupt (skipped over in
//   one step) expire once: the IRR holds one bit per vector anyway, so the guest sees
//   the same as on hardware, where the extra expiries would set an already-set IRR bit.

import { APIC_TIMER_TICKS_PER_COUNT, TSC_PER_INSTRUCTION } from './model.js';

/** LVT timer mode, bits 18:17 (§11.5.1, Figure 11-8). */
export const enum TimerMode { OneShot = 0, Periodic = 1, TscDeadline = 2 }

const TWO32 = 4294967296;

/** Divide configuration register bits 3,1:0 to the divisor (§11.5.4, Figure 11-10). */
const DIVISORS = [2, 4, 8, 16, 32, 64, 128, 1];

export interface ApicTimerState {
  initial: number;
  divide: number;
  /** The tick the current count started from (its last reload). */
  start: number;
  /** The tick at which the timer next expires (-1: not armed). */
  due: number;
  /** IA32_TSC_DEADLINE as written (halves). */
  deadlineLo: number;
  deadlineHi: number;
}

export class ApicTimer {
  initial = 0;
  /** The divide configuration register, bits 0, 1 and 3. */
  divide = 0;
  start = 0;
  due = -1;
  deadlineLo = 0;
  deadlineHi = 0;

  private ticksPerCount(): number {
    return DIVISORS[((this.divide >> 1) & 4) | (this.divide & 3)] * APIC_TIMER_TICKS_PER_COUNT;
  }

  /** The current-count register at tick `now` (§11.5.4): 0 when not counting, and always
   *  in TSC-deadline mode. */
  current(now: number, mode: TimerMode): number {
    if (mode === TimerMode.TscDeadline || this.due < 0) return 0;
    const elapsed = Math.floor((now - this.start) / this.ticksPerCount());
    if (mode === TimerMode.Periodic) return this.initial - (elapsed % this.initial);
    return elapsed < this.initial ? this.initial - elapsed : 0;
  }

  /** A write of the initial-count register starts counting from it; 0 stops the timer. In
   *  TSC-deadline mode such writes are ignored (§11.5.4.1). */
  writeInitial(now: number, value: number, mode: TimerMode): void {
    if (mode === TimerMode.TscDeadline) return;
    this.initial = value >>> 0;
    this.start = now;
    this.due = this.initial === 0 ? -1 : now + this.initial * this.ticksPerCount();
  }

  /** A new divide value: a count in progress goes on from its current value at the new rate. */
  writeDivide(now: number, value: number, mode: TimerMode): void {
    const remaining = this.current(now, mode);
    this.divide = value & 0xb;
    if (this.due < 0 || mode === TimerMode.TscDeadline) return;
    const rate = this.ticksPerCount();
    this.start = now - (this.initial - remaining) * rate;
    this.due = now + remaining * rate;
  }

  /** The LVT timer mode changed: a change into or out of TSC-deadline mode disarms the timer
   *  (§11.5.4.1); one-shot and periodic go on counting. */
  modeChanged(from: TimerMode, to: TimerMode): void {
    if (from === to || (from !== TimerMode.TscDeadline && to !== TimerMode.TscDeadline)) return;
    this.initial = 0;
    this.due = -1;
    this.deadlineLo = 0;
    this.deadlineHi = 0;
  }

  /** WRMSR IA32_TSC_DEADLINE at tick `now` with the TSC offset `tscOffset`: arms the timer for
   *  the tick at which the TSC reaches the value (a past value expires at the next boundary);
   *  0 disarms it. Ignored outside TSC-deadline mode (§11.5.4.1). */
  writeDeadline(now: number, tscOffset: number, lo: number, hi: number, mode: TimerMode): void {
    if (mode !== TimerMode.TscDeadline) return;
    this.deadlineLo = lo;
    this.deadlineHi = hi;
    this.rearmDeadline(now, tscOffset);
  }

  /** The TSC was written: a TSC deadline expires at a different tick. */
  rearmDeadline(now: number, tscOffset: number): void {
    if (this.deadlineLo === 0 && this.deadlineHi === 0) { this.due = -1; return; }
    const value = (this.deadlineHi >>> 0) * TWO32 + (this.deadlineLo >>> 0);
    const tick = Math.ceil((value - tscOffset) / TSC_PER_INSTRUCTION);
    this.due = tick > now ? tick : now + 1;
  }

  /** IA32_TSC_DEADLINE reads: 0 outside TSC-deadline mode and once the deadline expired. */
  readDeadline(mode: TimerMode): [number, number] {
    return mode === TimerMode.TscDeadline ? [this.deadlineLo, this.deadlineHi] : [0, 0];
  }

  /** The timer expired at tick `now` (>= due): a one-shot count and a TSC deadline disarm; a
   *  periodic count reloads from the initial count. */
  expire(now: number, mode: TimerMode): void {
    if (mode === TimerMode.Periodic) {
      const period = this.initial * this.ticksPerCount();
      const periods = Math.floor((now - this.start) / period);
      this.start += periods * period;
      this.due = this.start + period;
      return;
    }
    this.due = -1;
    if (mode === TimerMode.TscDeadline) { this.deadlineLo = 0; this.deadlineHi = 0; }
  }

  capture(): ApicTimerState {
    return { initial: this.initial, divide: this.divide, start: this.start, due: this.due, deadlineLo: this.deadlineLo, deadlineHi: this.deadlineHi };
  }

  restore(s: ApicTimerState): void {
    this.initial = s.initial; this.divide = s.divide; this.start = s.start; this.due = s.due;
    this.deadlineLo = s.deadlineLo; this.deadlineHi = s.deadlineHi;
  }
}
