// The transition hook (cpu/transition.ts): every event delivery and every return commits
// through one helper that counts it and, with a trace sink attached, hands the sink a
// record. `transitions` in the run's JSON is that count: a delivery and the IRET that
// ends it are two.
//
// Checked against the architecture on the bench guest built with BENCH_TRAP=1, whose loop
// makes one INT 0x81 round trip per iteration through a 64-bit interrupt gate to a handler
// that is a bare IRETQ: per iteration exactly one delivery of vector 0x81 (software) and one
// IRET. The delivery's frame is the IA-32e one of SDM Vol. 3A §6.14.2, Figure 6-9: RIP
// (of the instruction after INT n), CS, RFLAGS, RSP, SS, 8 bytes each, no error code; the
// handler runs with IF = 0 (an interrupt gate, §6.12.1.3), and IRETQ returns to that RIP.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { runImage } from '../src/lab/run.js';
import type { TransitionRecord } from '../src/cpu/transition.js';
import { buildTestGuest } from './helpers/guest-console.js';

const PROFILE = 'native/idt';
const ITERS = 24;

function u64(bytes: number[], at: number): bigint {
  let v = 0n;
  for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(bytes[at + k]);
  return v;
}

test('each INT n round trip is two transitions: a delivery and an IRET', () => {
  const img0 = buildGuest('bench', { defines: { BENCH_ITERS: 0, BENCH_TRAP: 1 } });
  const imgN = buildGuest('bench', { defines: { BENCH_ITERS: ITERS, BENCH_TRAP: 1 } });
  const r0 = runImage(img0, { profile: PROFILE });
  const records: TransitionRecord[] = [];
  const rN = runImage(imgN, { profile: PROFILE, trace: (r) => records.push(r) });
  assert.equal(r0.verdict, 'success');
  assert.equal(rN.verdict, 'success');
  assert.equal(rN.transitions - r0.transitions, 2 * ITERS);
  assert.equal(records.length, rN.transitions, 'one record per counted transition');
  records.forEach((r, k) => assert.equal(r.seq, k + 1));

  const ints = records.filter((r) => r.kind === 'delivery' && r.vector === 0x81);
  assert.equal(ints.length, ITERS);
  for (const d of ints) {
    assert.equal(d.source, 'software');
    assert.equal(d.errorCode, null);
    assert.equal(d.before.cpl, 0);
    assert.equal(d.after.cpl, 0);
    assert.equal(d.after.mode, '64-bit');
    assert.ok(d.frame !== null);
    const f = d.frame!.bytes;
    assert.equal(f.length, 40);
    const ripAfterInt = BigInt(d.before.registers.rip!) + 2n; // CD ib
    assert.equal(u64(f, 0), ripAfterInt, 'frame RIP: the instruction after INT n');
    assert.equal(u64(f, 8), BigInt(d.before.registers.cs!), 'frame CS');
    assert.equal(u64(f, 16), BigInt(d.before.registers.rflags!), 'frame RFLAGS');
    assert.equal(u64(f, 24), BigInt(d.before.registers.rsp!), 'frame RSP');
    assert.equal(u64(f, 32), BigInt(d.before.registers.ss!), 'frame SS');
    assert.equal(BigInt(d.after.registers.rsp!), BigInt(d.frame!.address), 'RSP points at the frame');
    assert.equal(BigInt(d.after.registers.rflags!) & 0x200n, 0n, 'IF cleared by an interrupt gate');
    // The next transition is the handler's IRETQ, back to the instruction after INT n.
    const ret = records[d.seq];
    assert.equal(ret.kind, 'iret');
    assert.equal(BigInt(ret.after.registers.rip!), ripAfterInt);
    assert.equal(ret.after.registers.rflags, d.before.registers.rflags);
    assert.equal(ret.after.registers.rsp, d.before.registers.rsp);
  }
});

test('tracing changes nothing the guest or the run result shows', () => {
  const image = buildTestGuest('exceptions');
  const plain = runImage(image, { profile: PROFILE });
  let count = 0;
  const traced = runImage(image, { profile: PROFILE, trace: () => { count++; } });
  assert.ok(plain.transitions > 0, 'the exceptions guest takes exceptions and returns from them');
  assert.equal(count, plain.transitions);
  assert.deepStrictEqual(traced, plain);
});
