// The QEMU oracle (docs/architecture.md, "The lab"): every guest runs under QEMU TCG
// and under Ringside on both vendor flavours, QEMU with the matching vendor model:
//   intel: -cpu max,vendor=GenuineIntel   against native/idt
//   amd:   -cpu max,vendor=AuthenticAMD   against native/idt-amd
// The two console transcripts of each pair must be identical line by line, except the
// lines listed in test/qemu-deviations.ts for that vendor (deviationsFor), where Ringside
// must print the manual's value (SDM for Intel, APM for AMD; for a platform entry, what
// Ringside's boot contract gives) and QEMU its documented one. Guests read the CPUID
// vendor where the manuals differ, so each flavour is held to its own manual.
// bench runs with BENCH_ITERS=1000.  QEMU missing is a failure, not a skip.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runImage } from '../src/lab/run.js';
import { qemuAvailable, runUnderQemu } from '../src/lab/qemu.js';
import { deviationsFor, QEMU_DEVIATIONS, type Vendor } from './qemu-deviations.js';
import { buildTestGuest, compareTranscripts, QEMU_MISSING, QEMU_SKIPS, testGuests } from './helpers/guest-console.js';

const VENDORS: readonly Vendor[] = ['intel', 'amd'];
const PROFILE: Record<Vendor, string> = { intel: 'native/idt', amd: 'native/idt-amd' };
const QEMU_CPU: Record<Vendor, string> = { intel: 'max,vendor=GenuineIntel', amd: 'max,vendor=AuthenticAMD' };
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

test('every deviation cites the manual of each vendor model it applies to, or the boot contract', () => {
  for (const d of QEMU_DEVIATIONS) {
    const where = `deviation ${d.guest} ${d.line}`;
    assert.ok(d.sdmValue !== null || d.qemuValue !== null, `${where}: a line neither side prints`);
    if (d.kind === 'platform') {
      assert.match(d.sdmSection, /boot contract/, `${where}: a platform entry names Ringside's boot contract`);
      continue;
    }
    assert.equal(d.sdmValue === null, false, `${where}: only a platform entry may say Ringside prints no such line`);
    const vendors = d.vendors ?? ['intel'];
    if (vendors.includes('intel')) assert.match(d.sdmSection, /Intel SDM/, `${where}: applies to the Intel model, cites no SDM`);
    if (vendors.includes('amd')) assert.match(d.sdmSection, /AMD APM/, `${where}: applies to the AMD model, cites no APM`);
  }
});

for (const vendor of VENDORS) {
  for (const guest of testGuests()) {
    test(`guest ${guest}: Ringside (${PROFILE[vendor]}) prints what QEMU (-cpu ${QEMU_CPU[vendor]}) prints`, (t) => {
      assert.ok(qemuAvailable(), QEMU_MISSING);
      const image = buildTestGuest(guest);

      const q = runUnderQemu(image, { timeoutMs: QEMU_TIMEOUT_MS, cpu: QEMU_CPU[vendor] });
      assert.equal(q.timedOut, false, `${guest} timed out under QEMU (${QEMU_CPU[vendor]})`);

      const started = Date.now();
      const r = runImage(image, { profile: PROFILE[vendor], maxInsns: RINGSIDE_MAX_INSNS, timeoutMs: RINGSIDE_TIMEOUT_MS });
      t.diagnostic(`${guest} (${vendor}): Ringside ${r.verdict} after ${r.instructions} instructions, ${Date.now() - started} ms`);

      const problems = compareTranscripts(guest, q.console, r.console, deviationsFor(vendor));
      assert.deepEqual(
        problems,
        [],
        `${guest} (${vendor}): Ringside and QEMU differ (Ringside verdict ${r.verdict}: ${r.reason}):\n  ${problems.join('\n  ')}`,
      );
      assert.equal(r.verdict, QEMU_SKIPS[guest] !== undefined ? 'skip' : 'success', `${guest}: Ringside verdict ${r.verdict} (${r.reason})`);
    });
  }
}
