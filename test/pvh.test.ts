import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseElf } from '../src/guest/elf.js';
import { HVM_START_MAGIC, planPvhBoot, PVH_CMDLINE_MAX, pvhEntry, START_INFO_PREFERRED, writePvhBoot } from '../src/hosts/native/pvh.js';
import { nativeHost, type NativeHost } from '../src/hosts/native/host.js';
import { ConsoleBuffer } from '../src/hosts/console-buffer.js';
import type { HostOptions } from '../src/hosts/host.js';
import { BadInput } from '../src/machine/errors.js';
import type { LoadableImage } from '../src/machine/image.js';
import { Machine, type RunEnd } from '../src/machine/machine.js';
import { buildPvhImage } from './helpers/pvh-image.js';

const MiB = 1024 * 1024;

function image(over: Partial<LoadableImage> = {}): LoadableImage {
  return { ...parseElf(buildPvhImage(), 'g.elf'), ...over };
}

function note(desc: number[]): LoadableImage['notes'][number] {
  return { name: 'Xen', type: 18, desc: Uint8Array.from(desc) };
}

function badInput(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof BadInput && pattern.test(e.message) && e.message.startsWith('g.elf: '));
}

/** A machine whose run ends are recorded instead of taken. */
function recordingMachine(memoryBytes = 128 * MiB) {
  const stops: RunEnd[] = [];
  const m = new Machine({ memoryBytes, cpu: { vendor: 'intel', fred: false } });
  m.stop = (end) => { stops.push(end); };
  return { machine: m, memory: m.memory, io: m.io, stops };
}

/** Boot a parsed PVH image on the native host. */
function bootPvh(machine: Machine, img: LoadableImage, options: HostOptions = {}): NativeHost {
  const host = nativeHost.attach(machine, options) as NativeHost;
  host.boot({ kind: 'pvh', image: img, pvh: planPvhBoot(img, machine.memory.size) });
  return host;
}

describe('PVH entry note', () => {
  it('reads a 4-byte and an 8-byte descriptor', () => {
    assert.equal(pvhEntry(image({ notes: [note([0x10, 0x20, 0x30, 0x00])] })), 0x302010);
    assert.equal(pvhEntry(image({ notes: [note([0x10, 0x20, 0x30, 0x00, 0, 0, 0, 0])] })), 0x302010);
  });
  it('ignores notes of other names and types', () => {
    const notes = [
      { name: 'GNU', type: 18, desc: Uint8Array.of(1, 0, 0, 0) },
      { name: 'Xen', type: 1, desc: Uint8Array.of(2, 0, 0, 0) },
      note([3, 0, 0, 0]),
    ];
    assert.equal(pvhEntry(image({ notes })), 3);
  });
  it('no note', () => {
    badInput(() => pvhEntry(image({ notes: [] })), /no PVH entry note \(Xen ELF note type 18\)/);
    // A malformed note that ended the reading of the notes is named: it may be why.
    badInput(
      () => pvhEntry(image({ notes: [], noteProblem: 'note segment 1 (PT_NOTE): malformed note at offset 0x100' })),
      /no PVH entry note .*; note segment 1 \(PT_NOTE\): malformed note at offset 0x100$/,
    );
  });
  it('bad descriptor sizes', () => {
    for (const n of [0, 2, 6, 16]) badInput(() => pvhEntry(image({ notes: [note(new Array(n).fill(0))] })), /descriptor/);
  });
  it('an entry at or above 4 GiB', () => {
    badInput(() => pvhEntry(image({ notes: [note([0, 0, 0, 0, 1, 0, 0, 0])] })), /not below 4 GiB/);
  });
});

describe('PVH boot plan', () => {
  it('places the start info at 0x6000 when free', () => {
    const plan = planPvhBoot(image(), 128 * MiB);
    assert.equal(plan.startInfoPaddr, START_INFO_PREFERRED);
    assert.equal(plan.memmapPaddr, START_INFO_PREFERRED + 56);
  });
  it('--append: start_info.cmdline_paddr points at the text, NUL-terminated, after the memory map; 0 without one', () => {
    const m = new Machine({ memoryBytes: 16 * MiB, cpu: { vendor: 'intel', fred: false } });
    const img = image();
    const plan = planPvhBoot(img, m.memory.size, 'a b=c');
    const { ebx } = writePvhBoot(m.memory, img, plan);
    const at = m.memory.readU32(ebx + 24);
    assert.equal(at, START_INFO_PREFERRED + 56 + 24);
    assert.equal(m.memory.readU32(ebx + 28), 0);
    assert.equal(Buffer.from(m.memory.bytes.subarray(at, at + 6)).toString('latin1'), 'a b=c\0');
    writePvhBoot(m.memory, img, planPvhBoot(img, m.memory.size));
    assert.equal(m.memory.readU32(ebx + 24), 0);
    badInput(() => planPvhBoot(img, m.memory.size, 'x'.repeat(PVH_CMDLINE_MAX)), /limited to/);
  });
  it('moves the start info when the image covers 0x6000', () => {
    const img = image();
    img.segments = [{ paddr: 0x5000, vaddr: 0x5000n, data: new Uint8Array(16), memsz: 0x3000 }];
    assert.equal(planPvhBoot(img, 128 * MiB).startInfoPaddr, 0x1000);
  });
  it('rejects an image that covers all of low memory', () => {
    const img = image();
    img.segments = [{ paddr: 0, vaddr: 0n, data: new Uint8Array(16), memsz: 0x100000 }];
    badInput(() => planPvhBoot(img, 128 * MiB), /no free page below 640 KiB/);
  });
  it('rejects segments outside RAM', () => {
    const img = image();
    img.segments = [{ paddr: 128 * MiB - 0x10, vaddr: 0n, data: new Uint8Array(0), memsz: 0x20 }];
    badInput(() => planPvhBoot(img, 128 * MiB), /segment 0 at paddr 0x7fffff0 .*does not fit in 128 MiB of RAM/);
    assert.doesNotThrow(() => planPvhBoot(img, 129 * MiB));
  });
  it('rejects overlapping segments', () => {
    const img = image();
    img.segments = [
      { paddr: 0x100000, vaddr: 0n, data: new Uint8Array(0), memsz: 0x2000 },
      { paddr: 0x101000, vaddr: 0n, data: new Uint8Array(0), memsz: 0x2000 },
    ];
    badInput(() => planPvhBoot(img, 128 * MiB), /segments 0 and 1 overlap/);
  });
});

