// The Linux-style kernel (guests/linux-entry) on both vendor flavours and under QEMU TCG with
// an Intel and an AMD vendor model (issue 14, point 5). The guest checks every line against
// the manual of the vendor CPUID reports (SDM for Intel, APM for AMD) and accepts QEMU's value
// only on lines listed in test/qemu-deviations.ts; here Ringside must succeed on each flavour,
// QEMU must succeed on each model, and the two transcripts must agree line for line except on
// those lines, where Ringside must print the manual's value (compareTranscripts).
//
// Each flavour runs through its profile, as a user would (native/idt, native/idt-amd). QEMU
// missing is a failure, not a skip.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { qemuAvailable, runUnderQemu } from '../src/lab/qemu.js';
import { runImage } from '../src/lab/run.js';
import { deviationsFor, type Vendor } from './qemu-deviations.js';
import { compareTranscripts, QEMU_MISSING, resultLines, consoleValues } from './helpers/guest-console.js';

const GUEST = 'linux-entry';
const MAX_INSNS = 50_000_000;
const QEMU_CPU: Record<Vendor, string> = { intel: 'max,vendor=GenuineIntel', amd: 'max,vendor=AuthenticAMD' };
const PROFILE: Record<Vendor, string> = { intel: 'native/idt', amd: 'native/idt-amd' };

interface Run {
  verdict: string;
  reason: string;
  console: string;
}

/** Run the image on this vendor's profile. */
function runFlavour(image: string, vendor: Vendor): Run {
  const r = runImage(image, { profile: PROFILE[vendor], maxInsns: MAX_INSNS, timeoutMs: 300_000 });
  return { verdict: r.verdict, reason: r.reason, console: r.console };
}

const image = (): string => buildGuest(GUEST);

for (const vendor of ['intel', 'amd'] as const) {
  test(`${GUEST} succeeds on ${PROFILE[vendor]} (the ${vendor} flavour)`, () => {
    const r = runFlavour(image(), vendor);
    assert.equal(r.verdict, 'success', `${r.reason}\n${r.console.split('\n').filter((l) => l.startsWith('FAIL')).join('\n')}`);
    assert.ok(r.console.includes(`kernel.vendor: ${vendor === 'amd' ? 'AuthenticAMD' : 'GenuineIntel'}\n`));
  });

  test(`${GUEST}: ${PROFILE[vendor]} prints what QEMU -cpu ${QEMU_CPU[vendor]} prints, but for the deviation list`, () => {
    assert.ok(qemuAvailable(), QEMU_MISSING);
    const q = runUnderQemu(image(), { timeoutMs: 60_000, cpu: QEMU_CPU[vendor] });
    assert.equal(q.timedOut, false, `${GUEST} timed out under QEMU (${QEMU_CPU[vendor]})`);
    assert.deepEqual(resultLines(q.console), ['Test result: SUCCESS'], `under QEMU (${QEMU_CPU[vendor]}):\n${q.console.split('\n').slice(-20).join('\n')}`);
    const r = runFlavour(image(), vendor);
    const problems = compareTranscripts(GUEST, q.console, r.console, deviationsFor(vendor));
    assert.deepEqual(problems, [], `Ringside (${vendor}) and QEMU (${QEMU_CPU[vendor]}) differ:\n  ${problems.join('\n  ')}`);
  });
}

test(`${GUEST}: the flavours differ exactly where the manuals do`, () => {
  const intel = consoleValues(runFlavour(image(), 'intel').console);
  const amd = consoleValues(runFlavour(image(), 'amd').console);
  const names = [...new Set([...intel.keys(), ...amd.keys()])];
  const differing = names.filter((n) => intel.get(n) !== amd.get(n));
  // SDM vs APM: the vendor; SYSRET with a non-canonical RCX (#GP at CPL 0 on the user's stack
  // vs a fault at CPL 3 at the new RIP); SYSRET's SS attributes; SYSENTER in long mode (Intel's
  // entry, stepped at CPL 0, vs #UD); compat SYSCALL (#UD vs CSTAR).
  assert.deepEqual(differing.sort(), [
    'compat32.syscall',
    'compat32.sysenter',
    'kernel.vendor',
    'single_step.sysenter32.fault',
    'single_step.sysenter32.kernel_trap_first',
    'single_step.sysenter32.kernel_trap_last',
    'single_step.sysenter32.kernel_traps',
    'single_step.sysenter32.traps',
    'sysret_rip.unsafe.ip',
    'sysret_rip.unsafe.rsp_is_user',
    'sysret_rip.unsafe.where',
    'sysret_ss_attrs.unfixed.compat_stack',
  ]);
});

// native/fred: the same image enables FRED (CPUID enumerates it) and its programs check FRED's
// answers themselves (guests/linux-entry/user.c); here the run must succeed and show that it
// took the FRED paths, line by line for the points that differ from IDT (SDM SYSCALL under
// FRED: no register changed; SDM ERETU: a software event's frame with TF pends a single-step
// #DB; SDM SYSRET: #UD under FRED, so the SYSRET programs do not run).
test('linux-entry on native/fred: the kernel enables FRED and every program passes with FRED\'s answers', () => {
  const r = runImage(buildGuest(GUEST), { profile: 'native/fred', maxInsns: MAX_INSNS });
  assert.equal(r.verdict, 'success', r.reason);
  const lines = r.console.split('\n');
  for (const want of [
    'kernel.fred: enabled',
    'syscall_regs.rcx: 0x5ca1ab1e0b57ac1e',
    'syscall_regs.r11: 0xfeedfacedeadbeef',
    'syscall_regs.exit: eretu',
    'sysret_rip.fallthrough.fault: #GP(0x0) at eretu',
    'single_step.syscall.traps: step_syscall_2 step_syscall_3 step_syscall_4 step_syscall_5 step_syscall_6 step_syscall_7',
    'single_step.sysenter32.kernel_traps: 0x0',
    'compat32.sysenter: eax 0x1 kept 6 exit eretu',
    'compat32.syscall: #UD cs 0x23',
  ]) assert.ok(lines.includes(want), `missing line: ${want}`);
  assert.ok(lines.some((l) => l.startsWith('sysret_rip.unsafe: no SYSRET under FRED')));
  assert.ok(!lines.some((l) => l.startsWith('FAIL')));
});
