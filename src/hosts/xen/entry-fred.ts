// Xen's ring 0 in FRED mode (xen/arch/x86/x86_64/entry-fred.S and traps.c entry_from_pv,
// entry_from_xen, handle_eretu_event at c447b7308b; xen-pv-abi.md §3): every event from the
// guest arrives at one entry point, entry_FRED_R3 (IA32_FRED_CONFIG), with the CPU's 64-byte
// frame on Xen's stack level 0, the top of the primary stack, where struct cpu_user_regs and
// the event data overlay it; events in Xen's own context at entry_FRED_R0, 256 bytes on.
//
// entry_from_pv dispatches on the event type the frame's augmented SS carries:
// - an external interrupt: do_IRQ (the model's only one is Xen's local APIC timer, time.ts);
// - INT n (not 3 or 4): permit_softint against the guest's trap table, then the software
//   interrupt with RIP after the instruction, else #GP((n << 3) | 2) with RIP moved back by
//   the instruction's real length. INT $0x80 is no different (no fast path, and the DPL the
//   guest gave it counts, unlike IDT mode's entry_int80);
// - exceptions, INT1, INT3, INTO, INT $3 and INT $4: the same C handlers as IDT mode, with
//   #PF's address and #DB's conditions from the event data;
// - SYSCALL (type 7, vector 1): Xen recreates what SYSCALL used to leave — Xen's flat CS/SS
//   (or the 32-bit user ones for a compatibility-mode SYSCALL), written as whole quadwords so
//   the event's description goes — and, with c5a4b9125b, regs->rcx := RIP, regs->r11 :=
//   RFLAGS. From guest kernel mode (a 64-bit or a compatibility-mode SYSCALL alike) it is a
//   hypercall; from user mode the syscall (syscall32) callback with DF cleared first, or #UD
//   at the SYSCALL, RIP moved back by its real length;
// - SYSENTER (type 7, vector 2): the legacy frame (RIP 0, CS 3, RSP 0, FLAT_USER_SS) with IF
//   and VM cleared — and IF not set again: the callback runs with IF = 0 — then the sysenter
//   callback, or #GP(0).
// Then the exit loop IDT mode shares (exit.ts test_all_events), ending in eretu_exit_to_guest:
// with c5a4b9125b, when a bounce frame was built (TRAP_syscall set by create_bounce_frame)
// %rcx and %r11 are loaded from the frame's RIP and RFLAGS as SYSRET would have; then ERETU.
//
// ERETU faulting (handle_eretu_event): a #GP(0) whose frame Xen itself got wrong (a stack
// level, CS, RFLAGS or SS that ERETU refuses with non-null selectors) crashes the domain with
// Xen's message; any other fault is the guest's, delivered as if its own instruction at the
// frame's RIP had raised it.
//
// Deliberate deviations (model errors rather than guesses): NMI, #DF, #MC, #NM and nested
// events reaching Xen; any event in Xen's own context other than a fault of the exit's ERETU
// and a #DB a MOV SS shadow held over the event that entered Xen (handle_DB: "Hit #DB in Xen
// context"); external interrupts other than Xen's timer.

import type { Cpu } from '../../cpu/cpu.js';
import * as V from '../../arch/vectors.js';
import { FredType, VECTOR_SYSCALL, VECTOR_SYSENTER } from '../../cpu/fred.js';
import {
  FLAT_KERNEL_CS, FLAT_KERNEL_SS, FLAT_USER_CS32, FLAT_USER_SS, FLAT_USER_SS32, VGCF_syscall_disables_events,
} from '../../arch/xen.js';
import { TBF_EXCEPTION, TBF_INTERRUPT, injectEvent, vectorName } from './bounce.js';
import { exitToGuest, handleException, permitSoftint, type Ring0 } from './entry.js';
import { RCX, R11, RSP, gpr, ripOf, setRip, type GuestRegs } from './regs.js';
import { XEN_VA } from './address-space.js';
import { LOCAL_TIMER_VECTOR } from './time.js';

