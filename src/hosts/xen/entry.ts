// Xen's ring 0 in IDT mode: the entry points guest code reaches through the CPU's own
// SYSCALL, SYSENTER, INT and exception delivery, what each does (x86_64/entry.S and traps.c
// at c447b7308b; xen-pv-abi.md §1), and the common way out (exit.ts).
//
// - lstar_enter / cstar_enter: SYSCALL from 64-bit / compatibility mode. The per-CPU stub
//   parks %rax and switches to Xen's stack; the frame gets RIP = %rcx, RFLAGS = %r11 and
//   Xen's flat CS/SS; entry_vector = TRAP_syscall. From the guest kernel: a hypercall. From
//   guest user: switch_to_kernel, a bounce to the syscall (CS 0xe023: syscall32) callback
//   with DF cleared for the callback, or #UD at the SYSCALL when none is registered.
// - sysenter_entry (Intel; on AMD the CPU raises #UD itself): the frame Xen builds has
//   RIP 0, CS 3, RSP 0 and the flags with IF set again; the sysenter callback, or #GP(0).
// - entry_int80 (gate DPL 3): straight to trap_ctxt[0x80] when it has a handler, else as
//   the #GP(0x80 << 3 | IDT) that a DPL 0 gate would give, at the INT instruction.
// - exceptions: from the guest, bounced through its trap table (do_general_protection,
//   do_invalid_op, do_page_fault, ... -> pv_inject_event); INT n at a DPL 0 gate arrives as
//   #GP((n << 3) | 2) and becomes the software interrupt when the trap table's DPL permits
//   (permit_softint), RIP advanced past the INT by its decoded length (priv-op.ts).
// - A fault on the exit's IRETQ (a non-canonical RIP from HYPERVISOR_iret, a bad selector)
//   arrives from ring 0; as Xen's pre-exception table does, it is handled as that exception
//   taken by the guest context being restored.
//
// - #DB in Xen's own context (handle_DB, !guest_mode): a data breakpoint held by a MOV SS /
//   POP SS shadow over the SYSCALL, INT n or exception that entered Xen arrives at Xen's
//   entry point, on its IST stack (XSA-260). DR6 is reset, a warning logged, and Xen returns
//   to where it was: the guest never sees that #DB. (An instruction breakpoint cannot match
//   in Xen: set_debugreg keeps DR0-DR3 out of Xen's range.)
//
// - Xen 3.0.4 and 3.1.1 (version.ts, one field a point): 3.1.1's trampoline leaves
//   &syscall_enter in regs->r11; no DF clearing, no syscall32/sysenter callbacks, a domain
//   crash without a syscall callback; a fault on the exit's IRETQ went to the failsafe
//   callback, not modelled.
//
// Deliberate deviations (model errors rather than guesses): NMI, #DF and #MC reaching Xen;
// #NM (the model has no FPU state to switch lazily); any other fault in Xen's own context,
// a single-step #DB there included (the SYSENTER path's TF); interrupts at
// vectors 0x20-0xff other than 0x80 and Xen's own timer (LOCAL_TIMER_VECTOR, time.ts): there
// are no devices.

import type { Cpu } from '../../cpu/cpu.js';
import * as V from '../../arch/vectors.js';
import {
  FLAT_KERNEL_CS, FLAT_KERNEL_SS, FLAT_USER_CS32, FLAT_USER_SS, TRAP_syscall, VGCF_syscall_disables_events,
} from '../../arch/xen.js';
import type { PvDomain } from './domain.js';
import { createBounceFrame, DR6_DEFAULT, guestKernelMode, injectDebug, vectorName, hasErrorCode, injectEvent, TBF_EXCEPTION, TBF_EXCEPTION_ERRCODE, TBF_INTERRUPT, type TrapBounce } from './bounce.js';
import { restoreAllGuest, testAllEvents, type ExitStack } from './exit.js';
import { emulateForcedInvalidOp, emulatePrivilegedOp, emulateSwInterrupt } from './priv-op.js';
import { RCX, R11, RSP, gpr, ripOf, setRip, type GuestRegs } from './regs.js';
import { CSTAR_STUB, LSTAR_STUB, TEXT_OFFSET, XEN_VA, type XenFrames } from './address-space.js';
import { ldtFault, type PvMemory } from './mm.js';
import { vectorEntry } from './descriptor-tables.js';
import { LOCAL_TIMER_VECTOR } from './time.js';
import { SYSCALL_ENTER_2007 } from './version.js';

