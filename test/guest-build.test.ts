// The guest build: content-addressed cache, defines, errors carrying the
// compiler's stderr, and the images' PVH note.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { buildGuest, listGuests, repoRoot } from '../src/guest/build.js';
import { parseElf } from '../src/guest/elf.js';
import { pvParams } from '../src/hosts/xen/elf-notes.js';

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

test('a xen-pv64 guest is an ELF64 PV kernel with the Xen Test Framework notes (in a section, as XTF links them), at 1 MiB', () => {
  const path = buildGuest('pv-boot');
  const file = readFileSync(path);
  const img = parseElf(file, path);
  assert.equal(img.elfClass, 64);
  assert.ok(!img.notes.some((n) => n.name === 'Xen' && n.type === 18), 'no PVH note');
  const p = pvParams(img, file);
  assert.equal(p.guestOs, 'Ringside');
  assert.equal(p.loader, 'generic');
  assert.equal(p.xenVersion, 'xen-3.0');
  assert.equal(p.pae, 'extcr3'); // PAE_MODE "yes": libelf's extended-CR3 PAE
  assert.equal(p.featuresRequired, 1 << 0); // !writable_page_tables
  assert.equal(p.virtBase, 0n); // no VIRT_BASE note
  assert.equal(p.virtEntry, 0x100000n); // no ENTRY note: e_entry, the first byte of the image
  assert.equal(p.virtKstart, 0x100000n);
  assert.ok(p.hypercallPage !== null && p.hypercallPage % 4096n === 0n);
});
