// Delivering to the guest kernel: toggle_guest_mode, pv_inject_event and create_bounce_frame
// (xen/arch/x86/pv/domain.c, pv/traps.c, x86_64/entry.S at c447b7308b; xen-pv-abi.md §1.6,
// §1.11). A bounce rewrites regs so that the exit "returns" into a guest callback or trap
// handler, with the interrupted context in a frame on the guest kernel's stack.

import { swapGsBase } from '../../cpu/segments.js';
import { PF as VEC_PF } from '../../arch/vectors.js';
import {
  FLAT_KERNEL_CS, FLAT_KERNEL_SS, HYPERVISOR_VIRT_END, HYPERVISOR_VIRT_START, TI_IF, TRAP_syscall, VCPU_INFO,
} from '../../arch/xen.js';
import type { PvDomain } from './domain.js';
import { RCX, R11, rspOf, setRip, setRsp, type GuestRegs } from './regs.js';
import { PAGE } from './address-space.js';

/** struct trap_bounce flags (asm/processor.h). */
export const TBF_EXCEPTION = 1;
export const TBF_EXCEPTION_ERRCODE = 2;
export const TBF_INTERRUPT = 8;

export interface TrapBounce {
  flags: number;
  errorCode: number;
  eip: number;
}

const IF = 0x200, IOPL = 0x3000, TF = 0x100, NT = 0x4000, RF = 0x10000, VM = 0x20000, AC = 0x40000;
/** X86_EXC_HAVE_EC: the vectors whose hardware delivery pushes an error code. */
const HAVE_EC = (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 17) | (1 << 21) | (1 << 29) | (1 << 30);
/** PFEC_user_mode. */
const PFEC_U = 4;
/** VMASST_TYPE_architectural_iopl. */
export const VMASST_architectural_iopl = 4;

const VECTOR_NAMES = ['DE', 'DB', 'NMI', 'BP', 'OF', 'BR', 'UD', 'NM', 'DF', 'CSO', 'TS', 'NP', 'SS', 'GP', 'PF', 'SPV',
  'MF', 'AC', 'MC', 'XM', 'VE', 'CP', '22', '23', '24', '25', '26', '27', 'HV', 'VC', 'SX', '31'];

export function vectorName(v: number): string {
  return v < 32 ? `#${VECTOR_NAMES[v]}` : `${v}`;
}

/** toggle_guest_mode (pv/domain.c): swap the user and kernel GS bases — SWAPGS in IDT mode;
 *  in FRED mode, where SWAPGS is #UD and the CPU swapped GS_BASE with SHADOW_GS_BASE on the way
 *  into Xen, by exchanging the two MSRs, the same exchange — flip TF_kernel_mode, and load
 *  the other mode's page tables (_toggle_guest_pt). */
export function toggleGuestMode(d: PvDomain): void {
  const cpu = d.cpu;
  const v = d.vcpu;
  swapGsBase(cpu);
  v.kernelMode = !v.kernelMode;
  const table = v.kernelMode ? v.guestTable : v.guestTableUser;
  // write_ptbase: a CR3 load flushes the non-global translations.
  cpu.cr3Lo = (table * PAGE) | 0;
  cpu.cr3Hi = Math.floor((table * PAGE) / 4294967296);
  cpu.flushTlbNonGlobal();
}

/** The guest's CR2 (ctrlreg[2]) and arch_set_cr2: vcpu_info's arch.cr2 too. */
export function archSetCr2(d: PvDomain, cr2: number): void {
  d.vcpu.cr2 = cr2;
  const [lo, hi] = [cr2 % 4294967296, Math.floor(cr2 / 4294967296)];
  d.mem.writeU64(d.vcpu.vcpuInfo + VCPU_INFO.cr2, lo >>> 0, hi >>> 0);
}

/** pv_inject_event for a hardware exception or software interrupt (pv/traps.c): a bounce
 *  through the virtual trap table, queued in `tb` for the exit. */
export function injectEvent(d: PvDomain, regs: GuestRegs, tb: TrapBounce, vector: number, errorCode: number | null, cr2 = 0): void {
  const ti = d.vcpu.trapCtxt[vector];
  tb.flags = TBF_EXCEPTION;
  tb.eip = ti.address;
  tb.errorCode = 0;
  if (errorCode !== null) {
    let ec = errorCode;
    if (vector === VEC_PF) {
      archSetCr2(d, cr2);
      // "Re-set error_code.user flag appropriately for the guest."
      ec &= ~PFEC_U;
      if (!guestKernelMode(d, regs)) ec |= PFEC_U;
    }
    tb.flags |= TBF_EXCEPTION_ERRCODE;
    tb.errorCode = ec;
  }
  if ((ti.flags & TI_IF) !== 0) tb.flags |= TBF_INTERRUPT;
  if (ti.address === 0) {
    const ec = errorCode ?? 0;
    d.log(`(XEN) d${d.state.dom0 ? 0 : 1}v0 Unhandled: vec ${vector}, ${vectorName(vector)}[${ec.toString(16).padStart(4, '0')}]`);
  }
}

/** DR6's value with nothing pending (X86_DR6_DEFAULT), its breakpoint-hit bits, and the
 *  bit that reads as zero (X86_DR6_ZEROS). */
export const DR6_DEFAULT = 0xffff0ff0 | 0;
const DR6_BP_MASK = 0xf;
const DR6_ZEROS = 0x1000;

