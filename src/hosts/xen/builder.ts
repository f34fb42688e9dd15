// The domain builder: a 64-bit PV kernel, loaded and mapped as Xen's dom0 builder
// (xen/arch/x86/pv/dom0_build.c, dom0_construct_pv) lays it out (dom0-layout.ts): the
// domain's pseudo-physical frames are machine frames from `domainBase` up (pfn n is mfn
// domainBase + n, the release build's contiguous allocation), so the P2M is not the
// identity; the bootstrap region [virt_base, v_end) is mapped page by page, pfn 0 at
// virt_base; the page-table pages themselves are mapped read-only; start_info, the P2M list
// and the hypercall page are written where the layout puts them; the vCPU starts in guest
// kernel mode with %rsi = start_info.
//
// A domU (no --dom0) is built the same way with flags 0 and a console ring page after the
// boot stack's page; its event channel is the one the PV console reports in start_info.
//
// Deliberate deviations:
// - The initial ramdisk (module) is not modelled: mod_start and mod_len are 0.

import { XEN_VERSIONS, type XenVersion } from './version.js';
import type { PhysicalMemory } from '../../machine/memory.js';
import type { LoadableImage } from '../../machine/image.js';
import { BadInput } from '../../machine/errors.js';
import {
  HYPERCALL_STUBS, HYPERCALL_STUB_SIZE, Hc, SIF_INITDOMAIN, SIF_PRIVILEGED, START_INFO, SHARED_INFO, VCPU_INFO,
} from '../../arch/xen.js';
import type { PvParams } from './elf-notes.js';
import { dom0Layout, type Dom0Layout } from './dom0-layout.js';
import { LINEAR_PT_SLOT, PAGE, PTE, PTE_NX_HI, entry, type XenFrames } from './address-space.js';

const TWO32 = 4294967296;
/** dom0_build.c: the bootstrap mappings' flags; page-table pages lose _PAGE_RW
 *  (mark_pv_pt_pages_rdonly). L1 entries carry _PAGE_GUEST_KERNEL, Xen's software bit 52
 *  ("USER only because the PV kernel runs in ring 3"). */
const L1_PROT = PTE.P | PTE.RW | PTE.A | PTE.US;
const GUEST_KERNEL_HI = 1 << 20;
const UPPER_PROT = PTE.P | PTE.RW | PTE.A | PTE.D | PTE.US;

/** A number (a signed linear address included) as the halves of its 64-bit two's complement. */
export function halves(v: number): [number, number] {
  const hi = Math.floor(v / TWO32);
  return [(v - hi * TWO32) | 0, hi | 0];
}

/** A canonical 64-bit address as the signed number linear addresses are held in. */
export function linear(v: bigint): number {
  return Number(v >= 1n << 63n ? v - (1n << 64n) : v);
}

export interface BuiltDomain {
  layout: Dom0Layout;
  /** pfn -> mfn. */
  p2m: Int32Array;
  /** Linear addresses of the entry point, the boot stack's top and start_info. */
  entry: number;
  stackTop: number;
  startInfo: number;
  /** Machine frame of the initial L4 (CR3). */
  l4: number;
  /** Frames of the initial page tables by level (4, 3, 2, 1). */
  tables: Array<{ mfn: number; level: number }>;
  /** The domU console ring's and xenstore page's mfns (-1 for dom0). */
  consoleMfn: number;
  storeMfn: number;
}

export interface BuildRequest {
  image: LoadableImage;
  params: PvParams;
  nrPages: number;
  dom0: boolean;
  cmdline: Uint8Array;
}

/** start_info.flags bits 8..: XEN_PROCESSOR_PM_CX | XEN_PROCESSOR_PM_PX. */
const SIF_PM_DEFAULT = 0x300;
/** sizeof(struct dom0_vga_console_info). */
const DOM0_VGA_CONSOLE_INFO_SIZE = 0x28;

/** start_info.magic for a 64-bit PV guest. */
export const START_INFO_MAGIC = 'xen-3.0-x86_64';

/** The magic `version`'s builder writes: a dom0's carried Xen's own major.minor before
 *  6ca4cce4f4 (version.ts, dom0MagicFixed; 310 arch/x86/domain_build.c:831-834), libxc's
 *  for a domU was always "xen-3.0-x86_64" (310 tools/libxc/xc_dom_x86.c:339). */
export function startInfoMagic(version: XenVersion, dom0: boolean): string {
  const abi = version.abi2007;
  if (!dom0 || version.dom0MagicFixed || abi === null) return START_INFO_MAGIC;
  return `xen-${abi.major}.${abi.minor}-x86_64`;
}
/** A fresh domU's event channels as libxl allocates them: xenstore first, then the console
 *  (port 0 is reserved). */
export const STORE_EVTCHN = 1;
export const CONSOLE_EVTCHN = 2;

