// The local APIC's register semantics (SDM Vol. 3A Chapter 11), driven through its register
// interface as the xAPIC page and the x2APIC MSRs reach it, and its interrupts through the
// event window of a small protected-mode program (HLT waiting on the timer).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Machine } from '../src/machine/machine.js';
import { nativeHost } from '../src/hosts/native/host.js';
import { flatProtectedModeState } from '../src/cpu/state.js';
import { FAULT } from '../src/cpu/fault.js';
import { Reg } from '../src/cpu/lapic.js';
import { Msr } from '../src/cpu/msrs.js';

function machine() {
  const m = new Machine({ memoryBytes: 1 << 20, cpu: { vendor: 'intel', fred: false } });
  nativeHost.attach(m, {});
  return m;
}

/** The vector an access raised (-1: none). */
function faultOf(m: Machine, access: () => void): number {
  try {
    access();
  } catch (e) {
    if (e !== FAULT) throw e;
    return m.cpu.faultVector;
  }
  return -1;
}

const SW_ENABLE = 0x1ff; // SVR: APIC software enabled, spurious vector 0xFF

test('PPR is TPR unless the highest in-service class is higher (§11.8.3.1)', () => {
  const m = machine();
  const a = m.cpu.lapic;
  a.write(Reg.Svr, SW_ENABLE, 0, false);
  a.write(Reg.Tpr, 0x35, 0, false);
  assert.equal(a.read(Reg.Ppr, false), 0x35);
  a.write(Reg.Icr, 0x40040, 0, false); // self IPI, fixed, vector 0x40
  assert.equal(a.pendingVector(), 0x40);
  assert.equal(a.accept(), 0x40);
  assert.equal(a.read(Reg.Isr + 2, false), 1, 'ISR bit 0x40 set on acceptance');
  assert.equal(a.read(Reg.Irr + 2, false), 0, 'IRR bit 0x40 cleared on acceptance');
  assert.equal(a.read(Reg.Ppr, false), 0x40, 'ISRV class 4 above TPR class 3: PPR = 0x40');
  a.write(Reg.Tpr, 0x47, 0, false);
  assert.equal(a.read(Reg.Ppr, false), 0x47, 'TPR class 4 equal to ISRV class: PPR = TPR');
});

test('only an IRR vector whose class is above the PPR class is presented; EOI clears the highest ISR bit (§11.8.4, §11.8.5)', () => {
  const m = machine();
  const a = m.cpu.lapic;
  a.write(Reg.Svr, SW_ENABLE, 0, false);
  a.write(Reg.Tpr, 0x50, 0, false);
  a.write(Reg.Icr, 0x40052, 0, false); // vector 0x52: class 5, not above TPR class 5
  assert.equal(a.pendingVector(), -1);
  assert.equal(m.cpu.intrPending, false);
  a.write(Reg.Tpr, 0x4f, 0, false);
  assert.equal(a.pendingVector(), 0x52);
  assert.equal(a.accept(), 0x52);
  a.write(Reg.Icr, 0x40061, 0, false); // class 6 nests above the in-service class 5
  a.write(Reg.Icr, 0x40058, 0, false); // class 5: held behind the in-service 0x52
  assert.equal(a.pendingVector(), 0x61);
  assert.equal(a.accept(), 0x61);
  assert.equal(a.pendingVector(), -1);
  a.write(Reg.Eoi, 0, 0, false);
  assert.equal(a.read(Reg.Isr + 3, false), 0, 'EOI completed 0x61, the highest in service');
  assert.equal(a.read(Reg.Isr + 2, false), 1 << 0x12, '0x52 still in service');
  assert.equal(a.pendingVector(), -1, '0x58 is in class 5 with 0x52 in service');
  a.write(Reg.Eoi, 0, 0, false);
  assert.equal(a.pendingVector(), 0x58);
});

