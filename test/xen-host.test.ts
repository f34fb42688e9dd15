// The xen host as a user meets it: how a PV domain's run ends and is judged (README, "The
// xen platform"; Xen's sched_op and domain_crash), what a domU's console_io gets in a release
// build, which images and options are refused (one line, exit 2), and that a PV machine is
// captured and restored whole (Xen's state about the domain included). The guest-visible ABI
// itself is stated by the PV guests (guests/pv-*), run against real Xen by
// test/xen-guests-real.test.ts.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildPvImage, consoleWrite, shutdown, XTF_NOTES, type PvNote } from './helpers/pv-image.js';
import { buildPvhImage, ringside } from './helpers/pvh-image.js';
import { assertRestoredRun } from './helpers/restore-run.js';
import { runImage } from '../src/lab/run.js';
import { buildGuest } from '../src/guest/build.js';

const RESULT = consoleWrite('Test result: SUCCESS\n');
const dir = mkdtempSync(join(tmpdir(), 'ringside-xen-host-'));

/** A PVH test image in a file. */
function pvhFile(name: string, elfClass: 32 | 64): string {
  const path = join(dir, name);
  writeFileSync(path, buildPvhImage({ elfClass }));
  return path;
}

describe('how a PV domain ends (sched_op shutdown, domain crash)', () => {
  const cases: Array<[string, string, boolean, string, RegExp]> = [
    ['poweroff after a result line', RESULT + shutdown(0), true, 'success', /Test result: SUCCESS/],
    ['poweroff without one', consoleWrite('hello\n') + shutdown(0), true, 'error', /no result: SCHEDOP_shutdown: poweroff/],
    ['reboot without one', shutdown(1), true, 'error', /no result: SCHEDOP_shutdown: reboot/],
    ['suspend', shutdown(2), true, 'error', /suspended/],
    ['SHUTDOWN_crash', shutdown(3), true, 'crash', /SCHEDOP_shutdown: crash/],
    ['crash after a result line', RESULT + shutdown(3), true, 'success', /Test result: SUCCESS/],
    // No trap table: Xen logs "Unhandled: vec 6, #UD[0000]" and create_bounce_frame crashes
    // the domain (bad bounce ip); real Xen says the same (test/xen-real.test.ts).
    ['#UD with no trap table', 'ud2\n', true, 'crash', /domain crash: create_bounce_frame_bad_bounce_ip/],
    ['a domU powering off', shutdown(0), false, 'error', /no result/],
  ];
  for (const [name, body, dom0, verdict, reason] of cases) {
    it(`${name}: ${verdict}`, () => {
      const r = runImage(buildPvImage(body), { profile: 'xen/idt', dom0, maxInsns: 1e6 });
      assert.equal(r.verdict, verdict, r.reason);
      assert.match(r.reason, reason);
    });
  }

  /** A #UD with a trap-table handler, taken on a kernel stack at `rsp`. */
  const udOnStack = (rsp: string): string => `
        lea     traps(%rip), %rdi
        call    hypercall_page + 0 * 32
        movabs  $${rsp}, %rsp
        ud2
        .pushsection .data
        .balign 16
traps:  .byte 6, 0; .word 0xe033; .long 0; .quad handler
        .quad 0, 0
        .popsection
handler: jmp handler
`;

  it('a bounce frame that cannot be written crashes the domain', () => {
    // RSP on an unmapped page: create_bounce_frame's stores fault (Xen's exception table:
    // domain_crash).
    const r = runImage(buildPvImage(udOnStack('0x7ff00000')), { profile: 'xen/idt', dom0: true, maxInsns: 1e6 });
    assert.equal(r.verdict, 'crash');
    assert.match(r.reason, /create_bounce_frame: fault writing the frame at 0x7fefffc8/);
  });

  it('a guest stack inside Xen\'s range crashes the domain when an exception bounces', () => {
    // RSP in [HYPERVISOR_VIRT_START, HYPERVISOR_VIRT_END): create_bounce_frame refuses it.
    const r = runImage(buildPvImage(udOnStack('0xffff800000001000')), { profile: 'xen/idt', dom0: true, maxInsns: 1e6 });
    assert.equal(r.verdict, 'crash');
    assert.match(r.reason, /guest stack in the hypervisor range/);
  });
});

