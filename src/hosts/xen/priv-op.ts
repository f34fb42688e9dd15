// Privileged-instruction emulation for a PV guest (xen/arch/x86/pv/emul-priv-op.c,
// emul-inv-op.c and cpuid.c at c447b7308b; notes in docs/architecture.md "Xen PV host").
//
// The guest kernel runs in ring 3, so its privileged instructions #GP(0); Xen decodes the
// instruction at RIP and emulates the whitelisted ones — IN/OUT, CLTS, WBINVD, MOV CR/DR,
// RDMSR/WRMSR (msr.ts), RDTSC/RDTSCP, CPUID, CLI/STI, XSETBV — treating the guest kernel as CPL 0 and
// guest user as CPL 3. Anything else (HLT, INVLPG, LMSW, SWAPGS, ...) gets its #GP(0) back.
// On success RIP moves past the instruction and RF is cleared. The forced-emulation prefix
// `ud2; .ascii "xen"; cpuid` arrives as #UD and always gives Xen's CPUID policy.
//
// Debug registers go through set_debugreg (shared with the hypercall): DR0-DR3, DR6 and DR7
// reach the CPU's own registers, which then break as hardware does (cpu/debug.ts); I/O
// breakpoints are Xen's to emulate, on the port I/O it emulates.
//
// Deliberate deviations (each a model error, never a guess): INS/OUTS, XSETBV, the I/O
// bitmap (PHYSDEVOP_set_iobitmap), MOV to CR3, and prefixes other than REX/operand size on
// an emulated instruction. Port I/O that Xen would perform on
// real hardware for dom0 reads all ones and drops writes: no device sits behind the model's
// Xen. CPUID's policy for leaves below 0x40000000 is the modelled CPU's CPUID with the PV
// masks below (cpu-policy.c), not every host-dependent detail. RDMSR/WRMSR and their
// deviations are msr.ts's.

import { cpuid } from '../../cpu/cpuid.js';
import { armBreakpoints } from '../../cpu/debug.js';
import { Msr } from '../../cpu/msrs.js';
import * as V from '../../arch/vectors.js';
import type { PvDomain } from './domain.js';
import { archSetCr2, DR6_DEFAULT, guestKernelMode, injectDebug, injectEvent, VMASST_architectural_iopl, type TrapBounce } from './bounce.js';
import { RAX, RCX, RDX, RBX, RSP, ripOf, setRip, type GuestRegs } from './regs.js';
import { HYPERVISOR_VIRT_END } from '../../arch/xen.js';
import { emulateMsr } from './msr.js';

const RF = 0x10000, TF = 0x100;
/** DR6.BS: single step. */
const DR6_BS = 0x4000;
const TWO32 = 4294967296;
/** Xen's CR0 while a PV guest runs: PG|AM|WP|NE|ET|MP|PE (trampoline.S). */
export const XEN_CR0 = 0x80050033 | 0;
const CR0_TS = 8;
const CR4_TSD = 4, CR4_DE = 8, CR4_FSGSBASE = 0x10000;
/** CR4 bits a PV guest controls (PV_CR4_GUEST_MASK) and the host bits it sees (…_VISIBLE_MASK). */
const CR4_GUEST = 0x4 | 0x8 | 0x10000 | 0x40000; // TSD | DE | FSGSBASE | OSXSAVE
export const CR4_VISIBLE = 0x20 | 0x40 | 0x200 | 0x400; // PAE | MCE | OSFXSR | OSXMMEXCPT

/** Xen's release numbers at the pinned commit (4.23-unstable): XENVER_version and CPUID 0x40000001. */
export const XEN_MAJOR = 4, XEN_MINOR = 23;

/** The guest's virtual control and debug registers (arch.pv.ctrlreg, arch.dr*), kept with the vCPU. */
export interface VirtualRegs {
  cr0Ts: number;
  cr4: number;
  dr: number[];
  dr6: number;
  dr7: number;
  /** arch.pv.dr7_emul: the enables of I/O breakpoints, which Xen emulates. */
  dr7Emul: number;
}

