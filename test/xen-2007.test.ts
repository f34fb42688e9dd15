// Xen 3.0.4 and 3.1.1 (profiles xen-3.0.4/idt and xen-3.1.1/idt; docs/architecture.md, "Xen's
// versions"; notes of issue 21). Every PV guest runs on both (test/xen-guests.test.ts): where
// 2007 Xen answers differently the guest checks 2007's answer, chosen by XENVER_version, with
// the 2007 source lines in its prose.
//
// And the point of the issue: the 2007 regression (seed 003). On 3.1.1, 369bafdb1c's SYSCALL
// trampoline jumps to syscall_enter through %r11, so the syscall callback frame's R11 slot
// holds that address where 3.0.4 had the user's RFLAGS (fixed by b28b3c245a). guests/pv-syscall-r11
// does not know which Xen it runs on; `ringside diff` must find that slot as the first
// difference, with the values 3.0.4 and 3.1.1 put there.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { diffImage } from '../src/lab/diff.js';
import { SYSCALL_ENTER_2007, XEN_VERSIONS } from '../src/hosts/xen/version.js';

const PROFILES_2007 = ['xen-3.0.4/idt', 'xen-3.1.1/idt'];
/** pv-timer's waits are virtual time, which the retired-instruction count carries. */
const MAX_INSNS = 60_000_000;

/** The 64-bit value of a halves pair, as the diff prints it. */
function hex64(lo: number, hi: number): string {
  return '0x' + ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString(16).padStart(16, '0');
}

for (const dom0 of [false, true]) {
  test(`pv-syscall-r11 (${dom0 ? 'dom0' : 'domU'}): ringside diff finds the syscall frame's R11 slot: the user's RFLAGS on 3.0.4, &syscall_enter on 3.1.1`, () => {
    const { diff: d, runs } = diffImage(buildGuest('pv-syscall-r11'), { profiles: PROFILES_2007, dom0, maxInsns: MAX_INSNS });
    for (const r of runs) assert.equal(r.verdict, 'success', `${r.profile}: ${r.reason}`);
    assert.equal(d.exit, 1);
    // The first difference is the word at +8 of the frame Xen wrote for the user's SYSCALL:
    // create_bounce_frame's { RCX, R11, RIP, CS, RFLAGS, RSP, SS } (3.0.4-branched
    // x86_64/entry.S:252-294).
    const first = d.first?.difference;
    assert.ok(first !== undefined && first !== null, JSON.stringify(d.first));
    assert.equal(first.class, 'abi');
    assert.equal(first.kind, 'user syscall -> sysret to kernel');
    assert.equal(first.field, 'wrote[0]+0x08');
    // 3.0.4: RFLAGS as the SYSCALL saved it (ZF | PF | IF, bit 1); 3.1.1: the trampoline's
    // %r11, the model's documented &syscall_enter.
    assert.deepEqual([first.a.value, first.b.value], ['0x0000000000000246', hex64(SYSCALL_ENTER_2007.lo, SYSCALL_ENTER_2007.hi)]);
    assert.equal(first.a.means, 'RFLAGS before the SYSCALL');
    // Only that SYSCALL's frame: the other words Xen wrote for it are the same.
    const frameWords = d.differences.filter((x) => x.kind === first.kind && x.field.startsWith('wrote[0]+') && x.seq[0] === first.seq[0]);
    assert.deepEqual(frameWords.map((x) => x.field), ['wrote[0]+0x08']);
    // And the guest's console says it too: the slot, and Solaris's symptom, RFLAGS.AC.
    assert.ok(d.consoleFirstLine !== null);
    assert.deepEqual([d.consoleFirstLine.a, d.consoleFirstLine.b], ['callback.frame.r11: 0x246', `callback.frame.r11: ${hex64(SYSCALL_ENTER_2007.lo, SYSCALL_ENTER_2007.hi).replace(/^0x0*/, '0x')}`]);
    assert.match(runs[0].console, /^user\.ac_after_return: 0$/m);
    assert.match(runs[1].console, /^user\.ac_after_return: 1$/m);
  });
}

test('pv-syscall-r11: today\'s Xen (xen/idt) has the user\'s RFLAGS in the slot, as 3.0.4 (b28b3c245a, and the stubs since)', () => {
  const { diff: d, runs } = diffImage(buildGuest('pv-syscall-r11'), { profiles: ['xen-3.0.4/idt', 'xen/idt'], maxInsns: MAX_INSNS });
  for (const r of runs) assert.equal(r.verdict, 'success', `${r.profile}: ${r.reason}`);
  assert.ok(!d.differences.some((x) => x.kind === 'user syscall -> sysret to kernel' && x.field === 'wrote[0]+0x08'),
    d.differences.map((x) => `${x.kind}: ${x.field}`).join('\n'));
  assert.equal(d.consoleDiffers, false);
});

test('XEN_VERSIONS: 3.0.4 and 3.1.1 differ from each other in the trampoline and the version they report only; today\'s Xen in none of the 2007 points', () => {
  const a = XEN_VERSIONS['xen-3.0.4'], b = XEN_VERSIONS['xen-3.1.1'], now = XEN_VERSIONS.xen;
  const points = ['trampoline2007', 'syscallClearsDf', 'syscall32Sysenter', 'syscallMissingCallbackUd', 'sysretCanonicalCheck',
    'iretFaultReinjected', 'abi2007', 'dom0MagicFixed'] as const;
  assert.deepEqual(points.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])), ['trampoline2007', 'abi2007']);
  assert.deepEqual([a.trampoline2007, b.trampoline2007], ['rel32', 'r11']);
  assert.deepEqual([a.abi2007?.major, a.abi2007?.minor, b.abi2007?.major, b.abi2007?.minor], [3, 0, 3, 1]);
  assert.deepEqual(points.filter((k) => JSON.stringify(now[k]) === JSON.stringify(a[k])), []);
  // &syscall_enter: in 3.1.1's Xen text (XEN_VIRT_START 0xffff828c80000000 + 1 MiB), AC set.
  assert.equal(SYSCALL_ENTER_2007.hi >>> 0, 0xffff828c);
  assert.ok((SYSCALL_ENTER_2007.lo >>> 0) >= 0x80100000 && (SYSCALL_ENTER_2007.lo & 0x40000) !== 0);
});
