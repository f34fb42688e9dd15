// SYSCALL, SYSRET and SWAPGS on the CPU directly, against the SDM's "Operation" sections
// (Vol. 2B SYSCALL, SYSRET, SWAPGS) and, for the AMD flavour, the APM's (Vol. 3). Linux's
// MSR layout: STAR[47:32] = 0x10 (kernel CS; SS = 0x18), STAR[63:48] = 0x23 (SYSRET: CS
// 0x23 for compatibility mode, 0x33 for 64-bit mode, SS 0x2b), FMASK = TF|DF|IF|IOPL|AC|NT.
// Guest tests under a Linux-style kernel, also run under QEMU, are still to come.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../src/cpu/cpu.js';
import type { Insn } from '../src/cpu/insn.js';
import { runExec, u64 } from './helpers/cpu-step.js';
import { Msr } from '../src/cpu/msrs.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';
import { syscall, sysret, swapgs } from '../src/cpu/syscall.js';
import { flatProtectedModeState } from '../src/cpu/state.js';
import { CS, SS, GS } from '../src/arch/descriptors.js';
import * as V from '../src/arch/vectors.js';

const LSTAR_HI = 0xffffffff | 0, LSTAR_LO = 0x81000000 | 0;
const CSTAR_LO = 0x81000040 | 0;
const FMASK = 0x47700;
const CODE64 = 0xa09b00, DATA = 0xc09300, CODE32 = 0xc09b00, DPL3 = 3 << 13;

/** A vCPU in long mode, EFER.SCE = 1, with Linux's STAR/LSTAR/CSTAR/FMASK, at `cpl` in
 *  64-bit mode (or compatibility mode). */
function cpuAt(vendor: 'intel' | 'amd', cpl: number, compat = false): Cpu {
  const cpu = new Cpu(new PhysicalMemory(1 << 20), new IoBus(), { vendor, fred: false });
  const s = flatProtectedModeState(cpu.capture(), 0x1000);
  s.cr0 = 0x80000011; s.cr4 = 0x20; s.efer = 0x501; s.cpl = cpl;
  const dpl = cpl === 3 ? DPL3 : 0;
  s.segments[CS] = { sel: cpl === 3 ? (compat ? 0x23 : 0x33) : 0x10, baseLo: 0, baseHi: 0, limit: -1, attr: (compat ? CODE32 : CODE64) | dpl };
  s.segments[SS] = { sel: cpl === 3 ? 0x2b : 0x18, baseLo: 0, baseHi: 0, limit: -1, attr: DATA | dpl };
  s.msrs.star = [0, (0x23 << 16) | 0x10];
  s.msrs.lstar = [LSTAR_LO, LSTAR_HI];
  s.msrs.cstar = [CSTAR_LO, LSTAR_HI];
  s.msrs.fmask = [FMASK, 0];
  s.rflags = 0x346; // TF, IF, ZF, PF
  cpu.restore(s);
  cpu.nextRip = 0x1002;
  return cpu;
}

const run = (cpu: Cpu, exec: (c: Cpu, i: Insn) => void, osz = 8): string => runExec(cpu, exec, osz);


