// The ABI diff (README, "ringside diff"; docs/architecture.md, "The ABI diff"): two runs' transition records
// and consoles -> what the guest could observe differently. Pure: no machine, no I/O.
//
// Observation points on a native host: every transition after which ring-3 code resumes
// (after.cpl = 3). A point is keyed by what the guest was doing: the user-side transition
// that left ring 3 (its kind and RIP; the run's first entry to ring 3 has none) and the RIP
// ring 3 resumes at. The two runs' points are aligned by a longest common subsequence of
// their keys, so a step one profile takes and the other does not shows as "only in".
//
// On a hypervisor host (xen) the whole guest, kernel and user, runs in ring 3 and the host
// in ring 0, so the same rule makes every return from the host a point: a callback entered, a
// hypercall returned, an iret performed, an exception bounced. The records say which guest
// mode runs by the host's own notion (TransitionRecord.guestMode, Xen's TF_kernel_mode: CS
// cannot tell, a 64-bit PV kernel and its user space share FLAT_RING3_CS64), which names the
// points and is what `--points user` keeps: the points where guest user code resumes, each
// with the transition that left guest user code. The guest memory the host wrote on the way
// (a bounce frame, a hypercall's output: TransitionRecord.hostWrites) is compared as the frame
// a delivery writes is on a native host.
//
// Classes: 'abi' (the transitions gave the guest different values), 'diverged earlier' (both
// values follow from what ring 3 left with by the same rule, e.g. both unchanged: the
// inputs differed, so an earlier difference or user code made it), 'undefined, vendor
// table' (RFLAGS or a copy of it that differs only in flags the last flag-writing user
// instruction left undefined in both runs: by design, never an ABI difference, not counted).
//
// Deliberate deviations:
// - Guest memory a host writes by machine address rather than through the guest's page tables
//   (Xen's vcpu_info and shared_info, the console ring) is not compared; what the guest makes
//   of it shows in its later points and its console.
// - The frame compared is one the resuming transition wrote (a delivery that stays in ring
//   3); a native kernel's own stack frames are the kernel's business, not the user's.
// - User code that computes with undefined flags (PUSHF, SETcc after MUL) and passes the
//   result on shows as 'diverged earlier', not as 'undefined, vendor table'.

import type { TransitionRecord, TransitionSide } from '../cpu/transition.js';
import type { SymbolTable } from '../guest/elf-symbols.js';
import type { CodeLine } from './code-window.js';

/** The status flags by name, as TransitionSide.undefinedFlags names them (SDM Vol. 1 §3.4.3.1). */
const STATUS_BITS: Record<string, bigint> = { CF: 0x1n, PF: 0x4n, AF: 0x10n, ZF: 0x40n, SF: 0x80n, OF: 0x800n };

export interface RunObservations {
  profile: string;
  records: readonly TransitionRecord[];
  console: string;
  /** The image's symbols, to name addresses in explanations. */
  symbols?: SymbolTable | null;
  /** The kind of host the run had (default native): on a hypervisor the host is ring 0 and the
   *  guest kernel's code runs in ring 3 with its user code (see the top of the file). */
  host?: 'native' | 'hypervisor';
}

/** Which points are compared: `all` where guest code resumes (on a native host ring 3, its
 *  user code), `user` only where guest user code does (`--points user`). */
export type PointSet = 'all' | 'user';

/** The guest instructions around an address of a run's image (code-window.ts), or null. */
export type CodeAround = (address: bigint, codeSize: TransitionSide['codeSize']) => CodeLine[] | null;

export interface ObservationPoint {
  /** The transition that left the observed code before this point, or null (first entry). */
  leave: TransitionRecord | null;
  /** The transition after which the observed code resumes. */
  resume: TransitionRecord;
  key: string;
  /** The status flags ring 3 left with that hold values the SDM leaves undefined: those
   *  its last flag-writing instruction left undefined, or, when ring 3 wrote no flag since
   *  it last resumed with the same RFLAGS, those it resumed with. */
  undefinedAtLeave: bigint;
}

/** See the top of the file. */
export type DifferenceClass = 'abi' | 'diverged earlier' | 'undefined, vendor table';

