// Xen's time for the PV domain (arch/x86/time.c, common/sched/core.c's timers, common/timer.c;
// /work/notes/xen-pv-machine.md §B).
//
// One clock: Xen's system time is the vCPU's tick count (icount, which a halt skips forward),
// one tick a nanosecond since Xen booted at tick 0; the TSC the guest reads runs at
// TSC_PER_INSTRUCTION per tick (model.ts), so Xen's TSC frequency is that many GHz, and
// vcpu_time_info carries set_time_scale's multiplier and shift for it: a guest that
// extrapolates system_time with RDTSC gets exactly the tick count.
//
// Xen's timers (the vCPU's singleshot_timer, periodic_timer and poll_timer) are deadlines in
// system time. Xen runs them from its local APIC's timer, programmed in TSC-deadline mode at
// LOCAL_TIMER_VECTOR for the earliest one; the interrupt reaches Xen's IDT from the guest
// (host.ts), which runs what expired and returns to the guest by the exit path, so a
// VIRQ_TIMER made pending is delivered as an upcall at once.
//
// Deliberate deviations:
// - The periodic timer's ticks while VIRQ_TIMER is unbound are not taken (they would send
//   nothing): the local APIC is armed for the periodic timer only when the tick would raise a
//   port; the ticks' phase is kept as if they had been taken.
// - The per-CPU time calibration (every second) is not modelled: vcpu_time_info is stamped
//   when the vCPU is scheduled (boot, waking from a block or poll) with the stamp of the last
//   whole second; the model's TSC rate is exact, so the extrapolation never drifts.
// - The wall clock at system time 0 is a fixed date (there is no RTC to read).

import { SHARED_INFO_WC, VCPU_INFO, VCPU_TIME_INFO, VIRQ_TIMER, VcpuOpTimer, Errno } from '../../arch/xen.js';
import { TSC_PER_INSTRUCTION } from '../../cpu/model.js';
import { Reg } from '../../cpu/lapic.js';
import type { PvDomain } from './domain.js';
import { sendVirq, type EventHost } from './event-channel.js';
import { joined } from './regs.js';

/** LOCAL_TIMER_VECTOR (asm/irq-vectors.h). */
export const LOCAL_TIMER_VECTOR = 0xfa;
const MILLISECS = 1_000_000;
const SECONDS = 1_000_000_000;
/** The wall clock at system time 0: 2023-01-01T00:00:00Z. */
const WALLCLOCK_AT_BOOT = 1672531200;
/** STIME_DELTA_MAX: the largest period VCPUOP_set_periodic_timer accepts (2^62 ns). */
const STIME_DELTA_MAX = 2 ** 62;
const TWO32 = 4294967296;

/** NOW(): Xen's system time in ns. */
export function now(d: PvDomain): number {
  return d.cpu.icount;
}

/** The TSC at system time `t`. */
function tscAt(d: PvDomain, t: number): number {
  return t * TSC_PER_INSTRUCTION + d.cpu.tscOffset;
}

/** set_time_scale: shift and multiplier such that ns = ((tsc << shift) * mul) >> 32. */
export function timeScale(hz: number): { mul: number; shift: number } {
  let shift = 0;
  let h = BigInt(hz);
  while (h > 2_000_000_000n) { h >>= 1n; shift--; }
  while (h <= 1_000_000_000n) { h <<= 1n; shift++; }
  return { mul: Number((1_000_000_000n << 32n) / h), shift };
}

const SCALE = timeScale(SECONDS * TSC_PER_INSTRUCTION);

/** The boot: vcpu_time_info stamped for the first schedule, the wall clock written
 *  (pv/dom0_build.c, or arch_set_info_guest for a domU), Xen's local APIC timer set up. */
