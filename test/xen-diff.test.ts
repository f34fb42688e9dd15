// The ABI diff on hypervisor profiles (issue 19, point 7; README, "ringside diff";
// docs/architecture.md, "The diff on hypervisor hosts"): on xen profiles every return from
// Xen's ring 0 to the PV guest, kernel or user, is a point; `--points user` keeps those where
// guest user code resumes; the guest memory Xen writes on the way (bounce frames) is compared.
// xen/idt against xen/idt-amd, every PV guest as dom0 and as domU, must find exactly the
// vendor differences listed and explained below.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGuest, guestDomains, guestHosts, listGuests } from '../src/guest/build.js';
import { readSymbols } from '../src/guest/elf-symbols.js';
import { readImageFile } from '../src/lab/image-file.js';
import { compareRuns, diffImage, type ObservedRun } from '../src/lab/diff.js';
import { runImage } from '../src/lab/run.js';
import { observationPoints } from '../src/report/abi-diff.js';
import type { TransitionRecord } from '../src/cpu/transition.js';
import { BadInput } from '../src/machine/errors.js';
import { diffFindings } from './helpers/diff-findings.js';

/** pv-timer's waits are virtual time, which the retired-instruction count carries. */
const MAX_INSNS = 60_000_000;
const XEN = ['xen/idt', 'xen/idt-amd'];
/** RFLAGS.AF (SDM Vol. 1 §3.4.3.1). */
const AF = 0x10n;
/** __HYPERVISOR_mmuext_op (Xen's public/xen.h), and the size of a hypercall-page slot (one
 *  32-byte stub per hypercall number, pv/hypercall.c). */
const SLOT = 32;

const findings = diffFindings;

/**
 * What xen/idt against xen/idt-amd must find on every PV guest, dom0 and domU alike, and why.
 *
 * - libpv's pv_setup computes pv_mfn(pt_base) with `shr $12` and then makes
 *   HYPERVISOR_mmuext_op(MMUEXT_NEW_USER_BASEPTR); a non-zero shift count leaves AF undefined
 *   (SDM Vol. 2B SAL/SAR/SHL/SHR, "Flags Affected"), and the model's vendor tables differ there
 *   (docs/architecture.md, "Vendor flavours and undefined values"). The hypercall's SYSCALL copies
 *   RFLAGS into R11 and Xen returns by SYSRET with R11 = the guest's flags (entry.S lstar_enter
 *   -> restore_all_guest: `andl $~(X86_EFLAGS_IOPL|X86_EFLAGS_VM), %r11d; orl $X86_EFLAGS_IF`),
 *   so the guest kernel resumes with the AF it left with: the vendor class, not counted. A guest
 *   that shifts before another hypercall (pv_mfn before grant_table_op, vcpu_op...) shows the
 *   same at that hypercall's return.
 *
 * Nothing else differs, and that is explained too: Xen's own paths do not depend on the vendor
 * where a 64-bit PV guest can see it. SYSRET to a non-canonical RIP, the one SYSRET difference
 * a 64-bit guest could see (SDM SYSRET #GP(0) at CPL 0 vs APM), never happens: restore_all_guest
 * checks RIP before choosing SYSRET and leaves by IRET otherwise (exit.ts; Xen's CVE-2012-0217
 * fix). AMD's SYSRET keeps SS's hidden attributes (APM Vol. 3 SYSRET), which a 64-bit guest
 * cannot observe (SDM Vol. 3A §3.4.4: SS's attributes are not checked in 64-bit mode). The
 * guests that use SYSENTER, the vendor string or 32-bit user code are held to VENDOR_PATHS.
 */
const EXPECTED = [
  'undefined, vendor table: kernel syscall -> sysret to kernel: r11',
  'undefined, vendor table: kernel syscall -> sysret to kernel: rflags',
];

function observed(image: string, profile: string, dom0: boolean): ObservedRun {
  const records: TransitionRecord[] = [];
  const result = runImage(image, { profile, dom0, maxInsns: MAX_INSNS, trace: (r) => records.push(r) });
  assert.equal(result.verdict, 'success', `${profile}: ${result.reason}`);
  return { result, records };
}

/**
 * pv-sysenter is about the vendor: it reads the vendor string with the forced-emulation CPUID
 * and takes SYSENTER and compatibility-mode SYSCALL from user mode, so the diff must find, by
 * itself, exactly these differences (and the AF one above):
 * - the forced CPUID's leaf 0 (emulate_forced_invalid_op -> guest_cpuid: Xen's policy keeps the
 *   host's vendor string): RBX, RCX, RDX of "GenuineIntel" against "AuthenticAMD", where the
 *   guest kernel resumes after the #UD Xen emulated;
 * - SYSENTER in 64-bit user mode (three times): on Intel it enters Xen's sysenter_entry, which
 *   bounces to the sysenter callback or, with none registered, raises #GP(0) (entry.S); on AMD
 *   the CPU raises #UD itself (APM Vol. 3 SYSENTER: #UD in long mode), bounced as #UD
 *   (do_invalid_op);
 * - SYSCALL from compatibility mode (twice): on Intel the CPU raises #UD (SDM SYSCALL: #UD
 *   outside 64-bit mode), on AMD it enters Xen's cstar_enter and the syscall32 callback or,
 *   with none, Xen's #UD at the SYSCALL (switch_to_kernel).
 * Everything else that differs follows from these paths and is not checked field by field.
 */