export function newVirtualRegs(): VirtualRegs {
  return { cr0Ts: 0, cr4: CR4_VISIBLE, dr: [0, 0, 0, 0], dr6: DR6_DEFAULT >>> 0, dr7: 0x400, dr7Emul: 0 };
}

type Outcome = 'done' | 'gp' | 'ud' | 'decline';

/** pv_emulate_privileged_op: true if emulated (or an exception queued in `tb`), false to
 *  pass the #GP(0) on. */
export function emulatePrivilegedOp(d: PvDomain, regs: GuestRegs, tb: TrapBounce): boolean {
  // insn_fetch -> pv_emul_virt_to_linear: an address the guest may not use (!__addr_ok:
  // non-canonical, or Xen's range) is #GP(0), before any byte is read.
  if (!addrOk(regs.ripHi)) { injectEvent(d, regs, tb, V.GP, 0); return true; }
  const rip = ripOf(regs);
  const bytes = d.copyFromGuest(rip, 15);
  let insn: Uint8Array;
  if (bytes === null) {
    // insn_fetch: a fault injects #PF with error code 0 at the first byte not readable.
    let n = 0;
    while (n < 15 && d.copyFromGuest(rip + n, 1) !== null) n++;
    if (n === 0) { injectEvent(d, regs, tb, V.PF, 0, rip); return true; }
    insn = d.copyFromGuest(rip, n)!;
  } else insn = bytes;
  let k = 0;
  let opsize = false;
  for (; k < insn.length && (insn[k] === 0x66 || LEGACY_PREFIXES.includes(insn[k])); k++) {
    if (insn[k] !== 0x66) {
      // INS/OUTS (any prefixes: segment override, REP) without I/O rights: the emulator's
      // rep_ins/rep_outs hooks refuse the port (guest_io_okay) and the #GP(0) stands.
      if (stringIoAfterPrefixes(insn, k) && !ioplOk(d, guestKernelMode(d, regs))) return false;
      return whitelisted(insn, k + 1) ? d.cpu.modelError(`Xen model: prefix 0x${insn[k].toString(16)} on an emulated privileged instruction`) : false;
    }
    opsize = true;
  }
  let rex = 0;
  if ((insn[k] & 0xf0) === 0x40) rex = insn[k++];
  const kernel = guestKernelMode(d, regs);
  const op = insn[k];
  let len = k + 1;
  let out: Outcome;
  let bpmatch = 0;
  if (op === 0xfa || op === 0xfb) {
    // CLI/STI: a no-op when the virtual IOPL allows it; the event mask is not changed.
    out = ioplOk(d, kernel) ? 'done' : 'decline';
  } else if (op === 0xe4 || op === 0xe5 || op === 0xe6 || op === 0xe7 || op === 0xec || op === 0xed || op === 0xee || op === 0xef) {
    const port = op < 0xe8 ? insn[k + 1] : cpu16(d, RDX);
    out = portIo(d, kernel, op, opsize);
    if (out === 'done') bpmatch = ioBreakpoints(d, port, (op & 1) === 0 ? 1 : opsize ? 2 : 4);
    if (op < 0xe8) len++;
  } else if (op === 0x6c || op === 0x6d || op === 0x6e || op === 0x6f) {
    // Without I/O rights the hooks refuse the port: #GP(0); with them, not modelled.
    if (!ioplOk(d, kernel)) out = 'decline';
    else return d.cpu.modelError('Xen model: INS/OUTS emulation for a PV guest with I/O rights is not modelled');
  } else if (op === 0x0f) {
    const op2 = insn[k + 1];
    len = k + 2;
    if (op2 === 0x20 || op2 === 0x22 || op2 === 0x21 || op2 === 0x23) {
      len++;
      if (!kernel) out = 'gp';
      else out = movCrDr(d, regs, op2, insn[k + 2], rex);
    } else if (op2 === 0x06) {
      // CLTS: CR0.TS cleared.
      if (!kernel) out = 'gp';
      else { d.state.virt.cr0Ts = 0; out = 'done'; }
    } else if (op2 === 0x09) {
      // WBINVD: a no-op without cache-flush rights (and nothing to flush in the model with them).
      out = kernel ? 'done' : 'gp';
    } else if (op2 === 0x30 || op2 === 0x32) {
      out = kernel ? emulateMsr(d, op2 === 0x30) : 'gp';
    } else if (op2 === 0x31) {
      out = rdtsc(d, kernel, false);
    } else if (op2 === 0x01 && insn[k + 2] === 0xf9) {
      len++;
      out = rdtsc(d, kernel, true);
    } else if (op2 === 0x01 && insn[k + 2] === 0xd1) {
      return d.cpu.modelError('Xen model: XSETBV emulation for a PV guest is not modelled');
    } else if (op2 === 0xa2) {
      guestCpuid(d, false);
      out = 'done';
    } else out = 'decline';
  } else out = 'decline';

  if (out === 'decline') return false;
  if (out === 'gp') { injectEvent(d, regs, tb, V.GP, 0); return true; }
  if (out === 'ud') { injectEvent(d, regs, tb, V.UD, null); return true; }
  if (d.ended) return true;
  // CLI and STI finish in the emulator's validate hook: no single-step trap after them.
  instructionDone(d, regs, tb, rip + len, op !== 0xfa && op !== 0xfb, bpmatch);
  return true;
}

