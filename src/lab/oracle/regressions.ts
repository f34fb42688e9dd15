// Regression cases of the hardware oracle: each minimised disagreement, with its input
// state, the hardware's outcome and the model's at the time it was found, kept in a
// JSON file (test/oracle/regressions.json) and re-run on every suite run — against the
// model with the recorded hardware outcome (any machine), and against this machine's
// CPU when the harness runs here.
//
// A run never writes the tracked file: its new findings go to a scratch file under the
// git-ignored .cache/ (findingsPath), and a person keeps them with
// `npm run oracle -- --keep-regressions FILE` (keepRegressions), which is a change they commit.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../../guest/build.js';
import { ENTRIES } from '../../cpu/opcodes.js';
import { EndKind, GPR_NAMES, hex64, caseRegs, type Case, type HostOutcome } from './layout.js';
import { hostState, OracleModel, type HostState, type ModelOutcome } from './model.js';
import { compareOutcomes, modelRanges, describeHost, describeModel } from './compare.js';
import { makeImages, IMAGE_SEED } from './generator.js';
import { flavourCalibratedOn } from '../../cpu/undefined.js';
import { inHarness, type Hardware, type Hello } from './harness.js';
import type { Minimised } from './minimise.js';
import { entryName, hostFlavour, isCalibrated } from './run.js';

export interface RegressionCase {
  id: string;
  found: string;
  /** CPU signature of the host that produced hostOutcome. */
  host: string;
  entries: string[];
  summary: string;
  code: string;
  regs: Record<string, string>;
  imageSeed: number;
  image: number;
  patches: { offset: number; bytes: string }[];
  flags: number;
  hostState: { fsBase: string; gsBase: string; sel: number[]; stub: string; gdt?: ([number, number] | null)[] };
  hostOutcome: {
    kind: number; signo: number; siCode: number; siAddr: string; rip: string; trapno: number; err: number;
    regs: Record<string, string>; sel: number[]; ranges: { offset: number; bytes: string }[];
  };
  /** What the model did when the case was found, and the differences then. */
  modelThen: string;
  diffsThen: string[];
}

export interface RegressionFile {
  about: string;
  cases: RegressionCase[];
}

const ABOUT = 'Hardware-oracle disagreements, minimised (src/lab/oracle). Re-run by test/hardware-oracle.test.ts against the model with the recorded hardware outcome, and against the CPU when the harness runs. Remove a case only when the model is fixed and the case agrees, or when it is shown to be an oracle error.';

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function unhex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

function regsToJson(regs: number[]): Record<string, string> {
  const out: Record<string, string> = {};
  GPR_NAMES.forEach((n, r) => { out[n] = hex64(regs[2 * r], regs[2 * r + 1]); });
  out.rflags = hex64(regs[32], regs[33]);
  return out;
}

function regsFromJson(j: Record<string, string>): number[] {
  const regs = caseRegs();
  const put = (k: number, s: string): void => {
    const v = BigInt(s);
    regs[k] = Number(v & 0xffffffffn);
    regs[k + 1] = Number(v >> 32n);
  };
  GPR_NAMES.forEach((n, r) => put(2 * r, j[n]));
  put(32, j.rflags);
  return regs;
}

export function loadRegressions(path: string): RegressionFile {
  if (!existsSync(path)) return { about: ABOUT, cases: [] };
  return JSON.parse(readFileSync(path, 'utf8')) as RegressionFile;
}

