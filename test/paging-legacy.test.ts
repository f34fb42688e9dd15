// Paging outside IA-32e mode at the CPU's interface (SDM Vol. 3A chapter 4):
// - 32-bit paging (§4.3): 4-KByte pages through a page table, 4-MByte pages with CR4.PSE,
//   PSE-36 (PDE bits 20:13 are physical-address bits 39:32 with MAXPHYADDR 40), PDE bit 21
//   reserved, PS ignored without CR4.PSE, no XD (EFER.NXE ignored), A/D flags, CR0.WP;
// - PAE paging (§4.4): the PDPTE registers loaded by MOV to CR3 and by MOV to CR0/CR4 when
//   they (re)enter PAE paging, #GP(0) for a present PDPTE with a reserved bit (nothing
//   changes), walks that use the loaded PDPTEs and not memory, 2-MByte pages, XD with NXE,
//   reserved bits 62:MAXPHYADDR;
// - #PF error codes (§4.7): RSVD with P, I/D only when SMEP or (PAE and NXE);
// - entering IA-32e mode from PAE-enabled CR4 loads no PDPTEs (4-level paging has none).
// Each check reads through a translation and compares with what the SDM says.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Machine } from '../src/machine/machine.js';
import type { Cpu } from '../src/cpu/cpu.js';
import { TLB_SIZE, TlbKind } from '../src/cpu/cpu.js';
import type { Insn } from '../src/cpu/insn.js';
import { Access } from '../src/cpu/paging.js';
import * as S from '../src/cpu/ops/system.js';
import * as C from '../src/arch/control.js';
import * as V from '../src/arch/vectors.js';
import { FAULT } from '../src/cpu/fault.js';
import { flatProtectedModeState } from '../src/cpu/state.js';

const TWO32 = 4294967296;
// 32-bit paging structures.
const PD32 = 0x1000, PT32 = 0x2000;
// PAE structures: two PDPTs (32-byte aligned), page directories and a page table.
const PDPT = 0x3000, PDPT2 = 0x3020, PD0 = 0x4000, PD1 = 0x5000, PD1_ALT = 0x6000, PT = 0x7000;
const FRAME_A = 0x10000, FRAME_B = 0x11000;
const PF = (bits: number): string => `${V.PF}/${bits}`;
const GP0 = `${V.GP}/0`;

function machine(): { m: Machine; cpu: Cpu } {
  const m = new Machine({ memoryBytes: 16 << 20, cpu: { vendor: 'intel', fred: false } });
  m.cpu.restore(flatProtectedModeState(m.cpu.capture(), 0));
  m.memory.writeU32(FRAME_A, 0xaaaa);
  m.memory.writeU32(FRAME_B, 0xbbbb);
  m.memory.writeU32(0x800000, 0x8888);
  return { m, cpu: m.cpu };
}

/** Run an operation; return the vector it raised with the error code, or 'none'. */
function outcome(cpu: Cpu, f: () => void): string {
  try {
    f();
    return 'none';
  } catch (e) {
    if (e !== FAULT) throw e;
    return `${cpu.faultVector}/${cpu.faultError}`;
  }
}

const movCr = (cpu: Cpu, cr: number, value: number): string =>
  outcome(cpu, () => {
    cpu.regLo[0] = value | 0; cpu.regHi[0] = 0;
    S.movToCr(cpu, { reg: cr, rm: 0 } as Insn);
  });
const phys = (cpu: Cpu, lin: number, access = Access.Read): number =>
  cpu.translate(lin, access === Access.Fetch ? cpu.tlbFetch : access === Access.Write ? cpu.tlbWrite : cpu.tlbRead, access);
const access = (cpu: Cpu, lin: number, kind = Access.Read): string => outcome(cpu, () => phys(cpu, lin, kind));

/** 32-bit paging: 0-4 MiB through PT32 (identity for the first MiB, VA 0x200000 -> FRAME_A),
 *  4-8 MiB one 4-MByte page at physical 8 MiB, 8-12 MiB a PSE-36 page at 0x12_00c00000. */
