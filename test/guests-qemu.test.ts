// Every guest under QEMU alone: it must boot and report `Test result: SUCCESS` (or, for a
// guest whose subject QEMU lacks, the SKIP line QEMU_SKIPS names).
// This validates the guests (and the library's boot stub) independently of
// Ringside's CPU model.  QEMU missing is a failure, not a skip: CI installs it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { qemuAvailable, runUnderQemu } from '../src/lab/qemu.js';
import { buildTestGuest, QEMU_MISSING, QEMU_SKIPS, resultLines, testGuests } from './helpers/guest-console.js';

const QEMU_TIMEOUT_MS = 60_000;

test('QEMU is installed', () => {
  assert.ok(qemuAvailable(), QEMU_MISSING);
});

test('there are guests', () => {
  assert.ok(testGuests().length > 0, 'no guests found under guests/');
});

for (const guest of testGuests()) {
  test(`guest ${guest} reports ${QEMU_SKIPS[guest] !== undefined ? 'its SKIP' : 'SUCCESS'} under QEMU`, (t) => {
    assert.ok(qemuAvailable(), QEMU_MISSING);
    const image = buildTestGuest(guest);
    const started = Date.now();
    const r = runUnderQemu(image, { timeoutMs: QEMU_TIMEOUT_MS });
    t.diagnostic(`${guest}: ${Date.now() - started} ms under QEMU, ${r.console.split('\n').length} lines`);
    const tail = r.console.split('\n').slice(-15).join('\n');
    assert.equal(r.timedOut, false, `${guest} did not finish within ${QEMU_TIMEOUT_MS} ms; last output:\n${tail}\n${r.stderr}`);
    const results = resultLines(r.console);
    assert.equal(results.length, 1, `${guest} printed ${results.length} result lines; last output:\n${tail}\n${r.stderr}`);
    assert.equal(results[0], QEMU_SKIPS[guest] ?? 'Test result: SUCCESS', `${guest}; last output:\n${tail}`);
    assert.equal(r.exitValue, 0, `${guest}: QEMU exit status ${r.exitCode} (expected 1: isa-debug-exit with value 0)\n${r.stderr}`);
    assert.ok(r.console.startsWith(`Ringside guest: ${guest}\n`), `${guest}: banner missing`);
  });
}
