// linux-entry as one image for both kinds of host (guests/linux-entry: xen-asm.S, xen.c;
// docs/architecture.md, "One Linux-style image, native and Xen PV"): it boots through its PVH
// note on the native profiles and through its PV notes on the xen profiles, as dom0 and as a
// domU, with either of Linux's two Xen SYSCALL entries (kernel command line xen_entry=2016:
// before 2017; none: today's), and the user programs it runs on Xen observe what they observe
// natively except where Xen's or Linux's source says otherwise -- which the ABI diff at
// `--points user` must find, and nothing else.
//
// On the other Xen profiles (FRED mode with and without c5a4b9125b, the 2007 releases) the user
// programs see what those Xens' sources say, for today's entry in guest.json "expect"
// (test/xen-guests.test.ts) and for the 2016 one below; and the diff xen/idt against xen/fred at
// `--points user` finds what FRED mode changes for them, and nothing else.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildGuest, guestHosts } from '../src/guest/build.js';
import { unmetExpectation, type Expectation } from '../src/guest/expectations.js';
import { diffImage } from '../src/lab/diff.js';
import { hostsBooting, runImage } from '../src/lab/run.js';
import type { AbiDiff } from '../src/report/abi-diff.js';
import { diffFindings } from './helpers/diff-findings.js';

const GUEST = 'linux-entry';
const NATIVE_PROFILES = ['native/idt', 'native/idt-amd', 'native/fred'];
const XEN_PROFILES = ['xen/idt', 'xen/idt-amd'];
/** The kernel command lines of the two entry versions and what the kernel says it chose. */
const VERSIONS = [
  { append: '', name: 'today', line: 'kernel.xen_entry: today (after_hwframe, flags 0)' },
  { append: 'xen_entry=2016', name: '2016', line: 'kernel.xen_entry: 2016 (after_swapgs, VGCF_in_syscall)' },
] as const;

const image = buildGuest(GUEST);
const failLines = (console: string): string => console.split('\n').filter((l) => /FAIL|ERROR|unexpected/.test(l)).join('\n');

it('the guest boots on both kinds of host: its guest.json and both hosts\' own checks of the image', () => {
  assert.deepEqual(guestHosts(GUEST), ['native', 'xen']);
  assert.deepEqual(hostsBooting(image, ['native', 'xen'], 128).sort(), ['native', 'xen']);
});

describe('native profiles: the PVH entry, the command line ignored', () => {
  for (const profile of NATIVE_PROFILES) {
    it(`${profile}: SUCCESS, no Xen line`, () => {
      const r = runImage(image, { profile, append: 'xen_entry=2016' });
      assert.equal(r.verdict, 'success', `${r.reason}\n${failLines(r.console)}`);
      assert.doesNotMatch(r.console, /kernel\.xen_entry/);
    });
  }
});

describe('xen profiles: the PV entry, both SYSCALL entries, dom0 and domU', () => {
  for (const profile of XEN_PROFILES) {
    for (const v of VERSIONS) {
      for (const dom0 of [true, false]) {
        it(`${profile}${dom0 ? ' --dom0' : ' (domU)'} xen_entry=${v.name}: SUCCESS, with the exit and selectors that entry gives`, () => {
          const r = runImage(image, { profile, dom0, append: v.append });
          assert.equal(r.verdict, 'success', `${r.reason}\n${failLines(r.console)}`);
          const lines = r.console.split('\n');
          assert.equal(lines[0], `Ringside guest: ${GUEST}`);
          assert.ok(lines.includes(v.line), 'the kernel took the entry its command line chose');
          // Today: Linux's do_syscall_64 "XEN PV guests always use the IRET path" (flags 0:
          // CS and SS from the frame, Linux's own GDT entries). 2016: the native checks pass and
          // xen_sysret64 asks for VGCF_in_syscall, so Xen's SYSRET loads its STAR's selectors.
          assert.ok(lines.includes(`syscall_regs.exit: ${v.name === 'today' ? 'iret' : 'sysret'}`));
          assert.ok(lines.includes(`syscall_regs.cs: ${v.name === 'today' ? '0x33' : '0xe033'}`));
          assert.ok(lines.includes(`syscall_regs.ss: ${v.name === 'today' ? '0x2b' : '0xe02b'}`));
          assert.ok(lines.includes('syscall_regs.rcx: probe_syscall_ret'), 'RCX after SYSCALL: the return address, as on native/idt');
        });
      }
    }
  }
});

