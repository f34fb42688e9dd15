// Grant tables as a guest cannot show them (src/hosts/xen/grant-table.ts; the guest-visible
// ABI is guests/pv-grant's, compared with real Xen 4.17 by test/xen-guests-real.test.ts):
// a machine captured while grants are mapped and pinned, and restored, ends as the
// uninterrupted run does (the table size, active entries, maptrack and backend state travel
// with it); and a refused operation leaves machine memory and Xen's grant state as they were
// (common/grant_table.c undoes the pin and the GTF_reading/GTF_writing bits it set on the
// way: map_grant_ref's undo_out, gnttab_copy_release_buf), but for the element's status;
// a refused gnttab_set_version (-EBUSY, -ERANGE: it checks before it changes anything)
// leaves the table, its entries and its status frames as they were.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { bootImage, restoreMachine, runBooted, runImage } from '../src/lab/run.js';
import { assertRestoredRun } from './helpers/restore-run.js';
import type { XenHost } from '../src/hosts/xen/host.js';
import { acquireGrant, entryAddress, grantTableOp } from '../src/hosts/xen/grant-table.js';
import {
  GNTMAP, GNTTAB_COPY, GNTTAB_MAP, GNTTAB_SETUP, GNTTAB_SWAP_GRANT_REF, GRANT_ENTRY_V2, GTF, GnttabOp, Gntst, DOMID_SELF,
  GNTCOPY_dest_gref, GNTCOPY_source_gref, Errno,
} from '../src/arch/xen.js';

const PAGE = 4096;

describe('capture and restore carry grant state', () => {
  const image = buildGuest('pv-grant');
  for (const dom0 of [false, true]) {
    it(`pv-grant ${dom0 ? 'as dom0' : 'as a domU'} restored mid-run ends as the uninterrupted run does`, () => {
      const straight = runImage(image, { profile: 'xen/idt', dom0 });
      assert.equal(straight.verdict, 'success', straight.reason);
      // Points spread over the run: most fall while grants are mapped or pinned.
      for (let k = 1; k < 8; k++) {
        assertRestoredRun(image, { profile: 'xen/idt', dom0 }, straight, Math.floor((straight.instructions * k) / 8));
      }
    });
  }
});

describe('capture and restore across a grant table version switch', () => {
  const image = buildGuest('pv-grant');
  for (const dom0 of [false, true]) {
    it(`pv-grant ${dom0 ? 'as dom0' : 'as a domU'} restored while its table is version 2 ends as the uninterrupted run does`, () => {
      const straight = runImage(image, { profile: 'xen/idt', dom0 });
      assert.equal(straight.verdict, 'success', straight.reason);
      // The first of 64 points where the table is v2 with its status frame (v2 maps it at once).
      let restoredAt = -1;
      for (let k = 1; k < 64 && restoredAt < 0; k++) {
        const at = Math.floor((straight.instructions * k) / 64);
        const first = bootImage(image, { profile: 'xen/idt', dom0 });
        first.machine.run({ maxInsns: at, timeoutMs: 0 });
        const g = (first.host as XenHost).grants.guest;
        if (g.version !== 2 || g.nrStatusFrames === 0) continue;
        restoredAt = at;
        const second = restoreMachine(structuredClone(first.machine.capture()), { profile: 'xen/idt' });
        assert.equal((second.host as XenHost).grants.guest.version, 2);
        const r = runBooted(second, image, { profile: 'xen/idt' });
        assert.equal(r.verdict, 'success', `restored at ${at}: ${r.reason}`);
        assert.equal(r.console, straight.console, `restored at ${at}`);
      }
      assert.ok(restoredAt > 0, 'the run never had a version-2 table at the points looked at');
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
    const first = host.frames.domainBase;
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

  /** gnttab_set_version(version): its result; nothing but the version word written back
   *  (the version in use) may change when it is refused. */
  function setVersion(t: ReturnType<typeof setup>, version: number): number {
    const { host, d, mem, uop } = t;
    assert.ok(d.copyToGuest(uop, Uint8Array.of(version, 0, 0, 0)));
    const lin = d.translate(uop, false);
    const before = mem.bytes.slice();
    const grants = structuredClone(host.grants);
    const rc = grantTableOp(d, host, GnttabOp.set_version, uop, 1);
    const written = new DataView(mem.bytes.buffer, lin, 4).getUint32(0, true);
    assert.equal(written, host.grants.guest.version);
    if (rc !== 0) {
      const after = mem.bytes.slice();
      after.set(before.subarray(lin, lin + 4), lin);
      const changed = after.findIndex((b, k) => b !== before[k]);
      assert.equal(changed, -1, `memory changed at ${changed}`);
      assert.deepEqual(host.grants, grants);
    }
    return rc;
  }

  it('set_version refused: a pinned entry past the reserved ones (-EBUSY), a reserved entry v1 cannot say (-ERANGE)', () => {
    const t = setup();
    const g = t.host.grants.guest;
    // Ref 12 pinned (as a map would): neither switch may happen; ref 2 pinned would not stop it.
    assert.equal(acquireGrant(t.host, t.d, g, 12, g.domid, false, 1, true).status, Gntst.okay);
    assert.equal(setVersion(t, 2), -Errno.EBUSY);
    assert.equal(g.version, 1);
    assert.equal(g.nrStatusFrames, 0);
    delete g.active[12];
    assert.equal(setVersion(t, 2), 0);
    assert.equal(g.version, 2);
    assert.equal(g.nrStatusFrames, 1);
    // A reserved v2 entry granting a frame above 2^32 - 1 (frame is a u64 in v2).
    const at = entryAddress(g, 3);
    t.mem.writeU32(at + GRANT_ENTRY_V2.frame + 4, 1);
    t.mem.writeU32(at, GTF.permit_access | (g.domid << 16));
    assert.equal(setVersion(t, 1), -Errno.ERANGE);
    t.mem.writeU32(at, GTF.transitive | (g.domid << 16));
    assert.equal(setVersion(t, 1), -Errno.ERANGE);
    assert.equal(g.version, 2);
  });

  it('swap_grant_ref of a pinned entry (GNTST_eagain) swaps nothing', () => {
    const t = setup();
    const g = t.host.grants.guest;
    assert.equal(acquireGrant(t.host, t.d, g, 12, g.domid, true, 1, false).status, Gntst.okay);
    const b = new Uint8Array(GNTTAB_SWAP_GRANT_REF.size);
    const v = new DataView(b.buffer);
    v.setUint32(GNTTAB_SWAP_GRANT_REF.refA, 8, true);
    v.setUint32(GNTTAB_SWAP_GRANT_REF.refB, 12, true);
    assert.equal(op(t, GnttabOp.swap_grant_ref, b, GNTTAB_SWAP_GRANT_REF.status), Gntst.eagain);
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
