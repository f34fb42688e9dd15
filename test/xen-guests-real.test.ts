// The Xen PV guests (guests/pv-*, guest.json {"boot": "xen-pv64"}) on real Xen: each is
// built with guests/libpv and booted as dom0 of Debian's Xen 4.17 under QEMU TCG
// (src/lab/xen.ts), and must print `Test result: SUCCESS` (or a SKIP its prose explains,
// none today) and power the machine off with SCHEDOP_shutdown, as the library's
// test_finish does. Each guest states in its prose what Xen's source does and checks
// every line it prints against it, so a library or guest that misreads Xen fails here;
// their transcripts are the oracle the xen host is compared with.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGuest, guestBoot, listGuests } from '../src/guest/build.js';
import { qemuAvailable } from '../src/lab/qemu.js';
import { realXen, runUnderXen, type RealXen } from '../src/lab/xen.js';

const TIMEOUT_MS = 120_000;
const found = qemuAvailable() ? realXen() : { unavailable: 'qemu-system-x86_64 is not installed' };
const skip = 'unavailable' in found ? `no real Xen here: ${found.unavailable}` : false;
const xen = found as RealXen;

test('the Xen guests are listed for the xen host only, and include the four PV guests', () => {
  const pv = listGuests('xen');
  for (const g of ['pv-boot', 'pv-exceptions', 'pv-segbase', 'pv-syscall']) assert.ok(pv.includes(g), g);
  for (const g of pv) assert.equal(guestBoot(g), 'xen-pv64', g);
  const native = new Set(listGuests('native'));
  for (const g of pv) assert.ok(!native.has(g), `${g} is listed for native hosts too`);
});

for (const guest of listGuests('xen')) {
  test(`${guest} passes as dom0 of real Xen and powers off`, { skip }, async (t) => {
    const image = buildGuest(guest);
    const started = Date.now();
    const r = await runUnderXen(xen, image, { timeoutMs: TIMEOUT_MS });
    t.diagnostic(`${guest}: ${Date.now() - started} ms under Xen ${xen.version}`);
    const lines = r.console.split('\n').map((l) => l.replace(/\r$/, ''));
    const tail = `${lines.slice(-12).join('\n')}\n${r.xenLog.split('\n').slice(-6).join('\n')}`;
    assert.equal(r.end, 'poweroff', `${guest} ended with ${r.end}:\n${tail}`);
    assert.ok(lines.includes(`Ringside guest: ${guest}`), `${guest}: banner missing:\n${tail}`);
    const results = lines.filter((l) => l.startsWith('Test result: '));
    assert.deepEqual(results, ['Test result: SUCCESS'], `${guest}:\n${tail}`);
  });
}
