// SYSENTER, SYSEXIT, IA32_TSC_AUX, RDTSCP and RDPID on the CPU directly, step by step against
// the SDM's "Operation" sections (Vol. 2B SYSENTER, SYSEXIT, Vol. 2B RDTSCP, RDPID; Vol. 4
// IA32_TSC_AUX) and, for the AMD flavour, the APM's (Vol. 3 SYSENTER, SYSEXIT: #UD in long
// mode). Linux's MSR layout: IA32_SYSENTER_CS = 0x10 (kernel CS 0x10, SS 0x18; SYSEXIT: CS
// 0x23 / SS 0x2b to compatibility mode, CS 0x33 / SS 0x3b to 64-bit mode). The guest
// guests/sysenter does the same round trips from 32-bit and 64-bit user code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../src/cpu/cpu.js';
import { Mode } from '../src/cpu/mode.js';
import type { Insn } from '../src/cpu/insn.js';
import { runExec, runInsn, u64 } from './helpers/cpu-step.js';
import { Msr } from '../src/cpu/msrs.js';
import { decode } from '../src/cpu/decoder.js';
import { mnemonicOf } from '../src/cpu/opcodes.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';
import { sysenter, sysexit } from '../src/cpu/sysenter.js';
import { rdmsr, wrmsr, rdtscp } from '../src/cpu/ops/system.js';
import { flatProtectedModeState } from '../src/cpu/state.js';
import type { TransitionRecord } from '../src/cpu/transition.js';
import { CS, SS } from '../src/arch/descriptors.js';
import * as M from '../src/arch/msr.js';
import * as C from '../src/arch/control.js';
import * as V from '../src/arch/vectors.js';

const CODE64 = 0xa09b00, CODE32 = 0xc09b00, DATA = 0xc09300, DPL3 = 3 << 13;
const TF = 1 << 8, IF = 1 << 9, RF = 1 << 16;
const ESP_LO = 0x00003000, ESP_HI = 0xffff8880 | 0; // IA32_SYSENTER_ESP 0xffff888000003000
const EIP_LO = 0x81000080 | 0, EIP_HI = 0xffffffff | 0; // IA32_SYSENTER_EIP 0xffffffff81000080
const EIP64 = EIP_HI * 2 ** 32 + (EIP_LO >>> 0);

type Vendor = 'intel' | 'amd';
type Where = 'long64' | 'compat' | 'legacy';

/** A vCPU at `cpl` in 64-bit mode, compatibility mode (EFER.LMA = 1) or legacy 32-bit protected
 *  mode (no paging), with IA32_SYSENTER_CS/ESP/EIP as Linux sets them and RFLAGS TF|IF|RF|ZF|PF. */
function cpuAt(vendor: Vendor, where: Where, cpl: number, sysenterCs = 0x10): Cpu {
  const cpu = new Cpu(new PhysicalMemory(1 << 20), new IoBus(), { vendor, fred: false });
  const s = flatProtectedModeState(cpu.capture(), 0x1000);
  const dpl = cpl === 3 ? DPL3 : 0;
  if (where !== 'legacy') { s.cr0 = 0x80000011; s.cr4 = 0x20; s.efer = 0x501; }
  const code = where === 'long64' ? CODE64 : CODE32;
  const sel = cpl === 3 ? (where === 'long64' ? 0x33 : 0x23) : 0x10;
  s.segments[CS] = { sel, baseLo: 0, baseHi: 0, limit: -1, attr: code | dpl };
  s.segments[SS] = { sel: cpl === 3 ? 0x2b : 0x18, baseLo: 0, baseHi: 0, limit: -1, attr: DATA | dpl };
  s.cpl = cpl;
  s.msrs.sysenterCs = [sysenterCs, 0];
  s.msrs.sysenterEsp = [ESP_LO, ESP_HI];
  s.msrs.sysenterEip = [EIP_LO, EIP_HI];
  s.rflags = 0x10346; // RF, IF, TF, ZF, PF
  cpu.restore(s);
  cpu.nextRip = 0x1002;
  return cpu;
}

const run = (cpu: Cpu, exec: (c: Cpu, i: Insn) => void, osz = 4): string => runExec(cpu, exec, osz);

const seg = (cpu: Cpu, s: number): [number, number, number, number, number] =>
  [cpu.segSel[s], cpu.segAttr[s], cpu.segLimit[s], cpu.segBaseLo[s], cpu.segBaseHi[s]];