export function toRegression(m: Minimised, hello: Hello, date: string): RegressionCase {
  const c = m.c;
  const h = m.host;
  const summary = `${m.entries.map(entryName).join('; ')}: ${m.diffs[0]}`;
  const id = `${hex(c.code).slice(0, 40)}-${m.diffs.map((d) => d.split(':')[0]).join('+')}`;
  return {
    id, found: date, host: hello.signature, entries: m.entries.map(entryName), summary,
    code: hex(c.code), regs: regsToJson(c.regs), imageSeed: IMAGE_SEED, image: c.image,
    patches: c.patches.map((p) => ({ offset: p.offset, bytes: hex(p.bytes) })), flags: c.flags,
    hostState: { fsBase: '0x' + hello.fsBase.toString(16), gsBase: '0x' + hello.gsBase.toString(16), sel: hello.sel, stub: hex(hello.stub), gdt: hello.gdt },
    hostOutcome: {
      kind: h.kind, signo: h.signo, siCode: h.siCode, siAddr: '0x' + h.siAddr.toString(16), rip: '0x' + h.rip.toString(16),
      trapno: h.trapno, err: h.err, regs: regsToJson(h.regs), sel: h.sel,
      ranges: h.ranges.map((r) => ({ offset: r.offset, bytes: hex(r.bytes) })),
    },
    modelThen: describeModel(m.model),
    diffsThen: m.diffs,
  };
}

/** The tracked regression cases (read by the suite; written only by keepRegressions). */
export function trackedRegressionsPath(root = repoRoot()): string {
  return join(root, 'test', 'oracle', 'regressions.json');
}

/** Where a run puts its new findings: git-ignored scratch, outside the tracked tree. */
export function findingsPath(root = repoRoot()): string {
  return join(root, '.cache', 'oracle', 'new-regressions.json');
}

/** Add new cases to the file at `path` (by id; at most `perKey` per instruction and kind
 *  of difference, counting the cases already in `known` too). */
export function addRegressions(path: string, cases: RegressionCase[], perKey = 2, known: RegressionCase[] = []): RegressionCase[] {
  const file = loadRegressions(path);
  const ids = new Set([...known, ...file.cases].map((c) => c.id));
  const keyOf = (c: RegressionCase): string => `${c.entries.join(';')}|${c.diffsThen.map((d) => d.split(':')[0]).join('+')}`;
  const perKeyCount = new Map<string, number>();
  for (const c of [...known, ...file.cases]) perKeyCount.set(keyOf(c), (perKeyCount.get(keyOf(c)) ?? 0) + 1);
  const added: RegressionCase[] = [];
  for (const c of cases) {
    if (ids.has(c.id)) continue;
    const k = keyOf(c);
    if ((perKeyCount.get(k) ?? 0) >= perKey) continue;
    perKeyCount.set(k, (perKeyCount.get(k) ?? 0) + 1);
    ids.add(c.id);
    file.cases.push(c);
    added.push(c);
  }
  if (added.length > 0) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify({ about: ABOUT, cases: file.cases }, null, 1) + '\n');
  }
  return added;
}

export interface Findings {
  /** The scratch file (it may hold earlier runs' findings too). */
  path: string;
  added: RegressionCase[];
  /** What to tell the person: where the findings are and how to keep them. */
  message: string;
}

/** Record a run's minimised disagreements in the scratch file, leaving out the cases the
 *  tracked file already has. */
export function recordFindings(minimised: Minimised[], hello: Hello, o: { scratch?: string; tracked?: string; date?: string } = {}): Findings {
  const path = o.scratch ?? findingsPath();
  const tracked = o.tracked ?? trackedRegressionsPath();
  const date = o.date ?? new Date().toISOString().slice(0, 10);
  const added = addRegressions(path, minimised.map((m) => toRegression(m, hello, date)), 2, loadRegressions(tracked).cases);
  const message = added.length === 0 ? `no new regression cases (already kept or in ${path})` :
    `${added.length} new regression case(s) written to ${path} (not kept: the suite replays ${tracked} only).\n` +
    `To keep them, check each is a model bug and not an oracle error, then run\n` +
    `  npm run oracle -- --keep-regressions ${path}\nand commit ${tracked}.`;
  return { path, added, message };
}

/** Move the cases of a findings file into the tracked regressions (a person's decision). */
export function keepRegressions(from: string, tracked = trackedRegressionsPath()): RegressionCase[] {
  if (!existsSync(from)) throw new Error(`no findings file ${from}`);
  return addRegressions(tracked, loadRegressions(from).cases);
}