export interface ObservedValue {
  value: string;
  /** What the value equals in its own run, when a simple rule finds it. */
  means: string | null;
}

interface Explanation {
  means: string;
  /** The value follows from what ring 3 left with (a register before the transition). */
  derived: boolean;
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
  /** The instruction that left ring 3, from the image (null: none, or not in the image). */
  instruction: CodeLine | null;
}

/** An aligned pair whose user step left ring 3 differently (its 'left by' differs): one
 *  instruction, two outcomes. Its field differences are in `differences` too. */
export interface HandledDifferently {
  seq: [number, number];
  instruction: CodeLine | null;
  a: { leftBy: string; mode: string; resumesAt: ObservedValue };
  b: { leftBy: string; mode: string; resumesAt: ObservedValue };
  /** The other fields that differ at this pair. */
  alsoDiffer: string[];
}

export interface AbiDiff {
  profiles: [string, string];
  /** Where the points are: `ring 3` (native hosts), `guest code` or, with --points user on a
   *  hypervisor host, `guest user code`. */
  observed: string;
  pointsCompared: { a: number; b: number; aligned: number };
  /** The first counted difference, in run order: a field, or a point only one run has; with
   *  the guest instructions around where each run left ring 3 for it (null: not in the image). */
  first: {
    difference: Difference | null;
    onlyIn: { side: 'a' | 'b'; point: PointSummary } | null;
    before: [PointSummary, PointSummary] | null;
    code: { a: CodeLine[] | null; b: CodeLine[] | null };
  } | null;
  differences: Difference[];
  handledDifferently: HandledDifferently[];
  onlyIn: { a: PointSummary[]; b: PointSummary[] };
  consoleDiffers: boolean;
  /** The first console line that differs (1-based), with each side's text. */
  consoleFirstLine: { line: number; a: string | null; b: string | null } | null;
  /** 0: nothing differs but what the vendor tables leave undefined; 1: something does. */
  exit: 0 | 1;
}

/** FRED's event type "other" (FRED specification §5.1.2): vector 1 is SYSCALL, 2 SYSENTER. */
const FRED_TYPE_OTHER = 7;

/** The user's step a transition that left ring 3 was: the instruction SYSCALL or SYSENTER
 *  whether the CPU ran it the legacy way or delivered it as a FRED event (how the kernel is
 *  entered is not the user's to see), else the event by vector. */
function userStep(l: TransitionRecord): 'syscall' | 'sysenter' | null {
  if (l.kind === 'syscall' || l.kind === 'sysenter') return l.kind;
  if (l.kind === 'delivery' && l.fredType === FRED_TYPE_OTHER) return l.vector === 1 ? 'syscall' : l.vector === 2 ? 'sysenter' : null;
  return null;
}

/** The kind of a point: how the observed code was left and how it resumes, with the guest
 *  mode on each side when the host names it (`user syscall -> sysret to kernel`). */
function pointKind(p: ObservationPoint): string {
  const l = p.leave;
  const left = l === null ? 'start' : userStep(l) ?? (l.kind === 'delivery' ? `delivery #${l.vector}` : l.kind);
  const mode = p.resume.guestMode;
  if (mode === undefined) return `${left} -> ${p.resume.kind}`;
  return `${l?.guestMode !== undefined ? `${l.guestMode} ` : ''}${left} -> ${p.resume.kind} to ${mode}`;
}

/** Whether a side of a record is observed code: ring 3 (a native host's user code, a PV
 *  guest's kernel and user code), and with `user` only where the host says guest user code
 *  runs (records of hosts that do not say are all user code). */
function observed(r: TransitionRecord, side: TransitionSide, points: PointSet): boolean {
  return side.cpl === 3 && (points === 'all' || r.guestMode !== 'kernel');
}

