// fw_cfg, QEMU's firmware configuration interface, at its x86 I/O ports as QEMU 7.2's pc
// machine has it (hw/nvram/fw_cfg.c, hw/i386/fw_cfg.c, hw/i386/multiboot.c; QEMU's
// docs/specs/fw_cfg.rst): kvm-unit-tests reads the CPU count, the RAM size and its
// "MAX_RAM" key from it at every boot.
//
//   port 0x510-0x511  one region: a 2-byte write at 0x510 selects item `value & 0x3fff` (bit
//                     15 picks the architecture-local table, bit 14, the write channel, is
//                     ignored) and rewinds it; a 1-byte read at either port returns the selected
//                     item's next byte, or 0 past its end (the offset then stays), or 0 for an
//                     item that does not exist; a 1-byte write is ignored. Any other access is
//                     refused (dropped; reads 0): QEMU under TCG hands a port access whole to the
//                     region at its first port, which checks its size and alignment.
//   port 0x514-0x51B  the DMA interface: a model error (not modelled), though item 0x01
//                     advertises it as QEMU's does.
//
// Items (all multi-byte numbers little-endian):
//   0x00 signature "QEMU"        0x01 ID: 3 (traditional interface, DMA)
//   0x02 UUID: 16 zero bytes      0x03 RAM size (8 bytes)
//   0x04 nographic: 0 (2 bytes)   0x05 boot CPUs = the machine's vCPUs (2 bytes)
//   0x0e boot menu: 0 (2 bytes)   0x0f max CPUs: the APIC ID limit, = vCPUs here (2 bytes)
//   after a multiboot boot, what QEMU's multiboot loader leaves for its option ROM:
//   0x07 kernel address, 0x08 kernel size, 0x10 kernel entry (4 bytes each), 0x11 kernel
//   data (the loaded kernel, then its command line and boot loader name, to a page
//   boundary: what kvm-unit-tests reads as "MAX_RAM"), 0x0a 0x9500, 0x0b 88 (4 bytes each),
//   0x12 the multiboot information.
//   Selectors at or past 0x40 in either table (QEMU's 0x20 keys and 0x20 file slots) name
//   no item and read as 0.
//
// Deliberate deviations from QEMU (a guest can tell):
// - Any other item below 0x40 (the file directory and files, NUMA, the ACPI, E820, SMBIOS
//   and HPET tables, a PVH boot's loader items, ...) is a model error when its data is
//   read: QEMU has some of them, and their contents are not modelled.
// - At boot item 0 is selected at offset 0; under QEMU the option ROM that loaded the
//   kernel has used fw_cfg and left its own selection. A guest selects before it reads.
// - The multiboot kernel data holds Ringside's boot loader name, "ringside", where QEMU's
//   holds "qemu" (multiboot.ts).

import { ModelError } from '../cpu/errors.js';
import type { IoBus } from './io.js';

export const FW_CFG_PORT = 0x510;
export const FW_CFG_DMA_PORT = 0x514;
const FW_CFG_DMA_SPAN = 8;
/** Selector bit 15: the architecture-local table. */
export const FW_CFG_ARCH_LOCAL = 0x8000;
/** Selector bits 13-0 name the item (bit 14, the write channel, is masked off). */
const FW_CFG_ENTRY_MASK = 0x3fff;
/** 0x20 fixed keys and 0x20 file slots (QEMU's default for current machine types). */
export const FW_CFG_MAX_ENTRY = 0x40;

export const FW_CFG_SIGNATURE = 0x00;
export const FW_CFG_ID = 0x01;
export const FW_CFG_UUID = 0x02;
export const FW_CFG_RAM_SIZE = 0x03;
export const FW_CFG_NOGRAPHIC = 0x04;
export const FW_CFG_NB_CPUS = 0x05;
export const FW_CFG_KERNEL_ADDR = 0x07;
export const FW_CFG_KERNEL_SIZE = 0x08;
export const FW_CFG_INITRD_ADDR = 0x0a;
export const FW_CFG_INITRD_SIZE = 0x0b;
export const FW_CFG_BOOT_MENU = 0x0e;
export const FW_CFG_MAX_CPUS = 0x0f;
export const FW_CFG_KERNEL_ENTRY = 0x10;
export const FW_CFG_KERNEL_DATA = 0x11;
export const FW_CFG_INITRD_DATA = 0x12;

