// Xen's half of every PV guest's address space, and the machine frames behind it.
//
// Xen keeps [HYPERVISOR_VIRT_START, HYPERVISOR_VIRT_END) of every 64-bit PV guest's page
// tables for itself (asm/config.h): L4 slot 256 is the read-only machine-to-physical table
// guests may read, slot 260 the per-domain area holding each vCPU's GDT (guest frames, then
// Xen's reserved page), slot 261 Xen's text and data (and the per-CPU SYSCALL stubs at its
// top), slot 262 on the direct map of machine memory (Xen's stacks are reached there). Xen
// copies these slots into every L4 a guest pins (init_xen_l4_slots); here the builder copies
// `l4Slots` into the initial L4.
//
// Machine memory, as this host lays it out: Xen's own frames first (its page tables, text,
// IDT, TSS, stacks, the M2P table, the zero page and the domain's shared_info; the frames
// of the domain's grant table, Xen-heap pages shared with it, as many as it may grow to;
// the backend domain's frames, backend-domain.ts), then the domain's frames from
// `domainBase` on.
//
// Deliberate deviations:
// - Xen's text holds no instructions: its entry points are host entry points
//   (src/cpu/host-entry.ts) at the addresses its IDT, LSTAR, CSTAR and SYSENTER_EIP name, on
//   a page filled with int3. Xen's IDT (in its .bss) and TSS sit at addresses of this layout,
//   not of a particular Xen build: a guest that reads them with SIDT or STR learns nothing
//   real Xen would promise.
// - Only the pieces of each region that Xen's entry paths touch are mapped.

import type { PhysicalMemory } from '../../machine/memory.js';
import { HYPERVISOR_VIRT_START } from '../../arch/xen.js';

export const PAGE = 4096;
const TWO32 = 4294967296;

/** Page-table entry flags (SDM Vol. 3A §4.5, Table 4-15 ff.). */
export const PTE = { P: 1, RW: 2, US: 4, A: 0x20, D: 0x40, PS: 0x80, G: 0x100 } as const;
/** NX, bit 63: in an entry's high dword. */
export const PTE_NX_HI = 0x80000000 | 0;
/** __PAGE_HYPERVISOR_RW / _RX / _RO: Xen's own mappings, supervisor only. */
const XEN_RW = PTE.P | PTE.RW | PTE.A | PTE.D | PTE.G;
const XEN_RX = PTE.P | PTE.A | PTE.D | PTE.G;
/** The M2P table as guests see it: present, user, read-only. */
const GUEST_RO = PTE.P | PTE.US | PTE.A;

/** The L4 slot where every guest L4 maps itself for Xen (LINEAR_PT_VIRT_START). */
export const LINEAR_PT_SLOT = 258;

/** L4 slot of a canonical linear address. */
export const l4Slot = (lin: number): number => Math.floor(lin / 2 ** 39) & 511;

/** Where Xen's pieces are, in every PV guest's address space. */
export const XEN_VA = {
  m2p: HYPERVISOR_VIRT_START,
  /** PERDOMAIN_VIRT_START: vCPU 0's GDT (16 pages), then its LDT. */
  gdt: HYPERVISOR_VIRT_START + 4 * 2 ** 39,
  /** XEN_VIRT_START: Xen's text (entry points), then its IDT and TSS pages. */
  text: -0x7d2fc0000000, // 0xffff82d040000000
  /** The per-CPU stub page (SYSCALL trampolines) at the top of Xen's 1 GiB: XEN_VIRT_END - PAGE. */
  stubs: -0x7d2f40001000, // 0xffff82d0bffff000
  /** DIRECTMAP_VIRT_START: machine address 0. */
  directmap: HYPERVISOR_VIRT_START + 6 * 2 ** 39,
} as const;

/** Offsets in Xen's text page: one entry point per IDT vector (8 bytes apart), then the
 *  SYSENTER entry. */
