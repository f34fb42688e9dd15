// Which Xen the xen host is: today's (c447b7308b) and the variants the seeds talk about, each
// differing from today's only in the points listed here, each with the commit that made it
// (xen-pv-abi.md §3 and §6; docs/architecture.md "Xen's versions").
//
// - xen: c447b7308b. On a FRED CPU it is booted with fred=1 (traps-setup.c: opt_fred; the
//   default is on for AMD only) and delivers events through FRED (entry-fred.ts), with
//   c5a4b9125b ("Provide better SYSCALL backwards compatibility in FRED mode") as committed.
// - xen-nocompat: the same without c5a4b9125b: after a SYSCALL %rcx and %r11 are what the
//   guest had in them (FRED's SYSCALL writes neither), in Xen's frame, in the syscall
//   callback's frame and live after every return.
// - xen-3.0.4 and xen-3.1.1: the 2007 PV64 SYSCALL path (entry.ts) and the points next to
//   it a guest sees, one field each below with the commit that changed it (304 = tag 3.0.4-branched, 310 = tag 3.1.0-branched, the stand-in for
//   3.1.1 apart from its trampoline, which is `b28b3c245a^`'s). IDT only.
//   Deliberate deviations: 3.1.1's tree is not in Xen's git (xen-3.1-testing.hg), so where a
//   later fix may have been backported into it (c461d64b66's DF, d127010888's failsafe
//   fixup) it is modelled as 3.1.0 had it; its XENVER_version / extraversion are inferred.

/** The versions, by host name (the HOST of a HOST/CPU profile). */
export type XenVersionName = 'xen' | 'xen-nocompat' | 'xen-3.1.1' | 'xen-3.0.4';

export interface XenVersion {
  readonly name: XenVersionName;
  /** What it is, for messages: the tree the model follows. */
  readonly tree: string;
  /** Xen knows FRED (28f2d2b1c9 onwards) and is booted with fred=1: FRED mode on a CPU that
   *  enumerates it. */
  readonly fred: boolean;
  /** c5a4b9125b: entry_from_pv writes %rcx/%r11 for a SYSCALL and eretu_exit_to_guest
   *  CMOVs them from the frame when a bounce frame was built (FRED mode only). */
  readonly fredSyscallCompat: boolean;
  /** Point 1. The 2007 per-CPU SYSCALL trampoline: 'rel32' (3.0.4: jumps to syscall_enter
   *  by a relative jump, %r11 untouched: 304 x86_64/traps.c:277-299), 'r11' (3.1.1:
   *  369bafdb1c loads syscall_enter's address into %r11 and jumps through it,
   *  `b28b3c245a^` x86_64/traps.c:292-300; syscall_enter's SAVE_ALL then keeps it as
   *  regs->r11, entry.S:122-128, until b28b3c245a reloaded %r11 from the RFLAGS slot,
   *  entry.S:128); null: today's stubs. regs->r11 is the R11 slot of every bounce frame
   *  built on that SYSCALL's exit (create_bounce_frame, 304 entry.S:291-292). */
  readonly trampoline2007: 'rel32' | 'r11' | null;
  /** Point 2. c461d64b66 (2007-07-03): switch_to_kernel clears DF for the syscall callback.
   *  Before it (304 x86_64/entry.S:28-37, 296-300) the callback runs with the user's DF. */
  readonly syscallClearsDf: boolean;
  /** Point 3. cd75d47348 (2007-10-24, "syscall/sysenter support for 32-bit apps"): the
   *  syscall32 and sysenter callbacks and Xen's SYSENTER MSRs. Before it CALLBACKOP types
   *  3/5/7 are -ENOSYS (304 x86_64/traps.c:346-379, 310 :375-404), a compatibility-mode
   *  SYSCALL reaches the one syscall callback with CS 0xe023 in the frame (304 traps.c:301-331,
   *  entry.S:28-37) and IA32_SYSENTER_CS stays 0, so SYSENTER raises #GP(0) (Intel). */
  readonly syscall32Sysenter: boolean;
  /** Point 4. ca6fcf4321 (2020-06-26, "Inject #UD for missing SYSCALL callbacks"): before it
   *  create_bounce_frame finds the callback address 0 and crashes the domain
   *  (304 x86_64/entry.S:304-306, "domain_crash_sync called from entry.S" :319-320). */
  readonly syscallMissingCallbackUd: boolean;
  /** Point 5. 6b091fa445 (2012-06-12, XSA-7): restore_all_guest checks RIP is canonical
   *  before SYSRET. Before it (304 x86_64/entry.S:40-53) SYSRET ran with a non-canonical
   *  %rcx: #GP in ring 0 on the guest's stack on Intel, which the model refuses to guess. */
  readonly sysretCanonicalCheck: boolean;
  /** Point 6. d9b7ef209a (2016-02-18, "drop failsafe callback invocation from assembly"):
   *  a fault on the exit's IRETQ is re-presented to the guest as that fault. Before it
   *  (304 x86_64/entry.S:57-94, __pre_ex_table FLT1 -> FIX1, __ex_table DBLFLT1 ->
   *  failsafe_callback) it went to the failsafe callback: not modelled (model error). */
  readonly iretFaultReinjected: boolean;
  /** Point 7. The hypercall interface of the day (hypercalls-2007.ts), or null for today's:
   *  XENVER_version major.minor (304/310 common/kernel.c:126-128) and extraversion, and the
   *  sub-op ranges of the 2007 public headers (anything later: -ENOSYS, vm_assist types
   *  above 3: -EINVAL). */
  readonly abi2007: { readonly major: number; readonly minor: number; readonly extraversion: string; readonly tag: '3.0.4-branched' | '3.1.0-branched' } | null;
  /** Point 7 (boot). 6ca4cce4f4 (2007-11-20): the dom0 builder writes start_info.magic
   *  "xen-3.0-x86_64" whatever Xen's version, as libxc did for a domU. Before it
   *  (304 arch/x86/domain_build.c:747-749, 310 :831-834) dom0's magic carried Xen's own
   *  major.minor: "xen-3.1-x86_64" on 3.1.1. */
  readonly dom0MagicFixed: boolean;
}

