// The decode cache belongs to physical memory's coherence, not to one vCPU: a write by
// one vCPU to a page another has decoded code from must be seen by the other (SDM Vol. 3A
// §9.1.3, cross-modifying code: the architecture requires the new bytes to be executed
// once the writing processor's store is visible and the executing one serialises; a model
// that executes instructions one at a time must simply never run stale decodes).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cpu } from '../src/cpu/cpu.js';
import { flatProtectedModeState } from '../src/cpu/state.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';

const CODE = 0x1000;

test('a write by one vCPU invalidates code another vCPU has cached', () => {
  const mem = new PhysicalMemory(1 << 20);
  const io = new IoBus();
  const a = new Cpu(mem, io, { vendor: 'intel', fred: false });
  const b = new Cpu(mem, io, { vendor: 'intel', fred: false });
  for (const cpu of [a, b]) cpu.restore(flatProtectedModeState(cpu.capture(), CODE));
  // mov eax, 1; hlt
  mem.write(CODE, Uint8Array.of(0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4));

  const runA = (): number => {
    a.restore(flatProtectedModeState(a.capture(), CODE));
    assert.equal(a.run(100), 'halted');
    return a.regLo[0];
  };
  assert.equal(runA(), 1);
  assert.equal(runA(), 1, 'decoded once, run from the cache');

  // vCPU B stores a new immediate through its own write path (paging off: linear = physical).
  b.write8(CODE + 1, 0x02);
  assert.equal(runA(), 2, 'vCPU A executed the stale decode');
});
