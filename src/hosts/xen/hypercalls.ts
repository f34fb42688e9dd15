// Hypercalls of a 64-bit PV guest (pv_hypercall and the do_* handlers at c447b7308b; the
// argument checks and error numbers of each are written down in docs/architecture.md, "Xen
// PV host"). The number is the whole of %rax (an upper bit set matches nothing: -ENOSYS);
// the arguments are %rdi, %rsi, %rdx, %r10, %r8, each truncated to its C type; the result
// goes to %rax and, in a release build, no other register changes. Unimplemented numbers
// return -ENOSYS as compiled-out ones do on Xen, and the PV machine's own calls that this
// version does not model yet (memory_op, mmu_update) are model errors, not -ENOSYS, so no
// guest passes by accident. Event channels are event-channel.ts, sched_op is sched.ts,
// set_timer_op and the vCPU timers time.ts, grant_table_op grant-table.ts.
//
// Deliberate deviations: hypercalls are never preempted (no continuations); page types are
// those of the builder's tables, pinning and GDT frames only: validating a new page-table
// hierarchy (pinning a fresh table, a new base pointer) is a model error.

import {
  CALLBACKF_mask_events, CALLBACKOP_register, EvtchnOp, CALLBACKOP_unregister, CONSOLEIO_read, CONSOLEIO_write, CallbackType, Errno,
  FIRST_RESERVED_GDT_ENTRY, FLAT_KERNEL_CS, FLAT_USER_SS, HYPERVISOR_VIRT_END, Hc, Segbase, TI_IF,
  VCPU_INFO, VGCF_failsafe_disables_events, VGCF_syscall_disables_events,
} from '../../arch/xen.js';
import { NMI } from '../../arch/vectors.js';
import type { PvDomain } from './domain.js';
import type { Ring0 } from './entry.js';
import { doIret } from './iret.js';
import { doSysctl } from './sysctl.js';
import { readDebugreg, setDebugreg, XEN_MAJOR, XEN_MINOR } from './priv-op.js';
import { RAX, RDI, RSI, RDX, R10, R8, canonical, joined, type GuestRegs } from './regs.js';
import { PAGE, PTE } from './address-space.js';
import { loadSegment, swapGsBase } from '../../cpu/segments.js';
import { FAULT } from '../../cpu/fault.js';
import { Msr } from '../../cpu/msrs.js';
import type { Cpu } from '../../cpu/cpu.js';
import { eventChannelOp } from './event-channel.js';
import { schedOp, type SchedHost } from './sched.js';
import { program, setTimerOp, vcpuTimerOp } from './time.js';
import { grantTableOp, isGrantFrame, type GrantHost } from './grant-table.js';

const TWO32 = 4294967296;
const DOMID_SELF = 0x7ff0;
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
export interface HypercallHost extends SchedHost, GrantHost {
  /** dom0's console_io writes: the run's console. */
  consoleWrite(bytes: Uint8Array): void;
  /** The machine address of the domain's shared_info page. */
  readonly sharedInfo: number;
  /** Pages Xen knows as the domain's page tables and descriptor pages, by mfn. */
  readonly pageTypes: Map<number, PageType>;
  /** Machine frames the domain owns: [first, end). */
  readonly domainFrames: [number, number];
  /** Make the guest GDT frames `mfns` (at most 14) vCPU 0's GDT (pv_set_gdt), or none. */
  setGdtFrames(mfns: number[]): void;
  /** The other domains' deferred work (backend-domain.ts), run while the vCPU gives up the
   *  CPU; true if any of them did something. */
  runPeers(): boolean;
}

export interface PageType {
  type: 'l1' | 'l2' | 'l3' | 'l4' | 'seg_desc';
  pinned: boolean;
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
    case Hc.mmuext_op: return mmuextOp(d, host, ptr(0), u32(1), ptr(2), u32(3));
    case Hc.update_va_mapping: return updateVaMapping(d, host, a);
    case Hc.update_descriptor: return updateDescriptor(d, host, a);
    case Hc.set_gdt: return setGdt(d, host, ptr(0), u32(1));
    case Hc.grant_table_op: return grantTableOp(d, host, u32(0), ptr(1), u32(2));
    case Hc.set_debugreg: return setDebugreg(d, u32(0), a.lo[1], a.hi[1]); // do_set_debugreg's int reg, read as set_debugreg's unsigned int
    case Hc.get_debugreg: return readDebugreg(d, u32(0)) ?? -Errno.ENODEV;
    case Hc.mmu_update: case Hc.memory_op: case Hc.event_channel_op_compat:
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
    case CallbackType.syscall32: v.syscall32Callback = addr; v.syscall32DisablesEvents = mask; return 0;
    case CallbackType.sysenter: v.sysenterCallback = addr; v.sysenterDisablesEvents = mask; return 0;
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
    const known = [CallbackType.event, CallbackType.failsafe, CallbackType.syscall, CallbackType.syscall32, CallbackType.sysenter];
    return known.includes(type) ? -Errno.EINVAL : -Errno.ENOSYS;
  }
  return -Errno.ENOSYS;
}