/** __addr_ok of an address's high half: below 2^47, or at or above HYPERVISOR_VIRT_END. */
function addrOk(hi: number): boolean {
  return (hi >>> 0) < 0x8000 || (hi >>> 0) >= Math.floor(HYPERVISOR_VIRT_END / TWO32) + TWO32;
}

/** Legacy prefixes other than the operand-size one. */
const LEGACY_PREFIXES = [0x67, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0xf0];

/** pv_emulate_sw_interrupt: an INT n the trap table permits, delivered as the software
 *  interrupt with RIP past the instruction's real length, prefixes included (a934a600c4:
 *  Xen 4.17 assumed 2 bytes); anything but INT imm8 at RIP, or bytes that cannot be read,
 *  and the #GP is passed on with its error code. */
export function emulateSwInterrupt(d: PvDomain, regs: GuestRegs, tb: TrapBounce): void {
  const rip = ripOf(regs);
  const vector = (regs.errorCode >>> 3) & 0xff;
  let insn = d.copyFromGuest(rip, 15);
  if (insn === null) {
    let n = 0;
    while (n < 15 && d.copyFromGuest(rip + n, 1) !== null) n++;
    insn = d.copyFromGuest(rip, n) ?? new Uint8Array(0);
  }
  let k = 0;
  while (k < insn.length && (insn[k] === 0x66 || LEGACY_PREFIXES.includes(insn[k]))) k++;
  if (k < insn.length && (insn[k] & 0xf0) === 0x40) k++;
  if (k + 1 < insn.length && insn[k] === 0xcd) {
    setRip(regs, rip + k + 2);
    injectEvent(d, regs, tb, vector, null);
    return;
  }
  injectEvent(d, regs, tb, V.GP, regs.errorCode);
}

/** Whether the bytes from `k` are legacy prefixes then INS or OUTS (6C-6F). */
function stringIoAfterPrefixes(insn: Uint8Array, k: number): boolean {
  while (k < insn.length && (insn[k] === 0x66 || LEGACY_PREFIXES.includes(insn[k]))) k++;
  return k < insn.length && insn[k] >= 0x6c && insn[k] <= 0x6f;
}

function whitelisted(insn: Uint8Array, k: number): boolean {
  const op = insn[k];
  return op === 0xfa || op === 0xfb || (op >= 0xe4 && op <= 0xe7) || (op >= 0xec && op <= 0xef) || (op >= 0x6c && op <= 0x6f) || op === 0x0f;
}

/** pv_emul_instruction_done: RIP past the instruction, RF cleared, and the #DB the
 *  instruction raised: the I/O breakpoints it matched, and with TF set the single step
 *  (DR6.BS), reported together. */