describe('--verbose: Xen\'s log on stderr', () => {
  it('says what Xen said when it crashed the domain, as real Xen logs it (test/xen-real.test.ts)', () => {
    const image = buildPvImage('ud2\n');
    const quiet = ringside(['run', image, '--profile', 'xen/idt', '--dom0']);
    assert.equal(quiet.status, 6);
    assert.doesNotMatch(quiet.stderr, /\(XEN\)/);
    const r = ringside(['run', image, '--profile', 'xen/idt', '--dom0', '--verbose']);
    assert.equal(r.status, 6);
    assert.match(r.stderr, /^\(XEN\) d0v0 Unhandled: vec 6, #UD\[0000\]\n\(XEN\) Domain 0 \(vcpu#0\) crashed on cpu#0: create_bounce_frame_bad_bounce_ip\nringside: crash: /);
  });
});

describe('a domU in a release build', () => {
  it('gets -EPERM from console_io, and nothing reaches the console', () => {
    const body = `${consoleWrite('from console_io\n')}
        mov     %rax, %rbx
${shutdown(0)}`;
    const r = runImage(buildPvImage(body), { profile: 'xen/idt', maxInsns: 1e6 });
    assert.equal(r.console, '');
    assert.equal(r.registers.rbx, '0xffffffffffffffff'); // -EPERM
  });

  it('prints through its console ring, as xenconsoled reads it', () => {
    const r = runImage(buildGuest('pv-segbase'), { profile: 'xen/idt' });
    assert.equal(r.verdict, 'success', r.reason);
    assert.match(r.console, /^Ringside guest: pv-segbase\n/);
  });
});

describe('refused images and options: one line, exit 2', () => {
  it('a 32-bit PV image: PV32 is not modelled', () => {
    const r = ringside(['run', pvhFile('pv32.elf', 32), '--profile', 'xen/idt']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^ringside: .*a 32-bit \(PV32\) image: only 64-bit PV guests are modelled\n$/);
  });

  it('a 32-bit PV kernel with Xen in FRED mode: Xen\'s own refusal (FRED rules out PV32, seed 002)', () => {
    // traps_init: "Disabling PV32 due to FRED" (traps-setup.c); dom0_construct_pv's
    // switch_compat is -EOPNOTSUPP and Xen panics; the toolstack's xc_dom_compat_check refuses a
    // domU's 32-bit type (xg_dom_boot.c).
    const notes: PvNote[] = [[6, '.asciz "linux"'], [8, '.asciz "generic"'], [5, '.asciz "xen-3.0"'], [9, '.asciz "yes"']];
    const pv32 = buildPvImage('        hlt\n', notes, { elf32: true });
    for (const profile of ['xen/fred', 'xen-nocompat/fred']) {
      const dom0 = ringside(['run', pv32, '--profile', profile, '--dom0']);
      assert.equal(dom0.status, 2);
      assert.match(dom0.stderr, /^ringside: .*Xen refuses this PV image: a 32-bit PV kernel with FRED on: "\(XEN\) Disabling PV32 due to FRED", "\(XEN\) Dom0 failed to switch to compat: -95", "Panic on CPU 0: Could not construct d0"\n$/);
      const domU = ringside(['run', pv32, '--profile', profile]);
      assert.equal(domU.status, 2);
      assert.match(domU.stderr, /^ringside: .*xc_dom_compat_check: guest type xen-3\.0-x86_32p not supported by xen kernel, sorry\n$/);
    }
    // In IDT mode Xen would take it (PV32, not modelled).
    assert.match(ringside(['run', pv32, '--profile', 'xen/idt']).stderr, /only 64-bit PV guests are modelled/);
  });

  it('a PVH image on a xen profile: Xen refuses it, saying why', () => {
    const r = ringside(['run', pvhFile('pvh.elf', 64), '--profile', 'xen/idt']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^ringside: .*Xen refuses this PV image[^\n]*\n$/);
  });

  it('a bundled guest on the other kind of host: which profiles boot it', () => {
    const pv = ringside(['run', 'pv-boot']);
    assert.equal(pv.status, 2);
    assert.equal(pv.stderr, 'ringside: pv-boot is a Xen PV guest: run it on a xen profile (--profile xen/idt or xen/idt-amd); native/idt cannot boot it\n');
    const native = ringside(['run', 'exceptions', '--profile', 'xen/idt-amd']);
    assert.equal(native.status, 2);
    assert.match(native.stderr, /^ringside: exceptions is a bare-metal guest: run it on a native profile/);
  });

  it('--dom0 on a native profile', () => {
    const r = ringside(['run', buildPvImage(shutdown(0), XTF_NOTES), '--profile', 'native/idt', '--dom0']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^ringside: --dom0 applies to xen profiles[^\n]*\n$/);
  });

  it('--console-input on a native profile, and with --dom0 (no console ring to type on)', () => {
    const image = buildPvImage(shutdown(0), XTF_NOTES);
    const native = ringside(['run', image, '--profile', 'native/idt', '--console-input', 'x']);
    assert.equal(native.status, 2);
    assert.match(native.stderr, /^ringside: --console-input applies to xen profiles[^\n]*\n$/);
    const dom0 = ringside(['run', image, '--profile', 'xen/idt', '--dom0', '--console-input', 'x']);
    assert.equal(dom0.status, 2);
    assert.match(dom0.stderr, /^ringside: --console-input is typed on a domU's console ring[^\n]*\n$/);
  });
});

describe('capture and restore', () => {
  it('a PV domain restored mid-run ends as the uninterrupted run does', () => {
    const image = buildGuest('pv-syscall');
    const straight = runImage(image, { profile: 'xen/idt', dom0: true });
    assert.equal(straight.verdict, 'success', straight.reason);
    for (const at of [Math.floor(straight.instructions / 3), Math.floor((2 * straight.instructions) / 3)]) {
      assertRestoredRun(image, { profile: 'xen/idt', dom0: true }, straight, at);
    }
  });
});