export const TEXT_OFFSET = { vector: (v: number): number => v * 8, sysenter: 0x800 } as const;
/** Xen's IDT and TSS: the pages after its text page. */
export const IDT_VA = XEN_VA.text + PAGE;
export const TSS_VA = XEN_VA.text + 2 * PAGE;
/** LSTAR's and CSTAR's stubs in the stub page (write_stub_trampoline lays them 32 bytes apart). */
export const LSTAR_STUB = XEN_VA.stubs;
export const CSTAR_STUB = XEN_VA.stubs + 32;

/** Xen's per-CPU stack (STACK_SIZE = 8 pages): the IST stacks in pages 1..4 (IST_MCE, IST_NMI,
 *  IST_DB, IST_DF by number below), the primary stack at the top. */
export const STACK_PAGES = 8;
/** Grant tables: the most frames a domain's table may grow to (opt_max_grant_frames' default,
 *  which the toolstack's -1 and dom0's build both select), and the backend domain's frames. */
export const GRANT_FRAMES_MAX = 64;
export const BACKEND_FRAMES = 3;
/** Grant tables v2: the status frames of a table of GRANT_FRAMES_MAX frames (256 16-byte
 *  entries a frame, 2048 2-byte status words a status frame: grant_to_status_frames). */
export const STATUS_FRAMES_MAX = GRANT_FRAMES_MAX / 8;
export const IST = { mce: 1, nmi: 2, db: 3, df: 4 } as const;

/** Machine frames Xen owns below the domain, and what they hold. */
export interface XenFrames {
  /** Machine frame numbers. */
  text: number;
  idt: number;
  tss: number;
  stubs: number;
  gdtReserved: number;
  zero: number;
  sharedInfo: number;
  /** The first of GRANT_FRAMES_MAX grant-table frames, and of BACKEND_FRAMES backend frames. */
  grant: number;
  backend: number;
  /** The first of STATUS_FRAMES_MAX frames for the guest's v2 status frames. */
  status: number;
  stack: number;
  m2p: number;
  m2pPages: number;
  /** The first frame the domain may own, and one past Xen's page-table frames. */
  domainBase: number;
  /** The L4 entries Xen puts in every guest L4, by slot (entry lo, hi). */
  l4Slots: Map<number, [number, number]>;
  /** Linear address of the top of Xen's primary stack, and of IST stack n (index n). */
  stackTop: number;
  istTop: number[];
}

/** Frames of Xen's area before the domain: enough for the structures above and the page
 *  tables mapping them, rounded to 2 MiB. */
export function xenAreaFrames(machineFrames: number): number {
  const m2pPages = Math.ceil((machineFrames * 8) / PAGE);
  const tables = 64 + Math.ceil(m2pPages / 512);
  return Math.ceil((0x100 + 16 + GRANT_FRAMES_MAX + BACKEND_FRAMES + STATUS_FRAMES_MAX + STACK_PAGES + m2pPages + tables) / 512) * 512;
}

