// Only what the boot contract needs may make an image malformed (src/guest/elf.ts):
// for multiboot, QEMU's multiboot loader reads the header (Multiboot Specification
// 0.6.96 §3.1) and, for ELF32 without the a.out kludge, the ELF header, the program
// headers and the PT_LOAD bytes; for PVH, also the notes of PT_NOTE segments. Section
// headers, section names and symbol tables are not part of either, so an image cut off
// after its loadable bytes, or with its section header table zeroed, boots (under QEMU
// too), while a corrupt program header or a truncated PT_LOAD is still refused.
// QEMU missing is a failure, not a skip: CI installs it.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { qemuAvailable, runUnderQemu } from '../src/lab/qemu.js';
import { runImage } from '../src/lab/run.js';
import { compareTranscripts, QEMU_MISSING } from './helpers/guest-console.js';
import { ElfFields, lines, ringside } from './helpers/pvh-image.js';
import { deviationsFor } from './qemu-deviations.js';

const dir = mkdtempSync(join(tmpdir(), 'ringside-contract-'));
const PROFILE = 'native/idt';
const LIMITS = { maxInsns: 500_000_000, timeoutMs: 300_000 };

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** End of the last byte a loader reads: PT_LOAD and PT_NOTE file data. */
function loadedEnd(b: Buffer): number {
  const f = new ElfFields(b);
  let end = 0;
  for (let i = 0; i < f.phnum; i++) {
    if (f.phType(i) === 1 || f.phType(i) === 4) end = Math.max(end, Number(f.offset(i) + f.filesz(i)));
  }
  return end;
}

/** e_shoff, e_shentsize, e_shnum. */
function sectionTable(b: Buffer): { shoff: number; shentsize: number; shnum: number } {
  const is64 = b[4] === 2;
  return {
    shoff: is64 ? Number(b.readBigUInt64LE(40)) : b.readUInt32LE(32),
    shentsize: b.readUInt16LE(is64 ? 58 : 46),
    shnum: b.readUInt16LE(is64 ? 60 : 48),
  };
}

/** The image with its section header table overwritten with zeros (e_sh* left as they are). */
function zeroSections(b: Buffer): Buffer {
  const c = Buffer.from(b);
  const { shoff, shentsize, shnum } = sectionTable(c);
  assert.ok(shnum > 0 && shoff + shnum * shentsize <= c.length, 'the guest has a section header table');
  c.fill(0, shoff, shoff + shnum * shentsize);
  return c;
}

/** The image with e_shoff pointing far past its end and e_shnum at its maximum. */
function sectionsOutside(b: Buffer): Buffer {
  const c = Buffer.from(b);
  if (c[4] === 2) c.writeBigUInt64LE(1n << 40n, 40);
  else c.writeUInt32LE(0xfffffff0, 32);
  c.writeUInt16LE(0xffff, c[4] === 2 ? 60 : 48);
  return c;
}

function boots(path: string): void {
  const r = runImage(path, { profile: PROFILE, ...LIMITS });
  assert.equal(r.verdict, 'success', `${path}: ${r.verdict} (${r.reason})`);
}

function refused(path: string, pattern: RegExp): void {
  const r = ringside(['run', path, '--profile', PROFILE, '--max-insns', '100000']);
  assert.equal(r.status, 2, `exit 2; stderr: ${r.stderr}`);
  const l = lines(r.stderr);
  assert.equal(l.length, 1, `one line on stderr: ${JSON.stringify(r.stderr)}`);
  assert.ok(l[0]!.includes(path), l[0]);
  assert.match(l[0]!, pattern);
  assert.equal(r.stdout, '');
}

/** Refusals that must stay: corrupt program headers and truncated PT_LOAD data. */
function stillRefused(name: string, original: () => Buffer): void {
  it('a program header table outside the file is refused', () => {
    const b = original();
    new ElfFields(b).phoff = b.length + 64;
    refused(write(`${name}-phoff.elf`, b), /program headers outside the file/);
  });
  it('a PT_LOAD whose data lies outside the file is refused', () => {
    const b = original();
    const f = new ElfFields(b);
    f.setOffset(f.firstLoad(), BigInt(b.length) + 0x1000n);
    refused(write(`${name}-load-offset.elf`, b), /data outside the file/);
  });
  it('an image cut inside its PT_LOAD data is refused', () => {
    const b = original();
    const f = new ElfFields(b);
    const i = f.firstLoad();
    refused(write(`${name}-load-cut.elf`, b.subarray(0, Number(f.offset(i) + f.filesz(i)) - 1)), /data outside the file/);
  });
}

describe('multiboot-uart without its section headers', () => {
  const original = (): Buffer => readFileSync(buildGuest('multiboot-uart'));

  it('cut off after its PT_LOAD data, boots with the console QEMU prints', () => {
    const full = original();
    const end = loadedEnd(full);
    assert.ok(end < sectionTable(full).shoff, 'the section header table follows the loaded bytes');
    const path = write('multiboot-uart-cut.elf', full.subarray(0, end));
    assert.ok(qemuAvailable(), QEMU_MISSING);
    const q = runUnderQemu(path, { timeoutMs: 60_000 });
    assert.equal(q.timedOut, false, 'QEMU timed out');
    assert.match(q.console, /^Test result: SUCCESS$/m, `QEMU boots the cut-off image: ${q.stderr}`);
    const r = runImage(path, { profile: PROFILE, ...LIMITS });
    const problems = compareTranscripts('multiboot-uart', q.console, r.console, deviationsFor('intel'));
    assert.deepEqual(problems, [], `Ringside (${r.verdict}: ${r.reason}) and QEMU differ:\n  ${problems.join('\n  ')}`);
    assert.equal(r.verdict, 'success', r.reason);
  });
  it('with its section header table zeroed, boots', () => boots(write('multiboot-uart-zeroed.elf', zeroSections(original()))));
  it('with its section header table outside the file, boots', () => boots(write('multiboot-uart-shoff.elf', sectionsOutside(original()))));
  stillRefused('multiboot-uart', original);
});

describe('a PVH guest (alu-flags) without its section headers', () => {
  const original = (): Buffer => readFileSync(buildGuest('alu-flags'));

  it('cut off after its PT_LOAD and PT_NOTE data, boots', () => {
    const full = original();
    const end = loadedEnd(full);
    assert.ok(end < sectionTable(full).shoff, 'the section header table follows the loaded bytes');
    boots(write('alu-flags-cut.elf', full.subarray(0, end)));
  });
  it('with its section header table zeroed, boots', () => boots(write('alu-flags-zeroed.elf', zeroSections(original()))));
  it('with its section header table outside the file, boots', () => boots(write('alu-flags-shoff.elf', sectionsOutside(original()))));
  stillRefused('alu-flags', original);
  it('its PVH note is found through the PT_NOTE program header only', () => {
    const b = original();
    const f = new ElfFields(b);
    for (let i = 0; i < f.phnum; i++) if (f.phType(i) === 4) b.writeUInt32LE(6, f.ph(i)); // PT_NOTE -> PT_PHDR
    refused(write('alu-flags-no-pt-note.elf', b), /no PVH entry note \(Xen ELF note type 18\) in a PT_NOTE segment/);
  });
});