const findings = diffFindings;

/**
 * What `ringside diff linux-entry --profiles native/idt,xen/idt --points user` finds, and why
 * (docs/architecture.md, "One Linux-style image, native and Xen PV", has the long form).
 *
 * Both versions:
 * - console: the kernel's `kernel.xen_entry` line (Xen only), and the programs the PV kernel
 *   does not run (main.c xen_programs: sysret_rip, sysret_ss_attrs, single_step, compat32, the
 *   syscall gap);
 * - only in native/idt: those programs' returns to user mode (#DB of single_step and the gap,
 *   #UD, INT $0x80, SYSENTER, the failed-IRET #GP's iret -> iret, their system calls);
 * - diverged earlier, ds/es: natively call32 (sysret_ss_attrs, compat32) loads __USER_DS into
 *   DS and ES, which the kernel never reloads; on Xen those programs do not run, so DS and ES
 *   stay null; the other registers (rbp, r12, r14, rdx, rax, rflags, and r11 = RFLAGS) are
 *   what the user code computed from different inputs: a different line printed before
 *   (`syscall_regs.exit: iret` where native prints `sysret`, the skipped programs).
 * Today's entry: the syscall points are `syscall -> sysret` natively and `iret to user` on
 * Xen (HYPERVISOR_iret with flags 0, Linux since afd30525a659); their RCX and R11 are the
 * same (Xen's frame holds the hardware SYSCALL's RCX and R11, entry.S lstar_enter, which
 * xen_entry_SYSCALL_64 pops into pt_regs, and IRET gives them back). The one abi finding, r11,
 * is RFLAGS.PF alone: the write() of the line that differs (see console) leaves other flags.
 * 2016: the same points are SYSRETs on both sides (xen_sysret64, VGCF_in_syscall: Xen's
 * restore_all_guest SYSRET), and user CS and SS are Xen's STAR selectors 0xe033/0xe02b where
 * native's are 0x33/0x2b (XEN_MSR_STAR; "Discard R11, RCX, CS, SS").
 */
const COMMON = [
  'console',
  'diverged earlier: delivery #1 -> iret | user delivery #1 -> iret to user: ds',
  'diverged earlier: delivery #1 -> iret | user delivery #1 -> iret to user: es',
  'diverged earlier: syscall -> iret | user syscall -> iret to user: ds',
  'diverged earlier: syscall -> iret | user syscall -> iret to user: es',
  'only in native/idt: delivery #1 -> iret',
  'only in native/idt: delivery #128 -> iret',
  'only in native/idt: delivery #6 -> iret',
  'only in native/idt: iret -> iret',
  'only in native/idt: syscall -> iret',
  'only in native/idt: syscall -> sysret',
  'only in native/idt: sysenter -> iret',
  'only in native/idt: sysenter -> sysret',
];
const EXPECTED: Record<string, string[]> = {
  today: [
    ...COMMON,
    'abi: syscall -> sysret | user syscall -> iret to user: r11',
    'diverged earlier: delivery #1 -> iret | user delivery #1 -> iret to user: rbp',
    'diverged earlier: syscall -> iret | user syscall -> iret to user: rbp',
    ...['ds', 'es', 'r12', 'r14', 'rax', 'rbp', 'rdx', 'rflags'].map((f) => `diverged earlier: syscall -> sysret | user syscall -> iret to user: ${f}`),
  ].sort(),
  2016: [
    ...COMMON,
    'abi: syscall -> sysret | user syscall -> sysret to user: cs',
    'abi: syscall -> sysret | user syscall -> sysret to user: ss',
    ...['cs', 'ds', 'es', 'r11', 'rax', 'rbp', 'rdx', 'rflags', 'ss'].map((f) => `diverged earlier: syscall -> sysret | user syscall -> sysret to user: ${f}`),
  ].sort(),
};
const PF = 0x4n;