/** Lay out Xen's frames in `mem` (frames from 1 MiB up) and map them into Xen's L4 slots. */
export function buildXenArea(mem: PhysicalMemory, machineFrames: number): XenFrames {
  let next = 0x100;
  const alloc = (n = 1): number => {
    const f = next;
    next += n;
    mem.fill(f * PAGE, n * PAGE, 0);
    return f;
  };
  const m2pPages = Math.ceil((machineFrames * 8) / PAGE);
  const f = {
    text: alloc(), idt: alloc(), tss: alloc(), stubs: alloc(), gdtReserved: alloc(), zero: alloc(), sharedInfo: alloc(),
    stack: alloc(STACK_PAGES), m2p: alloc(m2pPages), grant: alloc(GRANT_FRAMES_MAX), backend: alloc(BACKEND_FRAMES),
    status: alloc(STATUS_FRAMES_MAX),
  };
  mem.fill(f.text * PAGE, PAGE, 0xcc);
  mem.fill(f.stubs * PAGE, PAGE, 0xcc);

  const l4Slots = new Map<number, [number, number]>();
  const tables = new Map<string, number>(); // level:index of the span a table covers -> frame
  /** The table frame for `level` (3, 2, 1) covering `lin`, made on first use. */
  const table = (lin: number, level: number): number => {
    const span = 2 ** (12 + 9 * level);
    const key = `${level}:${Math.floor(lin / span)}`;
    let frame = tables.get(key);
    if (frame === undefined) {
      frame = alloc();
      tables.set(key, frame);
      // The RO M2P's slot is the only one a guest may use: USER, no RW (x86_64/mm.c
      // paging_init); the others are Xen's alone.
      const m2p = l4Slot(lin) === l4Slot(XEN_VA.m2p);
      const upper = m2p ? PTE.P | PTE.A | PTE.US : PTE.P | PTE.RW | PTE.A | PTE.D;
      if (level === 3) l4Slots.set(l4Slot(lin), entry(frame, upper, m2p ? PTE_NX_HI : 0));
      else {
        const parent = table(lin, level + 1);
        const index = Math.floor(lin / span) & 511;
        mem.writeU64(parent * PAGE + index * 8, ...entry(frame, upper, 0));
      }
    }
    return frame;
  };
  const map = (lin: number, frame: number, flags: number, nx: boolean): void => {
    const l1 = table(lin, 1);
    mem.writeU64(l1 * PAGE + (Math.floor(lin / PAGE) & 511) * 8, ...entry(frame, flags, nx ? PTE_NX_HI : 0));
  };

  for (let k = 0; k < m2pPages; k++) map(XEN_VA.m2p + k * PAGE, f.m2p + k, GUEST_RO, true);
  // vCPU 0's GDT: the guest's 14 frames (the zero page until HYPERVISOR_set_gdt), Xen's page.
  for (let k = 0; k < 14; k++) map(XEN_VA.gdt + k * PAGE, f.zero, XEN_RW & ~PTE.RW, true);
  map(XEN_VA.gdt + 14 * PAGE, f.gdtReserved, XEN_RW, true);
  map(XEN_VA.text, f.text, XEN_RX, false);
  map(IDT_VA, f.idt, XEN_RW, true);
  map(TSS_VA, f.tss, XEN_RW, true);
  map(XEN_VA.stubs, f.stubs, XEN_RX, false);
  const stackVa = XEN_VA.directmap + f.stack * PAGE;
  for (let k = 0; k < STACK_PAGES; k++) map(stackVa + k * PAGE, f.stack + k, XEN_RW, true);

  const domainBase = xenAreaFrames(machineFrames);
  if (next > domainBase) throw new Error(`Xen's area needs ${next} frames, ${domainBase} were set aside`);
  return {
    ...f,
    m2pPages,
    domainBase,
    l4Slots,
    // The primary stack's top holds struct cpu_info; the CPU pushes below it.
    stackTop: stackVa + STACK_PAGES * PAGE - 64,
    istTop: [0, 1, 2, 3, 4].map((n) => stackVa + (n + 1) * PAGE),
  };
}

/** A page-table entry for `frame` with `flags`, as (lo, hi). */
export function entry(frame: number, flags: number, hi: number): [number, number] {
  const addr = frame * PAGE;
  return [((addr % TWO32) | flags) | 0, (Math.floor(addr / TWO32) | hi) | 0];
}

/** The machine address of the L1 entry mapping Xen's linear `lin` (a page Xen mapped at
 *  build time), found by walking from its L4 slot. */
export function xenL1e(mem: PhysicalMemory, f: XenFrames, lin: number): number {
  const slot = f.l4Slots.get(l4Slot(lin));
  if (slot === undefined) throw new Error(`Xen's address ${lin} has no L4 slot`);
  let table = Math.floor((slot[0] >>> 0) / PAGE) * PAGE + (slot[1] & 0xfffff) * TWO32;
  for (let level = 3; level >= 2; level--) {
    const at = table + (Math.floor(lin / 2 ** (12 + 9 * (level - 1))) & 511) * 8;
    table = Math.floor(mem.readU32(at) / PAGE) * PAGE + (mem.readU32(at + 4) & 0xfffff) * TWO32;
  }
  return table + (Math.floor(lin / PAGE) & 511) * 8;
}
