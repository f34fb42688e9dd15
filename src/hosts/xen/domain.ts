// What Xen keeps about the one PV domain it runs and its vCPU (struct domain, struct vcpu's
// arch.pv part), as plain data so that it is captured with the machine; and the operations
// every path shares: reading and writing guest memory as copy_{from,to}_guest do, the
// guest's vcpu_info, and ending the domain (shutdown, crash).

import type { Cpu } from '../../cpu/cpu.js';
import { XEN_VERSIONS, type XenVersion } from './version.js';
import type { Machine } from '../../machine/machine.js';
import type { PhysicalMemory } from '../../machine/memory.js';
import { HYPERVISOR_VIRT_END, HYPERVISOR_VIRT_START, SHARED_INFO, VCPU_INFO, type ShutdownReason } from '../../arch/xen.js';
import { PAGE, PTE } from './address-space.js';
import type { VirtualRegs } from './priv-op.js';
import type { Vmce } from './msr.js';
import type { EventChannelState } from './event-channel.js';

const TWO32 = 4294967296;
/** Bytes a level-n paging entry maps (index n; n = 1 is a PTE). */
const LEVEL_SIZE = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39];
/** The entries one walk used, by level from the top (no allocation on this path). */
const walked = [0, 0, 0, 0];
/** One byte for vcpu_info's writes. */
const BYTE = new Uint8Array(1);

/** One virtual trap-table entry (struct trap_info, as Xen keeps it in arch.pv.trap_ctxt). */
export interface TrapInfo {
  flags: number;
  cs: number;
  /** A canonical linear address (0: no handler). */
  address: number;
}

/** The PV vCPU: arch.pv and the flags of struct vcpu that the entry paths read. */
export interface PvVcpu {
  /** TF_kernel_mode: the guest kernel, not its user space, runs. */
  kernelMode: boolean;
  trapCtxt: TrapInfo[];
  eventCallback: number;
  failsafeCallback: number;
  syscallCallback: number;
  syscall32Callback: number;
  sysenterCallback: number;
  /** vgc_flags: VGCF_failsafe_disables_events, VGCF_syscall_disables_events. */
  vgcFlags: number;
  syscall32DisablesEvents: boolean;
  sysenterDisablesEvents: boolean;
  kernelSs: number;
  kernelSp: number;
  /** Machine frames of the kernel's and the user's L4 (guest_table, guest_table_user; 0: none). */
  guestTable: number;
  guestTableUser: number;
  /** arch.pv.iopl: the virtual IOPL, in RFLAGS bit position (0, 0x1000, 0x2000, 0x3000). */
  iopl: number;
  /** Machine address of the vCPU's vcpu_info. */
  vcpuInfo: number;
  /** arch.pv.ctrlreg[2]: the guest's last page-fault address. */
  cr2: number;
  /** arch.nmi_pending, arch.async_exception_mask (bit VCPU_TRAP_NMI = 2: an NMI is being
   *  handled, until HYPERVISOR_iret) and the mask it replaced (nmi_state.old_mask). */
  nmiPending: boolean;
  asyncExceptionMask: number;
  nmiOldMask: number;
  // Events and time (sched.ts, time.ts): times are Xen system time in ns (time.ts).
  /** _VPF_blocked by SCHEDOP_block (1) or SCHEDOP_poll (2); 0: runnable. */
  blocked: 0 | 1 | 2;
  /** poll_evtchn: the one polled port, -1 for several, 0 when not polling. */
  pollPort: number;
  /** The deadlines of singleshot_timer and poll_timer (-1: stopped). */
  singleshot: number;
  pollTimer: number;
  /** periodic_period (0: stopped) and periodic_last_event. */
  periodicPeriod: number;
  periodicLast: number;
  // Memory (mm.ts): the frames of the GDT (each holding a seg_desc type reference); the
  // LDT (MMUEXT_SET_LDT: arch.pv.ldt_base, ldt_ents) and the frames mapped in its shadow
  // area (0: not mapped yet), each holding a seg_desc type reference.
  gdtFrames: number[];
  ldtBase: number;
  ldtEnts: number;
  ldtFrames: number[];
}

export interface PvDomainState {
  dom0: boolean;
  /** d->vm_assist. */
  vmAssist: number;
  vcpu: PvVcpu;
  /** The domU console ring's machine frame and event channel (-1 for dom0). */
  consoleMfn: number;
  consoleEvtchn: number;
  /** The domU xenstore ring's machine frame (-1 for dom0). */
  storeMfn: number;
  /** Xen's log ((XEN) lines and a domU's console_io writes). */
  log: string[];
  /** The vCPU's virtual control and debug registers. */
  virt: VirtualRegs;
  /** The vCPU's virtual machine-check MSRs (msr.ts). */
  vmce: Vmce;
  /** Event channels (event-channel.ts). */
  events: EventChannelState;
}

