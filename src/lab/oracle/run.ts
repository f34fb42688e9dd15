// The hardware oracle's run: generate sequences from the opcode table, run them on
// this machine's CPU (harness.ts) and on the model (model.ts), compare (compare.ts),
// minimise each disagreement to one instruction and keep it as a regression case
// (regressions.ts). The test (test/hardware-oracle.test.ts) and `npm run oracle` both
// come here.
//
// Throughput: batches of cases go to the harness while the model runs the previous
// batch, so the two cores of a small machine both work.

import { ENTRIES, DEFS, mnemonicOf, type DecodedEntry } from '../../cpu/opcodes.js';
import { UNDEFINED, flavourCalibratedOn } from '../../cpu/undefined.js';
import { featureSet } from '../../cpu/cpuid.js';
import { classify } from './comparable.js';
import { buildHarness, Hardware, hostFeatures, inHarness, type Hello } from './harness.js';
import { hostState, OracleModel, type ModelOutcome } from './model.js';
import { Generator, Rng, makeImages, IMAGE_SEED } from './generator.js';
import { compareOutcomes, modelRanges, modelChanges, type Changes } from './compare.js';
import { caseRegs, SCRATCH_ADDR, EndKind, type Case, type HostOutcome } from './layout.js';
import { minimise, type Minimised } from './minimise.js';

export interface OracleOptions {
  sequences: number;
  seed: number;
  /** Cases per batch sent to the harness. */
  batch?: number;
  /** Stop minimising after this many disagreements (the rest are only counted). */
  minimiseLimit?: number;
  log?: (line: string) => void;
}

export interface EntryStats {
  entry: number;
  count: number;
  memory: number;
}

export interface Disagreement {
  c: Case;
  host: HostOutcome;
  model: ModelOutcome;
  diffs: string[];
}

export interface OracleResult {
  hello: Hello;
  /** The flavour the model ran: the host's vendor. */
  flavour: 'intel' | 'amd';
  /** The host is the CPU that flavour's undefined values were taken from: they are compared. */
  calibrated: boolean;
  seed: number;
  sequences: number;
  instructions: number;
  memoryInstructions: number;
  memorySequences: number;
  /** Cases not compared because an instruction read an SDM-undefined value (uncalibrated host). */
  skippedUndefined: number;
  /** Cases not compared because the sequence set TF or AC (single-step and alignment
   *  checking are not modelled yet). */
  skippedTrapFlags: number;
  /** Disagreements that went away when the case ran on the hardware again. */
  hostFlaky: number;
  /** Cases that killed the harness (each run again alone to be sure). */
  harnessCrashes: Case[];
  /** Cases not sent to the hardware: their modelled run touches the harness's own memory. */
  harnessTouch: number;
  perEntry: EntryStats[];
  pool: number[];
  notComparable: { code: string; mnemonic: string; reason: string }[];
  notModelled: string[];
  hostLacks: string[];
  unbuildable: string[];
  disagreements: Disagreement[];
  minimised: Minimised[];
  elapsedMs: number;
  modelMs: number;
  /** INT n vectors the host does not deliver by the gate-DPL rule (not generated). */
  badIntVectors: number[];
}

/** Run INT n for every vector but 0x80 on both sides: the vectors where the host's IDT
 *  does something else than the model's Linux-like one (#GP(n*8+2) through a DPL-0 gate,
 *  #BP/#OF through DPL-3 gates 3 and 4) are left out of the run. */
export async function probeIntVectors(hw: Hardware, model: OracleModel, images: Uint8Array[]): Promise<Set<number>> {
  const cases: Case[] = [];
  for (let n = 0; n < 256; n++) {
    if (n === 0x80) continue;
    const regs = caseRegs();
    regs[8] = SCRATCH_ADDR + 0x3000;
    regs[32] = 0x202;
    cases.push({ regs, image: 0, patches: [], code: Uint8Array.of(0xcd, n), flags: 0, insns: [] });
  }
  const host = await hw.run(cases);
  const bad = new Set<number>([0x80]);
  cases.forEach((c, k) => {
    model.load(c);
    const m = model.run(c);
    if (compareOutcomes(images[c.image], host[k], m, modelRanges(images[c.image], model.scratch()), { calibrated: false }).length > 0) bad.add(c.code[1]);
  });
  return bad;
}