function setup32(cr4 = C.CR4_PSE): { m: Machine; cpu: Cpu } {
  const { m, cpu } = machine();
  const mem = m.memory;
  mem.writeU32(PD32, PT32 | 3);
  for (let i = 0; i < 256; i++) mem.writeU32(PT32 + 4 * i, (i << 12) | 3);
  mem.writeU32(PT32 + 4 * 0x200, FRAME_A | 3);
  mem.writeU32(PD32 + 4, 0x800000 | 0x83);
  mem.writeU32(PD32 + 8, 0xc00000 | (0x12 << 13) | 0x83);
  assert.equal(movCr(cpu, 3, PD32), 'none');
  assert.equal(movCr(cpu, 4, cr4), 'none');
  assert.equal(movCr(cpu, 0, C.CR0_PE | C.CR0_ET | C.CR0_PG), 'none');
  return { m, cpu };
}

test('32-bit paging: 4-KByte pages through a page table, 4-MByte pages with CR4.PSE (§4.3)', () => {
  const { cpu } = setup32();
  assert.equal(cpu.read32(0x200000), 0xaaaa);
  assert.equal(phys(cpu, 0x200abc), FRAME_A + 0xabc);
  assert.equal(phys(cpu, 0x5abcde), 0x800000 + 0x1abcde, 'a 4-MByte page keeps linear bits 21:0');
  assert.equal(cpu.read32(0x400000), 0x8888);
});

test('32-bit paging: PSE-36 puts PDE bits 20:13 in physical-address bits 39:32; PDE bit 21 is reserved', () => {
  const { m, cpu } = setup32();
  assert.equal(phys(cpu, 0x812345), 0x12 * TWO32 + 0xc12345);
  m.memory.writeU32(PD32 + 8, 0xc00000 | (1 << 21) | 0x83);
  cpu.flushTlb();
  assert.equal(access(cpu, 0x812345), PF(V.PFEC_P | V.PFEC_RSVD));
  assert.equal(cpu.cr2, 0x812345);
  assert.equal(access(cpu, 0x812345, Access.Write), PF(V.PFEC_P | V.PFEC_RSVD | V.PFEC_W));
});

test('32-bit paging: without CR4.PSE a PDE with PS = 1 still locates a page table', () => {
  const { m, cpu } = setup32(0);
  m.memory.writeU32(PD32 + 4, PT32 | 0x83); // PS ignored: PT32 maps 4-8 MiB like 0-4 MiB
  cpu.flushTlb();
  assert.equal(cpu.read32(0x600000), 0xaaaa);
  assert.equal(movCr(cpu, 4, C.CR4_PSE), 'none');
  // With PSE the same PDE maps a 4-MByte page: bits 31:22 of PT32 (0) and, PSE-36, bit 13 of
  // PT32 (0x2000) as physical-address bit 32.
  assert.equal(phys(cpu, 0x600000), TWO32 + 0x200000);
});

