// The hardware oracle's report: what ran, how much, how fast, and every disagreement
// grouped by the instruction it was minimised to.

import type { OracleResult } from './run.js';
import { entryName, entryLabel, undefinedValuesLine } from './run.js';
import { describeHost, describeModel } from './compare.js';
import { GPR_NAMES, hex64 } from './layout.js';

export interface ReportOptions {
  /** Disagreement groups to show in full. */
  show: number;
  /** Print every entry's count. */
  perEntry: boolean;
}

export function report(r: OracleResult, o: ReportOptions): string {
  const L: string[] = [];
  const h = r.hello;
  L.push(`host CPU: ${h.signature} (${h.brand}); ${undefinedValuesLine(h)}`);
  L.push(`seed ${r.seed}: ${r.sequences} sequences, ${r.instructions} instructions in ${(r.elapsedMs / 1000).toFixed(1)} s ` +
    `(${Math.round(r.sequences / (r.elapsedMs / 1000))} sequences/s; model ${(r.modelMs / 1000).toFixed(1)} s)`);
  const pct = (a: number, b: number): string => (b === 0 ? '0' : ((100 * a) / b).toFixed(1));
  L.push(`memory operands: ${pct(r.memorySequences, r.sequences)}% of sequences, ${pct(r.memoryInstructions, r.instructions)}% of instructions`);
  const counts = r.perEntry.map((e) => e.count).sort((a, b) => a - b);
  const withMem = r.perEntry.filter((e) => e.memory > 0);
  const memShare = withMem.map((e) => e.memory / e.count).sort((a, b) => a - b);
  L.push(`comparable entries: ${r.pool.length} generated (per entry: min ${counts[0] ?? 0}, median ${counts[counts.length >> 1] ?? 0}, max ${counts[counts.length - 1] ?? 0}); ` +
    `${withMem.length} with memory forms (memory share: min ${pct(memShare[0] ?? 0, 1)}%, median ${pct(memShare[memShare.length >> 1] ?? 0, 1)}%)`);
  const few = r.perEntry.filter((e) => e.count < 1000);
  if (few.length > 0) {
    L.push(`  under 1000: ${few.length} entries${few.length > 12 ? ' (a short run)' : ''}: ` +
      few.slice(0, 12).map((e) => `${entryName(e.entry)} (${e.count})`).join(', ') + (few.length > 12 ? ', ...' : ''));
  }
  if (o.perEntry) {
    L.push('per entry: count (share with a memory operand aimed into scratch)');
    const items = r.perEntry.map((e) => `${entryLabel(e.entry)} ${e.count}${e.memory > 0 ? ` (${Math.round((100 * e.memory) / e.count)}%)` : ''}`);
    let line = ' ';
    for (const it of items) {
      if (line.length + it.length > 150) { L.push(line); line = ' '; }
      line += ` ${it};`;
    }
    if (line.trim() !== '') L.push(line);
  }
  L.push(`not comparable: ${r.notComparable.length} table rows (by reason: ${summariseReasons(r.notComparable)})`);
  if (r.notModelled.length > 0) L.push(`comparable but not modelled yet: ${r.notModelled.join(', ')}`);
  if (r.hostLacks.length > 0) L.push(`the host lacks: ${r.hostLacks.join(', ')}`);
  if (r.unbuildable.length > 0) L.push(`could not generate: ${r.unbuildable.join('; ')}`);
  L.push(`INT n not generated for vectors ${r.badIntVectors.map((v) => '0x' + v.toString(16)).join(', ')} (the host's IDT differs from the model's Linux-like one there)`);
  L.push(`not compared (an instruction read an SDM-undefined value): ${r.skippedUndefined}`);
  L.push(`not compared (the sequence set TF or AC: the model single-steps (src/cpu/events.ts) and checks alignment, ` +
    `but the oracle does not compare the traps those raise yet): ${r.skippedTrapFlags}`);
  if (r.harnessCrashes.length > 0) {
    L.push(`HARNESS CRASHES: ${r.harnessCrashes.length} case(s) killed the harness:`);
    for (const c of r.harnessCrashes.slice(0, 10)) {
      L.push(`  bytes ${Buffer.from(c.code).toString('hex')} (${c.insns.map((i) => entryName(i.entry)).join('; ')}) ` +
        GPR_NAMES.map((n, k) => `${n}=${hex64(c.regs[2 * k], c.regs[2 * k + 1])}`).join(' '));
    }
  }
  L.push(`not sent to the hardware (the modelled run touches the harness's own memory): ${r.harnessTouch}`);
  L.push(`host-side flukes (a disagreement gone when the case ran again on the hardware): ${r.hostFlaky}`);
  L.push(`disagreements: ${r.disagreements.length} in ${r.sequences} sequences; ${r.minimised.length} minimised`);
  const groups = new Map<string, typeof r.minimised>();
  for (const m of r.minimised) {
    const key = `${m.entries.map(entryName).join('; ')} — ${m.diffs.map((d) => d.split(':')[0]).join(', ')}`;
    const g = groups.get(key) ?? [];
    g.push(m);
    groups.set(key, g);
  }
  let shown = 0;
  for (const [key, g] of groups) {
    L.push(`  [${g.length}] ${key}`);
    if (shown++ >= o.show) continue;
    const m = g[0];
    L.push(`      bytes ${Buffer.from(m.c.code).toString('hex')}${m.single ? '' : ' (not reducible to one instruction)'}`);
    const regs = GPR_NAMES.map((n, k) => `${n}=${hex64(m.c.regs[2 * k], m.c.regs[2 * k + 1])}`).join(' ');
    L.push(`      in: ${regs} rflags=${hex64(m.c.regs[32], 0)} image ${m.c.image}${m.c.patches.length ? ` + ${m.c.patches.length} patch(es)` : ''}`);
    L.push(`      host: ${describeHost(m.host)}; model: ${describeModel(m.model)}`);
    for (const d of m.diffs) L.push(`      ${d}`);
  }
  return L.join('\n');
}

function summariseReasons(list: { reason: string }[]): string {
  const by = new Map<string, number>();
  for (const x of list) {
    const k = x.reason.split(':')[0].split('(')[0].trim();
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  return [...by].map(([k, n]) => `${k} ${n}`).join('; ');
}