export function initTime(d: PvDomain, sharedInfo: number): void {
  const mem = d.mem;
  mem.writeU32(sharedInfo + SHARED_INFO_WC.version, 2);
  mem.writeU32(sharedInfo + SHARED_INFO_WC.sec, WALLCLOCK_AT_BOOT);
  mem.writeU32(sharedInfo + SHARED_INFO_WC.nsec, 0);
  mem.writeU32(sharedInfo + SHARED_INFO_WC.secHi, 0);
  d.vcpu.periodicLast = now(d);
  updateSystemTime(d);
  const lapic = d.cpu.lapic;
  lapic.write(Reg.Svr, 0x1ff, 0, false);
  lapic.write(Reg.LvtTimer, LOCAL_TIMER_VECTOR | (2 << 17), 0, false); // TSC-deadline mode
}

/** __update_vcpu_system_time: the stamp of the last calibration (a whole second), written
 *  with the version odd while it changes and +2 in all; nothing when it is unchanged. */
export function updateSystemTime(d: PvDomain): void {
  const mem = d.mem;
  const at = d.vcpu.vcpuInfo + VCPU_INFO.time;
  const stamp = Math.floor(now(d) / SECONDS) * SECONDS;
  const tsc = tscAt(d, stamp);
  const fields = new Uint8Array(24);
  const v = new DataView(fields.buffer);
  v.setUint32(0, tsc % TWO32, true); v.setUint32(4, Math.floor(tsc / TWO32), true);
  v.setUint32(8, stamp % TWO32, true); v.setUint32(12, Math.floor(stamp / TWO32), true);
  v.setUint32(16, SCALE.mul, true);
  v.setInt8(20, SCALE.shift);
  v.setUint8(21, 0); // flags: Xen's clocksource is not the TSC (no invariant TSC)
  const old = mem.bytes.subarray(at + VCPU_TIME_INFO.tscTimestamp, at + VCPU_TIME_INFO.tscTimestamp + 24);
  const version = mem.readU32(at + VCPU_TIME_INFO.version);
  if ((version & 1) === 0 && version !== 0 && old.every((b, k) => b === fields[k])) return;
  mem.writeU32(at + VCPU_TIME_INFO.version, ((version + 1) | 1) >>> 0);
  mem.write(at + VCPU_TIME_INFO.tscTimestamp, fields);
  mem.writeU32(at + VCPU_TIME_INFO.version, (version + 2) >>> 0);
}

// ------------------------------------------------------------------ the vCPU's timers

/** The last periodic tick at or before `t`, while the timer runs (ticks fall at
 *  periodic_last_event + k * period). */
function periodicLastBy(d: PvDomain, t: number): number {
  const v = d.vcpu;
  if (v.periodicPeriod === 0 || t < v.periodicLast) return v.periodicLast;
  return v.periodicLast + Math.floor((t - v.periodicLast) / v.periodicPeriod) * v.periodicPeriod;
}

/** vcpu_periodic_timer_work: a tick now if a period has passed since the last one. */
function periodicWork(d: PvDomain, host: EventHost): void {
  const v = d.vcpu;
  if (v.periodicPeriod === 0) return;
  const t = now(d);
  if (t >= v.periodicLast + v.periodicPeriod) {
    sendVirq(d, host, VIRQ_TIMER);
    v.periodicLast = t;
  }
}

/** The vCPU stops running (blocks): the periodic timer stops, its ticks so far taken. */
export function descheduled(d: PvDomain): void {
  d.vcpu.periodicLast = periodicLastBy(d, now(d));
}

/** The vCPU is scheduled again (context_switch): its time stamped, the periodic timer's
 *  catch-up tick. */
export function scheduledIn(d: PvDomain, host: EventHost): void {
  updateSystemTime(d);
  periodicWork(d, host);
  program(d);
}

/** Xen's local APIC timer: TSC deadline of the earliest timer that can do something. */
export function program(d: PvDomain): void {
  const v = d.vcpu;
  let due = Infinity;
  if (v.singleshot >= 0) due = v.singleshot;
  if (v.blocked === 2 && v.pollTimer >= 0 && v.pollTimer < due) due = v.pollTimer;
  if (v.blocked === 0 && v.periodicPeriod !== 0 && d.state.events.virqToPort[VIRQ_TIMER] !== 0) {
    const next = periodicLastBy(d, now(d)) + v.periodicPeriod;
    if (next < due) due = next;
  }
  const tsc = due === Infinity ? 0 : Math.max(tscAt(d, due), 1);
  d.cpu.lapic.writeDeadline(tsc % TWO32 | 0, Math.floor(tsc / TWO32) | 0);
}

