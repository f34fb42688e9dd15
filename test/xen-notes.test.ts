// Which PV64 images Xen's ELF loader accepts (issue 19, item 1; src/hosts/xen/elf-notes.ts),
// each case stating what libelf (xen/common/libelf/libelf-dominfo.c: elf_xen_parse_note,
// elf_xen_parse_features, elf_xen_note_check, elf_xen_addr_calc_check) decides, held to
// pvParams() always and to real Xen 4.17 booting the image as dom0 when it is here
// (src/lab/xen.ts): an accepted image prints its result line and powers off, a refused one
// makes the dom0 builder fail, which panics Xen ("Could not construct domain 0").

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseElf } from '../src/guest/elf.js';
import { pvParams } from '../src/hosts/xen/elf-notes.js';
import { BadInput } from '../src/machine/errors.js';
import { qemuAvailable } from '../src/lab/qemu.js';
import { realXen, runUnderXen, type RealXen } from '../src/lab/xen.js';
import { buildPvImage, consoleWrite, shutdown, XTF_NOTES, type PvImageOptions, type PvNote } from './helpers/pv-image.js';
import { runImage } from '../src/lab/run.js';
import { everyRealXenRun } from './helpers/real-xen.js';

const found = qemuAvailable() ? realXen() : { unavailable: 'qemu-system-x86_64 is not installed' };
const xen = 'unavailable' in found ? null : found as RealXen;

const without = (type: number): PvNote[] => XTF_NOTES.filter(([t]) => t !== type);
const replacing = (type: number, desc: string): PvNote[] => [...without(type), [type, desc]];

/** `ci`: run on real Xen in every test run, not only with RINGSIDE_REAL_XEN=all (helpers/real-xen.ts). */
interface Case { what: string; notes: PvNote[]; options?: PvImageOptions; accepted: boolean; reason?: RegExp; ci?: boolean }
const CASES: Case[] = [
  { what: "the Xen Test Framework's note set (no ENTRY, no VIRT_BASE: e_entry, base 0)", notes: [...XTF_NOTES], accepted: true, ci: true },
  { what: 'no XEN_VERSION', notes: without(5), accepted: false, reason: /Xen v3\.0/, ci: true },
  { what: 'XEN_VERSION "xen-4.0"', notes: replacing(5, '.asciz "xen-4.0"'), accepted: false, reason: /Xen v3\.0/ },
  { what: 'no LOADER, GUEST_OS "linux-ringside"', notes: replacing(6, '.asciz "linux-ringside"').filter(([t]) => t !== 8), accepted: true },
  { what: 'LOADER "elsewhere", GUEST_OS not Linux', notes: replacing(8, '.asciz "elsewhere"'), accepted: false, reason: /generic loader or Linux/ },
  { what: 'FEATURES requiring an unknown feature', notes: replacing(10, '.asciz "!writable_page_tables|!no_such_feature"'), accepted: false, reason: /does not know/ },
  { what: 'FEATURES supporting an unknown feature', notes: replacing(10, '.asciz "!writable_page_tables|no_such_feature"'), accepted: true },
  { what: 'PADDR_OFFSET without VIRT_BASE', notes: [...XTF_NOTES, [4, '.quad 0']], accepted: false, reason: /PADDR_OFFSET set, VIRT_BASE unset/ },
  { what: 'ENTRY outside the kernel', notes: [...XTF_NOTES, [1, '.quad 0x40000000']], accepted: false, reason: /out of bounds/ },
  { what: 'the notes in an SHT_NOTE section only (no PT_NOTE)', notes: [...XTF_NOTES], options: { noteSegment: false }, accepted: true },
  { what: "no notes, a legacy '__xen_guest' string (HYPERCALL_PAGE in pages)", notes: [],
    options: { noteSegment: false, xenGuest: 'GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0x0,HYPERCALL_PAGE=0x101' }, accepted: true, ci: true },
  { what: "no notes and no '__xen_guest'", notes: [], options: { noteSegment: false }, accepted: false, reason: /not a Xen-ELF image/, ci: true },
  { what: 'FEATURES requiring "toString" (no feature of Xen\'s)', notes: replacing(10, '.asciz "!toString"'), accepted: false, reason: /does not know/ },
  { what: 'ENTRY of all ones (libelf\'s "unset": e_entry)', notes: [...XTF_NOTES, [1, '.quad -1']], accepted: true },
  { what: "only a Xen note of a type Xen does not know, and a '__xen_guest' string (no fallback)", notes: [[99, '.long 0']],
    options: { xenGuest: 'GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0x0,HYPERCALL_PAGE=0x101' }, accepted: false, reason: /generic loader or Linux/ },
];

describe("Xen's ELF loader on PV64 note sets: the model, and real Xen as dom0", () => {
  for (const c of CASES) {
    it(`${c.what}: ${c.accepted ? 'accepted' : 'refused'}`, async (t) => {
      const image = buildPvImage(`${consoleWrite('Test result: SUCCESS\n')}${shutdown(0)}`, c.notes, c.options);
      const bytes = readFileSync(image);
      const elf = parseElf(bytes, image);
      if (c.accepted) {
        const p = pvParams(elf, bytes);
        assert.equal(p.virtEntry, elf.entry);
        // Every accepted image here has its hypercall page at 0x101000 (a note's address, or
        // the legacy string's page number 0x101), and VIRT_BASE and PADDR_OFFSET 0.
        assert.equal(p.hypercallPage, 0x101000n);
        assert.deepEqual([p.virtBase, p.paddrOffset], [0n, 0n]);
        // ... and boots on the model's Xen as on real Xen.
        const m = runImage(image, { profile: 'xen/idt', dom0: true, maxInsns: 1e6 });
        assert.equal(m.verdict, 'success', m.reason);
      } else {
        assert.throws(() => pvParams(elf, bytes), (e: unknown) => e instanceof BadInput && c.reason!.test(e.message));
        assert.throws(() => runImage(image, { profile: 'xen/idt', dom0: true }), (e: unknown) => e instanceof BadInput && c.reason!.test(e.message));
      }
      if (xen === null) { t.diagnostic(`real Xen not compared: ${(found as { unavailable: string }).unavailable}`); return; }
      if (!c.ci && !everyRealXenRun()) { t.diagnostic('real Xen not compared in this run (RINGSIDE_REAL_XEN=all: npm run test:xen)'); return; }
      const r = await runUnderXen(xen, image, { timeoutMs: 120_000 });
      if (c.accepted) {
        assert.equal(r.end, 'poweroff', r.xenLog.split('\n').slice(-6).join('\n'));
        assert.match(r.console, /Test result: SUCCESS/);
      } else {
        assert.equal(r.end, 'panic', r.xenLog.split('\n').slice(-6).join('\n'));
        assert.match(r.xenLog, /Could not construct domain 0/);
      }
    });
  }
});
