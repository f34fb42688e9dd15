// FRED outside event delivery, on the CPU directly: LKGS, and what CR4.FRED = 1 does to the
// legacy instructions. Sources (FRED-era SDM Vol. 2 instruction pages, "Operation"):
// - LKGS: "IF CPL > 0 OR logical processor not in 64-bit mode THEN #UD", then MOV GS's load
//   with the base going to IA32_KERNEL_GS_BASE ("bits 63:32 cleared"), GS.base unchanged; a null
//   selector loads 0 into IA32_KERNEL_GS_BASE. Opcode table: CPUID.(7,1):EAX.LKGS[18], N.E.
//   outside 64-bit mode.
// - SWAPGS: "IF CS.L ≠ 1 OR CR4.FRED = 1 THEN #UD"; SYSRET: "... or (CR4.FRED = 1) THEN #UD",
//   before "IF (CPL ≠ 0) THEN #GP(0)"; SYSEXIT: "IF CR4.FRED = 1 THEN #UD; FI;" first.
// - IRET, IA-32e-MODE: "IF CS.RPL < CPL or (CR4.FRED = 1 and CS.RPL > CPL) THEN
//   #GP(CS.selector)"; "IF CR4.FRED = 1 and CPL = 0 and CS.L = 0 THEN #GP(CS.selector)".
// - RET, IA-32e mode: the same two checks in its words, the second before "not present".
// - CALL and JMP, CALL-GATE: "... or (CR4.FRED = 1) THEN #GP(call-gate selector)";
//   CONFORMING-/NONCONFORMING-CODE-SEGMENT: "IF CR4.FRED = 1 and CPL = 0 and L bit = 0 THEN
//   #GP(new code segment selector)", before "IF segment not present".
// Each FRED fault is also run with CR4.FRED = 0, where the same instruction works (or faults
// otherwise), so every test fails if the FRED condition is dropped or misplaced. Event delivery
// under FRED is not exercised here: the faults are observed as the instruction raises them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../src/cpu/cpu.js';
import { Insn, type Exec } from '../src/cpu/insn.js';
import { Mode } from '../src/cpu/mode.js';
import { Msr } from '../src/cpu/msrs.js';
import { decode } from '../src/cpu/decoder.js';
import { mnemonicOf } from '../src/cpu/opcodes.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';
import { runInsn } from './helpers/cpu-step.js';
import { swapgs, sysret } from '../src/cpu/syscall.js';
import { sysexit } from '../src/cpu/sysenter.js';
import { iret } from '../src/cpu/ops/system.js';
import { callFarImm, jmpFarImm, retFar } from '../src/cpu/ops/branch.js';
import * as C from '../src/arch/control.js';
import { CS, SS, GS } from '../src/arch/descriptors.js';
import { flatProtectedModeState } from '../src/cpu/state.js';

const GDT = 0x1000, CODE_AT = 0x3000, STACK = 0x8000, NEXT = 0x5000;

// Selectors (index | RPL where the test uses it).
const KCODE = 0x08, KDATA = 0x10, KCODE32 = 0x18, UCODE32 = 0x23, UDATA = 0x2b, UCODE64 = 0x33;
const GSDATA = 0x38, GSDATA_NP = 0x40, XONLY = 0x48, KDATA_BASE = 0x50, CONF32 = 0x58;
const GATE = 0x60, R1CODE = 0x79, R1DATA = 0x81, UCODE64_NP = 0x8b;
const GDT_LIMIT = 0x8f;
const GS_DESC_BASE = 0x89abcdef | 0;

