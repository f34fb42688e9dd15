// Every Xen PV guest (guests/pv-*) on the model's Xen: on both CPU flavours, as dom0 (Xen's
// own builder) and as a domU (the toolstack's builder, the console ring). Each guest states
// what Xen's source does and checks every line it prints, choosing by CPU vendor, Xen version
// and dom0/domU where Xen's behaviour depends on them; test/xen-guests-real.test.ts holds the
// same guests, as dom0, to real Xen line by line. A guest of the toolstack's rings (guest.json
// "domains": ["domU"]) runs as a domU only, and `run --dom0` refuses it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildGuest, guestDomains, listGuests } from '../src/guest/build.js';
import { runImage } from '../src/lab/run.js';

for (const guest of listGuests('xen')) {
  describe(guest, () => {
    for (const profile of ['xen/idt', 'xen/idt-amd']) {
      for (const dom0 of [true, false].filter((d) => guestDomains(guest).includes(d ? 'dom0' : 'domU'))) {
        it(`${profile}${dom0 ? ' --dom0' : ' (domU)'}: SUCCESS`, () => {
          const r = runImage(buildGuest(guest), { profile, dom0 });
          assert.equal(r.verdict, 'success', `${r.reason}\n${r.console.split('\n').filter((l) => /FAIL|ERROR|unexpected/.test(l)).join('\n')}`);
          assert.match(r.console, new RegExp(`^Ringside guest: ${guest}\n`));
        });
      }
    }
  });
}
