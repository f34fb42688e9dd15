// Xen's descriptor tables in IDT mode: its reserved GDT page (from selector 0xe000: the boot
// GDT of xen/arch/x86/desc.c), the TSS (load_system_tables, traps-setup.c) and the IDT
// (asm/gen-idt.h, entry.S write_idte): every vector a 64-bit interrupt gate at 0xe008, DPL 0
// but #BP, #OF and 0x80 (DPL 3), #DB, NMI, #DF and #MC on IST stacks. The handlers' addresses
// are host entry points in Xen's text page (address-space.ts).

import type { PhysicalMemory } from '../../machine/memory.js';
import { HYPERVISOR_CS } from '../../arch/xen.js';
import { IST, PAGE, TSS_VA, XEN_VA, TEXT_OFFSET, type XenFrames } from './address-space.js';
import { halves } from './builder.js';

/** The reserved GDT page's descriptors by selector (desc.c boot_gdt). */
const XEN_GDT: ReadonlyArray<[number, number, number]> = [
  [0xe008, 0x0000ffff, 0x00af9b00], // ring 0 code, 64-bit
  [0xe010, 0x0000ffff, 0x00cf9300], // ring 0 data
  [0xe023, 0x0000ffff, 0x00cffb00], // ring 3 code, compatibility
  [0xe02b, 0x0000ffff, 0x00cff300], // ring 3 data
  [0xe033, 0x0000ffff, 0x00affb00], // ring 3 code, 64-bit
  [0xe060, 0x00000000, 0x00009100], // per-CPU entry: limit = CPU number (0)
];
/** sizeof(struct tss64) - 1. */
export const TSS_LIMIT = 0x67;
/** The 64-bit TSS descriptor's attributes: present, DPL 0, type 9 (available). */
const TSS_TYPE = 0x8900;

/** Which IST each vector uses, and the gates' DPLs. */
const IST_OF: Record<number, number> = { 1: IST.db, 2: IST.nmi, 8: IST.df, 18: IST.mce };
const DPL3 = new Set([3, 4, 0x80]);

/** The linear address of the handler for `vector`. */
export function vectorEntry(vector: number): number {
  return XEN_VA.text + TEXT_OFFSET.vector(vector);
}

export function writeDescriptorTables(mem: PhysicalMemory, f: XenFrames): void {
  const gdt = f.gdtReserved * PAGE;
  for (const [sel, lo, hi] of XEN_GDT) mem.writeU64(gdt + (sel & 0xff8), lo, hi);
  // The TSS descriptor (16 bytes at 0xe040).
  const [baseLo, baseHi] = halves(TSS_VA);
  mem.writeU64(gdt + 0x40,
    ((baseLo & 0xffff) << 16) | TSS_LIMIT,
    (baseLo & 0xff000000) | TSS_TYPE | ((baseLo >>> 16) & 0xff));
  mem.writeU64(gdt + 0x48, baseHi, 0);

  // The TSS: RSP0 at the top of the primary stack, the IST stacks; no I/O bitmap.
  const tss = f.tss * PAGE;
  mem.writeU64(tss + 4, ...halves(f.stackTop));
  for (let n = 1; n <= 4; n++) mem.writeU64(tss + 0x24 + (n - 1) * 8, ...halves(f.istTop[n]));
  mem.writeU32(tss + 0x64, (TSS_LIMIT + 1) << 16); // I/O map base past the limit: no bitmap

  const idt = f.idt * PAGE;
  for (let v = 0; v < 256; v++) {
    const [lo, hi] = halves(vectorEntry(v));
    const dpl = DPL3.has(v) ? 3 : 0;
    mem.writeU64(idt + v * 16, (HYPERVISOR_CS << 16) | (lo & 0xffff), (lo & 0xffff0000) | 0x8e00 | (dpl << 13) | (IST_OF[v] ?? 0));
    mem.writeU64(idt + v * 16 + 8, hi, 0);
  }
}
