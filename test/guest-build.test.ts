// The guest build: content-addressed cache, defines, errors carrying the
// compiler's stderr, and the images' PVH note.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { buildGuest, listGuests, repoRoot } from '../src/guest/build.js';
import { parseElf } from '../src/guest/elf.js';

test('listGuests finds the guests and not the library', () => {
  const guests = listGuests('native');
  for (const g of ['alu-flags', 'bench', 'pf-errcode', 'smc', 'string-rep']) assert.ok(guests.includes(g), g);
  assert.ok(!guests.includes('lib'));
});

test('a build is cached by content and defines', () => {
  const a = buildGuest('bench', { defines: { BENCH_ITERS: 7 } });
  const b = buildGuest('bench', { defines: { BENCH_ITERS: 7 } });
  const c = buildGuest('bench', { defines: { BENCH_ITERS: 8 } });
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.equal(dirname(a), join(repoRoot(), '.cache', 'guests'));
  assert.match(basename(a), /^[0-9a-f]{64}\.elf$/);
});

test('images are ELF64 with the PVH entry note, loaded at 1 MiB', () => {
  const path = buildGuest('smc');
  const img = parseElf(readFileSync(path), path);
  assert.equal(img.elfClass, 64);
  const note = img.notes.find((n) => n.name === 'Xen' && n.type === 18);
  assert.ok(note, 'PVH note');
  assert.equal(note.desc.length, 8);
  const entry = Buffer.from(note.desc).readUInt32LE(0);
  assert.equal(BigInt(entry), img.entry);
  assert.ok(img.segments.every((s) => s.paddr >= 0x100000 && BigInt(s.paddr) === s.vaddr));
});

test('a failed build throws with the compiler error', () => {
  assert.throws(
    () => buildGuest('bench', { defines: { BENCH_ITERS: 'not-a-number(' } }),
    (e: unknown) => e instanceof Error && /compiling guests\/bench\/main\.c failed/.test(e.message) && /error:/.test(e.message),
  );
});

test('bad names and defines are refused', () => {
  assert.throws(() => buildGuest('../etc'), /bad guest name/);
  assert.throws(() => buildGuest('lib'), /bad guest name/);
  assert.throws(() => buildGuest('no-such-guest'), /no such guest/);
  assert.throws(() => buildGuest('bench', { defines: { 'A B': 1 } }), /bad define name/);
});