const IF = 0x200, TF = 0x100;
const TWO32 = 4294967296;
const X86_XEC_IDT = 2;

/** What the entry paths need from the host. */
export interface Ring0 {
  readonly d: PvDomain;
  readonly stack: ExitStack;
  /** pv_hypercall: a SYSCALL from the guest kernel. */
  hypercall(regs: GuestRegs): void;
  /** The regs an exit's IRETQ is restoring, while it runs (for the fault fixup). */
  exiting: GuestRegs | null;
  /** The vCPU's pending bounce (v->arch.pv.trap_bounce), consumed on the way out. */
  readonly tb: TrapBounce;
  /** Xen's local APIC timer interrupt (time.ts): true when the vCPU, blocked, stays asleep
   *  after the exit path; backToSleep then halts it again. */
  timerInterrupt(): boolean;
  backToSleep(): void;
  /** Xen's memory bookkeeping and frames (the LDT's shadow mappings, mm.ts). */
  readonly mm: PvMemory;
  readonly frames: XenFrames;
}


export const SYSENTER_ENTRY = XEN_VA.text + TEXT_OFFSET.sysenter;

/** Register Xen's entry points on the vCPU. */
export function registerEntryPoints(cpu: Cpu, x: Ring0): void {
  cpu.hostEntries.register(LSTAR_STUB, 'lstar_enter', () => syscallEnter(x, false));
  cpu.hostEntries.register(CSTAR_STUB, 'cstar_enter', () => syscallEnter(x, true));
  cpu.hostEntries.register(SYSENTER_ENTRY, 'sysenter_entry', () => sysenterEntry(x));
  for (let v = 0; v < 32; v++) cpu.hostEntries.register(vectorEntry(v), `exception_${v}`, () => exception(x, v));
  cpu.hostEntries.register(vectorEntry(0x80), 'entry_int80', () => int80(x));
  cpu.hostEntries.register(vectorEntry(LOCAL_TIMER_VECTOR), 'apic_timer_interrupt', () => timerInterrupt(x));
  for (let v = 32; v < 256; v++) {
    if (v !== 0x80 && v !== LOCAL_TIMER_VECTOR) cpu.hostEntries.register(vectorEntry(v), `irq_${v}`, (c) => c.modelError(`Xen model: interrupt vector ${v} reached Xen (no device raises it)`));
  }
}

/** Leave for the guest: test_all_events, then restore_all_guest. */
export function exitToGuest(x: Ring0, regs: GuestRegs): void {
  const d = x.d;
  if (d.ended) return;
  if (!testAllEvents(d, regs, x.tb)) return;
  restoreAllGuest(d, regs, x.stack, (r) => { x.exiting = r; });
  x.exiting = null;
}

function syscallEnter(x: Ring0, compat: boolean): void {
  const cpu = x.d.cpu;
  // 3.1.1's trampoline (369bafdb1c): `movabs $syscall_enter, %r11; jmp *%r11` after pushing
  // %r11 into the RFLAGS slot, so the frame below still gets the user's RFLAGS while
  // regs->r11 (the live %r11 here, regs.ts) is the address until the exit.
  const r11 = x.d.version.trampoline2007 === 'r11';
  const rflags = cpu.regLo[R11] >>> 0;
  if (r11) { cpu.regLo[R11] = SYSCALL_ENTER_2007.lo; cpu.regHi[R11] = SYSCALL_ENTER_2007.hi; }
  const regs: GuestRegs = {
    ripLo: cpu.regLo[RCX], ripHi: cpu.regHi[RCX],
    cs: compat ? FLAT_USER_CS32 : FLAT_KERNEL_CS,
    rflags,
    rspLo: cpu.regLo[RSP], rspHi: cpu.regHi[RSP],
    ss: compat ? FLAT_USER_SS : FLAT_KERNEL_SS, ssHi: 0,
    entryVector: TRAP_syscall, errorCode: 0,
  };
  if (x.d.vcpu.kernelMode && !compat) x.hypercall(regs);
  else switchToKernel(x, regs);
  exitToGuest(x, regs);
}