export function newVcpu(vcpuInfo: number): PvVcpu {
  return {
    kernelMode: true,
    trapCtxt: Array.from({ length: 256 }, () => ({ flags: 0, cs: 0, address: 0 })),
    eventCallback: 0, failsafeCallback: 0, syscallCallback: 0, syscall32Callback: 0, sysenterCallback: 0,
    vgcFlags: 0, syscall32DisablesEvents: false, sysenterDisablesEvents: false,
    kernelSs: 0, kernelSp: 0, guestTable: 0, guestTableUser: 0, iopl: 0, vcpuInfo, cr2: 0,
    nmiPending: false, asyncExceptionMask: 0, nmiOldMask: 0,
    blocked: 0, pollPort: 0, singleshot: -1, pollTimer: -1, periodicPeriod: 10_000_000, periodicLast: 0,
    gdtFrames: [], ldtBase: 0, ldtEnts: 0, ldtFrames: Array<number>(16).fill(0),
  };
}

/** How the domain ended, for the machine's run end. */
export type DomainEnd = { kind: 'shutdown'; reason: ShutdownReason | number } | { kind: 'crash'; why: string };

/** The running domain as the paths see it. */
export class PvDomain {
  /** The toolstack's last look at the domain before it goes (xenconsoled's pending read). */
  onEnd: (() => void) | null = null;

  /** Xen in FRED mode (booted with fred=1 on a CPU with FRED): entry-fred.ts. */
  readonly fredMode: boolean;

  constructor(readonly machine: Machine, public state: PvDomainState, readonly version: XenVersion = XEN_VERSIONS.xen) {
    this.fredMode = version.fred && machine.cpu.model.fred;
  }

  get cpu(): Cpu {
    return this.machine.cpu;
  }

  /** Machine memory, as Xen reaches it through its direct map. */
  get mem(): PhysicalMemory {
    return this.machine.memory;
  }

  get vcpu(): PvVcpu {
    return this.state.vcpu;
  }

  log(line: string): void {
    this.state.log.push(line);
  }

  // ------------------------------------------------------------ guest memory

  /** The machine address of guest linear `lin` through the current page tables, as Xen's
   *  guest accessors reach it (stac/clac; CR0.WP = 1), or -1 where they would fault: a
   *  non-present entry, a read-only one for a write, or Xen's own range (access_ok). The
   *  walk sets accessed and dirty flags as the processor would. */
  translate(lin: number, write: boolean): number {
    if (lin >= HYPERVISOR_VIRT_START && lin < HYPERVISOR_VIRT_END) return -1;
    const cpu = this.cpu;
    const mem = this.mem;
    let table = (cpu.cr3Hi >>> 0) * TWO32 + ((cpu.cr3Lo >>> 0) & ~0xfff);
    let used = 0;
    for (let level = 4; level >= 1; level--) {
      const index = Math.floor(lin / LEVEL_SIZE[level]) & 511;
      const at = table + index * 8;
      if (at + 8 > mem.size) return -1;
      const lo = mem.readU32(at), hi = mem.readU32(at + 4);
      if ((lo & PTE.P) === 0 || (write && (lo & PTE.RW) === 0)) return -1;
      walked[used++] = at;
      const frame = (hi & 0xfffff) * TWO32 + (lo >>> 12) * PAGE;
      if (level > 1 && (lo & PTE.PS) !== 0) {
        const size = LEVEL_SIZE[level];
        this.markAccessed(used, write);
        return frame - (frame % size) + (((lin % size) + size) % size);
      }
      table = frame;
      if (level === 1) {
        this.markAccessed(used, write);
        return frame + (((lin % PAGE) + PAGE) % PAGE);
      }
    }
    return -1;
  }

  /** A in the `used` entries of the last walk, D in its leaf for a write. */
  private markAccessed(used: number, write: boolean): void {
    const mem = this.mem;
    for (let k = 0; k < used; k++) {
      const at = walked[k];
      const lo = mem.readU32(at);
      const set = lo | PTE.A | (write && k === used - 1 ? PTE.D : 0);
      if (set !== lo) mem.writeU32(at, set);
    }
  }

