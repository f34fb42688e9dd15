// JSON output (README, "ringside run" and "ringside matrix"). Keys are stable once published: add, don't rename.

import type { RunResult } from '../lab/run.js';
import type { Verdict } from '../lab/verdict.js';

export interface RunJson {
  verdict: Verdict | MatrixOnlyVerdict;
  reason: string;
  exitValue: number | null;
  instructions: number | null;
  transitions: number | null;
  console: string;
  /** Every value a "0x…" hex string, never a JSON number. */
  registers: Record<string, string>;
  profile: string;
  image: string;
}

/** Cells of a matrix that never ran: the image was rejected or its guest did not build, or
 *  the profile's host does not boot that kind of image (NOT_APPLICABLE, shown as `-`). */
export type MatrixOnlyVerdict = 'bad-input' | 'build-failed' | typeof NOT_APPLICABLE;

/** A matrix cell whose profile's host does not boot the image (a native image on a xen profile). */
export const NOT_APPLICABLE = 'not-applicable';

function hexString(v: unknown): string {
  if (typeof v === 'string') return v.startsWith('0x') ? v : `0x${v}`;
  if (typeof v === 'bigint') return `0x${BigInt.asUintN(64, v).toString(16)}`;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return `0x${v.toString(16)}`;
  return String(v);
}

/** The --json object of a run, keys in the documented order. */
export function runToJson(r: RunResult): RunJson {
  const registers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.registers)) registers[k] = hexString(v);
  return {
    verdict: r.verdict,
    reason: r.reason,
    exitValue: r.exitValue,
    instructions: r.instructions,
    transitions: r.transitions,
    console: r.console,
    registers,
    profile: r.profile,
    image: r.image,
  };
}

/** The --json object for a run that produced no result (internal error, rejected image in a matrix). */
export function noRunJson(verdict: Verdict | MatrixOnlyVerdict, reason: string, profile: string, image: string): RunJson {
  return { verdict, reason, exitValue: null, instructions: null, transitions: null, console: '', registers: {}, profile, image };
}

export function toJsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