const VENDOR_PATHS: Record<string, string[]> = {
  'pv-sysenter': [
    'user_sysenter+0x31 sysenter: sysenter / delivery vector 6',
    'user_sysenter+0x31 sysenter: sysenter / delivery vector 6',
    'user_sysenter+0x31 sysenter: sysenter / delivery vector 6',
    'user_compat_syscall+0x2e syscall: delivery vector 6 / syscall',
    'user_compat_syscall+0x2e syscall: delivery vector 6 / syscall',
  ],
};

for (const guest of listGuests('xen').filter((g) => VENDOR_PATHS[g] !== undefined)) {
  for (const dom0 of [true, false].filter((d) => guestDomains(guest).includes(d ? 'dom0' : 'domU'))) {
    test(`${guest} (${dom0 ? 'dom0' : 'domU'}): xen/idt against xen/idt-amd finds the vendor's paths`, () => {
      const { diff: d, runs } = diffImage(buildGuest(guest), { profiles: XEN, dom0, maxInsns: MAX_INSNS });
      for (const r of runs) assert.equal(r.verdict, 'success', `${r.profile}: ${r.reason}`);
      assert.equal(d.exit, 1);
      // The first difference: the vendor string from the forced CPUID.
      const first = d.first?.difference;
      assert.equal(first?.kind, 'kernel delivery #6 -> iret to kernel');
      const vendor = (field: string): string[] => {
        const x = d.differences.find((y) => y.kind === 'kernel delivery #6 -> iret to kernel' && y.field === field)!;
        return [x.a.value, x.b.value].map((v) => Buffer.from(BigInt(v).toString(16).padStart(8, '0'), 'hex').reverse().toString('latin1'));
      };
      assert.deepEqual([vendor('rbx'), vendor('rdx'), vendor('rcx')].map((p) => p.join('|')), ['Genu|Auth', 'ineI|enti', 'ntel|cAMD']);
      assert.deepEqual(d.handledDifferently.map((h) => `${h.instruction?.symbol} ${h.instruction?.text}: ${h.a.leftBy} / ${h.b.leftBy}`), VENDOR_PATHS[guest]);
    });
  }
}

/**
 * pv-privop reads IA32_MCG_CAP through Xen's RDMSR emulation, which answers with the vCPU's
 * virtual MCE capabilities, chosen by vendor (arch/x86/cpu/mcheck/vmce.c, vmce_init_vcpu):
 * INTEL_GUEST_MCG_CAP = MCG_SER_P | MCG_TES_P | MCG_CMCI_P | 2 banks (0x1000c02) on Intel,
 * AMD_GUEST_MCG_CAP = the 2 banks alone on AMD. The diff must find exactly that value in %rax
 * where the guest kernel resumes after the RDMSR Xen emulated (a #GP bounced to Xen and
 * returned to by IRET), besides the AF difference every guest shows.
 */
const VENDOR_VALUES: Record<string, { field: string; idt: string; amd: string }> = {
  'pv-privop': { field: 'kernel delivery #13 -> iret to kernel: rax', idt: '0x0000000001000c02', amd: '0x0000000000000002' },
};

for (const guest of Object.keys(VENDOR_VALUES)) {
  for (const dom0 of [true, false]) {
    test(`${guest} (${dom0 ? 'dom0' : 'domU'}): xen/idt against xen/idt-amd finds Xen's vendor-chosen MCG_CAP`, () => {
      const { diff: d, runs } = diffImage(buildGuest(guest), { profiles: XEN, dom0, maxInsns: MAX_INSNS });
      for (const r of runs) assert.equal(r.verdict, 'success', `${r.profile}: ${r.reason}`);
      const want = VENDOR_VALUES[guest];
      assert.deepEqual(findings(d), [`abi: ${want.field}`, ...EXPECTED]);
      const x = d.differences.find((y) => `${y.kind}: ${y.field}` === want.field)!;
      assert.deepEqual([x.a.value, x.b.value], [want.idt, want.amd]);
      assert.equal(d.exit, 1);
    });
  }
}

// A guest that boots natively too (linux-entry) runs user programs that read the vendor
// themselves; test/linux-pv.test.ts holds its diffs.
const pvOnly = (g: string): boolean => !guestHosts(g).includes('native');

