// Hypercalls of a 64-bit PV guest (pv_hypercall and the do_* handlers at c447b7308b; the
// argument checks and error numbers of each are written down in docs/architecture.md, "Xen
// PV host"). The number is the whole of %rax (an upper bit set matches nothing: -ENOSYS);
// the arguments are %rdi, %rsi, %rdx, %r10, %r8, each truncated to its C type; the result
// goes to %rax and, in a release build, no other register changes. Unimplemented numbers
// return -ENOSYS as compiled-out ones do on Xen, and the PV machine's own calls that this
// version does not model yet are model errors, not -ENOSYS, so no guest passes by accident.
// Event channels are event-channel.ts, sched_op is sched.ts, set_timer_op and the vCPU timers
// time.ts, grant_table_op grant-table.ts, the memory hypercalls (mmu_update, mmuext_op,
// update_va_mapping, memory_op) mm.ts and memory-op.ts.
//
// Deliberate deviations: hypercalls are never preempted (no continuations).

import {
  CALLBACKF_mask_events, CALLBACKOP_register, EvtchnOp, CALLBACKOP_unregister, CONSOLEIO_read, CONSOLEIO_write, CallbackType, Errno,
  FIRST_RESERVED_GDT_ENTRY, FLAT_KERNEL_CS, FLAT_USER_SS, Hc, Segbase, TI_IF,
  VCPU_INFO, VGCF_failsafe_disables_events, VGCF_syscall_disables_events,
} from '../../arch/xen.js';
import { NMI } from '../../arch/vectors.js';
import type { PvDomain } from './domain.js';
import type { Ring0 } from './entry.js';
import { doIret } from './iret.js';
import { doSysctl } from './sysctl.js';
import { readDebugreg, setDebugreg, XEN_MAJOR, XEN_MINOR } from './priv-op.js';
import { RAX, RDI, RSI, RDX, R10, R8, canonical, joined, type GuestRegs } from './regs.js';
import { PAGE } from './address-space.js';
import { loadSegment, swapGsBase } from '../../cpu/segments.js';
import { FAULT } from '../../cpu/fault.js';
import { Msr } from '../../cpu/msrs.js';
import type { Cpu } from '../../cpu/cpu.js';
import { eventChannelOp } from './event-channel.js';
import { schedOp, type SchedHost } from './sched.js';
import { program, setTimerOp, vcpuTimerOp } from './time.js';
import { grantTableOp, type GrantHost } from './grant-table.js';
import { mmuUpdate, mmuextOp, updateVaMapping, type MmCallHost } from './mm.js';
import { memoryOp } from './memory-op.js';
import { answer2007 } from './hypercalls-2007.js';

const TWO32 = 4294967296;
/** The valid vm_assist types for a 64-bit PV domain (PV64_VM_ASSIST_MASK). */
const VM_ASSIST_VALID = [0, 1, 2, 3, 4, 5, 32];
/** get_features submap 0 for PV64 at c447b7308b; dom0 adds XENFEAT_dom0 (bit 11). */
const FEATURES_PV64 = 0x001e20e0;

/** One hypercall's arguments as 64-bit halves. */
export interface Args {
  lo: number[];
  hi: number[];
}

/** What a handler returns: the value for %rax, or 'ended' when the domain is gone or the
 *  handler replaced regs wholesale and set %rax itself. */
type Result = number | 'ended' | 'iret';

/** The host side the hypercalls reach beyond the domain: the consoles, the peers of event
 *  channels (event-channel.ts) and their deferred work (sched.ts). */
export interface HypercallHost extends SchedHost, GrantHost, MmCallHost {
  /** dom0's console_io writes: the run's console. */
  consoleWrite(bytes: Uint8Array): void;
  /** The machine address of the domain's shared_info page. */
  readonly sharedInfo: number;
  /** Make the guest GDT frames `mfns` (at most 14) vCPU 0's GDT (pv_set_gdt), or none. */
  setGdtFrames(mfns: number[]): void;
  /** The other domains' deferred work (backend-domain.ts), run while the vCPU gives up the
   *  CPU; true if any of them did something. */
  runPeers(): boolean;
}

