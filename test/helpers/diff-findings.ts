// What a diff found, one line per finding, for tests that pin a diff's outcome: each field
// difference by class, kind and field; the points only one run has, by kind; the console.

import type { AbiDiff } from '../../src/report/abi-diff.js';

export function diffFindings(d: AbiDiff): string[] {
  const out = new Set<string>();
  for (const x of d.differences) out.add(`${x.class}: ${x.kind}: ${x.field}`);
  for (const side of ['a', 'b'] as const) for (const p of d.onlyIn[side]) out.add(`only in ${d.profiles[side === 'a' ? 0 : 1]}: ${p.kind}`);
  if (d.consoleDiffers) out.add('console');
  return [...out].sort();
}
