// The PV memory model at the host level (xen/arch/x86/mm.c, common/memory.c): what a guest
// cannot easily observe about Xen's bookkeeping. A refused page-table update or a failed
// validation changes nothing (mod_lN_entry and promote_lN_table undo every reference they
// took); the domain's reservation is exactly the frames it owns after a guest has given
// pages back and taken new ones; page types, references and the free heap travel with a
// captured machine. The guest-visible ABI is stated by guests/pv-pagetables and
// guests/pv-memory, which test/xen-guests-real.test.ts runs against real Xen.

import { isGrantFrame } from '../src/hosts/xen/grant-table.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootImage, restoreMachine, runBooted, runImage } from '../src/lab/run.js';
import { buildGuest } from '../src/guest/build.js';
import type { XenHost } from '../src/hosts/xen/host.js';
import { captureMemory } from '../src/hosts/xen/mm.js';
import { PAGE, PTE } from '../src/hosts/xen/address-space.js';

const TWO32 = 4294967296;

function booted(guest: string, dom0: boolean): { host: XenHost; run: () => void } {
  const b = bootImage(buildGuest(guest), { profile: 'xen/idt', dom0 });
  return { host: b.host as unknown as XenHost, run: () => b.machine.run({ maxInsns: 5e6, timeoutMs: 0 }) };
}

/** A digest of Xen's bookkeeping (types, references, owners, free heap) and, with
 *  `memory`, of the machine's bytes. */
function snapshot(host: XenHost, memory: boolean): string {
  let h = 0;
  const mix = (v: number): void => { h = (Math.imul(h, 31) + v) | 0; };
  if (memory) for (const b of host.d.mem.bytes) mix(b);
  const mm = captureMemory(host.mm);
  for (const [m, t] of mm.types) mix(m), mix(t.count), mix(t.pinned ? 1 : 0), mix(t.type.length);
  for (const r of mm.refs) mix(r);
  for (const o of mm.owner) mix(o);
  for (const f of mm.free) mix(f);
  return `${h}/${mm.types.length}/${mm.totPages}`;
}

describe('refusals change nothing', () => {
  for (const dom0 of [true, false]) {
    it(`${dom0 ? 'dom0' : 'domU'}: an L1 update making a page table writable (-EBUSY) leaves memory, types and references as they were`, () => {
      const { host } = booted('pv-boot', dom0);
      const mm = host.mm;
      const l1 = [...mm.types].find(([, t]) => t.type === 'l1')![0];
      const l4 = host.d.vcpu.guestTable;
      const before = snapshot(host, true);
      const rc = mm.modEntry(1, l1 * PAGE + 8 * 511, (l4 * PAGE) % TWO32 | PTE.P | PTE.RW, Math.floor((l4 * PAGE) / TWO32), false);
      assert.equal(rc, -16);
      assert.equal(snapshot(host, true), before);
    });
  }

  it('a validation failing at its fourth entry takes back the references of the first three (promote_l2_table; the entries it adjusted stay adjusted, as in Xen)', () => {
    const { host } = booted('pv-boot', true);
    const mm = host.mm;
    const mem = host.d.mem;
    const l1s = [...mm.types].filter(([, t]) => t.type === 'l1').map(([m]) => m);
    // A free page of the domain (owned, no type, not a table) as the would-be L2.
    const page = host.frames.domainBase + 3000;
    assert.equal(mm.typeOf(page), null);
    mem.fill(page * PAGE, PAGE, 0);
    for (let k = 0; k < 3; k++) mem.writeU64(page * PAGE + 8 * k, (l1s[0] * PAGE) | PTE.P | PTE.RW, 0);
    mem.writeU64(page * PAGE + 24, (l1s[0] * PAGE) | PTE.P | PTE.RW | PTE.PS, 0); // PSE in an L2: -EINVAL
    const before = snapshot(host, false);
    assert.equal(mm.getPageAndType(page, 'l2'), -22);
    assert.equal(snapshot(host, false), before);
    assert.equal(mm.typeOf(page), null);
    assert.equal(mem.readU32(page * PAGE) & PTE.US, PTE.US); // adjust_guest_l2e
    assert.equal(mem.readU32(page * PAGE + 24) & PTE.US, 0);
  });
});

describe('the reservation is the frames the domain owns', () => {
  for (const dom0 of [true, false]) {
    it(`${dom0 ? 'dom0' : 'domU'}: after pv-memory gave pages back and took new ones`, () => {
      const { host, run } = booted('pv-memory', dom0);
      const totBefore = host.mm.totPages;
      run();
      const mm = host.mm;
      let owned = 0;
      // Xen-heap pages shared with the domain (shared_info, its grant frames) are not tot_pages.
      const shared = (f: number): boolean => f === host.frames.sharedInfo || isGrantFrame(host.grants, f);
      for (let f = 0; f < mm.owner.length; f++) if (mm.owner[f] !== 0 && !shared(f)) owned++;
      assert.equal(mm.totPages, owned);
      assert.equal(mm.totPages, totBefore);
      // Every owned frame is referenced; every free one is not.
      for (let f = 0; f < mm.owner.length; f++) assert.equal(mm.refs[f] > 0, mm.owner[f] !== 0, `frame ${f}`);
    });
  }
});

describe('capture and restore', () => {
  it('pv-pagetables restored mid-run (pins, base pointers and types in flight) ends as the straight run does', () => {
    const image = buildGuest('pv-pagetables');
    for (const dom0 of [true, false]) {
      const straight = runImage(image, { profile: 'xen/idt', dom0 });
      assert.equal(straight.verdict, 'success', straight.reason);
      for (const at of [0.3, 0.5, 0.7].map((f) => Math.floor(straight.instructions * f))) {
        const first = bootImage(image, { profile: 'xen/idt', dom0 });
        first.machine.run({ maxInsns: at, timeoutMs: 0 });
        const second = restoreMachine(structuredClone(first.machine.capture()), { profile: 'xen/idt' });
        const r = runBooted(second, image, { profile: 'xen/idt' });
        assert.equal(r.console, straight.console, `restored at ${at}`);
        assert.equal(r.verdict, 'success', `restored at ${at}: ${r.reason}`);
      }
    }
  });

  it('pv-memory restored among its exchanges (stolen, freed and given frames, the free heap) ends as the straight run does', () => {
    const image = buildGuest('pv-memory');
    for (const dom0 of [true, false]) {
      const straight = runImage(image, { profile: 'xen/idt', dom0 });
      assert.equal(straight.verdict, 'success', straight.reason);
      assert.match(straight.console, /exchange\.unmapped_page: 0\n/);
      // dom0's exchanges run from about 64% of its instructions to the end.
      for (const at of [0.75, 0.9].map((f) => Math.floor(straight.instructions * f))) {
        const first = bootImage(image, { profile: 'xen/idt', dom0 });
        first.machine.run({ maxInsns: at, timeoutMs: 0 });
        const second = restoreMachine(structuredClone(first.machine.capture()), { profile: 'xen/idt' });
        const r = runBooted(second, image, { profile: 'xen/idt' });
        assert.equal(r.console, straight.console, `restored at ${at}`);
        // The original, run on, ends with the same bookkeeping and bytes as its restored copy.
        runBooted(first, image, { profile: 'xen/idt' });
        assert.equal(snapshot(second.host as unknown as XenHost, true), snapshot(first.host as unknown as XenHost, true), `restored at ${at}`);
      }
    }
  });
});
