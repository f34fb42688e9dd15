// The ABI diff (issue 16, points 3 and 4; README, "ringside diff"): a profile
// against itself observes nothing different, and native/idt against native/idt-amd finds the
// vendor differences the SDM and the APM document, by itself, each explained. The alignment
// and the explanations are also checked on hand-made records.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGuest } from '../src/guest/build.js';
import { diffImage } from '../src/lab/diff.js';
import { align, diffRuns, type AbiDiff } from '../src/report/abi-diff.js';
import type { TransitionRecord, TransitionSide } from '../src/cpu/transition.js';
import { lines, ringside } from './helpers/pvh-image.js';

const MAX_INSNS = 50_000_000;

function diff(guest: string, a: string, b: string): AbiDiff {
  return diffImage(buildGuest(guest), { profiles: [a, b], maxInsns: MAX_INSNS, timeoutMs: 300_000 }).diff;
}

test('align: an extra step on one side is an insertion, the rest stays paired', () => {
  assert.deepEqual(align(['x', 'y', 'z'], ['x', 'q', 'y', 'z']), [[0, 0], [null, 1], [1, 2], [2, 3]]);
  assert.deepEqual(align(['x', 'p', 'y'], ['x', 'y']), [[0, 0], [1, null], [2, 1]]);
  assert.deepEqual(align([], ['x']), [[null, 0]]);
});

const hex = (v: bigint): string => '0x' + v.toString(16).padStart(16, '0');

function side(cpl: number, regs: Record<string, bigint>): TransitionSide {
  const registers: Record<string, string> = {};
  for (const n of ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags']) {
    registers[n] = hex(regs[n] ?? 0n);
  }
  const zero = hex(0n);
  return {
    cpl, mode: '64-bit', codeSize: 64, registers,
    bases: { es: zero, cs: zero, ss: zero, ds: zero, fs: zero, gs: zero },
    msrs: { efer: zero, star: zero, lstar: zero, cstar: zero, fmask: zero, kernelGsBase: zero, sysenterCs: zero, sysenterEsp: zero, sysenterEip: zero },
  };
}

function record(seq: number, kind: TransitionRecord['kind'], before: TransitionSide, after: TransitionSide): TransitionRecord {
  return { seq, icount: seq, kind, vector: null, source: null, errorCode: null, annotation: null, before, after, frame: null, code: null };
}

/** A SYSCALL at 0x401000 (user RFLAGS 0x202, RCX 7) and the SYSRET that returns with `r11`, `rflags`. */
function syscallRun(r11: bigint, rflags: bigint): TransitionRecord[] {
  const user = { rip: 0x401000n, rflags: 0x202n, rcx: 7n, r11: 5n };
  return [
    record(1, 'syscall', side(3, user), side(0, { rip: 0xffffffff81000000n, rcx: 0x401002n, r11: 0x202n })),
    record(2, 'sysret', side(0, { rip: 0xffffffff81000040n, rcx: 0x401002n, r11: 0x202n }), side(3, { ...user, rip: 0x401002n, rcx: 0x401002n, r11, rflags })),
  ];
}

test('diffRuns: a SYSRET returning a different R11 is an ABI difference, each value explained in its own run', () => {
  const d = diffRuns({ profile: 'A', records: syscallRun(0x202n, 0x202n), console: 'x' }, { profile: 'B', records: syscallRun(5n, 0x202n), console: 'x' });
  assert.equal(d.exit, 1);
  assert.equal(d.pointsCompared.aligned, 1);
  assert.equal(d.differences.length, 1);
  const [x] = d.differences;
  assert.equal(x.field, 'r11');
  assert.equal(x.class, 'abi');
  assert.equal(x.a.means, 'RFLAGS before the SYSCALL');
  assert.equal(x.b.means, 'unchanged since the user left');
});

test('diffRuns: RCX after SYSRET is explained as the return address SYSCALL saved, or as the user\'s own', () => {
  const b = syscallRun(0x202n, 0x202n);
  b[1].after.registers.rcx = b[0].before.registers.rcx;
  const d = diffRuns({ profile: 'A', records: syscallRun(0x202n, 0x202n), console: '' }, { profile: 'B', records: b, console: '' });
  assert.deepEqual(d.differences.map((x) => [x.field, x.a.means, x.b.means]), [['rcx', 'RIP after the SYSCALL (the return address)', 'unchanged since the user left']]);
});

test('diffRuns: an RFLAGS difference within the arithmetic flags is its own class and still counts', () => {
  const d = diffRuns({ profile: 'A', records: syscallRun(0x202n, 0x202n), console: '' }, { profile: 'B', records: syscallRun(0x202n, 0x203n), console: '' });
  assert.deepEqual(d.differences.map((x) => [x.field, x.class]), [['rflags', 'flags (check undefined)']]);
  assert.equal(d.exit, 1);
});

test('diffRuns: identical runs differ in nothing; a console difference alone counts', () => {
  const same = diffRuns({ profile: 'A', records: syscallRun(0x202n, 0x202n), console: 'a\nb' }, { profile: 'B', records: syscallRun(0x202n, 0x202n), console: 'a\nb' });
  assert.equal(same.exit, 0);
  const console = diffRuns({ profile: 'A', records: [], console: 'a\nb' }, { profile: 'B', records: [], console: 'a\nc' });
  assert.deepEqual(console.consoleFirstLine, { line: 2, a: 'b', b: 'c' });
  assert.equal(console.exit, 1);
});