/** Segments: selector, access byte, flags nibble, base. Limit 0xfffff, G = 1 by the flags. */
const SEGMENTS: [number, number, number, number][] = [
  [KCODE, 0x9a, 0xa, 0], // 64-bit code, DPL 0
  [KDATA, 0x93, 0xc, 0], // data, DPL 0
  [KCODE32, 0x9a, 0xc, 0], // 32-bit (compatibility-mode) code, DPL 0
  [UCODE32 & ~3, 0xfb, 0xc, 0], // 32-bit code, DPL 3
  [UDATA & ~3, 0xf3, 0xc, 0], // data, DPL 3
  [UCODE64 & ~3, 0xfb, 0xa, 0], // 64-bit code, DPL 3
  [GSDATA, 0xf2, 0xc, GS_DESC_BASE], // data, DPL 3, not yet accessed, base 0x89abcdef
  [GSDATA_NP, 0x73, 0xc, 0], // data, DPL 3, not present
  [XONLY, 0xf8, 0xc, 0], // execute-only code, DPL 3
  [KDATA_BASE, 0x93, 0xc, 0x00400000], // data, DPL 0
  [CONF32, 0x9e, 0xc, 0x00500000], // conforming readable 32-bit code, DPL 0
  [R1CODE & ~3, 0xba, 0xa, 0], // 64-bit code, DPL 1
  [R1DATA & ~3, 0xb3, 0xc, 0], // data, DPL 1
  [UCODE64_NP & ~3, 0x7b, 0xa, 0], // 64-bit code, DPL 3, not present
];

function descriptor(cpu: Cpu, sel: number, lo: number, hi: number): void {
  cpu.view.setInt32(GDT + (sel & ~7), lo, true);
  cpu.view.setInt32(GDT + (sel & ~7) + 4, hi, true);
}

interface Setup { fred?: boolean; model?: boolean; cpl?: number; compat?: boolean }

/** A vCPU in IA-32e mode (paging off, as the other instruction-level tests), at `cpl` in 64-bit
 *  mode or compatibility mode, with the GDT above and CR4.FRED as asked; the CPU model
 *  enumerates FRED and LKGS unless `model` is false. RSP = 0x8000. */
function cpuAt({ fred = true, model = true, cpl = 0, compat = false }: Setup = {}): Cpu {
  const cpu = new Cpu(new PhysicalMemory(1 << 20), new IoBus(), { vendor: 'intel', fred: model });
  cpu.restore(flatProtectedModeState(cpu.capture(), CODE_AT));
  for (const [sel, access, flags, base] of SEGMENTS) {
    descriptor(cpu, sel, (base << 16) | 0xffff, (base & 0xff000000) | ((base >>> 16) & 0xff) | (access << 8) | 0xf0000 | (flags << 20));
  }
  // A 64-bit call gate, DPL 3, to KCODE at 0x401000 (Vol. 3A Figure 5-9).
  descriptor(cpu, GATE, (KCODE << 16) | 0x1000, 0x00400000 | (0xec << 8));
  descriptor(cpu, GATE + 8, 0, 0);
  cpu.gdtrBaseLo = GDT;
  cpu.gdtrLimit = GDT_LIMIT;
  cpu.efer |= C.EFER_LME | C.EFER_LMA | C.EFER_SCE;
  if (fred) cpu.cr4Hi = C.CR4_HI_FRED;
  const code = cpl === 3 ? (compat ? UCODE32 : UCODE64) : compat ? KCODE32 : KCODE;
  const seg = SEGMENTS.find(([s]) => s === (code & ~3))!;
  cpu.segSel[CS] = code;
  cpu.segAttr[CS] = (seg[1] << 8) | (seg[2] << 20);
  cpu.segSel[SS] = cpl === 3 ? UDATA : KDATA;
  cpu.segAttr[SS] = ((cpl === 3 ? 0xf3 : 0x93) << 8) | (0xc << 20);
  cpu.setCpl(cpl);
  cpu.modeChanged();
  cpu.regLo[4] = STACK;
  cpu.nextRip = NEXT;
  return cpu;
}

/** Decode `bytes` at CODE_AT in the CPU's mode and run the instruction: 'ok' or 'vector(error)',
 *  with the mnemonic the table gives it. */
function runBytes(cpu: Cpu, bytes: number[]): { result: string; mnemonic: string } {
  bytes.forEach((b, k) => cpu.view.setUint8(CODE_AT + k, b));
  const insn = decode(cpu, CODE_AT);
  return { result: runInsn(cpu, insn), mnemonic: mnemonicOf(insn.entry) };
}

/** Run semantics `exec` with operand size `osz` and, for the far-pointer forms, selector `sel`
 *  and offset 0x401000 (no immediate otherwise: RETF releases none). */
function run(cpu: Cpu, exec: Exec, osz = 8, sel = -1): string {
  const i = new Insn(exec);
  i.osz = osz;
  if (sel >= 0) { i.imm2 = sel; i.immLo = 0x401000; }
  return runInsn(cpu, i);
}

