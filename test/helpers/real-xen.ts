// How many real-Xen runs a test run makes. Each boots Debian's Xen 4.17 under QEMU TCG (about
// 1.5 s); the suite's own share stays small: every PV guest (the comparison the xen host is
// held to) and a few cases of each other real-Xen test. `npm run test:xen` sets
// RINGSIDE_REAL_XEN=all and runs every case of every real-Xen test.

/** Whether this run makes every real-Xen comparison, not only the everyday subset. */
export function everyRealXenRun(): boolean {
  return process.env.RINGSIDE_REAL_XEN === 'all';
}
