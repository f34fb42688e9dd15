// Paging and the TLB at the CPU's interface, outside any guest (SDM Vol. 3A chapter 4):
// global translations (§4.10.2.4) kept by MOV to CR3 and INVPCID types 1/3 and dropped
// by INVLPG, INVPCID type 2 and any change of CR4.PGE (§4.10.4.1); MOV to CR3 with PCIDE
// and bit 63 (§4.10.1); the CR4 #GP rules (SDM Vol. 2 MOV (Control Registers)); SMAP
// decided by RFLAGS.AC at each access (§4.6.1); 5-level paging and 57-bit canonical
// addresses (§4.5). Each check reads memory through a translation and compares the bytes
// of the page the architecture says must be used.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Machine } from '../src/machine/machine.js';
import type { Cpu } from '../src/cpu/cpu.js';
import type { Insn } from '../src/cpu/insn.js';
import { Access } from '../src/cpu/paging.js';
import * as S from '../src/cpu/ops/system.js';
import * as C from '../src/arch/control.js';
import * as R from '../src/arch/rflags.js';
import * as V from '../src/arch/vectors.js';
import * as M from '../src/arch/msr.js';
import { FAULT } from '../src/cpu/fault.js';
import { ModelError } from '../src/machine/errors.js';
import { DESC_L } from '../src/arch/descriptors.js';
import { flatProtectedModeState } from '../src/cpu/state.js';

const PML5 = 0x1000, PML4 = 0x2000, PDPT = 0x3000, PD = 0x4000, PT = 0x5000;
const FRAME_A = 0x10000, FRAME_B = 0x11000, DESC = 0x12000;
const VA = 0x200000; // PT[0]: the page the tests remap
const TWO32 = 4294967296;

function setup(la57 = false): { m: Machine; cpu: Cpu } {
  const m = new Machine({ memoryBytes: 1 << 20, cpu: { vendor: 'intel', fred: false } });
  const cpu = m.cpu;
  const mem = m.memory;
  mem.writeU64(PML5, PML4 | 7, 0);
  mem.writeU64(PML4, PDPT | 7, 0);
  mem.writeU64(PDPT, PD | 7, 0);
  mem.writeU64(PD, 0x83, 0); // 0..2 MiB: one supervisor 2 MiB page (page tables, frames, descriptor)
  mem.writeU64(PD + 8, PT | 7, 0); // 2..4 MiB: the page table under test
  mem.writeU32(FRAME_A, 0xaaaa);
  mem.writeU32(FRAME_B, 0xbbbb);
  cpu.restore(flatProtectedModeState(cpu.capture(), 0));
  cpu.cr4 = C.CR4_PAE | C.CR4_PGE | (la57 ? C.CR4_LA57 : 0);
  cpu.cr3Lo = la57 ? PML5 : PML4;
  cpu.efer = C.EFER_LME | C.EFER_LMA | C.EFER_NXE;
  cpu.cr0 = C.CR0_PE | C.CR0_ET | C.CR0_PG | C.CR0_WP;
  cpu.segAttr[1] |= DESC_L;
  cpu.modeChanged();
  cpu.flushTlb();
  return { m, cpu };
}

function pte(m: Machine, frame: number, bits: number): void {
  m.memory.writeU64(PT, frame | bits, 0);
}

/** Run an operation; return the vector it raised (with the error code) or 'none'. */
function outcome(cpu: Cpu, f: () => void): string {
  try {
    f();
    return 'none';
  } catch (e) {
    if (e !== FAULT) throw e;
    return `${cpu.faultVector}/${cpu.faultError}`;
  }
}

const GP0 = `${V.GP}/0`;
const reg = (cpu: Cpu, r: number, lo: number, hi = 0): Insn => {
  cpu.regLo[r] = lo; cpu.regHi[r] = hi;
  return { reg: 0, rm: r } as Insn;
};
const movCr = (cpu: Cpu, cr: number, lo: number, hi = 0): string =>
  outcome(cpu, () => S.movToCr(cpu, { ...reg(cpu, 0, lo, hi), reg: cr } as Insn));

/** INVPCID type (in RAX) with the descriptor at DESC (identity-mapped), through ea(). */
function invpcid(m: Machine, cpu: Cpu, type: number, pcid: number, addr: number, rsvd = 0): string {
  m.memory.writeU64(DESC, pcid | rsvd, 0);
  m.memory.writeU64(DESC + 8, addr >>> 0, Math.floor(addr / TWO32) | 0);
  cpu.regLo[0] = type; cpu.regHi[0] = 0;
  cpu.regLo[3] = DESC; cpu.regHi[3] = 0;
  const i = { reg: 0, base: 3, index: -1, scale: 0, dispLo: 0, dispHi: 0, asz: 8, seg: 3, mem: true } as unknown as Insn;
  return outcome(cpu, () => S.invpcid(cpu, i));
}

