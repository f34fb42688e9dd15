// The xen host: a model of Xen running one 64-bit PV domain: today's (c447b7308b) in IDT mode,
// or in FRED mode on a FRED CPU (booted with fred=1), or one of the variants version.ts lists
// (without the 2026 SYSCALL compatibility patch; 3.0.4 and 3.1.1).
//
// Boot (README, "The xen platform"): the image's PV ELF notes as libelf reads them
// (elf-notes.ts), the domain built as Xen's dom0 builder or, by default, as the toolstack's
// domU builder lays it out (builder.ts), Xen's own area mapped into the guest's L4
// (address-space.ts) with its GDT, TSS and IDT (descriptor-tables.ts), and the vCPU entered
// in guest kernel mode: ring 3, CS 0xe033, SS 0xe02b, RSI = start_info, RFLAGS 0x202, events
// masked. Xen's ring 0 is TypeScript at host entry points (entry.ts; in FRED mode
// entry-fred.ts, with an empty IDT and the FRED MSRs instead of the SYSCALL ones) leaving
// through the CPU's SYSRET and IRET, or ERETU (exit.ts).
//
// The run's console is what a user of the guest sees: dom0's HYPERVISOR_console_io writes
// (Xen's serial console), a domU's PV console ring as xenconsoled reads it (console.ts).
// A domU's toolstack peers, xenconsoled and xenstored (xenstore.ts), and the grant backend
// (backend-domain.ts) work while the vCPU does not run: runPeers, from SCHEDOP_block, _poll
// and _yield. Xen's own messages ((XEN) lines) are its log.
//
// Deliberate deviations: Xen runs with CR4.SMEP and SMAP where the CPU has them; the model's
// Xen leaves them off (a PV guest runs in ring 3, where neither applies, and the model's Xen
// reads guest memory through its own walk). Hardware CR4.TSD follows the guest's virtual TSD
// (pv_make_cr4) but never vtsc.

import type { HostDefinition, Host, HostOptions, PlanOptions } from '../host.js';
import type { Machine } from '../../machine/machine.js';
import { BadInput } from '../../machine/errors.js';
import { parseElf } from '../../guest/elf.js';
import type { LoadableImage } from '../../machine/image.js';
import { DESC_ATTR_MASK } from '../../arch/descriptors.js';
import * as C from '../../arch/control.js';
import {
  FLAT_KERNEL_CS, FLAT_KERNEL_SS, HYPERVISOR_CS, SHARED_INFO, TSS_SELECTOR, XEN_MSR_STAR_HI, XEN_SYSCALL_MASK,
} from '../../arch/xen.js';
import { pvParams, type PvParams } from './elf-notes.js';
import { buildDomain, CONSOLE_EVTCHN, STORE_EVTCHN, halves } from './builder.js';
import { IST, buildXenArea, CSTAR_STUB, GRANT_FRAMES_MAX, IDT_VA, LSTAR_STUB, PAGE, PTE, PTE_NX_HI, XEN_VA, entry, xenAreaFrames, xenL1e, type XenFrames } from './address-space.js';
import { TSS_LIMIT, writeDescriptorTables } from './descriptor-tables.js';
import * as V from '../../arch/vectors.js';
import { PvDomain, newVcpu, type PvDomainState } from './domain.js';
import { registerEntryPoints, SYSENTER_ENTRY, type Ring0 } from './entry.js';
import { ENTRY_FRED_R3, registerFredEntryPoints } from './entry-fred.js';
import { pvHypercall, type HypercallHost } from './hypercalls.js';
import { PvMemory, captureMemory, restoreMemory, type MemoryState } from './mm.js';
import { MAXMEM_SLACK_PAGES } from './memory-op.js';
import { CR4_VISIBLE, XEN_CR0, newVirtualRegs } from './priv-op.js';
import { newVmce } from './msr.js';
import type { GuestRegs } from './regs.js';
import type { TrapBounce } from './bounce.js';
import { ConsoleBuffer } from '../console-buffer.js';
import { Xenconsoled, newConsoleState, type ConsoleState } from './console.js';
import { Xenstored, newXenstoreState, type XenstoreState } from './xenstore.js';
import { bindToPeer, newEventChannels, type EventPeer } from './event-channel.js';
import { initTime, runTimers } from './time.js';
import { afterTimers, sleepAgain } from './sched.js';
import { Reg } from '../../cpu/lapic.js';
import { DOMU_ID, entryAddress, newGrantTable, type GrantsState } from './grant-table.js';
import { createBackend, runBackend, BACKEND_DOMID, type BackendState } from './backend-domain.js';
import { GRANT_ENTRY_V1, GTF } from '../../arch/xen.js';
import { XEN_VERSIONS, type XenVersion } from './version.js';