function instructionDone(d: PvDomain, regs: GuestRegs, tb: TrapBounce, next: number, step = true, bpmatch = 0): void {
  setRip(regs, next);
  regs.rflags &= ~RF;
  const pending = bpmatch | (step && (regs.rflags & TF) !== 0 ? DR6_BS : 0);
  if (pending !== 0) injectDebug(d, regs, tb, pending);
}

function cpu16(d: PvDomain, r: number): number {
  return d.cpu.regLo[r] & 0xffff;
}

/** iopl_ok: the guest kernel counts as CPL 1 (0 with VMASST_architectural_iopl), user as 3. */
function ioplOk(d: PvDomain, kernel: boolean): boolean {
  const cpl = kernel ? ((d.state.vmAssist & (1 << VMASST_architectural_iopl)) !== 0 ? 0 : 1) : 3;
  return cpl <= d.vcpu.iopl >>> 12;
}

/** IN/OUT (the port, immediate or DX, only selects which device would answer: none does). */
function portIo(d: PvDomain, kernel: boolean, op: number, opsize: boolean): Outcome {
  if (!ioplOk(d, kernel)) return 'decline';
  const cpu = d.cpu;
  const isIn = (op & 2) === 0;
  const size = (op & 1) === 0 ? 1 : opsize ? 2 : 4;
  if (isIn) {
    // No device answers behind the model's Xen: every port reads all ones.
    const ones = size === 4 ? -1 : (1 << (8 * size)) - 1;
    if (size === 4) { cpu.regLo[RAX] = ones; cpu.regHi[RAX] = 0; } else cpu.regLo[RAX] = (cpu.regLo[RAX] & ~((1 << (8 * size)) - 1)) | ones;
  }
  return 'done';
}

function movCrDr(d: PvDomain, regs: GuestRegs, op2: number, modrm: number, rex: number): Outcome {
  const cpu = d.cpu;
  const v = d.state.virt;
  // REX.R selects CR8-CR15 / DR8-DR15 (CR8: #GP for PV; DR8+: #UD), REX.B r8-r15.
  const reg = ((modrm >> 3) & 7) | ((rex & 4) << 1), rm = (modrm & 7) | ((rex & 1) << 3);
  if (reg > 7 && (op2 === 0x21 || op2 === 0x23)) return 'ud';
  const toGuest = op2 === 0x20 || op2 === 0x21;
  // The guest's %rsp is the frame's (the CPU's is Xen's stack by now).
  const set = (lo: number, hi: number): void => {
    if (rm === RSP) { regs.rspLo = lo; regs.rspHi = hi; } else { cpu.regLo[rm] = lo; cpu.regHi[rm] = hi; }
  };
  const lo = rm === RSP ? regs.rspLo : cpu.regLo[rm], hi = rm === RSP ? regs.rspHi : cpu.regHi[rm];
  if (op2 === 0x20) {
    switch (reg) {
      case 0: set((XEN_CR0 & ~CR0_TS) | v.cr0Ts, 0); return 'done';
      case 2: { const hi = Math.floor(d.vcpu.cr2 / TWO32); set((d.vcpu.cr2 - hi * TWO32) | 0, hi | 0); return 'done'; }
      case 3: { const a = d.vcpu.guestTable * 4096; set((a % TWO32) | 0, Math.floor(a / TWO32)); return 'done'; }
      case 4: set(v.cr4, 0); return 'done';
      default: return 'gp';
    }
  }
  if (op2 === 0x22) {
    switch (reg) {
      case 0:
        if (hi !== 0 || ((lo ^ XEN_CR0) & ~CR0_TS) !== 0) return 'gp';
        v.cr0Ts = lo & CR0_TS;
        return 'done';
      case 2: archSetCr2(d, hi * TWO32 + (lo >>> 0)); return 'done';
      case 3: return cpu.modelError('Xen model: MOV to CR3 (new_guest_cr3) from a PV guest is not modelled yet');
      case 4:
        v.cr4 = (lo & CR4_GUEST & guestCr4Allowed(d)) | CR4_VISIBLE;
        // pv_make_cr4: the hardware's TSD is the guest's (no vtsc), so RDTSC traps to Xen
        // once the guest asks for it; so is FSGSBASE (Xen's own CR4 has it where the CPU
        // does, and "we must not have CR4.FSGSBASE set behind the back of a 64bit PV kernel").
        cpu.cr4 = (cpu.cr4 & ~(CR4_TSD | CR4_FSGSBASE)) | (v.cr4 & (CR4_TSD | CR4_FSGSBASE));
        return 'done';
      default: return 'gp';
    }
  }
  // Debug registers: x86emul_read_dr / x86emul_write_dr -> set_debugreg (-ENODEV is #UD,
  // any other refusal #GP(0)).
  if (toGuest) {
    const val = readDebugreg(d, reg);
    if (val === null) return 'ud';
    const hi = Math.floor(val / TWO32);
    set((val - hi * TWO32) | 0, hi | 0);
    return 'done';
  }
  const rc = setDebugreg(d, reg, lo, hi);
  return rc === 0 ? 'done' : rc === -ENODEV ? 'ud' : 'gp';
}