for (const vendor of ['intel', 'amd'] as const) {
  test(`${vendor}: SYSCALL from 64-bit CPL 3: RCX, R11, LSTAR, FMASK, the STAR selectors with fixed attributes`, () => {
    const cpu = cpuAt(vendor, 3);
    assert.equal(run(cpu, syscall), 'ok');
    assert.equal(u64(cpu, 1), 0x1002n, 'RCX: the next instruction');
    assert.equal(u64(cpu, 11), 0x346n, 'R11: RFLAGS');
    assert.equal(cpu.rip, LSTAR_HI * 2 ** 32 + (LSTAR_LO >>> 0));
    assert.equal(cpu.getFlags(), 0x346 & ~FMASK);
    assert.equal(cpu.cpl, 0);
    assert.deepEqual([cpu.segSel[CS], cpu.segAttr[CS], cpu.segLimit[CS], cpu.segBaseLo[CS]], [0x10, CODE64, -1, 0]);
    assert.deepEqual([cpu.segSel[SS], cpu.segAttr[SS], cpu.segLimit[SS]], [0x18, DATA, -1]);
    assert.equal(cpu.transitions, 1);
  });

  test(`${vendor}: SYSCALL and SYSRET are #UD with EFER.SCE = 0`, () => {
    const cpu = cpuAt(vendor, 0);
    cpu.efer &= ~1;
    assert.equal(run(cpu, syscall), `${V.UD}(0)`);
    assert.equal(run(cpu, sysret), `${V.UD}(0)`);
  });

  test(`${vendor}: SYSRET at CPL 3 is #GP(0); SWAPGS at CPL 3 is #GP(0), outside 64-bit mode #UD`, () => {
    assert.equal(run(cpuAt(vendor, 3), sysret), `${V.GP}(0)`);
    assert.equal(run(cpuAt(vendor, 3), swapgs), `${V.GP}(0)`);
    assert.equal(run(cpuAt(vendor, 3, true), swapgs), `${V.UD}(0)`);
  });

  test(`${vendor}: SYSRET with REX.W: CS = STAR[63:48] + 16 | 3 (64-bit), SS = + 8 | 3, RIP = RCX, RFLAGS = R11 & 3C7FD7H | 2`, () => {
    const cpu = cpuAt(vendor, 0);
    cpu.regLo[1] = 0x00401000; cpu.regHi[1] = 0x7fff;
    cpu.regLo[11] = -1; cpu.regHi[11] = -1;
    assert.equal(run(cpu, sysret), 'ok');
    assert.equal(cpu.rip, 0x7fff00401000);
    assert.equal(cpu.getFlags(), 0x3c7fd7);
    assert.equal(cpu.cpl, 3);
    assert.deepEqual([cpu.segSel[CS], cpu.segAttr[CS]], [0x33, CODE64 | DPL3]);
    assert.equal(cpu.segSel[SS], 0x2b);
    // Intel loads SS's fixed attributes; AMD loads only the selector (APM SYSRET).
    assert.equal(cpu.segAttr[SS], vendor === 'intel' ? DATA | DPL3 : DATA);
  });

  test(`${vendor}: SYSRET without REX.W returns to compatibility mode: CS = STAR[63:48] | 3, RIP = ECX`, () => {
    const cpu = cpuAt(vendor, 0);
    cpu.regLo[1] = 0x08048000 | 0; cpu.regHi[1] = 0x1234;
    assert.equal(run(cpu, sysret, 4), 'ok');
    assert.equal(cpu.rip, 0x08048000);
    assert.deepEqual([cpu.segSel[CS], cpu.segAttr[CS]], [0x23, CODE32 | DPL3]);
  });

  test(`${vendor}: SWAPGS exchanges GS.base and IA32_KERNEL_GS_BASE`, () => {
    const cpu = cpuAt(vendor, 0);
    cpu.segBaseLo[GS] = 0x1000; cpu.segBaseHi[GS] = 0;
    cpu.msrLo[Msr.KernelGsBase] = 0x2000; cpu.msrHi[Msr.KernelGsBase] = 0xffff8880 | 0;
    assert.equal(run(cpu, swapgs), 'ok');
    assert.deepEqual([cpu.segBaseLo[GS], cpu.segBaseHi[GS] >>> 0], [0x2000, 0xffff8880]);
    assert.deepEqual([cpu.msrLo[Msr.KernelGsBase], cpu.msrHi[Msr.KernelGsBase]], [0x1000, 0]);
  });
}

test('Intel: SYSCALL from compatibility mode is #UD; AMD: it enters at IA32_CSTAR with RCX = EIP', () => {
  assert.equal(run(cpuAt('intel', 3, true), syscall), `${V.UD}(0)`);
  const cpu = cpuAt('amd', 3, true);
  assert.equal(run(cpu, syscall), 'ok');
  assert.equal(cpu.rip, LSTAR_HI * 2 ** 32 + (CSTAR_LO >>> 0));
  assert.equal(u64(cpu, 1), 0x1002n);
});

test('SYSRET to a non-canonical RCX: Intel #GP(0) at CPL 0 with nothing changed; AMD returns to CPL 3', () => {
  const intel = cpuAt('intel', 0);
  intel.regLo[1] = 0; intel.regHi[1] = 0x8000; // 0x0000800000000000
  assert.equal(run(intel, sysret), `${V.GP}(0)`);
  assert.deepEqual([intel.cpl, intel.segSel[CS], intel.rip, intel.transitions], [0, 0x10, 0x1000, 0]);
  const amd = cpuAt('amd', 0);
  amd.regLo[1] = 0; amd.regHi[1] = 0x8000;
  assert.equal(run(amd, sysret), 'ok');
  assert.deepEqual([amd.cpl, amd.segSel[CS], amd.rip], [3, 0x33, 2 ** 47]);
});