/** switch_to_kernel: a bounce to the syscall (or syscall32) callback, or #UD at the SYSCALL
 *  when there is none (Xen >= 4.15). "The PV ABI ... hardcodes that DF is cleared": the asm
 *  keeps ~DF in %esi across `call create_bounce_frame`, which leaves the frame's address in
 *  %rsi, so what it really does is AND the low 32 bits of the frame's address into RFLAGS
 *  (since d2fe9ab304; held to real Xen by guests/pv-syscall). Without a callback %esi was ~0,
 *  but the frame's address is ANDed in all the same. */
function switchToKernel(x: Ring0, regs: GuestRegs): void {
  const d = x.d;
  const v = d.vcpu;
  // Before cd75d47348 there is one callback: a compatibility-mode SYSCALL reaches it too,
  // CS 0xe023 in its frame.
  x.tb.eip = regs.cs === FLAT_USER_CS32 && d.version.syscall32Sysenter ? v.syscall32Callback : v.syscallCallback;
  // The asm tests VGCF_syscall_disables_events for the syscall32 callback too.
  x.tb.flags = (v.vgcFlags & VGCF_syscall_disables_events) !== 0 ? TBF_INTERRUPT : 0;
  x.tb.errorCode = 0;
  if (x.tb.eip === 0 && !d.version.syscallMissingCallbackUd) {
    // Before ca6fcf4321: create_bounce_frame writes the frame, finds the address 0 and
    // crashes the domain (304 x86_64/entry.S:304-306, 319-320).
    d.log(`(XEN) domain_crash_sync called from entry.S`);
    d.end({ kind: 'crash', why: 'no syscall callback (create_bounce_frame: bounce address 0)' });
    return;
  }
  if (x.tb.eip === 0) {
    regs.entryVector = V.UD;
    setRip(regs, ripOf(regs) - 2);
    const ti = v.trapCtxt[V.UD];
    x.tb.eip = ti.address;
    x.tb.flags = TBF_EXCEPTION | ((ti.flags & 4) !== 0 ? TBF_INTERRUPT : 0);
  }
  if (!createBounceFrame(d, regs, x.tb)) return;
  // c461d64b66 added the DF clearing; before it the callback runs with the user's DF.
  if (d.version.syscallClearsDf) regs.rflags = (regs.rflags & regs.rspLo) >>> 0;
}

function sysenterEntry(x: Ring0): void {
  const cpu = x.d.cpu;
  const v = x.d.vcpu;
  // pushfq after SYSENTER cleared IF; "the caller had it set": IF ORed back into the frame.
  const regs: GuestRegs = {
    ripLo: 0, ripHi: 0, cs: 3, rflags: (cpu.getFlags() | IF) >>> 0, rspLo: 0, rspHi: 0, ss: FLAT_USER_SS, ssHi: 0,
    entryVector: TRAP_syscall, errorCode: 0,
  };
  x.tb.eip = v.sysenterCallback;
  x.tb.flags = v.sysenterDisablesEvents ? TBF_INTERRUPT : 0;
  x.tb.errorCode = 0;
  if (x.tb.eip === 0) {
    // No callback: #GP(0) through the trap table.
    regs.entryVector = V.GP;
    const ti = v.trapCtxt[V.GP];
    x.tb.eip = ti.address;
    x.tb.flags = TBF_EXCEPTION | TBF_EXCEPTION_ERRCODE | ((ti.flags & 4) !== 0 ? TBF_INTERRUPT : 0);
  }
  if (createBounceFrame(x.d, regs, x.tb)) exitToGuest(x, regs);
}

