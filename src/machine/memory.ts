// Guest physical memory: RAM from physical 0 as one ArrayBuffer, read and written through
// typed views, and device regions (MMIO) that the platform maps above RAM. Addresses that
// are neither are unbacked: reads return all-ones, writes are dropped, as on a PC with
// nothing decoding that range.
//
// RAM accesses never look at the device regions: the CPU's fast paths test `paddr < size`
// and only addresses past RAM reach readBeyondRam/writeBeyondRam.
//
// Deliberate deviation: RAM is one block from 0, with no hole below 4 GiB. A device region
// that RAM overlaps (only with --memory above 4076 MiB, where RAM reaches 0xFEC00000) is
// hidden by the RAM.
//
// The decode caches of every vCPU on this memory register here: a write to a page some
// vCPU has decoded code from (codeMark) invalidates that page in all of them.
//
// `written` marks the pages that may hold a non-zero byte, so that a capture reads those
// alone: the host-side methods here mark what they store to, and a vCPU marks a page when a
// translation lets it write there (cpu.ts tlbFill, paging.ts walk), since its stores go
// straight to `bytes`. A page never marked is all zero, as a fresh memory is.

import type { CodeCache, PhysicalBus } from '../cpu/bus.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);

/** A device's registers in physical address space. Offsets are from the region's base;
 *  accesses are 1, 2 or 4 bytes (wider CPU accesses arrive split). */
export interface MmioDevice {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

interface MmioRegion {
  base: number;
  end: number;
  device: MmioDevice;
}

export class PhysicalMemory implements PhysicalBus {
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Number of 4 KiB pages of RAM. */
  readonly pages: number;
  readonly codeMark: Uint8Array;
  /** 1 for a page that may hold a non-zero byte (see the top of the file). */
  readonly written: Uint8Array;
  private readonly codeCaches: CodeCache[] = [];
  private readonly regions: MmioRegion[] = [];

  constructor(size: number) {
    if (size % PAGE_SIZE !== 0) throw new RangeError('memory size must be a multiple of 4 KiB');
    this.size = size;
    const buffer = new ArrayBuffer(size);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.pages = size / PAGE_SIZE;
    this.codeMark = new Uint8Array(this.pages);
    this.written = new Uint8Array(this.pages);
  }

  // ---------------------------------------------------------------- decode-cache coherence

  attachCodeCache(cache: CodeCache): void {
    this.codeCaches.push(cache);
  }

  invalidateCode(ppn: number): void {
    this.codeMark[ppn] = 0;
    for (const cache of this.codeCaches) cache.dropCodePage(ppn);
  }

  /** Host-side writes (loaders, restore) bypass the CPU: forget every decoded page. */
  invalidateAllCode(): void {
    for (let ppn = 0; ppn < this.pages; ppn++) if (this.codeMark[ppn] !== 0) this.invalidateCode(ppn);
  }

  // ---------------------------------------------------------------- device regions

  /** Map a device at [base, base + length). Regions may not overlap each other. */
  mapMmio(base: number, length: number, device: MmioDevice): void {
    const end = base + length;
    if (this.regions.some((r) => base < r.end && r.base < end)) {
      throw new RangeError(`MMIO region at 0x${base.toString(16)} overlaps another`);
    }
    this.regions.push({ base, end, device });
  }

  readBeyondRam(paddr: number, size: 1 | 2 | 4): number {
    const r = this.regionAt(paddr);
    if (r === null) return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
    return r.device.read(paddr - r.base, size);
  }

  writeBeyondRam(paddr: number, size: 1 | 2 | 4, value: number): void {
    const r = this.regionAt(paddr);
    if (r !== null) r.device.write(paddr - r.base, size, value);
  }

  private regionAt(paddr: number): MmioRegion | null {
    for (const r of this.regions) if (paddr >= r.base && paddr < r.end) return r;
    return null;
  }

  // ---------------------------------------------------------------- host-side access

  contains(paddr: number, length: number): boolean {
    return paddr >= 0 && length >= 0 && paddr + length <= this.size;
  }

  /** Host-side write (loaders): copies bytes in. The caller checked the range. */
  write(paddr: number, data: Uint8Array): void {
    this.hostWrote(paddr, data.length);
    this.bytes.set(data, paddr);
  }

  fill(paddr: number, length: number, value: number): void {
    this.hostWrote(paddr, length);
    this.bytes.fill(value, paddr, paddr + length);
  }

  readU32(paddr: number): number {
    return this.view.getUint32(paddr, true);
  }

  writeU32(paddr: number, value: number): void {
    this.hostWrote(paddr, 4);
    this.view.setUint32(paddr, value >>> 0, true);
  }

  writeU64(paddr: number, lo: number, hi: number): void {
    this.hostWrote(paddr, 8);
    this.view.setUint32(paddr, lo >>> 0, true);
    this.view.setUint32(paddr + 4, hi >>> 0, true);
  }

  /** The host writes [paddr, paddr + length) behind the vCPUs: mark it written, drop
   *  decoded code there. */
  private hostWrote(paddr: number, length: number): void {
    const last = Math.min(this.pages - 1, (paddr + Math.max(length, 1) - 1) >>> PAGE_SHIFT);
    for (let ppn = paddr >>> PAGE_SHIFT; ppn <= last; ppn++) {
      this.written[ppn] = 1;
      if (this.codeMark[ppn] !== 0) this.invalidateCode(ppn);
    }
  }

  // ---------------------------------------------------------------- state

  /** RAM as plain data: the pages that are not all zero, by page number (a fresh machine's
   *  RAM is zero, so the rest need not be kept). Only written pages can be non-zero. */
  capture(): MemoryState {
    const pages: Record<number, Uint8Array> = {};
    const all = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.size);
    for (let ppn = 0; ppn < this.pages; ppn++) {
      if (this.written[ppn] === 0) continue;
      const at = ppn * PAGE_SIZE;
      if (!all.subarray(at, at + PAGE_SIZE).equals(ZERO_PAGE)) pages[ppn] = this.bytes.slice(at, at + PAGE_SIZE);
    }
    return { size: this.size, pages };
  }

  /** Load captured RAM (same size): every page not in the state becomes zero. The vCPUs'
   *  TLBs must be flushed with it (Machine.restore restores the CPU right after), since a
   *  write-enabled entry would let stores into a page whose mark this clears. */
  restore(state: MemoryState): void {
    if (state.size !== this.size) throw new RangeError(`memory state is ${state.size} bytes, this memory ${this.size}`);
    for (let ppn = 0; ppn < this.pages; ppn++) {
      if (this.written[ppn] === 0) continue;
      this.bytes.fill(0, ppn * PAGE_SIZE, (ppn + 1) * PAGE_SIZE);
      this.written[ppn] = 0;
    }
    for (const [ppn, data] of Object.entries(state.pages)) {
      this.bytes.set(data, Number(ppn) * PAGE_SIZE);
      this.written[Number(ppn)] = 1;
    }
    this.invalidateAllCode();
  }
}

export interface MemoryState {
  size: number;
  pages: Record<number, Uint8Array>;
}
