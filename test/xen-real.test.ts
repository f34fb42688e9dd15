// Real Xen as the oracle (issue 19, item 6; src/lab/xen.ts): Debian's hypervisor booted by
// QEMU TCG with a test kernel as dom0. These check the harness on what Xen itself defines,
// from its source at the packaged version (4.17):
// - the dom0 builder enters the kernel with %rsi = start_info, whose first field is the
//   magic "xen-3.0-x86_64p" for a 64-bit PV guest with PAE_MODE set (public/xen.h, struct
//   start_info; arch/x86/pv/dom0_build.c formats "xen-3.0-x86_%d%s", "p" for PAE);
// - HYPERVISOR_console_io(CONSOLEIO_write) from dom0 goes to Xen's console unprefixed
//   (drivers/char/console.c, the hardware domain's writes);
// - SCHEDOP_shutdown from dom0 shuts the machine down as its reason says, and Xen logs it
//   (common/shutdown.c hwdom_shutdown: "halted" for poweroff, "crashed" for crash);
// - an exception in dom0 with no trap table registered crashes the domain (the bounce has
//   no handler: arch/x86/traps.c), which for dom0 is the same "crashed" shutdown.
// Each run takes several seconds of TCG, so CI runs these few.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { realXen, runUnderXen, type RealXen } from '../src/lab/xen.js';
import { qemuAvailable } from '../src/lab/qemu.js';
import { buildPvImage, consoleWrite, shutdown, WRITE_START_INFO_MAGIC } from './helpers/pv-image.js';

const TIMEOUT_MS = 120_000;
const found = qemuAvailable() ? realXen() : { unavailable: 'qemu-system-x86_64 is not installed' };
const skip = 'unavailable' in found ? `no real Xen here: ${found.unavailable}` : false;
const xen = found as RealXen;

test('dom0 starts with %rsi = start_info ("xen-3.0-x86_64p"), writes Xen\'s console, and SHUTDOWN_poweroff halts the machine', { skip }, async () => {
  const image = buildPvImage(`${WRITE_START_INFO_MAGIC}${consoleWrite('\nTest result: SUCCESS\n')}
${shutdown(0)}`);
  const r = await runUnderXen(xen, image, { timeoutMs: TIMEOUT_MS });
  assert.equal(r.end, 'poweroff', r.xenLog.split('\n').slice(-8).join('\n'));
  const lines = r.console.split('\n').map((l) => l.trim());
  assert.ok(lines.includes('xen-3.0-x86_64p\0'), `the start_info magic: ${JSON.stringify(r.console.slice(-200))}`);
  assert.ok(lines.includes('Test result: SUCCESS'));
  assert.match(r.xenLog, /\*\*\* Building a PV Dom0 \*\*\*/);
});

test('SHUTDOWN_crash, and an exception with no trap table, crash dom0', { skip }, async () => {
  for (const [body, logged] of [[shutdown(3), /Hardware Dom0 crashed/], ['ud2', /d0v0 Unhandled: vec 6, #UD/]] as const) {
    const r = await runUnderXen(xen, buildPvImage(body), { timeoutMs: TIMEOUT_MS });
    assert.equal(r.end, 'crash', `${body.trim().split('\n')[0]}: ${r.xenLog.split('\n').slice(-6).join('\n')}`);
    assert.match(r.xenLog, logged);
  }
});