/** The state a faulting instruction must leave untouched. */
const snapshot = (cpu: Cpu): unknown[] =>
  [cpu.cpl, cpu.mode, seg(cpu, CS), seg(cpu, SS), u64(cpu, 4), cpu.rip, cpu.getFlags(), cpu.transitions];

// ---- SYSENTER

for (const where of ['long64', 'compat'] as const) {
  test(`Intel: SYSENTER from ${where === 'long64' ? '64-bit' : 'compatibility'} mode at CPL 3 enters 64-bit mode at CPL 0 ` +
    '(CS = SYSENTER_CS & FFFCH flat L = 1, SS = CS + 8 flat B = 1, RSP/RIP = the full MSRs, VM/IF/RF cleared)', () => {
    const cpu = cpuAt('intel', where, 3, 0x13); // RPL bits in the MSR: forced to 0
    cpu.regLo[1] = 0x1111; cpu.regLo[11] = 0x2222;
    assert.equal(run(cpu, sysenter), 'ok');
    assert.equal(cpu.cpl, 0);
    assert.equal(cpu.mode, Mode.Long64);
    // Fixed hidden parts: base 0, limit 4 GiB (G = 1), type 11 / 3, DPL 0 (SDM SYSENTER "Operation").
    assert.deepEqual(seg(cpu, CS), [0x10, CODE64, -1, 0, 0]);
    assert.deepEqual(seg(cpu, SS), [0x18, DATA, -1, 0, 0]);
    assert.equal(u64(cpu, 4), 0xffff888000003000n, 'RSP := IA32_SYSENTER_ESP');
    assert.equal(cpu.rip, EIP64, 'RIP := IA32_SYSENTER_EIP');
    assert.equal(cpu.getFlags(), 0x10346 & ~(IF | RF), 'IF and RF cleared');
    assert.equal(cpu.getFlags() & TF, TF, 'TF is not cleared: a single step traps at the entry point');
    // Nothing saved: RCX and R11 keep their values (unlike SYSCALL).
    assert.deepEqual([u64(cpu, 1), u64(cpu, 11)], [0x1111n, 0x2222n]);
    assert.equal(cpu.transitions, 1);
  });
}

for (const vendor of ['intel', 'amd'] as const) {
  test(`${vendor}: SYSENTER in legacy protected mode (a 32-bit kernel): CS flat 32-bit (D = 1, L = 0), ESP/EIP = MSR bits 31:0`, () => {
    const cpu = cpuAt(vendor, 'legacy', 3);
    assert.equal(run(cpu, sysenter), 'ok');
    assert.equal(cpu.cpl, 0);
    assert.equal(cpu.mode, Mode.Protected32);
    assert.deepEqual(seg(cpu, CS), [0x10, CODE32, -1, 0, 0]);
    assert.deepEqual(seg(cpu, SS), [0x18, DATA, -1, 0, 0]);
    assert.equal(u64(cpu, 4), BigInt(ESP_LO), 'ESP := IA32_SYSENTER_ESP[31:0]');
    assert.equal(cpu.rip, EIP_LO >>> 0, 'EIP := IA32_SYSENTER_EIP[31:0]');
    assert.equal(cpu.getFlags(), 0x10346 & ~(IF | RF));
  });

  test(`${vendor}: SYSENTER and SYSEXIT are #GP(0) when IA32_SYSENTER_CS[15:2] = 0, whatever bits 1:0 and 31:16`, () => {
    for (const msr of [0, 1, 2, 3, 0x10000, 0x10003]) {
      const cpu = cpuAt(vendor, 'legacy', 3, msr);
      const before = snapshot(cpu);
      assert.equal(run(cpu, sysenter), `${V.GP}(0)`, `SYSENTER_CS ${msr.toString(16)}`);
      assert.deepEqual(snapshot(cpu), before, 'nothing changed');
      assert.equal(run(cpuAt(vendor, 'legacy', 0, msr), sysexit), `${V.GP}(0)`, `SYSEXIT, SYSENTER_CS ${msr.toString(16)}`);
    }
    // 4 is the first non-null selector: GDT index 0 with TI = 1 (an LDT selector) is not null.
    assert.equal(run(cpuAt(vendor, 'legacy', 3, 4), sysenter), 'ok');
    assert.equal(run(cpuAt(vendor, 'legacy', 0, 4), sysexit), 'ok');
  });

  test(`${vendor}: SYSEXIT at CPL 3 in legacy protected mode is #GP(0)`, () => {
    const cpu = cpuAt(vendor, 'legacy', 3);
    const before = snapshot(cpu);
    assert.equal(run(cpu, sysexit), `${V.GP}(0)`);
    assert.deepEqual(snapshot(cpu), before);
  });

  test(`${vendor}: SYSEXIT in legacy protected mode: CS = SYSENTER_CS + 16 | 3 flat 32-bit DPL 3, SS = + 24 | 3, ESP = ECX, EIP = EDX`, () => {
    const cpu = cpuAt(vendor, 'legacy', 0);
    cpu.regLo[1] = 0x00012340; cpu.regLo[2] = 0x08048000;
    assert.equal(run(cpu, sysexit), 'ok');
    assert.equal(cpu.cpl, 3);
    assert.equal(cpu.mode, Mode.Protected32);
    assert.deepEqual(seg(cpu, CS), [0x23, CODE32 | DPL3, -1, 0, 0]);
    assert.deepEqual(seg(cpu, SS), [0x2b, DATA | DPL3, -1, 0, 0]);
    assert.deepEqual([u64(cpu, 4), cpu.rip], [0x12340n, 0x08048000]);
    // SS.B = 1 in the fixed hidden part: the stack is 32-bit, so a push below ESP = 0x12340
    // lands at 0x1233c, not at 0x233c as a 16-bit stack (SP) would put it (SDM Vol. 3A §3.4.5).
    cpu.push(4, 0x5a5a5a5a, 0);
    assert.equal(u64(cpu, 4), 0x1233cn);
    assert.equal(cpu.mem.bytes[0x1233c], 0x5a);
    assert.equal(cpu.mem.bytes[0x233c], 0);
  });
}

