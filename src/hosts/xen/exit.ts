// The way back to the guest (x86_64/entry.S at c447b7308b, IDT mode; xen-pv-abi.md §1.5,
// §1.7): test_all_events, the loop that delivers what is pending — a queued exception bounce,
// then an event upcall when vcpu_info says pending and not masked — and restore_all_guest,
// which leaves by the CPU's SYSRET when regs ask for it (TRAP_syscall) and RIP is canonical,
// else by its IRETQ (a TRAP_syscall exit to a non-canonical RIP with SYSRET's %rcx and %r11).
// In FRED mode restore_all_guest goes straight to eretu_exit_to_guest (entry-fred.S): ERETU
// of the frame, with c5a4b9125b's %rcx/%r11 when a bounce frame was built.

import { FLAT_USER_CS32 } from '../../arch/xen.js';
import type { PvDomain } from './domain.js';
import { createBounceFrame, injectEvent, TBF_EXCEPTION, TBF_INTERRUPT, type TrapBounce } from './bounce.js';
import { NMI } from '../../arch/vectors.js';
import { RCX, R11, RSP, canonical, type GuestRegs } from './regs.js';

const IF = 0x200, IOPL = 0x3000, VM = 0x20000;
const TRAP_SYSCALL = 0x100;
/** 1 << VCPU_TRAP_NMI in arch.async_exception_mask. */
export const VCPU_TRAP_NMI_BIT = 2;

/** test_all_events: false when the domain ended instead. */
export function testAllEvents(d: PvDomain, regs: GuestRegs, tb: TrapBounce): boolean {
  for (;;) {
    if ((tb.flags & TBF_EXCEPTION) !== 0) {
      if (!createBounceFrame(d, regs, tb)) return false;
      continue;
    }
    const v = d.vcpu;
    if (v.nmiPending && (v.asyncExceptionMask & VCPU_TRAP_NMI_BIT) === 0) {
      // process_nmi: set_guest_nmi_trapbounce through trap_ctxt[2]; without a handler the
      // NMI is dropped ("Unhandled") and the loop starts over.
      v.nmiPending = false;
      injectEvent(d, regs, tb, NMI, null);
      tb.flags &= ~TBF_EXCEPTION;
      if (tb.eip === 0) continue;
      v.nmiOldMask = v.asyncExceptionMask;
      v.asyncExceptionMask |= VCPU_TRAP_NMI_BIT;
      if (!createBounceFrame(d, regs, tb)) return false;
      continue;
    }
    // "movzwl VCPUINFO_upcall_pending; decl; cmpl $0xfe; ja": pending != 0 and mask == 0.
    if (d.upcallPending !== 0 && d.upcallMask === 0) {
      tb.flags = TBF_INTERRUPT;
      tb.eip = d.vcpu.eventCallback;
      if (!createBounceFrame(d, regs, tb)) return false;
      continue;
    }
    return true;
  }
}

/** Where IRETQ's frame is written: the top of Xen's stack. */
export interface ExitStack {
  top: number;
}

/** restore_all_guest: leave through SYSRET (RCX := RIP, R11 := the sanitised RFLAGS, the
 *  guest's RSP; SYSRETL for a 32-bit user CS) or through IRETQ of the frame. The IRETQ may
 *  fault (a non-canonical RIP, a bad selector): `exiting` keeps regs for the #GP or #NP
 *  handler, which re-presents the fault in guest context as Xen's pre-exception table does. */
export function restoreAllGuest(d: PvDomain, regs: GuestRegs, stack: ExitStack, onIret: (regs: GuestRegs) => void): void {
  const cpu = d.cpu;
  if (d.fredMode) return eretuExitToGuest(d, regs, stack, onIret);
  if ((regs.entryVector & TRAP_SYSCALL) !== 0) {
    const flags = (regs.rflags & ~(IOPL | VM)) | IF;
    cpu.regLo[R11] = flags;
    // 2007's exit popped the whole RFLAGS word into %r11 (3.0.4-branched x86_64/entry.S:45-53).
    cpu.regHi[R11] = regs.rflagsHi ?? 0;
    cpu.regLo[RCX] = regs.ripLo;
    cpu.regHi[RCX] = regs.ripHi;
    // "Don't use SYSRET path if the return address is not canonical" (XSA-7): then
    // .Lrestore_rcx_iret_exit_to_guest leaves by IRETQ with %rcx and %r11 as SYSRET's.
    // Before 6b091fa445 Xen SYSRETed anyway: on Intel #GP in ring 0 on the guest's stack.
    if (!canonical(regs.ripHi) && !d.version.sysretCanonicalCheck) {
      return cpu.modelError(`Xen model: ${d.version.name} SYSRETs to the non-canonical ${(regs.ripHi >>> 0).toString(16)}${(regs.ripLo >>> 0).toString(16).padStart(8, '0')} (XSA-7: #GP in Xen with the guest's stack), not modelled`);
    }
    if (canonical(regs.ripHi)) {
      cpu.regLo[RSP] = regs.rspLo;
      cpu.regHi[RSP] = regs.rspHi;
      cpu.hostEntries.leave(regs.cs === FLAT_USER_CS32 ? 'sysretl' : 'sysretq');
      return;
    }
  }
  // iret_exit_to_guest.
  regs.rflags = (regs.rflags & ~(IOPL | VM)) | IF;
  const at = stack.top - 40;
  cpu.regLo[RSP] = at | 0;
  cpu.regHi[RSP] = Math.floor(at / 4294967296) | 0;
  cpu.write64(at, regs.ripLo, regs.ripHi);
  cpu.write64(at + 8, regs.cs, 0);
  cpu.write64(at + 16, regs.rflags, 0);
  cpu.write64(at + 24, regs.rspLo, regs.rspHi);
  cpu.write64(at + 32, regs.ss, 0);
  onIret(regs);
  cpu.hostEntries.leave('iretq');
}

/** eretu_exit_to_guest (entry-fred.S), reached from restore_all_guest in FRED mode: regs are
 *  the frame at stack level 0 (from the error code up, the event data left as delivered);
 *  with c5a4b9125b, "if Xen in IDT mode would have used a SYSRET instruction" (TRAP_syscall:
 *  a bounce frame was built on this exit), %rcx := RIP and %r11 := RFLAGS as SYSRET would
 *  have left them — CMOVs of the frame's values, no IF forcing. Then ERETU, which may fault
 *  (entry-fred.ts handle_eretu_event). */
function eretuExitToGuest(d: PvDomain, regs: GuestRegs, stack: ExitStack, onIret: (regs: GuestRegs) => void): void {
  const cpu = d.cpu;
  if (d.version.fredSyscallCompat && (regs.entryVector & TRAP_SYSCALL) !== 0) {
    cpu.regLo[RCX] = regs.ripLo;
    cpu.regHi[RCX] = regs.ripHi;
    cpu.regLo[R11] = regs.rflags;
    cpu.regHi[R11] = 0;
  }
  const at = stack.top - 64;
  cpu.regLo[RSP] = at | 0;
  cpu.regHi[RSP] = Math.floor(at / 4294967296) | 0;
  cpu.write64(at, regs.errorCode, regs.entryVector);
  cpu.write64(at + 8, regs.ripLo, regs.ripHi);
  cpu.write64(at + 16, regs.cs, 0);
  cpu.write64(at + 24, regs.rflags, 0);
  cpu.write64(at + 32, regs.rspLo, regs.rspHi);
  cpu.write64(at + 40, regs.ss, regs.ssHi);
  onIret(regs);
  cpu.hostEntries.leave('eretu');
}