/** pv_hypercall: dispatch the SYSCALL a guest kernel made. */
export function pvHypercall(x: Ring0, host: HypercallHost, regs: GuestRegs): void {
  const cpu = x.d.cpu;
  const args: Args = { lo: [RDI, RSI, RDX, R10, R8].map((r) => cpu.regLo[r]), hi: [RDI, RSI, RDX, R10, R8].map((r) => cpu.regHi[r]) };
  const nr = cpu.regHi[RAX] !== 0 ? -1 : cpu.regLo[RAX] >>> 0;
  const result = call(x, host, regs, nr, args, false);
  if (result === 'ended') return;
  if (result === 'iret') return;
  setRax(x.d, result);
}

function setRax(d: PvDomain, v: number): void {
  const hi = Math.floor(v / TWO32);
  d.cpu.regLo[RAX] = (v - hi * TWO32) | 0;
  d.cpu.regHi[RAX] = hi | 0;
}

/** One hypercall by number (from the page, a raw SYSCALL or a multicall entry). */
function call(x: Ring0, host: HypercallHost, regs: GuestRegs, nr: number, a: Args, inMulticall: boolean): Result {
  const d = x.d;
  const u32 = (k: number): number => a.lo[k] >>> 0;
  const i32 = (k: number): number => a.lo[k] | 0;
  const ptr = (k: number): number => joined(a.lo[k], a.hi[k]);
  const abi = d.version.abi2007;
  if (abi !== null) {
    const r = answer2007(d, abi, nr, ptr(0), i32(0), a.lo[1], ptr(1));
    if (r !== null) return r;
  }
  switch (nr) {
    case Hc.set_trap_table: return setTrapTable(d, a);
    case Hc.stack_switch:
      // fixup_guest_stack_selector: RPL below 3 raised to 3; nothing is checked.
      d.vcpu.kernelSs = (a.lo[0] & 3) < 3 ? (a.lo[0] & ~3) | 3 : a.lo[0];
      d.vcpu.kernelSp = joined(a.lo[1], a.hi[1]);
      return 0;
    case Hc.set_callbacks:
      registerCallback(d, CallbackType.event, 0, a.lo[0], a.hi[0]);
      registerCallback(d, CallbackType.failsafe, 0, a.lo[1], a.hi[1]);
      registerCallback(d, CallbackType.syscall, 0, a.lo[2], a.hi[2]);
      return 0;
    case Hc.callback_op: return callbackOp(d, i32(0), ptr(1));
    case Hc.set_segment_base: return setSegmentBase(d, u32(0), a.lo[1], a.hi[1]);
    case Hc.xen_version: return xenVersion(d, i32(0), ptr(1));
    case Hc.console_io: return consoleIo(d, host, u32(0), u32(1), ptr(2));
    case Hc.sched_op: return schedOp(d, host, i32(0), ptr(1));
    case Hc.set_timer_op: return setTimerOp(d, host, a.lo[0], a.hi[0]);
    case Hc.vm_assist: return vmAssist(d, u32(0), u32(1));
    case Hc.iret: { // in a multicall: multicall() itself
      const rax = doIret(d, regs);
      if (rax === null) return 'ended';
      d.cpu.regLo[RAX] = rax.lo;
      d.cpu.regHi[RAX] = rax.hi;
      return 'iret';
    }
    case Hc.multicall: return inMulticall ? -Errno.EINVAL : multicall(x, host, regs, ptr(0), joined(a.lo[1], a.hi[1]));
    case Hc.physdev_op: return physdevOp(d, i32(0), ptr(1));
    case Hc.sysctl: return doSysctl(d, ptr(0));
    case Hc.event_channel_op: {
      const cmd = i32(0);
      const rc = eventChannelOp(d, host, cmd, ptr(1));
      // A VIRQ_TIMER bound or unbound decides whether the periodic timer needs Xen's APIC timer.
      if (cmd === EvtchnOp.bindVirq || cmd === EvtchnOp.close || cmd === EvtchnOp.reset || cmd === EvtchnOp.resetCont) program(d);
      return rc;
    }
    case Hc.vcpu_op: return vcpuOp(d, host, i32(0), u32(1), ptr(2));
    case Hc.mmu_update: return mmuUpdate(d, host, ptr(0), u32(1), ptr(2), u32(3));
    case Hc.mmuext_op: return mmuextOp(d, host, ptr(0), u32(1), ptr(2), u32(3));
    case Hc.update_va_mapping: return updateVaMapping(d, host, a.lo[0], a.hi[0], a.lo[1], a.hi[1], a.lo[2], a.hi[2]);
    case Hc.memory_op: return memoryOp(d, host, BigInt.asUintN(64, (BigInt(a.hi[0]) << 32n) | BigInt(a.lo[0] >>> 0)), ptr(1));
    case Hc.update_descriptor: return updateDescriptor(d, host, a);
    case Hc.set_gdt: return setGdt(d, host, ptr(0), u32(1));
    case Hc.grant_table_op: return grantTableOp(d, host, u32(0), ptr(1), u32(2));
    case Hc.set_debugreg: return setDebugreg(d, u32(0), a.lo[1], a.hi[1]); // do_set_debugreg's int reg, read as set_debugreg's unsigned int
    case Hc.get_debugreg: return readDebugreg(d, u32(0)) ?? -Errno.ENODEV;
    case Hc.event_channel_op_compat:
    case Hc.physdev_op_compat: case Hc.update_va_mapping_otherdomain:
    case Hc.fpu_taskswitch: case Hc.sched_op_compat: case Hc.nmi_op: case Hc.platform_op: case Hc.domctl: case Hc.xsm_op:
      return d.cpu.modelError(`Xen model: hypercall ${nr} is not modelled yet`);
    default:
      return -Errno.ENOSYS;
  }
}