/** entry_FRED_R3: 4 KiB aligned, at the start of Xen's entry text; entry_FRED_R0 256 bytes on. */
export const ENTRY_FRED_R3 = XEN_VA.text;
export const ENTRY_FRED_R0 = ENTRY_FRED_R3 + 0x100;

const TWO32 = 4294967296;
const IF = 0x200, DF = 0x400, VM = 0x20000;
const X86_XEC_IDT = 2;
/** The augmented SS's high half: vector 7:0, type 19:16, 64-bit mode 25, nested 26, length 31:28. */
const SS_HI_NESTED = 1 << 26, SS_HI_LONG = 1 << 25;

/** An event as the frame describes it (regs->fred_ss and struct fred_info). */
interface FredEvent {
  type: number;
  vector: number;
  insnLen: number;
  long: boolean;
  nested: boolean;
  /** The event data, as a number (a canonical address or a small value). */
  data: number;
}

/** Register Xen's FRED entry points on the vCPU. */
export function registerFredEntryPoints(cpu: Cpu, x: Ring0): void {
  cpu.hostEntries.register(ENTRY_FRED_R3, 'entry_FRED_R3', () => entryFredR3(x));
  cpu.hostEntries.register(ENTRY_FRED_R0, 'entry_FRED_R0', () => entryFredR0(x));
}

/** The CPU's frame at RSP as regs (cpu_user_regs from error_code up) and the event. */
function readFrame(cpu: Cpu, at: number): { regs: GuestRegs; event: FredEvent } {
  const errorCode = cpu.read64(at) >>> 0;
  const ripLo = cpu.read64(at + 8), ripHi = cpu.hi;
  const cs = cpu.read64(at + 16) & 0xffff;
  const rflags = cpu.read64(at + 24) >>> 0;
  const rspLo = cpu.read64(at + 32), rspHi = cpu.hi;
  const ss = cpu.read64(at + 40) >>> 0, ssHi = cpu.hi >>> 0;
  const dataLo = cpu.read64(at + 48), dataHi = cpu.hi;
  const event: FredEvent = {
    type: (ssHi >>> 16) & 0xf, vector: ssHi & 0xff, insnLen: ssHi >>> 28,
    long: (ssHi & SS_HI_LONG) !== 0, nested: (ssHi & SS_HI_NESTED) !== 0,
    data: dataHi * TWO32 + (dataLo >>> 0),
  };
  // "Copy fred_ss.vector into entry_vector as IDT delivery would have done."
  return { regs: { ripLo, ripHi, cs, rflags, rspLo, rspHi, ss, ssHi, entryVector: event.vector, errorCode }, event };
}

/** entry_FRED_R3: entry_from_pv, then test_all_events (an NMI's exit skips it: not modelled). */
function entryFredR3(x: Ring0): void {
  const cpu = x.d.cpu;
  const { regs, event } = readFrame(cpu, gpr(cpu, RSP));
  if (event.type === FredType.External) return externalInterrupt(x, regs, event);
  entryFromPv(x, regs, event);
  exitToGuest(x, regs);
}

/** entry_from_pv (traps.c), the synchronous events; the asynchronous ones are model errors
 *  but for Xen's timer. */
function entryFromPv(x: Ring0, regs: GuestRegs, e: FredEvent): void {
  const d = x.d;
  const cpu = d.cpu;
  if (e.nested) return cpu.modelError('Xen model: a nested FRED event from the guest (fatal_trap) is not modelled');
  switch (e.type) {
    case FredType.Nmi:
      return cpu.modelError('Xen model: an NMI reaching Xen is not modelled');
    case FredType.HardwareException:
      if (e.vector === V.DF || e.vector === V.MC) return cpu.modelError(`Xen model: ${vectorName(e.vector)} reaching Xen is not modelled`);
      break;
    default:
      break;
  }
  switch (e.type) {
    case FredType.SoftwareInterrupt:
      // INT $3 and INT $4 are #BP and #OF whatever DPL the guest gave them.
      if (e.vector !== V.BP && e.vector !== V.OF) return softwareInterrupt(x, regs, e);
      return handleException(x, regs, e.vector, e.data);
    case FredType.HardwareException:
    case FredType.PrivilegedSoftwareException:
    case FredType.SoftwareException:
      return handleException(x, regs, e.vector, e.data);
    case FredType.Other:
      if (e.vector === VECTOR_SYSCALL) return syscall(x, regs, e);
      if (e.vector === VECTOR_SYSENTER) return sysenter(x, regs);
      break;
    default:
      break;
  }
  cpu.modelError(`Xen model: FRED event type ${e.type} vector ${e.vector} from the guest (fatal_trap) is not modelled`);
}

