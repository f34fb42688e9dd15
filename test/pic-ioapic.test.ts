// The 8259 pair and the I/O APIC at the edges the pic-ioapic guest cannot reach under QEMU:
// 8259 priority rotation (8259A datasheet, OCW2 "Rotation"), what the model refuses by name
// (an 8259 request that LINT0 would pass to the CPU as ExtINT, I/O APIC delivery modes and
// polarities it does not model), and the devices' state carried by a machine's capture.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Machine } from '../src/machine/machine.js';
import { nativeHost } from '../src/hosts/native/host.js';
import { ModelError } from '../src/cpu/errors.js';
import { Reg } from '../src/cpu/lapic.js';
import { flatProtectedModeState } from '../src/cpu/state.js';

const IOAPIC = 0xfec00000;

function machine(): Machine {
  const m = new Machine({ memoryBytes: 1 << 20, cpu: { vendor: 'intel', fred: false } });
  nativeHost.attach(m, {});
  m.cpu.restore(flatProtectedModeState(m.cpu.capture(), 0x1000));
  m.cpu.lapic.write(Reg.Svr, 0x1ff, 0, false);
  return m;
}

/** ICW1-ICW4 for both 8259s as a PC kernel writes them, then the given IMRs. */
function initPics(m: Machine, masterImr: number, slaveImr: number): void {
  for (const [port, base, icw3] of [[0x20, 0x20, 0x04], [0xa0, 0x28, 0x02]]) {
    m.io.out(port, 0x11, 1);
    m.io.out(port + 1, base, 1);
    m.io.out(port + 1, icw3, 1);
    m.io.out(port + 1, 0x01, 1);
  }
  m.io.out(0x21, masterImr, 1);
  m.io.out(0xa1, slaveImr, 1);
}

const line = (m: Machine, n: number, level: number) => m.io.out(0x2000 + n, level, 1);
const poll = (m: Machine) => { m.io.out(0x20, 0x0c, 1); return m.io.in(0x20, 1); };

function ioapicWrite(m: Machine, reg: number, value: number): void {
  m.memory.writeBeyondRam(IOAPIC, 4, reg);
  m.memory.writeBeyondRam(IOAPIC + 0x10, 4, value);
}

function ioapicRead(m: Machine, reg: number): number {
  m.memory.writeBeyondRam(IOAPIC, 4, reg);
  return m.memory.readBeyondRam(IOAPIC + 0x10, 4);
}

test('8259: rotate on non-specific EOI makes the serviced level the lowest (datasheet, OCW2)', () => {
  const m = machine();
  initPics(m, 0xf5, 0xff); // IR1 and IR3 unmasked
  line(m, 1, 1);
  line(m, 3, 1);
  assert.equal(poll(m), 0x81, 'fully nested: IR1 before IR3');
  m.io.out(0x20, 0xa0, 1); // rotate on non-specific EOI: IR1 becomes the lowest
  line(m, 1, 0);
  line(m, 1, 1);
  assert.equal(poll(m), 0x83, 'after rotation IR3 outranks IR1');
  m.io.out(0x20, 0x20, 1);
  assert.equal(poll(m), 0x81);
});

test('8259: a request that LINT0 would pass as ExtINT is a model error, raised by the request or by unmasking LINT0', () => {
  const m = machine();
  m.cpu.lapic.write(Reg.LvtLint0, 0x700, 0, false); // ExtINT, unmasked
  initPics(m, 0xff, 0xff);
  line(m, 3, 1); // masked in the IMR: no request
  assert.throws(() => m.io.out(0x21, 0xf7, 1), (e: unknown) => e instanceof ModelError && /IRQ3 is requested while LINT0 passes ExtINT/.test(e.message));

  const n = machine();
  initPics(n, 0xff, 0xbf); // slave IR6 (IRQ14) unmasked, cascade masked on the master
  line(n, 14, 1);
  n.cpu.lapic.write(Reg.LvtLint0, 0x700, 0, false); // the cascade is masked: no request at the master's INT
  n.cpu.lapic.write(Reg.LvtLint0, 0x10700, 0, false); // LINT0 masked
  n.io.out(0x21, 0xfb, 1); // the cascade unmasked: the slave's request reaches the master's INT
  // LINT0 unmasked while the request stands.
  assert.throws(() => n.cpu.lapic.write(Reg.LvtLint0, 0x700, 0, false), /IRQ14 \(through the slave\) is requested/);
});

test('I/O APIC: NMI delivery, an active-low entry and an x2APIC logical destination are model errors', () => {
  const m = machine();
  ioapicWrite(m, 0x10 + 2 * 5, 0x400 | 0x30); // NMI delivery mode
  assert.throws(() => line(m, 5, 1), /pin 5 sends in delivery mode 4 \(NMI\)/);
  ioapicWrite(m, 0x10 + 2 * 6, 0x2000 | 0x30); // polarity: active low
  assert.throws(() => line(m, 6, 1), /pin 6 changes level under an active-low redirection entry/);
  m.cpu.lapic.writeBase(0xfee00000 | 0xc00, 0); // x2APIC mode
  ioapicWrite(m, 0x10 + 2 * 7, 0x800 | 0x30); // logical destination
  assert.throws(() => line(m, 7, 1), /logical destination mode .* to an x2APIC/);
});

test('I/O APIC and 8259 state travel with the machine: remote IRR, the pin level, IMR and ISR', () => {
  const m = machine();
  initPics(m, 0xdf, 0xff);
  line(m, 5, 1);
  assert.equal(poll(m), 0x85);
  ioapicWrite(m, 0x10 + 2 * 14, 0x8000 | 0x40); // level, vector 0x40
  line(m, 14, 1);
  assert.equal((ioapicRead(m, 0x10 + 2 * 14) >> 14) & 1, 1);

  const n = machine();
  n.restore(structuredClone(m.capture()));
  assert.equal((ioapicRead(n, 0x10 + 2 * 14) >> 14) & 1, 1, 'remote IRR');
  assert.equal(n.io.in(0x21, 1), 0xdf, 'IMR');
  n.io.out(0x20, 0x0b, 1);
  assert.equal(n.io.in(0x20, 1), 0x20, 'ISR');
  // The restored level-triggered vector is in service once taken; its EOI reaches the
  // restored I/O APIC, whose pin is still asserted: it sends again.
  assert.equal(n.cpu.lapic.accept(), 0x40);
  n.cpu.lapic.write(Reg.Eoi, 0, 0, false);
  assert.equal(n.cpu.lapic.pendingVector(), 0x40);
});
