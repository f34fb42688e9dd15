// Far CALL/JMP through call gates and far RET to an outer privilege level on the CPU
// directly (src/cpu/callgate.ts, src/cpu/far-return.ts), for what the call-gates guest
// cannot reach cheaply: a bad TSS.RSP0 or TSS limit (the fault would recur while it is
// delivered from CPL 3), a non-canonical gate offset, calls from compatibility mode,
// RETF with a 32-bit operand to compatibility mode, RETF to an outer level outside IA-32e
// mode, the trace records, and what stays a model error. SDM Vol. 2 CALL "Operation"
// (CALL-GATE, MORE-PRIVILEGE, SAME-PRIVILEGE), JMP "Operation" (CALL-GATE), RET
// "Operation" (RETURN-TO-OUTER-PRIVILEGE-LEVEL); Vol. 3A §5.8.3.1, §5.8.5, §5.8.6.
//
// The far pointer's form does not matter to the gate path: the tests use the ptr16:32
// forms (callFarImm, jmpFarImm), whose semantics follow reading the pointer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../src/cpu/cpu.js';
import { Insn } from '../src/cpu/insn.js';
import { FAULT } from '../src/cpu/fault.js';
import { ModelError } from '../src/cpu/errors.js';
import { Mode } from '../src/cpu/mode.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';
import { callFarImm, jmpFarImm, retFar } from '../src/cpu/ops/branch.js';
import type { TransitionRecord } from '../src/cpu/transition.js';
import * as C from '../src/arch/control.js';
import { CS, SS, DS, ES } from '../src/arch/descriptors.js';
import { flatProtectedModeState } from '../src/cpu/state.js';

const GDT = 0x1000, TSS = 0x2000, USER_SP = 0x8000, RSP0 = 0x9000;
const TARGET_LO = 0x00401000, TARGET_HI = 0x7f00;
const TARGET = TARGET_HI * 2 ** 32 + TARGET_LO;
const NEXT = 0x5000;

const KCODE = 0x08, KDATA = 0x10, UCODE32 = 0x1b, UDATA = 0x23, UCODE64 = 0x2b, SEL_TSS = 0x30;
const GATE = 0x40, GATE_NONCANON = 0x50, GATE16 = 0x60, GATE_JMP3 = 0x70, GATE_SAME = 0x80, UCODE32_SMALL = 0x93;

/** Access byte and flags nibble of the segments (base 0, limit 0xfffff unless given). */
const SEGMENTS: [number, number, number, number][] = [
  [KCODE, 0x9a, 0xa, 0xfffff], // 64-bit code, DPL 0
  [KDATA, 0x93, 0xc, 0xfffff], // data, DPL 0
  [UCODE32 & ~3, 0xfb, 0xc, 0xfffff], // 32-bit code, DPL 3
  [UDATA & ~3, 0xf3, 0xc, 0xfffff], // data, DPL 3
  [UCODE64 & ~3, 0xfb, 0xa, 0xfffff], // 64-bit code, DPL 3
  [UCODE32_SMALL & ~3, 0xfb, 0x4, 0xfff], // 32-bit code, DPL 3, limit 0xfff bytes
];

function descriptor(cpu: Cpu, sel: number, lo: number, hi: number): void {
  cpu.view.setInt32(GDT + sel, lo, true);
  cpu.view.setInt32(GDT + sel + 4, hi, true);
}

/** A 64-bit call gate (Vol. 3A Figure 5-9). */
function gate(cpu: Cpu, sel: number, target: number, offLo: number, offHi: number, dpl: number, type = 0xc): void {
  descriptor(cpu, sel, (offLo & 0xffff) | (target << 16), (offLo & 0xffff0000) | ((0x80 | (dpl << 5) | type) << 8));
  descriptor(cpu, sel + 8, offHi, 0);
}

/** A vCPU in IA-32e mode (or protected mode, `ia32e` false) at `cpl`, in 64-bit mode or
 *  compatibility mode, with the GDT above, a 64-bit TSS whose RSP0 is 0x9000, RSP 0x8000. */