// ------------------------------------------------------------------ traps and callbacks

/** do_set_trap_table: entries until one with address 0; a non-canonical address stops with
 *  -EINVAL, an unreadable entry with -EFAULT (earlier entries stay installed). */
function setTrapTable(d: PvDomain, a: Args): number {
  const traps = d.vcpu.trapCtxt;
  if (a.lo[0] === 0 && a.hi[0] === 0) {
    for (const t of traps) { t.flags = 0; t.cs = 0; t.address = 0; }
    return 0;
  }
  for (let at = joined(a.lo[0], a.hi[0]); ; at += 16) {
    const e = d.copyFromGuest(at, 16);
    if (e === null) return -Errno.EFAULT;
    const v = new DataView(e.buffer);
    const lo = v.getInt32(8, true), hi = v.getInt32(12, true);
    if (lo === 0 && hi === 0) return 0;
    if (!canonical(hi)) return -Errno.EINVAL;
    const cs = v.getUint16(2, true);
    traps[e[0]] = { flags: e[1], cs: (cs & 3) < 3 ? (cs & ~3) | 3 : cs, address: joined(lo, hi) };
  }
}

/** register_guest_callback: the canonical check first, then the type. */
function registerCallback(d: PvDomain, type: number, flags: number, lo: number, hi: number): number {
  if (!canonical(hi)) return -Errno.EINVAL;
  const v = d.vcpu;
  const addr = joined(lo, hi);
  const mask = (flags & CALLBACKF_mask_events) !== 0;
  switch (type) {
    case CallbackType.event: v.eventCallback = addr; return 0;
    case CallbackType.failsafe:
      v.failsafeCallback = addr;
      v.vgcFlags = mask ? v.vgcFlags | VGCF_failsafe_disables_events : v.vgcFlags & ~VGCF_failsafe_disables_events;
      return 0;
    case CallbackType.syscall:
      v.syscallCallback = addr;
      v.vgcFlags = mask ? v.vgcFlags | VGCF_syscall_disables_events : v.vgcFlags & ~VGCF_syscall_disables_events;
      return 0;
    // Before cd75d47348 (version.ts, syscall32Sysenter) these types were unknown: -ENOSYS.
    case CallbackType.syscall32:
      if (!d.version.syscall32Sysenter) return -Errno.ENOSYS;
      v.syscall32Callback = addr; v.syscall32DisablesEvents = mask; return 0;
    case CallbackType.sysenter:
      if (!d.version.syscall32Sysenter) return -Errno.ENOSYS;
      v.sysenterCallback = addr; v.sysenterDisablesEvents = mask; return 0;
    case CallbackType.nmi: v.trapCtxt[NMI] = { flags: TI_IF, cs: FLAT_KERNEL_CS, address: addr }; return 0;
    default: return -Errno.ENOSYS;
  }
}