describe('PVH boot', () => {
  it('loads segments, zeroes the bss, writes the start info, enters at the note entry with %ebx', () => {
    const f = recordingMachine();
    f.memory.fill(0x100000, 0x10000, 0xcc);
    const img = parseElf(buildPvhImage({ bss: 0x100 }), 'g.elf');
    bootPvh(f.machine, img);
    const seg = img.segments[0];
    assert.deepEqual(f.memory.bytes.subarray(seg.paddr, seg.paddr + seg.data.length), seg.data);
    assert.ok(f.memory.bytes.subarray(seg.paddr + seg.data.length, seg.paddr + seg.memsz).every((b) => b === 0), 'bss zeroed');
    assert.equal(f.memory.bytes[seg.paddr + seg.memsz], 0xcc, 'nothing past memsz touched');

    const r = f.machine.registers();
    assert.equal(BigInt(r.rip!), img.entry);
    const si = Number(BigInt(r.rbx!));
    assert.equal(si, 0x6000);
    assert.equal(r.cr0, '0x0000000000000011', 'protected mode (PE, ET), paging off');
    const v = f.memory.view;
    assert.equal(v.getUint32(si, true), HVM_START_MAGIC);
    assert.equal(v.getUint32(si + 4, true), 1, 'version');
    assert.equal(v.getUint32(si + 8, true), 0, 'flags');
    assert.equal(v.getUint32(si + 12, true), 0, 'nr_modules');
    for (const off of [16, 24, 32]) assert.equal(v.getBigUint64(si + off, true), 0n);
    const mm = Number(v.getBigUint64(si + 40, true));
    assert.equal(v.getUint32(si + 48, true), 1, 'memmap_entries');
    assert.equal(v.getBigUint64(mm, true), 0n);
    assert.equal(v.getBigUint64(mm + 8, true), BigInt(128 * MiB));
    assert.equal(v.getUint32(mm + 16, true), 1, 'E820 RAM');
  });

  it('port 0xE9 is the console: delivered as it comes and accumulated', () => {
    const f = recordingMachine(4 * MiB);
    const seen: number[] = [];
    const host = bootPvh(f.machine, image(), { onConsole: (b) => seen.push(...b) });
    for (const c of 'hi\n') f.io.out(0xe9, c.charCodeAt(0), 1);
    f.io.out(0xe9, 0x4241, 2); // low byte only, as QEMU's debugcon
    assert.deepEqual(seen, [0x68, 0x69, 0x0a, 0x41]);
    assert.equal(host.console, 'hi\nA');
    assert.equal(f.io.in(0xe9, 1), 0xe9);
    assert.deepEqual(f.stops, []);
  });

  it('port 0xF4 ends the run with the value written, for every access size', () => {
    const f = recordingMachine(4 * MiB);
    bootPvh(f.machine, image());
    f.io.out(0xf4, 0x12345678, 4);
    f.io.out(0xf4, 0xbeef, 2);
    f.io.out(0xf4, 77, 1);
    f.io.out(0xf5, 3, 1);
    const values = (f.stops as Array<{ kind: string; exitValue: number }>).map((s) => [s.kind, s.exitValue]);
    assert.deepEqual(values, [
      ['exit-port', 0x12345678],
      ['exit-port', 0xbeef],
      ['exit-port', 77],
      ['exit-port', 3],
    ]);
  });

  it('checks the image before a machine exists', () => {
    badInput(() => nativeHost.plan(buildPvhImage(), 'g.elf', { memoryBytes: 1 * MiB }), /does not fit in 1 MiB/);
  });
});

describe('console buffer', () => {
  it('keeps the tail past its cap', () => {
    const c = new ConsoleBuffer();
    const n = ConsoleBuffer.CAP + 10;
    for (let i = 0; i < n; i++) c.push(0x61);
    c.push(0x0a);
    assert.ok(c.dropped > 0);
    assert.equal(c.bytes.length + c.dropped, n + 1);
    assert.match(c.text, /^\[ringside: \d+ earlier console bytes dropped\]\n/);
  });
});