/** Traditional (I/O port) interface and DMA (docs/specs/fw_cfg.rst, FW_CFG_ID). */
const FW_CFG_ID_VALUE = 3;

export interface FwCfgState {
  selector: number;
  offset: number;
  /** Items by selector (the architecture-local ones with bit 15 set). */
  items: Array<[number, Uint8Array]>;
}

export class FwCfg {
  private selector = FW_CFG_SIGNATURE;
  private offset = 0;
  private readonly items = new Map<number, Uint8Array>();

  /** The machine's fixed items; the loader's are added with `add`. */
  constructor(machine: { memoryBytes: number; vcpus: number }) {
    this.add(FW_CFG_SIGNATURE, new TextEncoder().encode('QEMU'));
    this.add(FW_CFG_ID, le(FW_CFG_ID_VALUE, 4));
    this.add(FW_CFG_UUID, new Uint8Array(16));
    this.add(FW_CFG_RAM_SIZE, le(machine.memoryBytes, 8));
    this.add(FW_CFG_NOGRAPHIC, le(0, 2));
    this.add(FW_CFG_NB_CPUS, le(machine.vcpus, 2));
    this.add(FW_CFG_BOOT_MENU, le(0, 2));
    this.add(FW_CFG_MAX_CPUS, le(machine.vcpus, 2));
  }

  /** Set item `key` (a selector without the write-channel bit). */
  add(key: number, data: Uint8Array): void {
    this.items.set(key, data);
  }

  capture(): FwCfgState {
    return { selector: this.selector, offset: this.offset, items: [...this.items].map(([k, d]) => [k, d.slice()]) };
  }

  restore(state: unknown): void {
    const s = state as FwCfgState;
    this.selector = s.selector;
    this.offset = s.offset;
    this.items.clear();
    for (const [k, d] of s.items) this.items.set(k, d.slice());
  }

  attach(io: IoBus): void {
    for (const port of [FW_CFG_PORT, FW_CFG_PORT + 1]) {
      io.onIn(port, (size) => (size === 1 ? this.readByte() : 0));
      // A 1-byte write is accepted and ignored (no item is writable through the ports);
      // a 2-byte one at 0x511 is unaligned, and refused.
      io.onOut(port, (value, size) => {
        if (size === 2 && port === FW_CFG_PORT) this.select(value);
      });
    }
    for (let port = FW_CFG_DMA_PORT; port < FW_CFG_DMA_PORT + FW_CFG_DMA_SPAN; port++) {
      const fail = (size: number, what: string): never => {
        throw new ModelError(`fw_cfg's DMA interface is not modelled (a ${size}-byte ${what} of port 0x${port.toString(16)})`);
      };
      io.onIn(port, (size) => fail(size, 'read'));
      io.onOut(port, (_value, size) => fail(size, 'write'));
    }
  }

  /** fw_cfg_select: any selector rewinds; one past the tables selects nothing. */
  select(value: number): void {
    this.selector = value & (FW_CFG_ARCH_LOCAL | FW_CFG_ENTRY_MASK);
    this.offset = 0;
  }

  /** A data-port byte: the selected item's next byte, 0 past its end or for no item. */
  readByte(): number {
    if ((this.selector & FW_CFG_ENTRY_MASK) >= FW_CFG_MAX_ENTRY) return 0;
    const data = this.items.get(this.selector);
    if (data === undefined) {
      throw new ModelError(`fw_cfg item 0x${this.selector.toString(16)} is not modelled (its data was read)`);
    }
    if (this.offset >= data.length) return 0;
    return data[this.offset++]!;
  }
}

/** `value` as `bytes` little-endian bytes (exact below 2^53). */
export function le(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = value;
  for (let i = 0; i < bytes; i++) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}