test('a global translation survives MOV to CR3; a non-global one does not (§4.10.2.4, §4.10.4.1)', () => {
  for (const g of [0x100, 0]) {
    const { m, cpu } = setup();
    pte(m, FRAME_A, 3 | g);
    assert.equal(cpu.read32(VA), 0xaaaa);
    pte(m, FRAME_B, 3 | g);
    assert.equal(movCr(cpu, 3, PML4), 'none');
    assert.equal(cpu.read32(VA), g !== 0 ? 0xaaaa : 0xbbbb, g !== 0 ? 'global kept' : 'non-global flushed');
  }
});

test('G without CR4.PGE is not global; toggling CR4.PGE and INVLPG drop global translations', () => {
  {
    const { m, cpu } = setup();
    assert.equal(movCr(cpu, 4, C.CR4_PAE), 'none');
    pte(m, FRAME_A, 0x103);
    cpu.read32(VA);
    pte(m, FRAME_B, 0x103);
    movCr(cpu, 3, PML4);
    assert.equal(cpu.read32(VA), 0xbbbb);
  }
  {
    const { m, cpu } = setup();
    pte(m, FRAME_A, 0x103);
    cpu.read32(VA);
    pte(m, FRAME_B, 0x103);
    assert.equal(movCr(cpu, 4, C.CR4_PAE), 'none'); // PGE 1 -> 0
    assert.equal(cpu.read32(VA), 0xbbbb);
  }
  {
    const { m, cpu } = setup();
    pte(m, FRAME_A, 0x103);
    cpu.read32(VA);
    pte(m, FRAME_B, 0x103);
    cpu.flushTlbPage(VA); // INVLPG
    assert.equal(cpu.read32(VA), 0xbbbb);
  }
});

test('INVPCID: types 1 and 3 keep global translations, 2 drops them, 0 drops the non-global page', () => {
  for (const [type, global, want] of [[0, true, 0xaaaa], [0, false, 0xbbbb], [1, true, 0xaaaa], [1, false, 0xbbbb],
    [2, true, 0xbbbb], [3, true, 0xaaaa], [3, false, 0xbbbb]] as const) {
    const { m, cpu } = setup();
    const g = global ? 0x100 : 0;
    pte(m, FRAME_A, 3 | g);
    cpu.read32(VA);
    pte(m, FRAME_B, 3 | g);
    assert.equal(invpcid(m, cpu, type, 0, VA), 'none');
    assert.equal(cpu.read32(VA).toString(16), want.toString(16), `type ${type}, global ${global}`);
  }
});

test('INVPCID #GP(0): CPL > 0, type > 3, reserved descriptor bits, PCID != 0 without PCIDE (types 0/1), type-0 address not 57-bit canonical', () => {
  const { m, cpu } = setup();
  assert.equal(invpcid(m, cpu, 4, 0, 0), GP0);
  assert.equal(invpcid(m, cpu, 2, 0, 0, 0x1000), GP0);
  assert.equal(invpcid(m, cpu, 0, 1, VA), GP0);
  assert.equal(invpcid(m, cpu, 1, 1, 0), GP0);
  assert.equal(invpcid(m, cpu, 2, 1, 0), 'none');
  // The type-0 address is checked against the maximum linear width, 57 bits, whatever CR4.LA57.
  assert.equal(invpcid(m, cpu, 0, 0, 2 ** 47), 'none');
  assert.equal(invpcid(m, cpu, 0, 0, 2 ** 56), GP0);
  assert.equal(invpcid(m, cpu, 1, 0, 2 ** 56), 'none'); // the address matters for type 0 only
  cpu.setCpl(3);
  assert.equal(invpcid(m, cpu, 2, 0, 0), GP0);
});

test('CR4: reserved bits, PCIDE rules, LA57 in IA-32e mode; CR3 bit 63 with PCIDE', () => {
  const { cpu } = setup();
  assert.equal(movCr(cpu, 4, C.CR4_PAE | C.CR4_PGE | C.CR4_PKE), GP0); // PKE: not advertised
  assert.equal(movCr(cpu, 4, C.CR4_PAE | (1 << 15)), GP0); // reserved in every model
  assert.equal(movCr(cpu, 4, C.CR4_PAE | C.CR4_LA57), GP0);
  assert.equal(movCr(cpu, 3, PML4 | 5), 'none');
  assert.equal(movCr(cpu, 4, C.CR4_PAE | C.CR4_PCIDE), GP0); // CR3[11:0] != 0
  assert.equal(movCr(cpu, 3, PML4, 0x80000000), GP0); // bit 63 is reserved without PCIDE
  assert.equal(movCr(cpu, 3, PML4), 'none');
  assert.equal(movCr(cpu, 4, C.CR4_PAE | C.CR4_PCIDE), 'none');
  assert.equal(movCr(cpu, 3, PML4 | 7, 0x80000000), 'none');
  assert.equal(cpu.cr3Hi, 0, 'bit 63 is not stored');
  assert.equal(cpu.cr3Lo, PML4 | 7);
  assert.equal(movCr(cpu, 3, PML4, 0x40000000), GP0); // bit 62 stays reserved
});

