// pc-testdev, QEMU's x86 ISA test device (`-device pc-testdev`, QEMU 7.2
// hw/misc/pc-testdev.c, the spec here), which kvm-unit-tests' runner adds to every x86 run:
//
//   ports 0xE0-0xE3   a 32-bit scratch register; an access of N bytes at 0xE0 + k reads or
//                     replaces bytes k..k+N-1 of it (any size, 1-4).
//   port  0xE4        "flush page": a 4-byte write of a physical address makes QEMU drop and
//                     restore the host mapping of that page; 4-byte reads return 0; other
//                     sizes are not accepted (dropped; read as 0).
//   ports 0xE8-0xEB   the same register, byte by byte (QEMU splits every access into bytes),
//                     except port 0xE9 when the machine's debug console has it: Ringside's
//                     console port is 0xE9, and QEMU's command line (src/lab/qemu.ts) realizes
//                     isa-debugcon after pc-testdev, so the console wins that port there too.
//   ports 0x2000-0x2017  one byte each: a write sets ISA IRQ line (port - 0x2000) to
//                     (value != 0); a read returns 0. On the PC an ISA line drives both the
//                     8259 input and the I/O APIC pin of its number, IRQ0 going to pin 2
//                     (QEMU's gsi_handler and ioapic_set_irq; src/hosts/native/host.ts wires
//                     it). QEMU 7.2's isa_get_irq asserts the line is below 16 (the ISA bus
//                     has 16 IRQs), so a write to 0x2010-0x2017 aborts QEMU.
//   0xFF000000-0xFF00FFFF  64 KiB of device memory ("iomem"), read and written like RAM
//                     (QEMU copies the bytes), which kvm-unit-tests maps to test
//                     instructions on emulated MMIO. (The HPET at 0xFED00000 is unrelated.)
// How QEMU under TCG hands a port access to a device (target/i386/tcg helper_in/out through
// address_space_ld/st, softmmu/memory.c memory_region_dispatch_read/write): whole, to the
// region at its first port, which accepts it only if its size is one the region takes and
// it is aligned to its size within the region; a refused access is dropped, or reads 0. So
// an OUTW at 0xE1 or an INL at 0xE2 does nothing / reads 0, and an INL at 0xE8 reads all
// four bytes of the alias even though 0xE9 is the console's.
//
// Deliberate deviations from QEMU (a guest can tell):
// - The flush does nothing: Ringside keeps no host mapping of guest memory to drop, and the
//   page reads the same before and after, as on QEMU.
// - Setting an IRQ line goes to the interrupt controllers given to the constructor; without
//   them it is a model error naming the line, and so is a line of 16-23 (QEMU aborts).
// - An iomem access that runs past the region's last byte is a model error (QEMU would
//   send its tail to whatever lies above 0xFF010000).

import { ModelError } from '../cpu/errors.js';
import type { IoBus } from './io.js';
import type { MmioDevice, PhysicalMemory } from './memory.js';

export const TESTDEV_DATA_PORT = 0xe0;
export const TESTDEV_FLUSH_PORT = 0xe4;
export const TESTDEV_BYTE_PORT = 0xe8;
export const TESTDEV_IRQ_PORT = 0x2000;
/** The device's IRQ-line ports: 24, of which lines 0-15 exist on the ISA bus. */
export const TESTDEV_IRQ_LINES = 24;
const ISA_IRQS = 16;
export const TESTDEV_IOMEM_BASE = 0xff000000;
export const TESTDEV_IOMEM_SIZE = 0x10000;

/** What the device drives: an ISA IRQ line's level. */
export type IsaIrqLine = (line: number, level: boolean) => void;

export interface PcTestdevState {
  data: number;
  iomem: Uint8Array;
}

export class PcTestdev implements MmioDevice {
  private data = 0;
  private readonly iomem = new Uint8Array(TESTDEV_IOMEM_SIZE);

  constructor(private readonly irqLine: IsaIrqLine | null = null) {}