test('a software-disabled APIC masks every LVT and presents nothing (§11.4.7.2)', () => {
  const m = machine();
  const a = m.cpu.lapic;
  a.write(Reg.Svr, SW_ENABLE, 0, false);
  a.write(Reg.LvtTimer, 0x30, 0, false);
  assert.equal(a.read(Reg.LvtTimer, false), 0x30);
  a.write(Reg.Icr, 0x40030, 0, false);
  a.write(Reg.Svr, 0xff, 0, false);
  assert.equal(a.read(Reg.LvtTimer, false), 0x10030);
  a.write(Reg.LvtTimer, 0x31, 0, false);
  assert.equal(a.read(Reg.LvtTimer, false), 0x10031, 'the mask cannot be cleared while disabled');
  assert.equal(a.pendingVector(), -1);
});

test('illegal vectors: a fixed IPI with vector < 16 is not sent and latches ESR bit 5 on the next ESR write (§11.5.3)', () => {
  const m = machine();
  const a = m.cpu.lapic;
  a.write(Reg.Svr, SW_ENABLE, 0, false);
  a.write(Reg.Icr, 0x4000f, 0, false);
  assert.equal(a.read(Reg.Esr, false), 0, 'ESR is updated only by a write to it');
  a.write(Reg.Esr, 0, 0, false);
  assert.equal(a.read(Reg.Esr, false), 1 << 5);
  assert.equal(a.read(Reg.Irr, false), 0);
  a.write(Reg.Esr, 0, 0, false);
  assert.equal(a.read(Reg.Esr, false), 0);
});

test('IPIs to an absent APIC are dropped; INIT and start-up to all-but-self reach nobody (§11.6.1)', () => {
  const m = machine();
  const a = m.cpu.lapic;
  a.write(Reg.Svr, SW_ENABLE, 0, false);
  a.write(Reg.Icr2, 0x05000000, 0, false);
  a.write(Reg.Icr, 0x40, 0, false); // physical destination 5: nobody
  a.write(Reg.Icr, 0xc4500, 0, false); // INIT, all excluding self
  a.write(Reg.Icr, 0xc4620, 0, false); // SIPI, all excluding self
  assert.deepEqual(Array.from(a.irr), [0, 0, 0, 0, 0, 0, 0, 0]);
  a.write(Reg.Icr2, 0, 0, false);
  a.write(Reg.Icr, 0x41, 0, false); // physical destination 0: this APIC
  assert.equal(a.read(Reg.Irr + 2, false), 2);
});

test('the timer counts down at the divided tick rate: one-shot stops at 0, periodic reloads (§11.5.4)', () => {
  const m = machine();
  const a = m.cpu.lapic;
  const cpu = m.cpu;
  a.write(Reg.Svr, SW_ENABLE, 0, false);
  a.write(Reg.DivideConfig, 0x1, 0, false); // divide by 4
  a.write(Reg.LvtTimer, 0x30, 0, false);
  cpu.icount = 1000;
  a.write(Reg.InitialCount, 100, 0, false);
  cpu.icount = 1000 + 4 * 30;
  assert.equal(a.read(Reg.CurrentCount, false), 70);
  assert.equal(a.timerDue, 1000 + 400);
  cpu.icount = a.timerDue;
  a.expireTimer(cpu.icount);
  assert.equal(a.read(Reg.CurrentCount, false), 0);
  assert.equal(a.pendingVector(), 0x30);
  assert.equal(a.timerDue, Infinity, 'one-shot: not re-armed');

  a.write(Reg.LvtTimer, 0x20031, 0, false); // periodic, vector 0x31
  a.write(Reg.InitialCount, 10, 0, false);
  cpu.icount += 40;
  a.expireTimer(cpu.icount);
  assert.equal(a.read(Reg.CurrentCount, false), 10, 'reloaded');
  assert.equal(a.timerDue, cpu.icount + 40);
});

