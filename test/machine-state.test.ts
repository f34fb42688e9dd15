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
// continuation diverge. RAM capture reads only the pages marked written (memory.ts): at the
// end, every non-zero page of the machine must be among those it captures.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootImage, restoreMachine, runBooted, runImage } from '../src/lab/run.js';
import { buildTestGuest, testGuests } from './helpers/guest-console.js';
import { Cpu } from '../src/cpu/cpu.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';
import { flatProtectedModeState } from '../src/cpu/state.js';

/** Every page of RAM that is not all zero, found by reading all of it. */
function nonZeroPages(memory: PhysicalMemory): number[] {
  const out: number[] = [];
  const all = Buffer.from(memory.bytes.buffer, memory.bytes.byteOffset, memory.size), zero = Buffer.alloc(4096);
  for (let ppn = 0; ppn < memory.pages; ppn++) if (!all.subarray(ppn * 4096, (ppn + 1) * 4096).equals(zero)) out.push(ppn);
  return out;
}

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
    const captured = Object.keys(booted.machine.memory.capture().pages).map(Number);
    assert.deepEqual(captured, nonZeroPages(booted.machine.memory), `${guest}: a capture holds every non-zero page`);
  });
}

// Restoring into the machine that ran on (not a fresh one): the pages it wrote after the
// capture are zero again or hold the captured bytes (the capture taken right after the
// restore is the state itself), and the run continues as if never interrupted.
test('string-rep: restored into the machine that ran on, RAM is the captured RAM and the run continues exactly', () => {
  const image = buildTestGuest('string-rep');
  const whole = runImage(image, { profile: PROFILE });
  const booted = bootImage(image, { profile: PROFILE });
  const at = Math.floor(whole.instructions / 3);
  assert.equal(booted.machine.run({ maxInsns: at, timeoutMs: 0 }).kind, 'insn-budget');
  const state = booted.machine.capture();
  assert.equal(booted.machine.run({ maxInsns: 2 * at, timeoutMs: 0 }).kind, 'insn-budget');
  assert.notDeepEqual(booted.machine.capture().memory.pages, state.memory.pages, 'the run wrote RAM after the capture');
  // And a page nothing had written before (the last of RAM) written now.
  const memory = booted.machine.memory;
  assert.equal(state.memory.pages[memory.pages - 1], undefined);
  memory.fill(memory.size - 4096, 4096, 0xa5);
  booted.machine.restore(state);
  assert.deepStrictEqual(booted.machine.capture(), state);
  const relayed = runBooted(booted, image, { profile: PROFILE });
  assert.equal(relayed.console, whole.console);
  assert.deepStrictEqual(relayed.registers, whole.registers);
  assert.equal(relayed.instructions, whole.instructions);
  assert.deepEqual(Object.keys(booted.machine.memory.capture().pages).map(Number), nonZeroPages(booted.machine.memory));
});

// The event window is idempotent: a run stopped by its budget at any boundary, and
// continued, or captured there and restored, takes exactly the events the uninterrupted
// run takes. Checked at every boundary around the single-step guest's first #DB trap
// (SDM Vol. 3B §18.3.1.4), where a trap is armed, due, held by a MOV SS shadow or just
// delivered, and over its whole run for budget stops alone.
test('single-step: stops at every boundary, and capture/restore around the first trap, change nothing', () => {
  const image = buildTestGuest('single-step');
  const traps: number[] = [];
  const whole = runImage(image, {
    profile: PROFILE,
    trace: (r) => { if (r.kind === 'delivery' && r.vector === 1 && r.source === 'trap') traps.push(r.icount); },
  });
  assert.equal(whole.verdict, 'success');
  assert.ok(traps.length >= 10, `the guest takes single-step traps (${traps.length})`);

  const stepped = bootImage(image, { profile: PROFILE });
  for (let at = 1; at < whole.instructions; at++) {
    const end = stepped.machine.run({ maxInsns: at, timeoutMs: 0 });
    if (end.kind !== 'insn-budget') break;
  }
  const steppedResult = runBooted(stepped, image, { profile: PROFILE });
  assert.deepStrictEqual(steppedResult, whole);

  // Around the first trap (POPF setting TF), and around the MOV SS case's traps (the
  // guest's 10th and 11th: one before MOV SS, one held across it).
  const windows: Array<[number, number]> = [[traps[0] - 20, traps[0] + 60], [traps[9] - 10, traps[10] + 10]];
  let booted = bootImage(image, { profile: PROFILE });
  for (const [from, to] of windows) {
    for (let at = from; at <= to; at++) {
      const end = booted.machine.run({ maxInsns: at, timeoutMs: 0 });
      assert.equal(end.kind, 'insn-budget');
      booted = restoreMachine(booted.machine.capture(), { profile: PROFILE });
    }
  }
  const relayed = runBooted(booted, image, { profile: PROFILE });
  assert.deepStrictEqual(relayed, whole);
});