test('32-bit paging: not present, read-only with CR0.WP, user pages, A and D flags (§4.6, §4.7, §4.8)', () => {
  const { m, cpu } = setup32();
  const mem = m.memory;
  mem.writeU32(PT32 + 4 * 0x201, 0); // 0x201000 not present
  assert.equal(access(cpu, 0x201004), PF(0));
  assert.equal(cpu.cr2, 0x201004);
  assert.equal(access(cpu, 0x201004, Access.Write), PF(V.PFEC_W));
  mem.writeU32(PT32 + 4 * 0x201, FRAME_B | 1); // read-only
  assert.equal(access(cpu, 0x201000, Access.Write), 'none', 'CR0.WP = 0: supervisor writes ignore R/W');
  assert.equal(movCr(cpu, 0, C.CR0_PE | C.CR0_ET | C.CR0_PG | C.CR0_WP), 'none');
  assert.equal(access(cpu, 0x201000, Access.Write), PF(V.PFEC_P | V.PFEC_W));
  assert.equal(outcome(cpu, () => cpu.translate(0x201000, TLB_SIZE * TlbKind.ReadU, Access.Read)), PF(V.PFEC_P | V.PFEC_U),
    'a user read of a supervisor page');
  // A in the PDE and the PTE; D only in the PTE of a written page; D in a written 4-MByte PDE.
  mem.writeU32(PD32, PT32 | 3);
  mem.writeU32(PT32 + 4 * 0x200, FRAME_A | 3);
  cpu.flushTlb();
  cpu.read32(0x200000);
  assert.equal(mem.readU32(PD32) & 0x60, 0x20);
  assert.equal(mem.readU32(PT32 + 4 * 0x200) & 0x60, 0x20);
  cpu.write32(0x200000, 1);
  assert.equal(mem.readU32(PT32 + 4 * 0x200) & 0x60, 0x60);
  cpu.write32(0x400000, 1);
  assert.equal(mem.readU32(PD32 + 4) & 0x60, 0x60);
});

test('32-bit paging has no XD: EFER.NXE is ignored, and a fetch sets I/D only with SMEP (§4.7)', () => {
  const { m, cpu } = setup32();
  cpu.efer |= C.EFER_NXE;
  m.memory.writeU32(PT32 + 4 * 0x201, 0);
  assert.equal(access(cpu, 0x200000, Access.Fetch), 'none');
  assert.equal(access(cpu, 0x201000, Access.Fetch), PF(0));
  assert.equal(movCr(cpu, 4, C.CR4_PSE | C.CR4_SMEP), 'none');
  assert.equal(access(cpu, 0x201000, Access.Fetch), PF(V.PFEC_I));
});

test('32-bit paging: a global 4-KByte or 4-MByte page survives MOV to CR3 (§4.10.2.4)', () => {
  const { m, cpu } = setup32(C.CR4_PSE | C.CR4_PGE);
  m.memory.writeU32(PT32 + 4 * 0x200, FRAME_A | 0x103);
  assert.equal(cpu.read32(0x200000), 0xaaaa);
  m.memory.writeU32(PT32 + 4 * 0x200, FRAME_B | 0x103);
  assert.equal(movCr(cpu, 3, PD32), 'none');
  assert.equal(cpu.read32(0x200000), 0xaaaa);
  m.memory.writeU32(PT32 + 4 * 0x200, FRAME_B | 0x3);
  cpu.flushTlbPage(0x200000); // INVLPG drops global translations too
  assert.equal(cpu.read32(0x200000), 0xbbbb);
  m.memory.writeU32(PT32 + 4 * 0x200, FRAME_A | 0x3);
  assert.equal(movCr(cpu, 3, PD32), 'none');
  assert.equal(cpu.read32(0x200000), 0xaaaa, 'a non-global one is re-walked');
  // A 4-MByte PDE's G flag makes its page global.
  m.memory.writeU32(PD32 + 4, 0x800000 | 0x183);
  cpu.flushTlbPage(0x400000);
  assert.equal(cpu.read32(0x400000), 0x8888);
  m.memory.writeU32(PD32 + 4, 0x83);
  assert.equal(movCr(cpu, 3, PD32), 'none');
  assert.equal(cpu.read32(0x400000), 0x8888);
});

/** PAE paging: PDPTE 0 -> PD0 (0-2 MiB one 2-MByte page, 2-4 MiB through PT: VA 0x200000 ->
 *  FRAME_A), PDPTE 1 -> PD1 (1 GiB: a 2-MByte page at 8 MiB), PDPTE 2 and 3 not present. */
