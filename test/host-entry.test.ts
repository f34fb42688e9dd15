// Host entry points (docs/architecture.md "Host entry points") on a bare long-mode machine:
// a host function registered at a linear address runs when delivery, a SYSCALL or a jump
// lands there, reads the frame the CPU pushed through paging, and leaves through the CPU's
// own IRETQ or SYSRET, whose checks and faults are the instruction's:
// - IDT delivery (SDM Vol. 3A §6.14.2, §6.14.4) pushes SS, RSP, RFLAGS, CS, RIP on the
//   TSS.RSP0 stack; IRETQ (SDM IRET "Operation", IA-32e mode) pops them back to CPL 3.
// - SYSRET with a non-canonical RCX: Intel raises #GP(0) at CPL 0 before any state changes
//   (SDM SYSRET "Operation"), so the fault is taken on the user's stack with RIP = the
//   entry point; AMD returns to CPL 3 and the fetch there faults (APM SYSRET).
// - The fetch at an entry point goes through paging (SDM Vol. 3A §4.7): a non-present page
//   is #PF with I/D = 1 (error 0x10 at CPL 0 with EFER.NXE), an XD page #PF error 0x11.
// - One tick of virtual time per call, as a retired instruction counts one.
// - Lookup by linear address: another linear page mapping the same physical page runs
//   the bytes; a write to the entry's page drops its decodes like any other.
// And the proof: a test host (test/helpers/syscall-host.ts) services the
// host-syscalls guest's SYSCALLs in TypeScript; the user program prints the same console
// and resumes ring 3 with the same registers at every return as under the guest's own
// kernel (SDM SYSCALL/SYSRET "Operation": RCX, R11, CS, SS, RFLAGS at the return), and the
// run survives capture and restore with the host re-registering its entry point.
// Under FRED (issue 17, point 9; SDM Vol. 3 §8.3, §8.4): a host at the ring-0 entry point
// (IA32_FRED_CONFIG + 256) reads the 64-byte frame INT n wrote and leaves by ERETS; one at the
// ring-3 entry reads a SYSCALL's frame (type 7, vector 1, no register changed) and leaves by
// ERETU; the exits ERETU and ERETS are the instructions' own semantics (#UD without CR4.FRED or
// without FRED); a host that declines a call runs the bytes it supersedes in its place; and
// test/helpers/fred-host.ts services linux-entry's write/getpid SYSCALLs on native/fred with
// the same console and the same registers at every return to ring 3 as the kernel's own entry.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Machine } from '../src/machine/machine.js';
import type { Cpu } from '../src/cpu/cpu.js';
import { flatProtectedModeState } from '../src/cpu/state.js';
import { instructionName } from '../src/cpu/host-entry.js';
import type { TransitionRecord } from '../src/cpu/transition.js';
import * as V from '../src/arch/vectors.js';
import { CS, SS } from '../src/arch/descriptors.js';
import { CR4_HI_FRED } from '../src/arch/control.js';
import { FredType } from '../src/cpu/fred.js';
import { readFredFrame } from '../src/hosts/fred-frame.js';
import type { FredFrame } from '../src/arch/fred-frame.js';
import { bootImage, restoreMachine, runBooted, type RunResult } from '../src/lab/run.js';
import { buildTestGuest } from './helpers/guest-console.js';
import { serviceSyscalls, symbols } from './helpers/syscall-host.js';
import { serviceFredSyscalls } from './helpers/fred-host.js';

const PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, PT = 0x4000;
const GDT = 0x5000, TSS = 0x6000, IDT = 0x7000, KSTACK = 0x9000;
const USER = 0x10000, USTACK = 0x20000;
/** The page holding the entry points, and a page of handlers (HLT) for faults. */
const HOSTPAGE = 0x30000, HANDLERS = 0x31000;
const ENTRY = HOSTPAGE + 0x40;
/** A second linear page mapped to HOSTPAGE's physical page. */
const ALIAS = 0x50000;
const CODE64 = 0xa09b00, DATA = 0xc09300, DPL3 = 3 << 13;
const TWO32 = 2 ** 32;

/** A machine in IA-32e mode at CPL 3 (or 0) on identity-mapped 4 KiB pages, with Linux's
 *  GDT layout and SYSCALL MSRs, a TSS whose RSP0 is KSTACK, and IDT gates: 0x80 (DPL 3) to
 *  ENTRY, #GP and #PF to HLTs at HANDLERS and HANDLERS + 1. With `fred`, FRED is enumerated and
 *  enabled (CR4.FRED): events enter at HOSTPAGE from ring 3 and HOSTPAGE + 256 from ring 0
 *  (IA32_FRED_CONFIG, no red zone), on IA32_FRED_RSP0 = KSTACK from ring 3. */