// The same with hardware breakpoints (src/cpu/debug.ts): a stop at every boundary, and
// capture/restore around the breakpoint guest's first #DB (an instruction breakpoint) and its
// last ten (REP STOSB mid-string and last iteration, I/O, general detect, the MOV SS deferral
// past a NOP and past a SYSCALL, TF with a data breakpoint, TF across SYSCALL), where a data
// hit, a held trap or a REP stop is pending at the boundary.
test('breakpoints: stops at every boundary, and capture/restore around its #DBs, change nothing', () => {
  const image = buildTestGuest('breakpoints');
  const dbs: number[] = [];
  const whole = runImage(image, {
    profile: PROFILE,
    trace: (r) => { if (r.kind === 'delivery' && r.vector === 1) dbs.push(r.icount); },
  });
  assert.equal(whole.verdict, 'success');
  assert.ok(dbs.length >= 20, `the guest takes #DBs (${dbs.length})`);

  const stepped = bootImage(image, { profile: PROFILE });
  for (let at = 1; at < whole.instructions; at++) {
    const end = stepped.machine.run({ maxInsns: at, timeoutMs: 0 });
    if (end.kind !== 'insn-budget') break;
  }
  assert.deepStrictEqual(runBooted(stepped, image, { profile: PROFILE }), whole);

  let booted = bootImage(image, { profile: PROFILE });
  for (const db of [dbs[0], ...dbs.slice(-10)]) {
    for (let at = db - 4; at <= db + 4; at++) {
      if (at <= booted.machine.capture().vcpus[0].icount) continue;
      const end = booted.machine.run({ maxInsns: at, timeoutMs: 0 });
      assert.equal(end.kind, 'insn-budget');
      booted = restoreMachine(booted.machine.capture(), { profile: PROFILE });
    }
  }
  assert.deepStrictEqual(runBooted(booted, image, { profile: PROFILE }), whole);
});

// Descriptor-table bases: LGDT, LIDT, LLDT and LTR load any 57-bit canonical base (SDM Vol. 3A
// §4.5; Intel 5-level paging white paper §2.5), such as 0xffaaaaaaaaaaaaaa, which a JS number
// cannot hold exactly. The state carries each base's two halves, and a restore gives them back.
test('descriptor-table bases beyond ±2^53 survive capture and restore exactly', () => {
  const fresh = (): Cpu => new Cpu(new PhysicalMemory(1 << 16), new IoBus(), { vendor: 'intel', fred: false });
  const cpu = fresh();
  cpu.restore(flatProtectedModeState(cpu.capture(), 0)); // power-on real mode is not modelled
  cpu.gdtrBaseLo = 0xaaaaaaaa | 0; cpu.gdtrBaseHi = 0xffaaaaaa | 0;
  cpu.idtrBaseLo = 0xaaaaaaab | 0; cpu.idtrBaseHi = 0xffaaaaaa | 0;
  cpu.ldtrBaseLo = 0x12345679; cpu.ldtrBaseHi = 0x00f54321;
  cpu.trBaseLo = 0x2345678b; cpu.trBaseHi = 0xff0fedcb | 0;
  const state = structuredClone(cpu.capture());
  const copy = fresh();
  copy.restore(state);
  assert.deepStrictEqual(
    [copy.gdtrBaseLo, copy.gdtrBaseHi, copy.idtrBaseLo, copy.idtrBaseHi, copy.ldtrBaseLo, copy.ldtrBaseHi, copy.trBaseLo, copy.trBaseHi],
    [0xaaaaaaaa | 0, 0xffaaaaaa | 0, 0xaaaaaaab | 0, 0xffaaaaaa | 0, 0x12345679, 0x00f54321, 0x2345678b, 0xff0fedcb | 0]);
  assert.deepStrictEqual(copy.capture(), state);
});
