// The native host's PVH boot path: planning and loading a PVH image (the platform it
// runs on is host.ts).
//
// Contract (README, "The native (PVH) platform"): the entry point comes from the
// ELF note "Xen" type 18 (XEN_ELFNOTE_PHYS32_ENTRY); the CPU starts in 32-bit
// protected mode, paging off, flat segments, %ebx = physical address of an
// hvm_start_info.

import { BadInput } from '../../machine/errors.js';
import type { ImageSegment, LoadableImage } from '../../machine/image.js';
import type { PhysicalMemory } from '../../machine/memory.js';

export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
export const HVM_START_MAGIC = 0x336ec578;

/** hvm_start_info, version 1 (xen/include/public/arch-x86/hvm/start_info.h). */
export const START_INFO_SIZE = 56;
/** hvm_memmap_table_entry. */
export const MEMMAP_ENTRY_SIZE = 24;
export const HVM_MEMMAP_TYPE_RAM = 1;
/** Start info + its one-entry memory map, 8-byte aligned; a command line follows them. */
const START_INFO_AREA = START_INFO_SIZE + MEMMAP_ENTRY_SIZE;
/** The longest command line (with its NUL) that fits in the start info's page. */
export const PVH_CMDLINE_MAX = 4096 - START_INFO_AREA;
/** Where the start info goes if the image leaves it free (as in the low pages QEMU uses). */
export const START_INFO_PREFERRED = 0x6000;
/** Conventional memory ends here; start info candidates stay below it. */
const LOW_MEMORY_END = 0xa0000;

/** Everything decided about a boot before a machine exists. */
export interface PvhPlan {
  entry: number;
  startInfoPaddr: number;
  memmapPaddr: number;
  memoryBytes: number;
  /** The command line's bytes (no NUL), written after the memory map; null: none given,
   *  cmdline_paddr 0. */
  cmdline: Uint8Array | null;
}

function hex(v: number): string {
  return '0x' + v.toString(16);
}

/** The PVH entry point from the image's notes. */
export function pvhEntry(image: LoadableImage): number {
  const note = image.notes.find((n) => n.name === 'Xen' && n.type === XEN_ELFNOTE_PHYS32_ENTRY);
  if (!note) {
    const why = image.noteProblem !== undefined ? `; ${image.noteProblem}` : '';
    throw new BadInput(`${image.label}: no PVH entry note (Xen ELF note type 18) in a PT_NOTE segment and no multiboot header in the first 8 KiB${why}`);
  }
  const d = note.desc;
  if (d.length !== 4 && d.length !== 8) {
    throw new BadInput(`${image.label}: PVH entry note (Xen ELF note type 18) has a ${d.length}-byte descriptor (expected 4 or 8)`);
  }
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const lo = view.getUint32(0, true);
  if (d.length === 8 && view.getUint32(4, true) !== 0) {
    const v = view.getBigUint64(0, true);
    throw new BadInput(`${image.label}: PVH entry point 0x${v.toString(16)} is not below 4 GiB`);
  }
  return lo;
}

/**
 * Check an image against the native PVH contract for a machine with memoryBytes
 * of RAM and decide where everything goes. Throws BadInput for any image that
 * cannot boot.
 */
export function planPvhBoot(image: LoadableImage, memoryBytes: number, append?: string): PvhPlan {
  const entry = pvhEntry(image);
  const ranges = checkSegments(image.label, image.segments, memoryBytes);
  const cmdline = append === undefined ? null : new TextEncoder().encode(append);
  if (cmdline !== null && cmdline.length + 1 > PVH_CMDLINE_MAX) {
    throw new BadInput(`${image.label}: --append: a PVH command line is limited to ${PVH_CMDLINE_MAX - 1} bytes (got ${cmdline.length})`);
  }
  const area = START_INFO_AREA + (cmdline === null ? 0 : cmdline.length + 1);
  const free = (at: number): boolean => at + area <= memoryBytes && ranges.every(([s, e]) => at + area <= s || e <= at);
  let at = -1;
  if (free(START_INFO_PREFERRED)) at = START_INFO_PREFERRED;
  else {
    // Deterministic fallback: the first free 4 KiB page of conventional memory above page 0.
    for (let p = 0x1000; p + area <= LOW_MEMORY_END; p += 0x1000) {
      if (free(p)) {
        at = p;
        break;
      }
    }
  }
  if (at < 0) {
    throw new BadInput(`${image.label}: the image leaves no free page below 640 KiB for the PVH start info`);
  }
  return { entry, startInfoPaddr: at, memmapPaddr: at + START_INFO_SIZE, memoryBytes, cmdline };
}

