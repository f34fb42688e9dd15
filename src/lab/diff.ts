// The ABI diff's runs (README, "ringside diff"; docs/architecture.md, "The ABI diff"): one image on two profiles,
// each with an in-memory trace sink, then compared by report/abi-diff.ts. The matrix's observations
// word (README, "ringside matrix") is the same comparison, each profile's run against the first's.
//
// Every runnable profile has observation points (report/abi-diff.ts, top): on a native host where
// ring-3 code resumes, on a hypervisor host (xen) where any guest code resumes after the host.
// Two kinds of host observe different things (a native kernel is not observed, a PV kernel is),
// so a diff across them compares `--points user`, what guest user code sees.
//
// Deliberate deviations (first version):
// - The matrix compares only runs that reached an end the guest or the machine chose (COMPARABLE);
//   `diff` compares whatever its two runs produced.

import type { TraceSink, TransitionRecord } from '../cpu/transition.js';
import { parseElf } from '../guest/elf.js';
import { readSymbols, type SymbolTable } from '../guest/elf-symbols.js';
import { BadInput } from '../machine/errors.js';
import { diffRuns, type AbiDiff, type CodeAround, type PointSet } from '../report/abi-diff.js';
import { CodeImage } from '../report/code-window.js';
import { readImageFile } from './image-file.js';
import { getProfile } from './profiles.js';
import { runImage, type RunOptions, type RunResult } from './run.js';
import type { Verdict } from './verdict.js';

export interface DiffOptions extends Omit<RunOptions, 'profile' | 'trace'> {
  profiles: readonly string[];
  /** `--points user`: only where guest user code resumes (default: all the host's points). */
  points?: PointSet;
}

export interface DiffResult {
  diff: AbiDiff;
  runs: [RunResult, RunResult];
}

/** A finished run and the records its trace sink collected. */
export interface ObservedRun {
  result: RunResult;
  records: readonly TransitionRecord[];
}

/** Whether a profile's host is a hypervisor, whose guest kernel is observed too. */
function hypervisor(profile: string): boolean {
  return getProfile(profile).host !== 'native';
}

/** The image's symbols and code, for explanations and the guest code shown with findings. */
export interface ImageCode {
  symbols: SymbolTable;
  codeAround: CodeAround;
}

/** What the guest could observe differently in run b than in run a (`image`: to name
 *  addresses and show code; the matrix, which needs only the verdict of it, passes none). */
export function compareRuns(a: ObservedRun, b: ObservedRun, image: ImageCode | null = null, points: PointSet = 'all'): AbiDiff {
  const observations = (r: ObservedRun) => ({
    profile: r.result.profile, records: r.records, console: r.result.console, symbols: image?.symbols ?? null,
    host: hypervisor(r.result.profile) ? 'hypervisor' as const : 'native' as const,
  });
  return diffRuns(observations(a), observations(b), image?.codeAround ?? null, points);
}

/** Run the image on both profiles and compare what the guest observed. BadInput unless
 *  exactly two known profiles are named, of one kind of host or compared at `--points user`. */
export function diffImage(imagePath: string, options: DiffOptions): DiffResult {
  if (options.profiles.length !== 2) throw new BadInput(`diff compares exactly two profiles (got ${options.profiles.length})`);
  const [pa, pb] = options.profiles;
  const points = options.points ?? 'all';
  if (hypervisor(pa) !== hypervisor(pb) && points !== 'user') {
    throw new BadInput(`diff: ${pa} and ${pb} observe different code (a hypervisor host's points include the guest kernel's, a native host's do not); compare them with --points user`);
  }
  const [a, b] = options.profiles.map((profile): ObservedRun => {
    const records: TransitionRecord[] = [];
    return { result: runImage(imagePath, { ...options, profile, trace: (r) => records.push(r) }), records };
  });
  return { diff: compareRuns(a, b, imageCode(imagePath), points), runs: [a.result, b.result] };
}

/** Runs that ended where the guest or the machine chose. A timeout, a model error or an
 *  interruption cuts the run where the guest did not choose (a wall-clock limit not even at the
 *  same point on two profiles), so its observations say where it was cut, not what it saw. */
const COMPARABLE: ReadonlySet<Verdict> = new Set<Verdict>(['success', 'skip', 'failure', 'error', 'crash']);

/** The matrix's word for one image: `same` when every profile's observations were compared with
 *  the first profile's and none differs, `differs` when one does, null (`-`) otherwise. */
export type ObservationsWord = 'same' | 'differs' | null;

/**
 * One matrix row's observations (README, "ringside matrix"): the run on each of the row's
 * profiles (those that apply to its image) after the first is compared with the first run by
 * compareRuns, so the word is what `ringside diff IMAGE --profiles FIRST,P` exits with (with
 * `--points user` when the row's profiles are of both kinds of host). Memory: the first run's
 * records are kept while the row lasts, each other run's until it has been compared. A run
 * that cannot be compared (a verdict not in COMPARABLE, no result) is dropped.
 */
export class RowObservations {
  private base: ObservedRun | null = null;
  private compared = 0;
  private current: TransitionRecord[] | null = null;
  /** The profiles whose observations differ from the first profile's, in run order. */
  readonly differ: string[] = [];

  private readonly points: PointSet;

  constructor(private readonly profiles: readonly string[]) {
    this.points = new Set(profiles.map(hypervisor)).size > 1 ? 'user' : 'all';
  }

  /** The trace sink for the run on profiles[i], or undefined when that run will not be compared. */
  sink(i: number): TraceSink | undefined {
    this.current = null;
    if (this.profiles.length < 2) return undefined;
    if (i > 0 && this.base === null) return undefined; // nothing to compare with
    const records: TransitionRecord[] = [];
    this.current = records;
    return (r) => records.push(r);
  }

  /** The run on profiles[i] ended with `result`, or with none (rejected, not built, internal error). */
  ended(i: number, result: RunResult | null): void {
    const records = this.current;
    this.current = null;
    if (records === null || result === null || !COMPARABLE.has(result.verdict)) return;
    if (i === 0) {
      this.base = { result, records };
      return;
    }
    if (this.base === null) return;
    this.compared++;
    if (compareRuns(this.base, { result, records }, null, this.points).exit !== 0) this.differ.push(this.profiles[i]);
  }

  word(): ObservationsWord {
    if (this.differ.length > 0) return 'differs';
    return this.base !== null && this.compared === this.profiles.length - 1 ? 'same' : null;
  }
}

/** The image's symbols and code, for explanations and the first difference's code window.
 *  The image booted, so it reads; code it does not hold (written at run time) is not shown. */
function imageCode(imagePath: string): ImageCode {
  const bytes = readImageFile(imagePath);
  const symbols = readSymbols(bytes);
  const image = new CodeImage(parseElf(bytes, imagePath).segments, symbols);
  return { symbols, codeAround: (address, codeSize) => image.around(address, codeSize) };
}