test('AMD: SYSENTER and SYSEXIT are #UD in long mode, in 64-bit and in compatibility mode, at CPL 3 and at CPL 0', () => {
  for (const where of ['long64', 'compat'] as const) {
    for (const cpl of [0, 3]) {
      for (const [name, exec, osz] of [['SYSENTER', sysenter, 4], ['SYSEXIT', sysexit, 4], ['SYSEXIT REX.W', sysexit, 8]] as const) {
        if (where === 'compat' && osz === 8) continue; // no REX in compatibility mode
        const cpu = cpuAt('amd', where, cpl);
        const before = snapshot(cpu);
        assert.equal(run(cpu, exec, osz), `${V.UD}(0)`, `${name} ${where} CPL ${cpl}`);
        assert.deepEqual(snapshot(cpu), before);
      }
    }
  }
  // #UD comes first: with a null IA32_SYSENTER_CS it is still #UD, not #GP.
  assert.equal(run(cpuAt('amd', 'compat', 3, 0), sysenter), `${V.UD}(0)`);
});

// ---- SYSEXIT in IA-32e mode (Intel)

test('Intel: SYSEXIT at CPL 3 in 64-bit mode is #GP(0) (the oracle host, AMD, raises #UD)', () => {
  for (const osz of [4, 8]) {
    const cpu = cpuAt('intel', 'long64', 3);
    const before = snapshot(cpu);
    assert.equal(run(cpu, sysexit, osz), `${V.GP}(0)`);
    assert.deepEqual(snapshot(cpu), before);
  }
});

test('Intel: SYSEXIT with REX.W returns to 64-bit mode: CS = SYSENTER_CS + 32 | 3 (L = 1), SS = + 40 | 3, RSP = RCX, RIP = RDX, RFLAGS kept but RF', () => {
  const cpu = cpuAt('intel', 'long64', 0);
  cpu.regLo[1] = 0x7ffff000 | 0; cpu.regHi[1] = 0x7fff; // RCX: the user stack
  cpu.regLo[2] = 0x00401000; cpu.regHi[2] = 0x7f00; // RDX: the return RIP
  assert.equal(run(cpu, sysexit, 8), 'ok');
  assert.equal(cpu.cpl, 3);
  assert.equal(cpu.mode, Mode.Long64);
  assert.deepEqual(seg(cpu, CS), [0x33, CODE64 | DPL3, -1, 0, 0]);
  assert.deepEqual(seg(cpu, SS), [0x3b, DATA | DPL3, -1, 0, 0]);
  assert.equal(u64(cpu, 4), 0x7fff7ffff000n);
  assert.equal(cpu.rip, 0x7f0000401000);
  assert.equal(cpu.getFlags(), 0x10346 & ~RF, 'SYSEXIT loads no flags; RF ends with the instruction');
  assert.equal(cpu.transitions, 1);
});

