// Grant tables as a guest cannot show them (src/hosts/xen/grant-table.ts; the guest-visible
// ABI is guests/pv-grant's, compared with real Xen 4.17 by test/xen-guests-real.test.ts):
// a machine captured while grants are mapped and pinned, and restored, ends as the
// uninterrupted run does (the table size, active entries, maptrack and backend state travel
// with it); and a refused operation leaves machine memory and Xen's grant state as they were
// (common/grant_table.c undoes the pin and the GTF_reading/GTF_writing bits it set on the
// way: map_grant_ref's undo_out, gnttab_copy_release_buf), but for the element's status.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { bootImage, restoreMachine, runBooted, runImage } from '../src/lab/run.js';
import type { XenHost } from '../src/hosts/xen/host.js';
import { entryAddress, grantTableOp } from '../src/hosts/xen/grant-table.js';
import { GNTMAP, GNTTAB_COPY, GNTTAB_MAP, GNTTAB_SETUP, GTF, GnttabOp, Gntst, DOMID_SELF, GNTCOPY_dest_gref, GNTCOPY_source_gref } from '../src/arch/xen.js';

const PAGE = 4096;

describe('capture and restore carry grant state', () => {
  const image = buildGuest('pv-grant');
  for (const dom0 of [false, true]) {
    it(`pv-grant ${dom0 ? 'as dom0' : 'as a domU'} restored mid-run ends as the uninterrupted run does`, () => {
      const straight = runImage(image, { profile: 'xen/idt', dom0 });
      assert.equal(straight.verdict, 'success', straight.reason);
      // Points spread over the run: most fall while grants are mapped or pinned.
      for (let k = 1; k < 8; k++) {
        const at = Math.floor((straight.instructions * k) / 8);
        const first = bootImage(image, { profile: 'xen/idt', dom0 });
        first.machine.run({ maxInsns: at, timeoutMs: 0 });
        const state = first.machine.capture();
        const second = restoreMachine(structuredClone(state), { profile: 'xen/idt' });
        const r = runBooted(second, image, { profile: 'xen/idt' });
        assert.equal(r.verdict, 'success', `restored at ${at}: ${r.reason}`);
        assert.equal(r.console, straight.console, `restored at ${at}`);
        assert.equal(r.instructions, straight.instructions, `restored at ${at}`);
      }
    });
  }
});

