// The xen host's guest debug registers and dom0 sysctl (docs/architecture.md "Guest debug
// registers, FSGSBASE and sysctl"): what the guests (guests/pv-breakpoints, held to real Xen
// 4.17 by xen-guests-real) cannot show from inside: a #DB that Xen takes in its own context
// and drops, the breakpoint state across capture/restore, and the sysctl answers by privilege.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPvImage, shutdown } from './helpers/pv-image.js';
import { bootImage, restoreMachine, runBooted, runImage } from '../src/lab/run.js';
import { buildGuest } from '../src/guest/build.js';

describe('guest breakpoints', () => {
  it('a data breakpoint held by MOV SS over a hypercall SYSCALL is taken in Xen and dropped (XSA-260)', () => {
    // Intel SDM Vol. 3A §6.8.3: the #DB waits for the boundary after SYSCALL, i.e. Xen's
    // entry point; handle_DB (!guest_mode) resets DR6, logs, and returns: the guest never sees it.
    for (const dom0 of [false, true]) {
      const r = runImage(buildGuest('pv-breakpoints'), { profile: 'xen/idt', dom0 });
      assert.equal(r.verdict, 'success', r.reason);
      assert.match(r.console, /^kernel\.movss_syscall\.db_count: 0$/m);
      const hits = r.hostLog.split('\n').filter((l) => l.includes('Hit #DB in Xen context'));
      assert.equal(hits.length, 1, r.hostLog);
      assert.match(hits[0], new RegExp(`^\\(XEN\\) d${dom0 ? 0 : 1}v0 Hit #DB in Xen context: e008:[0-9a-f]{16} \\[lstar_enter\\], stk e010:[0-9a-f]{16}, dbg 1$`));
    }
  });

  it('armed breakpoints and emulated I/O enables survive capture and restore', () => {
    const image = buildGuest('pv-breakpoints');
    const straight = runImage(image, { profile: 'xen/idt-amd' });
    assert.equal(straight.verdict, 'success', straight.reason);
    for (const f of [0.3, 0.5, 0.7, 0.85]) {
      const at = Math.floor(straight.instructions * f);
      const first = bootImage(image, { profile: 'xen/idt-amd' });
      first.machine.run({ maxInsns: at, timeoutMs: 0 });
      const second = restoreMachine(structuredClone(first.machine.capture()), { profile: 'xen/idt-amd' });
      const r = runBooted(second, image, { profile: 'xen/idt-amd' });
      assert.equal(r.verdict, 'success', `restored at ${at}: ${r.reason}`);
      assert.equal(r.console, straight.console, `restored at ${at}`);
    }
  });
});

describe('FSGSBASE for a PV kernel', () => {
  // pv_make_cr4: hardware CR4.FSGSBASE is the guest's virtual one (the CPU has FSGSBASE, so
  // Xen's own CR4 does); SDM RDFSBASE/WRFSBASE: #UD unless CR4.FSGSBASE = 1.
  const body = (enable: boolean): string => `
        mov     %cr4, %rax
        ${enable ? 'or      $0x10000, %eax' : ''}
        mov     %rax, %cr4
        mov     %cr4, %rbp
        movabs  $0x123456789000, %rax
        wrfsbase %rax
        rdfsbase %rbx
${shutdown(0)}`;

  it('RDFSBASE / WRFSBASE work once the kernel sets CR4.FSGSBASE, and the virtual CR4 shows it', () => {
    const r = runImage(buildPvImage(body(true)), { profile: 'xen/idt', maxInsns: 1e6 });
    assert.match(r.reason, /SCHEDOP_shutdown: poweroff/);
    assert.equal(r.registers.rbx, '0x0000123456789000');
    assert.equal(BigInt(r.registers.rbp) & 0x10000n, 0x10000n);
  });

  it('and are #UD before (the bounce finds no handler: Xen crashes the domain)', () => {
    const r = runImage(buildPvImage(body(false)), { profile: 'xen/idt', maxInsns: 1e6 });
    assert.equal(r.verdict, 'crash');
    assert.match(r.hostLog, /Unhandled: vec 6, #UD/);
  });
});

/** A sysctl (hypercall 35) on a struct in .data: `words` are its first 32-bit words, the
 *  rest zero, with a name "foo" whose handle is at byte `nameAt` (size 4); the result in
 *  %rbx. */
function sysctlImage(words: number[], nameAt = -1): string {
  const fill = words.map((w) => `.long ${w}`).join('; ');
  const name = nameAt < 0 ? '' : `
        lea     name(%rip), %rax
        mov     %rax, op+${nameAt}(%rip)
        movw    $4, op+${nameAt + 8}(%rip)`;
  return `${name}
        lea     op(%rip), %rdi
        call    hypercall_page + 35 * 32
        mov     %rax, %rbx
${shutdown(0)}
        .pushsection .data
        .balign 8
op:     ${fill}
        .fill   136 - ${4 * words.length}, 1, 0
name:   .asciz  "foo"
        .popsection
`;
}

describe('sysctl', () => {
  const run = (words: number[], dom0: boolean, nameAt = -1): string =>
    runImage(buildPvImage(sysctlImage(words, nameAt)), { profile: 'xen/idt', dom0, maxInsns: 1e6 }).registers.rbx;
  const ERR = (e: number): string => '0x' + ((1n << 64n) - BigInt(e)).toString(16);

  it('checks the interface version first, then privilege (do_sysctl, XSM_PRIV)', () => {
    assert.equal(run([27, 0x15], true), ERR(13)); // -EACCES: 4.17's version
    assert.equal(run([27, 0x16], false), ERR(1)); // -EPERM for a domU
  });

  it('a command Xen does not know is -ENOSYS (arch_do_sysctl)', () => {
    assert.equal(run([0, 0x16], true), ERR(38));
    assert.equal(run([31, 0x16], true), ERR(38));
  });

  it('livepatch: an unknown payload is -ENOENT, an unknown sub-op -EOPNOTSUPP, bad flags -EINVAL', () => {
    assert.equal(run([27, 0x16, 1, 0], true, 16), ERR(2)); // GET "foo"
    assert.equal(run([27, 0x16, 3, 0], true, 16), ERR(2)); // ACTION on "foo"
    assert.equal(run([27, 0x16, 9, 0], true), ERR(95));
    assert.equal(run([27, 0x16, 1, 2], true, 16), ERR(22)); // flags outside LIVEPATCH_FLAGS_MASK
    assert.equal(run([27, 0x16, 1, 0], true), ERR(22)); // name size 0
  });

  it('livepatch: LIST of the empty payload list is 0; UPLOAD of a non-ELF payload is -EINVAL', () => {
    assert.equal(run([27, 0x16, 2, 0, 0, 0, 8], true), '0x0000000000000000');
    // UPLOAD "foo", size 64, payload = the name's page (not an ELF header).
    const words = [27, 0x16, 0, 0, 0, 0, 0, 0, 64, 0];
    const body = sysctlImage(words, 16).replace('call    hypercall_page', 'lea     op(%rip), %rax\n        mov     %rax, op+40(%rip)\n        call    hypercall_page');
    const r = runImage(buildPvImage(body), { profile: 'xen/idt', dom0: true, maxInsns: 1e6 });
    assert.equal(r.registers.rbx, ERR(22));
    assert.match(r.hostLog, /^\(XEN\) livepatch: foo: Not an ELF payload$/m);
  });
});