function machine(vendor: 'intel' | 'amd', cpl: 0 | 3, rip: number, fred = false): Machine {
  const m = new Machine({ memoryBytes: 4 << 20, cpu: { vendor, fred } });
  const mem = m.memory;
  mem.writeU64(PML4, PDPT | 7, 0);
  mem.writeU64(PDPT, PD | 7, 0);
  mem.writeU64(PD, PT | 7, 0);
  for (let i = 0; i < 512; i++) mem.writeU64(PT + 8 * i, (i * 0x1000) | 7, 0);
  mem.writeU64(PT + 8 * (ALIAS >> 12), HOSTPAGE | 7, 0);
  const gdt: [number, number][] = [[0, 0], [0, 0], [0xffff, 0x00af9b00], [0xffff, 0x00cf9300], [0xffff, 0x00cffb00], [0xffff, 0x00cff300], [0xffff, 0x00affb00]];
  gdt.forEach(([lo, hi], k) => mem.writeU64(GDT + 8 * k, lo, hi));
  mem.writeU32(TSS + 4, KSTACK);
  const gate = (vector: number, target: number, dpl: number): void => {
    mem.writeU32(IDT + 16 * vector, (target & 0xffff) | (0x10 << 16));
    mem.writeU32(IDT + 16 * vector + 4, (target & 0xffff0000) | 0x8e00 | (dpl << 13));
  };
  gate(0x80, ENTRY, 3);
  gate(V.GP, HANDLERS, 0);
  gate(V.PF, HANDLERS + 1, 0);
  mem.write(HANDLERS, Uint8Array.of(0xf4, 0xf4));

  const cpu = m.cpu;
  const s = flatProtectedModeState(cpu.capture(), 0);
  s.cr0 = 0x80010011; s.cr3Lo = PML4; s.cr4 = 0x20; s.efer = 0xd01; // PG WP PE ET; PAE; NXE LMA LME SCE
  const dpl = cpl === 3 ? DPL3 : 0;
  s.segments[CS] = { sel: cpl === 3 ? 0x33 : 0x10, baseLo: 0, baseHi: 0, limit: -1, attr: CODE64 | dpl };
  s.segments[SS] = { sel: cpl === 3 ? 0x2b : 0x18, baseLo: 0, baseHi: 0, limit: -1, attr: DATA | dpl };
  s.cpl = cpl;
  s.gdtr = { baseLo: GDT, baseHi: 0, limit: 7 * 8 - 1 };
  s.idtr = { baseLo: IDT, baseHi: 0, limit: 256 * 16 - 1 };
  s.tr = { sel: 0x40, baseLo: TSS, baseHi: 0, limit: 0x67, attr: 0x8b00 };
  s.msrs.star = [0, (0x23 << 16) | 0x10];
  s.msrs.lstar = [ENTRY, 0];
  s.msrs.fmask = [0x47700, 0];
  if (fred) {
    s.cr4Hi = CR4_HI_FRED;
    s.msrs.fredConfig = [HOSTPAGE, 0];
    s.msrs.fredRsp0 = [KSTACK, 0];
  }
  s.gprLo[4] = cpl === 3 ? USTACK : KSTACK;
  s.rip = rip;
  cpu.restore(s);
  return m;
}

const u64 = (cpu: Cpu, lin: number): number => {
  const lo = cpu.read64(lin);
  return cpu.hi * TWO32 + (lo >>> 0);
};
/** The qwords at the stack pointer, read through paging at the current CPL. */
const stack = (cpu: Cpu, n: number): number[] => Array.from({ length: n }, (_, k) => u64(cpu, cpu.regLo[4] + 8 * k));

test('an entry point reached by IDT delivery reads the frame the CPU pushed and leaves with IRETQ', () => {
  const m = machine('intel', 3, USER);
  m.memory.write(USER, Uint8Array.of(0xcd, 0x80, 0xeb, 0xfe)); // int $0x80; jmp .
  const cpu = m.cpu;
  const seen: number[][] = [];
  cpu.hostEntries.register(ENTRY, 'int80', (c) => {
    const frame = stack(c, 5);
    seen.push([c.cpl, c.regLo[4], ...frame]);
    c.regLo[0] = frame[0] | 0; // the host's answer: the return RIP, in RAX
    c.regHi[0] = 0;
    c.hostEntries.leave('iretq', 'test');
  });
  const records: TransitionRecord[] = [];
  m.trace((r) => records.push(r));
  cpu.regLo[11] = 0x202; cpu.setFlags(0x202);

  assert.equal(cpu.run(2), null);
  // SDM §6.14.2: the frame on TSS.RSP0 (aligned to 16): RIP, CS, RFLAGS, RSP, SS.
  assert.deepEqual(seen, [[0, KSTACK - 40, USER + 2, 0x33, 0x202, USTACK, 0x2b]]);
  assert.deepEqual([cpu.cpl, cpu.rip, cpu.regLo[4], cpu.segSel[CS], cpu.segSel[SS], cpu.regLo[0]], [3, USER + 2, USTACK, 0x33, 0x2b, USER + 2]);
  assert.equal(cpu.getFlags(), 0x202);
  assert.deepEqual(records.map((r) => [r.kind, r.annotation, r.after.cpl, r.after.registers.rip]), [
    ['delivery', null, 0, '0x' + ENTRY.toString(16).padStart(16, '0')],
    ['iret', 'host:int80 test', 3, '0x' + (USER + 2).toString(16).padStart(16, '0')],
  ]);
});