/** Which table entries the oracle generates on this host, and why the others are not. */
export function selectPool(hello: Hello): { pool: number[]; notComparable: OracleResult['notComparable']; notModelled: string[]; hostLacks: string[] } {
  const modelFeatures = featureSet({ vendor: 'intel', fred: false });
  const host = hostFeatures(hello);
  const pool: number[] = [];
  const notComparable: OracleResult['notComparable'] = [];
  const notModelled = new Set<string>();
  const hostLacks = new Set<string>();
  const seen = new Set<unknown>();
  for (const e of ENTRIES) {
    const c = classify(e.def);
    if (c === undefined) throw new Error(`oracle: opcode-table row ${e.def.code} ${e.def.mnemonic} has no comparability (its oracle field, src/cpu/opcodes.ts)`);
    if (!c.comparable) {
      if (!seen.has(e.def)) notComparable.push({ code: e.def.code, mnemonic: e.def.mnemonic, reason: c.reason });
      seen.add(e.def);
      continue;
    }
    const gated = e.feature !== null && !modelFeatures.has(e.feature);
    if (e.def.exec === 'unmodelled' && !gated) { notModelled.add(`${e.def.code} ${e.def.mnemonic}`); continue; }
    if (e.feature !== null && !gated) {
      const has = e.feature === 'lzcnt' ? hello.probes.lzcnt : host.has(e.feature);
      if (!has) { hostLacks.add(`${e.def.code} ${e.def.mnemonic} (${e.feature})`); continue; }
    }
    pool.push(e.index);
  }
  return { pool, notComparable, notModelled: [...notModelled], hostLacks: [...hostLacks] };
}

/** The model's flavour for a host: its vendor's (undefined.ts). */
export function hostFlavour(hello: Hello): 'intel' | 'amd' {
  return hello.vendor === 'AuthenticAMD' ? 'amd' : 'intel';
}

/** Are the undefined values of the host's flavour taken from this very CPU? */
export function isCalibrated(hello: Hello): boolean {
  return flavourCalibratedOn(hello.signature) === hostFlavour(hello);
}

/** The report's line on undefined values. */
export function undefinedValuesLine(hello: Hello): string {
  const flavour = hostFlavour(hello);
  const cpu = UNDEFINED[flavour].calibratedOn;
  return isCalibrated(hello)
    ? `undefined values compared under the ${flavour} flavour (calibrated on ${cpu.signature}, ${cpu.brand})`
    : `undefined values not compared: the ${flavour} flavour was calibrated on ${cpu.signature} (${cpu.brand}), not this CPU`;
}