/** INT n: permit_softint, else #GP((n << 3) | IDT) at the INT, "the more correct behaviour
 *  rather than assuming the instruction was two bytes long". */
function softwareInterrupt(x: Ring0, regs: GuestRegs, e: FredEvent): void {
  const d = x.d;
  const ti = d.vcpu.trapCtxt[e.vector];
  if (permitSoftint(ti.flags & 3, d, regs)) return injectEvent(d, regs, x.tb, e.vector, null);
  setRip(regs, ripOf(regs) - e.insnLen);
  injectEvent(d, regs, x.tb, V.GP, (e.vector << 3) | X86_XEC_IDT);
}

/** SYSCALL: the legacy selectors back, the compatibility patch's %rcx/%r11, then a
 *  hypercall, the syscall callback or #UD. */
function syscall(x: Ring0, regs: GuestRegs, e: FredEvent): void {
  const d = x.d;
  const cpu = d.cpu;
  const v = d.vcpu;
  regs.ss = e.long ? FLAT_KERNEL_SS : FLAT_USER_SS32;
  regs.ssHi = 0;
  regs.cs = e.long ? FLAT_KERNEL_CS : FLAT_USER_CS32;
  if (d.version.fredSyscallCompat) {
    // c5a4b9125b: regs->rcx = regs->rip; regs->r11 = regs->rflags.
    cpu.regLo[RCX] = regs.ripLo;
    cpu.regHi[RCX] = regs.ripHi;
    cpu.regLo[R11] = regs.rflags;
    cpu.regHi[R11] = 0;
  }
  // guest_kernel_mode: a compatibility-mode SYSCALL from the guest kernel is a hypercall too.
  if (d.vcpu.kernelMode) return x.hypercall(regs);
  const callback = e.long ? v.syscallCallback : v.syscall32Callback;
  if (callback === 0) {
    setRip(regs, ripOf(regs) - e.insnLen);
    return injectEvent(d, regs, x.tb, V.UD, null);
  }
  // "The PV ABI, given no virtual SYSCALL_MASK, hardcodes that DF is cleared": before the
  // bounce frame is written, so the frame's RFLAGS lose DF too (IDT mode clears it after).
  regs.rflags &= ~DF;
  // pv_inject_callback: VGCF_syscall_disables_events for both callbacks' asm in IDT mode,
  // but syscall32_disables_events for the 32-bit one here.
  const masks = e.long ? (v.vgcFlags & VGCF_syscall_disables_events) !== 0 : v.syscall32DisablesEvents;
  x.tb.flags = TBF_EXCEPTION | (masks ? TBF_INTERRUPT : 0);
  x.tb.eip = callback;
  x.tb.errorCode = 0;
}

/** SYSENTER: "recreate the legacy behaviour" — but IF stays clear. */
function sysenter(x: Ring0, regs: GuestRegs): void {
  const d = x.d;
  const v = d.vcpu;
  regs.ss = FLAT_USER_SS;
  regs.ssHi = 0;
  regs.rspLo = 0;
  regs.rspHi = 0;
  regs.rflags &= ~(VM | IF);
  regs.cs = 3;
  regs.ripLo = 0;
  regs.ripHi = 0;
  if (v.sysenterCallback === 0) return injectEvent(d, regs, x.tb, V.GP, 0);
  x.tb.flags = TBF_EXCEPTION | (v.sysenterDisablesEvents ? TBF_INTERRUPT : 0);
  x.tb.eip = v.sysenterCallback;
  x.tb.errorCode = 0;
}

/** do_IRQ from guest context: Xen's timer (time.ts), then the way out; a vCPU still blocked
 *  halts again. */