function setupPae(efer = 0): { m: Machine; cpu: Cpu } {
  const { m, cpu } = machine();
  const mem = m.memory;
  mem.writeU64(PDPT, PD0 | 1, 0);
  mem.writeU64(PDPT + 8, PD1 | 1, 0);
  mem.writeU64(PD0, 0x83, 0);
  mem.writeU64(PD0 + 8, PT | 3, 0);
  mem.writeU64(PT, FRAME_A | 3, 0);
  mem.writeU64(PD1, 0x800000 | 0x83, 0);
  mem.writeU64(PD1_ALT, 0x83, 0); // a 2-MByte page at physical 0
  cpu.efer = efer;
  assert.equal(movCr(cpu, 3, PDPT), 'none');
  assert.equal(movCr(cpu, 4, C.CR4_PAE), 'none');
  assert.equal(movCr(cpu, 0, C.CR0_PE | C.CR0_ET | C.CR0_PG), 'none');
  return { m, cpu };
}

test('PAE paging: PDPTE registers select the page directory; 2-MByte and 4-KByte pages (§4.4)', () => {
  const { cpu } = setupPae();
  assert.equal(cpu.read32(0x200000), 0xaaaa);
  assert.equal(phys(cpu, 0x123456), 0x123456);
  assert.equal(phys(cpu, 0x40123456), 0x800000 + 0x123456);
  assert.equal(cpu.read32(0x40000000), 0x8888);
  assert.equal(access(cpu, 0x80000000), PF(0), 'PDPTE 2 is not present');
  assert.equal(cpu.cr2, 0x80000000);
});

test('PAE paging: the walk uses the loaded PDPTEs until MOV to CR3 (or a PDPTE-loading MOV to CR4) reloads them (§4.4.1)', () => {
  const { m, cpu } = setupPae();
  assert.equal(cpu.read32(0x40000000), 0x8888);
  m.memory.writeU64(PDPT + 8, PD1_ALT | 1, 0);
  cpu.flushTlb(); // the TLB is empty: only the PDPTE register can still point to PD1
  assert.equal(phys(cpu, 0x40000000), 0x800000);
  assert.equal(movCr(cpu, 3, PDPT), 'none');
  assert.equal(phys(cpu, 0x40000000 + FRAME_B), FRAME_B);
  assert.equal(cpu.read32(0x40000000 + FRAME_B), 0xbbbb);
  // MOV to CR4 changing PGE under PAE paging loads them too.
  m.memory.writeU64(PDPT + 8, PD1 | 1, 0);
  cpu.flushTlb();
  assert.equal(phys(cpu, 0x40000000), 0);
  assert.equal(movCr(cpu, 4, C.CR4_PAE | C.CR4_PGE), 'none');
  assert.equal(phys(cpu, 0x40000000), 0x800000);
});

test('PAE paging: a present PDPTE with a reserved bit makes MOV to CR3/CR4/CR0 raise #GP(0) and change nothing', () => {
  const { m, cpu } = setupPae();
  for (const [lo, hi] of [[1 << 1, 0], [1 << 2, 0], [1 << 5, 0], [1 << 8, 0], [0, 1 << (40 - 32)], [0, 1 << 31]]) {
    m.memory.writeU64(PDPT2, PD0 | 1 | lo, hi);
    m.memory.writeU64(PDPT2 + 8, PD0 | 1, 0);
    assert.equal(movCr(cpu, 3, PDPT2), GP0, `PDPTE bits ${hi.toString(16)}:${lo.toString(16)}`);
    assert.equal(cpu.cr3Lo, PDPT, 'CR3 unchanged');
    assert.equal(phys(cpu, 0x40000000), 0x800000, 'PDPTE registers unchanged');
  }
  // Not present: the other bits are ignored.
  m.memory.writeU64(PDPT2, PD0 | 0x1e6, 0xffffffff);
  m.memory.writeU64(PDPT2 + 8, PD1_ALT | 1, 0);
  assert.equal(movCr(cpu, 3, PDPT2), 'none');
  assert.equal(access(cpu, 0x1000), PF(0));
  assert.equal(phys(cpu, 0x40000000 + FRAME_B), FRAME_B);
  // MOV to CR4 reloading them (PGE changes), and MOV to CR0 entering PAE paging.
  m.memory.writeU64(PDPT2 + 16, PD0 | 1 | (1 << 8), 0);
  assert.equal(movCr(cpu, 4, C.CR4_PAE | C.CR4_PGE), GP0);
  assert.equal(cpu.cr4, C.CR4_PAE);
  assert.equal(movCr(cpu, 4, C.CR4_PAE), 'none', 'a MOV to CR4 changing none of PAE/PGE/PSE/SMEP loads nothing');
  assert.equal(movCr(cpu, 0, C.CR0_PE | C.CR0_ET), 'none');
  assert.equal(movCr(cpu, 0, C.CR0_PE | C.CR0_ET | C.CR0_PG), GP0);
  assert.equal(cpu.cr0 & C.CR0_PG, 0, 'paging stays off');
});

