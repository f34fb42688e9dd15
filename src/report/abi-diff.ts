// The ABI diff (README, "ringside diff"; docs/architecture.md, "The ABI diff"): two runs' transition records
// and consoles -> what the guest could observe differently. Pure: no machine, no I/O.
//
// Observation points on a native host: every transition after which ring-3 code resumes
// (after.cpl = 3). A point is keyed by what the guest was doing: the user-side transition
// that left ring 3 (its kind and RIP; the run's first entry to ring 3 has none) and the RIP
// ring 3 resumes at. The two runs' points are aligned by a longest common subsequence of
// their keys, so a step one profile takes and the other does not shows as "only in".
//
// Deliberate deviations (first version):
// - Undefined flags are not traced to the last flag-writing instruction (the records do not
//   name it): an RFLAGS difference confined to the six arithmetic flags goes to its own class,
//   "flags (check undefined)", which still counts as a difference (exit 1), never dropped.
// - Hypervisor profiles' points (any guest code resuming after the host) are not built: only
//   native profiles exist yet, for which --points user is the same set.
// - The frame compared is one the resuming transition wrote (a delivery that stays in ring
//   3); a native kernel's own stack frames are the kernel's business, not the user's.

import type { TransitionRecord } from '../cpu/transition.js';

/** CF, PF, AF, ZF, SF, OF: the flags instructions leave undefined (SDM Vol. 1 §3.4.3.1). */
const ARITHMETIC_FLAGS = 0x8d5n;

export interface RunObservations {
  profile: string;
  records: readonly TransitionRecord[];
  console: string;
}

export interface ObservationPoint {
  /** The user-side transition that left ring 3 before this point, or null (first entry). */
  leave: TransitionRecord | null;
  /** The transition after which ring 3 resumes. */
  resume: TransitionRecord;
  key: string;
}

/** 'abi': the transition gave the two runs different values; 'diverged earlier': both runs
 *  resume with the value ring 3 left with, so the difference was made in user code before
 *  (a consequence of an earlier difference); 'flags (check undefined)': see the top. */
export type DifferenceClass = 'abi' | 'diverged earlier' | 'flags (check undefined)';

export interface ObservedValue {
  value: string;
  /** What the value equals in its own run, when a simple rule finds it. */
  means: string | null;
}

export interface Difference {
  class: DifferenceClass;
  /** The kind of point: how ring 3 was left and how it resumed, e.g. `syscall -> sysret`. */
  kind: string;
  field: string;
  /** Sequence numbers of the resuming transitions. */
  seq: [number, number];
  /** Where ring 3 resumes in each run. */
  rip: [string, string];
  a: ObservedValue;
  b: ObservedValue;
}

export interface PointSummary {
  seq: number;
  kind: string;
  leftAt: string | null;
  resumesAt: string;
}

export interface AbiDiff {
  profiles: [string, string];
  pointsCompared: { a: number; b: number; aligned: number };
  /** The first difference, in run order: a field, or a point only one run has. */
  first: { difference: Difference | null; onlyIn: { side: 'a' | 'b'; point: PointSummary } | null; before: [PointSummary, PointSummary] | null } | null;
  differences: Difference[];
  onlyIn: { a: PointSummary[]; b: PointSummary[] };
  consoleDiffers: boolean;
  /** The first console line that differs (1-based), with each side's text. */
  consoleFirstLine: { line: number; a: string | null; b: string | null } | null;
  /** 0: nothing differs; 1: something does. */
  exit: 0 | 1;
}

function pointKind(p: ObservationPoint): string {
  const l = p.leave;
  const left = l === null ? 'start' : l.kind === 'delivery' ? `delivery #${l.vector}` : l.kind;
  return `${left} -> ${p.resume.kind}`;
}

/** The points where ring-3 code resumes, each with the transition that left ring 3. */
export function observationPoints(records: readonly TransitionRecord[]): ObservationPoint[] {
  const out: ObservationPoint[] = [];
  let leave: TransitionRecord | null = null;
  for (const r of records) {
    if (r.before.cpl === 3) leave = r;
    if (r.after.cpl !== 3) continue;
    const left = leave === null ? 'start' : leave.before.registers.rip;
    out.push({ leave, resume: r, key: `${left} -> ${r.after.registers.rip}` });
    leave = null;
  }
  return out;
}