export async function runOracle(opts: OracleOptions): Promise<OracleResult> {
  const log = opts.log ?? (() => {});
  const started = Date.now();
  const batch = opts.batch ?? 1000;
  const images = makeImages(IMAGE_SEED);
  const binary = buildHarness();
  let hw = await Hardware.start(binary, images);
  const first = hw.hello;
  const restart = async (): Promise<Hardware> => {
    hw.kill();
    const h = await Hardware.start(binary, images);
    if (h.hello.fsBase !== first.fsBase || h.hello.gsBase !== first.gsBase) {
      h.kill();
      throw new Error('oracle: the restarted harness has another TLS base (address-space randomisation could not be turned off); the cases aimed at the old one cannot run');
    }
    return h;
  };
  const crashes: Case[] = [];
  /** Run cases on the harness; if it dies, restart it and find the cases that kill it. */
  const runIsolating = async (cases: Case[]): Promise<(HostOutcome | null)[]> => {
    try {
      return await hw.run(cases);
    } catch {
      hw = await restart();
      if (cases.length === 1) { crashes.push(cases[0]); return [null]; }
      const half = cases.length >> 1;
      return [...await runIsolating(cases.slice(0, half)), ...await runIsolating(cases.slice(half))];
    }
  };
  try {
    const hello = hw.hello;
    const calibrated = isCalibrated(hello);
    const model = new OracleModel(hostState(hello), images, hostFlavour(hello));
    const { pool, notComparable, notModelled, hostLacks } = selectPool(hello);
    const badIntVectors = await probeIntVectors(hw, model, images);
    const rng = new Rng(opts.seed);
    const gen = new Generator(rng, pool, {
      badIntVectors,
      intel: hello.vendor === 'GenuineIntel',
      calibrated,
      fsBase: hello.fsBase,
      gsBase: hello.gsBase,
      decode: (b) => model.decodeProbe(b),
    });
    const perEntry = new Map<number, EntryStats>();
    for (const e of pool) perEntry.set(e, { entry: e, count: 0, memory: 0 });
    const unbuildable = new Set<string>();
    const disagreements: Disagreement[] = [];
    let instructions = 0, memoryInstructions = 0, memorySequences = 0, skippedUndefined = 0, skippedTrapFlags = 0, done = 0, harnessTouch = 0;
    let modelMs = 0;

    // The deck: every comparable entry once per round, in a shuffled order, as the first
    // instruction of a sequence (so each is generated about sequences/pool times at least).
    let deck: number[] = [];
    const nextFirst = (): number => {
      if (deck.length === 0) {
        deck = [...pool];
        for (let i = deck.length - 1; i > 0; i--) { const j = rng.int(i + 1); [deck[i], deck[j]] = [deck[j], deck[i]]; }
      }
      return deck.pop()!;
    };
    const makeBatch = (n: number): Case[] => {
      const out: Case[] = [];
      while (out.length < n) {
        const first = nextFirst();
        let c: Case;
        try {
          c = gen.next(first);
        } catch (e) {
          unbuildable.add(`${ENTRIES[first].def.code} ${ENTRIES[first].def.mnemonic}: ${(e as Error).message}`);
          continue;
        }
        out.push(c);
      }
      return out;
    };

    const lastReport = { at: Date.now() };
    interface Prepared { cases: Case[]; results: { m: ModelOutcome; ranges: Changes }[] }
    /** Generate a batch and run it on the model first: a case whose modelled run touches
     *  the harness's own memory (a stray pointer) never goes to the hardware. */
    const prepare = (n: number): Prepared => {
      const out: Prepared = { cases: [], results: [] };
      const t0 = Date.now();
      for (const c of makeBatch(n)) {
        model.load(c);
        const m = model.run(c);
        if (m.kind === EndKind.Fault && m.vector === 14 && inHarness(hw.hello, m.cr2)) { harnessTouch++; continue; }
        out.cases.push(c);
        out.results.push({ m, ranges: modelChanges(images[c.image], model.scratch()) });
      }
      modelMs += Date.now() - t0;
      done += n;
      return out;
    };
    let current: Prepared | null = prepare(Math.min(batch, opts.sequences));
    hw.send(current.cases);
    while (current !== null) {
      // Queue the next batch before comparing this one, so the harness never waits.
      let next: Prepared | null = null;
      let nextSentTo: Hardware | null = null;
      if (done < opts.sequences) {
        next = prepare(Math.min(batch, opts.sequences - done));
        if (hw.alive) { hw.send(next.cases); nextSentTo = hw; }
      }
      const { cases, results } = current;
      let hostOut: (HostOutcome | null)[];
      const sentTo = hw;
      try {
        hostOut = await sentTo.receive();
      } catch {
        // The harness died on this batch (or was already dead): run it again, isolating
        // the cases that kill it, and queue the next batch on the new harness.
        hw = await restart();
        hostOut = await runIsolating(cases);
        nextSentTo = null;
      }
      if (next !== null && nextSentTo !== hw) hw.send(next.cases);
      for (let k = 0; k < cases.length; k++) {
        const c = cases[k];
        let mem = false;
        for (const i of c.insns) {
          const s = perEntry.get(i.entry);
          if (s !== undefined) { s.count++; if (i.memory) s.memory++; }
          instructions++;
          if (i.memory) { memoryInstructions++; mem = true; }
        }
        if (mem) memorySequences++;
        const { m, ranges } = results[k];
        const h = hostOut[k];
        if (h === null) continue;
        if (m.trapFlags) { skippedTrapFlags++; continue; }
        if (m.tainted && !calibrated) { skippedUndefined++; continue; }
        const diffs = compareOutcomes(images[c.image], h, m, ranges, { calibrated });
        if (diffs.length > 0) disagreements.push({ c, host: h, model: m, diffs });
      }
      current = next;
      if (Date.now() - lastReport.at > 10000) {
        lastReport.at = Date.now();
        log(`  ${done} sequences, ${disagreements.length} disagreements, ${((done / (Date.now() - started)) * 1000).toFixed(0)}/s`);
      }
    }

    // Re-run every disagreeing case on the hardware: a disagreement that goes away was the
    // host's doing (e.g. a timer interrupt while the sequence had RSP non-canonical: the
    // kernel's return to user mode faults and Linux reports #GP at an innocent instruction).
    let hostFlaky = 0;
    if (disagreements.length > 0) {
      const again = await hw.run(disagreements.map((d) => d.c));
      const kept: Disagreement[] = [];
      disagreements.forEach((d, k) => {
        model.load(d.c);
        const m = model.run(d.c);
        const diffs = compareOutcomes(images[d.c.image], again[k], m, modelChanges(images[d.c.image], model.scratch()), { calibrated });
        if (diffs.length === 0) hostFlaky++;
        else kept.push(d);
      });
      disagreements.length = 0;
      disagreements.push(...kept);
    }

    // Minimise.
    const minimised: Minimised[] = [];
    const limit = opts.minimiseLimit ?? 40;
    const seenRaw = new Set<string>();
    for (const d of disagreements) {
      if (minimised.length >= limit) break;
      const rawKey = d.c.insns.map((i) => i.entry).join(',') + '|' + d.diffs.map((x) => x.split(':')[0]).join(',');
      if (seenRaw.has(rawKey)) continue;
      seenRaw.add(rawKey);
      minimised.push(await minimise(d, { hw, model, images, calibrated, hello: hw.hello }));
    }
    return {
      hello, flavour: hostFlavour(hello), calibrated, seed: opts.seed, sequences: done, instructions, memoryInstructions, memorySequences,
      skippedUndefined, skippedTrapFlags, hostFlaky, harnessCrashes: crashes, harnessTouch, perEntry: [...perEntry.values()], pool, notComparable, notModelled, hostLacks,
      unbuildable: [...unbuildable], disagreements, minimised, elapsedMs: Date.now() - started, modelMs,
      badIntVectors: [...badIntVectors].sort((a, b) => a - b),
    };
  } finally {
    hw.close();
  }
}

export function entryName(e: number): string {
  const d: DecodedEntry = ENTRIES[e];
  const v = d.def.code.includes('+') ? `[${e - ENTRIES.findIndex((x) => x.def === d.def)}]` : '';
  return `${d.def.code}${v} ${d.def.mnemonic} ${d.def.operands}`.trim();
}

/** Short label: the row's code with the +r/+cc variant resolved, and the mnemonic (JE, SETNE...). */
export function entryLabel(e: number): string {
  const d: DecodedEntry = ENTRIES[e];
  const first = ENTRIES.findIndex((x) => x.def === d.def);
  const code = d.def.code.replace(/^(.*?)([0-9A-F]{2})\+(r|cc)/, (_m, pre: string, op: string) => pre + (parseInt(op, 16) + e - first).toString(16).toUpperCase().padStart(2, '0'));
  return `${code} ${mnemonicOf(e)}`;
}

export { DEFS };