test('each call of an entry point is one tick of virtual time, returning or faulting', () => {
  const m = machine('intel', 3, USER);
  m.memory.write(USER, Uint8Array.of(0xcd, 0x80, 0xcd, 0x80, 0xcd, 0x80, 0xeb, 0xfe));
  const cpu = m.cpu;
  let calls = 0;
  cpu.hostEntries.register(ENTRY, 'count', (c) => { calls++; c.hostEntries.leave('iretq'); });
  for (let limit = 1; limit <= 6; limit++) {
    cpu.run(limit);
    assert.equal(cpu.icount, limit);
    assert.equal(calls, limit >> 1, `after ${limit} ticks`);
  }
  assert.equal(cpu.rip, USER + 6);

  // SYSCALL (1), the call whose SYSRET faults (1), the #GP handler's HLT (1).
  const f = machine('intel', 3, USER);
  f.memory.write(USER, Uint8Array.of(0x0f, 0x05));
  f.cpu.hostEntries.register(ENTRY, 'bad', (c) => { c.regHi[1] = 0x8000; c.hostEntries.leave('sysretq'); });
  assert.equal(f.cpu.run(100), 'halted');
  assert.equal(f.cpu.icount, 3);
});

test('Intel: SYSRET to a non-canonical RCX from an entry point is #GP(0) at CPL 0, at the entry point, on the user stack', () => {
  const m = machine('intel', 3, USER);
  m.memory.write(USER, Uint8Array.of(0x0f, 0x05)); // syscall
  const cpu = m.cpu;
  cpu.hostEntries.register(ENTRY, 'sys', (c) => {
    c.regLo[1] = 0; c.regHi[1] = 0x8000; // RCX = 0x0000800000000000
    c.hostEntries.leave('sysretq');
  });
  assert.equal(cpu.run(100), 'halted');
  assert.equal(cpu.rip, HANDLERS + 1);
  // Same privilege (CPL 0), so no stack switch: the frame is below the user's RSP (§6.14.2).
  assert.equal(cpu.regLo[4], USTACK - 48);
  const [error, rip, cs, , rsp, ss] = stack(cpu, 6);
  assert.deepEqual([error, rip, cs, rsp, ss], [0, ENTRY, 0x10, USTACK, 0x18]);
  assert.equal(cpu.transitions, 2, 'SYSCALL and the #GP delivery; SYSRET committed nothing');
});

test('AMD: SYSRET to a non-canonical RCX from an entry point returns to CPL 3, where the fetch faults', () => {
  const m = machine('amd', 3, USER);
  m.memory.write(USER, Uint8Array.of(0x0f, 0x05));
  const cpu = m.cpu;
  cpu.hostEntries.register(ENTRY, 'sys', (c) => { c.regLo[1] = 0; c.regHi[1] = 0x8000; c.hostEntries.leave('sysretq'); });
  assert.equal(cpu.run(100), 'halted');
  const [error, rip, cs, , rsp] = stack(cpu, 5);
  assert.deepEqual([error, rip, cs, rsp], [0, 2 ** 47, 0x33, USTACK]);
  assert.equal(cpu.regLo[4], KSTACK - 48, 'delivered from CPL 3 on TSS.RSP0');
});

test('the fetch at an entry point goes through paging: a non-present or XD page is #PF and the host is not called', () => {
  for (const [pte, error] of [[0, 0x10], [(HOSTPAGE | 7), 0x11]] as const) {
    const m = machine('intel', 3, USER);
    m.memory.write(USER, Uint8Array.of(0x0f, 0x05));
    m.memory.writeU64(PT + 8 * (HOSTPAGE >> 12), pte, pte === 0 ? 0 : 0x80000000 | 0); // XD = bit 63
    let called = false;
    m.cpu.hostEntries.register(ENTRY, 'sys', (c) => { called = true; c.hostEntries.leave('sysretq'); });
    assert.equal(m.cpu.run(100), 'halted');
    assert.equal(m.cpu.rip, HANDLERS + 2, '#PF handler');
    const [err, rip, cs] = stack(m.cpu, 3);
    assert.deepEqual([err, rip, cs, m.cpu.cr2, called], [error, ENTRY, 0x10, ENTRY, false]);
  }
});