/** do_set_segment_base, IDT mode: in the guest kernel the live GS base is the kernel's and
 *  the shadow (KERNEL_GS_BASE) the user's. */
function setSegmentBase(d: PvDomain, which: number, lo: number, hi: number): number {
  const cpu = d.cpu;
  switch (which) {
    case Segbase.fs: case Segbase.gsUser: case Segbase.gsKernel:
      if (!canonical(hi)) return -Errno.EINVAL;
      if (which === Segbase.fs) { cpu.segBaseLo[4] = lo; cpu.segBaseHi[4] = hi; cpu.segmentBaseChanged(4); }
      else if (which === Segbase.gsKernel) { cpu.segBaseLo[5] = lo; cpu.segBaseHi[5] = hi; cpu.segmentBaseChanged(5); }
      else { cpu.msrLo[Msr.KernelGsBase] = lo; cpu.msrHi[Msr.KernelGsBase] = hi; }
      return 0;
    case Segbase.gsUserSel: {
      // swapgs; load %gs with sel (RPL forced to 3 unless NUL; a faulting load leaves NUL);
      // the user base is what the load produced; swapgs back. Always 0.
      let sel = lo & 0xffff;
      if (sel > 3) sel |= 3;
      swapGsBase(cpu);
      // With a NUL selector, FLAT_USER_DS32 first so that the base is 0 on every vendor.
      if (sel <= 3) tryLoadSegment(cpu, 5, FLAT_USER_SS);
      if (!tryLoadSegment(cpu, 5, sel)) { tryLoadSegment(cpu, 5, FLAT_USER_SS); tryLoadSegment(cpu, 5, 0); }
      swapGsBase(cpu);
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
  const [first, end] = host.domainFrames;
  if (mfn < first || mfn >= end) return -Errno.EINVAL;
  if (host.pageTypes.has(mfn)) return -Errno.EACCES;
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

const MMUEXT = { pinL1: 0, pinL4: 3, unpin: 4, newBaseptr: 5, tlbFlushLocal: 6, invlpgLocal: 7, tlbFlushMulti: 8, invlpgMulti: 9, tlbFlushAll: 10, invlpgAll: 11, setLdt: 13, newUserBaseptr: 15, markSuper: 19, unmarkSuper: 20 } as const;
const LEVEL_TYPES = ['l1', 'l2', 'l3', 'l4'] as const;

function mmuextOp(d: PvDomain, host: HypercallHost, uops: number, count: number, pdone: number, foreigndom: number): number {
  const own = d.state.dom0 ? 0 : 1;
  if ((foreigndom & 0xffff) === own) return -Errno.ESRCH;
  if ((foreigndom & 0xffff) !== DOMID_SELF) return d.cpu.modelError('Xen model: mmuext_op on a foreign domain is not modelled');
  if ((count & 0x80000000) !== 0) return d.cpu.modelError('Xen model: a continued mmuext_op (MMU_UPDATE_PREEMPTED) is not modelled');
  let rc = 0, i = 0;
  for (; i < count; i++) {
    const b = d.copyFromGuest(uops + i * 24, 24);
    if (b === null) { rc = -Errno.EFAULT; break; }
    const v = new DataView(b.buffer);
    const cmd = v.getUint32(0, true);
    const arg1 = joined(v.getInt32(8, true), v.getInt32(12, true));
    rc = mmuextOne(d, host, cmd, arg1, v.getInt32(12, true));
    if (rc !== 0) break;
  }
  if (pdone !== 0) {
    const b = d.copyFromGuest(pdone, 4);
    if (b !== null) {
      const v = new DataView(b.buffer);
      v.setUint32(0, (v.getUint32(0, true) + i) >>> 0, true);
      d.copyToGuest(pdone, b);
    }
  }
  return rc;
}

function mmuextOne(d: PvDomain, host: HypercallHost, cmd: number, arg1: number, arg1Hi: number): number {
  const cpu = d.cpu;
  const types = host.pageTypes;
  const mfn = arg1;
  switch (cmd) {
    case 0: case 1: case 2: case 3: {
      const t = types.get(mfn);
      if (t === undefined) {
        if (mfn < host.domainFrames[0] || mfn >= host.domainFrames[1]) return -Errno.EINVAL;
        return cpu.modelError('Xen model: validating a new page table (MMUEXT_PIN) is not modelled yet');
      }
      if (t.type !== LEVEL_TYPES[cmd]) return -Errno.EINVAL;
      if (t.pinned) return -Errno.EINVAL;
      t.pinned = true;
      return 0;
    }
    case MMUEXT.unpin: {
      const t = types.get(mfn);
      if (t === undefined || !t.pinned || t.type === 'seg_desc') return -Errno.EINVAL;
      t.pinned = false;
      return 0;
    }
    case MMUEXT.newBaseptr: case MMUEXT.newUserBaseptr: {
      const user = cmd === MMUEXT.newUserBaseptr;
      const current = user ? d.vcpu.guestTableUser : d.vcpu.guestTable;
      if (mfn === current) {
        if (!user) cpu.flushTlbNonGlobal();
        return 0;
      }
      if (user && mfn === 0) { d.vcpu.guestTableUser = 0; return 0; }
      const t = types.get(mfn);
      if (t === undefined) {
        if (mfn < host.domainFrames[0] || mfn >= host.domainFrames[1]) return -Errno.EINVAL;
        return cpu.modelError('Xen model: validating a new L4 (a new base pointer) is not modelled yet');
      }
      if (t.type !== 'l4') return -Errno.EINVAL;
      if (user) d.vcpu.guestTableUser = mfn;
      else {
        d.vcpu.guestTable = mfn;
        cpu.cr3Lo = (mfn * PAGE) | 0;
        cpu.cr3Hi = Math.floor((mfn * PAGE) / TWO32);
        cpu.flushTlbNonGlobal();
      }
      return 0;
    }
    case MMUEXT.tlbFlushLocal: case MMUEXT.tlbFlushAll: cpu.flushTlbNonGlobal(); return 0;
    case MMUEXT.invlpgLocal: case MMUEXT.invlpgAll:
      if (canonical(arg1Hi)) cpu.flushTlbPage(arg1);
      return 0;
    case MMUEXT.tlbFlushMulti: case MMUEXT.invlpgMulti:
      return cpu.modelError('Xen model: MMUEXT_*_MULTI (a vCPU mask) is not modelled');
    case MMUEXT.setLdt: return cpu.modelError('Xen model: MMUEXT_SET_LDT is not modelled yet');
    case MMUEXT.markSuper: case MMUEXT.unmarkSuper: return -Errno.EOPNOTSUPP;
    case 12: case 16: case 17: case 18: return cpu.modelError(`Xen model: MMUEXT ${cmd} is not modelled yet`);
    default: return -Errno.ENOSYS;
  }
}

/** Machine address of the L1 entry mapping `va` in the current kernel tables, or -1 where
 *  map_guest_l1e fails (no L2 entry, a superpage, Xen's range). */
function l1eFor(d: PvDomain, va: number): number {
  const mem = d.mem;
  let table = d.vcpu.guestTable * PAGE;
  for (let level = 4; level >= 2; level--) {
    const at = table + (Math.floor(va / 2 ** (12 + 9 * (level - 1))) & 511) * 8;
    const lo = mem.readU32(at), hi = mem.readU32(at + 4);
    if ((lo & PTE.P) === 0 || (level === 2 && (lo & PTE.PS) !== 0)) return -1;
    table = (hi & 0xfffff) * TWO32 + (lo >>> 12) * PAGE;
  }
  return table + (Math.floor(va / PAGE) & 511) * 8;
}

/** Whether a writable mapping of `mfn` exists in the domain's page tables. */
function writablyMapped(d: PvDomain, host: HypercallHost, mfn: number): boolean {
  const mem = d.mem;
  for (const [frame, t] of host.pageTypes) {
    if (t.type !== 'l1') continue;
    for (let k = 0; k < 512; k++) {
      const lo = mem.readU32(frame * PAGE + k * 8), hi = mem.readU32(frame * PAGE + k * 8 + 4);
      if ((lo & (PTE.P | PTE.RW)) === (PTE.P | PTE.RW) && (hi & 0xfffff) * TWO32 / PAGE + (lo >>> 12) === mfn) return true;
    }
  }
  return false;
}

/** do_update_va_mapping. */
function updateVaMapping(d: PvDomain, host: HypercallHost, a: Args): number {
  const cpu = d.cpu;
  const va = joined(a.lo[0], a.hi[0]);
  const flags = joined(a.lo[2], a.hi[2]);
  if (!canonical(a.hi[0]) || (va < 0 && va < HYPERVISOR_VIRT_END)) return -Errno.EINVAL;
  const at = l1eFor(d, va);
  if (at < 0) return -Errno.EINVAL;
  const l1 = Math.floor(at / PAGE);
  if (host.pageTypes.get(l1)?.type !== 'l1') return -Errno.EINVAL;
  let lo = a.lo[1], hi = a.hi[1];
  if ((lo & PTE.P) !== 0) {
    // l1_disallow_mask: PWT, PCD and PAT need cache-flush rights (dom0's I/O).
    if ((lo & 0x98) !== 0 && !d.state.dom0) return -Errno.EINVAL;
    // adjust_guest_l1e: user pages get G, kernel pages _PAGE_GUEST_KERNEL (bit 52); all get US.
    if ((lo & PTE.US) === 0) { lo |= PTE.US; hi |= 1 << 20; }
    else if ((hi & (1 << 20)) === 0) lo |= PTE.G;
    const mfn = (hi & 0xfffff) * TWO32 / PAGE + (lo >>> 12);
    const [first, end] = host.domainFrames;
    const own = (mfn >= first && mfn < end) || mfn === host.sharedInfo / PAGE || isGrantFrame(host.grants, mfn);
    if (!own) return mfn * PAGE >= d.mem.size ? (d.state.dom0 ? 0 : -Errno.EPERM) : -Errno.EBUSY;
    if ((lo & PTE.RW) !== 0 && host.pageTypes.has(mfn)) return -Errno.EBUSY;
  }
  d.mem.writeU64(at, lo, hi);
  switch (flags % 4) {
    case 1: cpu.flushTlbNonGlobal(); break;
    case 2: cpu.flushTlbPage(va); break;
    default: break;
  }
  const target = flags - (flags % 4);
  if (target !== 0 && target !== 4) return cpu.modelError('Xen model: update_va_mapping with a vCPU mask (UVMF_MULTI) is not modelled');
  return 0;
}

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

function updateDescriptor(d: PvDomain, host: HypercallHost, a: Args): number {
  const gaddr = joined(a.lo[0], a.hi[0]);
  const desc: [number, number] = [a.lo[1], a.hi[1]];
  if (gaddr % 8 !== 0 || !checkDescriptor(desc)) return -Errno.EINVAL;
  const mfn = Math.floor(gaddr / PAGE);
  const [first, end] = host.domainFrames;
  if (mfn < first || mfn >= end) return -Errno.EINVAL;
  const t = host.pageTypes.get(mfn);
  if (t !== undefined && t.type !== 'seg_desc') return -Errno.EINVAL;
  d.mem.writeU64(gaddr, desc[0], desc[1]);
  return 0;
}

function setGdt(d: PvDomain, host: HypercallHost, list: number, entries: number): number {
  if (entries > FIRST_RESERVED_GDT_ENTRY) return -Errno.EINVAL;
  const n = Math.ceil(entries / 512);
  const b = d.copyFromGuest(list, n * 8);
  if (b === null) return -Errno.EFAULT;
  const v = new DataView(b.buffer);
  const mfns: number[] = [];
  for (let k = 0; k < n; k++) mfns.push(joined(v.getInt32(8 * k, true), v.getInt32(8 * k + 4, true)));
  const mem = d.mem;
  const [first, end] = host.domainFrames;
  for (const mfn of mfns) {
    if (mfn < first || mfn >= end) return -Errno.EINVAL;
    const t = host.pageTypes.get(mfn);
    if (t !== undefined && t.type !== 'seg_desc') return -Errno.EINVAL;
    if (t === undefined) {
      if (writablyMapped(d, host, mfn)) return -Errno.EINVAL;
      // validate_segdesc_page: every descriptor checked, fixed up in place.
      const fixed: Array<[number, number]> = [];
      for (let k = 0; k < 512; k++) {
        const desc: [number, number] = [mem.readU32(mfn * PAGE + 8 * k) | 0, mem.readU32(mfn * PAGE + 8 * k + 4) | 0];
        if (!checkDescriptor(desc)) return -Errno.EINVAL;
        fixed.push(desc);
      }
      fixed.forEach(([lo, hi], k) => mem.writeU64(mfn * PAGE + 8 * k, lo, hi));
    }
  }
  for (const [mfn, t] of [...host.pageTypes]) if (t.type === 'seg_desc' && !mfns.includes(mfn)) host.pageTypes.delete(mfn);
  for (const mfn of mfns) host.pageTypes.set(mfn, { type: 'seg_desc', pinned: false });
  host.setGdtFrames(mfns);
  d.cpu.flushTlbNonGlobal();
  return 0;
}