describe('ringside diff --points user, native/idt against xen/idt: exactly the explained differences', () => {
  for (const v of VERSIONS) {
    it(`xen_entry=${v.name}`, () => {
      const { diff: d, runs } = diffImage(image, { profiles: ['native/idt', 'xen/idt'], points: 'user', append: v.append });
      for (const r of runs) assert.equal(r.verdict, 'success', `${r.profile}: ${r.reason}`);
      assert.equal(d.observed, 'ring 3 / guest user code');
      assert.ok(d.pointsCompared.aligned > 0 && d.pointsCompared.aligned === d.pointsCompared.b, JSON.stringify(d.pointsCompared));
      assert.deepEqual(findings(d), EXPECTED[v.name]);
      assert.equal(d.exit, 1);
      assert.deepEqual(d.consoleFirstLine, { line: 3, a: 'kernel.fred: not enumerated', b: v.line });
      const abi = d.differences.filter((x) => x.class === 'abi');
      for (const x of abi) {
        if (x.field === 'r11') assert.equal(BigInt(x.a.value) ^ BigInt(x.b.value), PF, 'R11 differs in PF alone');
        if (x.field === 'cs') assert.deepEqual([BigInt(x.a.value), BigInt(x.b.value)], [0x33n, 0xe033n]);
        if (x.field === 'ss') assert.deepEqual([BigInt(x.a.value), BigInt(x.b.value)], [0x2bn, 0xe02bn]);
      }
      // RCX and R11 where user code resumes after SYSCALL are never an abi finding: Xen in IDT
      // mode gives the guest kernel the hardware SYSCALL's values, and both entries pass them on.
      assert.ok(!abi.some((x) => x.field === 'rcx'));
    });
  }
});

/**
 * The pre-2017 entry (xen_entry=2016) on the other Xen profiles: what user mode gets back from
 * xen_sysret64's HYPERVISOR_iret with VGCF_in_syscall, and from the frame the entry read its
 * return RIP and RFLAGS from (guests/linux-entry/xen.c has the source lines).
 */