/** The points where observed code resumes, each with the transition that left observed code. */
export function observationPoints(records: readonly TransitionRecord[], points: PointSet = 'all'): ObservationPoint[] {
  const out: ObservationPoint[] = [];
  let leave: TransitionRecord | null = null;
  // What the observed code last resumed with: its RFLAGS and which of them are undefined values.
  let resumed: { rflags: string; undefinedBits: bigint } | null = null;
  for (const r of records) {
    if (observed(r, r.before, points)) leave = r;
    if (!observed(r, r.after, points)) continue;
    const left = leave === null ? 'start' : leave.before.registers.rip;
    let undefinedBits = 0n;
    if (leave !== null) {
      const b = leave.before;
      const carried = b.statusLoaded && resumed !== null && resumed.rflags === b.registers.rflags;
      undefinedBits = carried ? resumed!.undefinedBits : flagBits(b.undefinedFlags);
    }
    out.push({ leave, resume: r, key: `${left} -> ${r.after.registers.rip}`, undefinedAtLeave: undefinedBits });
    const back = r.after.registers.rflags;
    resumed = { rflags: back, undefinedBits: leave !== null && leave.before.registers.rflags === back ? undefinedBits : 0n };
    leave = null;
  }
  return out;
}

function flagBits(names: readonly string[]): bigint {
  let bits = 0n;
  for (const name of names) bits |= STATUS_BITS[name] ?? 0n;
  return bits;
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
 *  differently (SYSENTER completed on one CPU, #UD on the other); two first entries to
 *  ring 3 ('start') pair too, whatever RIP each resumes at. */
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
      const j = bs.find((x) => !used.has(x) && leftB[x] === leftA[i]);
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

/** The RIP range a run's code at one privilege level was seen executing at (canonical RIPs
 *  only: a return may resume at a non-canonical RIP that never executes). */
interface Range { lo: bigint; hi: bigint }

function ripRange(records: readonly TransitionRecord[], cpl: number, guestMode?: 'kernel' | 'user'): Range | null {
  let lo: bigint | null = null, hi: bigint | null = null;
  for (const r of records) {
    for (const s of [r.before, r.after]) {
      if (s.cpl !== cpl || (guestMode !== undefined && r.guestMode !== guestMode)) continue;
      const v = BigInt(s.registers.rip);
      if (!canonical(v)) continue;
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
const DATA_SELECTORS = new Set(['es', 'ds', 'fs', 'gs']);
const KIND_NAMES: Record<string, string> = { syscall: 'SYSCALL', sysenter: 'SYSENTER', delivery: 'event', iret: 'IRET', 'call-gate': 'call gate', 'far-return': 'far return' };

/** What a run knows to explain its values with: where its guest kernel's, its user code's
 *  and (on a hypervisor) the host's code were seen running, and the words for them. */
interface RunContext {
  kernel: Range | null;
  user: Range | null;
  host: Range | null;
  symbols: SymbolTable | null;
  words: Words;
}

interface Words {
  /** Where the points are (AbiDiff.observed). */
  observed: string;
  /** Whose data selectors a return leaves loaded. */
  selectorOwner: string;
  kernelSymbol: string;
  kernelCode: string;
  userCode: string;
}

const NATIVE_WORDS: Words = {
  observed: 'ring 3',
  selectorOwner: "the kernel's",
  kernelSymbol: 'among the kernel code seen',
  kernelCode: "an address in the kernel's code (within the ring-0 RIPs seen)",
  userCode: 'an address between the lowest and highest ring-3 RIPs seen',
};

const HYPERVISOR_WORDS: Words = {
  observed: 'guest code',
  selectorOwner: "the hypervisor's",
  kernelSymbol: "among the guest kernel's code seen",
  kernelCode: "an address in the guest kernel's code (within the RIPs it was seen running at)",
  userCode: 'an address between the lowest and highest guest user RIPs seen',
};

const HOST_CODE = "an address in the hypervisor's code (within the ring-0 RIPs seen)";

function runContext(r: RunObservations, points: PointSet): RunContext {
  const symbols = r.symbols ?? null;
  if (r.host !== 'hypervisor') return { kernel: ripRange(r.records, 0), user: ripRange(r.records, 3), host: null, symbols, words: NATIVE_WORDS };
  const words = points === 'user' ? { ...HYPERVISOR_WORDS, observed: 'guest user code' } : HYPERVISOR_WORDS;
  return { kernel: ripRange(r.records, 3, 'kernel'), user: ripRange(r.records, 3, 'user'), host: ripRange(r.records, 0), symbols, words };
}

/** What a register value at a point equals in its own run, by the first simple rule that
 *  fits: first what ring 3 left with (derived), then what the value is. */
function explainValue(field: string, value: string, p: ObservationPoint, run: RunContext): Explanation | null {
  const l = p.leave;
  const what = l === null ? '' : KIND_NAMES[userStep(l) ?? l.kind] ?? l.kind.toUpperCase();
  if (l !== null) {
    if (l.before.registers[field] === value) return { means: UNCHANGED, derived: true };
    if (l.kind === 'syscall' && l.after.registers.rcx === value) return { means: 'RIP after the SYSCALL (the return address)', derived: true };
    if (l.before.registers.rflags === value) return { means: `RFLAGS before the ${what}`, derived: true };
    for (const [name, v] of Object.entries(l.before.registers)) {
      if (v === value && BigInt(v) !== 0n) return { means: `${name} before the ${what}`, derived: true };
    }
  }
  if (!/^0x[0-9a-f]+$/i.test(value)) return null;
  const v = BigInt(value);
  const is = (means: string): Explanation => ({ means, derived: false });
  // A data-segment selector the return did not load: the kernel's (IRET nulls those the user
  // may not use; ERETU and SYSRET load only CS and SS).
  const w = run.words;
  if (DATA_SELECTORS.has(field) && v !== 0n && p.resume.before.registers[field] === value) return is(`${w.selectorOwner} selector, which the return left loaded`);
  if (v === 0n) return is('zero');
  if (field !== 'rip' && p.resume.after.registers.rip === value) return is(`the RIP ${w.observed} resumes at`);
  if (!canonical(v)) return is('a non-canonical address');
  const symbol = run.symbols?.name(v) ?? null;
  const within = (r: Range | null): boolean => r !== null && v >= r.lo && v <= r.hi;
  const inKernel = within(run.kernel);
  if (symbol !== null) return is(`${symbol}${inKernel ? `, ${w.kernelSymbol}` : ''}`);
  if (inKernel) return is(w.kernelCode);
  if (within(run.host)) return is(HOST_CODE);
  if (within(run.user)) return is(w.userCode);
  if (v >= 0xffff800000000000n) return is('an address in the upper (kernel) half');
  return null;
}

/** What a value at a point equals in its own run (the text of explainValue), for tests and tools. */
export function explain(field: string, value: string, p: ObservationPoint, run: RunContext): string | null {
  return explainValue(field, value, p, run)?.means ?? null;
}

/** The observed fields of a point, by name: how the observed code was left, the mode (and
 *  guest mode, except at `--points user`, where every point a hypervisor host keeps is in
 *  guest user mode and a native host has none to compare it with) and registers it resumes with, a frame the resuming transition wrote, and the
 *  guest memory the host wrote before it, each write as its address and its 8-byte words
 *  (`wrote[0] at`, `wrote[0]+0x10`; a shorter tail as its bytes). */
function fields(p: ObservationPoint, points: PointSet): Map<string, string> {
  const f = new Map<string, string>();
  const l = p.leave;
  if (l !== null) {
    const step = userStep(l);
    f.set('left by', step ?? `${l.kind}${l.vector !== null ? ` vector ${l.vector}` : ''}${l.errorCode !== null ? ` error 0x${l.errorCode.toString(16)}` : ''}`);
  }
  const after = p.resume.after;
  f.set('mode', after.mode);
  for (const [name, v] of Object.entries(after.registers)) f.set(name, v);
  // Segment bases the user's code uses: FS and GS in 64-bit mode (SDM Vol. 3A §3.4.4), all
  // of them in compatibility and protected mode.
  for (const [name, v] of Object.entries(after.bases)) {
    if (after.mode !== '64-bit' || name === 'fs' || name === 'gs') f.set(`${name}.base`, v);
  }
  if (p.resume.kind === 'delivery' && p.resume.frame !== null) {
    f.set('frame', `${p.resume.frame.address}: ${hexBytes(p.resume.frame.bytes)}`);
  }
  if (p.resume.guestMode !== undefined && points === 'all') f.set('guest mode', p.resume.guestMode);
  p.resume.hostWrites?.forEach((w, k) => {
    f.set(`wrote[${k}] at`, w.address);
    for (let at = 0; at < w.bytes.length; at += 8) {
      const word = w.bytes.slice(at, at + 8);
      const name = `wrote[${k}]+0x${at.toString(16).padStart(2, '0')}`;
      f.set(name, word.length === 8 ? '0x' + word.reverse().map(hexByte).join('') : hexBytes(word));
    }
  });
  return f;
}

const hexByte = (x: number): string => x.toString(16).padStart(2, '0');

function hexBytes(bytes: readonly number[]): string {
  return bytes.map(hexByte).join(' ');
}

function summary(p: ObservationPoint, instruction: CodeLine | null): PointSummary {
  return { seq: p.resume.seq, kind: pointKind(p), leftAt: p.leave?.before.registers.rip ?? null, resumesAt: p.resume.after.registers.rip, instruction };
}

/** Whether both values are the RFLAGS ring 3 left with (in RFLAGS itself, or copied, as
 *  SYSCALL copies it to R11) and differ only in flags undefined in both runs. */
function onlyUndefinedFlags(va: string, vb: string, p: ObservationPoint, q: ObservationPoint): boolean {
  if (p.leave === null || q.leave === null) return false;
  if (va !== p.leave.before.registers.rflags || vb !== q.leave.before.registers.rflags) return false;
  const differing = BigInt(va) ^ BigInt(vb);
  return differing !== 0n && (differing & ~(p.undefinedAtLeave & q.undefinedAtLeave)) === 0n;
}

function classify(a: Explanation | null, b: Explanation | null, undefinedOnly: boolean): DifferenceClass {
  if (undefinedOnly) return 'undefined, vendor table';
  return a !== null && b !== null && a.derived && b.derived && a.means === b.means ? 'diverged earlier' : 'abi';
}

const counts = (x: Difference): boolean => x.class !== 'undefined, vendor table';

function firstConsoleDifference(a: string, b: string): AbiDiff['consoleFirstLine'] {
  if (a === b) return null;
  const la = a.split('\n'), lb = b.split('\n');
  for (let k = 0; ; k++) {
    if (la[k] !== lb[k]) return { line: k + 1, a: la[k] ?? null, b: lb[k] ?? null };
  }
}

/** Where a point's run left ring 3, for the code window: the leaving instruction (or, for
 *  the first entry, the RIP ring 3 starts at). */
function leftFrom(p: ObservationPoint): { rip: bigint; codeSize: TransitionSide['codeSize'] } {
  return p.leave !== null
    ? { rip: BigInt(p.leave.before.registers.rip), codeSize: p.leave.before.codeSize }
    : { rip: BigInt(p.resume.after.registers.rip), codeSize: p.resume.after.codeSize };
}

/** Compare two runs at their observation points. `codeAround` (optional) gives the guest
 *  instructions shown with the first difference. */
export function diffRuns(a: RunObservations, b: RunObservations, codeAround: CodeAround | null = null, points: PointSet = 'all'): AbiDiff {
  const pa = observationPoints(a.records, points), pb = observationPoints(b.records, points);
  const runs = [runContext(a, points), runContext(b, points)];
  const leftAt = (p: ObservationPoint): string => p.leave?.before.registers.rip ?? 'start';
  const pairs = pairSameInstruction(align(pa.map((p) => p.key), pb.map((p) => p.key)), pa.map(leftAt), pb.map(leftAt));
  const code = (p: ObservationPoint | null): CodeLine[] | null => {
    if (p === null || codeAround === null) return null;
    const at = leftFrom(p);
    return codeAround(at.rip, at.codeSize);
  };
  const leavingInstruction = (p: ObservationPoint): CodeLine | null =>
    p.leave === null ? null : code(p)?.find((l) => l.here) ?? null;
  const handledDifferently: HandledDifferently[] = [];
  const differences: Difference[] = [];
  const onlyIn: AbiDiff['onlyIn'] = { a: [], b: [] };
  let first: AbiDiff['first'] = null;
  let last: [PointSummary, PointSummary] | null = null;
  let aligned = 0;
  for (const [i, j] of pairs) {
    if (i === null || j === null) {
      const side = i !== null ? 'a' : 'b';
      const p = i !== null ? pa[i] : pb[j!];
      const point = summary(p, leavingInstruction(p));
      onlyIn[side].push(point);
      first ??= { difference: null, onlyIn: { side, point }, before: last, code: side === 'a' ? { a: code(p), b: null } : { a: null, b: code(p) } };
      continue;
    }
    aligned++;
    const p = pa[i], q = pb[j];
    const fa = fields(p, points), fb = fields(q, points);
    const found = differences.length;
    for (const name of new Set([...fa.keys(), ...fb.keys()])) {
      const va = fa.get(name) ?? '(none)', vb = fb.get(name) ?? '(none)';
      if (va === vb) continue;
      const ea = explainValue(name, va, p, runs[0]), eb = explainValue(name, vb, q, runs[1]);
      const d: Difference = {
        class: classify(ea, eb, onlyUndefinedFlags(va, vb, p, q)),
        kind: pointKind(p) === pointKind(q) ? pointKind(p) : `${pointKind(p)} | ${pointKind(q)}`,
        field: name,
        seq: [p.resume.seq, q.resume.seq],
        rip: [p.resume.after.registers.rip, q.resume.after.registers.rip],
        a: { value: va, means: ea?.means ?? null },
        b: { value: vb, means: eb?.means ?? null },
      };
      differences.push(d);
      if (counts(d)) first ??= { difference: d, onlyIn: null, before: last, code: { a: code(p), b: code(q) } };
    }
    const here = differences.slice(found);
    const leftBy = here.find((x) => x.field === 'left by');
    if (leftBy !== undefined) {
      const rip = (x: ObservationPoint, run: RunContext): ObservedValue => ({ value: x.resume.after.registers.rip, means: explain('rip', x.resume.after.registers.rip, x, run) });
      handledDifferently.push({
        seq: [p.resume.seq, q.resume.seq],
        instruction: leavingInstruction(p),
        a: { leftBy: leftBy.a.value, mode: fa.get('mode')!, resumesAt: rip(p, runs[0]) },
        b: { leftBy: leftBy.b.value, mode: fb.get('mode')!, resumesAt: rip(q, runs[1]) },
        alsoDiffer: here.filter((x) => x !== leftBy).map((x) => x.field),
      });
    }
    last = [summary(p, null), summary(q, null)];
  }
  const consoleFirstLine = firstConsoleDifference(a.console, b.console);
  const consoleDiffers = consoleFirstLine !== null;
  const differs = differences.some(counts) || onlyIn.a.length > 0 || onlyIn.b.length > 0 || consoleDiffers;
  return {
    profiles: [a.profile, b.profile],
    observed: runs[0].words.observed === runs[1].words.observed ? runs[0].words.observed : `${runs[0].words.observed} / ${runs[1].words.observed}`,
    pointsCompared: { a: pa.length, b: pb.length, aligned },
    first,
    differences,
    handledDifferently,
    onlyIn,
    consoleDiffers,
    consoleFirstLine,
    exit: differs ? 1 : 0,
  };
}

function shown(v: ObservedValue): string {
  return v.means === null ? v.value : `${v.value} (${v.means})`;
}

function pointAt(p: PointSummary, observed: string): string {
  return `seq ${p.seq}, ${p.kind}, left ${observed} at ${p.leftAt ?? '-'}, resumes at ${p.resumesAt}`;
}

function instructionLine(l: CodeLine): string {
  return `${l.address}${l.symbol !== null ? ` <${l.symbol}>` : ''}  ${l.text}`;
}

function codeLines(profile: string, lines: CodeLine[] | null, start: boolean, observed: string): string[] {
  if (lines === null) return [];
  const out = [`  ${profile}, where ${observed} ${start ? 'starts' : 'was left'}:`];
  for (const l of lines) out.push(`  ${l.here ? '=>' : '  '} ${instructionLine(l)}`);
  return out;
}

const CLASS_ORDER: readonly DifferenceClass[] = ['abi', 'diverged earlier', 'undefined, vendor table'];

/** The diff for a person: the first difference with the guest code around it, then every
 *  difference grouped by class, kind of point and field, with counts. */
export function formatAbiDiff(d: AbiDiff): string {
  const [A, B] = d.profiles;
  const where = d.observed;
  const pointLine = (p: PointSummary): string => pointAt(p, where);
  const lines: string[] = [];
  lines.push(`points where ${where} resumes: ${d.pointsCompared.a} on ${A}, ${d.pointsCompared.b} on ${B}, ${d.pointsCompared.aligned} aligned`);
  if (d.exit === 0) {
    const vendor = d.differences.length;
    lines.push(vendor === 0 ? 'nothing the guest could observe differs' : `nothing the guest could observe differs but ${vendor} value${vendor === 1 ? '' : 's'} the SDM leaves undefined (vendor tables; not counted)`);
    if (vendor === 0) return lines.join('\n') + '\n';
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
    const sameCode = JSON.stringify(f.code.a) === JSON.stringify(f.code.b);
    const start = (f.difference?.kind ?? f.onlyIn?.point.kind ?? '').startsWith('start ->');
    lines.push(...codeLines(sameCode ? `${A} and ${B}` : A, f.code.a, start, where), ...(sameCode ? [] : codeLines(B, f.code.b, start, where)));
  }
  const handledAt = new Set(d.handledDifferently.map((h) => h.seq.join('/')));
  if (d.handledDifferently.length > 0) {
    lines.push('', `the same user instruction, handled differently (${d.handledDifferently.length}):`);
    for (const h of d.handledDifferently) {
      lines.push(`  ${h.instruction !== null ? instructionLine(h.instruction) : '(instruction not in the image)'}   (seq ${h.seq[0]} / ${h.seq[1]})`);
      lines.push(`    ${A}: ${h.a.leftBy}; resumes in ${h.a.mode} mode at ${shown(h.a.resumesAt)}`);
      lines.push(`    ${B}: ${h.b.leftBy}; resumes in ${h.b.mode} mode at ${shown(h.b.resumesAt)}`);
      const rest = h.alsoDiffer.filter((f) => f !== 'mode' && f !== 'rip');
      if (rest.length > 0) lines.push(`    also differ: ${rest.join(', ')}`);
    }
  }
  for (const cls of CLASS_ORDER) {
    const groups = new Map<string, Difference[]>();
    for (const x of d.differences) {
      if (x.class !== cls || handledAt.has(x.seq.join('/'))) continue;
      const k = `${x.kind}: ${x.field}`;
      groups.set(k, [...(groups.get(k) ?? []), x]);
    }
    if (groups.size === 0) continue;
    const heading = cls === 'abi' ? 'differences by kind and field' : cls === 'diverged earlier'
      ? `diverged earlier (both values follow from what ${where} left with, by the same rule; the inputs differed)`
      : 'undefined, vendor table (flags the last flag-writing instruction left undefined; not counted)';
    lines.push('', `${heading}:`);
    for (const [k, xs] of groups) {
      lines.push(`  ${k} (${xs.length}×)`);
      const seen = new Set<string>();
      for (const x of xs) {
        const v = `${shown(x.a)}  vs  ${shown(x.b)}`;
        if (seen.has(v)) continue;
        seen.add(v);
        if (seen.size > (cls === 'abi' ? 3 : 1)) {
          lines.push('    ...');
          break;
        }
        lines.push(`    ${A}: ${shown(x.a)}`, `    ${B}: ${shown(x.b)}   (first at seq ${x.seq[0]} / ${x.seq[1]})`);
      }
    }
  }
  for (const side of ['a', 'b'] as const) {
    const ps = d.onlyIn[side];
    if (ps.length === 0) continue;
    const byKind = new Map<string, PointSummary[]>();
    for (const p of ps) byKind.set(p.kind, [...(byKind.get(p.kind) ?? []), p]);
    lines.push('', `only in ${side === 'a' ? A : B} (${ps.length} points):`);
    for (const [k, xs] of byKind) {
      lines.push(`  ${k} (${xs.length}×), first: ${pointLine(xs[0])}`);
      if (xs[0].instruction !== null) lines.push(`    ${instructionLine(xs[0].instruction)}`);
    }
  }
  if (d.consoleFirstLine !== null) {
    const c = d.consoleFirstLine;
    lines.push('', `console differs from line ${c.line}:`, `  ${A}: ${c.a ?? '(ends)'}`, `  ${B}: ${c.b ?? '(ends)'}`);
  }
  return lines.join('\n') + '\n';
}
