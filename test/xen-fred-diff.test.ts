// The diff between Xen in IDT mode and Xen in FRED mode, and between FRED mode with and without
// the 2026 SYSCALL compatibility patch (c5a4b9125b), on every PV guest (issue 21, point 5;
// docs/architecture.md, "Xen in FRED mode"). The guests carry no hint: the diff finds each
// difference by itself, this test names its cause from Xen's source (c447b7308b), fails on a
// difference no cause explains, and fails when a cause a guest is known to show disappears.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGuest, guestDomains, guestHosts, listGuests } from '../src/guest/build.js';
import { diffImage } from '../src/lab/diff.js';
import type { AbiDiff, Difference } from '../src/report/abi-diff.js';

/** pv-timer's waits are virtual time, which the retired-instruction count carries. */
const MAX_INSNS = 60_000_000;

/** A cause: which differences it explains, and why (the source lines). */
interface Cause {
  why: string;
  explains(x: Difference): boolean;
}

const word = (field: string): number | null => {
  const m = /^wrote\[\d+\]\+0x([0-9a-f]+)$/.exec(field);
  return m === null ? null : parseInt(m[1], 16);
};
/** A value as a number; null for a word only one side wrote ("(none)"). */
const num = (v: string): bigint | null => (/^0x[0-9a-f]+$/.test(v) ? BigInt(v) : null);
/** The delivery vectors a point's kind names, IDT side then FRED side. */
const vectors = (kind: string): number[] => [...kind.matchAll(/delivery #(\d+)/g)].map((m) => Number(m[1]));

/**
 * xen/idt (a) against xen/fred (b): what stays different with the compatibility patch.
 * Every cause is a line of Xen's source, and each is judged intended or not in
 * docs/architecture.md ("Xen in FRED mode").
 */
const IDT_VS_FRED: Record<string, Cause> = {
  'ss-word': {
    why: 'FRED delivery describes the event in the upper bits of the saved SS (SDM Vol. 3 §8.3); entry_from_pv rewrites ' +
      'ssx only for SYSCALL and SYSENTER (traps.c:2412, 2456) and create_bounce_frame stores the whole quadword ' +
      '(entry.S:576-579), so the SS word of a frame built on an exception, INT n or interrupt carries it',
    explains: (x) => {
      const w = word(x.field);
      if (w !== 0x30 && w !== 0x38) return false;
      const a = num(x.a.value), b = num(x.b.value);
      if (a === null || b === null) return false;
      const v = vectors(x.kind);
      const vector = Number((b >> 32n) & 0xffn);
      return (b & 0xffffn) === a && a !== 0n && (b >> 32n) !== 0n && (v.length === 0 || v[v.length - 1] === vector);
    },
  },
  'syscall-callback-flags': {
    why: 'the syscall callback\'s RFLAGS: IDT mode ANDs the user\'s RFLAGS with the bounce frame\'s address after building ' +
      'the frame (switch_to_kernel, entry.S:46, 64; d2fe9ab304), FRED mode clears DF alone before it (traps.c:2432), so ' +
      'the callback keeps bit 1 and PF and the frame loses DF; c5a4b9125b\'s %r11 is that RFLAGS (entry-fred.S:45)',
    explains: (x) => /^user syscall -> sysret to kernel \| user syscall -> eretu to kernel$/.test(x.kind) && ['r11', 'rflags', 'wrote[0]+0x20'].includes(x.field),
  },
  'carried-r11': {
    why: 'an RFLAGS value an earlier return left in %r11 (syscall-callback-flags, hypercall-return) that the guest ' +
      'still had when Xen wrote a later frame\'s R11 word',
    explains: (x) => {
      const a = num(x.a.value), b = num(x.b.value);
      const rflagsLike = (v: bigint | null): boolean => v !== null && (v & 0x202n) !== 0n && v < 0x400000n;
      return word(x.field) === 8 && rflagsLike(a) && rflagsLike(b);
    },
  },
  'hypercall-return': {
    why: 'returns from hypercalls: HYPERVISOR_iret with VGCF_in_syscall leaves FRED mode through ERETU with %rcx/%r11 of ' +
      'the iret stub\'s SYSCALL (traps.c:2414-2415; FRED entry never sets TRAP_syscall, traps.c:2283, so no CMOV), ' +
      'where IDT mode SYSRETs with the target RIP and RFLAGS (pv/iret.c:89-94, entry.S:235-262); the user\'s DF is lost ' +
      'with the frame\'s (syscall-callback-flags); and an INT n Xen delivers carries the INT\'s RF = 0 rather than the ' +
      'DPL-0 gate\'s #GP fault\'s RF = 1 back to the code the handler returns to',
    explains: (x) => /^kernel syscall -> (sysret|iret) to (user|kernel) \| kernel syscall -> eretu to (user|kernel)$/.test(x.kind) &&
      (['rcx', 'r11', 'rflags'].includes(x.field) || [0, 8].includes(word(x.field) ?? -1)),
  },
  'sysenter-if': {
    why: 'SYSENTER: FRED mode clears IF with VM and never sets it again (traps.c:2458), IDT mode ORs it back (entry.S:400-401): ' +
      'the sysenter callback runs with IF = 0 and c5a4b9125b\'s %r11 says so',
    explains: (x) => /^user sysenter -> /.test(x.kind) && ['r11', 'rflags'].includes(x.field),
  },
  'int80-dpl': {
    why: 'INT $0x80: IDT mode\'s entry_int80 delivers to the trap table ignoring the DPL the guest gave it (entry.S:444-516), ' +
      'FRED mode applies permit_softint like any vector (traps.c:2331-2349): #GP(0x402) at the INT',
    explains: (x) => /^user delivery #128 -> /.test(x.kind),
  },
  'cpu-event': {
    why: 'the CPU raises a different event: INT n through IDT mode\'s DPL-0 gate is #GP, under FRED the software interrupt ' +
      'itself (Xen then raises #GP or delivers it, traps.c:2341-2348); SWAPGS is #GP(0) in ring 3 but #UD whenever ' +
      'CR4.FRED = 1 (SDM SWAPGS)',
    explains: (x) => { const v = vectors(x.kind); return v.length === 2 && v[0] !== v[1]; },
  },
};

/** The causes each guest shows on xen/idt against xen/fred (domU and dom0 alike). */
const IDT_VS_FRED_SHOWN: Record<string, string[]> = {
  'pv-bench': ['syscall-callback-flags', 'hypercall-return'],
  'pv-breakpoints': ['ss-word', 'syscall-callback-flags'],
  'pv-debug': ['ss-word', 'syscall-callback-flags'],
  'pv-exceptions': ['ss-word', 'syscall-callback-flags', 'hypercall-return', 'int80-dpl', 'cpu-event'],
  'pv-grant': ['ss-word'],
  'pv-hypercall-abi': ['hypercall-return'],
  'pv-pagetables': ['ss-word'],
  'pv-privop': ['ss-word', 'syscall-callback-flags', 'cpu-event'],
  'pv-segbase': ['syscall-callback-flags'],
  'pv-syscall': ['syscall-callback-flags', 'hypercall-return'],
  'pv-syscall-r11': ['syscall-callback-flags', 'hypercall-return'],
  'pv-sysenter': ['ss-word', 'syscall-callback-flags', 'sysenter-if'],
  'pv-timer': ['ss-word'],
  'pv-vcpu': ['ss-word', 'syscall-callback-flags'],
  'pv-xsa7': ['ss-word', 'syscall-callback-flags', 'hypercall-return'],
};

/** xen-nocompat/fred (a) against xen/fred (b): exactly what c5a4b9125b changes. */
const NOCOMPAT_VS_FRED: Record<string, Cause> = {
  'live-rcx-r11': {
    why: 'without traps.c:2414-2415 and entry-fred.S:44-45, %rcx and %r11 are what the guest left in them (FRED\'s ' +
      'SYSCALL writes neither), after a hypercall and at every callback, instead of the RIP and RFLAGS',
    explains: (x) => ['rcx', 'r11'].includes(x.field),
  },
  'frame-rcx-r11': {
    why: 'create_bounce_frame writes regs->rcx and regs->r11 into the frame\'s first two words (entry.S:611-614): the ' +
      'user\'s own values without traps.c:2414-2415, where a Linux-style kernel\'s `pop %rcx; pop %r11` wants its ' +
      'return RIP and RFLAGS (seed 000)',
    explains: (x) => word(x.field) === 0 || word(x.field) === 8,
  },
};

/** Without c5a4b9125b, a kernel that returns to user mode at its frame's %rcx word (Solaris's
 *  way, pv-syscall-r11) returns to the user's own %rcx: control flow parts there, and what the
 *  runs do after it is not compared. */
const returnedThroughFrameRcx = (x: Difference): boolean =>
  x.kind === 'kernel syscall -> eretu to user' && x.field === 'rip' && x.b.means === 'rcx before the SYSCALL';

/** Every difference a cause explains; the causes seen; the console and unpaired points only
 *  where the guest states a different verdict for the two profiles. */
function judge(d: AbiDiff, causes: Record<string, Cause>, consoleMayDiffer: boolean): Set<string> {
  const seen = new Set<string>();
  const parted = d.differences.find(returnedThroughFrameRcx);
  if (parted !== undefined) seen.add('returned-through-frame-rcx');
  for (const x of d.differences) {
    if (x.class === 'diverged earlier') continue; // a consequence of an earlier difference
    if (parted !== undefined && x.seq[0] >= parted.seq[0]) continue;
    const hit = Object.keys(causes).find((c) => causes[c].explains(x));
    assert.ok(hit !== undefined, `unexplained: ${x.class}: ${x.kind}: ${x.field}: ${x.a.value} / ${x.b.value}`);
    seen.add(hit);
  }
  if (!consoleMayDiffer) {
    assert.equal(d.consoleDiffers, false, 'console');
    assert.deepEqual([d.onlyIn.a.length, d.onlyIn.b.length], [0, 0], 'points only one run has');
  }
  return seen;
}

// linux-entry, which boots natively too, is held to its own list (test/linux-pv.test.ts).
const guests = listGuests('xen').filter((g) => !guestHosts(g).includes('native'));

for (const guest of guests) {
  for (const dom0 of [true, false].filter((x) => guestDomains(guest).includes(x ? 'dom0' : 'domU'))) {
    const where = dom0 ? 'dom0' : 'domU';
    test(`${guest} (${where}): xen/idt against xen/fred finds exactly the differences Xen's FRED entry explains`, () => {
      const { diff: d, runs } = diffImage(buildGuest(guest), { profiles: ['xen/idt', 'xen/fred'], dom0, maxInsns: MAX_INSNS });
      const consoleMayDiffer = runs[0].verdict !== runs[1].verdict;
      const seen = judge(d, IDT_VS_FRED, consoleMayDiffer);
      // carried-r11 is a consequence whose appearance depends on which registers the guest reuses.
      assert.deepEqual([...seen].filter((c) => c !== 'carried-r11').sort(), [...(IDT_VS_FRED_SHOWN[guest] ?? [])].sort());
      assert.equal(d.exit, seen.size > 0 || consoleMayDiffer ? 1 : 0);
    });

    test(`${guest} (${where}): xen-nocompat/fred against xen/fred finds %rcx/%r11 after SYSCALL, and nothing else`, () => {
      const { diff: d, runs } = diffImage(buildGuest(guest), { profiles: ['xen-nocompat/fred', 'xen/fred'], dom0, maxInsns: MAX_INSNS });
      const seen = judge(d, NOCOMPAT_VS_FRED, runs[0].verdict !== runs[1].verdict || runs[1].verdict !== 'success');
      // Every guest makes hypercalls: the first return from one already differs.
      const hyper = d.differences.find((x) => x.kind === 'kernel syscall -> eretu to kernel' && x.field === 'rcx');
      assert.ok(hyper !== undefined, 'no %rcx difference after a hypercall');
      assert.equal(hyper.a.means, 'unchanged since the user left');
      assert.equal(hyper.b.means, 'the RIP guest code resumes at');
      assert.ok(seen.has('live-rcx-r11'));
      // A guest whose user code makes system calls: the syscall callback's frame.
      const userSyscall = d.differences.find((x) => x.kind === 'user syscall -> eretu to kernel' && x.field === 'wrote[0]+0x00');
      if (userSyscall !== undefined) {
        // The user's own %rcx (the diff names a zero as such).
        assert.match(userSyscall.a.means ?? '', /^(rcx before the SYSCALL|zero)$/);
        assert.ok(seen.has('frame-rcx-r11'));
      }
      assert.equal(d.exit, 1);
    });
  }
}

test('the user-syscall guests show the syscall callback\'s frame difference without c5a4b9125b', () => {
  const { diff: d } = diffImage(buildGuest('pv-syscall'), { profiles: ['xen-nocompat/fred', 'xen/fred'], maxInsns: MAX_INSNS });
  const fields = new Set(d.differences.filter((x) => x.kind === 'user syscall -> eretu to kernel').map((x) => x.field));
  for (const f of ['rcx', 'r11', 'wrote[0]+0x00', 'wrote[0]+0x08']) assert.ok(fields.has(f), f);
});