function callbackOp(d: PvDomain, cmd: number, arg: number): number {
  if (cmd === CALLBACKOP_register) {
    const b = d.copyFromGuest(arg, 16);
    if (b === null) return -Errno.EFAULT;
    const v = new DataView(b.buffer);
    return registerCallback(d, v.getUint16(0, true), v.getUint16(2, true), v.getInt32(8, true), v.getInt32(12, true));
  }
  if (cmd === CALLBACKOP_unregister) {
    const b = d.copyFromGuest(arg, 4);
    if (b === null) return -Errno.EFAULT;
    const type = b[0] | (b[1] << 8);
    if (type === CallbackType.nmi) { d.vcpu.trapCtxt[NMI] = { flags: 0, cs: 0, address: 0 }; return 0; }
    const known = type === CallbackType.event || type === CallbackType.failsafe || type === CallbackType.syscall ||
      (d.version.syscall32Sysenter && (type === CallbackType.syscall32 || type === CallbackType.sysenter));
    return known ? -Errno.EINVAL : -Errno.ENOSYS;
  }
  return -Errno.ENOSYS;
}

/** do_set_segment_base. In IDT mode, in the guest kernel the live GS base is the kernel's and
 *  the shadow (KERNEL_GS_BASE) the user's; in FRED mode the CPU swapped them on the way into
 *  Xen, so each choice is the other register ("^ opt_fred", 9ea7d7f939) and the user
 *  selector's load needs no SWAPGS around it. */
function setSegmentBase(d: PvDomain, which: number, lo: number, hi: number): number {
  const cpu = d.cpu;
  switch (which) {
    case Segbase.fs: case Segbase.gsUser: case Segbase.gsKernel:
      if (!canonical(hi)) return -Errno.EINVAL;
      if (which === Segbase.fs) { cpu.segBaseLo[4] = lo; cpu.segBaseHi[4] = hi; cpu.segmentBaseChanged(4); }
      else if ((which === Segbase.gsKernel) !== d.fredMode) { cpu.segBaseLo[5] = lo; cpu.segBaseHi[5] = hi; cpu.segmentBaseChanged(5); }
      else { cpu.msrLo[Msr.KernelGsBase] = lo; cpu.msrHi[Msr.KernelGsBase] = hi; }
      return 0;
    case Segbase.gsUserSel: {
      // swapgs (IDT mode); load %gs with sel (RPL forced to 3 unless NUL; a faulting load
      // leaves NUL); the user base is what the load produced; swapgs back. Always 0.
      let sel = lo & 0xffff;
      if (sel > 3) sel |= 3;
      if (!d.fredMode) swapGsBase(cpu);
      // With a NUL selector, FLAT_USER_DS32 first so that the base is 0 on every vendor.
      if (sel <= 3) tryLoadSegment(cpu, 5, FLAT_USER_SS);
      if (!tryLoadSegment(cpu, 5, sel)) { tryLoadSegment(cpu, 5, FLAT_USER_SS); tryLoadSegment(cpu, 5, 0); }
      if (!d.fredMode) swapGsBase(cpu);
      return 0;
    }
    default: return -Errno.EINVAL;
  }
}

/** `mov sel, %seg` in Xen with an exception-table fixup: false if the load faulted. */
function tryLoadSegment(cpu: Cpu, seg: number, sel: number): boolean {
  try {
    loadSegment(cpu, seg, sel);
    return true;
  } catch (e) {
    if (e === FAULT) return false;
    throw e;
  }
}