test('PAE paging: reserved bits 62:MAXPHYADDR and 20:13 of a 2-MByte PDE; XD only with EFER.NXE', () => {
  {
    const { m, cpu } = setupPae();
    m.memory.writeU64(PT, FRAME_A | 3, 1 << (52 - 32)); // ignored in 4-level paging, reserved here
    assert.equal(access(cpu, 0x200000), PF(V.PFEC_P | V.PFEC_RSVD));
    m.memory.writeU64(PT, FRAME_A | 3, 0x80000000); // XD without NXE: reserved
    cpu.flushTlb();
    assert.equal(access(cpu, 0x200000), PF(V.PFEC_P | V.PFEC_RSVD));
    m.memory.writeU64(PD1, 0x800000 | 0x83 | (1 << 13), 0);
    assert.equal(access(cpu, 0x40000000), PF(V.PFEC_P | V.PFEC_RSVD));
    assert.equal(access(cpu, 0x40000000, Access.Fetch), PF(V.PFEC_P | V.PFEC_RSVD), 'no I/D without NXE or SMEP');
  }
  {
    const { m, cpu } = setupPae(C.EFER_NXE);
    m.memory.writeU64(PT, FRAME_A | 3, 0x80000000);
    assert.equal(cpu.read32(0x200000), 0xaaaa);
    assert.equal(access(cpu, 0x200000, Access.Fetch), PF(V.PFEC_P | V.PFEC_I));
    assert.equal(access(cpu, 0x80000000, Access.Fetch), PF(V.PFEC_I), 'not-present fetch with NXE');
  }
});

test('PAE then IA-32e: setting CR0.PG with EFER.LME loads no PDPTEs; clearing it and re-entering PAE paging does', () => {
  const { m, cpu } = machine();
  // A PML4 whose first "PDPTEs" would be invalid: bit 1 (R/W) set in a present entry.
  const PML4 = 0x8000, L3 = 0x9000;
  m.memory.writeU64(PML4, L3 | 3, 0);
  m.memory.writeU64(L3, PD0 | 3, 0);
  m.memory.writeU64(PD0, 0x83, 0);
  m.memory.writeU64(PD0 + 8, PT | 3, 0);
  m.memory.writeU64(PT, FRAME_A | 3, 0);
  assert.equal(movCr(cpu, 4, C.CR4_PAE), 'none');
  assert.equal(movCr(cpu, 3, PML4), 'none');
  cpu.efer |= C.EFER_LME;
  assert.equal(movCr(cpu, 0, C.CR0_PE | C.CR0_ET | C.CR0_PG), 'none');
  assert.ok(cpu.longMode);
  assert.equal(cpu.read32(0x200000), 0xaaaa);
  assert.equal(movCr(cpu, 0, C.CR0_PE | C.CR0_ET), 'none'); // from compatibility-mode code in practice
  cpu.efer &= ~C.EFER_LME;
  assert.equal(movCr(cpu, 0, C.CR0_PE | C.CR0_ET | C.CR0_PG), GP0, 'PAE paging: the PML4 is not a valid PDPT');
  m.memory.writeU64(PDPT, PD0 | 1, 0);
  assert.equal(movCr(cpu, 3, PDPT), 'none');
  assert.equal(movCr(cpu, 0, C.CR0_PE | C.CR0_ET | C.CR0_PG), 'none');
  assert.equal(cpu.read32(0x200000), 0xaaaa);
});