describe('a refused operation changes nothing but its status', () => {
  const image = buildGuest('pv-grant');

  /** A freshly built domU, its table's entries set by hand: 8 a read-only grant of a guest
   *  page, 11 a grant of the L4 (a page table), 12 a writable grant of a guest page. */
  function setup() {
    const booted = bootImage(image, { profile: 'xen/idt', dom0: false, memoryMiB: 16 });
    const host = booted.host as XenHost;
    const d = host.d;
    const mem = d.mem;
    const self = host.grants.guest.domid;
    const [first] = host.domainFrames;
    const put = (ref: number, flags: number, frame: number): void => {
      const at = entryAddress(host.grants.guest, ref);
      mem.writeU32(at, flags | (self << 16));
      mem.writeU32(at + 4, frame);
    };
    put(8, GTF.permit_access | GTF.readonly, first + 1);
    put(11, GTF.permit_access, d.vcpu.guestTable);
    put(12, GTF.permit_access, first + 2);
    // The op structs go on the boot stack, below %rsp.
    const uop = d.cpu.regLo[4] - 512;
    return { host, d, mem, uop };
  }

  function op(t: ReturnType<typeof setup>, cmd: number, bytes: Uint8Array, statusAt: number): number {
    const { host, d, mem, uop } = t;
    assert.ok(d.copyToGuest(uop, bytes));
    const lin = d.translate(uop, false);
    const before = mem.bytes.slice();
    const grants = structuredClone(host.grants);
    assert.equal(grantTableOp(d, host, cmd, uop, 1), 0);
    const status = new DataView(mem.bytes.buffer, lin + statusAt, 2).getInt16(0, true);
    const after = mem.bytes.slice();
    after.set(before.subarray(lin + statusAt, lin + statusAt + 2), lin + statusAt);
    const changed = after.findIndex((b, k) => b !== before[k]);
    assert.equal(changed, -1, `memory changed at ${changed}`);
    assert.deepEqual(host.grants.guest, grants.guest);
    assert.deepEqual(host.grants.maptrack, grants.maptrack);
    return status;
  }

  function map(hostAddr: number, flags: number, ref: number, dom: number): Uint8Array {
    const b = new Uint8Array(GNTTAB_MAP.size);
    const v = new DataView(b.buffer);
    v.setBigUint64(GNTTAB_MAP.hostAddr, BigInt.asUintN(64, BigInt(hostAddr)), true);
    v.setUint32(GNTTAB_MAP.flags, flags, true);
    v.setUint32(GNTTAB_MAP.ref, ref, true);
    v.setUint16(GNTTAB_MAP.dom, dom, true);
    v.setUint32(GNTTAB_MAP.handle, 0xdead, true);
    return b;
  }

  function copy(src: number, dst: number, flags: number, srcOffset: number, len: number): Uint8Array {
    const b = new Uint8Array(GNTTAB_COPY.size);
    const v = new DataView(b.buffer);
    v.setBigUint64(GNTTAB_COPY.source, BigInt(src), true);
    v.setUint16(GNTTAB_COPY.source + 8, DOMID_SELF, true);
    v.setUint16(GNTTAB_COPY.source + 10, srcOffset, true);
    v.setBigUint64(GNTTAB_COPY.dest, BigInt(dst), true);
    v.setUint16(GNTTAB_COPY.dest + 8, DOMID_SELF, true);
    v.setUint16(GNTTAB_COPY.len, len, true);
    v.setUint16(GNTTAB_COPY.flags, flags, true);
    return b;
  }

  it('map_grant_ref refused after its pin was taken (a page table mapped writable; a host_addr without an L1)', () => {
    const t = setup();
    const self = t.host.grants.guest.domid;
    const stack = t.uop - 3 * PAGE;
    // Each refusal after the first takes a maptrack handle and gives it back.
    assert.equal(op(t, GnttabOp.map_grant_ref, map(stack, GNTMAP.host_map, 11, self), GNTTAB_MAP.status), Gntst.general_error);
    assert.equal(op(t, GnttabOp.map_grant_ref, map(0x7f0000000000, GNTMAP.host_map, 12, self), GNTTAB_MAP.status), Gntst.general_error);
    assert.equal(op(t, GnttabOp.map_grant_ref, map(-(2 ** 47) + 2 ** 44, GNTMAP.host_map, 12, self), GNTTAB_MAP.status), Gntst.general_error);
    assert.equal(op(t, GnttabOp.map_grant_ref, map(stack, GNTMAP.host_map, 8, self), GNTTAB_MAP.status), Gntst.general_error);
  });

  it('copy refused after a side was claimed (a read-only grant as destination; offset past the page)', () => {
    const t = setup();
    assert.equal(op(t, GnttabOp.copy, copy(12, 8, GNTCOPY_source_gref | GNTCOPY_dest_gref, 0, 8), GNTTAB_COPY.status), Gntst.general_error);
    assert.equal(op(t, GnttabOp.copy, copy(8, 12, GNTCOPY_source_gref | GNTCOPY_dest_gref, 4090, 8), GNTTAB_COPY.status), Gntst.bad_copy_arg);
  });

  it('setup_table beyond the maximum leaves the table its size', () => {
    const t = setup();
    const b = new Uint8Array(GNTTAB_SETUP.size);
    const v = new DataView(b.buffer);
    v.setUint16(GNTTAB_SETUP.dom, DOMID_SELF, true);
    v.setUint32(GNTTAB_SETUP.nrFrames, 65, true);
    v.setBigUint64(GNTTAB_SETUP.frameList, BigInt(t.uop + 64), true);
    assert.equal(op(t, GnttabOp.setup_table, b, GNTTAB_SETUP.status), Gntst.general_error);
    assert.equal(t.host.grants.guest.nrFrames, 1);
  });
});