// ------------------------------------------------------------------ information and console

function xenVersion(d: PvDomain, cmd: number, arg: number): number {
  const put = (bytes: Uint8Array): number => (d.copyToGuest(arg, bytes) ? 0 : -Errno.EFAULT);
  const str = (s: string, size: number): Uint8Array => { const b = new Uint8Array(size); b.set(new TextEncoder().encode(s).subarray(0, size - 1)); return b; };
  switch (cmd) {
    case 0: return (XEN_MAJOR << 16) | XEN_MINOR; // XENVER_version
    case 1: return put(str('-unstable', 16)); // extraversion
    case 2: return put(new Uint8Array(144)); // compile_info: nothing is compiled here
    case 3: return put(str('xen-3.0-x86_64 xen-3.0-x86_32p hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64 ', 1024)); // capabilities
    case 4: return put(str('c447b7308b', 64)); // changeset
    case 5: { // platform_parameters: virt_start (release build)
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, 0xffff800000000000n, true);
      return put(b);
    }
    case 6: { // get_features
      const b = d.copyFromGuest(arg, 8);
      if (b === null) return -Errno.EFAULT;
      const v = new DataView(b.buffer);
      if (v.getUint32(0, true) !== 0) return -Errno.EINVAL;
      let bits = FEATURES_PV64 | (d.state.dom0 ? 1 << 11 : 0);
      if ((d.state.vmAssist & (1 << 3)) !== 0) bits |= 1 << 4; // pae_pgdir_above_4gb with pae_extended_cr3
      v.setUint32(4, bits >>> 0, true);
      return put(b);
    }
    case 7: return arg === 0 ? PAGE : -Errno.EINVAL; // pagesize
    case 8: return put(new Uint8Array(16)); // guest_handle: the domain's (zero) UUID
    case 9: return d.state.dom0 ? put(new Uint8Array(1024)) : put(str('<denied>', 9)); // commandline
    case 10: return d.state.dom0 ? -61 /* -ENODATA: no build id */ : -Errno.EPERM;
    case 11: case 12: case 13: case 14: return d.cpu.modelError(`Xen model: XENVER ${cmd} (varbuf) is not modelled`);
    default: return -Errno.ENOSYS;
  }
}

/** do_console_io: dom0's writes are the run's console; a release-build domU gets -EPERM. */
function consoleIo(d: PvDomain, host: HypercallHost, cmd: number, count: number, buf: number): number {
  if (!d.state.dom0) return -Errno.EPERM;
  if (cmd === CONSOLEIO_write) {
    for (let done = 0; done < count;) {
      const n = Math.min(127, count - done);
      const chunk = d.copyFromGuest(buf + done, n);
      if (chunk === null) return -Errno.EFAULT;
      host.consoleWrite(chunk);
      done += n;
    }
    return 0;
  }
  if (cmd === CONSOLEIO_read) return count > 0x7fffffff ? -Errno.E2BIG : 0;
  return -Errno.ENOSYS;
}

function vmAssist(d: PvDomain, cmd: number, type: number): number {
  if (type >= 64 || !VM_ASSIST_VALID.includes(type)) return -Errno.EINVAL;
  const bit = 2 ** type;
  const has = Math.floor(d.state.vmAssist / bit) % 2 === 1;
  if (cmd === 0) { if (!has) d.state.vmAssist += bit; return 0; }
  if (cmd === 1) { if (has) d.state.vmAssist -= bit; return 0; }
  return -Errno.ENOSYS;
}

function physdevOp(d: PvDomain, cmd: number, arg: number): number {
  if (cmd === 6) { // PHYSDEVOP_set_iopl
    const b = d.copyFromGuest(arg, 4);
    if (b === null) return -Errno.EFAULT;
    const iopl = new DataView(b.buffer).getUint32(0, true);
    if (iopl > 3) return -Errno.EINVAL;
    d.vcpu.iopl = iopl << 12;
    return 0;
  }
  if (cmd === 7) return d.cpu.modelError('Xen model: PHYSDEVOP_set_iobitmap is not modelled yet');
  return d.cpu.modelError(`Xen model: PHYSDEVOP ${cmd} is not modelled`);
}