const LKGS_DI = [0xf2, 0x0f, 0x00, 0xf7]; // lkgs %di (Linux's LKGS_DI)
const LKGS_MEM = [0xf2, 0x0f, 0x00, 0x30]; // lkgs (%rax)
const GS_BASE_LO = 0x33334444, GS_BASE_HI = 0x00001111, KGS_LO = 0x55556666, KGS_HI = 0xffff8000 | 0;

function presetGs(cpu: Cpu): void {
  cpu.segSel[GS] = 0;
  cpu.segBaseLo[GS] = GS_BASE_LO; cpu.segBaseHi[GS] = GS_BASE_HI;
  cpu.segmentBaseChanged(GS);
  cpu.msrLo[Msr.KernelGsBase] = KGS_LO; cpu.msrHi[Msr.KernelGsBase] = KGS_HI;
}

const bases = (cpu: Cpu): number[] => [cpu.segBaseLo[GS], cpu.segBaseHi[GS], cpu.msrLo[Msr.KernelGsBase], cpu.msrHi[Msr.KernelGsBase]];

// ------------------------------------------------------------------------------------ LKGS

for (const fred of [false, true]) {
  test(`LKGS (CR4.FRED = ${fred ? 1 : 0}): IA32_KERNEL_GS_BASE := the descriptor's 32-bit base, GS.base unchanged, GS selector and attributes loaded`, () => {
    const cpu = cpuAt({ fred });
    presetGs(cpu);
    cpu.regLo[7] = GSDATA | 3;
    const { result, mnemonic } = runBytes(cpu, LKGS_DI);
    assert.equal(mnemonic, 'LKGS');
    assert.equal(result, 'ok');
    assert.deepEqual(bases(cpu), [GS_BASE_LO, GS_BASE_HI, GS_DESC_BASE, 0], 'GS.base kept; KERNEL_GS_BASE bits 63:32 cleared');
    assert.equal(cpu.segSel[GS], GSDATA | 3);
    assert.equal(cpu.segAttr[GS], (0xf3 << 8) | (0xc << 20), 'the descriptor\'s attributes, accessed bit set as MOV GS sets it');
    assert.equal(cpu.view.getUint8(GDT + GSDATA + 5), 0xf3, 'accessed bit written to the descriptor');
  });
}

test('LKGS m16: the selector read from memory', () => {
  const cpu = cpuAt();
  presetGs(cpu);
  cpu.view.setUint16(0x6000, GSDATA, true);
  cpu.regLo[0] = 0x6000;
  assert.equal(runBytes(cpu, LKGS_MEM).result, 'ok');
  assert.deepEqual(bases(cpu), [GS_BASE_LO, GS_BASE_HI, GS_DESC_BASE, 0]);
  assert.equal(cpu.segSel[GS], GSDATA);
});

test('LKGS null selector: GS marked null with the selector, IA32_KERNEL_GS_BASE := 0, GS.base unchanged', () => {
  const cpu = cpuAt();
  presetGs(cpu);
  cpu.segSel[GS] = KDATA; cpu.segAttr[GS] = (0x93 << 8) | (0xc << 20);
  cpu.regLo[7] = 3;
  assert.equal(runBytes(cpu, LKGS_DI).result, 'ok');
  assert.deepEqual(bases(cpu), [GS_BASE_LO, GS_BASE_HI, 0, 0]);
  assert.equal(cpu.segSel[GS], 3);
  assert.equal(cpu.segAttr[GS], 0, 'null (unusable)');
});

test('LKGS faults as MOV GS does, with the selector as error code; a faulting LKGS changes neither base', () => {
  const cases: [number, string][] = [
    [XONLY | 3, '13(72)'], // execute-only code: not data or readable code, #GP(selector)
    [KDATA_BASE | 3, '13(80)'], // data with RPL 3 > DPL 0: #GP(selector)
    [GSDATA_NP | 3, '11(64)'], // not present: #NP(selector)
    [0x100, '13(256)'], // beyond the GDT limit: #GP(selector)
    [0x104, '13(260)'], // TI = 1 with a null LDTR: #GP(selector)
  ];
  for (const [sel, expected] of cases) {
    const cpu = cpuAt();
    presetGs(cpu);
    cpu.segSel[GS] = KDATA;
    cpu.regLo[7] = sel;
    assert.equal(runBytes(cpu, LKGS_DI).result, expected, `selector 0x${sel.toString(16)}`);
    assert.deepEqual(bases(cpu), [GS_BASE_LO, GS_BASE_HI, KGS_LO, KGS_HI], `selector 0x${sel.toString(16)}: bases unchanged`);
    assert.equal(cpu.segSel[GS], KDATA);
  }
});