test('switching between 32-bit and PAE paging with MOV to CR4.PAE while CR0.PG = 1 loads the PDPTEs', () => {
  const { m, cpu } = setup32();
  assert.equal(cpu.read32(0x400000), 0x8888);
  m.memory.writeU64(PDPT, PD0 | 1, 0);
  m.memory.writeU64(PD0, 0x83, 0);
  m.memory.writeU64(PD0 + 8, PT | 3, 0);
  m.memory.writeU64(PT, FRAME_B | 3, 0);
  // CR3 still points to PD32, whose first entries (PT32 | 3) have bit 1 set: #GP(0).
  assert.equal(movCr(cpu, 4, C.CR4_PSE | C.CR4_PAE), GP0);
  assert.equal(cpu.cr4, C.CR4_PSE);
  assert.equal(movCr(cpu, 3, PDPT), 'none', 'under 32-bit paging MOV to CR3 loads no PDPTEs');
  cpu.flushTlb();
  assert.equal(movCr(cpu, 4, C.CR4_PSE | C.CR4_PAE), 'none');
  assert.equal(cpu.read32(0x200000), 0xbbbb);
});

test('32-bit paging: a page directory past the end of memory reads as all ones (present PDE and PTE, no fault)', () => {
  const { cpu } = setup32(0);
  assert.equal(movCr(cpu, 3, 0xfffff000), 'none');
  // PDE 0xffffffff (PS ignored without PSE) -> page table at 0xfffff000 -> PTE 0xffffffff.
  assert.equal(phys(cpu, 0x123), 0xfffff123);
  assert.equal(cpu.read32(0x123) >>> 0, 0xffffffff);
});

test('SMEP and SMAP apply under 32-bit and PAE paging; a PDE G flag counts only for a 4-MByte page (§4.6, §4.10.2.4)', () => {
  {
    const { m, cpu } = setup32(C.CR4_PSE | C.CR4_PGE | C.CR4_SMEP | C.CR4_SMAP);
    m.memory.writeU32(PD32, PT32 | 7);
    m.memory.writeU32(PT32 + 4 * 0x200, FRAME_A | 7); // a user page
    cpu.flushTlb();
    assert.equal(access(cpu, 0x200000, Access.Fetch), PF(V.PFEC_P | V.PFEC_I), 'SMEP: supervisor fetch from a user page');
    assert.equal(access(cpu, 0x200000), PF(V.PFEC_P), 'SMAP: supervisor read of a user page with AC = 0');
    // G in a PDE that references a page table is ignored: the PTE (G = 0) decides.
    m.memory.writeU32(PD32, PT32 | 0x103);
    m.memory.writeU32(PT32 + 4 * 0x200, FRAME_A | 3);
    cpu.flushTlb();
    assert.equal(cpu.read32(0x200000), 0xaaaa);
    m.memory.writeU32(PT32 + 4 * 0x200, FRAME_B | 3);
    assert.equal(movCr(cpu, 3, PD32), 'none');
    assert.equal(cpu.read32(0x200000), 0xbbbb);
  }
  {
    const { m, cpu } = setupPae();
    m.memory.writeU64(PD0 + 8, PT | 7, 0);
    m.memory.writeU64(PT, FRAME_A | 7, 0);
    assert.equal(movCr(cpu, 4, C.CR4_PAE | C.CR4_SMEP | C.CR4_SMAP), 'none');
    assert.equal(access(cpu, 0x200000, Access.Fetch), PF(V.PFEC_P | V.PFEC_I));
    assert.equal(access(cpu, 0x200000, Access.Write), PF(V.PFEC_P | V.PFEC_W));
    assert.equal(outcome(cpu, () => cpu.translate(0x200000, TLB_SIZE * TlbKind.ReadU, Access.Read)), 'none', 'a user read');
  }
});