  capture(): PcTestdevState {
    return { data: this.data, iomem: this.iomem.slice() };
  }

  restore(state: unknown): void {
    const s = state as PcTestdevState;
    this.data = s.data;
    this.iomem.set(s.iomem);
  }

  /** Claim the device's ports but `taken` (another device's) and its memory page. */
  attach(io: IoBus, memory: PhysicalMemory, taken: readonly number[] = []): void {
    const claim = (base: number, length: number, read: (offset: number, size: 1 | 2 | 4) => number, write: (offset: number, size: 1 | 2 | 4, value: number) => void): void => {
      for (let port = base; port < base + length; port++) {
        if (taken.includes(port)) continue;
        const offset = port - base;
        io.onIn(port, (size) => read(offset, size));
        io.onOut(port, (value, size) => write(offset, size, value));
      }
    };
    // The register at 0xE0 and its byte-wise alias at 0xE8 take accesses of 1-4 bytes, aligned.
    const readData = (offset: number, size: 1 | 2 | 4): number => (aligned(offset, size) ? this.readData(offset, size) : 0);
    const writeData = (offset: number, size: 1 | 2 | 4, value: number): void => {
      if (aligned(offset, size)) this.writeData(offset, size, value);
    };
    claim(TESTDEV_DATA_PORT, 4, readData, writeData);
    claim(TESTDEV_BYTE_PORT, 4, readData, writeData);
    // The flush port takes 4-byte accesses only; see the deviations for what a flush does.
    claim(TESTDEV_FLUSH_PORT, 4, () => 0, () => {});
    // The IRQ-line ports take 1-byte accesses only.
    claim(TESTDEV_IRQ_PORT, TESTDEV_IRQ_LINES, () => 0, (line, size, value) => {
      if (size === 1) this.setIrqLine(line, value & 0xff);
    });
    memory.mapMmio(TESTDEV_IOMEM_BASE, TESTDEV_IOMEM_SIZE, this);
  }

  private readData(offset: number, size: 1 | 2 | 4): number {
    const v = this.data >>> (8 * offset);
    return size === 4 ? v >>> 0 : v & ((1 << (8 * size)) - 1);
  }

  private writeData(offset: number, size: 1 | 2 | 4, value: number): void {
    const mask = (size === 4 ? 0xffffffff : (1 << (8 * size)) - 1) << (8 * offset);
    this.data = ((this.data & ~mask) | ((value << (8 * offset)) & mask)) >>> 0;
  }

  private setIrqLine(line: number, value: number): void {
    const port = `port 0x${(TESTDEV_IRQ_PORT + line).toString(16)}`;
    if (line >= ISA_IRQS) {
      throw new ModelError(`pc-testdev: ISA IRQ line ${line} (${port}) does not exist: the ISA bus has 16 IRQs, and QEMU 7.2 aborts on this write`);
    }
    if (this.irqLine === null) {
      throw new ModelError(`pc-testdev: setting ISA IRQ line ${line} to ${value !== 0 ? 1 : 0} (${port}) needs an interrupt controller, which this machine does not have`);
    }
    this.irqLine(line, value !== 0);
  }

  read(offset: number, size: 1 | 2 | 4): number {
    this.checkInside(offset, size, 'read');
    let v = 0;
    for (let k = 0; k < size; k++) v |= this.iomem[offset + k]! << (8 * k);
    return v >>> 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.checkInside(offset, size, 'write');
    for (let k = 0; k < size; k++) this.iomem[offset + k] = (value >>> (8 * k)) & 0xff;
  }

  private checkInside(offset: number, size: number, what: string): void {
    if (offset + size > TESTDEV_IOMEM_SIZE) {
      throw new ModelError(`pc-testdev: a ${size}-byte ${what} at physical 0x${(TESTDEV_IOMEM_BASE + offset).toString(16)} runs past the end of its memory page`);
    }
  }
}

/** QEMU's memory_region_access_valid for a region that takes no unaligned access. */
function aligned(offset: number, size: number): boolean {
  return (offset & (size - 1)) === 0;
}
