// Debug-register behaviour pinned at instruction level (src/cpu/debug.ts), where a guest
// cannot check it: what QEMU cannot run (ICEBP), what the SDM defines but a guest must not
// rely on (the masking of an unaligned DRn), the model errors for what the SDM leaves
// undefined, the TLB staying coherent with the watched pages, and capture/restore exactness
// with breakpoints armed. The vCPU runs in 32-bit flat protected mode (paging off) with a
// small GDT and IDT; the #DB handler counts, records DR6 and the frame, and returns.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cpu } from '../src/cpu/cpu.js';
import { flatProtectedModeState } from '../src/cpu/state.js';
import { ModelError } from '../src/cpu/errors.js';
import { PhysicalMemory } from '../src/machine/memory.js';
import { IoBus } from '../src/machine/io.js';

const CODE = 0x1000;
const GDT = 0x500;
const IDT = 0x800;
const HANDLER = 0x3000;
const OTHER = 0x3800; // NOP; HLT
const DATA = 0x6000;
const LOG = 0x7000; // +0 count, +4 DR6, +8 saved EIP, +12 saved EFLAGS
const RF = 1 << 16;

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const movEax = (v: number): number[] => [0xb8, ...le32(v)];
/** MOV DRn, EAX with EAX := v first. */
const movDr = (n: number, v: number): number[] => [...movEax(v), 0x0f, 0x23, 0xc0 | (n << 3)];
const movCr4 = (v: number): number[] => [...movEax(v), 0x0f, 0x22, 0xe0];
const storeByte = (addr: number): number[] => [0xa2, ...le32(addr)]; // mov [addr], al
const NOP = 0x90, HLT = 0xf4, ICEBP = 0xf1;

/** The #DB handler: count, record DR6, the saved EIP and EFLAGS; with `setRf`, set RF in
 *  the frame so that a fault-class #DB's instruction runs on return. */
function handler(setRf: boolean): number[] {
  return [
    0xff, 0x05, ...le32(LOG), // inc dword [LOG]
    0x0f, 0x21, 0xf0, 0xa3, ...le32(LOG + 4), // mov eax, dr6; mov [LOG+4], eax
    0x8b, 0x04, 0x24, 0xa3, ...le32(LOG + 8), // mov eax, [esp]; mov [LOG+8], eax
    0x8b, 0x44, 0x24, 0x08, 0xa3, ...le32(LOG + 12), // mov eax, [esp+8]; mov [LOG+12], eax
    ...(setRf ? [0x81, 0x4c, 0x24, 0x08, ...le32(RF)] : []), // or dword [esp+8], RF
    0xcf, // iret
  ];
}

interface Rig { cpu: Cpu; mem: PhysicalMemory; dword(a: number): number }

/** A vCPU at CODE running `code`; vector 1 goes to the #DB handler, every other vector to a NOP
 *  and a HLT at OTHER (with IF = 0 the run ends there, 'halted'). */
function rig(code: number[], setRf = true): Rig {
  const mem = new PhysicalMemory(1 << 20);
  const cpu = new Cpu(mem, new IoBus(), { vendor: 'intel', fred: false });
  cpu.restore(flatProtectedModeState(cpu.capture(), CODE));
  // GDT: null, null, flat code32 (0x10, the entry state's CS), flat data32 (0x18).
  mem.write(GDT, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0));
  for (let v = 0; v < 32; v++) {
    const target = v === 1 ? HANDLER : OTHER;
    const gate = [target & 0xff, (target >>> 8) & 0xff, 0x10, 0, 0, 0x8e, (target >>> 16) & 0xff, target >>> 24];
    mem.write(IDT + 8 * v, Uint8Array.from(gate));
  }
  const s = cpu.capture();
  s.gdtr = { baseLo: GDT, baseHi: 0, limit: 0x1f };
  s.idtr = { baseLo: IDT, baseHi: 0, limit: 32 * 8 - 1 };
  s.gprLo[4] = 0x9000;
  cpu.restore(s);
  mem.write(HANDLER, Uint8Array.from(handler(setRf)));
  mem.write(OTHER, Uint8Array.of(NOP, HLT));
  mem.write(CODE, Uint8Array.from(code));
  const dword = (a: number): number => mem.view.getUint32(a, true);
  return { cpu, mem, dword };
}

test('instruction breakpoint: a fault before the instruction, RF = 0 pushed; RF set by the handler lets it run once (SDM Vol. 3B §18.3.1.1)', () => {
  const code = [...movDr(0, CODE + 16), ...movDr(7, 0x401)];
  while (code.length < 16) code.push(NOP);
  const r = rig([...code, NOP, HLT]);
  assert.equal(r.cpu.run(1000), 'halted');
  assert.equal(r.dword(LOG), 1, 'one #DB');
  assert.equal(r.dword(LOG + 8), CODE + 16, 'saved EIP: the breakpoint instruction');
  assert.equal(r.dword(LOG + 12) & RF, 0, 'RF pushed as it was: 0');
  assert.equal(r.dword(LOG + 4) & 0xe00f, 0x1, 'DR6.B0');
  assert.equal(r.cpu.rip, CODE + 18, 'the NOP ran and the HLT retired');
});

