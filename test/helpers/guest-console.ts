// Shared by the QEMU tests: building every guest the way the tests run it,
// and comparing two console transcripts under the deviation list.

import { buildGuest, listGuests } from '../../src/guest/build.js';
import type { QemuDeviation } from '../qemu-deviations.js';

/** bench is built small for tests; every other guest as it is. */
export const TEST_DEFINES: Record<string, Record<string, number>> = {
  bench: { BENCH_ITERS: 1000 },
};

export function testGuests(): string[] {
  return listGuests('native');
}

export function buildTestGuest(name: string): string {
  const defines = TEST_DEFINES[name];
  return defines ? buildGuest(name, { defines }) : buildGuest(name);
}

/**
 * Guests whose subject QEMU does not implement, with the SKIP line they print where the
 * feature is not enumerated: under QEMU they must skip exactly so (which checks the guest's
 * own enumeration path), and Ringside's IDT profiles, which do not enumerate it either, must
 * print the same. The feature itself has the specification as its oracle (test/fred.test.ts).
 * - fred: QEMU TCG implements no FRED (its TCG_7_1_EAX_FEATURES lack FRED and LKGS; FRED is
 *   KVM-only there).
 */
export const QEMU_SKIPS: Record<string, string> = {
  fred: 'Test result: SKIP (FRED not enumerated)',
};

export const QEMU_MISSING =
  'qemu-system-x86_64 is not installed: the QEMU oracle tests need it ' +
  '(Debian: apt-get install qemu-system-x86; CI installs it). Not skipping.';

/** A transcript as name -> value: the text after the first ': ' of each `name: value` line. */
export function consoleValues(console: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of console.split('\n')) {
    const at = l.indexOf(': ');
    if (at > 0) m.set(l.slice(0, at), l.slice(at + 2));
  }
  return m;
}

/** The result lines of a transcript (the last one decides: src/lab/verdict.ts). */
export function resultLines(console: string): string[] {
  return console.split('\n').filter((l) => l.startsWith('Test result: '));
}

function splitLine(line: string): { name: string; value: string | null } {
  const i = line.indexOf(': ');
  return i < 0 ? { name: line, value: null } : { name: line.slice(0, i), value: line.slice(i + 2) };
}

/**
 * Compare QEMU's and Ringside's transcripts of one guest line by line.
 * Returns a list of problems (empty: they agree, modulo the deviations).
 */
export function compareTranscripts(
  guest: string,
  qemu: string,
  ringside: string,
  deviations: readonly QemuDeviation[],
  maxProblems = 25,
): string[] {
  const lines = (text: string): string[] => {
    const l = text.split('\n');
    if (l[l.length - 1] === '') l.pop();
    return l;
  };
  const q = lines(qemu);
  const r = lines(ringside);
  const devs = deviations.filter((d) => d.guest === guest);
  const used = new Set<QemuDeviation>();
  const problems: string[] = [];
  const add = (p: string): void => {
    if (problems.length < maxProblems) problems.push(p);
    else if (problems.length === maxProblems) problems.push('... (more differences not shown)');
  };

  // Walk both transcripts together; a Ringside line that QEMU cannot produce (an entry
  // with qemuValue null) is checked on its own and does not advance QEMU's side, and a
  // QEMU line that Ringside does not print (sdmValue null: a platform entry) likewise.
  let qi = 0;
  for (let ri = 0; qi < q.length || ri < r.length; ri++, qi++) {
    const ql = q[qi];
    const rl = r[ri];
    if (ql !== undefined) {
      const qs = splitLine(ql);
      const extra = devs.find((d) => d.sdmValue === null && d.line.test(qs.name));
      if (extra && (rl === undefined || splitLine(rl).name !== qs.name)) {
        used.add(extra);
        if (qs.value !== extra.qemuValue) add(`QEMU line ${qi + 1} (${qs.name}): QEMU prints ${qs.value}, the deviation entry says ${extra.qemuValue}; update the entry`);
        ri--;
        continue;
      }
    }
    if (rl !== undefined) {
      const rs = splitLine(rl);
      const absent = devs.find((d) => d.qemuValue === null && d.line.test(rs.name));
      if (absent && (ql === undefined || splitLine(ql).name !== rs.name)) {
        used.add(absent);
        if (rs.value !== absent.sdmValue) add(`Ringside line ${ri + 1} (${rs.name}): Ringside prints ${rs.value}, the SDM value is ${absent.sdmValue} (${absent.sdmSection})`);
        qi--;
        continue;
      }
    }
    if (ql === undefined || rl === undefined) {
      add(`line ${ri + 1}: only ${ql === undefined ? 'Ringside' : 'QEMU'} has it: ${JSON.stringify(ql ?? rl)}`);
      continue;
    }
    const qs = splitLine(ql);
    const dev = devs.find((d) => d.line.test(qs.name));
    if (!dev) {
      if (ql !== rl) add(`line ${ri + 1}: QEMU ${JSON.stringify(ql)} / Ringside ${JSON.stringify(rl)}`);
      continue;
    }
    used.add(dev);
    const rs = splitLine(rl);
    if (dev.qemuValue === null) {
      add(`line ${ri + 1} (${qs.name}): QEMU prints ${qs.value}, but the deviation entry says QEMU cannot produce this line; update the entry`);
    } else if (dev.sdmValue === null) {
      add(`line ${ri + 1} (${qs.name}): Ringside prints ${JSON.stringify(rl)}, but the deviation entry says Ringside has no such line (${dev.sdmSection})`);
    } else if (rs.name !== qs.name) {
      add(`line ${ri + 1}: QEMU ${JSON.stringify(ql)} / Ringside ${JSON.stringify(rl)}`);
    } else if (rs.value === qs.value) {
      if (rs.value === dev.sdmValue) {
        add(`line ${ri + 1} (${qs.name}): stale deviation ${dev.line}: QEMU now prints the SDM value ${dev.sdmValue}; remove the entry`);
      } else {
        add(`line ${ri + 1} (${qs.name}): Ringside prints QEMU's value ${rs.value}; the SDM value is ${dev.sdmValue} (${dev.sdmSection})`);
      }
    } else {
      if (rs.value !== dev.sdmValue) add(`line ${ri + 1} (${qs.name}): Ringside prints ${rs.value}, the SDM value is ${dev.sdmValue} (${dev.sdmSection})`);
      if (qs.value !== dev.qemuValue) add(`line ${ri + 1} (${qs.name}): QEMU prints ${qs.value}, the deviation entry says ${dev.qemuValue}; update the entry`);
    }
  }
  for (const d of devs) if (!used.has(d)) add(`stale deviation: no line of ${guest} matches ${d.line}`);
  return problems;
}