export interface XenPlan {
  image: LoadableImage;
  params: PvParams;
  nrPages: number;
  dom0: boolean;
  cmdline: Uint8Array;
  /** The domain's name (xl's name=): the image's file name. */
  name: string;
  /** Console input for a domU, delivered by xenconsoled into the ring's in[]. */
  consoleInput: Uint8Array;
}

/** CR4 while the guest runs: PAE, MCE, PGE, OSFXSR, OSXMMEXCPT. */
const XEN_CR4 = CR4_VISIBLE | C.CR4_PGE;
const EFER = C.EFER_SCE | C.EFER_LME | C.EFER_LMA | C.EFER_NXE;

/** What the host keeps beyond the machine: Xen's view of the domain, the console. */
interface XenHostState {
  domain: PvDomainState;
  // Memory (mm.ts): ownership, references and page types.
  memory: MemoryState;
  exiting: GuestRegs | null;
  console: Uint8Array;
  dropped: number;
  // The domU's toolstack peers (console.ts, xenstore.ts); null for dom0.
  consoled: ConsoleState | null;
  xenstored: XenstoreState | null;
  /** Grant tables (grant-table.ts) and the backend domain (backend-domain.ts). */
  grants: GrantsState;
  backend: BackendState;
}

export class XenHost implements Host<XenPlan>, Ring0, HypercallHost {
  private readonly out = new ConsoleBuffer();
  readonly frames: XenFrames;
  readonly d: PvDomain;
  readonly stack: { top: number };
  exiting: GuestRegs | null = null;
  readonly tb: TrapBounce = { flags: 0, errorCode: 0, eip: 0 };
  /** A domU's xenconsoled and xenstored; null for dom0. */
  consoled: Xenconsoled | null = null;
  xenstored: Xenstored | null = null;
  readonly backendPages: [number, number];
  grants: GrantsState;
  backend: BackendState = { served: 0 };
  readonly mm: PvMemory;

  constructor(private readonly machine: Machine, private readonly options: HostOptions = {}, version: XenVersion = XEN_VERSIONS.xen) {
    const mem = machine.memory;
    this.frames = buildXenArea(mem, mem.size / PAGE);
    writeDescriptorTables(mem, this.frames);
    this.stack = { top: this.frames.stackTop };
    this.backendPages = [this.frames.backend + 1, this.frames.backend + 3];
    this.grants = { guest: newGrantTable(0, this.frames.grant, GRANT_FRAMES_MAX, this.frames.status), backend: null, maptrack: {}, free: [], limit: 0 };
    const vcpuInfo = this.frames.sharedInfo * PAGE + SHARED_INFO.vcpuInfo;
    this.d = new PvDomain(machine, {
      dom0: true, vmAssist: 0, vcpu: newVcpu(vcpuInfo), consoleMfn: -1, consoleEvtchn: -1, storeMfn: -1, log: [], virt: newVirtualRegs(), vmce: newVmce(),
      events: newEventChannels(true),
    }, version);
    this.mm = new PvMemory(this.d, this.frames, mem.size / PAGE);
    if (this.d.fredMode) registerFredEntryPoints(machine.cpu, this);
    else registerEntryPoints(machine.cpu, this);
    // Traces say which guest mode runs (the diff's observation points, `--points user`).
    machine.cpu.hostEntries.guestMode = () => (this.d.vcpu.kernelMode ? 'kernel' : 'user');
    machine.attach('host', this);
  }