/** The hypercall page as pv_ring3_init_hypercall_page writes it (xen-pv-abi.md §2.3). */
export function hypercallPage(): Uint8Array {
  const page = new Uint8Array(PAGE).fill(0xcc);
  for (let i = 0; i < HYPERCALL_STUBS; i++) {
    const at = i * HYPERCALL_STUB_SIZE;
    const imm = [i & 0xff, (i >> 8) & 0xff, 0, 0];
    const stub = i === Hc.iret
      ? [0x51, 0x41, 0x53, 0x50, 0xb8, ...imm, 0x0f, 0x05] // push %rcx; push %r11; push %rax; mov $i,%eax; syscall
      : [0x51, 0x41, 0x53, 0xb8, ...imm, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3]; // ...; syscall; pop %r11; pop %rcx; ret
    page.set(stub, at);
  }
  return page;
}

/** Load and map the kernel; write start_info, the P2M list and the hypercall page. */
export function buildDomain(mem: PhysicalMemory, xen: XenFrames, req: BuildRequest, version: XenVersion = XEN_VERSIONS.xen): BuiltDomain {
  const { params: p, nrPages } = req;
  const layout = dom0Layout(p, nrPages, 0, req.dom0 ? 0 : 2);
  const vStart = layout.total[0];
  const mappedPages = Number((layout.total[1] - vStart) / BigInt(PAGE));
  // domU: the xenstore and console pages follow start_info's page.
  const siPfn = Number((layout.startInfo[0] - vStart) / BigInt(PAGE));
  const storePfn = req.dom0 ? -1 : siPfn + 1;
  const consolePfn = req.dom0 ? -1 : siPfn + 2;
  if (mappedPages > nrPages) throw new BadInput(`${req.image.label}: the kernel's bootstrap region needs ${mappedPages} pages, the domain has ${nrPages}`);

  const p2m = new Int32Array(nrPages);
  for (let pfn = 0; pfn < nrPages; pfn++) p2m[pfn] = xen.domainBase + pfn;
  const m2pBase = xen.m2p * PAGE;
  const machineFrames = mem.size / PAGE;
  for (let mfn = 0; mfn < machineFrames; mfn++) mem.writeU64(m2pBase + mfn * 8, -1, -1); // INVALID_M2P_ENTRY
  for (let pfn = 0; pfn < nrPages; pfn++) mem.writeU64(m2pBase + p2m[pfn] * 8, pfn, 0);

  /** The machine address of pseudo-physical byte `va - vStart` in the bootstrap region. */
  const machine = (va: bigint): number => {
    const off = Number(va - vStart);
    const pfn = Math.floor(off / PAGE);
    return p2m[pfn] * PAGE + (off % PAGE);
  };
  const copy = (va: bigint, data: Uint8Array): void => {
    for (let k = 0; k < data.length;) {
      const at = va + BigInt(k);
      const n = Math.min(data.length - k, PAGE - Number(at % BigInt(PAGE)));
      mem.write(machine(at), data.subarray(k, k + n));
      k += n;
    }
  };
  const u64 = (va: bigint, v: number): void => mem.writeU64(machine(va), ...halves(v));

  // The kernel, at its virtual addresses (libelf's elf_load_binary).
  const shift = p.virtBase - p.paddrOffset;
  for (const seg of req.image.segments) {
    const va = BigInt(seg.paddr) + shift;
    copy(va, seg.data);
    if (seg.memsz > seg.data.length) copy(va + BigInt(seg.data.length), new Uint8Array(seg.memsz - seg.data.length));
  }
  if (p.hypercallPage !== null) copy(p.hypercallPage, hypercallPage());

  // The P2M list.
  for (let pfn = 0; pfn < nrPages; pfn++) u64(layout.physMach[0] + BigInt(pfn * 8), p2m[pfn]);

  // The initial page tables, allocated from the layout's page-table pages in the order the
  // builder needs them: the L4, then for each page mapped an L3, L2 or L1 when it starts one.
  const tables: Array<{ mfn: number; level: number }> = [];
  let nextTable = layout.pageTables[0];
  const newTable = (level: number): number => {
    if (nextTable >= layout.pageTables[1]) throw new Error('dom0 layout: page-table pages exhausted');
    const mfn = machine(nextTable) / PAGE;
    nextTable += BigInt(PAGE);
    mem.fill(mfn * PAGE, PAGE, 0);
    tables.push({ mfn, level });
    return mfn;
  };
  const l4 = newTable(4);
  for (const slot of xen.l4Slots) mem.writeU64(l4 * PAGE + slot[0] * 8, ...slot[1]);
  // The linear page-table slot: the L4 maps itself, for Xen only.
  mem.writeU64(l4 * PAGE + LINEAR_PT_SLOT * 8, ...entry(l4, PTE.P | PTE.RW | PTE.A | PTE.D, PTE_NX_HI));
  // The tables each page of the region needs, by level and the span they cover, allocated in
  // the builder's order: dom0_build.c's mapping loop takes a new L1 at every 2 MiB and after it
  // a new L2 at every 1 GiB and a new L3 at every 512 GiB (the first page needs all three);
  // the toolstack's count_pgtables takes all L3s, then all L2s, then all L1s.
  const span = (va: bigint, level: number): string => `${level}:${va >> BigInt(12 + 9 * level)}`;
  const frames = new Map<string, number>();
  const take = (va: bigint, level: number): void => {
    const key = span(va, level);
    if (!frames.has(key)) frames.set(key, newTable(level));
  };
  const pageVa = (k: number): bigint => vStart + BigInt(k * PAGE);
  if (req.dom0) {
    for (let k = 0; k < mappedPages; k++) for (const level of [1, 2, 3]) take(pageVa(k), level);
  } else {
    for (const level of [3, 2, 1]) for (let k = 0; k < mappedPages; k++) take(pageVa(k), level);
  }
  const ptLo = layout.pageTables[0], ptHi = layout.pageTables[1];
  for (let k = 0; k < mappedPages; k++) {
    const va = pageVa(k);
    const idx = (shift: bigint): number => Number((va >> shift) & 511n);
    const l3 = frames.get(span(va, 3))!, l2 = frames.get(span(va, 2))!, l1 = frames.get(span(va, 1))!;
    mem.writeU64(l4 * PAGE + idx(39n) * 8, ...entry(l3, UPPER_PROT, 0));
    mem.writeU64(l3 * PAGE + idx(30n) * 8, ...entry(l2, UPPER_PROT, 0));
    mem.writeU64(l2 * PAGE + idx(21n) * 8, ...entry(l1, UPPER_PROT, 0));
    const readOnly = va >= ptLo && va < ptHi;
    mem.writeU64(l1 * PAGE + idx(12n) * 8, ...entry(p2m[k], readOnly ? L1_PROT & ~PTE.RW : L1_PROT, GUEST_KERNEL_HI));
  }

  // start_info: its page is cleared first (clear_page). The magic has no "p": today's
  // builder ignores PAE_MODE for a 64-bit kernel (Xen 4.17's says "x86_64p").
  const si = layout.startInfo[0];
  const siBytes = new Uint8Array(PAGE);
  const view = new DataView(siBytes.buffer);
  siBytes.set(new TextEncoder().encode(startInfoMagic(version, req.dom0)), START_INFO.magic);
  const put = (off: number, v: number): void => {
    const [lo, hi] = halves(v);
    view.setInt32(off, lo, true);
    view.setInt32(off + 4, hi, true);
  };
  put(START_INFO.nrPages, nrPages);
  put(START_INFO.sharedInfo, xen.sharedInfo * PAGE);
  // dom0: its privileges and Xen's power-management bits (xen_processor_pmbits << 8: PX and
  // CX, the defaults), and the VGA console information right after start_info: zero (no
  // VGA here), but always described (info_off, info_size).
  view.setUint32(START_INFO.flags, req.dom0 ? SIF_PRIVILEGED | SIF_INITDOMAIN | SIF_PM_DEFAULT : 0, true);
  if (req.dom0) {
    view.setUint32(START_INFO.consoleInfoOff, START_INFO.size, true);
    view.setUint32(START_INFO.consoleInfoSize, DOM0_VGA_CONSOLE_INFO_SIZE, true);
  }
  if (!req.dom0) {
    put(START_INFO.storeMfn, p2m[storePfn]);
    view.setUint32(START_INFO.storeEvtchn, STORE_EVTCHN, true);
    put(START_INFO.consoleMfn, p2m[consolePfn]);
    view.setUint32(START_INFO.consoleEvtchn, CONSOLE_EVTCHN, true);
  }
  put(START_INFO.ptBase, linear(layout.pageTables[0]));
  put(START_INFO.nrPtFrames, layout.ptPages);
  put(START_INFO.mfnList, linear(layout.physMach[0]));
  // first_p2m_pfn: the pages of the builder's first allocation, a power of two covering the
  // bootstrap region; nr_p2m_frames 0 (no INIT_P2M).
  if (req.dom0) put(START_INFO.firstP2mPfn, 2 ** Math.ceil(Math.log2(mappedPages)));
  siBytes.set(req.cmdline.subarray(0, START_INFO.cmdLineLength - 1), START_INFO.cmdLine);
  copy(si, siBytes);

  // Every vCPU starts with events masked.
  mem.fill(xen.sharedInfo * PAGE, PAGE, 0);
  mem.write(xen.sharedInfo * PAGE + SHARED_INFO.vcpuInfo + VCPU_INFO.upcallMask, Uint8Array.of(1));

  return {
    layout,
    p2m,
    entry: linear(layout.entry),
    stackTop: linear(layout.bootStack[1]),
    startInfo: linear(si),
    l4,
    tables,
    consoleMfn: consolePfn < 0 ? -1 : p2m[consolePfn],
    storeMfn: storePfn < 0 ? -1 : p2m[storePfn],
  };
}
