// The matrix pairs images with the profiles whose host boots them (README, "ringside matrix"):
// a Xen PV guest runs on xen profiles, a native (PVH or multiboot) guest on native ones, and
// the other cells are `-` (JSON verdict "not-applicable"), neither run nor counted. The Xen
// host refuses an image without Xen's PV notes (elf-notes.ts pvParams) and the native host one
// with neither a multiboot header nor a PVH note, so each guest has one kind of host.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ringside } from './helpers/pvh-image.js';

interface Matrix {
  profiles: string[];
  rows: Array<{ name: string; cells: Array<{ verdict: string; profile: string }>; observations: string | null }>;
  passed: number;
  total: number;
}

describe('ringside matrix on native and xen profiles', () => {
  it('by default every runnable profile whose host boots one of the images, each image run only where its host boots it', () => {
    const r = ringside(['matrix', 'pv-segbase', 'exceptions', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout) as Matrix;
    const xen = ['xen/idt', 'xen/idt-amd', 'xen/fred', 'xen-nocompat/fred', 'xen-3.1.1/idt', 'xen-3.0.4/idt'];
    assert.deepEqual(m.profiles, ['native/idt', 'native/idt-amd', 'native/fred', ...xen]);
    const verdicts = (name: string): string[] => m.rows.find((row) => row.name === name)!.cells.map((c) => c.verdict);
    assert.deepEqual(verdicts('pv-segbase'), ['not-applicable', 'not-applicable', 'not-applicable', ...xen.map(() => 'success')]);
    assert.deepEqual(verdicts('exceptions'), ['success', 'success', 'success', ...xen.map(() => 'not-applicable')]);
    assert.equal(m.total, 9);
    assert.equal(m.passed, 9);
    // Compared among the profiles that ran it, each with its xen/idt run: xen/idt-amd's is the
    // same; in FRED mode (test/xen-fred-diff.test.ts) and on Xen 3.x (which leaves the user's
    // RFLAGS alone: c461d64b66, d2fe9ab304; version.ts syscallClearsDf) the syscall callback's
    // %r11 differs.
    assert.deepEqual(m.rows.map((row) => row.observations), ['differs', 'same']);
    const t = ringside(['matrix', 'pv-segbase', 'exceptions']);
    assert.match(t.stdout, /^pv-segbase\s+-\s+-\s+-(\s+success){6}\s+differs$/m);
    assert.match(t.stdout, /^pv-segbase: observations on xen\/fred, xen-nocompat\/fred, xen-3\.1\.1\/idt, xen-3\.0\.4\/idt differ from xen\/idt/m);
    assert.match(t.stdout, /^9 of 9 as expected/m);
    // A default profile whose host boots none of the images is no column at all.
    assert.match(ringside(['matrix', 'pv-segbase']).stdout, /^guest\s+xen\/idt\s+xen\/idt-amd\s+xen\/fred\s+xen-nocompat\/fred\s+xen-3\.1\.1\/idt\s+xen-3\.0\.4\/idt\s+observations$/m);
  });

  it('--dom0 builds the PV images as dom0 on the xen profiles and leaves the native runs alone', () => {
    const r = ringside(['matrix', 'pv-boot', 'exceptions', '--profiles', 'native/idt,xen/idt', '--dom0', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout) as Matrix;
    const pv = m.rows.find((row) => row.name === 'pv-boot')!.cells[1] as { console?: string };
    // pv-boot prints start_info.flags: SIF_PRIVILEGED | SIF_INITDOMAIN | PM bits for dom0, 0 for a domU.
    assert.match(pv.console ?? '', /^start_info\.flags: 0x303$/m);
    assert.equal(m.rows.find((row) => row.name === 'exceptions')!.cells[0].verdict, 'success');
  });

  it('named profiles are all shown; a guest no named profile boots is all `-` and runs nothing', () => {
    const m = JSON.parse(ringside(['matrix', 'pv-segbase', '--profiles', 'native/idt', '--json']).stdout) as Matrix;
    assert.deepEqual(m.rows[0].cells.map((c) => [c.profile, c.verdict]), [['native/idt', 'not-applicable']]);
    assert.equal(m.total, 0);
    assert.equal(m.rows[0].observations, null);
  });

  it('a guest whose guest.json states another verdict on a profile meets it there (pv-privop: SWAPGS is #UD under FRED)', () => {
    const r = ringside(['matrix', 'pv-privop', '--profiles', 'xen/idt,xen/fred', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout) as { rows: Array<{ cells: Array<{ verdict: string; expected?: string; met?: boolean }> }>; passed: number };
    assert.deepEqual(m.rows[0].cells.map((c) => [c.verdict, c.expected, c.met]), [['success', undefined, undefined], ['failure', 'failure', true]]);
    assert.equal(m.passed, 2);
    const t = ringside(['matrix', 'pv-privop', '--profiles', 'xen/idt,xen/fred']);
    assert.match(t.stdout, /^pv-privop on xen\/fred: failure, as its guest.json expects: SWAPGS is #UD under CR4.FRED$/m);
    assert.match(t.stdout, /^2 of 2 as expected/m);
  });
});
