// The ABI diff (issue 16, points 3 and 4; README, "ringside diff"): a profile
// against itself observes nothing different, and native/idt against native/idt-amd finds the
// vendor differences the SDM and the APM document, by itself, each explained. The alignment
// and the explanations are also checked on hand-made records.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGuest, listGuests } from '../src/guest/build.js';
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
    cpl, mode: '64-bit', codeSize: 64, registers, undefinedFlags: [], statusLoaded: false,
    bases: { es: zero, cs: zero, ss: zero, ds: zero, fs: zero, gs: zero },
    msrs: { efer: zero, star: zero, lstar: zero, cstar: zero, fmask: zero, kernelGsBase: zero, sysenterCs: zero, sysenterEsp: zero, sysenterEip: zero },
  };
}

function record(seq: number, kind: TransitionRecord['kind'], before: TransitionSide, after: TransitionSide): TransitionRecord {
  return { seq, icount: seq, kind, vector: null, source: null, fredType: null, errorCode: null, annotation: null, before, after, frame: null, code: null };
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

/** A user that left ring 3 by SYSCALL with RFLAGS `userFlags`, of which `undefinedFlags` its last
 *  flag-writing instruction left undefined; SYSRET gives them back in R11 and RFLAGS. */
function flagsRun(userFlags: bigint, undefinedFlags: string[]): TransitionRecord[] {
  const user = { rip: 0x401000n, rflags: userFlags };
  const before = { ...side(3, user), undefinedFlags };
  return [
    record(1, 'syscall', before, side(0, { rip: 0xffffffff81000000n, rcx: 0x401002n, r11: userFlags })),
    record(2, 'sysret', side(0, { rip: 0xffffffff81000040n, rcx: 0x401002n, r11: userFlags }), side(3, { ...user, rip: 0x401002n, rcx: 0x401002n, r11: userFlags })),
  ];
}

test('diffRuns: flags the last flag-writing instruction left undefined in both runs are the vendor class, not counted (SDM Vol. 1 §3.4.3.1)', () => {
  // CF differs (0x203 vs 0x202); MUL, say, left CF..OF but CF, OF defined, so mark CF as undefined for this case.
  const d = diffRuns({ profile: 'A', records: flagsRun(0x202n, ['CF', 'AF']), console: '' }, { profile: 'B', records: flagsRun(0x203n, ['CF']), console: '' });
  assert.deepEqual(d.differences.map((x) => [x.field, x.class]), [['r11', 'undefined, vendor table'], ['rflags', 'undefined, vendor table']]);
  assert.equal(d.exit, 0);
  assert.equal(d.first, null);
});

test('diffRuns: a flag difference that is defined in either run counts', () => {
  // CF undefined only in A: B's CF was defined, so the runs did not execute the same thing.
  const oneSide = diffRuns({ profile: 'A', records: flagsRun(0x202n, ['CF']), console: '' }, { profile: 'B', records: flagsRun(0x203n, []), console: '' });
  assert.deepEqual(oneSide.differences.map((x) => [x.field, x.class]), [['r11', 'diverged earlier'], ['rflags', 'diverged earlier']]);
  assert.equal(oneSide.exit, 1);
  // ZF differs, only CF is undefined.
  const otherBit = diffRuns({ profile: 'A', records: flagsRun(0x202n, ['CF']), console: '' }, { profile: 'B', records: flagsRun(0x242n, ['CF']), console: '' });
  assert.equal(otherBit.exit, 1);
  // The kernel returned different flags than the user left with: an ABI difference even within CF.
  const b = flagsRun(0x202n, ['CF']);
  b[1].after.registers.rflags = '0x0000000000000203';
  const kernel = diffRuns({ profile: 'A', records: flagsRun(0x202n, ['CF']), console: '' }, { profile: 'B', records: b, console: '' });
  assert.deepEqual(kernel.differences.map((x) => [x.field, x.class]), [['rflags', 'abi']]);
});

test('diffRuns: identical runs differ in nothing; a console difference alone counts', () => {
  const same = diffRuns({ profile: 'A', records: syscallRun(0x202n, 0x202n), console: 'a\nb' }, { profile: 'B', records: syscallRun(0x202n, 0x202n), console: 'a\nb' });
  assert.equal(same.exit, 0);
  const console = diffRuns({ profile: 'A', records: [], console: 'a\nb' }, { profile: 'B', records: [], console: 'a\nc' });
  assert.deepEqual(console.consoleFirstLine, { line: 2, a: 'b', b: 'c' });
  assert.equal(console.exit, 1);
});

/** What a diff found, one line per finding: each counted field difference by class, kind and
 *  field; a user instruction handled differently once, by its instruction and both outcomes
 *  (its fields follow from that); points only one run has, by kind; the console. 'diverged
 *  earlier' differences are consequences and are checked for order instead. */
function findings(d: AbiDiff): string[] {
  const handledAt = new Set(d.handledDifferently.map((h) => h.seq.join('/')));
  const out = new Set<string>();
  for (const h of d.handledDifferently) out.add(`handled differently: ${h.instruction?.text ?? '?'}: ${h.a.leftBy} | ${h.b.leftBy}`);
  for (const x of d.differences) {
    if (x.class === 'diverged earlier' || handledAt.has(x.seq.join('/'))) continue;
    out.add(`${x.class}: ${x.kind}: ${x.field}`);
  }
  for (const side of ['a', 'b'] as const) for (const p of d.onlyIn[side]) out.add(`only in ${d.profiles[side === 'a' ? 0 : 1]}: ${p.kind}`);
  if (d.consoleDiffers) out.add('console');
  return [...out].sort();
}

/**
 * native/idt against native/idt-amd, every bundled guest: what the diff must find by itself
 * (issue 16, point 4). A guest not named here must show nothing. Why each is expected:
 * - host-syscalls: DIV leaves every status flag undefined (SDM DIV); SYSCALL/SYSRET carry them
 *   back to the user: the vendor class, not counted.
 * - sysenter: SYSENTER/SYSEXIT in long mode exist on Intel only (SDM SYSENTER; APM Vol. 3:
 *   #UD); SYSEXIT at CPL 3 is #GP(0) on Intel, #UD on AMD; the kernel starts its user program
 *   by vendor (console).
 * - linux-entry: SYSRET to a non-canonical RCX is #GP(0) at CPL 0 on Intel, returns and
 *   faults at CPL 3 on AMD (SDM SYSRET; APM SYSRET); SYSENTER from compatibility mode enters on
 *   Intel, #UD on AMD; compatibility-mode SYSCALL is #UD on Intel, enters through CSTAR on
 *   AMD; AMD's SYSRET leaves SS's hidden attributes (a 32-bit stack access in compatibility
 *   mode then takes #SS); the single-steps of the SYSENTER path exist on Intel only.
 * - breakpoints, control-regs, descriptor-insns, nmi, paging32: ring-0 checks with vendor
 *   branches (console only; no ring-3 point differs).
 */
const EXPECTED: Record<string, string[]> = {
  'host-syscalls': ['undefined, vendor table: syscall -> sysret: r11', 'undefined, vendor table: syscall -> sysret: rflags'],
  sysenter: [
    'abi: start -> iret: rflags',
    'abi: start -> iret: rip',
    'console',
    'handled differently: sysexit: delivery vector 13 error 0x0 | delivery vector 6',
    'handled differently: sysexitq: delivery vector 13 error 0x0 | delivery vector 6',
    'only in native/idt-amd: delivery #128 -> iret',
    'only in native/idt-amd: delivery #6 -> iret',
    'only in native/idt: delivery #128 -> iret',
    'only in native/idt: sysenter -> sysexit',
  ],
  'linux-entry': [
    'abi: syscall -> iret | syscall -> sysret: r11',
    'abi: syscall -> iret | syscall -> sysret: rcx',
    'abi: syscall -> iret | syscall -> sysret: rdi',
    'abi: syscall -> iret | syscall -> sysret: rip',
    'abi: syscall -> iret | syscall -> sysret: rsi',
    'abi: syscall -> iret | syscall -> sysret: rsp',
    // R11 = RFLAGS at a write() after the vendors' lines differ: PF alone, which the user
    // code's arithmetic on a vendor-dependent line leaves (the explanation picks "unchanged"
    // on one side because R11 already held that value).
    'abi: syscall -> sysret: r11',
    'console',
    'handled differently: syscall: delivery vector 6 | syscall',
    'handled differently: sysenter: sysenter | delivery vector 6',
    'only in native/idt-amd: delivery #12 -> iret',
    'only in native/idt-amd: delivery #13 -> iret',
    'only in native/idt: delivery #1 -> iret',
    'only in native/idt: syscall -> sysret',
  ],
  breakpoints: ['console'],
  'control-regs': ['console'],
  'descriptor-insns': ['console'],
  nmi: ['console'],
  paging32: ['console'],
};

for (const guest of listGuests('native')) {
  test(`${guest}: against itself nothing differs, on native/idt and on native/idt-amd`, () => {
    for (const profile of ['native/idt', 'native/idt-amd']) {
      const d = diff(guest, profile, profile);
      assert.equal(d.pointsCompared.aligned, d.pointsCompared.a, profile);
      assert.deepEqual(d.differences, [], profile);
      assert.equal(d.consoleDiffers, false, profile);
      assert.equal(d.exit, 0, profile);
    }
  });

  test(`${guest}: native/idt against native/idt-amd finds exactly the expected differences`, () => {
    const d = diff(guest, 'native/idt', 'native/idt-amd');
    assert.deepEqual(findings(d), [...(EXPECTED[guest] ?? [])].sort());
    assert.equal(d.exit, findings(d).every((f) => f.startsWith('undefined, vendor table')) ? 0 : 1);
    // A consequence follows its cause: nothing diverges before the first counted difference.
    const first = d.first?.difference?.seq[0] ?? d.first?.onlyIn?.point.seq ?? Infinity;
    for (const x of d.differences.filter((x) => x.class === 'diverged earlier')) assert.ok(x.seq[0] > first, JSON.stringify(x));
  });
}

/**
 * native/idt against native/fred, every bundled guest (issue 17, point 7): what a user program
 * can see of FRED. Guests that never set CR4.FRED run the same on both (FRED is only
 * enumerated); the Linux-style kernel enables it, and then:
 * - SYSCALL changes no register (SDM SYSCALL, CR4.FRED = 1: FRED event delivery): RCX and R11
 *   keep the user's values instead of the return RIP and RFLAGS;
 * - ERETU loads CS and SS only, so the kernel's ES/DS/FS/GS selectors reach user mode, where
 *   IRET nulls the ones the user may not use (SDM IRET "Operation", RETURN-TO-OUTER-PRIVILEGE);
 * - the compat entries push the user's R8-R15 (IDT: zeroed by the SYSENTER entry);
 * - ERETU pends a single-step #DB after SYSCALL, SYSENTER and INT n with TF (SDM ERETU), so more
 *   single-step traps; the programs that need SYSRET do not run (SDM SYSRET: #UD under FRED).
 */
const EXPECTED_FRED: Record<string, string[]> = {
  'linux-entry': [
    'abi: start -> iret | start -> eretu: ds',
    'abi: start -> iret | start -> eretu: es',
    'abi: start -> iret | start -> eretu: fs',
    'abi: start -> iret | start -> eretu: gs',
    'abi: syscall -> iret | syscall -> eretu: r11',
    'abi: syscall -> iret | syscall -> eretu: rcx',
    'abi: syscall -> sysret | syscall -> eretu: r11',
    'abi: syscall -> sysret | syscall -> eretu: rcx',
    'abi: sysenter -> iret | sysenter -> eretu: r10',
    'abi: sysenter -> iret | sysenter -> eretu: r11',
    'abi: sysenter -> iret | sysenter -> eretu: r9',
    'abi: sysenter -> sysret | sysenter -> eretu: r10',
    'abi: sysenter -> sysret | sysenter -> eretu: r11',
    'abi: sysenter -> sysret | sysenter -> eretu: r12',   // the user's R12 (an address), zeroed by the IDT SYSENTER entry
    'abi: sysenter -> sysret | sysenter -> eretu: r9',
    'abi: sysenter -> sysret | sysenter -> eretu: rcx',
    'console',
    'only in native/fred: delivery #1 -> eretu',
    'only in native/idt: delivery #1 -> iret',
    'only in native/idt: syscall -> iret',
    'only in native/idt: syscall -> sysret',
  ],
  // The FRED guest runs its checks only where FRED is enumerated (native/idt: "not enumerated").
  fred: [
    'console',
    'only in native/fred: delivery #1 -> eretu',
    'only in native/fred: delivery #128 -> eretu',
    'only in native/fred: delivery #129 -> eretu',
    'only in native/fred: delivery #13 -> eretu',
    'only in native/fred: delivery #14 -> eretu',
    'only in native/fred: delivery #2 -> eretu',
    'only in native/fred: delivery #3 -> eretu',
    'only in native/fred: delivery #6 -> eretu',
    'only in native/fred: delivery #65 -> eretu',
    'only in native/fred: delivery #8 -> eretu',
    'only in native/fred: start -> eretu',
    'only in native/fred: syscall -> eretu',
    'only in native/fred: sysenter -> eretu',
  ],
};

test('linux-entry, native/idt vs native/fred: RCX and R11 after SYSCALL, each explained (SDM SYSCALL under FRED)', () => {
  const d = diff('linux-entry', 'native/idt', 'native/fred');
  const rcx = d.differences.filter((x) => x.field === 'rcx' && x.kind === 'syscall -> sysret | syscall -> eretu' && x.class === 'abi');
  assert.ok(rcx.length > 0);
  for (const x of rcx) {
    assert.equal(x.a.means, 'RIP after the SYSCALL (the return address)');
    assert.equal(x.b.means, 'unchanged since the user left');
  }
  const r11 = d.differences.filter((x) => x.field === 'r11' && x.kind === 'syscall -> sysret | syscall -> eretu' && x.class === 'abi');
  assert.ok(r11.every((x) => x.a.means === 'RFLAGS before the SYSCALL' && x.b.means === 'unchanged since the user left'), JSON.stringify(r11[0]));
  // ERETU leaves the kernel's data selectors loaded; IRET nulls them (DPL 0 < CPL 3).
  const es = d.differences.find((x) => x.field === 'es' && x.kind.startsWith('start'));
  assert.equal(es?.a.means, 'zero');
  assert.equal(es?.b.means, "the kernel's selector, which the return left loaded");
});

for (const guest of listGuests('native')) {
  test(`${guest}: native/idt against native/fred finds exactly the expected differences`, () => {
    const d = diff(guest, 'native/idt', 'native/fred');
    assert.deepEqual(findings(d), [...(EXPECTED_FRED[guest] ?? [])].sort());
    const first = d.first?.difference?.seq[0] ?? d.first?.onlyIn?.point.seq ?? Infinity;
    for (const x of d.differences.filter((x) => x.class === 'diverged earlier')) assert.ok(x.seq[0] > first, JSON.stringify(x));
  });
}

test('host-syscalls: the flags DIV left undefined come back from SYSRET as each vendor made them, in R11 and RFLAGS', () => {
  const d = diff('host-syscalls', 'native/idt', 'native/idt-amd');
  const r11 = d.differences.find((x) => x.field === 'r11');
  assert.equal(r11?.a.means, 'RFLAGS before the SYSCALL');
  assert.equal(r11?.b.means, 'RFLAGS before the SYSCALL');
  assert.equal(d.first, null);
});

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
  // AMD's SYSRET loads SS's selector only (APM SYSRET): a 32-bit push in compatibility mode
  // then takes #SS; named by the instruction and its symbol.
  const ss = d.onlyIn.b.find((p) => p.kind === 'delivery #12 -> iret');
  assert.equal(ss?.instruction?.symbol, 'test_ss32');
  assert.match(ss?.instruction?.text ?? '', /^push/);
  // The first difference shows the SYSCALL that returned to the non-canonical RIP, in its code.
  const here = d.first?.code.a?.find((l) => l.here);
  assert.equal(here?.text, 'syscall');
  assert.match(here?.symbol ?? '', /^prog_sysret_rip_unsafe\+/);
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