  boot(plan: XenPlan): void {
    const mem = this.machine.memory;
    const built = buildDomain(mem, this.frames, plan, this.d.version);
    const s = this.d.state;
    s.dom0 = plan.dom0;
    s.consoleMfn = built.consoleMfn;
    s.consoleEvtchn = plan.dom0 ? -1 : CONSOLE_EVTCHN;
    s.storeMfn = built.storeMfn;
    // Events: a domU's store and console channels, which xenstored and xenconsoled in dom0
    // bound before it runs.
    s.events = newEventChannels(plan.dom0);
    if (!plan.dom0) {
      bindToPeer(this.d, STORE_EVTCHN, 0, TOOLSTACK_PORT.xenstored);
      bindToPeer(this.d, CONSOLE_EVTCHN, 0, TOOLSTACK_PORT.xenconsoled);
      this.attachPeers(newConsoleState(plan.consoleInput), newXenstoreState({
        domid: 1, name: plan.name, memKiB: plan.nrPages * 4, storeMfn: built.storeMfn, storePort: STORE_EVTCHN,
        consoleMfn: built.consoleMfn, consolePort: CONSOLE_EVTCHN,
      }));
      this.xenstored!.introduce();
    }
    const v = s.vcpu;
    v.guestTable = built.l4;
    if (!plan.dom0) {
      // The toolstack's vcpu_guest_context: kernel_ss/sp set, VGCF_in_kernel | VGCF_online.
      v.kernelSs = FLAT_KERNEL_SS;
      v.kernelSp = built.stackTop;
    }
    // The domain's frames, and its L4 validated as Xen's builders leave it: pinned (the
    // toolstack's MMUEXT_PIN_L4_TABLE; dom0_construct_pv likewise) and the vCPU's
    // guest_table, each holding a reference.
    const mm = this.mm;
    // Xen's free heap is the frames after the domain's (XEN_HEAP_PAGES); dom0 may take
    // them all, a domU up to libxl's maxmem slack.
    const domainEnd = this.frames.domainBase + plan.nrPages;
    mm.assign(this.frames.domainBase, domainEnd, plan.nrPages + (plan.dom0 ? XEN_HEAP_PAGES : MAXMEM_SLACK_PAGES));
    for (let f = mem.size / PAGE - 1; f >= domainEnd; f--) mm.free.push(f);
    if (mm.getPageAndType(built.l4, 'l4') !== 0 || mm.getPageAndType(built.l4, 'l4') !== 0) throw new Error('xen: the builder\'s page tables do not validate');
    mm.types.get(built.l4)!.pinned = true;
    mm.setRoMpt(built.l4, true); // arch_set_info_guest / the dom0 builder: fill_ro_mpt
    // The grant table's first frame, shared with the domain from its creation (grant_table_init).
    for (let i = 0; i < this.grants.guest.nrFrames; i++) mm.shareXenPage(this.grants.guest.frames[i]);
    if (!plan.dom0) this.createGrantPeers(built.consoleMfn, built.storeMfn);

    const cpu = this.machine.cpu;
    const st = cpu.capture();
    st.gprLo.fill(0);
    st.gprHi.fill(0);
    [st.gprLo[6], st.gprHi[6]] = halves(built.startInfo);
    [st.gprLo[4], st.gprHi[4]] = halves(built.stackTop);
    st.rip = built.entry;
    st.rflags = 0x202;
    st.cpl = 3;
    const seg = (sel: number, hi: number) => ({ sel, baseLo: 0, baseHi: 0, limit: -1, attr: hi & DESC_ATTR_MASK });
    const nul = { sel: 0, baseLo: 0, baseHi: 0, limit: 0, attr: 0 };
    st.segments = [nul, seg(FLAT_KERNEL_CS, 0x00affb00), seg(FLAT_KERNEL_SS, 0x00cff300), nul, nul, nul].map((x) => ({ ...x }));
    const [gLo, gHi] = halves(XEN_VA.gdt);
    st.gdtr = { baseLo: gLo, baseHi: gHi, limit: 0xefff };
    const [iLo, iHi] = halves(IDT_VA);
    st.idtr = { baseLo: iLo, baseHi: iHi, limit: 0xfff };
    const [tLo, tHi] = halves(XEN_VA.text + 2 * PAGE);
    st.tr = { sel: TSS_SELECTOR, baseLo: tLo, baseHi: tHi, limit: TSS_LIMIT, attr: 0x8b00 };
    st.ldtr = { sel: 0, baseLo: 0, baseHi: 0, limit: 0 };
    st.cr0 = XEN_CR0;
    st.cr4 = XEN_CR4;
    st.cr4Hi = 0;
    st.efer = EFER;
    st.cr3Lo = (built.l4 * PAGE) | 0;
    st.cr3Hi = Math.floor((built.l4 * PAGE) / 4294967296);
    if (this.d.fredMode) {
      // traps_init with fred=1: CR4.FRED, "Invalidate the IDT as it's not used", a TSS of
      // limit 0 (init_fred_tss), and init_fred: MSR_STAR (FRED takes the ring-3 entry's
      // selectors from it), FRED_CONFIG = entry_FRED_R3 and no optional configuration,
      // SL0 = the top of the primary stack (cpu_info), SL1 a poisoned address (a shadow-stack
      // page used as a data stack: any use escalates to #DF), SL2 #MC's and SL3 #DF's IST
      // pages, STKLVLS giving #MC level 2 and #DF level 3. No LSTAR, CSTAR, SYSENTER or
      // SYSCALL_MASK: legacy_syscall_init is skipped.
      st.cr4Hi = C.CR4_HI_FRED;
      st.idtr = { baseLo: 0, baseHi: 0, limit: 0 };
      st.tr = { sel: TSS_SELECTOR, baseLo: 0, baseHi: 0, limit: 0, attr: 0x8b00 };
      st.msrs.star = [0, XEN_MSR_STAR_HI];
      st.msrs.fredConfig = halves(ENTRY_FRED_R3);
      st.msrs.fredRsp0 = halves(this.frames.stackTop);
      st.msrs.fredRsp1 = halves(this.frames.istTop[IST.db]);
      st.msrs.fredRsp2 = halves(this.frames.istTop[IST.mce]);
      st.msrs.fredRsp3 = halves(this.frames.istTop[IST.df]);
      st.msrs.fredStklvls = [3 << (2 * V.DF), 2 << (2 * V.MC - 32)];
    } else {
      // legacy_syscall_init (traps-setup.c).
      st.msrs.star = [0, XEN_MSR_STAR_HI];
      st.msrs.lstar = halves(LSTAR_STUB);
      st.msrs.cstar = halves(CSTAR_STUB);
      st.msrs.fmask = [XEN_SYSCALL_MASK, 0];
      st.msrs.sysenterCs = [HYPERVISOR_CS, 0];
      st.msrs.sysenterEsp = halves(this.frames.stackTop);
      st.msrs.sysenterEip = halves(SYSENTER_ENTRY);
    }
    st.msrs.kernelGsBase = [0, 0];
    if (!this.d.version.syscall32Sysenter) for (const m of ['sysenterCs', 'sysenterEsp', 'sysenterEip'] as const) st.msrs[m] = [0, 0]; // none before cd75d47348
    cpu.restore(st);
    initTime(this.d, this.sharedInfo);
  }