/** A longest-common-subsequence alignment of two key lists: pairs [i, j], [i, null] (only
 *  in a) or [null, j] (only in b), in order. The common prefix and suffix are matched first
 *  so that similar runs cost little. */
export function align(a: readonly string[], b: readonly string[]): Array<[number | null, number | null]> {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const n = a.length - pre - suf, m = b.length - pre - suf;
  const out: Array<[number | null, number | null]> = [];
  for (let k = 0; k < pre; k++) out.push([k, k]);
  // lcs[i][j]: the LCS length of a[pre+i..] and b[pre+j..].
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = a[pre + i] === b[pre + j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[pre + i] === b[pre + j]) out.push([pre + i++, pre + j++]);
    else if (j >= m || (i < n && lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) out.push([pre + i++, null]);
    else out.push([null, pre + j++]);
  }
  for (let k = 0; k < suf; k++) out.push([a.length - suf + k, b.length - suf + k]);
  return out;
}

/** Within each stretch the alignment left unmatched, pair a point of one run with one of
 *  the other that left ring 3 at the same instruction: the same user step, handled
 *  differently (SYSENTER completed on one CPU, #UD on the other). */
export function pairSameInstruction(pairs: Array<[number | null, number | null]>, leftA: readonly string[], leftB: readonly string[]): Array<[number | null, number | null]> {
  const out: Array<[number | null, number | null]> = [];
  let k = 0;
  while (k < pairs.length) {
    if (pairs[k][0] !== null && pairs[k][1] !== null) {
      out.push(pairs[k++]);
      continue;
    }
    const gap: Array<[number | null, number | null]> = [];
    while (k < pairs.length && (pairs[k][0] === null || pairs[k][1] === null)) gap.push(pairs[k++]);
    const bs = gap.filter((g) => g[1] !== null).map((g) => g[1]!);
    const used = new Set<number>();
    for (const [i] of gap) {
      if (i === null) continue;
      const j = bs.find((x) => !used.has(x) && leftB[x] === leftA[i] && leftA[i] !== 'start');
      if (j === undefined) out.push([i, null]);
      else {
        used.add(j);
        out.push([i, j]);
      }
    }
    for (const j of bs) if (!used.has(j)) out.push([null, j]);
  }
  return out;
}

/** The RIP range a run's code at one privilege level was seen at. */
interface Range { lo: bigint; hi: bigint }

function ripRange(records: readonly TransitionRecord[], cpl: number): Range | null {
  let lo: bigint | null = null, hi: bigint | null = null;
  for (const r of records) {
    for (const s of [r.before, r.after]) {
      if (s.cpl !== cpl) continue;
      const v = BigInt(s.registers.rip);
      if (lo === null || v < lo) lo = v;
      if (hi === null || v > hi) hi = v;
    }
  }
  return lo === null || hi === null ? null : { lo, hi };
}

function canonical(v: bigint): boolean {
  const top = v >> 47n;
  return top === 0n || top === 0x1ffffn;
}

const UNCHANGED = 'unchanged since the user left';
const KIND_NAMES: Record<string, string> = { syscall: 'SYSCALL', sysenter: 'SYSENTER', delivery: 'event', iret: 'IRET', 'call-gate': 'call gate', 'far-return': 'far return' };

/** What a register value at a point equals in its own run, by the first simple rule that fits. */
export function explain(field: string, value: string, p: ObservationPoint, kernel: Range | null, user: Range | null): string | null {
  const l = p.leave;
  const what = l === null ? '' : KIND_NAMES[l.kind] ?? l.kind.toUpperCase();
  if (l !== null) {
    if (l.before.registers[field] === value) return UNCHANGED;
    if (l.kind === 'syscall' && l.after.registers.rcx === value) return 'RIP after the SYSCALL (the return address)';
    if (l.before.registers.rflags === value) return `RFLAGS before the ${what}`;
    for (const [name, v] of Object.entries(l.before.registers)) {
      if (v === value && BigInt(v) !== 0n) return `${name} before the ${what}`;
    }
  }
  if (!/^0x[0-9a-f]+$/i.test(value)) return null;
  const v = BigInt(value);
  if (v === 0n) return 'zero';
  if (field !== 'rip' && p.resume.after.registers.rip === value) return 'the RIP ring 3 resumes at';
  if (!canonical(v)) return 'a non-canonical address';
  if (kernel !== null && v >= kernel.lo && v <= kernel.hi) return "an address in the kernel's code (within the ring-0 RIPs seen)";
  if (user !== null && v >= user.lo && v <= user.hi) return 'an address in user code (within the ring-3 RIPs seen)';
  if (v >= 0xffff800000000000n) return 'an address in the upper (kernel) half';
  return null;
}