test('LKGS of a conforming readable code segment with RPL > DPL: loaded, as MOV GS does (the reading in docs/fred-readings.md)', () => {
  const cpu = cpuAt();
  presetGs(cpu);
  cpu.regLo[7] = CONF32 | 3;
  assert.equal(runBytes(cpu, LKGS_DI).result, 'ok');
  assert.deepEqual(bases(cpu), [GS_BASE_LO, GS_BASE_HI, 0x00500000, 0]);
});

test('LKGS is #UD at CPL 3, in compatibility mode, and where CPUID does not enumerate LKGS', () => {
  const user = cpuAt({ cpl: 3 });
  presetGs(user);
  user.regLo[7] = GSDATA | 3;
  assert.equal(runBytes(user, LKGS_DI).result, '6(0)', 'CPL 3');
  assert.deepEqual(bases(user), [GS_BASE_LO, GS_BASE_HI, KGS_LO, KGS_HI]);
  const compat = cpuAt({ fred: false, compat: true });
  assert.equal(compat.mode, Mode.Compat32);
  compat.regLo[7] = GSDATA | 3;
  assert.equal(runBytes(compat, LKGS_DI).result, '6(0)', 'compatibility mode at CPL 0');
  const idt = cpuAt({ fred: false, model: false });
  presetGs(idt);
  idt.regLo[7] = GSDATA | 3;
  assert.equal(runBytes(idt, LKGS_DI).result, '6(0)', 'not enumerated');
  assert.deepEqual(bases(idt), [GS_BASE_LO, GS_BASE_HI, KGS_LO, KGS_HI]);
});

// ---------------------------------------------------------- SWAPGS, SYSRET, SYSEXIT: #UD

test('SWAPGS: #UD under CR4.FRED; exchanges the bases with CR4.FRED = 0', () => {
  const fred = cpuAt();
  presetGs(fred);
  assert.equal(run(fred, swapgs), '6(0)');
  assert.deepEqual(bases(fred), [GS_BASE_LO, GS_BASE_HI, KGS_LO, KGS_HI]);
  const legacy = cpuAt({ fred: false });
  presetGs(legacy);
  assert.equal(run(legacy, swapgs), 'ok');
  assert.deepEqual(bases(legacy), [KGS_LO, KGS_HI, GS_BASE_LO, GS_BASE_HI]);
  // At CPL 3 the #UD comes first too (legacy: #GP(0)).
  assert.equal(run(cpuAt({ cpl: 3 }), swapgs), '6(0)');
  assert.equal(run(cpuAt({ fred: false, cpl: 3 }), swapgs), '13(0)');
});

function sysretCpu(fred: boolean, cpl = 0): Cpu {
  const cpu = cpuAt({ fred, cpl });
  cpu.msrHi[Msr.Star] = (0x23 << 16) | 0x08; // SYSRET: CS 0x33 (64-bit), SS 0x2b
  cpu.regLo[1] = 0x401000; // RCX: the return RIP
  cpu.regLo[11] = 0x202; // R11: RFLAGS
  return cpu;
}

test('SYSRET: #UD under CR4.FRED (also at CPL 3, before the CPL check); returns to CPL 3 with CR4.FRED = 0', () => {
  const fred = sysretCpu(true);
  assert.equal(run(fred, sysret), '6(0)');
  assert.equal(fred.cpl, 0);
  assert.equal(run(sysretCpu(true, 3), sysret), '6(0)');
  const legacy = sysretCpu(false);
  assert.equal(run(legacy, sysret), 'ok');
  assert.deepEqual([legacy.cpl, legacy.segSel[CS], legacy.rip], [3, UCODE64, 0x401000]);
  assert.equal(run(sysretCpu(false, 3), sysret), '13(0)');
});

