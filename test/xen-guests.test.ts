// Every Xen PV guest (guests/pv-*) on every Xen profile: both CPU flavours in IDT mode, Xen in
// FRED mode with and without the 2026 SYSCALL compatibility patch, and the 2007 releases; as
// dom0 (Xen's own builder) and as a domU (the toolstack's builder, the console ring). Each
// guest states what Xen's source does and checks every line it prints, choosing by CPU
// vendor, Xen version and dom0/domU where Xen's behaviour depends on them; where it cannot
// tell two profiles apart (FRED mode is invisible to a PV guest), its guest.json states the
// verdict and the lines it expects there (src/guest/expectations.ts), and the run must show
// exactly those. test/xen-guests-real.test.ts holds the same guests, as dom0, to real Xen line
// by line. A guest of the toolstack's rings (guest.json "domains": ["domU"]) runs as a domU only.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildGuest, guestDomains, listGuests } from '../src/guest/build.js';
import { guestExpectation, unmetExpectation } from '../src/guest/expectations.js';
import { hostFamily, runnableProfiles } from '../src/lab/profiles.js';
import { runImage } from '../src/lab/run.js';

const XEN_PROFILES = runnableProfiles().filter((p) => hostFamily(p.host) === 'xen').map((p) => p.name);

for (const guest of listGuests('xen')) {
  describe(guest, () => {
    for (const profile of XEN_PROFILES) {
      const expected = guestExpectation(guest, profile);
      for (const dom0 of [true, false].filter((d) => guestDomains(guest).includes(d ? 'dom0' : 'domU'))) {
        it(`${profile}${dom0 ? ' --dom0' : ' (domU)'}: ${expected?.verdict.toUpperCase() ?? 'SUCCESS'}`, () => {
          const r = runImage(buildGuest(guest), { profile, dom0 });
          assert.match(r.console, new RegExp(`^Ringside guest: ${guest}\n`));
          assert.deepEqual(unmetExpectation(expected, r.verdict, r.console), [], r.reason);
        });
      }
    }
  });
}