function cpuAt(cpl: number, compat = false, ia32e = true): Cpu {
  const cpu = new Cpu(new PhysicalMemory(1 << 20), new IoBus(), { vendor: 'intel', fred: false });
  cpu.restore(flatProtectedModeState(cpu.capture(), 0));
  for (const [sel, access, flags, limit] of SEGMENTS) descriptor(cpu, sel, limit & 0xffff, (access << 8) | (limit & 0xf0000) | (flags << 20));
  descriptor(cpu, SEL_TSS, (TSS << 16) | 0x67, 0x8900);
  gate(cpu, GATE, KCODE, TARGET_LO, TARGET_HI, 3);
  gate(cpu, GATE_NONCANON, KCODE, TARGET_LO, 0x8000, 3);
  gate(cpu, GATE16, KCODE, TARGET_LO, 0, 3, 0x4);
  gate(cpu, GATE_JMP3, UCODE64, TARGET_LO, TARGET_HI, 3);
  gate(cpu, GATE_SAME, KCODE, TARGET_LO, TARGET_HI, 0);
  cpu.view.setInt32(TSS + 4, RSP0, true);
  cpu.gdtrBaseLo = GDT;
  cpu.gdtrLimit = 0x97;
  cpu.trSel = SEL_TSS; cpu.trBaseLo = TSS; cpu.trLimit = 0x67;
  if (ia32e) cpu.efer |= C.EFER_LME | C.EFER_LMA;
  const code = cpl === 3 ? (compat || !ia32e ? UCODE32 : UCODE64) : KCODE;
  const codeAttr = SEGMENTS.find(([s]) => s === (code & ~3))!;
  cpu.segSel[CS] = code;
  cpu.segAttr[CS] = (codeAttr[1] << 8) | (codeAttr[2] << 20);
  if (!ia32e && cpl === 0) cpu.segAttr[CS] = (0x9a << 8) | (0xc << 20);
  cpu.segSel[SS] = cpl === 3 ? UDATA : KDATA;
  cpu.segAttr[SS] = ((cpl === 3 ? 0xf3 : 0x93) << 8) | (0xc << 20);
  cpu.setCpl(cpl);
  cpu.modeChanged();
  cpu.regLo[4] = USER_SP;
  cpu.nextRip = NEXT;
  return cpu;
}

/** 'ok', or the fault as 'vector(error)'. */
function run(cpu: Cpu, exec: (c: Cpu, i: Insn) => void, sel: number, osz = 4, imm = 0): string {
  const i = new Insn(exec);
  i.osz = osz;
  i.imm2 = sel;
  i.immLo = imm;
  try {
    exec(cpu, i);
  } catch (e) {
    if (e !== FAULT) throw e;
    return `${cpu.faultVector}(0x${cpu.faultError.toString(16)})`;
  }
  return 'ok';
}

const qword = (cpu: Cpu, at: number): number => cpu.view.getUint32(at + 4, true) * 2 ** 32 + cpu.view.getUint32(at, true);

test('CALL through a 64-bit gate from 64-bit CPL 3: CPL 0, RSP from TSS.RSP0, SS null with RPL 0, SS/RSP/CS/RIP pushed as 8 bytes', () => {
  const cpu = cpuAt(3);
  cpu.regHi[4] = 0x7fff;
  const records: TransitionRecord[] = [];
  cpu.traceSink = (r) => records.push(r);
  assert.equal(run(cpu, callFarImm, GATE | 3), 'ok');
  assert.equal(cpu.cpl, 0);
  assert.equal(cpu.mode, Mode.Long64);
  assert.equal(cpu.segSel[CS], KCODE);
  assert.equal(cpu.segSel[SS], 0, 'a null SS with RPL = new CPL');
  assert.equal(cpu.rip, TARGET, 'the offset comes from the gate, all 64 bits');
  assert.deepEqual([cpu.regLo[4], cpu.regHi[4]], [RSP0 - 32, 0]);
  assert.deepEqual([0, 8, 16, 24].map((o) => qword(cpu, RSP0 - 32 + o)), [NEXT, UCODE64, 0x7fff * 2 ** 32 + USER_SP, UDATA]);
  assert.equal(cpu.transitions, 1);
  assert.equal(records.length, 1);
  assert.equal(records[0].kind, 'call-gate');
  assert.deepEqual([records[0].before.cpl, records[0].after.cpl], [3, 0]);
  assert.equal(records[0].frame?.bytes.length, 32);
});

