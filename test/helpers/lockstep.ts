// Compiled code against stepping (issue 18, point 3): the same image booted twice, once
// compiling its hot code as blocks, at a threshold low enough that short loops compile
// (COMPILE_AT), and once stepped (every instruction
// through its opcode-table row's generic semantics: RunOptions.stepped), advanced by the
// same instruction budgets and compared after each slice on everything a guest or a user
// can observe: the vCPU's captured state (registers, RIP, RFLAGS with the status flags,
// segments, control and debug registers, MSRs, event state, the local APIC, icount,
// transitions), guest RAM, the console and the transition records.
//
// Slices have seeded pseudo-random lengths, mostly 1..50 instructions, so that budgets end
// at many points inside hot blocks, mixed with longer ones so that a whole guest is covered.

import { bootImage, restoreMachine, type Booted, type RunOptions } from '../../src/lab/run.js';
import type { MachineState, RunEnd } from '../../src/machine/machine.js';
import type { TransitionRecord } from '../../src/cpu/transition.js';
import type { Injection } from '../../src/cpu/injections.js';
import { seededRandom } from './random.js';

/** RAM for the guests compared here (each fits in it), so that comparing RAM after every
 *  slice stays cheap. */
export const LOCKSTEP_MEMORY_MIB = 8;

export { seededRandom };

/** The compile threshold of the compiled side (RunOptions.hotThreshold): a block entry's 16th
 *  interpreted run compiles it, so that loops of a few dozen iterations, as in
 *  guests/compiled-code, run compiled (the default, blocks.ts HOT, waits for thousands). */
export const COMPILE_AT = 16;

/** A whole number in [lo, hi]. */
export function between(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** The next slice's length: 1..50 most of the time, sometimes up to 500 or up to `long`. */
export function sliceLength(rand: () => number, long: number): number {
  const r = rand();
  if (r < 0.8) return between(rand, 1, 50);
  if (r < 0.95) return between(rand, 51, 500);
  return between(rand, 501, Math.max(501, long));
}

/** One machine of a comparison, with what it produced so far. */
export interface Side {
  name: 'compiled' | 'stepped' | string;
  booted: Booted;
  trace: TransitionRecord[];
  /** How the last run call ended (null: not run yet). */
  end: RunEnd | null;
}

export interface BootOptions {
  profile: string;
  stepped: boolean;
  injections?: readonly Injection[];
  memoryMiB?: number;
}

function options(o: BootOptions, trace: TransitionRecord[]): RunOptions {
  return {
    profile: o.profile,
    stepped: o.stepped,
    hotThreshold: o.stepped ? undefined : COMPILE_AT,
    injections: o.injections,
    memoryMiB: o.memoryMiB ?? LOCKSTEP_MEMORY_MIB,
    trace: (r) => trace.push(r),
  };
}

export function boot(image: string, o: BootOptions, name = o.stepped ? 'stepped' : 'compiled'): Side {
  const trace: TransitionRecord[] = [];
  return { name, booted: bootImage(image, options(o, trace)), trace, end: null };
}

/** A fresh machine restored from `state` (lab/run.ts restoreMachine), tracing from there. */
export function restore(state: MachineState, o: BootOptions, name: string): Side {
  const trace: TransitionRecord[] = [];
  return { name, booted: restoreMachine(state, options(o, trace)), trace, end: null };
}

/** Run until the vCPU has retired `to` instructions in all (or the run ends). */
export function advance(side: Side, to: number): RunEnd {
  side.end = side.booted.machine.run({ maxInsns: to, timeoutMs: 0 });
  return side.end;
}

/** Run to the end (a budget far beyond any guest here). */
export function finish(side: Side, budget = 50_000_000): RunEnd {
  return advance(side, budget);
}

export function ended(side: Side): boolean {
  return side.end !== null && side.end.kind !== 'insn-budget';
}

const hex = (v: unknown): string =>
  typeof v === 'number' && Number.isInteger(v) ? `${v < 0 ? '-' : ''}0x${Math.abs(v).toString(16)}` : JSON.stringify(v);

/** Leaves of a plain-data value, by path (`gprLo[3]`, `events.nmiPending`, ...). */
function leaves(v: unknown, path: string, out: Map<string, unknown>): void {
  if (Array.isArray(v)) v.forEach((x, k) => leaves(x, `${path}[${k}]`, out));
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) leaves(x, path === '' ? k : `${path}.${k}`, out);
  } else out.set(path, v);
}

/** The first physical address where two RAMs differ, or -1. */
function firstRamDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  if (Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0) return -1;
  // Whole 4-KiB pages first, then bytes.
  for (let page = 0; page < a.length; page += 4096) {
    const pa = a.subarray(page, page + 4096), pb = b.subarray(page, page + 4096);
    if (Buffer.compare(pa, pb) === 0) continue;
    for (let k = 0; k < pa.length; k++) if (pa[k] !== pb[k]) return page + k;
  }
  return -1;
}

/** Where two runs differ, in words: an empty list when they agree on everything observable.
 *  `traceFrom` is the number of transition records already compared (they are compared once). */
