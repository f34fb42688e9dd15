// Device regions in physical memory. The local APIC's xAPIC page decodes at its reset base
// (SDM Vol. 3A §11.4.1), the I/O APIC at 0xFEC00000; the PC devices the model does not
// implement yet (the HPET) are a named model error when touched, never a silent
// all-ones read (a kernel polling the APIC's ICR delivery-status bit would spin forever);
// addresses past RAM where nothing decodes still read all-ones and drop writes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Machine } from '../src/machine/machine.js';
import { nativeHost } from '../src/hosts/native/host.js';
import { flatProtectedModeState } from '../src/cpu/state.js';

const CODE = 0x1000;

/** Run `code` (32-bit, paging off) on a native-host machine until it ends. */
function run(code: number[]) {
  const m = new Machine({ memoryBytes: 1 << 20, cpu: { vendor: 'intel', fred: false } });
  nativeHost.attach(m, {});
  m.memory.write(CODE, Uint8Array.from([...code, 0xf4])); // ... hlt
  m.cpu.restore(flatProtectedModeState(m.cpu.capture(), CODE));
  return { end: m.run({ maxInsns: 1000, timeoutMs: 0 }), m };
}

const movEaxFrom = (addr: number) => [0xa1, addr & 0xff, (addr >>> 8) & 0xff, (addr >>> 16) & 0xff, addr >>> 24];
const movToFromEax = (addr: number) => [0xa3, addr & 0xff, (addr >>> 8) & 0xff, (addr >>> 16) & 0xff, addr >>> 24];

test('the local APIC page decodes at 0xFEE00000: its version register (SDM Vol. 3A §11.4.8)', () => {
  const { end, m } = run(movEaxFrom(0xfee00030));
  assert.equal(end.kind, 'halted');
  // Version 0x1X: an integrated APIC (Figure 11-7); max LVT entry + 1 = the six LVTs of Figure 11-8.
  assert.equal(m.cpu.regLo[0] & 0xf0, 0x10);
  assert.equal(((m.cpu.regLo[0] >> 16) & 0xff) + 1, 6);
});

test('an unaligned access to the local APIC page is a model error naming it', () => {
  const { end } = run(movEaxFrom(0xfee00302));
  assert.equal(end.kind, 'model-error');
  assert.match(end.message, /local APIC at physical 0xfee00302 \(only aligned 4-byte accesses are modelled\) \(at rip 0x0+1000\)/);
});

test('the I/O APIC decodes at 0xFEC00000: IOREGSEL selects the version register, IOWIN reads it (82093AA datasheet §3.2)', () => {
  // mov eax, 1; mov [0xfec00000], eax; mov eax, [0xfec00010]
  const { end, m } = run([0xb8, 1, 0, 0, 0, ...movToFromEax(0xfec00000), ...movEaxFrom(0xfec00010)]);
  assert.equal(end.kind, 'halted');
  assert.equal((m.cpu.regLo[0] >> 16) & 0xff, 23, 'maximum redirection entry: 24 pins');
  assert.equal(run(movEaxFrom(0xfec00000)).m.cpu.regLo[0], 0, 'IOREGSEL reads back its reset value');
});

test('an I/O APIC offset other than IOREGSEL, IOWIN and EOI, and the HPET, are model errors naming each', () => {
  assert.match(run(movToFromEax(0xfec00020)).end.message, /I\/O APIC: a 4-byte write at physical 0xfec00020 .* is not modelled/);
  assert.match(run(movToFromEax(0xfed000f0)).end.message, /the HPET is not modelled \(a 4-byte write/);
});

test('past RAM where nothing decodes: all-ones reads, dropped writes', () => {
  const { end, m } = run([...movToFromEax(0x200000), ...movEaxFrom(0x200000)]);
  assert.equal(end.kind, 'halted');
  assert.equal(m.cpu.regLo[0], -1);
});