test('instruction breakpoint: without RF in the frame the #DB repeats at the same instruction', () => {
  const code = [...movDr(0, CODE + 16), ...movDr(7, 0x401)];
  while (code.length < 16) code.push(NOP);
  const r = rig([...code, NOP, HLT], false);
  assert.equal(r.cpu.run(2000), null, 'the budget ends the run');
  assert.ok(r.dword(LOG) > 10, `the #DB repeated (${r.dword(LOG)} times)`);
  assert.equal(r.dword(LOG + 8), CODE + 16);
});

test('data breakpoint: an unaligned DRn is masked to LEN, here 0x6003 with LEN 4 watches 0x6000-0x6003 (SDM Vol. 3B §18.2.5)', () => {
  for (const [at, hits] of [[DATA, 1], [DATA + 3, 1], [DATA + 4, 0], [DATA - 1, 0]] as const) {
    // DR7: L1, R/W1 = 01 (write), LEN1 = 11 (4 bytes).
    const r = rig([...movDr(1, DATA + 3), ...movDr(7, 0x400 | 0x4 | (0xd << 20)), ...storeByte(at), HLT]);
    assert.equal(r.cpu.run(1000), 'halted');
    assert.equal(r.dword(LOG), hits, `a byte written at 0x${at.toString(16)}`);
    if (hits !== 0) {
      assert.equal(r.dword(LOG + 4) & 0xe00f, 0x2, 'DR6.B1');
      assert.equal(r.dword(LOG + 8), CODE + 21, 'a trap: the saved EIP is the next instruction');
    }
  }
});

test('DR6: a breakpoint #DB replaces B0-B3 and keeps BS (SDM Vol. 3B §18.2.3; kvm-unit-tests debug.c)', () => {
  const r = rig([...movDr(6, 0x4008), ...movDr(1, DATA), ...movDr(7, 0x400 | 0x4 | (0x1 << 20)), ...storeByte(DATA), HLT]);
  assert.equal(r.cpu.run(1000), 'halted');
  assert.equal(r.dword(LOG), 1);
  assert.equal(r.dword(LOG + 4) & 0xe00f, 0x4002, 'B3 cleared, B1 set, BS kept');
});

test('data breakpoint: the watched page stays out of the TLB for data accesses, and arming flushes it', () => {
  // Write the page before arming (its translation is cached), then a byte outside the range
  // (a walk), then one inside: only the last traps.
  const r = rig([...storeByte(DATA + 0x10), ...movDr(1, DATA), ...movDr(7, 0x400 | 0x4 | (0x1 << 20)),
    ...storeByte(DATA + 0x10), ...storeByte(DATA), ...storeByte(DATA + 0x20), ...storeByte(DATA), HLT]);
  assert.equal(r.cpu.run(1000), 'halted');
  assert.equal(r.dword(LOG), 2, 'both writes of the watched byte trapped');
  // Disarming lets the page be cached again without a trap.
  const d = rig([...movDr(1, DATA), ...movDr(7, 0x400 | 0x4 | (0x1 << 20)), ...movDr(7, 0x400), ...storeByte(DATA), HLT]);
  assert.equal(d.cpu.run(1000), 'halted');
  assert.equal(d.dword(LOG), 0);
});

test('ICEBP: a #DB trap that leaves DR6 as it was and drops the data-breakpoint trap a MOV SS held (kvm-unit-tests debug.c)', () => {
  const r = rig([...movDr(6, 0), ICEBP, HLT]);
  assert.equal(r.cpu.run(1000), 'halted');
  assert.equal(r.dword(LOG), 1);
  assert.equal(r.dword(LOG + 8), CODE + 9, 'saved EIP after the F1');
  assert.equal(r.dword(LOG + 4) & 0xe00f, 0, 'DR6 unchanged');

  // mov ss, [DATA] with DR0 watching DATA (R/W 11, LEN 2), then ICEBP: one #DB.
  const m = rig([...movDr(6, 0), ...movDr(0, DATA), ...movDr(7, 0x401 | (0x7 << 16)), 0x8e, 0x15, ...le32(DATA), ICEBP, HLT]);
  m.mem.write(DATA, Uint8Array.of(0x18, 0));
  assert.equal(m.cpu.run(1000), 'halted');
  assert.equal(m.dword(LOG), 1, 'one #DB');
  assert.equal(m.dword(LOG + 4) & 0xe00f, 0, 'DR6 unchanged');
});

