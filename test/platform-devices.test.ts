// fw_cfg and pc-testdev at their edges, as QEMU 7.2 answers (hw/nvram/fw_cfg.c,
// hw/misc/pc-testdev.c; under TCG a port access reaches the region at its first port
// whole, and a size or alignment the region refuses is dropped or reads 0). The guest
// platform-devices checks the same points against QEMU itself (qemu-crosscheck).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelError } from '../src/cpu/errors.js';
import { FwCfg, FW_CFG_KERNEL_DATA } from '../src/machine/fw-cfg.js';
import { IoBus } from '../src/machine/io.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { PcTestdev } from '../src/machine/pc-testdev.js';

function fwCfg(): { io: IoBus; dev: FwCfg } {
  const io = new IoBus();
  const dev = new FwCfg({ memoryBytes: 128 << 20, vcpus: 1 });
  dev.attach(io);
  return { io, dev };
}

function readItem(io: IoBus, key: number, bytes: number): number[] {
  io.out(0x510, key, 2);
  return Array.from({ length: bytes }, () => io.in(0x511, 1));
}

test('fw_cfg: the signature, then 0 past the end of the item without advancing', () => {
  const { io } = fwCfg();
  assert.equal(String.fromCharCode(...readItem(io, 0, 4)), 'QEMU');
  assert.deepEqual([io.in(0x511, 1), io.in(0x511, 1)], [0, 0]);
});

test('fw_cfg: CPU count, RAM size and max CPUs as the machine has them', () => {
  const { io } = fwCfg();
  assert.deepEqual(readItem(io, 0x05, 2), [1, 0]);
  assert.deepEqual(readItem(io, 0x0f, 2), [1, 0]);
  assert.deepEqual(readItem(io, 0x03, 8), [0, 0, 0, 8, 0, 0, 0, 0]);
});

test('fw_cfg: a selector write rewinds; bit 14 is ignored; keys past 0x40 in either table read 0', () => {
  const { io } = fwCfg();
  readItem(io, 0, 3);
  assert.deepEqual(readItem(io, 0, 1), [0x51]);
  assert.deepEqual(readItem(io, 0x4005, 2), [1, 0]);
  for (const key of [0x40, 0x3fff, 0x8040, 0xffff]) assert.deepEqual(readItem(io, key, 4), [0, 0, 0, 0], `key 0x${key.toString(16)}`);
});

test('fw_cfg: byte writes are ignored, a byte read at 0x510 reads data, other sizes are refused', () => {
  const { io } = fwCfg();
  readItem(io, 0, 1); // 'Q'
  io.out(0x511, 0x55, 1);
  io.out(0x510, 0x05, 1);
  assert.equal(io.in(0x510, 1), 0x45); // 'E': neither write selected nor advanced
  assert.equal(io.in(0x510, 2), 0);
  assert.equal(io.in(0x511, 4), 0);
  io.out(0x510, 0x00000005, 4); // refused: no selection
  io.out(0x511, 0x0005, 2); // unaligned: refused
  assert.equal(io.in(0x511, 1), 0x4d); // 'M'
});

test('fw_cfg: an item it does not model is a model error when read, not when selected', () => {
  const { io } = fwCfg();
  io.out(0x510, 0x19, 2); // the file directory
  assert.throws(() => io.in(0x511, 1), ModelError);
  assert.throws(() => io.in(0x514, 4), ModelError); // the DMA interface
});

test('fw_cfg: capture and restore keep the selection, the offset and the items', () => {
  const { io, dev } = fwCfg();
  dev.add(FW_CFG_KERNEL_DATA, Uint8Array.of(1, 2, 3));
  readItem(io, FW_CFG_KERNEL_DATA, 1);
  const other = fwCfg();
  other.dev.restore(structuredClone(dev.capture()));
  assert.deepEqual([other.io.in(0x511, 1), other.io.in(0x511, 1), other.io.in(0x511, 1)], [2, 3, 0]);
});

function testdev(taken: number[] = []): { io: IoBus; mem: PhysicalMemory; dev: PcTestdev } {
  const io = new IoBus();
  const mem = new PhysicalMemory(1 << 20);
  const dev = new PcTestdev();
  dev.attach(io, mem, taken);
  return { io, mem, dev };
}

test('pc-testdev: the register by bytes, words and dwords; unaligned accesses refused', () => {
  const { io } = testdev();
  io.out(0xe0, 0x12345678, 4);
  assert.deepEqual([0xe0, 0xe1, 0xe2, 0xe3].map((p) => io.in(p, 1)), [0x78, 0x56, 0x34, 0x12]);
  assert.equal(io.in(0xe2, 2), 0x1234);
  io.out(0xe1, 0xbeef, 2); // unaligned: dropped
  assert.equal(io.in(0xe2, 4), 0); // unaligned: reads 0
  io.out(0xe3, 0x9a, 1);
  assert.equal(io.in(0xe0, 4), 0x9a345678);
});

test('pc-testdev: 0xE8-0xEB alias the register byte by byte, except a port another device has', () => {
  const { io } = testdev([0xe9]);
  io.out(0xe8, 0xcafe0a0d, 4);
  assert.equal(io.in(0xe0, 4), 0xcafe0a0d);
  assert.equal(io.in(0xea, 2), 0xcafe);
  assert.equal(io.in(0xe9, 1), 0xff); // not the device's: the bus's unclaimed value
});

test('pc-testdev: the flush port takes 4-byte accesses only; IRQ lines read 0 and need an interrupt controller', () => {
  const { io } = testdev();
  assert.equal(io.in(0xe4, 4), 0);
  assert.equal(io.in(0xe4, 2), 0);
  io.out(0xe4, 0x1000, 4);
  assert.equal(io.in(0x2000, 1), 0);
  assert.equal(io.in(0x2017, 1), 0);
  assert.throws(() => io.out(0x2003, 1, 1), /IRQ line 3 to 1 .*interrupt controller/);
  // The ISA bus has 16 IRQs: QEMU 7.2's isa_get_irq asserts, so lines 16-23 are refused.
  assert.throws(() => io.out(0x2010, 1, 1), /ISA IRQ line 16 \(port 0x2010\) does not exist/);
  io.out(0x2003, 0x0101, 2); // not a 1-byte access: refused, no line is set
});

test('pc-testdev: its memory at 0xFF000000 reads back what was written; capture and restore keep it', () => {
  const { dev } = testdev();
  dev.write(0xffc, 4, 0xdeadbeef);
  assert.equal(dev.read(0xffd, 2), 0xadbe);
  assert.throws(() => dev.read(0xfffe, 4), ModelError);
  const other = testdev();
  other.dev.restore(structuredClone(dev.capture()));
  assert.equal(other.dev.read(0xffc, 4), 0xdeadbeef);
});