/** The observed fields of a point, by name: how ring 3 was left, the mode and registers it
 *  resumes with, and a frame the resuming transition wrote. */
function fields(p: ObservationPoint): Map<string, string> {
  const f = new Map<string, string>();
  const l = p.leave;
  if (l !== null) {
    f.set('left by', `${l.kind}${l.vector !== null ? ` vector ${l.vector}` : ''}${l.errorCode !== null ? ` error 0x${l.errorCode.toString(16)}` : ''}`);
  }
  f.set('mode', p.resume.after.mode);
  for (const [name, v] of Object.entries(p.resume.after.registers)) f.set(name, v);
  if (p.resume.kind === 'delivery' && p.resume.frame !== null) {
    f.set('frame', `${p.resume.frame.address}: ${p.resume.frame.bytes.map((x) => x.toString(16).padStart(2, '0')).join(' ')}`);
  }
  return f;
}

function summary(p: ObservationPoint): PointSummary {
  return { seq: p.resume.seq, kind: pointKind(p), leftAt: p.leave?.before.registers.rip ?? null, resumesAt: p.resume.after.registers.rip };
}

function classify(field: string, a: ObservedValue, b: ObservedValue): DifferenceClass {
  if (field === 'rflags' && ((BigInt(a.value) ^ BigInt(b.value)) & ~ARITHMETIC_FLAGS) === 0n) return 'flags (check undefined)';
  return a.means === UNCHANGED && b.means === UNCHANGED ? 'diverged earlier' : 'abi';
}

function firstConsoleDifference(a: string, b: string): AbiDiff['consoleFirstLine'] {
  if (a === b) return null;
  const la = a.split('\n'), lb = b.split('\n');
  for (let k = 0; ; k++) {
    if (la[k] !== lb[k]) return { line: k + 1, a: la[k] ?? null, b: lb[k] ?? null };
  }
}

/** Compare two runs at their observation points. */
export function diffRuns(a: RunObservations, b: RunObservations): AbiDiff {
  const pa = observationPoints(a.records), pb = observationPoints(b.records);
  const ranges = [a, b].map((r) => ({ kernel: ripRange(r.records, 0), user: ripRange(r.records, 3) }));
  const leftAt = (p: ObservationPoint): string => p.leave?.before.registers.rip ?? 'start';
  const pairs = pairSameInstruction(align(pa.map((p) => p.key), pb.map((p) => p.key)), pa.map(leftAt), pb.map(leftAt));
  const differences: Difference[] = [];
  const onlyIn: AbiDiff['onlyIn'] = { a: [], b: [] };
  let first: AbiDiff['first'] = null;
  let last: [PointSummary, PointSummary] | null = null;
  let aligned = 0;
  for (const [i, j] of pairs) {
    if (i === null || j === null) {
      const side = i !== null ? 'a' : 'b';
      const point = summary(i !== null ? pa[i] : pb[j!]);
      onlyIn[side].push(point);
      first ??= { difference: null, onlyIn: { side, point }, before: last };
      continue;
    }
    aligned++;
    const p = pa[i], q = pb[j];
    const fa = fields(p), fb = fields(q);
    for (const name of new Set([...fa.keys(), ...fb.keys()])) {
      const va = fa.get(name) ?? '(none)', vb = fb.get(name) ?? '(none)';
      if (va === vb) continue;
      const oa = { value: va, means: explain(name, va, p, ranges[0].kernel, ranges[0].user) };
      const ob = { value: vb, means: explain(name, vb, q, ranges[1].kernel, ranges[1].user) };
      const d: Difference = {
        class: classify(name, oa, ob),
        kind: pointKind(p) === pointKind(q) ? pointKind(p) : `${pointKind(p)} | ${pointKind(q)}`,
        field: name,
        seq: [p.resume.seq, q.resume.seq],
        rip: [p.resume.after.registers.rip, q.resume.after.registers.rip],
        a: oa,
        b: ob,
      };
      differences.push(d);
      first ??= { difference: d, onlyIn: null, before: last };
    }
    last = [summary(p), summary(q)];
  }
  const consoleFirstLine = firstConsoleDifference(a.console, b.console);
  const consoleDiffers = consoleFirstLine !== null;
  const differs = differences.length > 0 || onlyIn.a.length > 0 || onlyIn.b.length > 0 || consoleDiffers;
  return {
    profiles: [a.profile, b.profile],
    pointsCompared: { a: pa.length, b: pb.length, aligned },
    first,
    differences,
    onlyIn,
    consoleDiffers,
    consoleFirstLine,
    exit: differs ? 1 : 0,
  };
}