export function differences(a: Side, b: Side, traceFrom = 0): string[] {
  const out: string[] = [];
  const ma = a.booted.machine, mb = b.booted.machine;
  const ea = a.end, eb = b.end;
  if ((ea?.kind ?? null) !== (eb?.kind ?? null) || (ea?.exitValue ?? null) !== (eb?.exitValue ?? null)) {
    out.push(`run end: ${a.name} ${ea?.kind} (${ea?.message}), ${b.name} ${eb?.kind} (${eb?.message})`);
  }
  const la = new Map<string, unknown>(), lb = new Map<string, unknown>();
  leaves(ma.cpu.capture(), 'cpu', la);
  leaves(mb.cpu.capture(), 'cpu', lb);
  for (const [path, va] of la) {
    const vb = lb.get(path);
    if (va !== vb) out.push(`${path}: ${a.name} ${hex(va)}, ${b.name} ${hex(vb)}`);
  }
  const at = firstRamDifference(ma.memory.bytes, mb.memory.bytes);
  if (at >= 0) {
    const bytes = (m: typeof ma): string => Array.from(m.memory.bytes.subarray(at, at + 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
    out.push(`RAM from physical 0x${at.toString(16)}: ${a.name} ${bytes(ma)}, ${b.name} ${bytes(mb)}`);
  }
  const ca = a.booted.host.console, cb = b.booted.host.console;
  if (ca !== cb) {
    let k = 0;
    while (k < ca.length && ca[k] === cb[k]) k++;
    out.push(`console from offset ${k}: ${a.name} ${JSON.stringify(ca.slice(k, k + 60))}, ${b.name} ${JSON.stringify(cb.slice(k, k + 60))}`);
  }
  if (a.trace.length !== b.trace.length) out.push(`transition records: ${a.name} ${a.trace.length}, ${b.name} ${b.trace.length}`);
  for (let k = traceFrom; k < Math.min(a.trace.length, b.trace.length); k++) {
    const ta = JSON.stringify(a.trace[k]), tb = JSON.stringify(b.trace[k]);
    if (ta !== tb) {
      out.push(`transition record ${k + 1} (${a.trace[k].kind} vector ${a.trace[k].vector} at tick ${a.trace[k].icount}):\n    ${a.name} ${ta}\n    ${b.name} ${tb}`);
      break;
    }
  }
  return out;
}

/** Throw a readable error if the two runs differ. */
export function assertSame(a: Side, b: Side, what: string, traceFrom = 0): void {
  const d = differences(a, b, traceFrom);
  if (d.length === 0) return;
  const rip = (s: Side): string => `0x${s.booted.machine.cpu.rip.toString(16)}`;
  const shown = d.slice(0, 20).map((x) => `  ${x}`).join('\n');
  throw new Error(`${what}: ${a.name} and ${b.name} differ (rip ${a.name} ${rip(a)}, ${b.name} ${rip(b)}):\n${shown}` +
    (d.length > 20 ? `\n  ... ${d.length - 20} more` : ''));
}

export interface LockstepOptions {
  profile: string;
  seed: number;
  /** Stop comparing after this many instructions (default: run to the end). */
  maxInsns?: number;
  /** Longest slice (default 5,000). */
  long?: number;
  injections?: readonly Injection[];
}

export interface LockstepResult {
  slices: number;
  instructions: number;
  end: RunEnd;
  /** Slices that ended with the budget (not the guest): where a block had to stop short. */
  budgetEnds: number;
  /** Blocks the compiled side compiled. */
  blocks: number;
}

/**
 * Boot `image` compiled and stepped and advance both by the same seeded slices, comparing
 * after each; throws at the first slice where they differ, naming it and the fields.
 * Every slice that ends by the budget must end exactly there (icount = the budget).
 */
export function lockstep(image: string, o: LockstepOptions): LockstepResult {
  const rand = seededRandom(o.seed);
  const compiled = boot(image, { profile: o.profile, stepped: false, injections: o.injections });
  const stepped = boot(image, { profile: o.profile, stepped: true, injections: o.injections });
  const limit = o.maxInsns ?? Infinity;
  let slices = 0, budgetEnds = 0, compared = 0, at = 0;
  for (;;) {
    const from = at;
    at = Math.min(limit, at + sliceLength(rand, o.long ?? 5_000));
    const ec = advance(compiled, at);
    advance(stepped, at);
    slices++;
    assertSame(compiled, stepped, `${o.profile} seed ${o.seed}: slice ${slices} (instructions ${from}..${at})`, compared);
    compared = compiled.trace.length;
    if (ec.kind === 'insn-budget') {
      budgetEnds++;
      const n = compiled.booted.machine.instructions;
      if (n !== at) throw new Error(`${o.profile} seed ${o.seed}: slice ${slices} ended by the budget at ${n} instructions, not ${at}`);
    }
    if (ended(compiled) || at >= limit) {
      return { slices, instructions: compiled.booted.machine.instructions, end: ec, budgetEnds, blocks: compiled.booted.machine.cpu.blocksCompiled };
    }
  }
}