  /** A domU's grant table as libxenguest seeds it (entries 0 and 1: the console and
   *  xenstore pages for their backend, dom0), and the backend domain. */
  private createGrantPeers(consoleMfn: number, storeMfn: number): void {
    const mem = this.machine.memory;
    this.grants.guest.domid = DOMU_ID;
    for (const [ref, mfn] of [[0, consoleMfn], [1, storeMfn]]) {
      const at = entryAddress(this.grants.guest, ref);
      mem.writeU32(at + GRANT_ENTRY_V1.flags, GTF.permit_access | (BACKEND_DOMID << 16));
      mem.writeU32(at + GRANT_ENTRY_V1.frame, mfn);
    }
    this.grants.backend = createBackend(this.d, this.frames.backend);
  }

  // ------------------------------------------------------------------ Ring0 / HypercallHost

  /** LOCAL_TIMER_VECTOR (time.ts): EOI, the expired timers, and whether the vCPU, blocked
   *  before the interrupt, stays asleep once the exit path has run. */
  timerInterrupt(): boolean {
    this.machine.cpu.lapic.write(Reg.Eoi, 0, 0, false);
    const blocked = this.d.vcpu.blocked !== 0;
    runTimers(this.d, this);
    return blocked && afterTimers(this.d, this) === 'asleep';
  }