test('MOV SS: the data-breakpoint trap it raises comes after the next instruction (SDM Vol. 3A §6.8.3)', () => {
  const r = rig([...movDr(0, DATA), ...movDr(7, 0x401 | (0x7 << 16)), 0x8e, 0x15, ...le32(DATA), NOP, NOP, HLT]);
  r.mem.write(DATA, Uint8Array.of(0x18, 0));
  assert.equal(r.cpu.run(1000), 'halted');
  assert.equal(r.dword(LOG), 1);
  assert.equal(r.dword(LOG + 8), CODE + 23, 'after the NOP that follows the MOV SS');
  assert.equal(r.dword(LOG + 4) & 0xe00f, 0x1);
});

test('MOV SS: a fault in the next instruction drops the debug trap the MOV SS held (kvm-unit-tests debug.c, DR7.GD case)', () => {
  // mov ss, [DATA] (watched), then UD2: the #UD handler halts; no #DB ever comes.
  const r = rig([...movDr(0, DATA), ...movDr(7, 0x401 | (0x7 << 16)), 0x8e, 0x15, ...le32(DATA), 0x0f, 0x0b, HLT]);
  r.mem.write(DATA, Uint8Array.of(0x18, 0));
  assert.equal(r.cpu.run(1000), 'halted');
  assert.equal(r.cpu.rip, OTHER + 2, 'halted in the #UD handler, after its NOP');
  assert.equal(r.dword(LOG), 0, 'no #DB');
});

test('what the SDM leaves undefined is a model error: R/W = 10 with CR4.DE = 0, an instruction breakpoint with LEN != 00', () => {
  const io = rig([...movCr4(0), ...movDr(7, 0x401 | (0x2 << 16)), HLT]);
  assert.throws(() => io.cpu.run(1000), (e: unknown) => e instanceof ModelError && /R\/W = 10 and CR4.DE = 0/.test(e.message));
  const ok = rig([...movCr4(0x8), ...movDr(0, 0x80), ...movDr(7, 0x401 | (0x2 << 16)), HLT]);
  assert.equal(ok.cpu.run(1000), 'halted', 'with CR4.DE = 1 it is an I/O breakpoint');
  const len = rig([...movDr(7, 0x401 | (0x1 << 18)), HLT]);
  assert.throws(() => len.cpu.run(1000), (e: unknown) => e instanceof ModelError && /LEN != 00/.test(e.message));
});

test('I/O breakpoint on REP OUTSB: a trap after every iteration that hits, RF = 1 before the last (SDM Vol. 3B §18.3.1.2)', () => {
  // CR4.DE := 1; DR0 = port 0x80, R/W0 = 10, LEN 1; esi := DATA; ecx := 3; edx := 0x80; rep outsb.
  const code = [...movCr4(0x8), ...movDr(0, 0x80), ...movDr(7, 0x401 | (0x2 << 16)),
    0xbe, ...le32(DATA), 0xb9, ...le32(3), 0xba, ...le32(0x80), 0xf3, 0x6e, HLT];
  const r = rig(code);
  r.mem.write(DATA, Uint8Array.of(1, 2, 3));
  assert.equal(r.cpu.run(1000), 'halted');
  assert.equal(r.dword(LOG), 3, 'one #DB per iteration');
  assert.equal(r.dword(LOG + 8), CODE + 41, 'the last after the REP OUTSB');
  assert.equal(r.dword(LOG + 12) & RF, 0, 'the last iteration: RF = 0');
  assert.equal(r.dword(LOG + 4) & 0xe00f, 0x1, 'DR6.B0');
});

test('REP STOSB with a data breakpoint mid-string: capture/restore at every boundary changes nothing', () => {
  // edi := DATA; ecx := 8; al := 0x5a; DR1 watches DATA + 3 (write, 1 byte); rep stosb; hlt.
  const code = [0xbf, ...le32(DATA), 0xb9, ...le32(8), ...movDr(1, DATA + 3), ...movDr(7, 0x404 | (0x1 << 20)),
    ...movEax(0x5a), 0xf3, 0xaa, HLT];
  const straight = rig(code);
  assert.equal(straight.cpu.run(1000), 'halted');
  assert.equal(straight.dword(LOG), 1);
  assert.equal(straight.dword(LOG + 12) & RF, RF, 'RF = 1 pushed: iterations remained');
  assert.equal(straight.dword(LOG + 8), CODE + 31, 'the REP STOSB itself');

  const stepped = rig(code);
  let end: string | null = null;
  for (let n = 1; n < 1000 && end === null; n++) {
    end = stepped.cpu.run(stepped.cpu.icount + 1);
    if (end === null) stepped.cpu.restore(stepped.cpu.capture());
  }
  assert.equal(end, 'halted');
  assert.deepEqual(stepped.cpu.capture(), straight.cpu.capture());
  assert.deepEqual(stepped.mem.bytes.subarray(LOG, LOG + 16), straight.mem.bytes.subarray(LOG, LOG + 16));
});