const ENODEV = 19, EINVAL = 22, EPERM = 1;
/** DR7: the enables (DR7_ACTIVE_MASK), GD, and the bits a CPU without RTM forces to zero
 *  (X86_DR7_ZEROS | X86_DR7_RTM); DR6's bit forced to zero (X86_DR6_ZEROS). */
const DR7_ACTIVE = 0xff, DR7_GD = 0x2000, DR7_ZEROS = 0xd800, DR7_DEFAULT = 0x400, DR6_ZEROS = 0x1000;
const DR_IO = 2;

/** x86emul_read_dr (also do_get_debugreg): the virtual register, DR7 with the emulated I/O
 *  enables put back; null where Xen raises #UD (DR4/DR5 with CR4.DE, DR8 and up). */
export function readDebugreg(d: PvDomain, reg: number): number | null {
  const v = d.state.virt;
  if ((reg === 4 || reg === 5) && (v.cr4 & CR4_DE) !== 0) return null;
  if (reg < 4) return v.dr[reg];
  if (reg === 4 || reg === 6) return v.dr6;
  if (reg === 5 || reg === 7) return (v.dr7 | v.dr7Emul) >>> 0;
  return null;
}

/** set_debugreg (pv/misc-hypercalls.c): 0 or -ENODEV (#UD) / -EINVAL / -EPERM (#GP). The
 *  vCPU is always current, so each accepted value also goes to the hardware register; I/O
 *  breakpoints (R/W = 10, CR4.DE) never reach hardware DR7: their enables are kept in
 *  dr7Emul and matched by the port I/O emulation (check_guest_io_breakpoint). */
export function setDebugreg(d: PvDomain, reg: number, lo: number, hi: number): number {
  const cpu = d.cpu;
  const v = d.state.virt;
  if (reg < 4) {
    if (!addrOk(hi)) return -EPERM; // breakpoint_addr_ok
    v.dr[reg] = hi * TWO32 + (lo >>> 0);
    cpu.drLo[reg] = lo; cpu.drHi[reg] = hi;
    armBreakpoints(cpu);
    return 0;
  }
  if ((reg === 4 || reg === 5) && (v.cr4 & CR4_DE) !== 0) return -ENODEV;
  if (reg === 4 || reg === 6) {
    if (hi !== 0) return -EINVAL; // the upper 32 bits are strictly reserved
    // x86_adj_dr6_rsvd: the model's CPU has neither RTM nor bus-lock detection.
    v.dr6 = ((lo | DR6_DEFAULT) & ~DR6_ZEROS) >>> 0;
    cpu.drLo[6] = v.dr6 | 0; cpu.drHi[6] = 0;
    return 0;
  }
  if (reg !== 5 && reg !== 7) return -ENODEV;
  if (hi !== 0) return -EINVAL;
  let value = ((lo & ~DR7_ZEROS) | DR7_DEFAULT) >>> 0; // x86_adj_dr7_rsvd
  if ((value & DR7_GD) !== 0) return -EPERM;
  if ((value & DR7_ACTIVE) !== 0) {
    let ioEnable = 0;
    for (let k = 0; k < 4; k++) {
      if (((value >>> (16 + 4 * k)) & 3) !== DR_IO) continue;
      if ((v.cr4 & CR4_DE) === 0) return -EPERM;
      ioEnable |= value & (3 << (2 * k));
    }
    v.dr7Emul = ioEnable;
    value = (value & ~ioEnable) >>> 0;
    // activate_debugregs when DR7 was inactive: DR0-DR3 and DR6 are already in hardware here
    // (every write above went there: the vCPU never leaves the CPU).
  } else v.dr7Emul = 0;
  v.dr7 = value;
  cpu.drLo[7] = value | 0; cpu.drHi[7] = 0;
  armBreakpoints(cpu);
  return 0;
}

