import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseElf } from '../src/guest/elf.js';
import { BadInput } from '../src/machine/errors.js';
import { buildPvhImage, ElfFields } from './helpers/pvh-image.js';

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => parseElf(bytes, 'img.elf'),
    (e: unknown) => {
      assert.ok(e instanceof BadInput, `expected BadInput, got ${String(e)}`);
      assert.match(e.message, /^img\.elf: /);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
}

describe('parseElf: valid images', () => {
  for (const elfClass of [32, 64] as const) {
    it(`ELF${elfClass} with a PT_NOTE`, () => {
      const img = parseElf(buildPvhImage({ elfClass, bss: 100 }), 'x');
      assert.equal(img.elfClass, elfClass);
      assert.equal(img.segments.length, 1);
      const seg = img.segments[0];
      assert.equal(seg.paddr, 0x100000);
      assert.equal(seg.vaddr, 0x100000n);
      assert.equal(seg.memsz, seg.data.length + 100);
      assert.equal(img.notes.length, 1);
      assert.equal(img.notes[0].name, 'Xen');
      assert.equal(img.notes[0].type, 18);
      assert.equal(img.notes[0].desc.length, 8);
      assert.equal(new DataView(img.notes[0].desc.buffer, img.notes[0].desc.byteOffset).getUint32(0, true), Number(img.entry));
    });
    it(`ELF${elfClass} with the note only in an SHT_NOTE section: not read (QEMU finds notes through PT_NOTE only)`, () => {
      const img = parseElf(buildPvhImage({ elfClass, note: 'section', noteDescSize: 4 }), 'x');
      assert.deepEqual(img.notes, []);
    });
  }
  it('an image without notes parses (the host decides whether it needs one)', () => {
    assert.deepEqual(parseElf(buildPvhImage({ note: 'none' }), 'x').notes, []);
  });
  it('segment data is a copy, independent of the file buffer', () => {
    const b = buildPvhImage();
    const img = parseElf(b, 'x');
    const before = img.segments[0].data[0];
    b[0] = 0;
    assert.equal(img.segments[0].data[0], before);
  });
});