function shown(v: ObservedValue): string {
  return v.means === null ? v.value : `${v.value} (${v.means})`;
}

function pointLine(p: PointSummary): string {
  return `seq ${p.seq}, ${p.kind}, left ring 3 at ${p.leftAt ?? '-'}, resumes at ${p.resumesAt}`;
}

/** The diff for a person: the first difference with the point before it, then every
 *  difference grouped by kind of point and field, with counts. */
export function formatAbiDiff(d: AbiDiff): string {
  const [A, B] = d.profiles;
  const lines: string[] = [];
  lines.push(`points where ring 3 resumes: ${d.pointsCompared.a} on ${A}, ${d.pointsCompared.b} on ${B}, ${d.pointsCompared.aligned} aligned`);
  if (d.exit === 0) {
    lines.push('nothing the guest could observe differs');
    return lines.join('\n') + '\n';
  }
  const f = d.first;
  if (f !== null) {
    lines.push('', 'first difference:');
    if (f.before !== null) lines.push(`  after the aligned point  ${A}: ${pointLine(f.before[0])}`, `                          ${B}: ${pointLine(f.before[1])}`);
    else lines.push('  at the first point');
    if (f.difference !== null) {
      const x = f.difference;
      lines.push(`  ${x.kind}, resuming at ${x.rip[0]} (seq ${x.seq[0]}) / ${x.rip[1]} (seq ${x.seq[1]}): ${x.field} [${x.class}]`);
      lines.push(`    ${A}: ${shown(x.a)}`, `    ${B}: ${shown(x.b)}`);
    } else if (f.onlyIn !== null) {
      lines.push(`  only in ${f.onlyIn.side === 'a' ? A : B}: ${pointLine(f.onlyIn.point)}`);
    }
  }
  const groups = new Map<string, Difference[]>();
  for (const x of d.differences) {
    const k = `${x.class === 'abi' ? '' : `[${x.class}] `}${x.kind}: ${x.field}`;
    groups.set(k, [...(groups.get(k) ?? []), x]);
  }
  if (groups.size > 0) lines.push('', 'differences by kind and field:');
  for (const [k, xs] of groups) {
    lines.push(`  ${k} (${xs.length}×)`);
    const seen = new Set<string>();
    for (const x of xs) {
      const v = `${shown(x.a)}  vs  ${shown(x.b)}`;
      if (seen.has(v)) continue;
      seen.add(v);
      if (seen.size > 3) {
        lines.push('    ...');
        break;
      }
      lines.push(`    ${A}: ${shown(x.a)}`, `    ${B}: ${shown(x.b)}   (first at seq ${x.seq[0]} / ${x.seq[1]})`);
    }
  }
  for (const side of ['a', 'b'] as const) {
    const ps = d.onlyIn[side];
    if (ps.length === 0) continue;
    const byKind = new Map<string, PointSummary[]>();
    for (const p of ps) byKind.set(p.kind, [...(byKind.get(p.kind) ?? []), p]);
    lines.push('', `only in ${side === 'a' ? A : B} (${ps.length} points):`);
    for (const [k, xs] of byKind) lines.push(`  ${k} (${xs.length}×), first: ${pointLine(xs[0])}`);
  }
  if (d.consoleFirstLine !== null) {
    const c = d.consoleFirstLine;
    lines.push('', `console differs from line ${c.line}:`, `  ${A}: ${c.a ?? '(ends)'}`, `  ${B}: ${c.b ?? '(ends)'}`);
  }
  if (d.differences.some((x) => x.class !== 'abi')) {
    lines.push('', 'note: "flags (check undefined)" are RFLAGS differences within CF, PF, AF, ZF, SF, OF; this version does not yet check them against the vendor tables of what the last flag-writing instruction leaves undefined, so they count as differences');
  }
  return lines.join('\n') + '\n';
}
