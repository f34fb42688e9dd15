// The native host: boots a PVH image on bare (modelled) metal.
//
// Contract (DESIGN.md "Boot contracts", native): the entry point comes from the
// ELF note "Xen" type 18 (XEN_ELFNOTE_PHYS32_ENTRY); the CPU starts in 32-bit
// protected mode, paging off, flat segments, %ebx = physical address of an
// hvm_start_info. The host then only provides the platform:
//
//   port 0xE9 out  -> one console byte (the low byte of the value, whatever the
//                     access size, as QEMU's debugcon); port 0xE9 in reads 0xE9
//                     (the Bochs/QEMU "port e9 hack" presence check).
//   port 0xF4 out  -> the run ends with exit value V. Writes of every size count
//                     (1, 2 or 4 bytes; V is the value zero-extended from that
//                     size), and so do writes to 0xF5..0xF7: QEMU's
//                     isa-debug-exit with iosize=4 owns those four ports and
//                     exits on any write to them, and QEMU is our oracle.
//   ports 0x3F8-0x3FF -> COM1, a 16550 UART (src/machine/uart16550.ts); each
//                     byte it transmits is a console byte too. Both sources
//                     append to the one console transcript in the order the
//                     guest wrote them (QEMU: -debugcon and -serial share one
//                     chardev, src/lab/qemu.ts), so a guest printing on both
//                     sees its text twice.
//
// The same platform serves multiboot images (multiboot.ts), which QEMU's
// -kernel boots too.

import { BadInput } from '../../machine/errors.js';
import type { ImageSegment, LoadableImage } from '../../machine/image.js';
import type { Machine } from '../../machine/machine.js';
import { Uart16550 } from '../../machine/uart16550.js';

export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
export const HVM_START_MAGIC = 0x336ec578;
export const CONSOLE_PORT = 0xe9;
export const EXIT_PORT = 0xf4;
/** QEMU's isa-debug-exit,iobase=0xf4,iosize=4 decodes 0xF4..0xF7. */
export const EXIT_PORT_SPAN = 4;

/** hvm_start_info, version 1 (xen/include/public/arch-x86/hvm/start_info.h). */
export const START_INFO_SIZE = 56;
/** hvm_memmap_table_entry. */
export const MEMMAP_ENTRY_SIZE = 24;
export const HVM_MEMMAP_TYPE_RAM = 1;
/** Start info + its one-entry memory map, 8-byte aligned. */
const START_INFO_AREA = START_INFO_SIZE + MEMMAP_ENTRY_SIZE;
/** Where the start info goes if the image leaves it free (as in the low pages QEMU uses). */
export const START_INFO_PREFERRED = 0x6000;
/** Conventional memory ends here; start info candidates stay below it. */
const LOW_MEMORY_END = 0xa0000;

/** The part of a Machine the native host uses. */
export type NativeMachine = Pick<Machine, 'memory' | 'io' | 'cpu' | 'stop'>;

/** Everything decided about a boot before a machine exists. */
export interface PvhPlan {
  entry: number;
  startInfoPaddr: number;
  memmapPaddr: number;
  memoryBytes: number;
}

function hex(v: number): string {
  return '0x' + v.toString(16);
}

