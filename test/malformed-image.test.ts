// Every way an image can be malformed ends `ringside run` with exit 2 and
// exactly one line on stderr: tried on a hand-made PVH image and, when the
// project's guests build, on a real guest.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildPvhImage, ElfFields, lines, removePvhNote, ringside } from './helpers/pvh-image.js';
import { buildGuest } from '../src/guest/build.js';

const dir = mkdtempSync(join(tmpdir(), 'ringside-malformed-'));

type Mutation = [name: string, mutate: (b: Buffer) => Buffer, pattern: RegExp];

const mutations: Mutation[] = [
  ['truncated to 0 bytes', (b) => b.subarray(0, 0), /empty file/],
  ['truncated to 3 bytes', (b) => b.subarray(0, 3), /truncated/],
  ['truncated inside the identification', (b) => b.subarray(0, 12), /truncated/],
  ['truncated inside the ELF header', (b) => b.subarray(0, 40), /truncated/],
  ['truncated inside the program headers', (b) => b.subarray(0, new ElfFields(b).ph(0) + 10), /program headers outside the file/],
  [
    'truncated inside the segment data',
    (b) => {
      const f = new ElfFields(b);
      const i = f.firstLoad();
      return b.subarray(0, Number(f.offset(i) + f.filesz(i)) - 1);
    },
    /outside the file/,
  ],
  ['bad magic', (b) => ((b[0] = 0x7e), b), /bad magic/],
  ['bad class', (b) => ((b[4] = 7), b), /bad ELF class 7/],
  ['big-endian', (b) => ((b[5] = 2), b), /big-endian/],
  ['wrong machine', (b) => (b.writeUInt16LE(183, 18), b), /wrong machine 183/],
  ['phoff outside the file', (b) => ((new ElfFields(b).phoff = b.length + 100), b), /program headers outside the file/],
  [
    'segment outside the file',
    (b) => {
      const f = new ElfFields(b);
      f.setOffset(f.firstLoad(), BigInt(b.length));
      return b;
    },
    /data outside the file/,
  ],
  [
    'no PVH note',
    (b) => {
      assert.ok(removePvhNote(b) > 0, 'the image had a PVH note');
      return b;
    },
    /no PVH entry note \(Xen ELF note type 18\)/,
  ],
  [
    'PVH note descriptor running past its PT_NOTE segment',
    (b) => {
      const f = new ElfFields(b);
      for (let i = 0; i < f.phnum; i++) if (f.phType(i) === 4) b.writeUInt32LE(0x1000, Number(f.offset(i)) + 4);
      return b;
    },
    /no PVH entry note .*malformed note/,
  ],
  [
    'segment outside memory (paddr beyond 128 MiB)',
    (b) => {
      const f = new ElfFields(b);
      f.setPaddr(f.firstLoad(), 0x9000000n);
      return b;
    },
    /does not fit in 128 MiB of RAM/,
  ],
  [
    'memsz 2^40',
    (b) => {
      const f = new ElfFields(b);
      f.setMemsz(f.firstLoad(), 1n << 40n);
      return b;
    },
    f64Only(/absurd memory size|overflows/),
  ],
  [
    'filesz > memsz',
    (b) => {
      const f = new ElfFields(b);
      const i = f.firstLoad();
      f.setFilesz(i, f.memsz(i) + 1n);
      return b;
    },
    /exceeds memory size/,
  ],
];

/** In an ELF32 image memsz 2^40 wraps to 0 when written; the pattern still names a size problem or a fit problem. */
function f64Only(p: RegExp): RegExp {
  return new RegExp(`${p.source}|exceeds memory size|does not fit`);
}

function checkRejected(path: string, pattern: RegExp): void {
  const r = ringside(['run', path, '--profile', 'native/idt', '--max-insns', '100000']);
  const l = lines(r.stderr);
  assert.equal(r.status, 2, `exit 2; stderr: ${r.stderr}`);
  assert.equal(l.length, 1, `exactly one line on stderr: ${JSON.stringify(r.stderr)}`);
  assert.ok(l[0].includes(path), `the line names the file: ${l[0]}`);
  assert.match(l[0], pattern);
  assert.equal(r.stdout, '');
}

function suite(label: string, original: () => Buffer): void {
  describe(`malformed images (${label})`, () => {
    it('the unmodified image is accepted (not exit 2)', () => {
      const b = original();
      const path = join(dir, `${label}-good.elf`);
      writeFileSync(path, b);
      const r = ringside(['run', path, '--profile', 'native/idt', '--max-insns', '100000']);
      assert.notEqual(r.status, 2, r.stderr);
    });
    for (const [name, mutate, pattern] of mutations) {
      it(name, () => {
        const b = original();
        const path = join(dir, `${label}-${name.replace(/[^a-z0-9]+/gi, '-')}.elf`);
        writeFileSync(path, mutate(Buffer.from(b)));
        checkRejected(path, pattern);
      });
    }
  });
}

suite('hand-made ELF64', () => buildPvhImage());
suite('hand-made ELF32', () => buildPvhImage({ elfClass: 32, noteDescSize: 4 }));

// A real guest from the project's guest builder (CI installs the toolchain; no toolchain is a failure).
suite('real guest alu-flags', () => readFileSync(buildGuest('alu-flags')));