/** Whether any timer can still expire (for a vCPU that blocks: can anything wake it). */
export function timerArmed(d: PvDomain): boolean {
  const v = d.vcpu;
  return v.singleshot >= 0 || (v.blocked === 2 && v.pollTimer >= 0);
}

/** The timer interrupt (timer_softirq_action): every expired timer runs. */
export function runTimers(d: PvDomain, host: EventHost): void {
  const v = d.vcpu;
  const t = now(d);
  const running = v.blocked === 0;
  if (v.singleshot >= 0 && v.singleshot <= t) {
    v.singleshot = -1;
    sendVirq(d, host, VIRQ_TIMER); // vcpu_singleshot_timer_fn
  }
  if (v.blocked === 2 && v.pollTimer >= 0 && v.pollTimer <= t) d.unblock(); // poll_timer_fn
  if (running) periodicWork(d, host);
  program(d);
}

/** Arm the single-shot timer at `deadline`; one already due fires before the hypercall
 *  returns (set_timer raises TIMER_SOFTIRQ, which the exit path runs before events). */
function armSingleshot(d: PvDomain, host: EventHost, deadline: number): void {
  d.vcpu.singleshot = deadline;
  runTimers(d, host);
}

/** do_set_timer_op: an absolute system time; 0 stops the timer; negative, or more than 2^50
 *  ns ahead, is "a huge timeout": 100 ms from now. Always 0. */
export function setTimerOp(d: PvDomain, host: EventHost, lo: number, hi: number): number {
  if (lo === 0 && hi === 0) {
    d.vcpu.singleshot = -1;
    program(d);
    return 0;
  }
  const timeout = joined(lo, hi);
  const offset = timeout - now(d);
  if (hi < 0 || (offset > 0 && offset >= 2 ** 50)) armSingleshot(d, host, now(d) + 100 * MILLISECS);
  else armSingleshot(d, host, timeout);
  return 0;
}

/** The timer operations of do_vcpu_op (common/domain.c) for vCPU 0, the current one. */
export function vcpuTimerOp(d: PvDomain, host: EventHost, cmd: number, arg: number): number {
  const v = d.vcpu;
  switch (cmd) {
    case VcpuOpTimer.setPeriodic: {
      const b = d.copyFromGuest(arg, 8);
      if (b === null) return -Errno.EFAULT;
      const dv = new DataView(b.buffer);
      const period = dv.getUint32(4, true) * TWO32 + dv.getUint32(0, true);
      if (period < MILLISECS || period > STIME_DELTA_MAX) return -Errno.EINVAL;
      setPeriodic(d, host, period);
      return 0;
    }
    case VcpuOpTimer.stopPeriodic: setPeriodic(d, host, 0); return 0;
    case VcpuOpTimer.setSingleshot: {
      const b = d.copyFromGuest(arg, 16);
      if (b === null) return -Errno.EFAULT;
      const dv = new DataView(b.buffer);
      const timeout = dv.getUint32(4, true) * TWO32 + dv.getUint32(0, true); // unsigned
      if (timeout < now(d)) {
        // "just inject the event"
        v.singleshot = -1;
        sendVirq(d, host, VIRQ_TIMER);
        program(d);
        return 0;
      }
      armSingleshot(d, host, timeout);
      return 0;
    }
    case VcpuOpTimer.stopSingleshot: v.singleshot = -1; program(d); return 0;
    default: return d.cpu.modelError(`Xen model: VCPUOP ${cmd} is not a timer operation`);
  }
}

/** vcpu_set_periodic_timer: stopped, the new period, and a tick at once if one is due. */
function setPeriodic(d: PvDomain, host: EventHost, period: number): void {
  const v = d.vcpu;
  v.periodicLast = periodicLastBy(d, now(d));
  v.periodicPeriod = period;
  periodicWork(d, host);
  program(d);
}
