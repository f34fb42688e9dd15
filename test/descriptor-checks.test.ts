// LAR, LSL, VERR, VERW (src/cpu/ops/descriptor-checks.ts) where no guest reaches: the
// protected-mode type tables (the guests run in IA-32e mode), the AMD flavour, and CPL 3.
// SDM Vol. 2 LAR/LSL Table "Segment and Gate Types": in protected mode LAR accepts system
// types 1, 2, 3, 4, 5, 9, B, C and LSL 1, 2, 3, 9, B; in IA-32e mode LAR 9, B, C and LSL
// 2, 9, B. AMD: in long mode LAR also accepts an LDT (the long-mode system types of APM Vol. 2
// §4.8.3 Table 4-6; the Vol. 3 LAR/LSL pages were not available here), and a system descriptor
// is valid only if the S and type fields of its upper 8 bytes are zero (§4.8.3, Figure 4-22).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../src/cpu/cpu.js';
import { Insn } from '../src/cpu/insn.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';
import { lar, lsl, verify } from '../src/cpu/ops/descriptor-checks.js';
import { getZF } from '../src/cpu/flags.js';
import * as C from '../src/arch/control.js';
import { CS } from '../src/arch/descriptors.js';
import { flatProtectedModeState } from '../src/cpu/state.js';

const GDT = 0x1000;
const SCRATCH = 0x20;

function makeCpu(vendor: 'intel' | 'amd', longMode: boolean, cpl = 0): Cpu {
  const cpu = new Cpu(new PhysicalMemory(1 << 20), new IoBus(), { vendor, fred: false });
  cpu.restore(flatProtectedModeState(cpu.capture(), 0));
  cpu.gdtrBaseLo = GDT;
  cpu.gdtrLimit = 0x3f;
  if (longMode) {
    cpu.efer |= C.EFER_LME | C.EFER_LMA;
    cpu.segAttr[CS] = (cpu.segAttr[CS] & ~(1 << 22)) | (1 << 21); // L = 1, D = 0: 64-bit mode
  }
  cpu.segAttr[CS] = (cpu.segAttr[CS] & ~(3 << 13)) | (cpl << 13);
  cpu.setCpl(cpl);
  cpu.modeChanged();
  return cpu;
}

/** Write the descriptor at SCRATCH: access byte, flags nibble, and its upper 8 bytes' dword 3. */
function put(cpu: Cpu, access: number, upperType = 0): void {
  cpu.view.setInt32(GDT + SCRATCH, 0x0000ffff, true);
  cpu.view.setInt32(GDT + SCRATCH + 4, (access << 8) | 0x000f0000, true);
  cpu.view.setInt32(GDT + SCRATCH + 8, 0, true);
  cpu.view.setInt32(GDT + SCRATCH + 12, upperType << 8, true);
}

/** Run one instruction with the selector in ECX, the destination EAX preset; returns ZF and EAX. */
function run(cpu: Cpu, exec: (c: Cpu, i: Insn) => void, sel: number, op = 0): { zf: boolean; eax: number } {
  const i = new Insn(exec);
  i.osz = 4; i.reg = 0; i.rm = 1; i.mem = false; i.op = op;
  cpu.regLo[0] = 0x5a5a5a5a;
  cpu.regLo[1] = sel;
  exec(cpu, i);
  return { zf: getZF(cpu), eax: cpu.regLo[0] >>> 0 };
}

const accepts = (cpu: Cpu, exec: (c: Cpu, i: Insn) => void): number[] =>
  Array.from({ length: 16 }, (_, t) => t).filter((t) => { put(cpu, 0x80 | t); return run(cpu, exec, SCRATCH).zf; });

test('protected mode: LAR and LSL accept the legacy system types', () => {
  const cpu = makeCpu('intel', false);
  assert.deepEqual(accepts(cpu, lar), [1, 2, 3, 4, 5, 9, 0xb, 0xc]);
  assert.deepEqual(accepts(cpu, lsl), [1, 2, 3, 9, 0xb]);
});

test('IA-32e mode, Intel: LAR accepts 64-bit TSS and call gate only, LSL also the LDT', () => {
  const cpu = makeCpu('intel', true);
  assert.deepEqual(accepts(cpu, lar), [9, 0xb, 0xc]);
  assert.deepEqual(accepts(cpu, lsl), [2, 9, 0xb]);
  put(cpu, 0x82, 0x1f); // a non-zero upper type field is not checked on Intel
  assert.equal(run(cpu, lsl, SCRATCH).zf, true);
});

test('IA-32e mode, AMD: LAR accepts the LDT; the upper type field must be zero', () => {
  const cpu = makeCpu('amd', true);
  assert.deepEqual(accepts(cpu, lar), [2, 9, 0xb, 0xc]);
  assert.deepEqual(accepts(cpu, lsl), [2, 9, 0xb]);
  put(cpu, 0x89, 0x01);
  assert.deepEqual(run(cpu, lar, SCRATCH), { zf: false, eax: 0x5a5a5a5a });
  // A 16-byte descriptor whose upper half lies past the GDT limit is rejected too.
  cpu.gdtrLimit = SCRATCH + 7;
  put(cpu, 0x89);
  assert.equal(run(cpu, lar, SCRATCH).zf, false);
});

test('CPL 3: DPL < CPL hides a descriptor, except conforming code from LAR/LSL/VERR', () => {
  const cpu = makeCpu('intel', true, 3);
  put(cpu, 0x93); // data, DPL 0
  assert.deepEqual([run(cpu, lar, SCRATCH | 3).zf, run(cpu, verify, SCRATCH | 3, 0).zf], [false, false]);
  put(cpu, 0xf3); // data, DPL 3
  assert.deepEqual([run(cpu, lar, SCRATCH | 3).zf, run(cpu, verify, SCRATCH | 3, 1).zf], [true, true]);
  put(cpu, 0x9e); // conforming readable code, DPL 0
  assert.deepEqual([run(cpu, lar, SCRATCH | 3).zf, run(cpu, lsl, SCRATCH | 3).zf, run(cpu, verify, SCRATCH | 3, 0).zf],
    [true, true, true]);
  put(cpu, 0x9a); // non-conforming readable code, DPL 0
  assert.deepEqual([run(cpu, lar, SCRATCH | 3).zf, run(cpu, verify, SCRATCH | 3, 0).zf], [false, false]);
  put(cpu, 0xeb); // TSS, DPL 3: visible
  assert.equal(run(cpu, lar, SCRATCH | 3).eax, 0xeb00);
});