const ENTRY_2016: Record<string, Expectation & { maxInsns?: number }> = {
  'xen/fred': {
    verdict: 'failure',
    why: 'ERETU of the frame: %rcx/%r11 of the iret stub\'s SYSCALL (traps.c:2414-2415) and the frame\'s CS/SS, not SYSRET\'s',
    lines: [/^FAIL: RCX is 0x[0-9a-f]+, not the address after SYSCALL /, /^FAIL: syscall_regs\.r11 is 0x200202, expected 0x200a93 /,
      /^FAIL: syscall_regs\.cs is 0x33, expected 0xe033 /, /^FAIL: syscall_regs\.ss is 0x2b, expected 0xe02b /, /^FAIL: syscall_regs: 4 check\(s\) failed$/],
  },
  'xen-nocompat/fred': {
    verdict: 'timeout',
    why: 'the frame\'s %rcx word is the user\'s own (no traps.c:2414-2415): the kernel SYSRETs there and user mode runs wild',
    lines: [/^unexpected fault: #GP\(0x0\) at 0x10000d cs 0x33$/],
    maxInsns: 2_000_000,
  },
  'xen-3.1.1/idt': {
    verdict: 'failure',
    why: '&syscall_enter in the frame\'s %r11 word (369bafdb1c) comes back as %r11 and, through SYSRET, as RFLAGS: AC set (seed 003)',
    lines: [/^FAIL: syscall_regs\.r11 is 0xffff828c80140240, expected 0x200a93 /, /^FAIL: syscall_regs\.rflags is 0x140242, expected 0x200a93 /,
      /^FAIL: syscall_regs: 2 check\(s\) failed$/, /^FAIL: syscall_nt\.\w+\.flags is 0x40000, expected 0x[0-9a-f]+ /,
      /^FAIL: syscall_nt\.\w+\.exit is sysret, expected iret /, /^FAIL: syscall_nt: \d+ check\(s\) failed$/],
  },
  'xen-3.0.4/idt': { verdict: 'success', why: '3.0.4\'s trampoline leaves %r11 alone', lines: [] },
};

describe('the pre-2017 entry on FRED-mode Xen and on the 2007 releases', () => {
  for (const [profile, want] of Object.entries(ENTRY_2016)) {
    it(`${profile} xen_entry=2016: ${want.verdict.toUpperCase()} (${want.why})`, () => {
      const r = runImage(image, { profile, append: 'xen_entry=2016', maxInsns: want.maxInsns });
      const expected = want.verdict === 'success' ? null : want;
      assert.deepEqual(unmetExpectation(expected, r.verdict, r.console), [], r.reason);
    });
  }
});

const abiFindings = (d: AbiDiff): Map<string, [bigint, bigint, string | null, string | null]> => new Map(d.differences
  .filter((x) => x.class === 'abi')
  .map((x) => [x.field, [BigInt(x.a.value), BigInt(x.b.value), x.a.means, x.b.means]]));

describe('ringside diff --points user, xen/idt against xen/fred: what FRED-mode Xen changes for user programs', () => {
  it('today\'s entry: the user\'s DF is lost across a system call, and nothing else', () => {
    const { diff: d, runs } = diffImage(image, { profiles: ['xen/idt', 'xen/fred'], points: 'user' });
    assert.deepEqual(runs.map((r) => r.verdict), ['success', 'failure']);
    const abi = abiFindings(d);
    assert.deepEqual([...abi.keys()].sort(), ['r11', 'rflags']);
    // RFLAGS where user code resumes after SYSCALL: DF alone (entry_from_pv clears it before the
    // frame is written, traps.c:2432); R11 (the RFLAGS the user had): PF alone, the flags of a
    // write() whose line differs (the kernel says FRED is enumerated: a PV guest's CPUID is the
    // CPU's without CPUID faulting).
    assert.equal(abi.get('rflags')![0] ^ abi.get('rflags')![1], 0x400n);
    assert.equal(abi.get('r11')![0] ^ abi.get('r11')![1], PF);
    assert.deepEqual(d.consoleFirstLine, { line: 4, a: 'kernel.fred: not enumerated', b: 'kernel.fred: enumerated, not enabled' });
  });

  it('xen_entry=2016: xen_sysret64\'s return gives the iret stub\'s %rcx/%r11 and the frame\'s selectors', () => {
    const { diff: d, runs } = diffImage(image, { profiles: ['xen/idt', 'xen/fred'], points: 'user', append: 'xen_entry=2016' });
    assert.deepEqual(runs.map((r) => r.verdict), ['success', 'failure']);
    const abi = abiFindings(d);
    assert.deepEqual([...abi.keys()].sort(), ['cs', 'r11', 'rcx', 'ss']);
    assert.equal(abi.get('rcx')![2], 'RIP after the SYSCALL (the return address)');
    assert.match(abi.get('rcx')![3] ?? '', /^hypercall_iret\+0xb\b/);
    assert.equal(abi.get('r11')![2], 'RFLAGS before the SYSCALL');
    assert.deepEqual(abi.get('cs')!.slice(0, 2), [0xe033n, 0x33n]);
    assert.deepEqual(abi.get('ss')!.slice(0, 2), [0xe02bn, 0x2bn]);
  });

  it('xen-nocompat/fred against xen/fred, today\'s entry: the user\'s own %rcx/%r11 after SYSCALL (seed 000)', () => {
    const { diff: d } = diffImage(image, { profiles: ['xen-nocompat/fred', 'xen/fred'], points: 'user' });
    const abi = abiFindings(d);
    assert.deepEqual([...abi.keys()].sort(), ['r11', 'rcx']);
    // Without traps.c:2414-2415 the syscall frame's %rcx/%r11 words are what user mode left in
    // them; xen_entry_SYSCALL_64 pops them into pt_regs and the IRET gives them back.
    assert.equal(abi.get('rcx')![2], 'unchanged since the user left');
    assert.equal(abi.get('rcx')![3], 'the RIP guest user code resumes at');
    assert.equal(abi.get('r11')![2], 'unchanged since the user left');
    assert.equal(abi.get('r11')![3], 'RFLAGS before the SYSCALL');
  });
});
