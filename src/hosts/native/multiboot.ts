// The native host's second boot path: multiboot (v1) kernels, booted the way
// QEMU 7.2's `-kernel` boots them (hw/i386/multiboot.c load_multiboot() and
// the pc-bios/optionrom/multiboot.S option ROM, with SeaBIOS underneath).
//
// Which loader: QEMU's x86_load_linux() (hw/i386/x86.c) tries load_multiboot()
// before the PVH ELF note, so an image with a valid multiboot header boots as
// multiboot even if it also has a PVH note; so does it here. Like QEMU, an
// x86-64 ELF image with a multiboot header (and no a.out kludge) is refused
// ("Cannot load x86-64 image, give a 32bit one."), PVH note or not.
//
// Header (Multiboot Specification 0.6.96 §3.1): magic 0x1BADB002, flags and a
// checksum with magic + flags + checksum = 0 (mod 2^32), 4-byte aligned, found
// as QEMU finds it: the first match at offsets 0, 4, ... below 8192 - 48, so the
// whole 48-byte header lies in the first 8 KiB. Flags bit 16 (the a.out kludge)
// takes the load layout from the header's address fields and loads raw file
// bytes (any file format); without it the image must be an ELF32 x86 executable
// and its PT_LOAD segments are loaded at their physical addresses.
//
// Machine state at entry (§3.2): EAX = 0x2BADB002, EBX = physical address of
// the multiboot information, 32-bit protected mode, paging off, flat 4 GiB
// segments (CS = 0x08 execute/read, DS = ES = FS = GS = SS = 0x10 read/write,
// the selectors QEMU's option ROM uses), EFLAGS.IF = EFLAGS.VM = 0, A20 on
// (there is no A20 gate in the machine). ESP, GDTR and IDTR are undefined;
// here they are 0 (GDTR and IDTR with limit 0).
//
// Multiboot information (§3.3), at the addresses QEMU uses:
//   0x9000  memory map: the E820 map SeaBIOS gives QEMU's pc machine, each
//           entry 24 bytes (size = 20, base_addr, length, type):
//             [0, 0x9FC00) RAM, [0x9FC00, 0xA0000) reserved (EBDA),
//             [0xF0000, 0x100000) reserved (BIOS), [1 MiB, RAM - 128 KiB) RAM,
//             [RAM - 128 KiB, RAM) reserved (firmware tables),
//             [0xFFFC0000, 4 GiB) reserved (BIOS flash)
//           (observed by guests/multiboot-uart under QEMU 7.2 with -m 2 to
//           -m 3000; above 3.5 GiB QEMU moves RAM above 4 GiB, which Ringside's
//           flat RAM cannot, so a multiboot boot needs less than 3584 MiB).
//   0x9500  multiboot_info: flags 0x24F = mem (bit 0), boot_device (1),
//           cmdline (2), mods (3), mmap (6), boot_loader_name (9);
//           mem_lower 639 (SeaBIOS's INT 12h: 640 KiB less the 1 KiB EBDA);
//           mem_upper = KiB from 1 MiB to the first hole (the option ROM's own
//           computation over the map); boot_device 0x8000FFFF; mods_count 0.
//   after the kernel, at load_addr + its size rounded up to 4 KiB (where QEMU
//           puts them): mods_addr, then the command line "IMAGE " (QEMU
//           passes the kernel file name, a space and its empty -append), then
//           the boot loader name.
// QEMU writes the map and the information first and the kernel last, as one
// blob from load_addr to a 4 KiB boundary past the strings (hw/i386/multiboot.c
// FW_CFG_KERNEL_DATA, copied by the option ROM in protected mode): a kernel
// whose blob covers 0x9000-0x9557 is loaded over the information (kvm-unit-tests'
// realmode test loads at 0x8000), and EBX still says 0x9500.
//
// Deliberate deviations from QEMU (a guest can tell):
// - The boot loader name is "ringside", not "qemu".
// - Header flags bit 2 (video mode) gets no video information, as on QEMU, but
//   without QEMU's warning on stderr; bits 0 (module alignment: there are no
//   modules) and 1 (memory information: always given) need nothing.
// - Modules (QEMU's -initrd) and a command line of their own are not offered.
// - Where the blob covers the information but no segment has bytes (a gap between
//   ELF segments), Ringside has zeros; QEMU copies its loader buffer there, which
//   rom_copy() leaves unwritten.

