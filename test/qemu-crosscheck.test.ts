// The QEMU oracle (docs/architecture.md, "The lab"): every guest runs under QEMU
// TCG and under Ringside (native/idt), and the two console transcripts must be
// identical line by line, except the lines listed in test/qemu-deviations.ts,
// where Ringside must print the SDM's value and QEMU its documented one.
// bench runs with BENCH_ITERS=1000.  QEMU missing is a failure, not a skip.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runImage } from '../src/lab/run.js';
import { qemuAvailable, runUnderQemu } from '../src/lab/qemu.js';
import { deviationsFor, QEMU_DEVIATIONS } from './qemu-deviations.js';
import { buildTestGuest, compareTranscripts, QEMU_MISSING, testGuests } from './helpers/guest-console.js';

const PROFILE = 'native/idt';
const QEMU_TIMEOUT_MS = 60_000;
const RINGSIDE_TIMEOUT_MS = 300_000;
const RINGSIDE_MAX_INSNS = 500_000_000;

test('QEMU is installed', () => {
  assert.ok(qemuAvailable(), QEMU_MISSING);
});

test('every deviation names an existing guest', () => {
  const guests = new Set(testGuests());
  for (const d of QEMU_DEVIATIONS) assert.ok(guests.has(d.guest), `deviation ${d.line} names unknown guest ${d.guest}`);
});

for (const guest of testGuests()) {
  test(`guest ${guest}: Ringside (${PROFILE}) prints what QEMU prints`, (t) => {
    assert.ok(qemuAvailable(), QEMU_MISSING);
    const image = buildTestGuest(guest);

    const q = runUnderQemu(image, { timeoutMs: QEMU_TIMEOUT_MS });
    assert.equal(q.timedOut, false, `${guest} timed out under QEMU`);

    const started = Date.now();
    const r = runImage(image, { profile: PROFILE, maxInsns: RINGSIDE_MAX_INSNS, timeoutMs: RINGSIDE_TIMEOUT_MS });
    t.diagnostic(`${guest}: Ringside ${r.verdict} after ${r.instructions} instructions, ${Date.now() - started} ms`);

    const problems = compareTranscripts(guest, q.console, r.console, deviationsFor('intel'));
    assert.deepEqual(
      problems,
      [],
      `${guest}: Ringside and QEMU differ (Ringside verdict ${r.verdict}: ${r.reason}):\n  ${problems.join('\n  ')}`,
    );
    assert.equal(r.verdict, 'success', `${guest}: Ringside verdict ${r.verdict} (${r.reason})`);
  });
}