test('entry points are found by linear address: an alias of the page runs the bytes, the page itself the host', () => {
  // At CPL 0: jmp to the alias, where the bytes say mov $0x1111, %eax; jmp *%rbx (ENTRY).
  const m = machine('intel', 0, HOSTPAGE);
  const mov = [0xb8, 0x11, 0x11, 0, 0]; // mov $0x1111, %eax
  m.memory.write(ENTRY, Uint8Array.of(...mov, 0xff, 0xe3)); // ...; jmp *%rbx
  m.memory.write(HOSTPAGE, Uint8Array.of(0xff, 0xe1)); // jmp *%rcx
  const cpu = m.cpu;
  cpu.regLo[1] = ALIAS + (ENTRY - HOSTPAGE);
  cpu.regLo[3] = ENTRY;
  const at: number[] = [];
  cpu.hostEntries.register(ENTRY, 'here', (c) => {
    at.push(c.regLo[0]);
    c.requestStop(); // ends the run without leaving
  });
  assert.equal(cpu.run(100), 'stopped');
  assert.deepEqual(at, [0x1111], 'the alias ran the MOV, then the jump to ENTRY called the host');
  assert.equal(cpu.icount, 4);
  assert.equal(instructionName(cpu.instructionAt(ENTRY)!), 'host:here');
  assert.equal(instructionName(cpu.instructionAt(ALIAS + (ENTRY - HOSTPAGE))!), 'MOV');

  // Again from the alias: it still runs the bytes, though ENTRY's decode is cached.
  cpu.rip = ALIAS + (ENTRY - HOSTPAGE);
  cpu.regLo[0] = 0;
  assert.equal(cpu.run(200), 'stopped');
  assert.deepEqual(at, [0x1111, 0x1111]);
});

test('a write to an entry point\'s page drops its decodes; unregistering runs the bytes again', () => {
  const m = machine('intel', 0, HOSTPAGE);
  m.memory.write(HOSTPAGE, Uint8Array.of(0xb8, 1, 0, 0, 0, 0xf4)); // mov $1, %eax; hlt
  const cpu = m.cpu;
  cpu.hostEntries.register(ENTRY, 'unused', (c) => c.requestStop());
  assert.equal(cpu.run(100), 'halted');
  assert.equal(cpu.regLo[0], 1);
  m.memory.write(HOSTPAGE + 1, Uint8Array.of(2)); // a host-side write
  cpu.rip = HOSTPAGE;
  assert.equal(cpu.run(200), 'halted');
  assert.equal(cpu.regLo[0], 2, 'the stale decode of the entry page ran');
  cpu.write8(HOSTPAGE + 1, 3); // a guest store
  cpu.rip = HOSTPAGE;
  assert.equal(cpu.run(300), 'halted');
  assert.equal(cpu.regLo[0], 3);

  m.memory.write(ENTRY, Uint8Array.of(0xb8, 4, 0, 0, 0, 0xf4));
  cpu.rip = ENTRY;
  assert.equal(cpu.run(400), 'stopped');
  cpu.hostEntries.unregister(ENTRY);
  cpu.rip = ENTRY;
  assert.equal(cpu.run(500), 'halted');
  assert.equal(cpu.regLo[0], 4);
});

test('a host function that neither leaves nor stops the run, or leaves twice, is a host bug, not a guest behaviour', () => {
  const m = machine('intel', 0, ENTRY);
  m.cpu.hostEntries.register(ENTRY, 'stays', () => {});
  assert.throws(() => m.cpu.run(10), /host entry stays returned without leaving/);
  const twice = machine('intel', 3, USER);
  twice.memory.write(USER, Uint8Array.of(0x0f, 0x05));
  twice.cpu.hostEntries.register(ENTRY, 'twice', (c) => { c.hostEntries.leave('sysretq'); c.hostEntries.leave('sysretq'); });
  assert.throws(() => twice.cpu.run(10), /host entry twice left twice/);
  assert.throws(() => m.cpu.hostEntries.leave('iretq'), /outside a host entry point/);
  assert.throws(() => m.cpu.hostEntries.register(ENTRY, 'again', () => {}), /stays is already registered/);
});

// Each exit is the instruction's own semantics: leaving through it is the same, to the
// last register, as executing its bytes at the entry point (SYSEXIT included: whatever the
// opcode table's row does today, a model error until it is modelled, the exit does too).
for (const [exit, bytes] of [['sysretq', [0x48, 0x0f, 0x07]], ['sysretl', [0x0f, 0x07]], ['iretq', [0x48, 0xcf]],
  ['sysexitq', [0x48, 0x0f, 0x35]], ['sysexitl', [0x0f, 0x35]]] as const) {
  test(`the host exit ${exit} does what the bytes ${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')} do at the entry point`, () => {
    const outcome = (host: boolean): unknown => {
      const m = machine('intel', 0, ENTRY);
      const cpu = m.cpu;
      for (const off of [0x10, 0x20, 0x30]) m.memory.write(USER + off, Uint8Array.of(0xeb, 0xfe));
      cpu.regLo[1] = USER + 0x10; cpu.regLo[11] = 0x202; cpu.regLo[2] = USER + 0x20;
      cpu.regLo[4] = KSTACK - 40;
      [USER + 0x30, 0x33, 0x202, USTACK, 0x2b].forEach((v, k) => m.memory.writeU64(KSTACK - 40 + 8 * k, v, 0));
      if (host) cpu.hostEntries.register(ENTRY, exit, (c) => c.hostEntries.leave(exit));
      else m.memory.write(ENTRY, Uint8Array.from(bytes));
      try {
        cpu.run(5);
      } catch (e) {
        return (e as Error).message;
      }
      return { registers: m.registers(), cpl: cpu.cpl, transitions: cpu.transitions };
    };
    assert.deepEqual(outcome(true), outcome(false));
  });
}