/** The hardware frame at RSP (the error code first for vectors that have one). */
function readFrame(cpu: Cpu, vector: number): { regs: GuestRegs; fromXen: boolean } {
  let at = gpr(cpu, RSP);
  let errorCode = 0;
  if (hasErrorCode(vector)) { errorCode = cpu.read64(at) >>> 0; at += 8; }
  const ripLo = cpu.read64(at), ripHi = cpu.hi;
  const cs = cpu.read64(at + 8) & 0xffff;
  const rflags = cpu.read64(at + 16) >>> 0;
  const rspLo = cpu.read64(at + 24), rspHi = cpu.hi;
  const ss = cpu.read64(at + 32) & 0xffff;
  return { regs: { ripLo, ripHi, cs, rflags, rspLo, rspHi, ss, ssHi: 0, entryVector: vector, errorCode }, fromXen: (cs & 3) === 0 };
}

function exception(x: Ring0, vector: number): void {
  const cpu = x.d.cpu;
  const { regs: frame, fromXen } = readFrame(cpu, vector);
  let regs = frame;
  if (fromXen && vector === V.DB) return debugInXen(x, frame);
  if (fromXen) {
    // The exit's IRETQ faulted: the guest context it was restoring takes the exception.
    if (x.exiting === null) cpu.modelError(`Xen model: ${vectorName(vector)} in Xen's own context at ${hex(ripOf(frame))}`);
    // Before d9b7ef209a the pre-exception fixup sent it to the failsafe callback.
    if (!x.d.version.iretFaultReinjected) cpu.modelError(`Xen model: ${vectorName(vector)} on the exit's IRETQ goes to the failsafe callback on ${x.d.version.name} (x86_64/entry.S FLT1/DBLFLT1): not modelled`);
    regs = { ...x.exiting!, entryVector: vector, errorCode: frame.errorCode };
    x.exiting = null;
  }
  handleException(x, regs, vector);
  exitToGuest(x, regs);
}

/** handle_DB for a #DB taken in Xen's context: PENDING_DBG from DR6, DR6 reset, noted, and
 *  back by IRETQ to the interrupted Xen code (the frame the CPU pushed on the IST stack). */
function debugInXen(x: Ring0, frame: GuestRegs): void {
  const d = x.d;
  const cpu = d.cpu;
  const dbg = (cpu.drLo[6] ^ DR6_DEFAULT) >>> 0;
  cpu.drLo[6] = DR6_DEFAULT;
  cpu.drHi[6] = 0;
  if ((frame.rflags & TF) !== 0) return cpu.modelError(`Xen model: a single-step #DB in Xen's own context at ${hex(ripOf(frame))} is not modelled`);
  const rip = ripOf(frame);
  const name = cpu.hostEntries.at(rip)?.name ?? '?';
  d.log(`(XEN) d${d.state.dom0 ? 0 : 1}v0 Hit #DB in Xen context: ${frame.cs.toString(16).padStart(4, '0')}:${hex16(frame.ripLo, frame.ripHi)} [${name}], stk ${frame.ss.toString(16).padStart(4, '0')}:${hex16(frame.rspLo, frame.rspHi)}, dbg ${dbg.toString(16)}`);
  cpu.hostEntries.leave('iretq');
}

/** The C handlers for an exception taken by guest code (traps.c). `eventData`: FRED's event
 *  data (#PF's linear address, #DB's conditions in positive polarity), which Xen in FRED
 *  mode takes instead of CR2 and DR6 (entry_from_pv: handle_PF(regs, edata), handle_DB(regs,
 *  edata); DR6 is neither read nor reset). */