test('CALL through a 64-bit gate from compatibility mode: 64-bit mode at CPL 0, the 32-bit caller\'s SS:ESP and CS:EIP pushed as 8 bytes', () => {
  const cpu = cpuAt(3, true);
  assert.equal(cpu.mode, Mode.Compat32);
  assert.equal(run(cpu, callFarImm, GATE | 3), 'ok');
  assert.equal(cpu.mode, Mode.Long64);
  assert.equal(cpu.cpl, 0);
  assert.deepEqual([0, 8, 16, 24].map((o) => qword(cpu, RSP0 - 32 + o)), [NEXT, UCODE32, USER_SP, UDATA]);
});

test('CALL through a gate to more privilege: TSS too short for RSP0 is #TS(TSS selector), a non-canonical RSP0 #SS(0); nothing changes', () => {
  const short = cpuAt(3);
  short.trLimit = 10;
  assert.equal(run(short, callFarImm, GATE | 3), '10(0x30)');
  // RSP0 = 0x0000800000000010: itself non-canonical, though the lowest pushed byte is not.
  const noncanon = cpuAt(3);
  noncanon.view.setInt32(TSS + 4, 0x10, true);
  noncanon.view.setInt32(TSS + 8, 0x8000, true);
  assert.equal(run(noncanon, callFarImm, GATE | 3), '12(0x0)');
  for (const cpu of [short, noncanon]) {
    assert.deepEqual([cpu.cpl, cpu.segSel[CS], cpu.segSel[SS], cpu.regLo[4], cpu.transitions], [3, UCODE64, UDATA, USER_SP, 0]);
  }
});

test('A non-canonical gate offset is #GP(0) for CALL (either privilege) and JMP; a 16-bit gate in IA-32e mode is #GP(gate)', () => {
  assert.equal(run(cpuAt(3), callFarImm, GATE_NONCANON | 3), '13(0x0)');
  assert.equal(run(cpuAt(0), callFarImm, GATE_NONCANON), '13(0x0)');
  assert.equal(run(cpuAt(0), jmpFarImm, GATE_NONCANON), '13(0x0)');
  assert.equal(run(cpuAt(3), callFarImm, GATE16 | 3), '13(0x60)');
  const cpu = cpuAt(3);
  run(cpu, callFarImm, GATE_NONCANON | 3);
  assert.equal(qword(cpu, RSP0 - 32), 0, 'nothing was pushed');
});

test('CALL through a gate at the same privilege pushes CS and RIP on the current stack; JMP pushes nothing', () => {
  const cpu = cpuAt(0);
  assert.equal(run(cpu, callFarImm, GATE_SAME), 'ok');
  assert.deepEqual([cpu.cpl, cpu.segSel[CS], cpu.segSel[SS], cpu.regLo[4]], [0, KCODE, KDATA, USER_SP - 16]);
  assert.deepEqual([qword(cpu, USER_SP - 16), qword(cpu, USER_SP - 8)], [NEXT, KCODE]);
  const user = cpuAt(3);
  assert.equal(run(user, jmpFarImm, GATE_JMP3 | 3), 'ok');
  assert.deepEqual([user.cpl, user.segSel[CS], user.regLo[4], user.rip], [3, UCODE64, USER_SP, TARGET]);
  assert.equal(user.transitions, 1);
});