// ---------------------------------------------------------------- FRED

test('FRED: a host at the ring-0 entry (+256) reads the frame INT n wrote and leaves with ERETS', () => {
  // SDM Vol. 3 §8.3: from ring 0 an event enters at IA32_FRED_CONFIG[63:12] + 256, on the
  // current stack (same level; no red zone configured) aligned down to 64 bytes, the frame 64
  // bytes below: error code 0, the RIP after INT n, CS (selector, stack level 0), RFLAGS, RSP,
  // SS (selector, vector, type 4, software event, 64-bit, instruction length 2), event data 0.
  // ERETS (§8.4.1) reloads RIP, RFLAGS and RSP from it and stays at CPL 0.
  const m = machine('intel', 0, USER, true);
  m.memory.write(USER, Uint8Array.of(0xcd, 0x81, 0xeb, 0xfe)); // int $0x81; jmp .
  const cpu = m.cpu;
  const rsp = KSTACK - 0x108; // not 64-byte aligned
  cpu.regLo[4] = rsp;
  cpu.setFlags(0x86);
  const seen: { rsp: number; frame: FredFrame }[] = [];
  cpu.hostEntries.register(HOSTPAGE + 256, 'ring0', (c) => {
    seen.push({ rsp: c.regLo[4], frame: readFredFrame(c) });
    c.regLo[0] = 0x600d; c.regHi[0] = 0;
    c.hostEntries.leave('erets', 'test');
  });
  const records: TransitionRecord[] = [];
  m.trace((r) => records.push(r));

  assert.equal(cpu.run(2), null);
  const frameAt = Math.floor(rsp / 64) * 64 - 64;
  assert.deepEqual(seen, [{
    rsp: frameAt,
    frame: {
      errorCode: 0n, rip: BigInt(USER + 2), cs: { selector: 0x10, stackLevel: 0, wfe: 0 }, rflags: 0x86n, rsp: BigInt(rsp),
      ss: { selector: 0x18, stiBlock: 0, swEvent: 1, nmi: 0, vector: 0x81, type: FredType.SoftwareInterrupt, long: 1, nested: 0, insnLen: 2 },
      eventData: 0n,
    },
  }]);
  assert.deepEqual([cpu.cpl, cpu.rip, cpu.regLo[4], cpu.segSel[CS], cpu.segSel[SS], cpu.regLo[0], cpu.getFlags()], [0, USER + 2, rsp, 0x10, 0x18, 0x600d, 0x86]);
  const hex = (v: number): string => '0x' + v.toString(16).padStart(16, '0');
  assert.deepEqual(records.map((r) => [r.kind, r.fredType, r.annotation, r.after.cpl, r.after.registers.rip]), [
    ['delivery', FredType.SoftwareInterrupt, null, 0, hex(HOSTPAGE + 256)],
    ['erets', null, 'host:ring0 test', 0, hex(USER + 2)],
  ]);
});

test('FRED: a host at the ring-3 entry reads a SYSCALL\'s frame and leaves with ERETU; RCX, R11 and GS are the user\'s', () => {
  // SDM SYSCALL with CR4.FRED = 1: FRED event delivery, type 7 vector 1, instruction length 2,
  // no general-purpose register changed; from ring 3 on IA32_FRED_RSP0, CS and SS from
  // IA32_STAR[47:32], GS.base swapped with IA32_KERNEL_GS_BASE (§8.3). ERETU (§8.4.2) returns to
  // ring 3 with the frame's RIP, RFLAGS, RSP, CS and SS and swaps GS.base back.
  const m = machine('intel', 3, USER, true);
  m.memory.write(USER, Uint8Array.of(0x0f, 0x05, 0xeb, 0xfe)); // syscall; jmp .
  const cpu = m.cpu;
  const st = cpu.capture();
  st.segments[5].baseLo = 0x1000; // the user's GS.base
  st.msrs.kernelGsBase = [0x2000, 0];
  cpu.restore(st);
  cpu.regLo[1] = 0x1111; cpu.regLo[11] = 0x2222; cpu.regLo[0] = 39;
  cpu.setFlags(0x202);
  const seen: unknown[] = [];
  cpu.hostEntries.register(HOSTPAGE, 'user', (c) => {
    const f = readFredFrame(c);
    seen.push([c.cpl, c.regLo[4], c.regLo[1], c.regLo[11], c.segBaseLo[5], f.rip, f.cs.selector, f.rflags, f.rsp, f.ss.selector, f.ss.type, f.ss.vector, f.ss.insnLen, f.ss.swEvent, f.ss.long]);
    c.regLo[0] = 1;
    c.hostEntries.leave('eretu', 'getpid');
  });
  assert.equal(cpu.run(2), null);
  assert.deepEqual(seen, [[0, KSTACK - 64, 0x1111, 0x2222, 0x2000, BigInt(USER + 2), 0x33, 0x202n, BigInt(USTACK), 0x2b, FredType.Other, 1, 2, 1, 1]]);
  assert.deepEqual([cpu.cpl, cpu.rip, cpu.regLo[4], cpu.segSel[CS], cpu.segSel[SS], cpu.regLo[0], cpu.regLo[1], cpu.regLo[11], cpu.segBaseLo[5], cpu.getFlags()],
    [3, USER + 2, USTACK, 0x33, 0x2b, 1, 0x1111, 0x2222, 0x1000, 0x202]);
});