export function handleException(x: Ring0, regs: GuestRegs, vector: number, eventData?: number): void {
  const d = x.d;
  const cpu = d.cpu;
  switch (vector) {
    case V.GP: return doGeneralProtection(x, regs);
    case V.UD:
      // do_invalid_op: the forced-emulation prefix, else #UD.
      if (emulateForcedInvalidOp(d, regs, x.tb)) return;
      return injectEvent(d, regs, x.tb, V.UD, null);
    case V.PF: {
      const cr2 = eventData ?? cpu.cr2Hi * TWO32 + (cpu.cr2Lo >>> 0);
      // fixup_page_fault: a descriptor read in the LDT area maps the guest's LDT page.
      const fix = ldtFault(d, x, cr2 >= 2 ** 63 ? cr2 - 2 ** 64 : cr2, regs.errorCode);
      if (fix === 'fixed') return;
      if (fix !== null && 'gp' in fix) return injectEvent(d, regs, x.tb, V.GP, fix.gp);
      return injectEvent(d, regs, x.tb, V.PF, regs.errorCode, fix === null ? cr2 : fix.pf);
    }
    case V.NMI: case V.DF: case V.MC:
      return cpu.modelError(`Xen model: vector ${vector} (NMI, #DF or #MC) reaching Xen is not modelled`);
    case V.NM:
      return cpu.modelError('Xen model: #NM from a PV guest (lazy FPU switching) is not modelled');
    case V.DB: {
      if (eventData !== undefined) return injectDebug(d, regs, x.tb, eventData);
      // handle_DB_IDT: the hardware DR6's news (positive polarity), DR6 reset, then merged
      // into the guest's virtual DR6 and bounced.
      const pending = (cpu.drLo[6] ^ DR6_DEFAULT) >>> 0;
      cpu.drLo[6] = DR6_DEFAULT;
      cpu.drHi[6] = 0;
      return injectDebug(d, regs, x.tb, pending);
    }
    default:
      return injectEvent(d, regs, x.tb, vector, hasErrorCode(vector) ? regs.errorCode : null);
  }
}

/** do_general_protection (traps.c). */
function doGeneralProtection(x: Ring0, regs: GuestRegs): void {
  const d = x.d;
  const ec = regs.errorCode;
  if ((ec & 3) === X86_XEC_IDT) {
    // "This fault must be due to <INT n> instruction."
    const vector = (ec >>> 3) & 0xff;
    const ti = d.vcpu.trapCtxt[vector];
    if (permitSoftint(ti.flags & 3, d, regs)) return emulateSwInterrupt(d, regs, x.tb);
  } else if (ec === 0 && emulatePrivilegedOp(d, regs, x.tb)) {
    return;
  }
  if ((ec & 1) !== 0) d.cpu.modelError('Xen model: #GP with the EXT bit from a PV guest');
  injectEvent(d, regs, x.tb, V.GP, ec);
}

/** permit_softint: the trap table's DPL against the guest's virtual CPL (1 for its kernel). */
export function permitSoftint(dpl: number, d: PvDomain, regs: GuestRegs): boolean {
  return dpl >= (guestKernelMode(d, regs) ? 1 : 3);
}

/** apic_timer_interrupt from guest context: the timers (time.ts), then the way out, which
 *  delivers the upcall a timer raised; a vCPU still blocked halts again. */
function timerInterrupt(x: Ring0): void {
  const { regs, fromXen } = readFrame(x.d.cpu, LOCAL_TIMER_VECTOR);
  if (fromXen) x.d.cpu.modelError('Xen model: the timer interrupt in Xen\'s own context');
  const asleep = x.timerInterrupt();
  exitToGuest(x, regs);
  if (asleep) x.backToSleep();
}

function int80(x: Ring0): void {
  const d = x.d;
  const { regs } = readFrame(d.cpu, 0x80);
  const ti = d.vcpu.trapCtxt[0x80];
  if (ti.address !== 0) {
    x.tb.flags = (ti.flags & 4) !== 0 ? TBF_INTERRUPT : 0;
    x.tb.eip = ti.address;
    if (createBounceFrame(d, regs, x.tb)) exitToGuest(x, regs);
    return;
  }
  // The slow path: as the #GP a DPL 0 gate would have raised, at the INT instruction.
  regs.errorCode = (0x80 << 3) | X86_XEC_IDT;
  regs.entryVector = V.GP;
  setRip(regs, ripOf(regs) - 2);
  doGeneralProtection(x, regs);
  exitToGuest(x, regs);
}

function hex(v: number): string {
  return '0x' + (v < 0 ? BigInt(v) + (1n << 64n) : BigInt(v)).toString(16);
}

/** printk's %p of a 64-bit value in halves: 16 hex digits. */
function hex16(lo: number, hi: number): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}
