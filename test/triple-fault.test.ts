// A fault while delivering #DF shuts the processor down (Intel SDM Vol. 3A §6.15,
// Interrupt 8, Table 6-5: "a fault while the processor is attempting to invoke the
// double-fault handler ... the processor enters shutdown mode").  The double-fault
// guest built with TRIPLE=1 ends that way after printing its observations, so it can
// print no result line: the verdict is asserted here.  Ringside must end the run as
// `crash` (src/lab/verdict.ts: a triple fault is a crash); QEMU with -no-reboot must
// exit by itself, without an exit-port write, having printed the same lines (modulo
// the documented deviations).  QEMU missing is a failure, not a skip.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { runImage } from '../src/lab/run.js';
import { qemuAvailable, runUnderQemu } from '../src/lab/qemu.js';
import { deviationsFor } from './qemu-deviations.js';
import { compareTranscripts, QEMU_MISSING, resultLines } from './helpers/guest-console.js';

const LAST_LINE = 'triple: expecting a triple fault now';

function lastLine(console: string): string | undefined {
  return console.split('\n').filter((l) => l !== '').pop();
}

test('double-fault TRIPLE=1: Ringside ends the run with verdict crash (triple fault)', () => {
  const image = buildGuest('double-fault', { defines: { TRIPLE: 1 } });
  const r = runImage(image, { profile: 'native/idt', maxInsns: 50_000_000 });
  assert.equal(r.verdict, 'crash', `verdict ${r.verdict}: ${r.reason}`);
  assert.match(r.reason, /triple fault/);
  assert.deepEqual(resultLines(r.console), []);
  assert.equal(lastLine(r.console), LAST_LINE);
});

test('double-fault TRIPLE=1: QEMU shuts down too, after the same lines', () => {
  assert.ok(qemuAvailable(), QEMU_MISSING);
  const image = buildGuest('double-fault', { defines: { TRIPLE: 1 } });
  const q = runUnderQemu(image, { timeoutMs: 60_000 });
  assert.equal(q.timedOut, false, 'QEMU did not stop: no shutdown on the triple fault');
  assert.equal(q.exitValue, null, `QEMU ended through the exit port (value ${q.exitValue})`);
  assert.equal(lastLine(q.console), LAST_LINE);
  const r = runImage(image, { profile: 'native/idt', maxInsns: 50_000_000 });
  assert.deepEqual(compareTranscripts('double-fault', q.console, r.console, deviationsFor('intel')), []);
});