/** Today's answer to every 2007 point. */
const NOW = {
  syscallClearsDf: true, syscall32Sysenter: true, syscallMissingCallbackUd: true, sysretCanonicalCheck: true,
  iretFaultReinjected: true, abi2007: null, dom0MagicFixed: true,
} as const;
/** Xen before all of them (the 3.0.4 and 3.1 branches). */
const Y2007 = {
  syscallClearsDf: false, syscall32Sysenter: false, syscallMissingCallbackUd: false, sysretCanonicalCheck: false,
  iretFaultReinjected: false, dom0MagicFixed: false,
} as const;

/** The address of syscall_enter that 3.1.1's trampoline leaves in %r11 (point 1). The real
 *  one depends on the build; this one is in 3.1.1's Xen text (XEN_VIRT_START
 *  0xffff828c80000000 plus the 1 MiB link offset, `b28b3c245a^` include/asm-x86/config.h:222
 *  and x86_64/xen.lds.S:19) at offset 0x40040, chosen with bit 18 set: the RFLAGS.AC that
 *  John Levon saw Solaris's user processes get (seed 003). A deliberate, documented value. */
export const SYSCALL_ENTER_2007 = { lo: 0x80140040 | 0, hi: 0xffff828c | 0 };

export const XEN_VERSIONS: Readonly<Record<XenVersionName, XenVersion>> = {
  xen: { name: 'xen', tree: 'c447b7308b', fred: true, fredSyscallCompat: true, trampoline2007: null, ...NOW },
  'xen-nocompat': { name: 'xen-nocompat', tree: 'c447b7308b without c5a4b9125b', fred: true, fredSyscallCompat: false, trampoline2007: null, ...NOW },
  'xen-3.1.1': { name: 'xen-3.1.1', tree: 'Xen 3.1.1 (3.1.0-branched with 369bafdb1c\'s trampoline)', fred: false, fredSyscallCompat: false, trampoline2007: 'r11', ...Y2007,
    abi2007: { major: 3, minor: 1, extraversion: '.1', tag: '3.1.0-branched' } },
  'xen-3.0.4': { name: 'xen-3.0.4', tree: 'Xen 3.0.4 (3.0.4-branched)', fred: false, fredSyscallCompat: false, trampoline2007: 'rel32', ...Y2007,
    abi2007: { major: 3, minor: 0, extraversion: '.4', tag: '3.0.4-branched' } },
};