function sysexitCpu(fred: boolean, cpl = 0): Cpu {
  const cpu = cpuAt({ fred, cpl });
  cpu.msrLo[Msr.SysenterCs] = 0x10; // SYSEXIT (REX.W): CS 0x33, SS 0x3b
  cpu.regLo[1] = 0x7000; // RCX: RSP
  cpu.regLo[2] = 0x401000; // RDX: RIP
  return cpu;
}

test('SYSEXIT: #UD under CR4.FRED, ahead of its #GP(0) conditions; returns to CPL 3 with CR4.FRED = 0', () => {
  const fred = sysexitCpu(true);
  assert.equal(run(fred, sysexit), '6(0)');
  assert.equal(fred.cpl, 0);
  assert.equal(run(sysexitCpu(true, 3), sysexit), '6(0)', 'CPL 3: #UD, not #GP(0)');
  const noCs = sysexitCpu(true);
  noCs.msrLo[Msr.SysenterCs] = 0;
  assert.equal(run(noCs, sysexit), '6(0)', 'IA32_SYSENTER_CS null: #UD, not #GP(0)');
  const legacy = sysexitCpu(false);
  assert.equal(run(legacy, sysexit), 'ok');
  assert.deepEqual([legacy.cpl, legacy.segSel[CS], legacy.rip], [3, UCODE64, 0x401000]);
  assert.equal(run(sysexitCpu(false, 3), sysexit), '13(0)');
});

// ----------------------------------------------------------------------------- IRET, RETF

/** Put an IRETQ frame (RIP, CS, RFLAGS, RSP, SS) at RSP. */
function iretFrame(cpu: Cpu, cs: number, ss: number): void {
  const words = [0x401000, cs, 0x202, 0x7000, ss];
  words.forEach((w, k) => { cpu.view.setUint32(STACK + 8 * k, w, true); cpu.view.setUint32(STACK + 8 * k + 4, 0, true); });
}

const iretq = (cpu: Cpu): string => run(cpu, iret, 8);

test('IRET to CPL 3 under CR4.FRED: #GP(CS selector), nothing loaded; with CR4.FRED = 0 it returns to CPL 3', () => {
  const fred = cpuAt();
  iretFrame(fred, UCODE64, UDATA);
  assert.equal(iretq(fred), `13(${UCODE64 & ~3})`);
  assert.deepEqual([fred.cpl, fred.segSel[CS], fred.regLo[4]], [0, KCODE, STACK]);
  const legacy = cpuAt({ fred: false });
  iretFrame(legacy, UCODE64, UDATA);
  assert.equal(iretq(legacy), 'ok');
  assert.deepEqual([legacy.cpl, legacy.segSel[CS], legacy.rip], [3, UCODE64, 0x401000]);
});

test('IRET at the same CPL under CR4.FRED: 64-bit CPL 0 returns; ring 1 cannot be entered (#GP(selector))', () => {
  const same = cpuAt();
  iretFrame(same, KCODE, KDATA);
  assert.equal(iretq(same), 'ok');
  assert.deepEqual([same.cpl, same.rip, same.regLo[4]], [0, 0x401000, 0x7000]);
  const ring1 = cpuAt();
  iretFrame(ring1, R1CODE, R1DATA);
  assert.equal(iretq(ring1), `13(${R1CODE & ~3})`);
  const legacy = cpuAt({ fred: false });
  iretFrame(legacy, R1CODE, R1DATA);
  assert.equal(iretq(legacy), 'ok');
  assert.equal(legacy.cpl, 1);
});

test('IRET to compatibility mode at CPL 0 under CR4.FRED: #GP(CS selector); allowed with CR4.FRED = 0', () => {
  const fred = cpuAt();
  iretFrame(fred, KCODE32, KDATA);
  assert.equal(iretq(fred), `13(${KCODE32})`);
  assert.equal(fred.mode, Mode.Long64);
  const legacy = cpuAt({ fred: false });
  iretFrame(legacy, KCODE32, KDATA);
  assert.equal(iretq(legacy), 'ok');
  assert.equal(legacy.mode, Mode.Compat32);
});

/** Put a RETF (REX.W) frame at RSP: RIP, CS, then RSP, SS for an outer return. */
function retfFrame(cpu: Cpu, cs: number, ss = 0): void {
  const words = [0x401000, cs, 0x7000, ss];
  words.forEach((w, k) => { cpu.view.setUint32(STACK + 8 * k, w, true); cpu.view.setUint32(STACK + 8 * k + 4, 0, true); });
}

