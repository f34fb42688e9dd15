// Plain-text tables for the terminal.

import type { ObservationsWord } from '../lab/diff.js';
import { meetsExpectation } from '../lab/verdict.js';
import { NOT_APPLICABLE } from './json.js';

/** Left-aligned columns separated by two spaces, a dashed rule under the header. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd() + '\n';
  return line(header) + line(widths.map((w) => '-'.repeat(w))) + rows.map(line).join('');
}

export interface MatrixCell {
  verdict: string;
  reason: string;
  /** What the guest states it expects on this profile when that is not success or skip
   *  (guest.json "expect"): its verdict and why. */
  expected?: { verdict: string; why: string };
  /** Whether the run met what the image expects; absent: success or skip expected. */
  met?: boolean;
}

/** Whether a cell's run met what its image expects. */
export function cellMet(c: MatrixCell): boolean {
  return c.met ?? meetsExpectation(c.verdict);
}

export interface MatrixRow {
  /** Guest name, or the image file's base name. */
  name: string;
  cells: MatrixCell[];
  /** Whether the runs' observations differ from the first profile's (lab/diff.ts RowObservations);
   *  null: not compared. */
  observations: ObservationsWord;
  /** The profiles whose observations differ from the first profile's. */
  observationsDiffer: string[];
}

/**
 * The matrix verdict table: one row per guest or image, one column per profile (`-` where the
 * profile's host does not boot the image), a last column saying whether the observations
 * differ (`same`, `differs`, `-`), then one line for every run that did not pass, with its
 * reason, and for every row whose observations differ. `total` is the number of runs planned;
 * when the matrix was interrupted, the last row may be short and `interrupted` says by what.
 */
export function formatMatrix(profiles: string[], rows: MatrixRow[], opts: { total?: number; interrupted?: string } = {}): string {
  const shown = (v: string): string => (v === NOT_APPLICABLE ? '-' : v);
  let out = formatTable(
    ['guest', ...profiles, 'observations'],
    rows.map((r) => [r.name, ...profiles.map((_, i) => shown(r.cells[i]?.verdict ?? '')), r.observations ?? '-']),
  );
  const notes: string[] = [];
  for (const r of rows) {
    r.cells.forEach((c, i) => {
      if (c.verdict === NOT_APPLICABLE) return;
      if (!cellMet(c)) notes.push(`${r.name} on ${profiles[i]}: ${c.verdict}${c.expected ? ` (expected ${c.expected.verdict})` : ''}: ${c.reason}`);
      else if (c.expected) notes.push(`${r.name} on ${profiles[i]}: ${c.verdict}, as its guest.json expects: ${c.expected.why}`);
    });
    if (r.observations === 'differs') {
      // The row's observations are compared with its first run's profile.
      const first = profiles[r.cells.findIndex((c) => c.verdict !== NOT_APPLICABLE)];
      notes.push(`${r.name}: observations on ${r.observationsDiffer.join(', ')} differ from ${first} (ringside diff shows where)`);
    }
  }
  const done = rows.reduce((n, r) => n + r.cells.filter((c) => c.verdict !== NOT_APPLICABLE).length, 0);
  const total = opts.total ?? done;
  const passed = rows.reduce((n, r) => n + r.cells.filter((c) => c.verdict !== NOT_APPLICABLE && cellMet(c)).length, 0);
  if (notes.length > 0) out += '\n' + notes.map((n) => n + '\n').join('');
  out += `\n${passed} of ${total} as expected (success or skip, or what the guest's guest.json states)`;
  if (opts.interrupted !== undefined) out += `; interrupted by ${opts.interrupted} after ${done} of ${total} runs`;
  return out + '\n';
}