/** Write a RETF frame of `osz`-byte slots at RSP: RIP, CS, then (after `imm` bytes) RSP, SS. */
function retfFrame(cpu: Cpu, osz: number, imm: number, rip: number, cs: number, sp: number, ss: number): void {
  const at = cpu.regLo[4];
  const put = (o: number, v: number): void => {
    if (osz === 2) cpu.view.setUint16(at + o, v, true);
    else cpu.view.setUint32(at + o, v, true);
    if (osz === 8) cpu.view.setUint32(at + o + 4, 0, true);
  };
  put(0, rip); put(osz, cs); put(2 * osz + imm, sp); put(3 * osz + imm, ss);
}

test('RETF with a 32-bit operand to compatibility mode at CPL 3: EIP, CS, ESP, SS popped as 4-byte slots, imm16 released on the new stack', () => {
  const cpu = cpuAt(0);
  cpu.segSel[DS] = KDATA; cpu.segAttr[DS] = (0x93 << 8) | (0xc << 20);
  cpu.segSel[ES] = UDATA; cpu.segAttr[ES] = (0xf3 << 8) | (0xc << 20);
  retfFrame(cpu, 4, 8, 0x1234, UCODE32, 0x7000, UDATA);
  const records: TransitionRecord[] = [];
  cpu.traceSink = (r) => records.push(r);
  assert.equal(run(cpu, retFar, 0, 4, 8), 'ok');
  assert.deepEqual([cpu.cpl, cpu.mode, cpu.segSel[CS], cpu.segSel[SS], cpu.rip, cpu.regLo[4]], [3, Mode.Compat32, UCODE32, UDATA, 0x1234, 0x7008]);
  assert.deepEqual([cpu.segSel[DS], cpu.segSel[ES]], [0, UDATA], 'DS (DPL 0) is nulled, ES (DPL 3) stays');
  assert.equal(records[0].kind, 'far-return');
  assert.equal(cpu.transitions, 1);
});

test('RETF to compatibility mode: an EIP past the code segment limit is #GP(0), checked after SS', () => {
  const cpu = cpuAt(0);
  retfFrame(cpu, 4, 0, 0x1000, UCODE32_SMALL, 0x7000, UDATA);
  assert.equal(run(cpu, retFar, 0, 4), '13(0x0)');
  retfFrame(cpu, 4, 0, 0x1000, UCODE32_SMALL, 0x7000, KDATA | 3);
  assert.equal(run(cpu, retFar, 0, 4), '13(0x10)');
  assert.deepEqual([cpu.cpl, cpu.regLo[4], cpu.transitions], [0, USER_SP, 0]);
});

test('RETF to a 64-bit outer level with a null SS: #GP(0) for CPL 3 (a null SS is only for rings 1 and 2)', () => {
  const cpu = cpuAt(0);
  retfFrame(cpu, 8, 0, 0x1234, UCODE64, 0x7000, 3);
  assert.equal(run(cpu, retFar, 0, 8), '13(0x0)');
});

test('RETF to an outer level outside IA-32e mode: CPL 0 to 3, ESP from the frame plus imm16, DS nulled', () => {
  const cpu = cpuAt(0, false, false);
  assert.equal(cpu.mode, Mode.Protected32);
  cpu.segSel[DS] = KDATA; cpu.segAttr[DS] = (0x93 << 8) | (0xc << 20);
  retfFrame(cpu, 4, 4, 0x2000, UCODE32, 0x6000, UDATA);
  assert.equal(run(cpu, retFar, 0, 4, 4), 'ok');
  assert.deepEqual([cpu.cpl, cpu.segSel[CS], cpu.segSel[SS], cpu.rip, cpu.regLo[4], cpu.segSel[DS]], [3, UCODE32, UDATA, 0x2000, 0x6004, 0]);
});

test('Outside IA-32e mode a far CALL or JMP through a call gate or to a TSS is a model error', () => {
  const cpu = cpuAt(0, false, false);
  descriptor(cpu, GATE, KCODE << 16, 0x0000ec00); // a 32-bit call gate, DPL 3
  assert.throws(() => run(cpu, callFarImm, GATE), ModelError);
  assert.throws(() => run(cpu, jmpFarImm, SEL_TSS), ModelError);
});