/**
 * Check that every segment lies in RAM and that no two overlap; return their
 * [start, end) physical ranges. Throws BadInput naming the first problem.
 */
export function checkSegments(label: string, segments: readonly ImageSegment[], memoryBytes: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const [i, seg] of segments.entries()) {
    const end = seg.paddr + seg.memsz;
    if (end > memoryBytes) {
      throw new BadInput(
        `${label}: segment ${i} at paddr ${hex(seg.paddr)} (${hex(seg.memsz)} bytes) does not fit in ${formatMemory(memoryBytes)} of RAM`,
      );
    }
    for (const [j, [s, e]] of ranges.entries()) {
      if (seg.paddr < e && s < end) {
        throw new BadInput(`${label}: segments ${j} and ${i} overlap in physical memory (at ${hex(Math.max(s, seg.paddr))})`);
      }
    }
    ranges.push([seg.paddr, end]);
  }
  return ranges;
}

/** Copy segments into memory, zero-filling each one's tail past its file data. */
export function loadSegments(memory: PhysicalMemory, segments: readonly ImageSegment[]): void {
  for (const seg of segments) {
    memory.write(seg.paddr, seg.data);
    if (seg.memsz > seg.data.length) memory.fill(seg.paddr + seg.data.length, seg.memsz - seg.data.length, 0);
  }
}

export function formatMemory(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

/** Load a planned PVH image into memory and write its start info; returns the entry
 *  point and %ebx (the start info's physical address). */
export function writePvhBoot(memory: PhysicalMemory, image: LoadableImage, plan: PvhPlan): { eip: number; ebx: number } {
  const mem = memory;
  loadSegments(memory, image.segments);

  const si = plan.startInfoPaddr;
  mem.fill(si, START_INFO_AREA, 0);
  mem.writeU32(si + 0, HVM_START_MAGIC);
  mem.writeU32(si + 4, 1); // version
  mem.writeU32(si + 8, 0); // flags
  mem.writeU32(si + 12, 0); // nr_modules
  mem.writeU64(si + 16, 0, 0); // modlist_paddr
  const cmdlinePaddr = plan.cmdline === null ? 0 : si + START_INFO_AREA;
  mem.writeU64(si + 24, cmdlinePaddr, 0); // cmdline_paddr
  mem.writeU64(si + 32, 0, 0); // rsdp_paddr
  mem.writeU64(si + 40, plan.memmapPaddr, 0); // memmap_paddr
  mem.writeU32(si + 48, 1); // memmap_entries
  mem.writeU32(si + 52, 0); // reserved
  const mm = plan.memmapPaddr;
  const size = plan.memoryBytes;
  mem.writeU64(mm + 0, 0, 0); // addr
  mem.writeU64(mm + 8, size % 0x1_0000_0000, Math.floor(size / 0x1_0000_0000)); // size
  mem.writeU32(mm + 16, HVM_MEMMAP_TYPE_RAM);
  mem.writeU32(mm + 20, 0);
  if (plan.cmdline !== null) {
    mem.write(cmdlinePaddr, plan.cmdline);
    mem.fill(cmdlinePaddr + plan.cmdline.length, 1, 0);
  }
  return { eip: plan.entry, ebx: si };
}