describe('parseElf: malformed images', () => {
  it('empty and truncated files', () => {
    rejects(new Uint8Array(0), /empty file/);
    const good = buildPvhImage();
    for (const cut of [1, 3, 4, 10, 15]) rejects(good.subarray(0, cut), /truncated/);
    rejects(good.subarray(0, 40), /truncated ELF file \(40 bytes, shorter than the 64-byte ELF64 header\)/);
    rejects(good.subarray(0, 100), /program headers outside the file/);
    rejects(good.subarray(0, good.length - 1), /data outside the file/);
    rejects(buildPvhImage({ elfClass: 32 }).subarray(0, 51), /52-byte ELF32 header/);
  });
  it('bad magic', () => {
    const b = buildPvhImage();
    b[1] = 0x58;
    rejects(b, /not an ELF file \(bad magic\)/);
    rejects(Buffer.from('#!/bin/sh\necho hi\n'), /bad magic/);
  });
  it('bad class, endianness, version', () => {
    let b = buildPvhImage();
    b[4] = 3;
    rejects(b, /bad ELF class 3/);
    b = buildPvhImage();
    b[5] = 2;
    rejects(b, /big-endian/);
  });
  it('fields no loader reads do not make an image malformed: EI_VERSION, e_type, e_version, e_flags, e_phentsize, e_shoff', () => {
    for (const elfClass of [32, 64] as const) {
      const is64 = elfClass === 64;
      const b = buildPvhImage({ elfClass, note: 'section' });
      b[6] = 0; // EI_VERSION
      b.writeUInt16LE(3, 16); // e_type ET_DYN
      b.writeUInt32LE(7, 20); // e_version
      b.writeUInt32LE(0xffffffff, is64 ? 48 : 36); // e_flags
      b.writeUInt16LE(8, is64 ? 54 : 42); // e_phentsize: entries have the class's size anyway
      if (is64) b.writeBigUInt64LE(1n << 60n, 40); // e_shoff far outside the file
      else b.writeUInt32LE(0xfffffff0, 32);
      b.writeUInt16LE(0xffff, is64 ? 60 : 48); // e_shnum
      const img = parseElf(b, 'x');
      assert.equal(img.segments.length, 1);
    }
  });
  it('wrong machine', () => {
    const b = buildPvhImage();
    b.writeUInt16LE(40, 18);
    rejects(b, /wrong machine 40/);
  });
  it('program headers outside the file', () => {
    const b = buildPvhImage();
    new ElfFields(b).phoff = b.length;
    rejects(b, /program headers outside the file/);
    const c = buildPvhImage();
    new ElfFields(c).phoff = 2 ** 52;
    rejects(c, /program headers outside the file/);
  });
  it('no program headers', () => {
    const b = buildPvhImage();
    b.writeUInt16LE(0, 56);
    rejects(b, /no program headers/);
  });
  it('segment data outside the file', () => {
    const b = buildPvhImage();
    const f = new ElfFields(b);
    f.setOffset(0, BigInt(b.length));
    rejects(b, /segment 0 .*data outside the file/);
    const c = buildPvhImage();
    new ElfFields(c).setOffset(0, 0xfffffffffffffff0n);
    rejects(c, /data outside the file/);
  });
  it('absurd sizes', () => {
    let b = buildPvhImage();
    let f = new ElfFields(b);
    f.setMemsz(0, f.filesz(0) - 1n);
    rejects(b, /file size .* exceeds memory size/);
    b = buildPvhImage();
    f = new ElfFields(b);
    f.setMemsz(0, 1n << 40n);
    rejects(b, /absurd memory size 0x10000000000/);
    b = buildPvhImage();
    f = new ElfFields(b);
    f.setPaddr(0, 0xfffffffffffff000n);
    f.setMemsz(0, 0x2000n);
    rejects(b, /overflows 64 bits/);
    b = buildPvhImage({ elfClass: 32 });
    f = new ElfFields(b);
    f.setPaddr(0, 0xfffff000n);
    f.setMemsz(0, 0x2000n);
    rejects(b, /overflows 32 bits/);
  });
  it('no loadable segment', () => {
    const b = buildPvhImage();
    b.writeUInt32LE(6, new ElfFields(b).ph(0)); // PT_PHDR
    rejects(b, /no loadable segments/);
  });
  it('a PT_NOTE outside the file', () => {
    const c = buildPvhImage();
    new ElfFields(c).setOffset(1, BigInt(c.length));
    rejects(c, /note segment 1 .*outside the file/);
  });
  it('a malformed note ends the notes, is kept as noteProblem, and the notes before it count', () => {
    const b = buildPvhImage();
    const noteOff = 64 + 2 * 56;
    b.writeUInt32LE(0x1000, noteOff + 4); // descsz past the note segment
    let img = parseElf(b, 'x');
    assert.deepEqual(img.notes, []);
    assert.match(img.noteProblem ?? '', /^note segment 1 \(PT_NOTE\): malformed note at offset 0x\w+ \(name size 4, descriptor size 4096/);
    const d = buildPvhImage();
    new ElfFields(d).setFilesz(1, 30n); // 24-byte note + 6 bytes of non-zero code
    img = parseElf(d, 'x');
    assert.equal(img.notes.length, 1, 'the Xen note before the cut-off one');
    assert.match(img.noteProblem ?? '', /truncated note header/);
    assert.equal(parseElf(buildPvhImage(), 'x').noteProblem, undefined);
  });
  it('a multiboot parse (notes: false) does not read PT_NOTE at all', () => {
    const c = buildPvhImage({ elfClass: 32 });
    new ElfFields(c).setOffset(1, BigInt(c.length));
    assert.deepEqual(parseElf(c, 'x', { notes: false }).notes, []);
  });
  it('a bss-only PT_LOAD needs no file offset', () => {
    const b = buildPvhImage();
    const f = new ElfFields(b);
    f.setFilesz(0, 0n);
    f.setOffset(0, 1n << 62n);
    const img = parseElf(b, 'x');
    assert.equal(img.segments[0].data.length, 0);
    assert.equal(img.segments[0].memsz, Number(f.memsz(0)));
  });
});
