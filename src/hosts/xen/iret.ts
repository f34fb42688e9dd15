// HYPERVISOR_iret as do_iret (xen/arch/x86/pv/iret.c at c447b7308b; xen-pv-abi.md §1.9):
// the guest jumped to hypercall-page slot 23, which pushed %rcx, %r11 and %rax under the
// five-word frame and the flags it had pushed; Xen loads that 72-byte iret_context from the
// guest's %rsp, switches to user mode if the frame's CS says ring 3, and makes regs the
// frame's context. With VGCF_in_syscall the exit stays on the SYSRET path (%rcx and %r11
// become RIP and RFLAGS); without, IRET, with %rcx and %r11 from the context.

import { IRET_CONTEXT, TRAP_syscall, VGCF_in_syscall } from '../../arch/xen.js';
import type { PvDomain } from './domain.js';
import { toggleGuestMode, VMASST_architectural_iopl } from './bounce.js';
import { RCX, R11, rspOf, type GuestRegs } from './regs.js';

const IF = 0x200, IOPL = 0x3000, VM = 0x20000, MBS = 0x2;
/** X86_EFLAGS_ALL: the RFLAGS bits that exist (CF..ID). */
const EFLAGS_ALL = 0x3f7fd5;
/** The iret_context as read from the guest (reused: no allocation on this path). */
const CONTEXT = new Uint8Array(IRET_CONTEXT.size);
const CONTEXT_VIEW = new DataView(CONTEXT.buffer);

/** do_iret; returns the value for %rax, or null when the domain crashed. */
export function doIret(d: PvDomain, regs: GuestRegs): { lo: number; hi: number } | null {
  const ctx = d.copyFromGuest(rspOf(regs), IRET_CONTEXT.size, CONTEXT);
  if (ctx === null) {
    d.end({ kind: 'crash', why: 'Fault while reading IRET context from guest stack' });
    return null;
  }
  const view = CONTEXT_VIEW;
  const lo = (off: number): number => view.getInt32(off, true);
  const hi = (off: number): number => view.getInt32(off + 4, true);
  const cs = lo(IRET_CONTEXT.cs) & 0xffff, ss = lo(IRET_CONTEXT.ss) & 0xffff;
  const flags = lo(IRET_CONTEXT.flags) >>> 0;
  const rflags = lo(IRET_CONTEXT.rflags) >>> 0;
  if ((cs & 3) === 3) {
    if (d.vcpu.guestTableUser === 0) {
      d.end({ kind: 'crash', why: 'Guest switching to user mode with no user page tables' });
      return null;
    }
    toggleGuestMode(d);
  }
  if ((d.state.vmAssist & (1 << VMASST_architectural_iopl)) !== 0) d.vcpu.iopl = rflags & IOPL;
  regs.ripLo = lo(IRET_CONTEXT.rip);
  regs.ripHi = hi(IRET_CONTEXT.rip);
  regs.cs = cs | 3;
  // "ERET is stricter than IRET about flags" (dbd936248f): only bits that exist. Xen 3.0.4
  // and 3.1.1 (version.ts, abi2007) kept the others (304 x86_64/traps.c:218-229).
  regs.rflags = d.version.abi2007 === null ? (rflags & EFLAGS_ALL & ~(IOPL | VM)) | IF | MBS : ((rflags & ~(IOPL | VM)) | IF) >>> 0;
  regs.rflagsHi = d.version.abi2007 === null ? 0 : hi(IRET_CONTEXT.rflags);
  regs.rspLo = lo(IRET_CONTEXT.rsp);
  regs.rspHi = hi(IRET_CONTEXT.rsp);
  regs.ss = (regs.ss & ~0xffff) | ss | 3; // regs->ss, the selector half of ssx
  if ((flags & VGCF_in_syscall) === 0) {
    regs.entryVector &= ~TRAP_syscall;
    const cpu = d.cpu;
    cpu.regLo[R11] = lo(IRET_CONTEXT.r11);
    cpu.regHi[R11] = hi(IRET_CONTEXT.r11);
    cpu.regLo[RCX] = lo(IRET_CONTEXT.rcx);
    cpu.regHi[RCX] = hi(IRET_CONTEXT.rcx);
  }
  // Virtual IF from the frame's RFLAGS.IF.
  d.upcallMask = (rflags & IF) === 0 ? 1 : 0;
  // async_exception_cleanup: the NMI being handled is done (the only asynchronous
  // exception the model raises).
  if (d.vcpu.asyncExceptionMask !== 0) d.vcpu.asyncExceptionMask = d.vcpu.nmiOldMask;
  return { lo: lo(IRET_CONTEXT.rax), hi: hi(IRET_CONTEXT.rax) };
}