test('RETF to an outer level under CR4.FRED: #GP(selector) before the descriptor\'s presence is checked', () => {
  const fred = cpuAt();
  retfFrame(fred, UCODE64, UDATA);
  assert.equal(run(fred, retFar), `13(${UCODE64 & ~3})`);
  assert.equal(fred.cpl, 0);
  const legacy = cpuAt({ fred: false });
  retfFrame(legacy, UCODE64, UDATA);
  assert.equal(run(legacy, retFar), 'ok');
  assert.equal(legacy.cpl, 3);
  // A not-present ring-3 code segment: the FRED check comes before "not present" (RET page
  // order); with CR4.FRED = 0 it is #NP(selector).
  const np = cpuAt();
  retfFrame(np, UCODE64_NP, UDATA);
  assert.equal(run(np, retFar), `13(${UCODE64_NP & ~3})`);
  const npLegacy = cpuAt({ fred: false });
  retfFrame(npLegacy, UCODE64_NP, UDATA);
  assert.equal(run(npLegacy, retFar), `11(${UCODE64_NP & ~3})`);
});

test('RETF to compatibility mode at CPL 0 under CR4.FRED: #GP(selector); to 64-bit code it returns', () => {
  const fred = cpuAt();
  retfFrame(fred, KCODE32);
  assert.equal(run(fred, retFar), `13(${KCODE32})`);
  const ok = cpuAt();
  retfFrame(ok, KCODE);
  assert.equal(run(ok, retFar), 'ok');
  const legacy = cpuAt({ fred: false });
  retfFrame(legacy, KCODE32);
  assert.equal(run(legacy, retFar), 'ok');
  assert.equal(legacy.mode, Mode.Compat32);
});

// ------------------------------------------------------------------------ far JMP and CALL

test('far JMP/CALL through a call gate under CR4.FRED: #GP(gate selector), the gate\'s first check', () => {
  for (const [name, exec] of [['JMP', jmpFarImm], ['CALL', callFarImm]] as const) {
    const fred = cpuAt();
    assert.equal(run(fred, exec, 4, GATE), `13(${GATE})`, `${name} at CPL 0`);
    assert.equal(fred.regLo[4], STACK, `${name}: nothing pushed`);
    assert.equal(run(cpuAt({ cpl: 3 }), exec, 4, GATE | 3), `13(${GATE})`, `${name} at CPL 3`);
    // The gate marked not present: still #GP(gate), not #NP(gate).
    const np = cpuAt();
    np.view.setUint8(GDT + GATE + 5, 0x6c);
    assert.equal(run(np, exec, 4, GATE), `13(${GATE})`, `${name}, gate not present`);
    const legacy = cpuAt({ fred: false });
    assert.equal(run(legacy, exec, 4, GATE), 'ok', `${name} with CR4.FRED = 0`);
    assert.equal(legacy.rip, 0x401000);
  }
});

test('far JMP/CALL to compatibility-mode code at CPL 0 under CR4.FRED: #GP(selector); 64-bit code is fine', () => {
  for (const [name, exec] of [['JMP', jmpFarImm], ['CALL', callFarImm]] as const) {
    const fred = cpuAt();
    assert.equal(run(fred, exec, 4, KCODE32), `13(${KCODE32})`, name);
    assert.equal(fred.mode, Mode.Long64);
    assert.equal(run(cpuAt(), exec, 4, KCODE), 'ok', `${name} to 64-bit code`);
    const legacy = cpuAt({ fred: false });
    assert.equal(run(legacy, exec, 4, KCODE32), 'ok', `${name} with CR4.FRED = 0`);
    assert.equal(legacy.mode, Mode.Compat32);
  }
});

test('far JMP at CPL 3 to a conforming DPL-0 compatibility-mode segment under CR4.FRED: allowed (the check is on CPL, not DPL)', () => {
  const cpu = cpuAt({ cpl: 3 });
  assert.equal(run(cpu, jmpFarImm, 4, CONF32 | 3), 'ok');
  assert.deepEqual([cpu.cpl, cpu.mode, cpu.segSel[CS]], [3, Mode.Compat32, CONF32 | 3]);
});
