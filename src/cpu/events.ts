// The event window: what happens at an instruction boundary, in one place.
//
// The run loop (cpu.ts) executes instructions until the budget or until `icountLimit`,
// which is lowered to the next boundary whenever something becomes pending
// (Cpu.eventPending) or falls due. At every such boundary it calls eventWindow(), which
// takes what is due in the order of SDM Vol. 3A §6.9, Table 6-2 "Priority Among
// Concurrent Exceptions and Interrupts":
//
//   1-3. reset, machine check, task-switch traps, external interventions — not modelled;
//   4.   traps on the previous instruction: debug traps (single step, data and I/O
//        breakpoints: debug.ts);
//   5.   nonmaskable interrupts          — from the local APIC (an NMI IPI, lapic.ts) or
//        injected (injections.ts), whatever RFLAGS.IF is, unless NMIs are blocked (an NMI
//        was delivered and no IRET has executed since, §6.7.1) or the boundary is in the
//        MOV SS shadow; one NMI is held while it cannot be delivered;
//   6.   maskable hardware interrupts    — from the local APIC (lapic.ts), when RFLAGS.IF = 1
//        and the boundary is in neither the STI nor the MOV SS shadow (SDM Vol. 3A §6.8.3);
//   7.   instruction breakpoints on the next instruction (debug.ts), while one is armed;
//   8-.  faults of the next instruction — raised by the instruction itself.
//
// Before those, the end of the previous instruction completes: RF is cleared after the
// instruction that follows an IRET which loaded RF = 1 (SDM Vol. 3B §18.3.1.1), and the
// APIC timer expires if its tick has come (apic-timer.ts), and injections whose tick has
// come are raised (injections.ts; those at an address are raised by their watch).
//
// A delivery ends a halt (cpu.halted): HLT resumes at the handler, and the frame holds the
// address after HLT (SDM HLT: "an enabled interrupt (including NMI) ... resumes execution").
// An NMI ends a halt with IF = 0 too; a halt that nothing can end ends the run (canEndHalt).
//
// Every item is due at an instruction count, so the window is idempotent: running it twice
// at the same boundary (a run stopped there by its budget, or captured and restored there)
// does nothing the second time. That is what makes capture/restore exact at any boundary.
//
// To add a kind of event: give it state in Cpu (and in state.ts EventState, captured and
// restored), make whatever raises it call cpu.eventPending(), take it below at its place
// in the priority order (respecting the shadows), and say in nextEventDue when it is due.
//
// Deliberate deviations:
// - Task-switch traps (TSS T flag) do not exist: task switches are not modelled.
// - The MOV SS / POP SS shadow holds NMIs too: §6.8.3 inhibits "interrupts", and Vol. 3C
//   "Guest Non-Register State" (the interruptibility state's "Blocking by MOV-SS") names
//   them: "interrupts (maskable and nonmaskable)". The STI shadow does not: SDM STI says
//   NMIs "may be inhibited" after an STI that sets IF -- a choice the SDM leaves open; the
//   model takes "not inhibited" on both vendor flavours (AMD APM Vol. 3 STI speaks of INTR).
// - NMI delivery is blocked from the moment the NMI is delivered; if its delivery faults,
//   the fault's handler also runs with NMIs blocked (until an IRET).

import type { Cpu } from './cpu.js';
import * as R from '../arch/rflags.js';
import * as V from '../arch/vectors.js';
import { deliverException, deliverInterrupt, Source } from './idt.js';
import { DR6_BS, instructionBreakpoints, reportDebug } from './debug.js';
import { fredEnabled } from './fred.js';

/** Deliveries one window may make before the guest runs again: each delivery leaves a
 *  boundary (the handler's first instruction) that may itself have events due. */
const MAX_DELIVERIES = 4;

