// A domU's console ring as xenconsoled serves it (tools/console/daemon/io.c at c447b7308b:
// buffer_append reads on an event and notifies back; handle_tty_read feeds input, at most 80
// bytes a read and never beyond the free part of in[1024]). guests/pv-console shows the ring
// filling and the guest waking; here: what the run's console shows, input given through the
// run API, and a machine captured mid-conversation.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { runImage } from '../src/lab/run.js';
import { ringside } from './helpers/pvh-image.js';
import { runRestored } from './helpers/restore-run.js';

const PROFILE = 'xen/idt';

describe('xenconsoled', () => {
  it('the guest\'s output reaches the console once and in order, though it wrote more than the ring holds', () => {
    const r = runImage(buildGuest('pv-console'), { profile: PROFILE });
    assert.equal(r.verdict, 'success', r.reason);
    const fills = r.console.split('\n').filter((l) => l.startsWith('fill '));
    assert.deepEqual(fills.map((l) => l.slice(0, 7)), Array.from({ length: 48 }, (_, k) => `fill ${String(k).padStart(2, '0')}`));
    assert.ok(fills.every((l) => l.length === 63), 'each line whole');
    assert.match(r.console, /^out\.ring_was_full: yes$/m);
    assert.match(r.console, /^input: none$/m);
  });

  it('console input reaches in[] in 80-byte reads, in order', () => {
    const text = Array.from({ length: 150 }, (_, k) => 'abcdefghijklmnopqrstuvwxyz0123456789'[k % 36]).join('');
    const r = runImage(buildGuest('pv-console'), { profile: PROFILE, consoleInput: `${text}\n` });
    assert.equal(r.verdict, 'success', r.reason);
    assert.match(r.console, new RegExp(`^input: ${text}$`, 'm'));
    assert.match(r.console, /^input\.bytes: 150$/m);
  });

  it('a machine captured mid-conversation (ring full, input pending) ends as the uninterrupted run', () => {
    const image = buildGuest('pv-console');
    const options = { profile: PROFILE, consoleInput: 'typed after the restore\n' };
    const straight = runImage(image, options);
    assert.equal(straight.verdict, 'success', straight.reason);
    for (let k = 1; k < 10; k++) {
      const at = Math.floor((straight.instructions * k) / 10);
      const r = runRestored(image, options, at);
      assert.equal(r.verdict, 'success', `restored at ${at}: ${r.reason}`);
      assert.equal(r.console, straight.console, `restored at ${at}`);
    }
  });
});

describe('the command line', () => {
  it('run --console-input types on the domU\'s console (\\n a newline)', () => {
    const r = ringside(['run', 'pv-console', '--profile', PROFILE, '--console-input', 'typed\\nnot read']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^input: typed$/m);
    assert.match(r.stdout, /^input\.bytes: 5$/m);
  });

  it('run --dom0 refuses a domU-only guest in one line (exit 2); matrix --dom0 marks it not applicable', () => {
    const r = ringside(['run', 'pv-console', '--profile', PROFILE, '--dom0']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^ringside: pv-console runs as a domU only \(its guest\.json "domains"\)[^\n]*\n$/);
    const m = ringside(['matrix', 'pv-console', '--profiles', PROFILE, '--dom0', '--json']);
    const cell = (JSON.parse(m.stdout) as { rows: Array<{ cells: Array<{ verdict: string; reason: string }> }> }).rows[0].cells[0];
    assert.equal(cell.verdict, 'not-applicable');
    assert.match(cell.reason, /domU only/);
  });
});
