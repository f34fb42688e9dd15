// A guest may do anything and the run still ends with a verdict (README.md, "ringside
// run": the verdict rules). Each case is a few bytes of 32-bit code entered in the PVH state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPvhImage } from './helpers/pvh-image.js';
import { runImage, type RunResult } from '../src/lab/run.js';

const dir = mkdtempSync(join(tmpdir(), 'ringside-ends-'));
let n = 0;

function run(code: number[], opts: { maxInsns?: number; timeoutMs?: number } = {}): RunResult {
  const path = join(dir, `case${n++}.elf`);
  writeFileSync(path, buildPvhImage({ code }));
  return runImage(path, { profile: 'native/idt', ...opts });
}

const imm32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
const exitWith = (v: number): number[] => [0xb8, ...imm32(v), 0xe7, 0xf4, 0xfa, 0xf4]; // mov $v,%eax; out %eax,$0xf4; cli; hlt

test('an exit-port write of 0 is success, 38 skip, anything else failure', () => {
  assert.equal(run(exitWith(0)).verdict, 'success');
  assert.equal(run(exitWith(38)).verdict, 'skip');
  const f = run(exitWith(3));
  assert.equal(f.verdict, 'failure');
  assert.equal(f.exitValue, 3);
});

test('console bytes on port 0xE9 reach the console', () => {
  const r = run([0xb0, 0x48, 0xe6, 0xe9, 0xb0, 0x69, 0xe6, 0xe9, ...exitWith(0)]); // mov $'H',%al; out %al,$0xe9 ...
  assert.equal(r.console, 'Hi');
});

test('an infinite loop ends at the instruction budget as a timeout', () => {
  const r = run([0xeb, 0xfe], { maxInsns: 100_000 }); // jmp .
  assert.equal(r.verdict, 'timeout');
  assert.equal(r.instructions, 100_000);
});

test('an infinite loop ends at the wall-clock limit as a timeout', () => {
  const started = Date.now();
  const r = run([0xeb, 0xfe], { timeoutMs: 300 });
  assert.equal(r.verdict, 'timeout');
  assert.ok(Date.now() - started < 5000);
});

test('a fault with no IDT escalates to a triple fault: crash (SDM Vol. 3 §6.15, Interrupt 8)', () => {
  // ud2 at entry: the IDT limit is 0, so #UD -> #GP (beyond limit) -> #DF -> shutdown.
  const r = run([0x0f, 0x0b]);
  assert.equal(r.verdict, 'crash');
  assert.match(r.reason, /triple fault/);
  assert.equal(r.instructions, 0);
});

test('HLT with interrupts disabled and nothing pending is a crash (halted without a result)', () => {
  const r = run([0xfa, 0xf4]);
  assert.equal(r.verdict, 'crash');
  assert.match(r.reason, /halt/);
  assert.equal(r.instructions, 2);
});

test('a REP STOSB with a 4 GiB count still ends at the budget', () => {
  // mov $-1,%ecx; mov $0x200000,%edi; rep stosb
  const r = run([0xb9, ...imm32(-1), 0xbf, ...imm32(0x200000), 0xf3, 0xaa], { maxInsns: 1_000_000 });
  assert.equal(r.verdict, 'timeout');
  assert.ok(r.instructions <= 1_000_000);
});

test('random bytes as code always end with a verdict, never an internal error', () => {
  let seed = 12345;
  const rand = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed >>> 24; };
  const verdicts = new Set<string>();
  for (let k = 0; k < 40; k++) {
    const code = Array.from({ length: 256 }, rand);
    const r = run(code, { maxInsns: 200_000 });
    assert.notEqual(r.verdict, 'internal');
    verdicts.add(r.verdict);
  }
  assert.ok(verdicts.size >= 1);
});

test('the same image gives the same console, count and registers every time (Determinism)', () => {
  const code = [0xb9, ...imm32(1000), 0x01, 0xc8, 0xe2, 0xfc, ...exitWith(0)]; // loop: add %ecx,%eax; loop
  const a = run(code), b = run(code);
  assert.deepEqual({ ...a, image: '' }, { ...b, image: '' });
});