function vcpuOp(d: PvDomain, host: HypercallHost, cmd: number, vcpuid: number, arg: number): number {
  if (vcpuid !== 0) return -Errno.ENOENT;
  switch (cmd) {
    case 0: return d.copyFromGuest(arg, 1) === null ? -Errno.EFAULT : -Errno.EEXIST; // initialise
    case 1: return 0; // up
    case 3: return 1; // is_up
    case 6: case 7: case 8: case 9: return vcpuTimerOp(d, host, cmd, arg); // timers (time.ts)
    case 11: // send_nmi: pended for the exit loop
      if (arg !== 0) return -Errno.EINVAL;
      d.vcpu.nmiPending = true;
      return 0;
    case 12: // get_physid: the machine has one CPU, so dom0's vCPU is pinned to it (is_hwdom_pinned_vcpu)
      if (!d.state.dom0) return -Errno.EINVAL;
      return d.copyToGuest(arg, new Uint8Array(8)) ? 0 : -Errno.EFAULT; // APIC ID 0, ACPI processor ID 0
    case 10: return registerVcpuInfo(d, host, arg);
    case 2: case 4: case 5: case 13: case 14: case 15:
      return d.cpu.modelError(`Xen model: VCPUOP ${cmd} is not modelled yet`);
    default: return -Errno.ENOSYS;
  }
}

/** VCPUOP_register_vcpu_info (common/domain.c map_guest_area at c447b7308b): the vcpu_info
 *  moves to guest frame `mfn` at `offset`; the old contents come along, and a "spurious"
 *  event is made pending (pending_sel all ones, upcall_pending) so nothing is lost. */
function registerVcpuInfo(d: PvDomain, host: HypercallHost, arg: number): number {
  const b = d.copyFromGuest(arg, 16);
  if (b === null) return -Errno.EFAULT;
  const v = new DataView(b.buffer);
  const mfn = joined(v.getInt32(0, true), v.getInt32(4, true));
  const offset = v.getUint32(8, true);
  if (offset >= PAGE) return -Errno.EINVAL; // the offset would name another frame
  if (d.vcpu.vcpuInfo !== host.sharedInfo) return -Errno.EBUSY;
  if (offset + VCPU_INFO.size > PAGE || offset % 8 !== 0) return -Errno.ENXIO;
  // get_page_from_gfn, then get_page_and_type(PGT_writable_page), held while registered.
  if (!host.mm.getPage(mfn)) return -Errno.EINVAL;
  if (host.mm.getType(mfn, 'writable') !== 0) { host.mm.putPage(mfn); return -Errno.EACCES; }
  const to = mfn * PAGE + offset;
  d.mem.write(to, d.mem.bytes.slice(d.vcpu.vcpuInfo, d.vcpu.vcpuInfo + VCPU_INFO.size));
  d.vcpu.vcpuInfo = to;
  d.mem.writeU64(to + VCPU_INFO.pendingSel, -1, -1);
  d.mem.write(to + VCPU_INFO.upcallPending, Uint8Array.of(1));
  return 0;
}

// ------------------------------------------------------------------ multicall

function multicall(x: Ring0, host: HypercallHost, regs: GuestRegs, list: number, nr: number): number {
  const d = x.d;
  for (let i = 0; i < nr; i++) {
    const e = d.copyFromGuest(list + i * 64, 64);
    if (e === null) return -Errno.EFAULT;
    const v = new DataView(e.buffer);
    const opHi = v.getInt32(4, true);
    const op = opHi !== 0 ? -1 : v.getUint32(0, true);
    if (op === Hc.iret) {
      // mc_exit (XSA-213): the batch stops; do_iret's whole 64-bit result goes to the
      // entry, best effort, and the multicall returns it as an int.
      const rax = doIret(d, regs);
      if (rax === null) return 0;
      d.copyToGuest(list + i * 64 + 8, resultBytes(rax.lo, rax.hi));
      return rax.lo | 0;
    }
    const args: Args = { lo: [], hi: [] };
    for (let k = 0; k < 5; k++) { args.lo.push(v.getInt32(16 + 8 * k, true)); args.hi.push(v.getInt32(20 + 8 * k, true)); }
    const r = call(x, host, regs, op, args, true);
    if (typeof r !== 'number') return 0; // the domain ended
    const hi = Math.floor(r / TWO32);
    if (!d.copyToGuest(list + i * 64 + 8, resultBytes((r - hi * TWO32) | 0, hi | 0))) return -Errno.EFAULT;
  }
  return 0;
}