for (const guest of ['sysenter', 'linux-entry', 'host-syscalls', 'ring3']) {
  for (const profile of ['native/idt', 'native/idt-amd']) {
    test(`${guest} on ${profile} against itself: nothing differs`, () => {
      const d = diff(guest, profile, profile);
      assert.ok(d.pointsCompared.a > 0, 'the guest resumes ring 3 at least once');
      assert.equal(d.pointsCompared.aligned, d.pointsCompared.a);
      assert.deepEqual(d.differences, []);
      assert.equal(d.consoleDiffers, false);
      assert.equal(d.exit, 0);
    });
  }
}

test('sysenter, native/idt vs native/idt-amd: SYSENTER round trips on Intel only, #UD on AMD (APM Vol. 3 SYSENTER/SYSEXIT; SDM Vol. 2B SYSEXIT #GP at CPL 3)', () => {
  const d = diff('sysenter', 'native/idt', 'native/idt-amd');
  assert.equal(d.exit, 1);
  // SDM: SYSENTER from ring 3 and SYSEXIT back; AMD in long mode has neither.
  assert.ok(d.onlyIn.a.some((p) => p.kind === 'sysenter -> sysexit'));
  assert.ok(!d.onlyIn.b.some((p) => p.kind.startsWith('sysenter')));
  // APM: SYSENTER is #UD in long mode.
  assert.ok(d.onlyIn.b.some((p) => p.kind === 'delivery #6 -> iret'));
  // SYSEXIT at CPL 3: #GP(0) on Intel (SDM), #UD on AMD (APM), at the same instruction.
  const leftBy = d.differences.filter((x) => x.field === 'left by');
  assert.ok(leftBy.some((x) => x.a.value === 'delivery vector 13 error 0x0' && x.b.value === 'delivery vector 6'), JSON.stringify(leftBy));
});

test('linux-entry, native/idt vs native/idt-amd: SYSRET with a non-canonical RCX, SYSENTER and compat SYSCALL in long mode, each explained', () => {
  const d = diff('linux-entry', 'native/idt', 'native/idt-amd');
  assert.equal(d.exit, 1);
  // SYSRET, non-canonical RCX: Intel #GP(0) in ring 0 (SDM Vol. 2B SYSRET), AMD returns to the
  // non-canonical RIP and faults there in ring 3 (APM Vol. 3 SYSRET).
  const rip = d.differences.find((x) => x.field === 'rip' && x.b.means === 'a non-canonical address');
  assert.ok(rip, 'AMD resumes ring 3 at a non-canonical RIP');
  assert.equal(rip.kind, 'syscall -> iret | syscall -> sysret');
  const rcx = d.differences.find((x) => x.field === 'rcx' && x.seq[1] === rip.seq[1]);
  assert.equal(rcx?.b.means, 'the RIP ring 3 resumes at');
  assert.ok(d.onlyIn.b.some((p) => p.kind === 'delivery #13 -> iret' && BigInt(p.leftAt!) === 0x800000000000n));
  // SYSENTER from compatibility mode: enters on Intel, #UD on AMD (APM Vol. 3 SYSENTER).
  const leftBy = d.differences.filter((x) => x.field === 'left by');
  assert.ok(leftBy.some((x) => x.a.value === 'sysenter' && x.b.value === 'delivery vector 6'), JSON.stringify(leftBy));
  // Compatibility-mode SYSCALL: #UD on Intel (SDM Vol. 2B SYSCALL), through IA32_CSTAR on AMD.
  assert.ok(leftBy.some((x) => x.a.value === 'delivery vector 6' && x.b.value === 'syscall'), JSON.stringify(leftBy));
  // What SYSRET after a compat SYSCALL gives back on AMD: RCX = the return address.
  const compat = d.differences.find((x) => x.field === 'rcx' && x.kind === 'delivery #6 -> iret | syscall -> sysret');
  assert.equal(compat?.b.means, 'the RIP ring 3 resumes at');
});

test('ringside diff: bad input is one line and exit 2; --json is one object whose exit is the status', () => {
  const bad: Array<[string[], RegExp]> = [
    [['diff', 'ring3', '--profiles', 'native/idt'], /exactly two profiles/],
    [['diff', 'ring3', '--profiles', 'native/idt,native/idt,native/idt'], /exactly two profiles/],
    [['diff', 'ring3', '--profiles', 'native/idt,native/bogus'], /unknown profile/],
    [['diff', 'ring3'], /--profiles/],
    [['diff', 'ring3', '--profiles', 'native/idt,native/idt', '--points', 'all'], /--points/],
    [['diff', process.execPath, '--profiles', 'native/idt,native/idt-amd'], /^ringside: /],
  ];
  for (const [args, pattern] of bad) {
    const r = ringside(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(r.stdout, '');
  }
  const r = ringside(['diff', 'sysenter', '--profiles', 'native/idt,native/idt-amd', '--json']);
  const d = JSON.parse(r.stdout) as AbiDiff;
  assert.deepEqual(d.profiles, ['native/idt', 'native/idt-amd']);
  assert.equal(r.status, d.exit);
  assert.equal(r.status, 1);
  const same = ringside(['diff', 'ring3', '--profiles', 'native/idt,native/idt', '--points', 'user']);
  assert.equal(same.status, 0, same.stderr);
  assert.match(same.stdout, /nothing the guest could observe differs/);
});