/** check_guest_io_breakpoint: the emulated I/O breakpoints an access of `len` bytes at `port`
 *  matches (DR6 B0-B3). */
function ioBreakpoints(d: PvDomain, port: number, len: number): number {
  const v = d.state.virt;
  if (v.dr7Emul === 0 || (v.cr4 & CR4_DE) === 0) return 0;
  let match = 0;
  for (let k = 0; k < 4; k++) {
    if ((v.dr7Emul & (3 << (2 * k))) === 0) continue;
    const width = bpWidth(v.dr7, k);
    const start = v.dr[k] - (v.dr[k] % width);
    if (start < port + len && start + width > port) match |= 1 << k;
  }
  return match;
}

/** x86_bp_width: LEN 00, 01, 11, 10 are 1, 2, 4, 8 bytes. */
function bpWidth(dr7: number, k: number): number {
  const raw = (dr7 >>> (16 + 4 * k + 2)) & 3;
  return 1 << ((raw & 2) !== 0 ? raw ^ 1 : raw);
}

/** The CR4 bits the policy lets a guest set (pv_fixup_guest_cr4). */
function guestCr4Allowed(d: PvDomain): number {
  const f = d.cpu.features;
  return 0x4 | 0x8 | (f.has('fsgsbase') ? 0x10000 : 0);
}

function rdtsc(d: PvDomain, kernel: boolean, withAux: boolean): Outcome {
  const cpu = d.cpu;
  if (!kernel && (d.state.virt.cr4 & 4) !== 0) return 'gp';
  const t = cpu.icount + cpu.tscOffset;
  cpu.regLo[RAX] = (t % TWO32) | 0; cpu.regHi[RAX] = 0;
  cpu.regLo[RDX] = Math.floor(t / TWO32) | 0; cpu.regHi[RDX] = 0;
  if (withAux) { cpu.regLo[RCX] = cpu.msrLo[Msr.TscAux]; cpu.regHi[RCX] = 0; }
  return 'done';
}

/** emulate_forced_invalid_op: `ud2; .ascii "xen"; cpuid` emulates the CPUID with Xen's
 *  policy. False when the bytes are anything else (the #UD stands). */
export function emulateForcedInvalidOp(d: PvDomain, regs: GuestRegs, tb: TrapBounce): boolean {
  const rip = ripOf(regs);
  const sig = d.copyFromGuest(rip, 5);
  if (sig === null) { injectEvent(d, regs, tb, V.PF, 0, firstUnreadable(d, rip, 5)); return true; }
  if (sig[0] !== 0x0f || sig[1] !== 0x0b || sig[2] !== 0x78 || sig[3] !== 0x65 || sig[4] !== 0x6e) return false;
  const op = d.copyFromGuest(rip + 5, 2);
  if (op === null) { injectEvent(d, regs, tb, V.PF, 0, firstUnreadable(d, rip + 5, 2)); return true; }
  if (op[0] !== 0x0f || op[1] !== 0xa2) return false;
  guestCpuid(d, true, guestKernelMode(d, regs));
  instructionDone(d, regs, tb, rip + 7);
  return true;
}

