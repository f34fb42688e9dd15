// Guest physical memory: one ArrayBuffer, read and written through typed views.
// RAM starts at physical 0; addresses at or past `size` are unbacked (reads return
// all-ones, writes are dropped), as on a PC with nothing decoding that range.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

export class PhysicalMemory {
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Number of 4 KiB pages of RAM. */
  readonly pages: number;

  constructor(size: number) {
    if (size % PAGE_SIZE !== 0) throw new RangeError('memory size must be a multiple of 4 KiB');
    this.size = size;
    const buffer = new ArrayBuffer(size);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.pages = size / PAGE_SIZE;
  }

  contains(paddr: number, length: number): boolean {
    return paddr >= 0 && length >= 0 && paddr + length <= this.size;
  }

  /** Host-side write (loaders): copies bytes in. The caller checked the range. */
  write(paddr: number, data: Uint8Array): void {
    this.bytes.set(data, paddr);
  }

  fill(paddr: number, length: number, value: number): void {
    this.bytes.fill(value, paddr, paddr + length);
  }

  readU32(paddr: number): number {
    return this.view.getUint32(paddr, true);
  }

  writeU32(paddr: number, value: number): void {
    this.view.setUint32(paddr, value >>> 0, true);
  }

  writeU64(paddr: number, lo: number, hi: number): void {
    this.view.setUint32(paddr, lo >>> 0, true);
    this.view.setUint32(paddr + 4, hi >>> 0, true);
  }
}
