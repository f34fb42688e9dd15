// struct cpu_user_regs as the model keeps it while Xen runs: the general-purpose registers
// stay in the vCPU (every entry path saves them all and the exit restores them all, so
// between the two the vCPU's registers *are* regs->rax..r15), and the exception-frame part
// — rip, cs, rflags, rsp, ss with entry_vector and error_code — is this object. Xen's C
// code writes regs->rcx, regs->r11 and regs->rax; those writes go to the vCPU's registers.

import type { Cpu } from '../../cpu/cpu.js';

const TWO32 = 4294967296;

export interface GuestRegs {
  /** RIP and RSP as 64-bit halves: HYPERVISOR_iret may load non-canonical values. */
  ripLo: number;
  ripHi: number;
  cs: number;
  /** RFLAGS' low half (the bits that exist). */
  rflags: number;
  /** RFLAGS' high half: only 2007's HYPERVISOR_iret left anything there (iret.ts); absent, 0. */
  rflagsHi?: number;
  rspLo: number;
  rspHi: number;
  /** The low half of regs->ssx: the selector and, in FRED mode, the event's STI, SWINT and NMI
   *  bits (16-18). */
  ss: number;
  /** The high half of regs->ssx: FRED's description of the event (vector, type, 64-bit mode,
   *  nested, instruction length); 0 in IDT mode and after Xen rewrites the selector. */
  ssHi: number;
  /** entry_vector, with TRAP_syscall (bit 8) asking the exit for SYSRET. */
  entryVector: number;
  errorCode: number;
}

export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
export const R8 = 8, R9 = 9, R10 = 10, R11 = 11;

/** A register's value as a number: exact for canonical addresses and values below 2^53,
 *  signed from bit 63. */
export function gpr(cpu: Cpu, r: number): number {
  return cpu.regHi[r] * TWO32 + (cpu.regLo[r] >>> 0);
}

/** Set a register from a number (a signed value sign-extends). */
export function setGpr(cpu: Cpu, r: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  cpu.regLo[r] = (v - hi * TWO32) | 0;
  cpu.regHi[r] = hi | 0;
}

/** A 64-bit value given as halves, as a signed number when exact (canonical addresses). */
export function joined(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}

/** Whether halves make a canonical 48-bit address (bits 63:47 all equal: bits 31:15 of hi). */
export function canonical(hi: number): boolean {
  return (hi << 16) >> 16 === (hi | 0);
}

export function ripOf(regs: GuestRegs): number {
  return joined(regs.ripLo, regs.ripHi);
}

export function rspOf(regs: GuestRegs): number {
  return joined(regs.rspLo, regs.rspHi);
}

export function setRip(regs: GuestRegs, v: number): void {
  const hi = Math.floor(v / TWO32);
  regs.ripLo = (v - hi * TWO32) | 0;
  regs.ripHi = hi | 0;
}

export function setRsp(regs: GuestRegs, v: number): void {
  const hi = Math.floor(v / TWO32);
  regs.rspLo = (v - hi * TWO32) | 0;
  regs.rspHi = hi | 0;
}
