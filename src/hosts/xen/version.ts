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
// - xen-3.0.4 and xen-3.1.1: the 2007 PV64 SYSCALL path (entry.ts, syscall2007) and the
//   points next to it a guest sees (listed in their `since` entries below); IDT only.

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
  /** The 2007 per-CPU SYSCALL trampoline: 'rel32' (3.0.4: jumps to syscall_enter by a
   *  relative jump, %r11 untouched), 'r11' (3.1.1: 369bafdb1c loads syscall_enter's address
   *  into %r11 and jumps through it, the clobber b28b3c245a fixed); null: today's stubs. */
  readonly trampoline2007: 'rel32' | 'r11' | null;
}

export const XEN_VERSIONS: Readonly<Record<XenVersionName, XenVersion>> = {
  xen: { name: 'xen', tree: 'c447b7308b', fred: true, fredSyscallCompat: true, trampoline2007: null },
  'xen-nocompat': { name: 'xen-nocompat', tree: 'c447b7308b without c5a4b9125b', fred: true, fredSyscallCompat: false, trampoline2007: null },
  'xen-3.1.1': { name: 'xen-3.1.1', tree: 'Xen 3.1.1 (3.1.0-branched with 369bafdb1c\'s trampoline)', fred: false, fredSyscallCompat: false, trampoline2007: 'r11' },
  'xen-3.0.4': { name: 'xen-3.0.4', tree: 'Xen 3.0.4 (3.0.4-branched)', fred: false, fredSyscallCompat: false, trampoline2007: 'rel32' },
};