// ERETU and ERETS as host exits are the instructions' own semantics too: on a FRED CPU with
// CR4.FRED = 1, with it clear (#UD: SDM ERETU/ERETS "Operation"), and on a CPU without FRED
// (#UD: the decoder's feature gate), the same as executing F3/F2 0F 01 CA at the entry point.
for (const [exit, bytes, frame] of [
  ['eretu', [0xf3, 0x0f, 0x01, 0xca], [0, USER + 0x30, 0x33, 0x202, USTACK, 0x2b]],
  ['erets', [0xf2, 0x0f, 0x01, 0xca], [0, USER + 0x30, 0x10, 0x202, KSTACK - 0x200, 0x18]],
] as const) {
  for (const fred of ['enabled', 'enumerated', 'absent'] as const) {
    test(`the host exit ${exit} does what the bytes ${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')} do at the entry point (FRED ${fred})`, () => {
      const outcome = (host: boolean): unknown => {
        const m = machine('intel', 0, ENTRY, fred !== 'absent');
        const cpu = m.cpu;
        if (fred === 'enumerated') {
          const st = cpu.capture();
          st.cr4Hi = 0;
          cpu.restore(st);
        }
        m.memory.write(USER + 0x30, Uint8Array.of(0xeb, 0xfe));
        cpu.regLo[4] = KSTACK - 64;
        frame.forEach((v, k) => m.memory.writeU64(KSTACK - 64 + 8 * k, v, 0));
        if (host) cpu.hostEntries.register(ENTRY, exit, (c) => c.hostEntries.leave(exit));
        else m.memory.write(ENTRY, Uint8Array.from(bytes));
        cpu.run(5);
        return { registers: m.registers(), cpl: cpu.cpl, transitions: cpu.transitions };
      };
      const viaHost = outcome(true) as { registers: Record<string, string> };
      assert.deepEqual(viaHost, outcome(false));
      // The case is what it says: the return reached the frame's RIP only with FRED enabled.
      assert.equal(BigInt(viaHost.registers.rip) === BigInt(USER + 0x30), fred === 'enabled');
    });
  }
}

test('a host that declines a call runs the bytes at its entry point in its place: the same state, the same ticks', () => {
  // INT 0x80 from ring 3 to ENTRY, whose bytes set EAX and IRETQ; then the bytes change.
  const outcome = (declining: boolean, imm: number): unknown => {
    const m = machine('intel', 3, USER);
    m.memory.write(USER, Uint8Array.of(0xcd, 0x80, 0xeb, 0xfe));
    m.memory.write(ENTRY, Uint8Array.of(0xb8, 0x34, 0x12, 0, 0, 0x48, 0xcf)); // mov $0x1234, %eax; iretq
    const cpu = m.cpu;
    let calls = 0;
    if (declining) cpu.hostEntries.register(ENTRY, 'decliner', (c) => { calls++; c.hostEntries.decline(); });
    cpu.run(4);
    const first = { registers: m.registers(), icount: cpu.icount, transitions: cpu.transitions };
    m.memory.write(ENTRY + 1, Uint8Array.of(imm)); // a write to the entry's page drops its decodes
    cpu.rip = USER;
    cpu.run(8);
    return { first, second: { registers: m.registers(), icount: cpu.icount, transitions: cpu.transitions }, calls, eax: cpu.regLo[0] };
  };
  const declined = outcome(true, 0x78) as { calls: number; eax: number };
  assert.deepEqual(declined, { ...(outcome(false, 0x78) as object), calls: 2 });
  assert.equal(declined.eax, 0x1278, 'the bytes as written after the first call ran');

  // A declined call whose bytes fault: the fault is the bytes' (#PF at the entry point, no
  // tick of the call's own), as without a host.
  const faulting = (declining: boolean): unknown => {
    const m = machine('intel', 3, USER);
    m.memory.write(USER, Uint8Array.of(0xcd, 0x80));
    m.memory.write(ENTRY, Uint8Array.of(0x8b, 0x04, 0x25, 0, 0, 0, 0x40)); // mov 0x40000000, %eax: unmapped
    if (declining) m.cpu.hostEntries.register(ENTRY, 'decliner', (c) => c.hostEntries.decline());
    assert.equal(m.cpu.run(100), 'halted');
    return { registers: m.registers(), icount: m.cpu.icount, cr2: m.cpu.cr2, stack: stack(m.cpu, 3) };
  };
  assert.deepEqual(faulting(true), faulting(false));
  assert.equal((faulting(true) as { cr2: number }).cr2, 0x40000000);

  const m = machine('intel', 3, USER);
  m.memory.write(USER, Uint8Array.of(0xcd, 0x80));
  m.cpu.hostEntries.register(ENTRY, 'both', (c) => { c.hostEntries.decline(); c.hostEntries.leave('iretq'); });
  assert.throws(() => m.cpu.run(10), /host entry both left after declining/);
  const n = machine('intel', 3, USER);
  n.memory.write(USER, Uint8Array.of(0xcd, 0x80));
  n.cpu.hostEntries.register(ENTRY, 'late', (c) => { c.hostEntries.leave('iretq'); c.hostEntries.decline(); });
  assert.throws(() => n.cpu.run(10), /host entry late declined after leaving/);
});