import { BadInput } from '../../machine/errors.js';
import type { ImageSegment } from '../../machine/image.js';
import type { PhysicalMemory } from '../../machine/memory.js';
import { parseElf } from '../../guest/elf.js';
import { checkSegments, formatMemory, loadSegments } from './pvh.js';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie in the first 8 KiB; QEMU scans for its 48 bytes there. */
export const MULTIBOOT_SEARCH = 8192;
const HEADER_BYTES = 48;
export const HEADER_FLAG_AOUT_KLUDGE = 1 << 16;

export const MMAP_PADDR = 0x9000;
export const INFO_PADDR = 0x9500;
/** Size of QEMU's multiboot_info_t (through the VBE fields). */
export const INFO_SIZE = 88;
export const INFO_FLAGS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9);
export const MEM_LOWER_KIB = 639;
export const BOOT_DEVICE = 0x8000ffff;
export const BOOT_LOADER_NAME = 'ringside';
/** Firmware tables SeaBIOS reserves at the top of RAM. */
const TOP_RESERVED = 0x20000;
/** From here QEMU's pc machine splits RAM around the PCI hole. */
export const MULTIBOOT_MAX_MEMORY = 0xe0000000;
const MIN_MEMORY = 2 * 1024 * 1024;
const MMAP_ENTRY_SIZE = 24;
const PAGE = 0x1000;
const EM_X86_64 = 62;