/** The PVH entry point from the image's notes. */
export function pvhEntry(image: LoadableImage): number {
  const note = image.notes.find((n) => n.name === 'Xen' && n.type === XEN_ELFNOTE_PHYS32_ENTRY);
  if (!note) throw new BadInput(`${image.label}: no PVH entry note (Xen ELF note type 18) and no multiboot header in the first 8 KiB`);
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
export function planPvhBoot(image: LoadableImage, memoryBytes: number): PvhPlan {
  const entry = pvhEntry(image);
  const ranges = checkSegments(image.label, image.segments, memoryBytes);
  const free = (at: number): boolean => at + START_INFO_AREA <= memoryBytes && ranges.every(([s, e]) => at + START_INFO_AREA <= s || e <= at);
  let at = -1;
  if (free(START_INFO_PREFERRED)) at = START_INFO_PREFERRED;
  else {
    // Deterministic fallback: the first free 4 KiB page of conventional memory above page 0.
    for (let p = 0x1000; p + START_INFO_AREA <= LOW_MEMORY_END; p += 0x1000) {
      if (free(p)) {
        at = p;
        break;
      }
    }
  }
  if (at < 0) {
    throw new BadInput(`${image.label}: the image leaves no free page below 640 KiB for the PVH start info`);
  }
  return { entry, startInfoPaddr: at, memmapPaddr: at + START_INFO_SIZE, memoryBytes };
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
export function loadSegments(machine: NativeMachine, segments: readonly ImageSegment[]): void {
  for (const seg of segments) {
    machine.memory.write(seg.paddr, seg.data);
    if (seg.memsz > seg.data.length) machine.memory.fill(seg.paddr + seg.data.length, seg.memsz - seg.data.length, 0);
  }
}

export function formatMemory(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

export interface NativeHostOptions {
  /** Called with each console byte as the guest writes it. */
  onConsole?: (bytes: Uint8Array) => void;
}

/** Console bytes, kept in a growable buffer. Past the cap only the tail is kept. */
export class ConsoleBuffer {
  static readonly CAP = 16 * 1024 * 1024;
  private buf = new Uint8Array(4096);
  private len = 0;
  /** Bytes dropped from the front because the cap was reached. */
  dropped = 0;

  push(byte: number): void {
    if (this.len === this.buf.length) {
      if (this.len >= ConsoleBuffer.CAP) {
        const keep = this.len >>> 1;
        this.buf.copyWithin(0, this.len - keep, this.len);
        this.dropped += this.len - keep;
        this.len = keep;
      } else {
        const next = new Uint8Array(Math.min(this.buf.length * 2, ConsoleBuffer.CAP));
        next.set(this.buf);
        this.buf = next;
      }
    }
    this.buf[this.len++] = byte;
  }

  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** The console as text (UTF-8, invalid sequences replaced). */
  get text(): string {
    const body = new TextDecoder('utf-8', { fatal: false }).decode(this.bytes);
    return this.dropped > 0 ? `[ringside: ${this.dropped} earlier console bytes dropped]\n${body}` : body;
  }
}

/** A booted native host: the platform side of a PVH or multiboot machine. */
export class NativeHost {
  private readonly out = new ConsoleBuffer();

  constructor(private readonly options: NativeHostOptions = {}) {}

  /** Console output so far, as text. */
  get console(): string {
    return this.out.text;
  }

  /** Console output so far, as bytes. */
  get consoleBytes(): Uint8Array {
    return this.out.bytes;
  }

  /** @internal the port 0xE9 handler and the UART's transmitter */
  consoleOut(value: number): void {
    const byte = value & 0xff;
    this.out.push(byte);
    this.options.onConsole?.(Uint8Array.of(byte));
  }
}

/**
 * Boot a PVH image on a machine: load its segments, write the start info, wire
 * the platform's ports and put the CPU at the entry point.
 */
export function bootNative(machine: NativeMachine, image: LoadableImage, options: NativeHostOptions = {}): NativeHost {
  const plan = planPvhBoot(image, machine.memory.size);
  const host = new NativeHost(options);
  const mem = machine.memory;

  loadSegments(machine, image.segments);

  const si = plan.startInfoPaddr;
  mem.fill(si, START_INFO_AREA, 0);
  mem.writeU32(si + 0, HVM_START_MAGIC);
  mem.writeU32(si + 4, 1); // version
  mem.writeU32(si + 8, 0); // flags
  mem.writeU32(si + 12, 0); // nr_modules
  mem.writeU64(si + 16, 0, 0); // modlist_paddr
  mem.writeU64(si + 24, 0, 0); // cmdline_paddr
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

  wirePlatform(machine, host);
  machine.cpu.enterProtectedModeFlat(plan.entry, { ebx: si });
  return host;
}

/** Claim the platform's ports: the 0xE9 console, the 0xF4 exit port and COM1. */
export function wirePlatform(machine: NativeMachine, host: NativeHost): void {
  machine.io.onOut(CONSOLE_PORT, (value) => host.consoleOut(value));
  machine.io.onIn(CONSOLE_PORT, () => CONSOLE_PORT);
  for (let port = EXIT_PORT; port < EXIT_PORT + EXIT_PORT_SPAN; port++) {
    machine.io.onOut(port, (value, size) => {
      const v = size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff);
      machine.stop({ kind: 'exit-port', exitValue: v, message: `exit port ${hex(port)} written with ${v} (${size}-byte write)` });
    });
  }
  new Uart16550((byte) => host.consoleOut(byte)).attach(machine.io);
}