/** Take what is due at the current instruction boundary. */
export function eventWindow(cpu: Cpu): void {
  const now = cpu.icount;

  // The previous instruction completes: RF is cleared after it (§18.3.1.1).
  if (cpu.rfClearAt >= 0 && now >= cpu.rfClearAt) {
    cpu.flagsRest &= ~R.RF;
    cpu.rfClearAt = -1;
  }
  // §18.3.1.4: TF was set when the instruction that just retired began: a single-step trap.
  // (A delivery during that instruction disarmed it: transition.ts.)
  if (cpu.stepArmedAt >= 0 && now > cpu.stepArmedAt) {
    cpu.pendingDebug |= DR6_BS;
    cpu.stepArmedAt = -1;
  }
  // §18.3.1.2: data and I/O breakpoints the instruction matched are traps after it.
  if (cpu.dataHits !== 0) {
    cpu.pendingDebug |= cpu.dataHits;
    cpu.dataHits = 0;
  }
  if (cpu.movSsShadowAt >= 0 && now > cpu.movSsShadowAt) cpu.movSsShadowAt = -1;
  if (cpu.repYieldAt >= 0 && now > cpu.repYieldAt) cpu.repYieldAt = -1;
  if (cpu.stiShadowAt >= 0 && now > cpu.stiShadowAt) cpu.stiShadowAt = -1;
  if (now >= cpu.lapic.timerDue) cpu.lapic.expireTimer(now);
  if (now >= cpu.injections.due) cpu.injections.fire(now);

  for (let n = 0; n < MAX_DELIVERIES && cpu.endReason === null; n++) {
    // Vol. 3A §6.8.3: after MOV SS / POP SS, debug exceptions are held until the boundary
    // after the next instruction (and then reported together with that one's).
    const movSsShadow = cpu.movSsShadowAt === now;
    if (cpu.pendingDebug !== 0 && !movSsShadow) {
      const conditions = cpu.pendingDebug;
      reportDebug(cpu, conditions);
      cpu.pendingDebug = 0;
      // §18.3.1.1: a trap after an iteration of a REP string instruction but the last pushes RF = 1.
      deliverException(cpu, V.DB, 0, Source.Trap, cpu.repYieldAt === now ? R.RF : 0, conditions);
      cpu.halted = false;
      continue;
    }
    // §6.7: NMIs ignore IF; §6.7.1: delivering one blocks the next until an IRET.
    if (cpu.nmiPending && !cpu.nmiBlocked && !movSsShadow) {
      cpu.nmiPending = false;
      // IDT delivery blocks NMIs as it starts (head of this file); FRED delivery once it is
      // done (fred.ts).
      if (!fredEnabled(cpu)) cpu.nmiBlocked = true;
      deliverInterrupt(cpu, V.NMI, Source.Nmi);
      cpu.halted = false;
      continue;
    }
    if (cpu.intrPending && (cpu.flagsRest & R.IF) !== 0 && !movSsShadow && cpu.stiShadowAt !== now) {
      deliverInterrupt(cpu, cpu.lapic.accept());
      cpu.halted = false;
      continue;
    }
    // §18.3.1.1: an instruction breakpoint is a fault before the instruction, unless RF = 1 or
    // (Intel) the instruction follows MOV SS / POP SS; AMD takes it there (kvm-unit-tests
    // x86/emulator.c test_mov_pop_ss_code_db, run on hardware: "On Intel, code #DBs are
    // inhibited when MOV/POP SS blocking is active", one #DB expected otherwise). The frame's
    // RF is the current one (0): the handler sets RF in the frame to resume past it.
    if (cpu.bpExec !== 0 && !cpu.halted && (cpu.flagsRest & R.RF) === 0 && !(movSsShadow && cpu.model.vendor === 'intel')) {
      const hits = instructionBreakpoints(cpu);
      if (hits !== 0) {
        reportDebug(cpu, hits);
        deliverException(cpu, V.DB, 0, Source.Fault, 0, hits);
        continue;
      }
    }
    break;
  }

  // TF at the start of the next instruction arms a trap after it. The instruction that sets
  // TF is not trapped: TF was clear when it began (§18.3.1.4).
  if ((cpu.flagsRest & R.TF) !== 0 && cpu.stepArmedAt < 0) cpu.stepArmedAt = now;
}

/** The instruction count of the next boundary at which eventWindow has something to do
 *  (Infinity: none). */
export function nextEventDue(cpu: Cpu): number {
  let due = Infinity;
  if (cpu.rfClearAt >= 0 && cpu.rfClearAt < due) due = cpu.rfClearAt;
  if (cpu.stepArmedAt >= 0 && cpu.stepArmedAt + 1 < due) due = cpu.stepArmedAt + 1;
  if (cpu.pendingDebug !== 0 && cpu.icount + 1 < due) due = cpu.icount + 1;
  // An armed instruction breakpoint is checked at every boundary where an instruction starts.
  if (cpu.bpExec !== 0 && !cpu.halted && cpu.icount + 1 < due) due = cpu.icount + 1;
  // An interrupt the window could not take (a shadow) is taken at the next boundary; with
  // IF = 0, whatever sets IF calls cpu.eventPending.
  if (cpu.intrPending && (cpu.flagsRest & R.IF) !== 0 && cpu.icount + 1 < due) due = cpu.icount + 1;
  // Likewise an NMI held by the MOV SS shadow; a blocked one waits for IRET (cpu.unblockNmi).
  if (cpu.nmiPending && !cpu.nmiBlocked && cpu.icount + 1 < due) due = cpu.icount + 1;
  const timer = cpu.lapic.timerDue;
  if (timer < due) due = timer;
  const injection = cpu.injections.due;
  if (injection < due) due = injection;
  return due;
}

/** Whether anything can ever end a halt (SDM HLT): an interrupt with IF = 1, or an NMI --
 *  one held and not blocked, or one still to be injected at a tick. Blocked NMIs wait for
 *  an IRET, which a halted vCPU cannot execute. */
export function canEndHalt(cpu: Cpu): boolean {
  if ((cpu.flagsRest & R.IF) !== 0) return true;
  return !cpu.nmiBlocked && (cpu.nmiPending || cpu.injections.nmiAhead);
}