export interface MultibootHeader {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

export interface MemoryMapEntry {
  base: number;
  length: number;
  /** 1 = available RAM, 2 = reserved. */
  type: number;
}

/** Everything decided about a multiboot boot before a machine exists. */
export interface MultibootPlan {
  header: MultibootHeader;
  entry: number;
  segments: ImageSegment[];
  /** [lowest, highest) physical address the kernel occupies. */
  kernelStart: number;
  kernelEnd: number;
  /** mods_addr; the command line and boot loader name follow it. */
  modsPaddr: number;
  /** End of the loader's blob: [kernelStart, blobEnd) is the kernel, the strings after it and
   *  zeros up to a 4 KiB boundary (within RAM), written after the information. */
  blobEnd: number;
  cmdline: string;
  memoryMap: MemoryMapEntry[];
  memUpperKiB: number;
  memoryBytes: number;
}

function hex(v: number): string {
  return '0x' + v.toString(16);
}

function u32(bytes: Uint8Array, off: number): number {
  return (bytes[off]! | (bytes[off + 1]! << 8) | (bytes[off + 2]! << 16) | (bytes[off + 3]! << 24)) >>> 0;
}

/** The multiboot header QEMU would find in these file bytes, or null. */
export function findMultibootHeader(bytes: Uint8Array): MultibootHeader | null {
  const limit = Math.min(MULTIBOOT_SEARCH - HEADER_BYTES, bytes.length - 12);
  for (let i = 0; i < limit; i += 4) {
    if (u32(bytes, i) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = u32(bytes, i + 4);
    if (((MULTIBOOT_HEADER_MAGIC + flags + u32(bytes, i + 8)) >>> 0) !== 0) continue;
    // The address fields are read only with the a.out kludge; past the file they read as 0.
    const field = (n: number): number => (i + n + 4 <= bytes.length ? u32(bytes, i + n) : 0);
    return {
      offset: i,
      flags,
      headerAddr: field(12),
      loadAddr: field(16),
      loadEndAddr: field(20),
      bssEndAddr: field(24),
      entryAddr: field(28),
    };
  }
  return null;
}

/** The E820 map SeaBIOS reports on QEMU's pc machine with this much RAM (see the top of the file). */
export function qemuPcMemoryMap(memoryBytes: number): MemoryMapEntry[] {
  return [
    { base: 0, length: 0x9fc00, type: 1 },
    { base: 0x9fc00, length: 0x400, type: 2 },
    { base: 0xf0000, length: 0x10000, type: 2 },
    { base: 0x100000, length: memoryBytes - TOP_RESERVED - 0x100000, type: 1 },
    { base: memoryBytes - TOP_RESERVED, length: TOP_RESERVED, type: 2 },
    { base: 0xfffc0000, length: 0x40000, type: 2 },
  ];
}

/** The kernel's segments from the a.out kludge fields (QEMU's checks, in its order). */
function kludgeSegments(bytes: Uint8Array, label: string, h: MultibootHeader): ImageSegment[] {
  const bad = (what: string): never => {
    throw new BadInput(`${label}: multiboot header (a.out kludge): ${what}`);
  };
  if (h.headerAddr < h.loadAddr) bad(`header_addr ${hex(h.headerAddr)} is below load_addr ${hex(h.loadAddr)}`);
  if (h.headerAddr - h.loadAddr > h.offset) {
    bad(`header_addr - load_addr = ${hex(h.headerAddr - h.loadAddr)} puts load_addr before the start of the file (header at offset ${hex(h.offset)})`);
  }
  const textOffset = h.offset - (h.headerAddr - h.loadAddr);
  let loadSize: number;
  if (h.loadEndAddr !== 0) {
    if (h.loadEndAddr < h.loadAddr) bad(`load_end_addr ${hex(h.loadEndAddr)} is below load_addr ${hex(h.loadAddr)}`);
    loadSize = h.loadEndAddr - h.loadAddr;
  } else {
    loadSize = bytes.length - textOffset;
  }
  if (textOffset + loadSize > bytes.length) {
    bad(`load_addr..load_end_addr is ${hex(loadSize)} bytes from file offset ${hex(textOffset)}, past the end of the ${bytes.length}-byte file`);
  }
  if (loadSize > 0x1_0000_0000 - h.loadAddr) bad('the kernel does not fit below 4 GiB');
  let memsz = loadSize;
  if (h.bssEndAddr !== 0) {
    if (h.bssEndAddr < h.loadAddr + loadSize) bad(`bss_end_addr ${hex(h.bssEndAddr)} is below the end of the loaded data ${hex(h.loadAddr + loadSize)}`);
    memsz = h.bssEndAddr - h.loadAddr;
  }
  const data = new Uint8Array(loadSize);
  data.set(bytes.subarray(textOffset, textOffset + loadSize));
  return [{ paddr: h.loadAddr, vaddr: BigInt(h.loadAddr), data, memsz }];
}

/**
 * Check a multiboot image (its whole file, with the header found in it) against
 * the contract for a machine with memoryBytes of RAM and decide where
 * everything goes. Throws BadInput for any image that cannot boot.
 */
export function planMultibootBoot(bytes: Uint8Array, label: string, header: MultibootHeader, memoryBytes: number, append = ''): MultibootPlan {
  let segments: ImageSegment[];
  let entry: number;
  if ((header.flags & HEADER_FLAG_AOUT_KLUDGE) !== 0) {
    segments = kludgeSegments(bytes, label, header);
    entry = header.entryAddr;
  } else {
    // QEMU looks at e_machine before anything else (hw/i386/multiboot.c).
    const elf = bytes.length >= 20 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
    if (elf && (bytes[4] === 2 || (bytes[18]! | (bytes[19]! << 8)) === EM_X86_64)) {
      throw new BadInput(
        `${label}: x86-64 ELF image with a multiboot header: the multiboot loader takes only 32-bit (ELF32, EM_386) images, and it comes before the PVH note (as in QEMU)`,
      );
    }
    // QEMU's multiboot loader reads the ELF header, program headers and PT_LOAD bytes,
    // nothing else (no notes, no sections): only those can make the image malformed.
    const image = parseElf(bytes, label, { notes: false });
    segments = image.segments;
    entry = Number(image.entry);
  }
  if (memoryBytes < MIN_MEMORY || memoryBytes >= MULTIBOOT_MAX_MEMORY) {
    throw new BadInput(
      `${label}: a multiboot boot needs from 2 MiB to less than 3584 MiB of RAM (QEMU's pc machine moves RAM above 4 GiB from there); got ${formatMemory(memoryBytes)}`,
    );
  }
  checkSegments(label, segments, memoryBytes);
  const kernelStart = Math.min(...segments.map((s) => s.paddr));
  const kernelEnd = Math.max(...segments.map((s) => s.paddr + s.memsz));
  const modsPaddr = kernelStart + pageAlign(kernelEnd - kernelStart);
  // QEMU's: the kernel's file name, a space, then -append's text (kvm-unit-tests reads its
  // arguments from here).
  const cmdline = `${label} ${append}`;
  const stringsEnd = modsPaddr + utf8(cmdline).length + 1 + BOOT_LOADER_NAME.length + 1;
  if (stringsEnd > memoryBytes) {
    throw new BadInput(`${label}: no room after the kernel for the multiboot command line in ${formatMemory(memoryBytes)} of RAM`);
  }
  const memoryMap = qemuPcMemoryMap(memoryBytes);
  return {
    header,
    entry,
    segments,
    kernelStart,
    kernelEnd,
    modsPaddr,
    blobEnd: Math.min(kernelStart + pageAlign(stringsEnd - kernelStart), memoryBytes),
    cmdline,
    memoryMap,
    memUpperKiB: upperMemoryKiB(memoryMap),
    memoryBytes,
  };
}

/** §3.3 mem_upper: KiB of RAM from 1 MiB up to the first hole, as the option ROM computes it. */
function upperMemoryKiB(map: readonly MemoryMapEntry[]): number {
  let end = 0x100000;
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of map) {
      if (e.type === 1 && e.base <= end && end < e.base + e.length) {
        end = e.base + e.length;
        grew = true;
      }
    }
  }
  return (end - 0x100000) / 1024;
}

