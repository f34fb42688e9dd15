// CR4.UMIP (SDM Vol. 3A §2.5; SGDT, SIDT, SLDT, SMSW, STR "Protected Mode Exceptions"):
// with UMIP set these five instructions raise #GP(0) when CPL > 0, before touching their
// operand; at CPL 0, or with UMIP clear, they run. The CPL 3 half has no guest yet (it
// needs the ring-3 guest library), so it is checked here on the CPU directly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../src/cpu/cpu.js';
import { Insn } from '../src/cpu/insn.js';
import { FAULT } from '../src/cpu/fault.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';
import { storeTable, storeSelector, smsw } from '../src/cpu/ops/system.js';
import * as C from '../src/arch/control.js';
import * as V from '../src/arch/vectors.js';
import { flatProtectedModeState } from '../src/cpu/state.js';

const FORMS: [string, (c: Cpu, i: Insn) => void, number, boolean][] = [
  ['SGDT', storeTable, 0, true], ['SIDT', storeTable, 1, true],
  ['SLDT', storeSelector, 0, false], ['STR', storeSelector, 1, false], ['SMSW', smsw, 0, false],
];

/** Run one form at `cpl` with CR4.UMIP = `umip`; returns 'vector(error)' raised, or 'none'. */
function attempt(exec: (c: Cpu, i: Insn) => void, op: number, mem: boolean, cpl: number, umip: boolean): string {
  const cpu = new Cpu(new PhysicalMemory(1 << 20), new IoBus(), { vendor: 'intel', fred: false });
  cpu.restore(flatProtectedModeState(cpu.capture(), 0));
  if (umip) cpu.cr4 |= C.CR4_UMIP;
  cpu.setCpl(cpl);
  const i = new Insn(exec);
  i.op = op; i.osz = 4; i.asz = 4; i.mem = mem; i.rm = 0; i.dispLo = 0x2000; i.memSize = 6;
  try {
    exec(cpu, i);
  } catch (e) {
    if (e !== FAULT) throw e;
    return `${cpu.faultVector}(${cpu.faultError})`;
  }
  return 'none';
}

for (const [name, exec, op, mem] of FORMS) {
  test(`${name}: #GP(0) at CPL 3 with CR4.UMIP = 1, and only then`, () => {
    assert.equal(attempt(exec, op, mem, 3, true), `${V.GP}(0)`);
    assert.equal(attempt(exec, op, mem, 0, true), 'none');
    assert.equal(attempt(exec, op, mem, 3, false), 'none');
  });
}