test('Intel: SYSEXIT without REX.W in IA-32e mode returns to compatibility mode: CS + 16 | 3 (D = 1), SS + 24 | 3, RSP = ECX, RIP = EDX', () => {
  const cpu = cpuAt('intel', 'long64', 0);
  cpu.regLo[1] = 0xffffd000 | 0; cpu.regHi[1] = 0x1234; // upper halves are not used
  cpu.regLo[2] = 0x08049000; cpu.regHi[2] = 0x5678;
  assert.equal(run(cpu, sysexit, 4), 'ok');
  assert.equal(cpu.mode, Mode.Compat32);
  assert.deepEqual(seg(cpu, CS), [0x23, CODE32 | DPL3, -1, 0, 0]);
  assert.deepEqual(seg(cpu, SS), [0x2b, DATA | DPL3, -1, 0, 0]);
  assert.deepEqual([u64(cpu, 4), cpu.rip], [0xffffd000n, 0x08049000]);
});

test('Intel: SYSEXIT with REX.W and a non-canonical RCX or RDX is #GP(0) at CPL 0, nothing changed', () => {
  for (const reg of [1, 2]) {
    const cpu = cpuAt('intel', 'long64', 0);
    cpu.regLo[1] = 0x1000; cpu.regLo[2] = 0x2000;
    cpu.regHi[reg] = 0x8000; // 0x0000800000000000: bit 47 set, 63:48 clear
    const before = snapshot(cpu);
    assert.equal(run(cpu, sysexit, 8), `${V.GP}(0)`, reg === 1 ? 'RCX' : 'RDX');
    assert.deepEqual(snapshot(cpu), before);
    // Without REX.W only ECX/EDX are used: the same registers are fine.
    assert.equal(run(cpu, sysexit, 4), 'ok');
  }
  // 57-bit canonical is canonical only with CR4.LA57 = 1 (SDM Vol. 3A §4.5).
  const la57 = cpuAt('intel', 'long64', 0);
  la57.cr4 |= C.CR4_LA57;
  la57.regHi[2] = 0x8000;
  assert.equal(run(la57, sysexit, 8), 'ok');
  assert.equal(la57.rip, 2 ** 47);
});

test('Intel: SYSENTER from compatibility mode then SYSEXIT back: the round trip of a 32-bit system call', () => {
  const cpu = cpuAt('intel', 'compat', 3);
  cpu.regLo[1] = 0xffffc000 | 0; cpu.regLo[2] = 0x08048123; // the user's ECX/EDX (Linux: saved by the vDSO)
  assert.equal(run(cpu, sysenter), 'ok');
  assert.deepEqual([cpu.cpl, cpu.mode, cpu.segSel[CS]], [0, Mode.Long64, 0x10]);
  assert.equal(run(cpu, sysexit, 4), 'ok');
  assert.deepEqual([cpu.cpl, cpu.mode, cpu.segSel[CS], cpu.segSel[SS]], [3, Mode.Compat32, 0x23, 0x2b]);
  assert.deepEqual([u64(cpu, 4), cpu.rip], [0xffffc000n, 0x08048123]);
  assert.equal(cpu.getFlags() & IF, 0, 'IF stays clear: SYSEXIT does not restore it');
  assert.equal(cpu.transitions, 2);
});

test('the trace sees SYSENTER and SYSEXIT as transitions, with both sides', () => {
  const cpu = cpuAt('intel', 'compat', 3);
  const records: TransitionRecord[] = [];
  cpu.traceSink = (r) => records.push(r);
  cpu.regLo[2] = 0x08048000;
  run(cpu, sysenter);
  run(cpu, sysexit, 4);
  assert.deepEqual(records.map((r) => [r.kind, r.before.cpl, r.before.mode, r.after.cpl, r.after.mode]), [
    ['sysenter', 3, 'compatibility', 0, '64-bit'],
    ['sysexit', 0, '64-bit', 3, 'compatibility'],
  ]);
  assert.equal(records[0].after.registers.rip, '0xffffffff81000080');
  assert.equal(records[1].after.registers.cs, '0x0000000000000023');
});

test('SYSENTER to an IA32_SYSENTER_EIP beyond ±2^53 is a model error (57-bit canonical values are kept as numbers)', () => {
  const cpu = cpuAt('intel', 'compat', 3);
  cpu.msrHi[Msr.SysenterEip] = 0x00400000; // 0x0040000000000000: 57-bit canonical, beyond 2^53
  assert.throws(() => run(cpu, sysenter), /IA32_SYSENTER_EIP beyond/);
});