function resultBytes(lo: number, hi: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setInt32(0, lo, true);
  new DataView(out.buffer).setInt32(4, hi, true);
  return out;
}

// ------------------------------------------------------------------ memory and descriptors

/** check_descriptor for a 64-bit PV guest: false to refuse; `desc` is fixed up in place. */
export function checkDescriptor(desc: [number, number]): boolean {
  let [a, b] = desc;
  if ((b & 0x8000) === 0) return true;
  const dpl = (b >> 13) & 3;
  if (dpl < 3) b |= 3 << 13;
  if ((b & 0x1000) !== 0) { desc[1] = b; return true; }
  const type = (b >> 8) & 0xf;
  if (type === 0) return true;
  if (type !== 0xc) return false;
  const cs = a >>> 16;
  if (!((cs >> 3) < FIRST_RESERVED_GDT_ENTRY || cs === FLAT_KERNEL_CS || (cs & 4) !== 0)) return false;
  b &= ~(3 << 13);
  a = (a & 0xffff) | (((cs & ~3) | 3) << 16);
  if ((b & 0xff) !== 0) return false;
  desc[0] = a;
  desc[1] = b;
  return true;
}

/** do_update_descriptor: the page must be the domain's and a descriptor page or able to
 *  be written (PGT_writable_page for the write). */
function updateDescriptor(d: PvDomain, host: HypercallHost, a: Args): number {
  const gaddr = joined(a.lo[0], a.hi[0]);
  const desc: [number, number] = [a.lo[1], a.hi[1]];
  if (gaddr % 8 !== 0 || !checkDescriptor(desc)) return -Errno.EINVAL;
  const mfn = Math.floor(gaddr / PAGE);
  const mm = host.mm;
  if (!mm.getPage(mfn)) return -Errno.EINVAL;
  const type = mm.typeOf(mfn) === 'seg_desc' ? 'seg_desc' : 'writable';
  if (mm.getType(mfn, type) !== 0) { mm.putPage(mfn); return -Errno.EINVAL; }
  d.mem.writeU64(gaddr, desc[0], desc[1]);
  mm.putPageAndType(mfn);
  return 0;
}

/** do_set_gdt (pv_set_gdt): each frame becomes a descriptor page (validated on its first
 *  such use); the old frames' references are dropped. */
function setGdt(d: PvDomain, host: HypercallHost, list: number, entries: number): number {
  if (entries > FIRST_RESERVED_GDT_ENTRY) return -Errno.EINVAL;
  const n = Math.ceil(entries / 512);
  const b = d.copyFromGuest(list, n * 8);
  if (b === null) return -Errno.EFAULT;
  const v = new DataView(b.buffer);
  const mfns: number[] = [];
  for (let k = 0; k < n; k++) mfns.push(joined(v.getInt32(8 * k, true), v.getInt32(8 * k + 4, true)));
  const mm = host.mm;
  for (let k = 0; k < n; k++) {
    if (mm.getSegdesc(mfns[k], checkDescriptor) !== 0) {
      for (let j = 0; j < k; j++) mm.putPageAndType(mfns[j]);
      return -Errno.EINVAL;
    }
  }
  for (const mfn of d.vcpu.gdtFrames) mm.putPageAndType(mfn);
  d.vcpu.gdtFrames = mfns;
  host.setGdtFrames(mfns);
  d.cpu.flushTlbNonGlobal();
  return 0;
}
