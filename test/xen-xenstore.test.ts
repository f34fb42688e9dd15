// The domU's xenstored (src/hosts/xen/xenstore.ts; C xenstored at c447b7308b). guests/
// pv-xenstore shows the protocol a well-behaved guest sees; here what a guest cannot show
// from inside: a broken ring or message (domain.c: prod - cons > 1024 -> error
// XENSTORE_ERROR_RINGIDX, a header with len > 4096 -> XENSTORE_ERROR_PROTO, the connection
// ignored from then on), malformed payloads answered with xenstored's errors, and a machine
// captured mid-conversation.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PhysicalMemory } from '../src/machine/memory.js';
import { Xenstored, XS_RING, newXenstoreState } from '../src/hosts/xen/xenstore.js';
import { buildGuest } from '../src/guest/build.js';
import { bootImage, restoreMachine, runBooted, runImage } from '../src/lab/run.js';

const KEYS = { domid: 1, name: 'guest', memKiB: 131072, storeMfn: 5, storePort: 1, consoleMfn: 6, consolePort: 2 };

/** A xenstored over a ring at address 0 of a page of memory, and the events it raised. */
function daemon() {
  const mem = new PhysicalMemory(4096);
  let notified = 0;
  const xs = new Xenstored({ mem, ringAddress: 0, notifyGuest: () => { notified++; }, modelError: (w) => { throw new Error(w); } }, newXenstoreState(KEYS), 1);
  /** The guest's side: a request into req[], then xenstored's turn. */
  const send = (type: number, payload: Uint8Array, txId = 0, len = payload.length) => {
    const msg = new Uint8Array(16 + payload.length);
    const v = new DataView(msg.buffer);
    v.setUint32(0, type, true); v.setUint32(4, 7, true); v.setUint32(8, txId, true); v.setUint32(12, len, true);
    msg.set(payload, 16);
    let prod = mem.readU32(XS_RING.reqProd);
    for (const b of msg) { mem.write(XS_RING.req + (prod & 1023), Uint8Array.of(b)); prod = (prod + 1) >>> 0; }
    mem.writeU32(XS_RING.reqProd, prod);
    xs.notify();
    xs.runDeferred();
  };
  /** The replies in rsp[] so far, consumed: [type, payload as text]. */
  const replies = () => {
    const out: Array<[number, string]> = [];
    let cons = mem.readU32(XS_RING.rspCons);
    const prod = mem.readU32(XS_RING.rspProd);
    const take = (n: number) => { const b: number[] = []; for (let k = 0; k < n; k++) { b.push(mem.bytes[XS_RING.rsp + (cons & 1023)]); cons = (cons + 1) >>> 0; } return Uint8Array.from(b); };
    while (cons !== prod) {
      const h = new DataView(take(16).buffer);
      out.push([h.getUint32(0, true), String.fromCharCode(...take(h.getUint32(12, true)))]);
    }
    mem.writeU32(XS_RING.rspCons, cons);
    return out;
  };
  return { mem, xs, send, replies, notified: () => notified };
}

const text = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('xenstored', () => {
  it('answers malformed payloads with its errors (core.c onearg, canonicalize, process_message)', () => {
    const d = daemon();
    d.send(2, text('domid')); // no NUL
    d.send(2, text('domid\0x\0')); // two strings
    d.send(2, text('dom id\0'));
    d.send(30, text('x\0'));
    d.send(7, text('T\0'), 5); // no such transaction
    d.send(11, text('data'));  // XS_WRITE without the NUL between path and value
    d.send(2, text('domid\0'));
    assert.deepEqual(d.replies(), [[16, 'EINVAL\0'], [16, 'EINVAL\0'], [16, 'EINVAL\0'], [16, 'ENOSYS\0'], [16, 'ENOENT\0'], [16, 'EINVAL\0'], [2, '1']]);
    assert.ok(d.notified() > 0);
  });

  it('a header with len > 4096 breaks the connection (XENSTORE_ERROR_PROTO); nothing is served after', () => {
    const d = daemon();
    d.send(2, text('domid\0'), 0, 4097);
    assert.equal(d.mem.readU32(XS_RING.error), 3);
    d.send(2, text('domid\0'));
    assert.deepEqual(d.replies(), []);
  });

  it('indices more than the ring apart break it (XENSTORE_ERROR_RINGIDX)', () => {
    const d = daemon();
    d.mem.writeU32(XS_RING.reqProd, 2000);
    d.xs.notify();
    d.xs.runDeferred();
    assert.equal(d.mem.readU32(XS_RING.error), 2);
    assert.equal(d.mem.readU32(XS_RING.reqCons), 0, 'nothing consumed');
  });

  it('a request split across notifications is answered once whole', () => {
    const d = daemon();
    const msg = new Uint8Array(22);
    new DataView(msg.buffer).setUint32(0, 2, true);
    new DataView(msg.buffer).setUint32(12, 6, true);
    msg.set(text('domid\0'), 16);
    d.mem.write(0, msg.subarray(0, 10));
    d.mem.writeU32(XS_RING.reqProd, 10);
    d.xs.notify();
    d.xs.runDeferred();
    assert.deepEqual(d.replies(), []);
    d.mem.write(10, msg.subarray(10));
    d.mem.writeU32(XS_RING.reqProd, 22);
    d.xs.notify();
    d.xs.runDeferred();
    assert.deepEqual(d.replies(), [[2, '1']]);
  });

  it('a machine captured mid-conversation ends as the uninterrupted run', () => {
    const image = buildGuest('pv-xenstore');
    const straight = runImage(image, { profile: 'xen/idt' });
    assert.equal(straight.verdict, 'success', straight.reason);
    for (let k = 1; k < 12; k++) {
      const at = Math.floor((straight.instructions * k) / 12);
      const first = bootImage(image, { profile: 'xen/idt' });
      first.machine.run({ maxInsns: at, timeoutMs: 0 });
      const second = restoreMachine(structuredClone(first.machine.capture()), { profile: 'xen/idt' });
      const r = runBooted(second, image, { profile: 'xen/idt' });
      assert.equal(r.verdict, 'success', `restored at ${at}: ${r.reason}`);
      assert.equal(r.console, straight.console, `restored at ${at}`);
    }
  });
});