// ---------------------------------------------------------------- the guest, two ways

const PROFILE = 'native/idt';

interface Traced { result: RunResult; records: TransitionRecord[] }

/** Run host-syscalls under its own kernel or with the TypeScript host, tracing. */
function runGuest(withHost: boolean): Traced {
  const image = buildTestGuest('host-syscalls');
  const records: TransitionRecord[] = [];
  const booted = bootImage(image, { profile: PROFILE, trace: (r) => records.push(r) });
  if (withHost) serviceSyscalls(booted.machine, image);
  return { result: runBooted(booted, image, { profile: PROFILE }), records };
}

/** Every return to ring 3: what the transition committed and the registers user code resumes with. */
const ring3 = (records: TransitionRecord[]): unknown[] =>
  records.filter((r) => r.after.cpl === 3 && r.before.cpl !== 3).map((r) => ({ kind: r.kind, registers: r.after.registers }));

test('host-syscalls: a TypeScript host servicing the SYSCALLs gives the same console and the same registers at every return to ring 3', () => {
  const kernel = runGuest(false);
  const host = runGuest(true);
  assert.equal(kernel.result.verdict, 'success', kernel.result.reason);
  assert.equal(host.result.verdict, 'success', host.result.reason);
  assert.equal(host.result.console, kernel.result.console);

  const calls = ['write', 'write', 'getpid', 'write', 'getpid', 'write', 'write', 'unknown(999)', 'write', 'getpid', 'write', 'write', 'write', 'write', 'exit'];
  assert.equal(kernel.records.filter((r) => r.kind === 'sysret').length, calls.length);
  assert.deepEqual(ring3(host.records), ring3(kernel.records));

  // Under the host the kernel's SYSCALL path runs no instruction: each call is one tick,
  // and its SYSRET says which host entry performed it, and what for.
  const hostCalls = host.records.filter((r) => r.annotation !== null);
  assert.deepEqual(hostCalls.map((r) => [r.kind, r.annotation]), calls.map((n) => ['sysret', `host:syscall ${n}`]));
  assert.ok(kernel.records.every((r) => r.annotation === null));
  const perCall = (kernel.result.instructions - host.result.instructions) / hostCalls.length;
  assert.ok(perCall > 1, `the kernel's entry path should cost more than one tick a call (${perCall})`);
});

test('host-syscalls with the TypeScript host: capture and restore, the host re-registering, continue exactly', () => {
  const image = buildTestGuest('host-syscalls');
  const whole = runGuest(true);
  // Stop at every boundary where RIP is the entry point (the SYSCALL retired, the host not
  // yet called), and at the boundaries after each host call.
  const points = whole.records.filter((r) => r.kind === 'syscall').flatMap((r) => [r.icount + 1, r.icount + 2]);
  assert.ok(points.length >= 20);
  let booted = bootImage(image, { profile: PROFILE });
  serviceSyscalls(booted.machine, image);
  for (const at of points) {
    assert.equal(booted.machine.run({ maxInsns: at, timeoutMs: 0 }).kind, 'insn-budget');
    const state = structuredClone(booted.machine.capture());
    booted = restoreMachine(state, { profile: PROFILE });
    serviceSyscalls(booted.machine, image);
  }
  const relayed = runBooted(booted, image, { profile: PROFILE });
  assert.equal(relayed.console, whole.result.console);
  assert.deepEqual(relayed.registers, whole.result.registers);
  assert.equal(relayed.instructions, whole.result.instructions);
  assert.equal(relayed.transitions, whole.result.transitions);
});

// ------------------------------------------------- linux-entry under FRED, two ways

interface FredTraced extends Traced { log: string[]; vvar: Uint8Array }

/** Run linux-entry on native/fred under its own kernel or with the TypeScript FRED host
 *  (test/helpers/fred-host.ts), tracing; with the bytes of the kernel's vvar page at the end. */
function runLinuxFred(withHost: boolean): FredTraced {
  const image = buildTestGuest('linux-entry');
  const records: TransitionRecord[] = [];
  const booted = bootImage(image, { profile: 'native/fred', trace: (r) => records.push(r) });
  const log = withHost ? serviceFredSyscalls(booted.machine, image) : [];
  const result = runBooted(booted, image, { profile: 'native/fred' });
  // vvar is identity-mapped (linux-entry's page tables). Its eretu_exits, which no program
  // reads, counts the kernel's own exits (the host does not keep it), so it is left out.
  const vvar = symbols(image).get('vvar')!;
  const bytes = booted.machine.memory.bytes.slice(vvar, vvar + VVAR_SIZE);
  bytes.fill(0, VVAR_ERETU_EXITS, VVAR_ERETU_EXITS + 8);
  return { result, records, log, vvar: bytes };
}
/** sizeof(struct vvar) and the offset of its eretu_exits (guests/linux-entry/linux.h). */
const VVAR_SIZE = 2848, VVAR_ERETU_EXITS = 2832;

