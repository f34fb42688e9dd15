// Segment-register loads and far jumps at CPL 3 (src/cpu/segments.ts, ops/branch.ts),
// which the segment-loads guest (CPL 0) does not reach. SDM Vol. 2 MOV/POP/LSS
// "Operation" and "64-Bit Mode Exceptions": a null SS is #GP(0) at CPL 3 in every mode;
// SS needs RPL = DPL = CPL; DS/ES/FS/GS need DPL >= max(CPL, RPL) unless the segment is
// readable conforming code. JMP "Operation": a conforming target with DPL <= CPL runs at
// the caller's CPL (CS.RPL = CPL); a non-conforming one needs DPL = CPL.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../src/cpu/cpu.js';
import { Insn } from '../src/cpu/insn.js';
import { FAULT } from '../src/cpu/fault.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';
import { loadSegment } from '../src/cpu/segments.js';
import { jmpFarImm } from '../src/cpu/ops/branch.js';
import * as C from '../src/arch/control.js';
import { CS, SS, DS } from '../src/arch/descriptors.js';
import { flatProtectedModeState } from '../src/cpu/state.js';

const GDT = 0x1000;
// Descriptors by selector: access byte and flags nibble (base 0, limit 0xfffff).
const TABLE: Record<number, [number, number]> = {
  0x08: [0x9a, 0xa], // 64-bit code, DPL 0
  0x10: [0x93, 0xc], // data, DPL 0
  0x18: [0xfb, 0xc], // 32-bit code, DPL 3 (the CPL 3 code segment)
  0x20: [0xf3, 0xc], // data, DPL 3
  0x28: [0x9e, 0xc], // 32-bit readable conforming code, DPL 0
  0x30: [0x9a, 0xc], // 32-bit readable code, DPL 0
};

/** A CPU at CPL 3 in 64-bit mode (long) or compatibility mode. */
function cpl3(long: boolean): Cpu {
  const cpu = new Cpu(new PhysicalMemory(1 << 20), new IoBus(), { vendor: 'intel', fred: false });
  cpu.restore(flatProtectedModeState(cpu.capture(), 0));
  for (const [sel, [access, flags]] of Object.entries(TABLE)) {
    cpu.view.setInt32(GDT + Number(sel), 0x0000ffff, true);
    cpu.view.setInt32(GDT + Number(sel) + 4, (access << 8) | 0x000f0000 | (flags << 20), true);
  }
  cpu.gdtrBaseLo = GDT;
  cpu.gdtrLimit = 0x37;
  cpu.efer |= C.EFER_LME | C.EFER_LMA;
  cpu.segSel[CS] = 0x1b;
  cpu.segAttr[CS] = long ? (0xfb << 8) | (1 << 21) | (1 << 23) : (0xfb << 8) | (1 << 22) | (1 << 23);
  cpu.segSel[SS] = 0x23;
  cpu.segAttr[SS] = (0xf3 << 8) | (1 << 22) | (1 << 23);
  cpu.setCpl(3);
  cpu.modeChanged();
  return cpu;
}

/** 'ok', or the fault as 'vector(error)'. */
function outcome(f: () => void, cpu: Cpu): string {
  try {
    f();
  } catch (e) {
    if (e !== FAULT) throw e;
    return `${cpu.faultVector}(0x${cpu.faultError.toString(16)})`;
  }
  return 'ok';
}

for (const long of [true, false]) {
  const mode = long ? '64-bit mode' : 'compatibility mode';
  test(`${mode}, CPL 3: SS loads`, () => {
    const cpu = cpl3(long);
    const ss = (sel: number): string => outcome(() => loadSegment(cpu, SS, sel), cpu);
    assert.equal(ss(0x03), '13(0x0)', 'null SS at CPL 3');
    assert.equal(ss(0x00), '13(0x0)', 'null SS, RPL 0');
    assert.equal(ss(0x23), 'ok', 'DPL 3 data, RPL 3');
    assert.equal(ss(0x20), '13(0x20)', 'RPL 0 != CPL');
    assert.equal(ss(0x13), '13(0x10)', 'DPL 0 != CPL');
  });

  test(`${mode}, CPL 3: data-segment loads`, () => {
    const cpu = cpl3(long);
    const ds = (sel: number): string => outcome(() => loadSegment(cpu, DS, sel), cpu);
    assert.equal(ds(0x03), 'ok', 'null');
    assert.equal(ds(0x23), 'ok', 'DPL 3 data');
    assert.equal(ds(0x20), 'ok', 'DPL 3 data, RPL 0 (CPL 3 <= DPL 3)');
    assert.equal(ds(0x13), '13(0x10)', 'DPL 0 data');
    assert.equal(ds(0x2b), 'ok', 'readable conforming code, DPL 0');
    assert.equal(ds(0x33), '13(0x30)', 'readable non-conforming code, DPL 0');
  });
}

test('compatibility mode, CPL 3: far JMP to conforming code keeps CPL 3', () => {
  const cpu = cpl3(false);
  const jmp = (sel: number): string => {
    const i = new Insn(jmpFarImm);
    i.osz = 4; i.immLo = 0x1234; i.imm2 = sel;
    return outcome(() => jmpFarImm(cpu, i), cpu);
  };
  assert.equal(jmp(0x28), 'ok');
  assert.equal(cpu.cpl, 3);
  assert.equal(cpu.segSel[CS], 0x2b, 'CS.RPL = CPL');
  assert.equal(jmp(0x33), '13(0x30)', 'non-conforming DPL 0 from CPL 3');
  assert.equal(jmp(0x1b), 'ok', 'non-conforming DPL 3');
  assert.equal(jmp(0x13), '13(0x10)', 'a data segment');
});

// A GDT base that is 57-bit canonical but not 48-bit canonical loads (LGDT checks against the
// processor's 57-bit maximum), but a descriptor fetch through it under 4-level paging is an
// implicit supervisor access to a non-canonical address: #GP(0) (SDM Vol. 1 §3.3.7.1). With
// CR4.LA57 the same address is canonical, and beyond ±2^53 the model says it is not modelled.
test('a selector load through a GDT base that is not 48-bit canonical', () => {
  for (const long of [true, false]) {
    const cpu = cpl3(long);
    cpu.gdtrBaseLo = 0xaaaaaaaa | 0;
    cpu.gdtrBaseHi = 0xffaaaaaa | 0;
    assert.equal(outcome(() => loadSegment(cpu, DS, 0x23), cpu), '13(0x0)', 'non-canonical under 4-level paging');
    cpu.gdtrBaseHi = 0x00008000;
    assert.equal(outcome(() => loadSegment(cpu, DS, 0x23), cpu), '13(0x0)', 'just past the 48-bit range');
    cpu.cr4 |= C.CR4_LA57;
    cpu.gdtrBaseHi = 0xffaaaaaa | 0;
    assert.throws(() => loadSegment(cpu, DS, 0x23), /beyond ±2\^53 is not modelled/, 'LA57, beyond ±2^53');
  }
});