function pageAlign(n: number): number {
  return Math.ceil(n / PAGE) * PAGE;
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/**
 * Load a planned multiboot image and write the multiboot information; returns the entry
 * point and the registers the loader sets (EAX = the bootloader magic, EBX = the
 * information's address) and the selectors of QEMU's option ROM GDT (CS 0x08, data 0x10).
 */
export function writeMultibootBoot(mem: PhysicalMemory, plan: MultibootPlan): { eip: number; eax: number; ebx: number; cs: number; data: number } {
  // QEMU's option ROM writes the information first and copies the loader's blob last, so
  // where the blob covers 0x9000-0x9557 its bytes (kernel, zeros, strings) win; EBX still
  // points at 0x9500 (pc-bios/optionrom/multiboot.S: the information and the E820 map in
  // real mode, then the FW_CFG_KERNEL blob in protected mode).
  plan.memoryMap.forEach((e, i) => {
    const at = MMAP_PADDR + i * MMAP_ENTRY_SIZE;
    mem.writeU32(at, MMAP_ENTRY_SIZE - 4); // size, not counting itself
    mem.writeU64(at + 4, e.base, 0);
    mem.writeU64(at + 12, e.length, 0);
    mem.writeU32(at + 20, e.type);
  });

  const cmdline = utf8(plan.cmdline);
  const cmdlinePaddr = plan.modsPaddr;
  const namePaddr = cmdlinePaddr + cmdline.length + 1;

  const mbi = INFO_PADDR;
  mem.fill(mbi, INFO_SIZE, 0);
  mem.writeU32(mbi + 0, INFO_FLAGS);
  mem.writeU32(mbi + 4, MEM_LOWER_KIB);
  mem.writeU32(mbi + 8, plan.memUpperKiB);
  mem.writeU32(mbi + 12, BOOT_DEVICE);
  mem.writeU32(mbi + 16, cmdlinePaddr);
  mem.writeU32(mbi + 20, 0); // mods_count
  mem.writeU32(mbi + 24, plan.modsPaddr);
  mem.writeU32(mbi + 44, plan.memoryMap.length * MMAP_ENTRY_SIZE); // mmap_length
  mem.writeU32(mbi + 48, MMAP_PADDR);
  mem.writeU32(mbi + 64, namePaddr);

  // The blob's zeros: RAM outside the information is zero already; inside it, clear first.
  const infoEnd = INFO_PADDR + INFO_SIZE;
  const from = Math.max(plan.kernelStart, MMAP_PADDR);
  const to = Math.min(plan.blobEnd, infoEnd);
  if (from < to) mem.fill(from, to - from, 0);
  loadSegments(mem, plan.segments);

  mem.write(cmdlinePaddr, cmdline);
  mem.fill(cmdlinePaddr + cmdline.length, 1, 0);
  mem.write(namePaddr, utf8(BOOT_LOADER_NAME));
  mem.fill(namePaddr + BOOT_LOADER_NAME.length, 1, 0);
  return { eip: plan.entry, eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: mbi, cs: 0x08, data: 0x10 };
}