// ---- IA32_TSC_AUX, RDTSCP, RDPID

function msrOp(cpu: Cpu, exec: (c: Cpu) => void, index: number, lo = 0, hi = 0): string {
  cpu.regLo[1] = index; cpu.regLo[0] = lo; cpu.regLo[2] = hi;
  return run(cpu, exec);
}

test('IA32_TSC_AUX: WRMSR with bits 63:32 set is #GP(0); bits 31:0 are kept and RDMSR reads them back', () => {
  const cpu = cpuAt('intel', 'long64', 0);
  assert.equal(msrOp(cpu, wrmsr, M.MSR_TSC_AUX, 0x1234, 1), `${V.GP}(0)`);
  assert.equal(cpu.msrLo[Msr.TscAux], 0, 'nothing written');
  assert.equal(msrOp(cpu, wrmsr, M.MSR_TSC_AUX, 0xdeadbeef | 0, 0), 'ok');
  assert.equal(msrOp(cpu, rdmsr, M.MSR_TSC_AUX), 'ok');
  assert.deepEqual([u64(cpu, 0), u64(cpu, 2)], [0xdeadbeefn, 0n]);
});

test('IA32_TSC_AUX, AMD flavour: a 1 in bits 63:32 is ignored (no #GP) and reads back as 0 (KVM\'s model of AMD hardware)', () => {
  const cpu = cpuAt('amd', 'long64', 0);
  assert.equal(msrOp(cpu, wrmsr, M.MSR_TSC_AUX, 0x55, 1), 'ok');
  assert.equal(msrOp(cpu, rdmsr, M.MSR_TSC_AUX), 'ok');
  assert.deepEqual([u64(cpu, 0), u64(cpu, 2)], [0x55n, 0n]);
});

test('RDTSCP: ECX := IA32_TSC_AUX[31:0] (upper RCX cleared); #GP(0) at CPL 3 with CR4.TSD', () => {
  const cpu = cpuAt('intel', 'long64', 0);
  msrOp(cpu, wrmsr, M.MSR_TSC_AUX, 0x8000002a | 0, 0);
  cpu.regHi[1] = -1;
  assert.equal(run(cpu, rdtscp), 'ok');
  assert.equal(u64(cpu, 1), 0x8000002an);
  const user = cpuAt('intel', 'long64', 3);
  user.cr4 |= C.CR4_TSD;
  assert.equal(run(user, rdtscp), `${V.GP}(0)`);
});

/** Decode `bytes` as the decoder does in 64-bit mode (or 32-bit code) and execute the row. */
function execBytes(cpu: Cpu, bytes: number[], bits: 32 | 64): string {
  cpu.mem.bytes.set(bytes, 0x8000);
  const saved = cpu.mode;
  cpu.mode = bits === 64 ? Mode.Long64 : Mode.Protected32;
  const insn = decode(cpu, 0x8000);
  cpu.mode = saved;
  assert.equal(mnemonicOf(insn.entry), 'RDPID', bytes.map((b) => b.toString(16)).join(' '));
  return runInsn(cpu, insn);
}

test('RDPID (F3 0F C7 /7): IA32_TSC_AUX into r64 in 64-bit mode whatever REX.W or 66, into r32 in 32-bit code; no CR4.TSD check', () => {
  const cpu = cpuAt('intel', 'legacy', 3);
  cpu.msrLo[Msr.TscAux] = 0x80000007 | 0;
  cpu.cr4 |= C.CR4_TSD; // RDPID has no TSD condition (SDM RDPID, Protected Mode Exceptions: #UD only)
  for (const [bytes, reg] of [[[0xf3, 0x0f, 0xc7, 0xf9], 1], [[0xf3, 0x41, 0x0f, 0xc7, 0xfb], 11],
    [[0xf3, 0x48, 0x0f, 0xc7, 0xf8], 0], [[0x66, 0xf3, 0x0f, 0xc7, 0xfa], 2]] as const) {
    cpu.regLo[reg] = -1; cpu.regHi[reg] = -1;
    assert.equal(execBytes(cpu, [...bytes], 64), 'ok');
    assert.equal(u64(cpu, reg), 0x80000007n, `64-bit mode, register ${reg}`);
  }
  cpu.regLo[3] = -1;
  assert.equal(execBytes(cpu, [0xf3, 0x0f, 0xc7, 0xfb], 32), 'ok');
  assert.equal(cpu.regLo[3] >>> 0, 0x80000007, '32-bit code: EBX');
});
