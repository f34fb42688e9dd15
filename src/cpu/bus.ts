// What the CPU needs from the machine around it, declared here so that cpu/ depends on
// nothing above it (docs/architecture.md, "Layers as folders"): machine/ implements these interfaces.

/** A vCPU's decode cache, told when a physical page it may hold decoded code for is written. */
export interface CodeCache {
  /** Forget every decoded instruction of physical page `ppn`. */
  dropCodePage(ppn: number): void;
}

/** Guest physical memory as the CPU sees it: RAM from physical 0 as one byte array, and,
 *  above RAM, whatever the platform decodes (device registers, or nothing). */
export interface PhysicalBus {
  /** Bytes of RAM; physical addresses at or past it are not RAM. */
  readonly size: number;
  readonly pages: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Nonzero for RAM pages some vCPU holds decoded instructions for: a write to such a page
   *  must call invalidateCode, which tells every vCPU sharing this memory. */
  readonly codeMark: Uint8Array;
  /** Pages that may hold a non-zero byte: a vCPU sets a page's entry before it stores
   *  there directly (a capture reads only these). */
  readonly written: Uint8Array;
  invalidateCode(ppn: number): void;
  /** Register a vCPU's decode cache for invalidation. */
  attachCodeCache(cache: CodeCache): void;
  /** Loads and stores of 1, 2 or 4 bytes at a physical address past RAM (the cold path):
   *  a device's registers, or all-ones reads and dropped writes where nothing decodes. */
  readBeyondRam(paddr: number, size: 1 | 2 | 4): number;
  writeBeyondRam(paddr: number, size: 1 | 2 | 4, value: number): void;
}

/** The I/O port space (IN, OUT, INS, OUTS). */
export interface IoPorts {
  in(port: number, size: 1 | 2 | 4): number;
  out(port: number, value: number, size: 1 | 2 | 4): void;
}