  backToSleep(): void {
    sleepAgain(this.d);
  }

  /** The toolstack's daemons in dom0, a domU's peers (event-channel.ts EventPeer). */
  private readonly toolstack: EventPeer = {
    domid: 0,
    bindFromGuest: () => false,
    notify: (port) => {
      if (port === TOOLSTACK_PORT.xenconsoled) this.consoled?.notify();
      else if (port === TOOLSTACK_PORT.xenstored) this.xenstored?.notify();
    },
    closedByGuest: () => {},
  };

  eventPeer(domid: number) {
    return domid === 0 && !this.d.state.dom0 ? this.toolstack : undefined;
  }

  hypercall(regs: GuestRegs): void {
    pvHypercall(this, this, regs);
  }

  get sharedInfo(): number {
    return this.frames.sharedInfo * PAGE;
  }

  consoleWrite(bytes: Uint8Array): void {
    for (const b of bytes) this.out.push(b);
    this.options.onConsole?.(bytes);
  }

  /** A domU's xenconsoled and xenstored over the builder's ring pages, and the domain's end
   *  (a notification xenconsoled has not served yet is served then). */
  private attachPeers(console: ConsoleState, store: XenstoreState): void {
    const mem = this.machine.memory;
    const si = () => this.sharedInfo;
    this.consoled = new Xenconsoled({
      mem, ringAddress: this.d.state.consoleMfn * PAGE,
      consoleWrite: (b) => this.consoleWrite(b),
      notifyGuest: () => this.d.setPending(si(), CONSOLE_EVTCHN),
    }, console);
    this.xenstored = new Xenstored({
      mem, ringAddress: this.d.state.storeMfn * PAGE,
      notifyGuest: () => this.d.setPending(si(), STORE_EVTCHN),
      modelError: (what) => this.machine.cpu.modelError(what),
    }, store, 1);
    this.d.onEnd = () => this.consoled?.runDeferred();
  }

  runPeers(): boolean {
    const console = this.consoled?.runDeferred() ?? false;
    const store = this.xenstored?.runDeferred() ?? false;
    const backend = this.grants.backend !== null && runBackend(this.d, this, this.backend);
    return console || store || backend;
  }

  setGdtFrames(mfns: number[]): void {
    const mem = this.machine.memory;
    for (let k = 0; k < 14; k++) {
      const at = xenL1e(mem, this.frames, XEN_VA.gdt + k * PAGE);
      const e = k < mfns.length
        ? entry(mfns[k], PTE.P | PTE.RW | PTE.A | PTE.D | PTE.G, PTE_NX_HI)
        : entry(this.frames.zero, PTE.P | PTE.A | PTE.D | PTE.G, PTE_NX_HI);
      mem.writeU64(at, ...e);
    }
    this.machine.cpu.flushTlb();
  }

  // ------------------------------------------------------------------ Host

  get console(): string {
    return this.out.text;
  }

  /** Xen's log: its (XEN) messages about this domain. */
  get log(): string {
    return this.d.state.log.map((l) => l + '\n').join('');
  }

  capture(): XenHostState {
    return {
      domain: structuredClone(this.d.state),
      memory: captureMemory(this.mm),
      exiting: this.exiting === null ? null : { ...this.exiting },
      console: this.out.bytes.slice(),
      dropped: this.out.dropped,
      consoled: this.consoled === null ? null : structuredClone(this.consoled.state),
      xenstored: this.xenstored === null ? null : structuredClone(this.xenstored.state),
      grants: structuredClone(this.grants),
      backend: { ...this.backend },
    };
  }