function externalInterrupt(x: Ring0, regs: GuestRegs, e: FredEvent): void {
  if (e.vector !== LOCAL_TIMER_VECTOR) return x.d.cpu.modelError(`Xen model: interrupt vector ${e.vector} reached Xen (no device raises it)`);
  const asleep = x.timerInterrupt();
  exitToGuest(x, regs);
  if (asleep) x.backToSleep();
}

/** entry_FRED_R0: entry_from_xen, then ERETS back to Xen (or, for the exit's ERETU faulting,
 *  handle_eretu_event's recovery). */
function entryFredR0(x: Ring0): void {
  const d = x.d;
  const cpu = d.cpu;
  const { regs: frame, event } = readFrame(cpu, gpr(cpu, RSP));
  if (event.type === FredType.HardwareException && x.exiting !== null) return eretuFault(x, frame, event);
  if ((event.type === FredType.HardwareException || event.type === FredType.PrivilegedSoftwareException) && event.vector === V.DB) {
    // handle_DB, !guest_mode: a data breakpoint held over the event that entered Xen.
    const name = cpu.hostEntries.at(ripOf(frame))?.name ?? '?';
    d.log(`(XEN) d${d.state.dom0 ? 0 : 1}v0 Hit #DB in Xen context: ${hex4(frame.cs)}:${hex16(frame.ripLo, frame.ripHi)} [${name}], stk ${hex4(frame.ss & 0xffff)}:${hex16(frame.rspLo, frame.rspHi)}, dbg ${event.data.toString(16)}`);
    return cpu.hostEntries.leave('erets');
  }
  cpu.modelError(`Xen model: ${event.type === FredType.HardwareException ? vectorName(event.vector) : `FRED event type ${event.type} vector ${event.vector}`} in Xen's own context at ${hex16(frame.ripLo, frame.ripHi)}`);
}

/** handle_eretu_event: the exit's ERETU faulted on the frame `x.exiting` describes. */
function eretuFault(x: Ring0, fault: GuestRegs, e: FredEvent): void {
  const d = x.d;
  const g = x.exiting!;
  x.exiting = null;
  // A #GP(0) with non-null selectors means Xen built a frame ERETU refuses: a Xen bug.
  if (e.vector === V.GP && fault.errorCode === 0 && (g.cs & ~3) !== 0 && (g.ss & 0xfffc) !== 0) {
    const csBad = (g.cs & 0xffff0003) !== 3;
    const flagsBad = (g.rflags & 0xffc2b02a) !== 2;
    const ssBad = (g.ss & 0xfff80003) !== 3;
    if (csBad || flagsBad || ssBad) {
      const ssx = g.ss >>> 0;
      d.log(`(XEN) d${d.state.dom0 ? 0 : 1}v0 Bad return state: csx ${'0x' + g.cs.toString(16)}, rflags ${'0x' + g.rflags.toString(16)}, ssx ${'0x' + ssx.toString(16)}`);
      d.log(`(XEN) domain_crash_sync called from entry.S: fault at ${hex16(ENTRY_FRED_R3 % TWO32, Math.floor(ENTRY_FRED_R3 / TWO32))} eretu`);
      d.end({ kind: 'crash', why: 'Bad return state (ERETU)' });
      return;
    }
  }
  if (e.vector !== V.GP && e.vector !== V.NP && e.vector !== V.SS && e.vector !== V.PF) {
    return d.cpu.modelError(`Xen model: ${vectorName(e.vector)} on the exit's ERETU is not modelled`);
  }
  // The guest's error: entry_FRED_R3 as if its instruction at the frame's RIP had faulted,
  // the new event's vector, error code and data on the guest's frame.
  const regs: GuestRegs = { ...g, entryVector: e.vector, errorCode: fault.errorCode, ss: (fault.ss & ~0xffff) | (g.ss & 0xffff), ssHi: fault.ssHi };
  handleException(x, regs, e.vector, e.data);
  exitToGuest(x, regs);
}

function hex4(v: number): string {
  return v.toString(16).padStart(4, '0');
}

/** printk's %p of a 64-bit value in halves: 16 hex digits. */
function hex16(lo: number, hi: number): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}
