// The in-memory state contract (capture/restore): a machine's state is plain data, and a
// fresh machine restored from it continues exactly as the original would have.
//
// For every bundled guest: run it uninterrupted; then run it again, stopping at about 20
// instruction counts spread over its run, and at each one capture the machine, pass the
// state through structuredClone (it must be plain data: no functions, no class instances),
// restore it into a fresh machine, check that the fresh machine captures the same state,
// and continue on the fresh machine. The run that hopped across ~20 machines must end with
// the same verdict, console, registers, instruction count and transition count as the
// uninterrupted one. A state that forgot anything a guest observes (a register, an MSR, a
// hidden segment part, a pending event, a device register, the console so far) makes the
// continuation diverge.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootImage, restoreMachine, runBooted, runImage } from '../src/lab/run.js';
import { buildTestGuest, testGuests } from './helpers/guest-console.js';

const PROFILE = 'native/idt';
const POINTS = 20;

for (const guest of testGuests()) {
  test(`guest ${guest}: capture and restore at ${POINTS} points continues exactly`, () => {
    const image = buildTestGuest(guest);
    const whole = runImage(image, { profile: PROFILE });
    assert.ok(whole.instructions > POINTS, `${guest} ran only ${whole.instructions} instructions`);

    let booted = bootImage(image, { profile: PROFILE });
    for (let k = 1; k <= POINTS; k++) {
      const at = Math.floor((whole.instructions * k) / (POINTS + 1));
      const end = booted.machine.run({ maxInsns: at, timeoutMs: 0 });
      assert.equal(end.kind, 'insn-budget', `${guest}: the run ended before instruction ${at}: ${end.message}`);
      const state = booted.machine.capture();
      assert.equal(state.vcpus[0].icount, at);
      const copy = structuredClone(state);
      booted = restoreMachine(copy, { profile: PROFILE });
      assert.deepStrictEqual(booted.machine.capture(), state, `${guest}: restoring at ${at} does not round-trip`);
    }
    const relayed = runBooted(booted, image, { profile: PROFILE });
    assert.equal(relayed.verdict, whole.verdict);
    assert.equal(relayed.console, whole.console);
    assert.deepStrictEqual(relayed.registers, whole.registers);
    assert.equal(relayed.instructions, whole.instructions);
    assert.equal(relayed.transitions, whole.transitions);
  });
}
