// What a guest expects of a run on a profile where it cannot see the difference itself.
//
// A guest checks what the architecture (or Xen's source) says, choosing by what it can observe
// — the CPU vendor, the Xen version, dom0 or domU. Some profiles differ in ways a guest cannot
// see: Xen in FRED mode is IDT-mode Xen to a PV guest's CPUID, and xen-nocompat is xen without
// one patch. There the guest's guest.json says, per profile, the verdict it expects and the
// console lines that make it so (each with the source lines in the guest's prose):
//
//   "expect": { "xen/fred": { "verdict": "failure", "why": "...",
//                             "lines": ["^FAIL: \\S+\\.ss: 0x[0-9a-f]+e02b, expected 0xe02b$"] } }
//
// A run meets it when its verdict is that verdict, every expected line (a regular expression)
// matches some console line, and every line the guest marks as a finding (FAIL:) matches an
// expected one: a difference nobody expected fails, and so does one that disappeared. Without
// an entry the guest expects success (or skip).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { guestsDir } from './build.js';

export interface Expectation {
  verdict: string;
  lines: RegExp[];
  /** One sentence: why the verdict differs here (the guest's prose has the source). */
  why: string;
}

const VERDICTS = ['success', 'skip', 'failure', 'error', 'crash'];

/** The guest's expectation on `profile`, or null (success or skip expected). */
export function guestExpectation(guest: string, profile: string): Expectation | null {
  const file = join(guestsDir(), guest, 'guest.json');
  if (!existsSync(file)) return null;
  const json = JSON.parse(readFileSync(file, 'utf8')) as { expect?: unknown };
  if (json.expect === undefined) return null;
  const bad = (why: string): never => { throw new Error(`${file}: "expect": ${why}`); };
  if (typeof json.expect !== 'object' || json.expect === null || Array.isArray(json.expect)) bad('must map profile names to expectations');
  const e = (json.expect as Record<string, unknown>)[profile];
  if (e === undefined) return null;
  const { verdict, lines, why } = e as { verdict?: unknown; lines?: unknown; why?: unknown };
  if (typeof verdict !== 'string' || !VERDICTS.includes(verdict)) bad(`${profile}: "verdict" must be one of ${VERDICTS.join(', ')}`);
  if (!Array.isArray(lines) || !lines.every((l) => typeof l === 'string')) bad(`${profile}: "lines" must be a list of regular expressions`);
  if (typeof why !== 'string' || why === '') bad(`${profile}: "why" must say why`);
  return { verdict: verdict as string, lines: (lines as string[]).map((l) => new RegExp(l)), why: why as string };
}

/** What is wrong with a run against an expectation (null: success or skip), one line each;
 *  empty when it met it. */
export function unmetExpectation(e: Expectation | null, verdict: string, console: string): string[] {
  const lines = console.split('\n');
  const findings = lines.filter((l) => l.startsWith('FAIL'));
  if (e === null) {
    return verdict === 'success' || verdict === 'skip' ? [] : [`verdict ${verdict}, expected success${findings.length > 0 ? `: ${findings.slice(0, 5).join('; ')}` : ''}`];
  }
  const problems: string[] = [];
  if (verdict !== e.verdict) problems.push(`verdict ${verdict}, expected ${e.verdict} (${e.why})`);
  for (const re of e.lines) if (!lines.some((l) => re.test(l))) problems.push(`expected line gone: /${re.source}/`);
  for (const f of findings) if (!e.lines.some((re) => re.test(f))) problems.push(`unexpected: ${f}`);
  return problems;
}