  restore(state: unknown): void {
    const s = state as XenHostState;
    this.d.state = structuredClone(s.domain);
    restoreMemory(this.mm, s.memory);
    this.exiting = s.exiting === null ? null : { ...s.exiting };
    this.out.load(s.console, s.dropped);
    if (s.consoled !== null && s.xenstored !== null) {
      this.attachPeers(structuredClone(s.consoled), structuredClone(s.xenstored));
    }
    this.grants = structuredClone(s.grants);
    this.backend = { ...s.backend };
  }
}

/** dom0's ports at the far end of a domU's store and console channels (the toolstack's own
 *  numbering; a guest sees them only in EVTCHNOP_status). */
const TOOLSTACK_PORT = { xenstored: 1, xenconsoled: 2 } as const;

/** A 32-bit image that libelf would take for a PV kernel: its "Xen" notes name a guest OS or
 *  a loader (elf_xen_parse). */
function isPvKernel32(image: LoadableImage): boolean {
  const GUEST_OS = 6, LOADER = 8;
  return image.elfClass === 32 && image.notes.some((n) => n.name === 'Xen' && (n.type === GUEST_OS || n.type === LOADER));
}

/** The xen host of one Xen version (version.ts): `xen`, `xen-nocompat`, `xen-3.1.1`, `xen-3.0.4`. */
export function xenHostOf(version: XenVersion): HostDefinition<XenPlan> {
  return {
    ...xenHost,
    name: version.name,
    plan(bytes, label, o) {
      // traps_init with FRED on: "Disabling PV32 due to FRED" (traps-setup.c); then
      // switch_compat is -EOPNOTSUPP: dom0_construct_pv says "Dom0 failed to switch to
      // compat: -95" and Xen panics "Could not construct d0"; for a domU libxenguest's
      // xc_dom_compat_check refuses the guest type (xg_dom_boot.c).
      if (version.fred && o.cpuFred === true && isPvKernel32(parseElf(bytes, label))) {
        throw new BadInput(o.dom0
          ? `${label}: Xen refuses this PV image: a 32-bit PV kernel with FRED on: "(XEN) Disabling PV32 due to FRED", "(XEN) Dom0 failed to switch to compat: -95", "Panic on CPU 0: Could not construct d0"`
          : `${label}: Xen refuses this PV image: a 32-bit PV kernel with FRED on ("Disabling PV32 due to FRED"): xc_dom_compat_check: guest type xen-3.0-x86_32p not supported by xen kernel, sorry`);
      }
      return xenHost.plan(bytes, label, o);
    },
    attach: (machine, options) => new XenHost(machine, options, version),
  };
}

export const xenHost: HostDefinition<XenPlan> = {
  name: 'xen',
  plan(bytes, label, o: PlanOptions) {
    const image = parseElf(bytes, label);
    const params = pvParams(image, bytes);
    const nrPages = Math.floor(o.memoryBytes / PAGE);
    const cmdline = new TextEncoder().encode(o.append ?? '');
    if (cmdline.length > 1023) throw new BadInput(`${label}: the command line is ${cmdline.length} bytes; start_info holds 1023`);
    const name = label.slice(label.lastIndexOf('/') + 1);
    if (o.dom0 && o.consoleInput !== undefined) throw new BadInput('--console-input is typed on a domU\'s console ring; dom0 has none (its console is console_io)');
    return { image, params, nrPages, dom0: o.dom0 ?? false, cmdline, name, consoleInput: new TextEncoder().encode(o.consoleInput ?? '') };
  },
  machineBytes(plan) {
    return machineBytesFor(plan.nrPages + XEN_HEAP_PAGES);
  },
  attach(machine, options) {
    return new XenHost(machine, options);
  },
};

/** Frames of Xen's free heap the model keeps after the domain's (what memory_op can
 *  allocate): 1 MiB, the same as a domU's maxmem slack. */
const XEN_HEAP_PAGES = 256;

/** Machine memory for a domain of `nrPages`: Xen's area, the domain, Xen's free heap. */
function machineBytesFor(nrPages: number): number {
  let xen = xenAreaFrames(nrPages + 1024);
  for (;;) {
    const next = xenAreaFrames(nrPages + xen);
    if (next === xen) break;
    xen = next;
  }
  return (xen + nrPages) * PAGE;
}