for (const guest of listGuests('xen').filter((g) => pvOnly(g) && VENDOR_PATHS[g] === undefined && VENDOR_VALUES[g] === undefined)) {
  for (const dom0 of [true, false].filter((d) => guestDomains(guest).includes(d ? 'dom0' : 'domU'))) {
    test(`${guest} (${dom0 ? 'dom0' : 'domU'}): xen/idt against xen/idt-amd finds exactly the explained differences`, () => {
      const image = buildGuest(guest);
      const { diff: d, runs } = diffImage(image, { profiles: XEN, dom0, maxInsns: MAX_INSNS });
      for (const r of runs) assert.equal(r.verdict, 'success', `${r.profile}: ${r.reason}`);
      assert.equal(d.observed, 'guest code');
      assert.ok(d.pointsCompared.aligned > 0 && d.pointsCompared.aligned === d.pointsCompared.a, JSON.stringify(d.pointsCompared));
      assert.deepEqual(findings(d), EXPECTED);
      assert.equal(d.exit, 0);
      // The explanation holds: AF alone differs, at the return from mmuext_op, in flags the
      // guest kernel left with.
      const symbols = readSymbols(readImageFile(image));
      for (const x of d.differences) {
        assert.equal(BigInt(x.a.value) ^ BigInt(x.b.value), AF, x.field);
        assert.match(x.a.means ?? '', /^(RFLAGS before the SYSCALL|unchanged since the user left)$/);
        assert.equal(x.a.means, x.b.means);
        const at = symbols.containing(BigInt(x.rip[0]));
        assert.equal(at?.name, 'hypercall_page', `resumes at ${x.rip[0]}`);
        // At the return of a hypercall: after a slot's SYSCALL (push %rcx; push %r11;
        // mov $nr, %eax; syscall: 10 bytes in, pv_ring3_init_hypercall_page). libpv's own one
        // is the NEW_USER_BASEPTR call after pv_mfn's shift; a guest may shift before any other.
        assert.equal((BigInt(x.rip[0]) - at!.address) % BigInt(SLOT), 10n, `resumes at ${x.rip[0]}`);
      }
    });
  }
}

test('pv-syscall: a bounce frame Xen writes into the guest is observed, word by word', () => {
  const image = buildGuest('pv-syscall');
  const a = observed(image, 'xen/idt', false);
  assert.equal(compareRuns(a, a).exit, 0);
  // The syscall callback's frame: create_bounce_frame writes { RCX, R11, RIP, CS, RFLAGS, RSP,
  // SS } (entry.S); change its RFLAGS word in a copy and the diff must name that word.
  const records = structuredClone(a.records) as TransitionRecord[];
  const bounce = records.find((r) => r.hostWrites !== undefined && r.guestMode === 'kernel' && r.annotation === 'host:lstar_enter');
  assert.ok(bounce !== undefined, 'no bounce to the syscall callback with a frame written');
  assert.equal(bounce.hostWrites![0].bytes.length, 7 * 8);
  bounce.hostWrites![0].bytes[4 * 8] ^= 0x01; // RFLAGS.CF
  const d = compareRuns(a, { result: a.result, records });
  assert.deepEqual(d.differences.map((x) => [x.class, x.kind, x.field]), [['abi', 'user syscall -> sysret to kernel', 'wrote[0]+0x20']]);
  assert.equal(d.exit, 1);
});

test('pv-syscall: --points user keeps the points where guest user code resumes, each left by user code', () => {
  const { records } = observed(buildGuest('pv-syscall'), 'xen/idt', false);
  const all = observationPoints(records, 'all');
  const user = observationPoints(records, 'user');
  assert.ok(user.length > 0 && user.length < all.length, `${user.length} of ${all.length}`);
  assert.ok(all.some((p) => p.resume.guestMode === 'kernel'));
  for (const p of user) {
    assert.equal(p.resume.guestMode, 'user');
    assert.equal(p.resume.after.cpl, 3);
    // The first entry to user mode has no user step before it.
    if (p.leave !== null) assert.equal(p.leave.guestMode, 'user');
  }
  // The user's SYSCALLs are answered in user mode after the kernel's callback and its
  // HYPERVISOR_iret: the user point's leave is the user's SYSCALL, not the kernel's iret.
  assert.ok(user.some((p) => p.leave?.kind === 'syscall' && p.resume.annotation === 'host:lstar_enter'));
  const d = diffImage(buildGuest('pv-syscall'), { profiles: XEN, points: 'user', maxInsns: MAX_INSNS }).diff;
  assert.equal(d.observed, 'guest user code');
  assert.equal(d.pointsCompared.a, user.length);
  assert.equal(d.exit, 0);
});

test('a native and a xen profile are compared only at --points user', () => {
  assert.throws(() => diffImage(buildGuest('pv-segbase'), { profiles: ['native/idt', 'xen/idt'] }), (e: unknown) => e instanceof BadInput && /--points user/.test(e.message));
});
