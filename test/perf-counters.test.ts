// AMD's legacy performance-counter MSRs (AMD APM Vol. 2 §13.2.1): PerfEvtSel0-3 and
// PerfCtr0-3 at C001_0000h-C001_0007h exist on every AMD64 processor and hold what
// software writes; the model counts nothing, so enabling a counter is a named model error.
// Intel has no MSRs at those indices: #GP(0).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../src/cpu/cpu.js';
import { ModelError } from '../src/cpu/errors.js';
import { rdmsr, wrmsr } from '../src/cpu/ops/system.js';
import { flatProtectedModeState } from '../src/cpu/state.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';
import * as V from '../src/arch/vectors.js';
import { runExec, u64 } from './helpers/cpu-step.js';

const PERF_EVT_SEL0 = 0xc0010000;
const PERF_CTR0 = 0xc0010004;

function cpuAt(vendor: 'intel' | 'amd'): Cpu {
  const cpu = new Cpu(new PhysicalMemory(1 << 20), new IoBus(), { vendor, fred: false });
  cpu.restore(flatProtectedModeState(cpu.capture(), 0x1000));
  return cpu;
}

function msr(cpu: Cpu, exec: (c: Cpu) => void, index: number, lo = 0, hi = 0): string {
  cpu.regLo[1] = index; cpu.regLo[0] = lo; cpu.regLo[2] = hi;
  return runExec(cpu, exec, 4);
}

test('AMD: PerfEvtSel0-3 and PerfCtr0-3 read 0 at reset, keep what is written and never count', () => {
  const cpu = cpuAt('amd');
  for (let k = 0; k < 8; k++) {
    assert.equal(msr(cpu, rdmsr, PERF_EVT_SEL0 + k), 'ok');
    assert.deepEqual([u64(cpu, 0), u64(cpu, 2)], [0n, 0n]);
  }
  assert.equal(msr(cpu, wrmsr, PERF_EVT_SEL0 + 2, 0x0003_0076, 0), 'ok'); // cycles, User|OS, not enabled
  assert.equal(msr(cpu, wrmsr, PERF_CTR0 + 1, 0x12345678, 0xabcd), 'ok');
  assert.equal(msr(cpu, rdmsr, PERF_EVT_SEL0 + 2), 'ok');
  assert.equal(u64(cpu, 0), 0x30076n);
  assert.equal(msr(cpu, rdmsr, PERF_CTR0 + 1), 'ok');
  assert.deepEqual([u64(cpu, 0), u64(cpu, 2)], [0x12345678n, 0xabcdn]);
});

test('AMD: enabling a counter, a reserved PerfEvtSel bit and bits 63:48 of a counter are model errors', () => {
  const cpu = cpuAt('amd');
  assert.throws(() => msr(cpu, wrmsr, PERF_EVT_SEL0, 0x0043_0076, 0), ModelError);
  assert.throws(() => msr(cpu, wrmsr, PERF_EVT_SEL0 + 1, 1 << 21, 0), ModelError);
  assert.throws(() => msr(cpu, wrmsr, PERF_EVT_SEL0 + 3, 0, 1 << 12), ModelError);
  assert.throws(() => msr(cpu, wrmsr, PERF_CTR0, 0, 0x10000), ModelError);
});

test('Intel: no MSRs at C001_0000h-C001_0007h (#GP(0))', () => {
  const cpu = cpuAt('intel');
  assert.equal(msr(cpu, rdmsr, PERF_EVT_SEL0), `${V.GP}(0)`);
  assert.equal(msr(cpu, wrmsr, PERF_CTR0 + 3, 0, 0), `${V.GP}(0)`);
});
