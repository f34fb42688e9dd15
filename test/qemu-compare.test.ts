// The transcript comparison used by the QEMU cross-check, on made-up input.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareTranscripts } from './helpers/guest-console.js';
import type { QemuDeviation } from './qemu-deviations.js';

const dev: QemuDeviation = {
  guest: 'g',
  line: /\.rf$/,
  sdmSection: 'SDM',
  sdmValue: '1',
  qemuValue: '0',
  qemuSource: 'qemu',
  why: 'test',
};

const qemu = 'a: 1\nx.rf: 0\nTest result: SUCCESS\n';

test('identical transcripts and a deviation honoured', () => {
  assert.deepEqual(compareTranscripts('g', qemu, 'a: 1\nx.rf: 1\nTest result: SUCCESS\n', [dev]), []);
});

test('an ordinary difference is reported with both lines', () => {
  const p = compareTranscripts('g', qemu, 'a: 2\nx.rf: 1\nTest result: SUCCESS\n', [dev]);
  assert.equal(p.length, 1);
  assert.match(p[0]!, /line 1: QEMU "a: 1" \/ Ringside "a: 2"/);
});

test('Ringside copying QEMU on a deviation line fails', () => {
  const p = compareTranscripts('g', qemu, qemu, [dev]);
  assert.equal(p.length, 1);
  assert.match(p[0]!, /Ringside prints QEMU's value 0; the SDM value is 1/);
});

test('a deviation QEMU no longer has is stale', () => {
  const fixed = 'a: 1\nx.rf: 1\nTest result: SUCCESS\n';
  const p = compareTranscripts('g', fixed, fixed, [dev]);
  assert.match(p.join('\n'), /stale deviation/);
});

test('a deviation matching no line is stale', () => {
  const p = compareTranscripts('g', 'a: 1\n', 'a: 1\n', [dev]);
  assert.match(p.join('\n'), /stale deviation: no line of g matches/);
});

test('a missing line is reported', () => {
  const p = compareTranscripts('g', qemu, 'a: 1\nx.rf: 1\n', [dev]);
  assert.match(p.join('\n'), /only QEMU has it: "Test result: SUCCESS"/);
});

test('deviations of other guests do not apply', () => {
  const p = compareTranscripts('h', qemu, 'a: 1\nx.rf: 1\nTest result: SUCCESS\n', [dev]);
  assert.match(p.join('\n'), /line 2: QEMU "x.rf: 0" \/ Ringside "x.rf: 1"/);
});

const absent: QemuDeviation = {
  guest: 'g', line: /^la57\./, sdmSection: 'SDM', sdmValue: 'ok', qemuValue: null, qemuSource: 'qemu', why: 'test',
};

test('a line QEMU cannot produce is checked on Ringside alone and skipped when aligning', () => {
  const q = 'a: 1\nTest result: SUCCESS\n';
  assert.deepEqual(compareTranscripts('g', q, 'a: 1\nla57.walk: ok\nTest result: SUCCESS\n', [absent]), []);
  const wrong = compareTranscripts('g', q, 'a: 1\nla57.walk: #GP\nTest result: SUCCESS\n', [absent]);
  assert.match(wrong.join('\n'), /Ringside prints #GP, the SDM value is ok/);
});

test('a line said to be impossible on QEMU but printed by it is reported', () => {
  const both = 'a: 1\nla57.walk: ok\nTest result: SUCCESS\n';
  const p = compareTranscripts('g', both, both, [absent]);
  assert.match(p.join('\n'), /QEMU cannot produce this line; update the entry/);
});

const platformExtra: QemuDeviation = {
  guest: 'g', kind: 'platform', line: /^map\[6\]$/, sdmSection: 'boot contract', sdmValue: null, qemuValue: 'hole',
  qemuSource: 'qemu', why: 'test',
};

test('a line only QEMU\'s machine prints (sdmValue null) is checked on QEMU alone and skipped when aligning', () => {
  const r = 'a: 1\nmap[5]: ram\nb: 2\nTest result: SUCCESS\n';
  assert.deepEqual(compareTranscripts('g', 'a: 1\nmap[5]: ram\nmap[6]: hole\nb: 2\nTest result: SUCCESS\n', r, [platformExtra]), []);
  const other = compareTranscripts('g', 'a: 1\nmap[5]: ram\nmap[6]: other\nb: 2\nTest result: SUCCESS\n', r, [platformExtra]);
  assert.match(other.join('\n'), /QEMU prints other, the deviation entry says hole/);
  const both = 'a: 1\nmap[5]: ram\nmap[6]: hole\nb: 2\nTest result: SUCCESS\n';
  assert.match(compareTranscripts('g', both, both, [platformExtra]).join('\n'), /Ringside has no such line/);
  assert.match(compareTranscripts('g', r, r, [platformExtra]).join('\n'), /stale deviation/);
});