test('SMAP: a supervisor read of a user page follows RFLAGS.AC at each access; implicit ones always fault', () => {
  const { m, cpu } = setup();
  assert.equal(movCr(cpu, 4, C.CR4_PAE | C.CR4_SMAP), 'none');
  pte(m, FRAME_A, 7);
  const pf = `${V.PF}/${V.PFEC_P}`;
  assert.equal(outcome(cpu, () => cpu.read32(VA)), pf);
  assert.equal(cpu.cr2, VA);
  cpu.flagsRest |= R.AC;
  assert.equal(outcome(cpu, () => cpu.read32(VA)), 'none');
  assert.equal(outcome(cpu, () => cpu.readSys32(VA)), pf, 'implicit access with AC = 1');
  assert.equal(outcome(cpu, () => cpu.write32(VA, 1)), 'none');
  cpu.flagsRest &= ~R.AC; // CLAC or POPF: no TLB flush
  assert.equal(outcome(cpu, () => cpu.read32(VA)), pf);
  assert.equal(outcome(cpu, () => cpu.write32(VA, 1)), `${V.PF}/${V.PFEC_P | V.PFEC_W}`);
});

test('SMEP: a supervisor fetch from a user page faults with I/D set', () => {
  const { m, cpu } = setup();
  pte(m, FRAME_A, 7);
  assert.equal(outcome(cpu, () => cpu.translate(VA, cpu.tlbFetch, Access.Fetch)), 'none');
  assert.equal(movCr(cpu, 4, C.CR4_PAE | C.CR4_SMEP), 'none');
  assert.equal(outcome(cpu, () => cpu.translate(VA, cpu.tlbFetch, Access.Fetch)), `${V.PF}/${V.PFEC_P | V.PFEC_I}`);
});

test('5-level paging: a PML5 index other than 0; 57-bit canonical checks; beyond 2^53 is a model error', () => {
  const { m, cpu } = setup(true);
  pte(m, FRAME_A, 3);
  const high = 16 * 2 ** 48 + VA; // PML5 index 16
  m.memory.writeU64(PML5 + 16 * 8, PML4 | 7, 0);
  assert.equal(cpu.read32(high), 0xaaaa);
  assert.equal(cpu.read32(VA), 0xaaaa);
  // Through ea(): a register base holding the 57-bit canonical address.
  const at = (hi: number, seg: number): string => {
    cpu.regLo[3] = VA; cpu.regHi[3] = hi;
    const i = { base: 3, index: -1, scale: 0, dispLo: 0, dispHi: 0, asz: 8, seg, mem: true } as unknown as Insn;
    return outcome(cpu, () => { cpu.read32(cpu.ea(i)); });
  };
  assert.equal(at(0x100000, 3), 'none');
  assert.equal(at(0x01000000, 3), GP0); // bit 56 set, bits 63:57 clear: not canonical
  assert.equal(at(0x01000000, 2), `${V.SS}/0`); // through SS: #SS(0)
  assert.throws(() => at(0x00800000, 3), ModelError); // 2^55: canonical, not exact in a double
  // Without LA57 the same address is not canonical.
  const { cpu: cpu4 } = setup(false);
  cpu4.regLo[3] = VA; cpu4.regHi[3] = 0x100000;
  const i = { base: 3, index: -1, scale: 0, dispLo: 0, dispHi: 0, asz: 8, seg: 3, mem: true } as unknown as Insn;
  assert.equal(outcome(cpu4, () => { cpu4.ea(i); }), GP0);
});

test('STAC/CLAC set and clear RFLAGS.AC at CPL 0 and raise #UD at CPL 3', () => {
  const { cpu } = setup();
  const stac = { op: 1 } as Insn, clac = { op: 0 } as Insn;
  assert.equal(outcome(cpu, () => S.stac(cpu, stac)), 'none');
  assert.equal(cpu.flagsRest & R.AC, R.AC);
  assert.equal(outcome(cpu, () => S.stac(cpu, clac)), 'none');
  assert.equal(cpu.flagsRest & R.AC, 0);
  cpu.setCpl(3);
  assert.equal(outcome(cpu, () => S.stac(cpu, stac)), `${V.UD}/0`);
  assert.equal(cpu.flagsRest & R.AC, 0);
});

test('WRMSR of an address MSR: 57-bit canonical values are accepted (LA57 is supported), others #GP(0)', () => {
  const { cpu } = setup();
  const wr = (hi: number): string => {
    cpu.regLo[1] = M.MSR_FS_BASE; cpu.regLo[0] = 0; cpu.regLo[2] = hi;
    return outcome(cpu, () => S.wrmsr(cpu));
  };
  assert.equal(wr(0x00100000), 'none'); // 2^52: not 48-bit canonical, 57-bit canonical
  assert.equal(wr(0xff800000 | 0), 'none');
  assert.equal(wr(0x01000000), GP0);
  assert.equal(wr(0xfe000000 | 0), GP0);
});