const hexOf = (v: number): string => '0x' + v.toString(16).padStart(16, '0');

test('linux-entry on native/fred: a TypeScript FRED host servicing write and getpid gives the same console and registers at every return to ring 3', () => {
  const kernel = runLinuxFred(false);
  const host = runLinuxFred(true);
  assert.equal(kernel.result.verdict, 'success', kernel.result.reason);
  assert.equal(host.result.verdict, 'success', host.result.reason);
  assert.ok(kernel.result.console.includes('kernel.fred: enabled\n'));
  assert.equal(host.result.console, kernel.result.console);
  // Every return to ring 3: the registers and segment bases user code resumes with (GS.base:
  // FRED delivery from ring 3 and ERETU each swap it, SDM Vol. 3 §8.3, ERETU "Operation").
  const ring3Full = (records: TransitionRecord[]): unknown[] => records.filter((r) => r.after.cpl === 3 && r.before.cpl !== 3)
    .map((r) => ({ kind: r.kind, registers: r.after.registers, bases: r.after.bases }));
  assert.deepEqual(ring3Full(host.records), ring3Full(kernel.records));
  assert.deepEqual(host.vvar, kernel.vvar, 'the kernel\'s published vvar data ends the same');

  // What the host must have serviced, from the kernel's own run: each SYSCALL from 64-bit mode
  // (FRED type 7, vector 1) with RAX = write (1) or getpid (39) whose return RIP is canonical,
  // unless an instruction breakpoint in the kernel's entry or exit path trapped during it (a #DB
  // from ring 0 before the return to ring 3: the gap sweep's, with DR7 armed).
  const rs = kernel.records;
  const deliveries = rs.filter((r) => r.kind === 'delivery' && r.before.cpl === 3);
  const watched = (call: TransitionRecord): boolean => {
    for (let k = rs.indexOf(call) + 1; k < rs.length && rs[k].after.cpl !== 3; k++) {
      if (rs[k].kind === 'delivery' && rs[k].fredType === FredType.HardwareException && rs[k].vector === 1 && rs[k].before.cpl === 0) return true;
    }
    return false;
  };
  const names: Record<string, string> = { '0x0000000000000001': 'write', '0x0000000000000027': 'getpid' };
  const wanted = deliveries.filter((r) => r.fredType === FredType.Other && r.vector === 1 && r.before.mode === '64-bit' &&
    names[r.before.registers.rax] !== undefined &&
    BigInt(r.before.registers.rip) + 2n < 2n ** 47n && // the RIP after SYSCALL, in the lower canonical half
    !watched(r)).map((r) => names[r.before.registers.rax]);
  assert.ok(deliveries.some(watched), 'the run has calls under the kernel\'s instruction breakpoints');
  const serviced = host.log.filter((l) => !l.startsWith('declined'));
  assert.deepEqual(serviced, wanted);
  assert.ok(serviced.filter((n) => n === 'getpid').length >= 3 && serviced.filter((n) => n === 'write').length >= 50,
    `the run exercises both calls (${serviced.length} serviced)`);
  // Every other event from ring 3 went to the kernel's own entry code: the host saw all of them.
  assert.equal(host.log.length, deliveries.length);
  const declinedTypes = new Set(host.log.filter((l) => l.startsWith('declined')).map((l) => l.split(' ')[2]));
  for (const t of [FredType.HardwareException, FredType.SoftwareInterrupt, FredType.Other]) {
    assert.ok(declinedTypes.has(String(t)), `events of type ${t} were handed back (${[...declinedTypes].join(', ')})`);
  }

  // Each serviced call is one ERETU the host performed: annotated, back at the instruction after
  // the SYSCALL with RCX and R11 as the program had them (SDM SYSCALL under FRED: no register
  // changed), and the kernel's entry path ran no instruction for it.
  const hostExits = host.records.filter((r) => r.annotation !== null);
  assert.deepEqual(hostExits.map((r) => [r.kind, r.annotation]), serviced.map((n) => ['eretu', `host:fred-user ${n}`]));
  for (const exit of hostExits) {
    const call = host.records[host.records.indexOf(exit) - 1];
    assert.equal(call.kind, 'delivery');
    assert.equal(exit.after.registers.rip, hexOf(Number(BigInt(call.before.registers.rip)) + 2));
    assert.equal(exit.after.registers.rcx, call.before.registers.rcx);
    assert.equal(exit.after.registers.r11, call.before.registers.r11);
  }
  const perCall = (kernel.result.instructions - host.result.instructions) / hostExits.length;
  assert.ok(perCall > 10, `the kernel's FRED entry and exit cost more than the host's one tick a call (${perCall})`);
});
