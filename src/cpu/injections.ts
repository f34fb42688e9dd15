// Injections from outside the guest (README, "Command line", and docs/architecture.md, "Injection":
// `--inject nmi@N`, `--inject irq:VEC@N`, `--inject nmi@rip=ADDR`): an NMI, or a fixed
// interrupt set in the local APIC's IRR, raised at virtual time N (vCPU 0's tick count) or
// the first time RIP reaches ADDR. Raising is all an injection does; the event window
// (events.ts) takes the event when it can be taken (NMI blocking, the MOV SS shadow, IF,
// TPR), so an injection is held pending exactly as the same event from the APIC would be.
//
// At a tick: fired by the event window at the first boundary whose tick is at least N (a
// halt skips ahead to it: nextEventDue says when). At an address: the address becomes a
// watch in the decode cache (host-entry.ts `watch`), so reaching it costs the hot path
// nothing, compiled blocks end before it, and it fires at the boundary before the
// instruction there executes, wherever that boundary is (mid-block, a branch target, a
// handler's first instruction). A fired watch is removed: the instruction then runs.
//
// Injections are run configuration, not machine state (like host entry points): capture()
// holds the events they raised (a pending NMI, IRR bits), not the schedule. A machine
// restored at tick T is given the tick injections after T (the window at T already ran)
// and every address injection again (lab/run.ts restoreMachine).
//
// Deliberate deviations:
// - ADDR is compared with the linear address of the next instruction (CS.base + RIP, the
//   same as RIP wherever CS.base = 0, as in 64-bit mode).
// - A watch is found when its instruction is fetched: if fetching it faults (a
//   non-present code page), the fault is delivered first, and the watch fires when the
//   fetch succeeds (where hardware would take an NMI pending at that boundary first).
// - A watch at a host entry point is a model error (both would claim the address).

import type { Cpu } from './cpu.js';

export type InjectedEvent = { kind: 'nmi' } | { kind: 'irq'; vector: number };

export interface Injection {
  event: InjectedEvent;
  /** Virtual time (tick) at which it fires, or the linear address that fires it. */
  at: { tick: number } | { rip: number };
}

export class Injections {
  /** Tick injections not yet fired, in tick order (stable: the command line's order). */
  private readonly byTick: { tick: number; event: InjectedEvent }[] = [];
  /** The tick of the next tick injection (Infinity: none). */
  due = Infinity;
  /** NMIs still to be injected at a tick (for a halt with IF = 0: can anything end it?). */
  private nmisAhead = 0;

  constructor(private readonly cpu: Cpu) {}

  add(injection: Injection): void {
    const { event, at } = injection;
    if (event.kind === 'irq' && !(Number.isInteger(event.vector) && event.vector >= 16 && event.vector <= 255)) {
      throw new Error(`injected interrupt vector ${event.vector} is not 16..255`);
    }
    if ('tick' in at) {
      if (!Number.isSafeInteger(at.tick) || at.tick < 0) throw new Error(`injection tick ${at.tick} is not a tick`);
      let k = this.byTick.length;
      while (k > 0 && this.byTick[k - 1].tick > at.tick) k--;
      this.byTick.splice(k, 0, { tick: at.tick, event });
      if (event.kind === 'nmi') this.nmisAhead++;
      this.due = this.byTick[0].tick;
      this.cpu.eventPending();
      return;
    }
    const cpu = this.cpu;
    const existing = cpu.hostEntries.at(at.rip);
    if (existing !== undefined && !existing.isWatch) cpu.modelError(`an injection at host entry point ${existing.name} (0x${at.rip.toString(16)})`);
    cpu.hostEntries.watch(at.rip, () => this.raise(event));
  }

  /** At a boundary whose tick is `now` >= due: raise every injection due by then. */
  fire(now: number): void {
    while (this.byTick.length > 0 && this.byTick[0].tick <= now) {
      const { event } = this.byTick.shift()!;
      if (event.kind === 'nmi') this.nmisAhead--;
      this.raise(event);
    }
    this.due = this.byTick.length > 0 ? this.byTick[0].tick : Infinity;
  }

  /** Whether an NMI is still to be injected at a tick (a watch cannot fire during a halt). */
  get nmiAhead(): boolean {
    return this.nmisAhead > 0;
  }

  private raise(event: InjectedEvent): void {
    if (event.kind === 'nmi') this.cpu.raiseNmi();
    else this.cpu.lapic.receive(event.vector);
  }
}