  /** copy_from_guest: `length` bytes at guest linear `lin` (into `out` if given, which the
   *  hot paths reuse), or null if any would fault. */
  copyFromGuest(lin: number, length: number, out = new Uint8Array(length)): Uint8Array | null {
    for (let k = 0; k < length;) {
      const p = this.translate(lin + k, false);
      if (p < 0) return null;
      const n = Math.min(length - k, PAGE - (p % PAGE));
      out.set(this.mem.bytes.subarray(p, p + n), k);
      k += n;
    }
    return out;
  }

  /** copy_to_guest: false (and nothing written) if any byte would fault. */
  copyToGuest(lin: number, data: Uint8Array): boolean {
    const parts: Array<[number, number, number]> = [];
    for (let k = 0; k < data.length;) {
      const p = this.translate(lin + k, true);
      if (p < 0) return false;
      const n = Math.min(data.length - k, PAGE - (p % PAGE));
      parts.push([p, k, n]);
      k += n;
    }
    for (const [p, k, n] of parts) this.mem.write(p, data.subarray(k, k + n));
    this.cpu.hostEntries.wroteGuest(lin, data);
    return true;
  }

  // ------------------------------------------------------------ vcpu_info

  get upcallMask(): number {
    return this.mem.bytes[this.vcpu.vcpuInfo + VCPU_INFO.upcallMask];
  }

  set upcallMask(v: number) {
    BYTE[0] = v;
    this.mem.write(this.vcpu.vcpuInfo + VCPU_INFO.upcallMask, BYTE);
  }

  get upcallPending(): number {
    return this.mem.bytes[this.vcpu.vcpuInfo + VCPU_INFO.upcallPending];
  }

  /** evtchn_2l_set_pending for a port of this domain (common/event_2l.c): the port's pending
   *  bit; if it was clear, unless the port is masked the selector bit (and with it the
   *  upcall), and pollers of the port are woken even when it is masked. */
  setPending(sharedInfo: number, port: number): void {
    const mem = this.mem;
    const word = Math.floor(port / 64), bit = port % 64;
    const pend = sharedInfo + SHARED_INFO.evtchnPending + word * 8 + Math.floor(bit / 8);
    const was = mem.bytes[pend];
    if ((was & (1 << (bit % 8))) !== 0) return;
    BYTE[0] = was | (1 << (bit % 8));
    mem.write(pend, BYTE);
    const masked = (mem.bytes[sharedInfo + SHARED_INFO.evtchnMask + word * 8 + Math.floor(bit / 8)] & (1 << (bit % 8))) !== 0;
    if (!masked) this.raiseSelector(word);
    // evtchn_check_pollers: a vCPU polling this port, or several ports.
    const v = this.vcpu;
    if (v.blocked === 2 && (v.pollPort <= 0 || v.pollPort === port)) this.unblock();
  }

  /** test_and_set_bit(word, evtchn_pending_sel); if it was clear, vcpu_mark_events_pending:
   *  upcall_pending set and, if it was clear, vcpu_kick (a blocked vCPU wakes). */
  raiseSelector(word: number): void {
    const mem = this.mem;
    const sel = this.vcpu.vcpuInfo + VCPU_INFO.pendingSel + Math.floor(word / 8);
    const b = mem.bytes[sel];
    if ((b & (1 << (word % 8))) !== 0) return;
    BYTE[0] = b | (1 << (word % 8));
    mem.write(sel, BYTE);
    if (this.upcallPending !== 0) return;
    BYTE[0] = 1;
    mem.write(this.vcpu.vcpuInfo + VCPU_INFO.upcallPending, BYTE);
    this.unblock();
  }

  /** vcpu_unblock: a blocked or polling vCPU is runnable again (sched.ts schedules it in). */
  unblock(): void {
    const v = this.vcpu;
    v.blocked = 0;
    v.pollPort = 0;
    v.pollTimer = -1;
  }

  // ------------------------------------------------------------ the end

  /** The domain ends: the run stops at this instruction. */
  end(end: DomainEnd): void {
    this.onEnd?.();
    if (end.kind === 'crash') {
      this.log(`(XEN) Domain ${this.state.dom0 ? 0 : 1} (vcpu#0) crashed on cpu#0: ${end.why}`);
      this.machine.stop({ kind: 'domain-crash', exitValue: null, message: `domain crash: ${end.why}` });
    } else {
      const name = typeof end.reason === 'number' ? `reason ${end.reason}` : end.reason;
      this.machine.stop({ kind: 'shutdown', exitValue: null, message: `SCHEDOP_shutdown: ${name}`, shutdown: typeof end.reason === 'number' ? 'unknown' : end.reason });
    }
  }

  get ended(): boolean {
    return this.cpu.endReason !== null;
  }
}