/** x86_merge_dr6 (debug.c): `pending` (positive polarity) into a DR6 value; the breakpoint
 *  bits replace, the others accumulate. The model's CPU has neither RTM nor bus-lock
 *  detection, so every reserved bit reads as one (x86_adj_dr6_rsvd). */
export function mergeDr6(dr6: number, pending: number): number {
  let v = dr6 ^ DR6_DEFAULT;
  v = (v & ~DR6_BP_MASK) | pending;
  return ((v ^ DR6_DEFAULT) | DR6_DEFAULT) & ~DR6_ZEROS;
}

/** pv_inject_DB: the guest's virtual DR6 gets the pending bits, and #DB is bounced. */
export function injectDebug(d: PvDomain, regs: GuestRegs, tb: TrapBounce, pending: number): void {
  d.state.virt.dr6 = mergeDr6(d.state.virt.dr6, pending) >>> 0;
  injectEvent(d, regs, tb, 1, null);
}

/** Whether `vector`'s hardware delivery pushes an error code. */
export function hasErrorCode(vector: number): boolean {
  return vector < 32 && (HAVE_EC & (1 << vector)) !== 0;
}

/** guest_kernel_mode(v, regs) for a 64-bit PV vCPU: ring 3 and TF_kernel_mode. */
export function guestKernelMode(d: PvDomain, regs: GuestRegs): boolean {
  return (regs.cs & 3) === 3 && d.vcpu.kernelMode;
}

/** The bounce frame as it is assembled: at most eight quadwords. */
const FRAME_BYTES = new Uint8Array(64);
const FRAME_VIEW = new DataView(FRAME_BYTES.buffer);

/** create_bounce_frame (x86_64/entry.S): the frame { RCX, R11, [ERRCODE,] RIP, CS, RFLAGS,
 *  RSP, SS } on the guest kernel's stack, and regs rewritten to enter `tb.eip` with it.
 *  Returns false when the domain crashed instead. */
export function createBounceFrame(d: PvDomain, regs: GuestRegs, tb: TrapBounce): boolean {
  const cpu = d.cpu;
  const v = d.vcpu;
  let base: number;
  if (!v.kernelMode) {
    toggleGuestMode(d);
    base = v.kernelSp;
  } else {
    base = rspOf(regs);
    // "Indicate kernel context to guest": RPL 0 in the frame's CS.
    regs.cs &= ~3;
  }
  base -= ((base % 16) + 16) % 16;
  // The frame must lie wholly outside Xen's range ("cmp ... ; jb/ja" around the hypervisor
  // hole): base at or below HYPERVISOR_VIRT_START, or 64 bytes past its end.
  if (!(base <= HYPERVISOR_VIRT_START || base >= HYPERVISOR_VIRT_END + 64)) {
    d.end({ kind: 'crash', why: 'create_bounce_frame: guest stack in the hypervisor range' });
    return false;
  }
  const mask = d.upcallMask;
  const withEc = (tb.flags & TBF_EXCEPTION_ERRCODE) !== 0;
  // The frame is assembled in a scratch buffer (no allocation on this path) and copied as one
  // copy_to_guest, so that a fault writes nothing.
  let n = 0;
  const push = (lo: number, hi: number): void => {
    FRAME_VIEW.setInt32(n * 8, lo | 0, true);
    FRAME_VIEW.setInt32(n * 8 + 4, hi | 0, true);
    n++;
  };
  push(cpu.regLo[RCX], cpu.regHi[RCX]);
  push(cpu.regLo[R11], cpu.regHi[R11]);
  if (withEc) push(tb.errorCode, 0);
  push(regs.ripLo, regs.ripHi);
  push(regs.cs & 0xffff, mask & 0xff);
  let flags = (regs.rflags & ~(IF | IOPL)) | (mask === 0 ? IF : 0);
  if ((d.state.vmAssist & (1 << VMASST_architectural_iopl)) !== 0) flags |= v.iopl;
  push(flags, 0);
  push(regs.rspLo, regs.rspHi);
  // `movq UREGS_ss`: in FRED mode the whole regs->ssx, the event's description included.
  push(regs.ss, regs.ssHi);
  const frame = base - n * 8;
  const bytes = FRAME_BYTES.subarray(0, n * 8);
  if (!d.copyToGuest(frame, bytes)) {
    d.log(`(XEN) Pagetable walk from ${hex(frame)}: bounce frame write fault`);
    d.end({ kind: 'crash', why: `create_bounce_frame: fault writing the frame at ${hex(frame)}` });
    return false;
  }
  if ((tb.flags & TBF_INTERRUPT) !== 0) d.upcallMask = mask | 1;
  regs.entryVector |= TRAP_syscall;
  regs.rflags &= ~(AC | VM | RF | NT | TF);
  regs.ss = FLAT_KERNEL_SS;
  regs.ssHi = 0;
  setRsp(regs, frame);
  regs.cs = FLAT_KERNEL_CS;
  if (tb.eip === 0) {
    d.end({ kind: 'crash', why: 'create_bounce_frame_bad_bounce_ip' });
    return false;
  }
  setRip(regs, tb.eip);
  tb.flags = 0;
  return true;
}

function hex(v: number): string {
  return '0x' + (v < 0 ? BigInt(v) + (1n << 64n) : BigInt(v)).toString(16);
}