test('TSC-deadline mode: initial-count writes are ignored, the deadline MSR arms and reads 0 after expiry (§11.5.4.1)', () => {
  const m = machine();
  const a = m.cpu.lapic;
  const cpu = m.cpu;
  a.write(Reg.Svr, SW_ENABLE, 0, false);
  a.write(Reg.LvtTimer, 0x40032, 0, false);
  a.write(Reg.InitialCount, 5, 0, false);
  assert.equal(a.read(Reg.InitialCount, false), 0);
  cpu.icount = 500;
  a.writeDeadline(900, 0);
  assert.deepEqual(a.readDeadline(), [900, 0]);
  assert.equal(a.timerDue, 900 - cpu.tscOffset);
  cpu.icount = 900;
  a.expireTimer(900);
  assert.deepEqual(a.readDeadline(), [0, 0]);
  assert.equal(a.pendingVector(), 0x32);
  a.write(Reg.LvtTimer, 0x32, 0, false); // back to one-shot: the deadline MSR reads 0 and writes are ignored
  a.writeDeadline(2000, 0);
  assert.deepEqual(a.readDeadline(), [0, 0]);
  assert.equal(a.timerDue, Infinity);
});

test('IA32_APIC_BASE mode transitions (§11.12.5): x2APIC only from xAPIC, left only to disabled; disabling resets', () => {
  const m = machine();
  const a = m.cpu.lapic;
  const base = m.cpu.msrLo[Msr.ApicBase];
  assert.equal(a.mode, 'xapic');
  assert.equal(faultOf(m, () => a.readMsr(0x802)), 13, 'x2APIC MSRs #GP in xAPIC mode');
  assert.equal(faultOf(m, () => a.writeBase((base & ~0x800) | 0x400, 0)), 13, 'EXTD without EN is invalid');
  a.write(Reg.Tpr, 0x20, 0, false);
  a.writeBase(base | 0x400, 0);
  assert.equal(a.mode, 'x2apic');
  assert.equal(a.readMsr(0x808), 0x20, 'state carries into x2APIC mode');
  assert.equal(a.readMsr(0x80d), 1, 'x2APIC LDR derives from the ID: cluster 0, bit 0');
  assert.equal(faultOf(m, () => a.readMsr(0x80e)), 13, 'no DFR in x2APIC mode');
  assert.equal(faultOf(m, () => a.readMsr(0x80b)), 13, 'EOI is write-only');
  assert.equal(faultOf(m, () => a.writeMsr(0x80b, 1, 0)), 13, 'EOI takes only 0');
  assert.equal(faultOf(m, () => a.writeMsr(0x803, 0, 0)), 13, 'the version is read-only');
  assert.equal(faultOf(m, () => a.writeBase(base, 0)), 13, 'x2APIC to xAPIC directly');
  a.writeMsr(0x83f, 0x45, 0); // SELF IPI
  assert.equal(a.readMsr(0x822), 1 << 5);
  a.writeBase(base & ~0xc00, 0);
  assert.equal(a.mode, 'disabled');
  assert.equal(a.tpr, 0);
  assert.deepEqual(Array.from(a.irr), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(faultOf(m, () => a.writeBase(base | 0x400, 0)), 13, 'disabled to x2APIC directly');
  a.writeBase(base, 0);
  assert.equal(a.mode, 'xapic');
});

test('globally disabled or in x2APIC mode, nothing answers at the xAPIC page: reads all ones, writes dropped (§11.4.3, §11.12.2)', () => {
  const m = machine();
  const a = m.cpu.lapic;
  const base = m.cpu.msrLo[Msr.ApicBase];
  const page = 0xfee00000;
  assert.equal(m.memory.readBeyondRam(page + 0x30, 4) >>> 0, a.read(Reg.Version, false) >>> 0, 'xAPIC: the version register');
  a.writeBase(base | 0x400, 0);
  m.memory.writeBeyondRam(page + 0x80, 4, 0x30);
  assert.equal(a.readMsr(0x808), 0, 'x2APIC: an xAPIC-page write of TPR reaches nothing');
  assert.equal(m.memory.readBeyondRam(page + 0x30, 4), -1);
  a.writeBase(base & ~0xc00, 0);
  assert.equal(m.memory.readBeyondRam(page + 0x80, 1), 0xff);
  assert.equal(m.memory.readBeyondRam(page + 0x30, 4), -1);
  m.memory.writeBeyondRam(page + 0x80, 4, 0x30);
  a.writeBase(base, 0);
  assert.equal(a.tpr, 0, 'the write while disabled changed nothing');
});

// 32-bit protected mode, paging off: GDT at 0x2900, IDT at 0x2000 with an interrupt gate for 0x30 to a
// handler that counts in EBX, EOIs and IRETs; the program arms a one-shot timer for
// 1000 counts, STI; HLT, then HLT again with nothing armed.
test('HLT with IF = 1 waits for the timer; a halt nothing can wake ends the run (SDM HLT; virtual time skips to the next expiry)', () => {
  const m = machine();
  const CODE = 0x1000, IDT = 0x2000, HANDLER = 0x3000;
  const gate = Buffer.alloc(8);
  gate.writeUInt16LE(HANDLER & 0xffff, 0); gate.writeUInt16LE(0x10, 2); gate.writeUInt16LE(0x8e00, 4); gate.writeUInt16LE(HANDLER >>> 16, 6);
  m.memory.write(IDT + 0x30 * 8, gate);
  const idtr = Buffer.alloc(6); idtr.writeUInt16LE(0x30 * 8 + 7, 0); idtr.writeUInt32LE(IDT, 2);
  m.memory.write(0x2800, idtr);
  // GDT at 0x2900: null, null, a flat 32-bit ring-0 code segment at selector 0x10.
  const gdt = Buffer.alloc(24); gdt.writeUInt32LE(0x0000ffff, 16); gdt.writeUInt32LE(0x00cf9b00, 20);
  m.memory.write(0x2900, gdt);
  const gdtr = Buffer.alloc(6); gdtr.writeUInt16LE(23, 0); gdtr.writeUInt32LE(0x2900, 2);
  m.memory.write(0x2810, gdtr);
  const mov = (addr: number, v: number) => [0xc7, 0x05, ...le32(addr), ...le32(v)]; // mov dword [addr], imm32
  m.memory.write(CODE, Uint8Array.from([
    0xbc, ...le32(0x8000), // mov esp, 0x8000
    0x0f, 0x01, 0x15, ...le32(0x2810), // lgdt [0x2810]
    0x0f, 0x01, 0x1d, ...le32(0x2800), // lidt [0x2800]
    ...mov(0xfee000f0, 0x1ff), ...mov(0xfee00320, 0x30), ...mov(0xfee003e0, 0xb), ...mov(0xfee00380, 1000),
    0xfb, 0xf4, // sti; hlt
    0xf4, // hlt (IF = 1, nothing armed)
  ]));
  m.memory.write(HANDLER, Uint8Array.from([0x43, ...mov(0xfee000b0, 0), 0xcf])); // inc ebx; EOI; iret
  m.cpu.restore(flatProtectedModeState(m.cpu.capture(), CODE));
  const end = m.run({ maxInsns: 100000, timeoutMs: 0 });
  assert.equal(end.kind, 'halted', end.message);
  assert.equal(m.cpu.regLo[3], 1, 'one timer interrupt');
  // The timer was armed by the 7th instruction (6 retired before it): it expires 1000 ticks
  // (divide by 1) after that, and the run retired the handler's 3 and the final HLT after it.
  assert.equal(m.instructions, 6 + 1000 + 3 + 1);
});

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

test('an NMI IPI reaches the CPU, not the IRR: to this APIC it is held for the CPU, elsewhere dropped (§11.6.1)', () => {
  const m = machine();
  const a = m.cpu.lapic;
  a.write(Reg.Svr, SW_ENABLE, 0, false);
  a.write(Reg.Icr2, 0x05000000, 0, false);
  a.write(Reg.Icr, 0x4400, 0, false); // NMI, physical destination 5: nobody
  assert.equal(m.cpu.nmiPending, false);
  a.write(Reg.Icr2, 0, 0, false);
  a.write(Reg.Icr, 0x4455, 0, false); // NMI to this APIC; the vector field is ignored
  assert.equal(m.cpu.nmiPending, true);
  assert.deepEqual(Array.from(a.irr), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(m.cpu.capture().events.nmiPending, true, 'the held NMI is vCPU state');
});