function firstUnreadable(d: PvDomain, at: number, n: number): number {
  for (let k = 0; k < n; k++) if (d.copyFromGuest(at + k, 1) === null) return at + k;
  return at + n;
}

/** Leaf 1 ECX / EDX and leaf 7 EBX / ECX bits the PV policy hides (cpu-policy.c, C.3 of the notes). */
const HIDE_1_ECX = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 17) | (1 << 18) | (1 << 21) | (1 << 24) | (1 << 27);
const HIDE_1_EDX = (1 << 1) | (1 << 3) | (1 << 12) | (1 << 13) | (1 << 17) | (1 << 21) | (1 << 29) | (1 << 31);
const HIDE_7_EBX = (1 << 1) | (1 << 2) | (1 << 7) | (1 << 10) | (1 << 12) | (1 << 14) | (1 << 15) | (1 << 20) | (1 << 25) | (1 << 26) | (1 << 27);
const HIDE_7_ECX = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 7) | (1 << 13) | (1 << 16) | (1 << 22) | (1 << 29) | (1 << 30) | (1 << 31);
const HIDE_81_ECX = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 9) | (1 << 10) | (1 << 12) | (1 << 13) | (1 << 15) | (1 << 19) | (1 << 22) | (1 << 29);
const HIDE_81_EDX = 1 << 26;
const HYPERVISOR = 1 << 31;

/** guest_cpuid for the current vCPU: leaf in EAX, subleaf in ECX; results zero-extended. */
function guestCpuid(d: PvDomain, forced: boolean, kernel = false): void {
  const cpu = d.cpu;
  const leaf = cpu.regLo[RAX] >>> 0, sub = cpu.regLo[RCX] >>> 0;
  const out = new Int32Array(4);
  if (leaf >= 0x40000000 && leaf < 0x40000200) xenLeaf(d, leaf, sub, out);
  else {
    cpuid(cpu.model, leaf, sub, out);
    if (leaf === 1) {
      out[1] &= 0x00ffffff; // initial APIC ID 0
      out[2] = (out[2] & ~HIDE_1_ECX) | HYPERVISOR;
      out[3] &= ~HIDE_1_EDX;
      // OSXSAVE follows the virtual CR4, and the kernel's forced CPUID sees it whenever Xen itself has XSAVE on.
      if ((d.state.virt.cr4 & 0x40000) !== 0 || (forced && kernel && cpu.features.has('xsave'))) out[2] |= 1 << 27;
    } else if (leaf === 7 && sub === 0) {
      out[1] &= ~HIDE_7_EBX;
      out[2] &= ~HIDE_7_ECX;
    } else if (leaf === 7 || leaf === 5 || leaf === 6 || leaf === 0xb) {
      out.fill(0);
    } else if (leaf === 0x80000001) {
      out[2] &= ~HIDE_81_ECX;
      out[3] &= ~HIDE_81_EDX;
    }
  }
  for (const [r, k] of [[RAX, 0], [RBX, 1], [RCX, 2], [RDX, 3]] as const) { cpu.regLo[r] = out[k]; cpu.regHi[r] = 0; }
}

/** cpuid_hypervisor_leaves (cpuid.c). */
function xenLeaf(d: PvDomain, leaf: number, sub: number, out: Int32Array): void {
  out.fill(0);
  // Xen 3.0.4 / 3.1.1: leaf 0x40000001 says their version (304 arch/x86/traps.c:523,
  // cpuid_hypervisor_leaves); the other leaves are today's (version.ts, abi2007).
  const abi = d.version.abi2007;
  switch (leaf) {
    case 0x40000000: out.set([0x40000005, 0x566e6558, 0x65584d4d, 0x4d4d566e]); break;
    case 0x40000001: out[0] = abi === null ? (XEN_MAJOR << 16) | XEN_MINOR : (abi.major << 16) | abi.minor; break;
    case 0x40000002: out.set([1, 0x40000000, 1, 0]); break;
    case 0x40000003: if (sub === 0) out[1] = 0; break;
    case 0x40000005: if (sub === 0) out[1] = 32 + 12 - 20; break;
    default: break;
  }
}