export function caseOf(r: RegressionCase): Case {
  const code = unhex(r.code);
  const decoded = ENTRIES.length; // entries are informational only here
  void decoded;
  return {
    regs: regsFromJson(r.regs), image: r.image,
    patches: r.patches.map((p) => ({ offset: p.offset, bytes: unhex(p.bytes) })),
    code, flags: r.flags, insns: [],
  };
}

function hostOutcomeOf(r: RegressionCase): HostOutcome {
  const h = r.hostOutcome;
  return {
    kind: h.kind as EndKind, signo: h.signo, siCode: h.siCode, siAddr: BigInt(h.siAddr), rip: BigInt(h.rip),
    trapno: h.trapno, err: h.err, regs: regsFromJson(h.regs), sel: h.sel,
    ranges: h.ranges.map((x) => ({ offset: x.offset, bytes: unhex(x.bytes) })),
  };
}

export interface ReplayResult {
  id: string;
  summary: string;
  /** Differences against the recorded hardware outcome (empty: the model agrees now). */
  recorded: string[];
  /** Differences against this machine's CPU, if the harness ran (null: not run). */
  live: string[] | null;
  model: string;
}

/** Re-run every regression case: the model against the recorded outcome, and, given a
 *  harness, the model against the CPU now. */
export async function replayRegressions(path: string, hw: Hardware | null): Promise<ReplayResult[]> {
  const file = loadRegressions(path);
  const out: ReplayResult[] = [];
  const images = makeImages(IMAGE_SEED);
  let liveModel: OracleModel | null = null;
  if (hw !== null) {
    const h = hw.hello;
    liveModel = new OracleModel(hostState(h), images, hostFlavour(h));
  }
  for (const r of file.cases) {
    if (r.imageSeed !== IMAGE_SEED) throw new Error(`regression ${r.id}: image seed ${r.imageSeed} is not this version's ${IMAGE_SEED}`);
    const c = caseOf(r);
    const state: HostState = {
      fsBase: BigInt(r.hostState.fsBase), gsBase: BigInt(r.hostState.gsBase), sel: r.hostState.sel,
      stub: unhex(r.hostState.stub), gdt: r.hostState.gdt,
    };
    // The recorded host's flavour, when its signature names one; undefined values are
    // compared only when the recorded host is the CPU that flavour was calibrated on.
    const flavour = flavourCalibratedOn(r.host);
    const model = new OracleModel(state, images, flavour ?? (r.host.startsWith('AuthenticAMD') ? 'amd' : 'intel'));
    model.load(c);
    const m: ModelOutcome = model.run(c);
    const calibrated = flavour !== null;
    const recorded = compareOutcomes(images[c.image], hostOutcomeOf(r), m, modelRanges(images[c.image], model.scratch()), { calibrated });
    let live: string[] | null = null;
    if (hw !== null && liveModel !== null) {
      liveModel.load(c);
      const pre = liveModel.run(c);
      if (pre.kind === EndKind.Fault && pre.vector === 14 && inHarness(hw.hello, pre.cr2)) {
        out.push({ id: r.id, summary: r.summary, recorded, live: null, model: describeModel(m) });
        continue;
      }
      const [h] = await hw.run([c]);
      liveModel.load(c);
      const lm = liveModel.run(c);
      const liveCalibrated = isCalibrated(hw.hello);
      live = (lm.tainted && !liveCalibrated) || lm.trapFlags ? [] :
        compareOutcomes(images[c.image], h, lm, modelRanges(images[c.image], liveModel.scratch()), { calibrated: liveCalibrated });
      if (live.length > 0) live.push(`(host: ${describeHost(h)})`);
    }
    out.push({ id: r.id, summary: r.summary, recorded, live, model: describeModel(m) });
  }
  return out;
}
